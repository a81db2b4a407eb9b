"""Grounding and context hygiene on the real embedded Gemma 3 270M, through
the real DialogueManager (the path a user's turn takes)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from assistant.bench.answers import CLOCK_TIME, rule_facts
from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.events import Event, Source
from assistant.llm.engine import LlmEngine
from assistant.llm.prompt import fact_line
from assistant.llm.provider import LlmProvider

NOW = datetime(2026, 12, 4, 21, 5).astimezone()


def _manager(tmp_path: Path, engine: LlmEngine) -> DialogueManager:
    settings = replace(Settings(), temperature=0.2, max_tokens=60)
    events: list[Event] = []
    m = DialogueManager(
        settings,
        sink=events.append,
        history=History(tmp_path / "h.sqlite3"),
        llm=LlmProvider.ready(engine),
        now=lambda: NOW,
    )
    m.open_conversation(new=True)
    return m


def test_open_question_after_time_date_and_sum_repeats_none_of_them(
    tmp_path: Path, llm_engine: LlmEngine
) -> None:
    m = _manager(tmp_path, llm_engine)
    asked = ("what time is it", "what is today's date", "what is 17 times 23")
    rules = [m.handle(t) for t in asked]
    assert all(r.source is Source.RULE for r in rules)
    facts = rule_facts([r.reply for r in rules])
    assert {"391", "December"} <= facts
    try:
        for question in ("say something about the sea", "give me a name for a small grey cat"):
            reply = m.handle(question)
            assert reply.source is Source.LLM
            copied = [f for f in facts if re.search(rf"\b{re.escape(f)}\b", reply.reply)]
            assert not copied and not CLOCK_TIME.search(reply.reply), reply.reply
    finally:
        m.close()


def test_a_date_question_the_rules_miss_is_answered_from_the_clock(
    tmp_path: Path, llm_engine: LlmEngine
) -> None:
    m = _manager(tmp_path, llm_engine)
    try:
        result = m.handle("today is which day")
        assert result.source is Source.LLM
        # The model was told (one line after the question) and says the clock's day.
        assert "Friday" in result.reply or "4 December" in result.reply, result.reply
        assert not any(d in result.reply for d in ("Monday", "Tuesday", "Saturday", "Sunday"))
    finally:
        m.close()
    assert "Friday, 4 December 2026" in fact_line(NOW)
