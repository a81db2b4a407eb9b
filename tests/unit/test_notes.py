"""NoteStore: notes kept in the history database."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.dialogue.history import History, HistoryError
from assistant.dialogue.notes import NoteStore


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.db"


def test_add_list_delete(db: Path) -> None:
    with NoteStore(db) as notes:
        assert notes.list() == []
        milk = notes.add("buy milk")
        call = notes.add("  call the dentist on Monday \n")
        assert call > milk
        listed = notes.list()
        assert [(i, t) for i, t, _ in listed] == [
            (milk, "buy milk"),
            (call, "call the dentist on Monday"),
        ]
        assert all(created.startswith("20") and "T" in created for _, _, created in listed)
        assert notes.delete(milk) is True
        assert notes.delete(milk) is False
        assert notes.delete(9999) is False
        assert [i for i, _, _ in notes.list()] == [call]


def test_notes_persist_and_share_the_history_file(db: Path) -> None:
    with History(db) as history:
        c = history.new_conversation()
        history.add_turn(c, "user", "take a note: buy milk", intent="note")
        with NoteStore(history) as notes:
            note = notes.add("buy milk")
        assert notes.path == db
    with NoteStore(db) as notes:
        assert [(i, t) for i, t, _ in notes.list()] == [(note, "buy milk")]
    with History(db) as history:
        assert history.turns(c)[0].intent == "note"  # notes did not disturb the history


def test_empty_note_is_refused(db: Path) -> None:
    with NoteStore(db) as notes:
        with pytest.raises(ValueError):
            notes.add("   ")
        assert notes.list() == []


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "history.db"
    content = b"\x00\x01 definitely not sqlite " * 300
    junk.write_bytes(content)
    with NoteStore(junk) as notes:  # set aside, not refused: Parley must go on
        assert notes.damage is not None
        assert notes.damage.startswith(f"The history file {junk} is damaged")
        assert notes.list() == []
    (aside,) = tmp_path.glob("history.db.damaged-*[0-9]")
    assert aside.read_bytes() == content


def test_unwritable_location(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    with pytest.raises(HistoryError, match="Parley cannot write its history at"):
        NoteStore(blocker / "history.db")
