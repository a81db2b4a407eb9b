"""Which earlier exchanges a base model's prompt keeps (llm/prompt.py `referred`):
only those the new message refers to, so an unrelated earlier reply cannot be
copied into the answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.llm.prompt import referred, refers_back, turn_messages
from assistant.llm.templates import Message, PlainFormat

NOW = datetime(2026, 12, 4, 21, 5, tzinfo=UTC)


def convo(*texts: str) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    "text",
    ["and Germany?", "what about Italy?", "what else did he write?", "why?", "Germany?",
     "in French", "where is it?", "and what language do they speak there?", "tell me more"],
)  # fmt: skip
def test_words_that_point_back(text: str) -> None:
    assert refers_back(text)


@pytest.mark.parametrize(
    "text",
    ["what is the tallest mountain", "say something about the sea", "tell me a joke about cats",
     "who wrote Pride and Prejudice", "what is love", "how do I boil an egg"],
)  # fmt: skip
def test_questions_of_their_own(text: str) -> None:
    assert not refers_back(text)


def test_an_unrelated_question_is_sent_alone() -> None:
    msgs = convo(
        "tell me a joke about cats", "I can't tell you a joke.", "what is the tallest mountain"
    )
    assert [m.content for m in referred(msgs)] == ["what is the tallest mountain"]
    text = PlainFormat().render(turn_messages(msgs, NOW, base_model=True))
    assert "joke" not in text


def test_a_follow_up_keeps_its_chain() -> None:
    msgs = convo(
        "tell me a joke", "No.", "what is the capital of France", "Paris.",
        "and Germany?", "Berlin.", "and Italy?",
    )  # fmt: skip
    kept = [m.content for m in referred(msgs)]
    assert kept == [
        "what is the capital of France",
        "Paris.",
        "and Germany?",
        "Berlin.",
        "and Italy?",
    ]


def test_questions_about_the_user_bring_their_statements() -> None:
    msgs = convo("my name is Priya", "Hi Priya.", "tell me a joke", "No.", "what is my name?")
    assert [m.content for m in referred(msgs)] == [
        "my name is Priya",
        "Hi Priya.",
        "what is my name?",
    ]
    msgs = convo("I work as a nurse", "Good.", "what is a noun", "A word.", "what is my job?")
    assert [m.content for m in referred(msgs)][0] == "I work as a nurse"
    # A request with "me" is no statement about the user; "how do I" is no question about them.
    msgs = convo("I live in Lisbon", "Nice.", "how do I boil rice")
    assert [m.content for m in referred(msgs)] == ["how do I boil rice"]


def test_instruct_models_keep_the_whole_conversation() -> None:
    msgs = convo("tell me a joke about cats", "No.", "what is the tallest mountain")
    assert len(turn_messages(msgs, NOW, base_model=False)) == 3


def test_a_follow_up_prompt_extends_the_previous_prompt_and_reply() -> None:
    """KV cache reuse: the follow-up's prompt starts with the text the cache
    holds after the previous turn (its prompt and its reply)."""
    fmt = PlainFormat()
    first = convo("tell me a joke", "No.", "what is the capital of France")
    follow = [*first, Message("assistant", "Paris."), Message("user", "and Germany?")]
    before = fmt.render(turn_messages(first, NOW, base_model=True)) + " Paris.\n"
    assert fmt.render(turn_messages(follow, NOW, base_model=True)).startswith(before)
