"""On the real embedded Gemma 3 270M: a request for something long gets a long
reply, a plain question a short one. The base model's long story used to end
after its first line ("I can't sing."); `min_tokens` holds the reply open."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager, system_messages
from assistant.events import Source
from assistant.llm.engine import GenerationStats, LlmEngine
from assistant.llm.prompt import LONG_MIN_TOKENS
from assistant.llm.provider import LlmProvider
from assistant.llm.templates import Message


def _words(text: str) -> int:
    return len(re.findall(r"[\w']+", text))


@pytest.fixture
def manager(tmp_path: Path, llm_engine: LlmEngine):
    m = DialogueManager(
        Settings(),  # the family's sampling: greedy for the plain format
        sink=lambda e: None,
        history=History(tmp_path / "h.sqlite3"),
        llm=LlmProvider.ready(llm_engine),
    )
    yield m
    m.close()


@pytest.mark.parametrize(
    "request_text",
    ["tell me a long tale about a sleepy owl", "describe in detail how a volcano erupts"],
)
def test_a_long_request_gets_a_long_reply(manager: DialogueManager, request_text: str) -> None:
    manager.open_conversation(new=True)
    r = manager.handle(request_text)
    assert r.source is Source.LLM
    assert _words(r.reply) >= 60, r.reply


@pytest.mark.parametrize("question", ["what is a comet", "who was Isaac Newton"])
def test_a_plain_question_stays_short(manager: DialogueManager, question: str) -> None:
    manager.open_conversation(new=True)
    r = manager.handle(question)
    assert r.source is Source.LLM
    assert 0 < _words(r.reply) <= 40, r.reply


def test_min_tokens_holds_the_reply_open_and_ahead_tokens_keep_to_it(
    llm_engine: LlmEngine,
) -> None:
    messages = [*system_messages(Settings(), llm_engine), Message("user", "Who is Ada Lovelace?")]
    free, held = GenerationStats(), GenerationStats()
    short = "".join(llm_engine.stream(messages, max_tokens=200, temperature=0.0, stats=free))
    assert free.generated_tokens < 40, short  # the model ends a short answer on its own
    text = "".join(
        llm_engine.stream(messages, max_tokens=200, temperature=0.0, stats=held, min_tokens=60)
    )
    # Held open (up to LONG_END_DENIALS ends the model asks for): more than twice as long.
    assert held.generated_tokens > 2 * free.generated_tokens and "\n" not in text.strip(), text
    # Tokens run ahead with the same minimum are replayed; with another, discarded.
    assert llm_engine.generate_ahead(messages, temperature=0.0, budget=4, min_tokens=60) == 4
    again = GenerationStats()
    replayed = "".join(
        llm_engine.stream(messages, max_tokens=200, temperature=0.0, stats=again, min_tokens=60)
    )
    # (Not word for word: llama.cpp's repeat penalty does not see replayed tokens.)
    assert again.ahead_tokens == 4 and again.generated_tokens > 2 * free.generated_tokens, replayed
    assert replayed.split()[:2] == text.split()[:2]
    llm_engine.generate_ahead(messages, temperature=0.0, budget=4, min_tokens=60)
    other = GenerationStats()
    list(llm_engine.stream(messages, max_tokens=8, temperature=0.0, stats=other))
    assert other.ahead_tokens == 0
    assert LONG_MIN_TOKENS >= 60
