"""A turn taken back (the user went on speaking) and a request completed after
Parley asked for its missing part: the real DialogueManager, SQLite history,
notes and timers; no LLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.dialogue.notes import NoteStore
from assistant.events import Event


@pytest.fixture
def manager(tmp_path: Path):
    history = History(tmp_path / "history.sqlite3")
    notes = NoteStore(history)
    events: list[Event] = []
    m = DialogueManager(Settings(), sink=events.append, history=history, llm=None, notes=notes)
    m.open_conversation(new=True)
    yield m
    m.close()
    history.close()


def rows(m: DialogueManager) -> list[tuple[str, str]]:
    assert m.history is not None
    return [(t.role, t.text) for t in m.history.turns(m.conversation_id) if t.role != "tool"]


def test_a_retracted_turn_leaves_no_trace(manager: DialogueManager) -> None:
    manager.handle("what is two plus two")
    before_rows, before_messages = rows(manager), list(manager.messages)
    result = manager.handle("what time is it")
    assert len(rows(manager)) == len(before_rows) + 2
    manager.retract(result)
    assert rows(manager) == before_rows
    assert manager.messages == before_messages
    assert manager.last_reply == "2 plus 2 is 4."


def test_a_retracted_turn_undoes_what_its_tools_did(manager: DialogueManager) -> None:
    assert manager.notes is not None and manager.timers is not None
    note = manager.handle("take a note buy milk")
    timer = manager.handle("set a timer for ten minutes")
    assert [text for _id, text, _at in manager.notes.list()] == ["buy milk"]
    assert len(manager.timers.store.pending()) == 1
    manager.retract(timer)
    manager.retract(note)
    assert manager.notes.list() == []
    assert manager.timers.store.pending() == []
    assert rows(manager) == []


def test_a_half_said_request_is_asked_about_and_completed(manager: DialogueManager) -> None:
    asked = manager.handle("set a timer", confidence=0.1)  # a fragment, not a mishearing
    assert asked.reply == "For how long?"
    done = manager.handle("ten minutes")
    assert done.reply.startswith("Timer set for 10 minutes")
    assert manager.timers is not None and len(manager.timers.store.pending()) == 1


def test_an_operand_is_asked_for_and_the_sum_completed(manager: DialogueManager) -> None:
    assert manager.handle("what is nine plus").reply == "Nine plus what?"
    assert manager.handle("four").reply == "9 plus 4 is 13."


def test_a_new_request_after_the_question_starts_over(manager: DialogueManager) -> None:
    assert manager.handle("take a note").reply == "What should the note say?"
    assert manager.handle("what is three times three").reply == "3 times 3 is 9."
    assert manager.notes is not None and manager.notes.list() == []


def test_only_requests_that_change_nothing_are_prepared_early(manager: DialogueManager) -> None:
    assert manager.can_prepare("what time is it")
    assert manager.can_prepare("what is six times seven")
    assert manager.can_prepare("why is the sky blue")  # an LLM reply, no tool
    assert not manager.can_prepare("take a note buy milk")
    assert not manager.can_prepare("set a timer for five minutes")
    assert not manager.can_prepare("delete all my notes")
    assert not manager.can_prepare("")


def test_a_new_conversation_forgets_a_half_said_request(manager: DialogueManager) -> None:
    assert manager.handle("what is nine plus").reply == "Nine plus what?"
    manager.open_conversation(new=True)
    reply = manager.handle("four").reply  # on its own: no sum from the other conversation
    assert "13" not in reply
