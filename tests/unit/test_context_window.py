"""The token budget that fits a conversation into n_ctx (pure logic, a word counter)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistant.llm.context import ContextOverflow, ContextWindow
from assistant.llm.templates import Message, PlainFormat

FMT = PlainFormat()
SYSTEM = Message("system", "You are Parley.")


def counter(turns: Sequence[Message]) -> int:
    return len(FMT.render([SYSTEM, *turns]).split())


def convo(n: int) -> list[Message]:
    out: list[Message] = []
    for i in range(n):
        out += [
            Message("user", f"question {i} " + "word " * 5),
            Message("assistant", f"answer {i} " + "word " * 5),
        ]
    return out


def test_everything_fits_when_small() -> None:
    w = ContextWindow(n_ctx=1000, reply_reserve=100)
    turns = [*convo(3), Message("user", "new")]
    assert w.fit(turns, counter) == turns
    assert w.start == 0


def test_drops_oldest_in_one_step_and_stays_stable() -> None:
    w = ContextWindow(n_ctx=200, reply_reserve=50, refill_fraction=0.5)
    turns = [*convo(20), Message("user", "new question")]
    kept = w.fit(turns, counter)
    assert counter(kept) <= w.budget * 0.5
    assert kept[-1].content == "new question"
    assert kept[0].role == "user"  # roles still alternate from a user turn
    start = w.start
    # The next turn still fits: the window does not move, so the prompt extends
    # the previous one (prefix reuse) instead of shifting by one turn each time.
    turns += [Message("assistant", "ok"), Message("user", "next")]
    kept2 = w.fit(turns, counter)
    assert w.start == start
    assert kept2[: len(kept)] == kept


def test_always_fits_over_many_turns() -> None:
    w = ContextWindow(n_ctx=150, reply_reserve=30)
    turns: list[Message] = []
    drops = 0
    for i in range(200):
        turns.append(Message("user", f"turn {i} please answer"))
        before = w.start
        kept = w.fit(turns, counter)
        drops += w.start != before
        assert counter(kept) <= w.budget
        turns.append(Message("assistant", "an answer of a few words"))
    assert w.start > 300
    assert drops < 60  # block drops, not one per turn


def test_single_message_too_long_raises() -> None:
    w = ContextWindow(n_ctx=100, reply_reserve=20)
    with pytest.raises(ContextOverflow) as e:
        w.fit([Message("user", "word " * 500)], counter)
    assert e.value.needed > e.value.available == 80
    assert "too long" in str(e.value)
