"""Damaged database files never take Parley down: real SQLite files with real
data are damaged on disk (truncated, pages overwritten, replaced by garbage),
then Parley is run as the user runs it (`python -m assistant.cli` in a
subprocess), or the stores are used in-process for damage met mid-session."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.dialogue import dbfile
from assistant.dialogue.history import DamagedDatabase, History
from assistant.dialogue.notes import NoteStore
from assistant.dialogue.timers import TimerScheduler, TimerStore

PARLEY = [sys.executable, "-m", "assistant.cli"]
PAGE = 4096  # SQLite's default page size, asserted in `page_size`


def run(args: list[str], home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*PARLEY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def fill(home: Path) -> None:
    """Real data in both files, written by Parley itself; closed cleanly, so
    each file is whole and its WAL checkpointed."""
    with History(home / "history.sqlite3") as h:
        for n in range(40):  # several pages of turns
            cid = h.new_conversation()
            h.add_turn(cid, "user", f"question {n} " + "words " * 40)
            h.add_turn(cid, "assistant", f"answer {n} " + "more words " * 40, source="llm")
    with NoteStore(home / "history.sqlite3") as notes:
        for n in range(60):
            notes.add(f"note {n}: " + "remember this " * 10)
    store = TimerStore(home / "timers.sqlite3")
    for n in range(30):
        store.add(time.time() + 3600 + n, label=f"timer {n}", duration_s=3600)
    store.close()
    for name in ("history.sqlite3", "timers.sqlite3"):
        wal = Path(f"{home / name}-wal")
        assert not wal.exists() or wal.stat().st_size == 0
        assert page_size(home / name) == PAGE


def notes_root_page(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'notes'").fetchone()
    return int(row[0])


def truncate(data: bytes, _db: Path) -> bytes:
    return data[: len(data) // 2 + 100]  # mid-page, as a disk-full write leaves it


def pages_overwritten(data: bytes, _db: Path) -> bytes:
    junk = random.Random(7).randbytes(PAGE)
    return data[:PAGE] + junk + data[2 * PAGE :]  # page 2, as the issue reports


def garbage(data: bytes, _db: Path) -> bytes:
    return random.Random(11).randbytes(len(data))


def notes_page_overwritten(data: bytes, db: Path) -> bytes:
    page = notes_root_page(db)  # the page that holds the notes table's root
    start = (page - 1) * PAGE
    return data[:start] + random.Random(3).randbytes(PAGE) + data[start + PAGE :]


DAMAGE: dict[str, Callable[[bytes, Path], bytes]] = {
    "truncated": truncate,
    "pages_overwritten": pages_overwritten,
    "garbage": garbage,
}

# (which store, its file, how it is damaged)
CASES = [
    (store, file, how)
    for store, file in (("history", "history.sqlite3"), ("timers", "timers.sqlite3"))
    for how in DAMAGE
] + [
    ("notes", "history.sqlite3", "truncated"),
    ("notes", "history.sqlite3", "notes_page_overwritten"),
    ("notes", "history.sqlite3", "garbage"),
]


def damage(db: Path, how: str) -> bytes:
    fn = notes_page_overwritten if how == "notes_page_overwritten" else DAMAGE[how]
    bad = fn(db.read_bytes(), db)
    db.write_bytes(bad)
    return bad


def set_aside_files(home: Path, name: str) -> list[Path]:
    return [
        p
        for p in home.iterdir()
        if p.name.startswith(name + dbfile.ASIDE_INFIX) and not p.name.endswith(dbfile.COMPANIONS)
    ]


@pytest.mark.parametrize(("store", "file", "how"), CASES)
def test_chat_answers_with_a_damaged_file(
    parley_home: Path, store: str, file: str, how: str
) -> None:
    fill(parley_home)
    db = parley_home / file
    bad = damage(db, how)
    assert dbfile.damage_reason(db) is not None  # really damaged, as SQLite sees it

    out = run(["chat", "--no-llm", "--once", "what is 2 plus 2"], parley_home)

    assert out.returncode == 0, out.stderr
    assert "4" in out.stdout
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr  # one message, nothing else
    noun = "timers" if file.startswith("timers") else "history"
    assert f"The {noun} file {db} is damaged" in lines[0]
    (aside,) = set_aside_files(parley_home, file)
    assert f"set aside as {aside}" in lines[0]
    assert aside.read_bytes() == bad  # the damaged bytes, untouched
    assert dbfile.damage_reason(db) is None  # a new, sound file in its place

    again = run(["chat", "--no-llm", "--once", "what is 3 plus 3"], parley_home)
    assert again.returncode == 0 and "6" in again.stdout
    assert again.stderr.strip() == ""  # said once, not at every start
    if store == "notes":  # notes work in the new file
        noted = run(["chat", "--no-llm", "--once", "take a note buy milk"], parley_home)
        assert noted.returncode == 0 and "buy milk" in noted.stdout, noted.stderr
    if store == "timers":
        timer = run(["chat", "--no-llm", "--once", "set a timer for 5 minutes"], parley_home)
        assert timer.returncode == 0 and "5 minutes" in timer.stdout, timer.stderr


@pytest.mark.parametrize(
    ("file", "content"),
    [("timers.sqlite3", b""), ("history.sqlite3", b"this is not a database\n" * 20)],
    ids=["empty_timers", "text_history"],
)
def test_empty_or_foreign_file_is_set_aside(parley_home: Path, file: str, content: bytes) -> None:
    db = parley_home / file
    db.write_bytes(content)
    out = run(["chat", "--no-llm", "--once", "what is 2 plus 2"], parley_home)
    assert out.returncode == 0 and "4" in out.stdout, out.stderr
    assert "Traceback" not in out.stderr
    (aside,) = set_aside_files(parley_home, file)
    assert aside.read_bytes() == content
    assert f"{db} is damaged" in out.stderr and str(aside) in out.stderr
    if not content:
        assert "It held nothing to recover." in out.stderr


def test_json_mode_reports_an_error_event(parley_home: Path) -> None:
    fill(parley_home)
    damage(parley_home / "timers.sqlite3", "pages_overwritten")
    out = run(["chat", "--json", "--no-llm", "--once", "what is 2 plus 2"], parley_home)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    errors = [e for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["timers_damaged"]
    assert not errors[0]["fatal"]
    done = [e for e in events if e["type"] == "reply_done"]
    assert "4" in done[0]["text"]


def test_history_command_and_doctor_report_it(parley_home: Path) -> None:
    fill(parley_home)
    db = parley_home / "history.sqlite3"
    damage(db, "garbage")

    doctor = run(["doctor", "--json"], parley_home)  # looks, changes nothing
    assert "Traceback" not in doctor.stderr
    checks = [json.loads(line) for line in doctor.stdout.splitlines()]
    history = next(c for c in checks if c["name"] == "history")
    assert history["status"] == "warn" and "damaged" in history["detail"]
    assert not set_aside_files(parley_home, "history.sqlite3")

    listed = run(["history", "list"], parley_home)
    assert listed.returncode == 0, listed.stderr
    assert f"The history file {db} is damaged" in listed.stderr
    (aside,) = set_aside_files(parley_home, "history.sqlite3")

    doctor = run(["doctor", "--json"], parley_home)
    checks = [json.loads(line) for line in doctor.stdout.splitlines()]
    damaged = [c for c in checks if c["name"] == "damaged file"]
    assert len(damaged) == 1 and damaged[0]["status"] == "warn"
    assert str(aside) in damaged[0]["detail"] and ".recover" in damaged[0]["fix"]
    assert next(c for c in checks if c["name"] == "history")["status"] == "ok"


# --- damage met mid-session (in-process: the file is damaged under an open store)


def overwrite_pages(db: Path, first_page: int) -> None:
    """Random bytes over every page from `first_page` (1-based) on, in place."""
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.seek((first_page - 1) * PAGE)
        f.write(random.Random(5).randbytes(size - (first_page - 1) * PAGE))


def test_history_damaged_mid_session_carries_on_in_memory(parley_home: Path) -> None:
    fill(parley_home)
    db = parley_home / "history.sqlite3"
    history = History(db)
    assert history.damage is None
    cid = history.last_conversation()
    assert cid is not None
    overwrite_pages(db, 2)  # under the open connection, as a failing disk would

    with pytest.raises(DamagedDatabase) as raised:
        history.conversations()
    message = str(raised.value)
    assert f"The history file {db} is damaged" in message and "in memory" in message
    # Once: later calls work, in memory, and the caller's conversation goes on.
    turn = history.add_turn(cid, "user", "still here")
    history.update_turn(turn, text="still here, edited")
    history.update_turn(10_000)  # a turn that was in the damaged file: no error
    assert [t.text for t in history.turns(cid)] == ["still here, edited"]
    history.close()
    assert dbfile.marker_path(db).exists()

    # The next start sets the file aside (the marker says why) and starts anew.
    again = History(db)
    assert again.damage is not None and "set aside" in again.damage
    assert again.conversations() == []
    again.close()
    assert not dbfile.marker_path(db).exists()
    assert len(set_aside_files(parley_home, "history.sqlite3")) == 1


def test_notes_damaged_mid_session_fail_once_then_work(parley_home: Path) -> None:
    fill(parley_home)
    db = parley_home / "history.sqlite3"
    notes = NoteStore(db)
    overwrite_pages(db, notes_root_page(db))
    with pytest.raises(DamagedDatabase, match="is damaged"):
        notes.list()
    notes.add("after the damage")
    assert [t for _i, t, _c in notes.list()] == ["after the damage"]
    notes.close()


def test_notes_with_a_listener_are_kept_in_memory_and_it_is_told_once(parley_home: Path) -> None:
    fill(parley_home)
    db = parley_home / "history.sqlite3"
    notes = NoteStore(db)
    told: list[str] = []
    notes.on_damage = told.append
    overwrite_pages(db, notes_root_page(db))
    assert notes.add("buy milk") >= 1  # the note is taken, in memory
    notes.add("call mum")
    assert [t for _i, t, _c in notes.list()] == ["buy milk", "call mum"]
    assert len(told) == 1 and f"The history file {db} is damaged" in told[0]
    notes.close()


def test_session_damaged_mid_turn_answers_and_says_so_once(parley_home: Path) -> None:
    from assistant.events import Error
    from assistant.session import Session

    fill(parley_home)
    db = parley_home / "history.sqlite3"
    events: list[object] = []
    session = Session.open(events.append, use_llm=False)
    try:
        overwrite_pages(db, 2)  # everything but the header, under the open session
        replies = [
            session.manager.handle(text).reply
            for text in ("take a note buy milk", "what is 2 plus 2", "read my notes")
        ]
        if session.history is not None:
            session.history.conversations()  # the UI's list reads the damaged pages too
            session.history.conversations()
    finally:
        session.close()
    assert "buy milk" in replies[0] and "4" in replies[1] and "buy milk" in replies[2]
    errors = [e for e in events if isinstance(e, Error)]
    assert len(errors) <= 2, errors  # the notes' and the history's connection at most
    assert all(f"The history file {db} is damaged" in e.message for e in errors)
    assert errors, "the damage was not reported"
    assert dbfile.marker_path(db).exists()


def test_timers_damaged_mid_session_still_set_and_say_so_once(parley_home: Path) -> None:
    fill(parley_home)
    db = parley_home / "timers.sqlite3"
    store = TimerStore(db)
    told: list[str] = []
    store.on_damage = told.append
    overwrite_pages(db, 2)

    assert store.pending() == []  # the damaged rows are gone for this run
    timer = store.add(time.time() + 60, label="tea", duration_s=60)
    assert [t.label for t in store.pending()] == ["tea"]
    assert store.finish(timer.id, "cancelled")
    assert len(told) == 1 and f"The timers file {db} is damaged" in told[0]
    store.close()


def test_scheduler_starts_over_an_unreadable_store(parley_home: Path) -> None:
    fill(parley_home)
    db = parley_home / "timers.sqlite3"
    store = TimerStore(db)  # no on_damage: the message goes to the log
    overwrite_pages(db, 2)
    scheduler = TimerScheduler(store, lambda timer, missed: None)
    scheduler.start()  # reads the pending timers: must not raise
    scheduler.close()
    store.close()


def test_session_reports_timers_damage_as_an_error_event(parley_home: Path) -> None:
    from assistant.events import Error, ReplyDone
    from assistant.session import Session

    fill(parley_home)
    damage(parley_home / "timers.sqlite3", "truncated")
    events: list[object] = []
    session = Session.open(events.append, use_llm=False)
    try:
        result = session.manager.handle("what is 2 plus 2")
    finally:
        session.close()
    assert "4" in result.reply
    errors = [e for e in events if isinstance(e, Error)]
    assert [e.code for e in errors] == ["timers_damaged"]
    assert any(isinstance(e, ReplyDone) for e in events)


def test_set_aside_never_overwrites(tmp_path: Path) -> None:
    db = tmp_path / "timers.sqlite3"
    first, second = b"first damaged file", b"second damaged file"
    db.write_bytes(first)
    Path(f"{db}-wal").write_bytes(b"its wal")
    a = dbfile.set_aside(db)
    db.write_bytes(second)
    b = dbfile.set_aside(db)  # within the same second: another name
    assert a != b
    assert a.read_bytes() == first and b.read_bytes() == second
    assert Path(f"{a}-wal").read_bytes() == b"its wal"
    assert not db.exists()


def test_quick_check_passes_a_sound_file(parley_home: Path) -> None:
    fill(parley_home)
    for name in ("history.sqlite3", "timers.sqlite3"):
        assert dbfile.damage_reason(parley_home / name) is None
    assert dbfile.damage_reason(parley_home / "missing.sqlite3") is None
    assert dbfile.damage_reason(parley_home) is None  # a folder: the open says so
