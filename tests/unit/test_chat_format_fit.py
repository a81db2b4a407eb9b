"""A chat format that does not fit the model is found at load and named with
its fix (issue 15, bad input): a GGUF template that cannot render a Parley
prompt falls back to the plain transcript with a warning, a chat template
setting that contradicts the GGUF's metadata is named, and `parley doctor`
says the same from the file's metadata alone (tiny GGUF files with no
tensors, written here)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from assistant.llm.gguf_meta import GgufError, read_metadata
from assistant.llm.templates import (
    TEMPLATE_MARKERS,
    GemmaFormat,
    JinjaFormat,
    Message,
    PlainFormat,
    choose_format,
    select_format,
)

GOOD = (
    "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""A ChatML template as Qwen GGUFs carry it."""
NO_SYSTEM = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
"""Gemma 2's template: it refuses a system message."""
BROKEN = {
    "unsupported Jinja": "{% for m in messages %}{% weird_tag %}{{ m.content }}{% endfor %}",
    "unclosed block": "{% for m in messages %}{{ m.content }}",
    "raises always": "{{ raise_exception('This template needs tools') }}",
    "content parts": "{% for m in messages %}{{ m['content'][0]['text'] }}{% endfor %}",
    "drops the words": "{{ messages[0]['content'] }}",
}
CONVO = [
    Message("system", "Be brief."),
    Message("user", "Hi"),
    Message("assistant", "Hello!"),
    Message("user", "What time is it?"),
]


def write_gguf(path: Path, metadata: dict[str, object]) -> Path:
    """A GGUF v3 file with `metadata` (str, int, float, bool, or a list of str
    or int, skipped by the reader like the vocabulary) and no tensors."""

    def text(s: str) -> bytes:
        data = s.encode()
        return struct.pack("<Q", len(data)) + data

    parts = [b"GGUF", struct.pack("<IQQ", 3, 0, len(metadata))]
    for key, value in metadata.items():
        parts.append(text(key))
        if isinstance(value, bool):
            parts.append(struct.pack("<I?", 7, value))
        elif isinstance(value, int):
            parts.append(struct.pack("<II", 4, value))
        elif isinstance(value, float):
            parts.append(struct.pack("<If", 6, value))
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            parts.append(struct.pack("<IIQ", 9, 8, len(value)) + b"".join(map(text, value)))
        elif isinstance(value, list):
            ints = struct.pack(f"<{len(value)}i", *value)
            parts.append(struct.pack("<IIQ", 9, 5, len(value)) + ints)
        else:
            parts.append(struct.pack("<I", 8) + text(str(value)))
    path.write_bytes(b"".join(parts))
    return path


def gemma_meta(name: str = "Gemma 3 270m", template: str = "", **more: str) -> dict[str, str]:
    meta = {"general.architecture": "gemma3", "general.name": name, **more}
    if template:
        meta["tokenizer.chat_template"] = template
    return meta


# -- reading the metadata -------------------------------------------------------------


def test_metadata_is_read_as_llama_cpp_gives_it(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", {
        "general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B Instruct",
        "tokenizer.ggml.tokens": ["<s>", "</s>", "hello"], "tokenizer.ggml.token_type": [1, 3, 1],
        "tokenizer.ggml.add_bos_token": False, "tokenizer.ggml.bos_token_id": 1,
        "general.rope": 0.5, "tokenizer.chat_template": GOOD,
    })  # fmt: skip
    meta = read_metadata(path)
    assert meta == {
        "general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B Instruct",
        "tokenizer.ggml.add_bos_token": "false", "tokenizer.ggml.bos_token_id": "1",
        "general.rope": "0.500000", "tokenizer.chat_template": GOOD,
    }  # fmt: skip


@pytest.mark.parametrize("damage", ["not gguf", "truncated", "huge string"])
def test_damaged_metadata_is_a_gguf_error(tmp_path: Path, damage: str) -> None:
    whole = write_gguf(tmp_path / "m.gguf", {"general.name": "x" * 40}).read_bytes()
    data = {
        "not gguf": b"PK\x03\x04" + whole[4:],
        "truncated": whole[:-10],
        "huge string": whole[:24] + struct.pack("<Q", 1 << 40) + whole[32:],
    }[damage]
    (tmp_path / "bad.gguf").write_bytes(data)
    with pytest.raises(GgufError):
        read_metadata(tmp_path / "bad.gguf")


# -- a template in the GGUF that cannot be used ---------------------------------------


def test_a_working_template_is_used() -> None:
    choice = select_format({"tokenizer.chat_template": GOOD}, bos="<s>", eos="</s>")
    assert isinstance(choice.format, JinjaFormat) and not choice.warnings
    assert choice.format.render(CONVO[:2]).endswith("<|im_start|>assistant\n")


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_template_that_fails_gives_the_plain_format_and_a_warning(kind: str) -> None:
    choice = select_format(gemma_meta("Gemma 3 1b It", BROKEN[kind]), bos="<bos>")
    assert isinstance(choice.format, PlainFormat), kind
    assert "plain transcript" in choice.reason
    (warning,) = choice.warnings
    assert "own chat template cannot be used" in warning.problem
    assert "Gemma 3 1b It" in warning.problem
    assert "'gemma'" in warning.fix  # the family's format, from the architecture
    assert "Traceback" not in str(warning)
    # The fallback renders every message, and no template markup.
    text = choice.format.render(CONVO)
    assert all(m.content in text for m in CONVO)
    assert not any(mark in text for mark in TEMPLATE_MARKERS)


def test_unsupported_jinja_is_named_as_such() -> None:
    (warning,) = select_format({"tokenizer.chat_template": BROKEN["unsupported Jinja"]}).warnings
    assert "Jinja that Parley cannot run" in warning.problem and "weird_tag" in warning.problem
    assert "gemma, chatml or llama3" in warning.fix  # no family to suggest


def test_a_template_without_a_system_role_gets_the_system_text_in_the_first_turn() -> None:
    choice = select_format(gemma_meta("Gemma 2 2b It", NO_SYSTEM), bos="<bos>", eos="<eos>")
    fmt = choice.format
    assert isinstance(fmt, JinjaFormat) and fmt.fold_system and not choice.warnings
    assert "no system role" in choice.reason
    assert fmt.render(CONVO[:2]) == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    )
    # Append-only, as the KV-cache reuse needs: the system text alone (the
    # prefill at load) begins the first turn's prompt.
    system_only = fmt.render(CONVO[:1], add_generation_prompt=False)
    assert system_only == "<bos><start_of_turn>user\nBe brief.\n\n"
    assert fmt.render(CONVO[:2]).startswith(system_only)
    assert fmt.render(CONVO).startswith(fmt.render(CONVO[:3], add_generation_prompt=False))


def test_choose_format_keeps_its_answer_and_drops_the_warnings() -> None:
    fmt, why = choose_format({"tokenizer.chat_template": BROKEN["raises always"]})
    assert isinstance(fmt, PlainFormat) and "cannot be used" in why


# -- a chat template setting that contradicts the model -------------------------------


def test_plain_for_a_model_with_its_own_template_is_named() -> None:
    choice = select_format(gemma_meta("Gemma 3 270m It", GOOD), "plain")
    assert isinstance(choice.format, PlainFormat)  # the setting still wins
    (warning,) = choice.warnings
    assert "has its own chat template" in warning.problem and "'plain'" in warning.problem
    assert warning.fix.startswith("Clear the chat template setting")
    assert "this model has its own chat template" in warning.fix


def test_a_chat_format_for_a_base_model_is_named() -> None:
    choice = select_format(gemma_meta(), "gemma", filename="gemma-3-270m-q4_k_m.gguf")
    assert choice.format == GemmaFormat()
    (warning,) = choice.warnings
    assert "Gemma 3 270m looks like a base model" in warning.problem
    assert "'gemma'" in warning.problem and "Clear the chat template setting" in warning.fix


@pytest.mark.parametrize(
    ("meta", "filename"),
    [
        (gemma_meta("Gemma 3 270m It"), "x.gguf"),
        (gemma_meta("Gemma 3 270m", **{"general.finetune": "it"}), "x.gguf"),
        (gemma_meta(""), "gemma-3-270m-it-Q4_K_M.gguf"),
    ],
)
def test_a_chat_format_for_an_instruct_model_without_a_template_is_right(
    meta: dict[str, str], filename: str
) -> None:
    assert select_format(meta, "gemma", filename=filename).warnings == ()


def test_another_familys_format_is_named() -> None:
    (warning,) = select_format(gemma_meta("Gemma 3 1b It"), "chatml").warnings
    assert "uses Gemma" in warning.problem and "to 'gemma'" in warning.fix
    qwen = {"general.architecture": "qwen2", "tokenizer.chat_template": GOOD}
    (warning,) = select_format(qwen, "gemma").warnings
    assert "own chat template is ChatML" in warning.problem
    assert select_format(qwen, "chatml").warnings == ()  # the same family: harmless


def test_an_instruct_model_without_a_template_is_named() -> None:
    meta = {"general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B Instruct"}
    choice = select_format(meta)
    assert isinstance(choice.format, PlainFormat) and "base model" not in choice.reason
    (warning,) = choice.warnings
    assert "looks like an instruct model" in warning.problem and "'chatml'" in warning.fix
    assert select_format(meta, fallback="chatml").warnings == ()  # the catalog names it


def test_no_warning_for_a_base_model_as_it_comes() -> None:
    choice = select_format(gemma_meta(), filename="gemma-3-270m-q4_k_m.gguf")
    assert isinstance(choice.format, PlainFormat) and choice.warnings == ()
    assert "base model" in choice.reason


# -- parley doctor ----------------------------------------------------------------------


def _doctor(parley_home: Path, model: Path, template: str) -> list:
    from assistant.commands import doctor

    (parley_home / "config.toml").write_text(
        f'llm_model = "{model}"\nchat_template = "{template}"\n'
    )
    return doctor._chat_format()


def test_doctor_names_plain_for_an_instruct_model(parley_home: Path, tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "qwen-instruct.gguf", {
        "general.architecture": "qwen2", "general.name": "Qwen2.5 0.5B Instruct",
        "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.chat_template": GOOD,
    })  # fmt: skip
    (check,) = _doctor(parley_home, model, "plain")
    assert (check.name, check.status) == ("chat format", "warn")
    assert "Qwen2.5 0.5B Instruct has its own chat template" in check.detail
    assert "Clear the chat template setting" in check.fix
    (check,) = _doctor(parley_home, model, "")
    assert check.status == "ok" and "chat template from the GGUF metadata" in check.detail


def test_doctor_names_a_template_that_fails(parley_home: Path, tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "m.gguf", gemma_meta("Gemma 3 1b It", BROKEN["unclosed block"]))
    (check,) = _doctor(parley_home, model, "")
    assert check.status == "warn" and "cannot be used" in check.detail
    assert "'gemma'" in check.fix


def test_doctor_passes_over_a_file_it_cannot_read(parley_home: Path, tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF\x03\x00")  # the language model check names it
    assert _doctor(parley_home, tmp_path / "m.gguf", "") == []


def test_the_catalog_lists_the_built_in_base_model_as_plain() -> None:
    """`--model gemma-3-270m-q4_k_m` (its id) used to get Gemma's instruct turns."""
    from assistant.session import catalog_template

    assert catalog_template("gemma-3-270m-q4_k_m") == "plain"
