"""Chat formats render append-only prompts: the basis of KV-cache prefix reuse."""

from __future__ import annotations

import pytest

from assistant.llm.templates import (
    NAMED_FORMATS,
    ChatMLFormat,
    GemmaFormat,
    JinjaFormat,
    Message,
    PlainFormat,
    choose_format,
)

OWN = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
"""A template of the GGUF's own (one that leaves words out is not used: test_chat_format_fit)."""

CONVO = [
    Message("system", "Be brief."),
    Message("user", "Hi"),
    Message("assistant", "Hello!"),
    Message("user", "What time is it?"),
]


@pytest.mark.parametrize("name", sorted(NAMED_FORMATS))
def test_each_turn_extends_the_previous_prompt(name: str) -> None:
    fmt = NAMED_FORMATS[name]
    turn1 = fmt.render(CONVO[:2])
    convo_so_far = fmt.render(CONVO[:3], add_generation_prompt=False)
    turn2 = fmt.render(CONVO)
    # Turn 2's prompt starts with turn 1's prompt plus the reply as generated.
    assert turn2.startswith(convo_so_far)
    assert convo_so_far.startswith(turn1)
    # The system-only prefix (prefilled at load) starts every prompt.
    assert turn1.startswith(fmt.render(CONVO[:1], add_generation_prompt=False))


def test_plain_format_shape_and_stops() -> None:
    text = PlainFormat().render(CONVO)
    assert text == "Be brief.\n\nUser: Hi\nParley: Hello!\nUser: What time is it?\nParley:"
    assert "\nUser:" in PlainFormat().stop


def test_gemma_folds_system_into_first_user_turn() -> None:
    text = GemmaFormat().render(CONVO[:2])
    assert text == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"


def test_choose_format_order() -> None:
    assert choose_format({}, "chatml")[0] == ChatMLFormat()
    fmt, why = choose_format({"tokenizer.chat_template": OWN})
    assert isinstance(fmt, JinjaFormat) and "GGUF" in why
    fmt, why = choose_format({})
    assert isinstance(fmt, PlainFormat) and "base model" in why
    with pytest.raises(ValueError, match="unknown chat template"):
        choose_format({}, "klingon")


def test_the_catalog_template_serves_only_a_gguf_without_one() -> None:
    fmt, why = choose_format({}, fallback="chatml")
    assert fmt == ChatMLFormat() and "catalog" in why
    own = {"tokenizer.chat_template": OWN}
    assert isinstance(choose_format(own, fallback="chatml")[0], JinjaFormat)
    assert choose_format(own, "gemma", fallback="chatml")[0] == GemmaFormat()  # settings win
    with pytest.raises(ValueError, match="unknown chat template"):
        choose_format({}, fallback="klingon")


def test_jinja_template_from_metadata_renders() -> None:
    template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    fmt = JinjaFormat(template, "<s>", "</s>")
    assert fmt.render(CONVO[:2]) == "<|system|>Be brief.\n<|user|>Hi\n<|assistant|>"
    assert fmt.render(CONVO[:2], add_generation_prompt=False).endswith("Hi\n")
