"""The text-only loop (ui/controller.py TextLoop, used when no recogniser can
run): every turn is typed, so a question it asks waits the typed timeout."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from recording import EventRecorder

from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.dialogue.notes import NoteStore
from assistant.events import ReplyDone, ToolRequest
from ui.controller import TextLoop


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "history.sqlite3")
    yield h
    h.close()


def test_a_typed_question_waits_the_typed_timeout(history: History) -> None:
    events = EventRecorder()
    settings = replace(Settings(), confirm_timeout_s=7.0, typed_confirm_timeout_s=90.0)
    m = DialogueManager(settings, sink=events, history=history, llm=None, notes=NoteStore(history))
    m.open_conversation(new=True)
    loop = TextLoop(m, events)
    loop.start()
    try:
        loop.submit_text("take a note buy milk")
        loop.submit_text("delete the note buy milk")  # consequential: asks first
        assert events.wait_for(lambda e: isinstance(e, ToolRequest), timeout=10)
    finally:
        loop.close()
    request = events.of(ToolRequest)[-1]
    assert request.tool == "delete_note"
    assert request.timeout_s == 90.0
    assert len(events.of(ReplyDone)) == 2
