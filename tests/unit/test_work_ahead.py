"""Work ahead of a turn on its own (dialogue/work_ahead.py): preparing the next
turn, listening ahead and speculating, with a recording stand-in for the
engine and the prompt builder. What the KV cache gains from it, with the real
model, is measured in tests/integration/test_dialogue_manager.py."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from assistant.config import Settings
from assistant.dialogue.work_ahead import SPECULATE_TOKENS, WorkAhead
from assistant.events import ErrorCode
from assistant.llm.engine import LlmError
from assistant.llm.prompt import LONG_MIN_TOKENS
from assistant.llm.provider import LlmState
from assistant.llm.templates import Message


class Engine:
    """Records what it is asked to evaluate or generate."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.prefilled: list[str] = []
        self.ahead: list[dict[str, Any]] = []
        self.min_tokens: list[int] = []
        self.stops: list[Callable[[], bool] | None] = []

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        text = "".join(f"{m.role}: {m.content}\n" for m in messages)
        return text + ("Parley:" if add_generation_prompt else "")

    def prefill_text(self, text: str, should_stop: Callable[[], bool] | None = None) -> int:
        if self.fail:
            raise LlmError(ErrorCode.CONTEXT_FULL, "full")
        self.prefilled.append(text)
        self.stops.append(should_stop)
        return len(text.split())

    def generate_ahead(
        self,
        messages: Sequence[Message],
        *,
        temperature: float,
        budget: int,
        should_stop: Callable[[], bool] | None = None,
        min_tokens: int = 0,
    ) -> int:
        self.min_tokens.append(min_tokens)
        self.ahead.append(
            {"last": messages[-1].content, "temperature": temperature, "budget": budget}
        )
        self.stops.append(should_stop)
        return budget


class Provider:
    """An LlmProvider's state and engine; `get` must never wait."""

    def __init__(self, engine: Engine | None, state: LlmState = LlmState.READY) -> None:
        self.engine, self.state = engine, state
        self.waits: list[float | None] = []

    def get(self, timeout: float | None = None) -> Engine | None:
        self.waits.append(timeout)
        return self.engine


class Ahead:
    def __init__(self, provider: Provider | None, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.asked: list[str] = []  # the user words each prompt was built for
        self.ahead = WorkAhead(
            llm=provider,  # type: ignore[arg-type]
            prompt=self.prompt,  # type: ignore[arg-type]
            settings=lambda: self.settings,
            might_call_tool=lambda text: "note" in text,
        )

    def prompt(self, engine: Engine, words: str) -> list[Message]:
        self.asked.append(words)
        return [Message("system", "Be brief."), Message("user", words)]


def never() -> bool:
    return False


def test_listening_ahead_evaluates_up_to_the_words_so_far() -> None:
    engine = Engine()
    a = Ahead(Provider(engine))
    made = a.ahead.listen_ahead("  which moon   in the ", never)
    assert engine.prefilled == ["system: Be brief.\nuser: which moon in the"]
    assert made == 8 and engine.stops == [never]  # what the engine reports evaluating
    assert engine.ahead == []


def test_preparing_the_next_turn_stops_where_the_users_words_go() -> None:
    engine = Engine()
    a = Ahead(Provider(engine))
    a.ahead.prepare_next_turn(never)
    # The opener without its trailing space: the user's first word carries it.
    assert engine.prefilled == ["system: Be brief.\nuser:"]
    assert engine.stops == [never]


def test_speculating_generates_the_first_clause() -> None:
    engine = Engine()
    a = Ahead(Provider(engine))
    a.settings = replace(Settings(), temperature=0.3)  # read when the work runs
    made = a.ahead.speculate("why is the  sky blue", never)
    assert made == SPECULATE_TOKENS
    assert engine.ahead == [
        {"last": "why is the sky blue", "temperature": 0.3, "budget": SPECULATE_TOKENS}
    ]
    assert engine.prefilled == [] and engine.stops == [never]
    assert engine.min_tokens == [0]


def test_a_long_request_runs_ahead_with_the_long_minimum() -> None:
    engine = Engine()
    a = Ahead(Provider(engine))
    a.ahead.speculate("tell me a long story about a heron", never)
    assert engine.min_tokens == [LONG_MIN_TOKENS]  # the same minimum the turn will stream with


def test_a_turn_that_may_call_a_tool_only_has_its_prompt_evaluated() -> None:
    engine = Engine()
    a = Ahead(Provider(engine))
    a.ahead.speculate("jot this in my notes please", never)
    assert engine.ahead == []  # its reply may be a call, not words
    assert engine.prefilled == ["system: Be brief.\nuser: jot this in my notes please\nParley:"]


@pytest.mark.parametrize("words", ["what time is it", "what is six times seven", "", "   "])
def test_nothing_when_a_rule_answers_or_nothing_was_said(words: str) -> None:
    engine = Engine()
    a = Ahead(Provider(engine))
    assert a.ahead.listen_ahead(words) == 0
    assert a.ahead.speculate(words) == 0
    assert engine.prefilled == [] and engine.ahead == [] and a.asked == []


@pytest.mark.parametrize("state", [LlmState.LOADING, LlmState.FAILED, LlmState.DISABLED])
def test_only_a_loaded_model_is_used(state: LlmState) -> None:
    engine = Engine()
    provider = Provider(engine, state)
    a = Ahead(provider)
    assert a.ahead.listen_ahead("which moon") == 0
    assert a.ahead.speculate("why is the sky blue") == 0
    assert a.ahead.prepare_next_turn() == 0
    assert provider.waits == [] and engine.prefilled == [] and engine.ahead == []


def test_no_model_at_all() -> None:
    a = Ahead(None)
    assert a.ahead.listen_ahead("which moon") == 0
    assert a.ahead.speculate("why is the sky blue") == 0
    assert a.ahead.prepare_next_turn() == 0


def test_the_engine_is_taken_without_waiting() -> None:
    provider = Provider(Engine())
    Ahead(provider).ahead.listen_ahead("which moon")
    assert provider.waits == [0]
    assert Ahead(Provider(None)).ahead.listen_ahead("which moon") == 0  # gone meanwhile


def test_a_model_error_is_lost_work_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    a = Ahead(Provider(Engine(fail=True)))
    with caplog.at_level(logging.WARNING, logger="assistant.dialogue.work_ahead"):
        assert a.ahead.listen_ahead("which moon") == 0
    assert "background work on the model failed" in caplog.text
