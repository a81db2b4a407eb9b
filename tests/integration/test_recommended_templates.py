"""The chat template and stop sequences of every model the recommender can pick,
on a tiny stand-in GGUF (tests/tiny_gguf.py): the real weights cannot be
downloaded here, but llama.cpp loads the stand-in exactly as it loads them, so
the prompt Parley renders, the stops it watches for and the end of a reply are
the ones the real model gets."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_gguf import QWEN25_CHAT_TEMPLATE, write_tiny_qwen

from assistant.llm.engine import GenerationStats, LlmEngine, LlmOptions
from assistant.llm.templates import NAMED_FORMATS, JinjaFormat, Message, choose_format
from assistant.models import load_catalog

TEMPLATES = {"chatml": QWEN25_CHAT_TEMPLATE}
"""The chat template each catalog template name stands for, as the model's own
file carries it. A new catalog model with another template needs its fixture here."""

CONVO = [
    Message("system", "You are Parley, a voice assistant. Answer briefly."),
    Message("user", "What is the capital of France?"),
    Message("assistant", "Paris."),
    Message("user", "And of Italy?"),
]


def recommendable() -> list:
    return [e for e in load_catalog() if e.kind == "llm" and not e.builtin and e.url]


def test_the_catalog_offers_instruct_models_to_recommend() -> None:
    entries = recommendable()
    assert len(entries) >= 3
    for e in entries:
        assert e.chat_template in TEMPLATES, f"{e.id}: no fixture for {e.chat_template!r}"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny-gguf")
    return {
        "own": write_tiny_qwen(folder / "with-template.gguf"),
        "none": write_tiny_qwen(folder / "no-template.gguf", chat_template=None),
    }


@pytest.mark.parametrize("entry", recommendable(), ids=lambda e: e.id)
def test_the_models_own_template_renders_and_stops(entry, tiny_models: dict[str, Path]) -> None:
    engine = LlmEngine.load(tiny_models["own"], LlmOptions(
        n_ctx=512, fallback_template=entry.chat_template, seed=1))
    # The file's template wins over the catalog's name for it.
    assert isinstance(engine.format, JinjaFormat) and "GGUF" in engine.format_reason
    assert engine.format.eos_token == "<|im_end|>"
    assert "<|im_end|>" in engine.format.stop
    prompt = engine.render(CONVO)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert prompt.startswith("<|im_start|>system\nYou are Parley")  # Parley's, not Qwen's
    assert "<|im_start|>assistant\nParis.<|im_end|>\n" in prompt
    # The catalog's named format writes the same prompt, for a file without a template.
    assert prompt == NAMED_FORMATS[entry.chat_template].render(CONVO)
    # Append-only: each turn's prompt starts with the last (the KV cache is reused).
    so_far = engine.render(CONVO[:3], add_generation_prompt=False)
    assert engine.render(CONVO[:2]).startswith(engine.render(CONVO[:1], False))
    assert prompt.startswith(so_far) and so_far.startswith(engine.render(CONVO[:2]))
    # The special tokens are single tokens, not spelled out.
    tokens = engine.tokenize(prompt)
    assert tokens.count(257) == 5 and tokens.count(258) == 4  # <|im_start|>, <|im_end|>
    # A reply ends at <|im_end|>, which never reaches the user.
    stats = GenerationStats()
    reply = "".join(engine.stream(CONVO, max_tokens=20, stats=stats))
    assert reply == "OK" and stats.finish == "eos" and stats.generated_tokens == 3


def test_a_file_without_a_template_gets_the_catalogs(tiny_models: dict[str, Path]) -> None:
    for entry in recommendable():
        engine = LlmEngine.load(tiny_models["none"], LlmOptions(
            n_ctx=512, fallback_template=entry.chat_template))
        assert engine.format is NAMED_FORMATS[entry.chat_template]
        assert "catalog" in engine.format_reason
        assert "<|im_end|>" in engine.format.stop and "<|endoftext|>" in engine.format.stop
        assert engine.render(CONVO).endswith("<|im_start|>assistant\n")
        stats = GenerationStats()
        assert "".join(engine.stream(CONVO, max_tokens=20, stats=stats)) == "OK"
        assert stats.finish == "eos"


def test_a_spelled_out_end_of_turn_is_a_stop_too() -> None:
    # A fine-tune that writes "<|im_end|>" as plain text: the stop sequence ends it.
    fmt, _ = choose_format({"tokenizer.chat_template": QWEN25_CHAT_TEMPLATE},
                           bos="<|endoftext|>", eos="<|im_end|>")
    from assistant.llm.engine import _find_stop, release

    text = "Rome.<|im_end|>\n<|im_start|>user"
    cut = _find_stop(text, fmt.stop)
    assert text[:cut] == "Rome."
    out, held, _ = release("Rome.<|im_", 0, fmt.stop)
    assert out == "Rome." and held == "<|im_"  # held back until it is known to be a stop
