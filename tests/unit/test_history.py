"""History: SQLite persistence, crash safety, recovery, export."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant.dialogue.history import SCHEMA_VERSION, History, HistoryError, Turn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.db"  # the directory does not exist yet


@pytest.fixture
def history(db: Path):
    h = History(db)
    yield h
    h.close()


def tick() -> None:
    """Let the millisecond clock move on, so stored times differ."""
    time.sleep(0.003)


def test_creates_directory_and_uses_wal(db: Path, history: History) -> None:
    assert db.is_file()
    other = sqlite3.connect(db)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in other.execute("SELECT name FROM sqlite_master")}
    finally:
        other.close()
    assert {"conversations", "turns", "notes", "turns_by_conversation"} <= tables


def test_add_update_turns_roundtrip(history: History) -> None:
    c = history.new_conversation()
    u = history.add_turn(
        c, "user", "what's the time", confidence=0.83, timings={"stt_final": 120.5}
    )
    r = history.add_turn(
        c, "assistant", "It is", status="streaming", source="llm", timings={"first_token": 300.0}
    )
    history.update_turn(
        r, text="It is ten past four.", status="done", timings={"first_clause": 410.0}
    )
    history.update_turn(r, flagged="slow reply")

    turns = history.turns(c)
    assert [t.id for t in turns] == [u, r]
    user, reply = turns
    assert user == Turn(
        id=u,
        conversation_id=c,
        role="user",
        text="what's the time",
        status="done",
        source="",
        intent="",
        flagged=None,
        confidence=0.83,
        timings={"stt_final": 120.5},
        created_at=user.created_at,
    )
    assert reply.text == "It is ten past four."
    assert reply.status == "done"
    assert reply.source == "llm"
    assert reply.flagged == "slow reply"
    # timings merge: the stage recorded when the turn was added is kept
    assert reply.timings == {"first_token": 300.0, "first_clause": 410.0}
    assert reply.created_at >= user.created_at

    history.update_turn(r, flagged="")  # clears the flag
    assert history.turns(c)[1].flagged is None
    assert history.turns(c + 1) == []


def test_data_survives_reopen(db: Path) -> None:
    with History(db) as h:
        c = h.new_conversation("kept")
        h.add_turn(c, "user", "remember me", intent="note")
    with History(db) as h:  # a second open must not re-run the migration
        assert h.last_conversation() == c
        [turn] = h.turns(c)
        assert (turn.text, turn.intent) == ("remember me", "note")
        assert h.conversation(c).title == "kept"


def test_title_comes_from_first_user_turn(history: History) -> None:
    c = history.new_conversation()
    history.add_turn(c, "assistant", "Hello, I'm Parley.")
    assert history.conversation(c).title == ""  # replies never name a conversation
    long = "please   remind me to water the tomatoes in the greenhouse every morning at seven"
    history.add_turn(c, "user", long)
    history.add_turn(c, "user", "and the basil")
    title = history.conversation(c).title
    assert title.endswith("…")
    assert len(title) <= 61
    assert title.startswith("please remind me to water the tomatoes")
    assert "  " not in title

    named = history.new_conversation("Groceries")
    history.add_turn(named, "user", "add milk")
    assert history.conversation(named).title == "Groceries"


def test_recover_interrupted(history: History) -> None:
    a = history.new_conversation()
    b = history.new_conversation()
    done = history.add_turn(a, "assistant", "Finished.", source="rule")
    cut_a = history.add_turn(a, "assistant", "Once upon a", status="streaming", source="llm")
    cut_b = history.add_turn(b, "assistant", "Let me", status="streaming", source="llm")

    assert history.recover_interrupted() == 2
    status = {t.id: t.status for t in history.turns(a) + history.turns(b)}
    assert status == {done: "done", cut_a: "interrupted", cut_b: "interrupted"}
    assert history.turns(a)[1].text == "Once upon a"  # the partial text is kept
    assert history.recover_interrupted() == 0


CRASHING_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from assistant.dialogue.history import History

    h = History(Path(sys.argv[1]))
    c = h.new_conversation()
    h.add_turn(c, "user", "tell me a story", confidence=0.9)
    r = h.add_turn(c, "assistant", "Once upon", status="streaming", source="llm")
    h.update_turn(r, text="Once upon a time, there was a lighthouse")
    print(c, r, flush=True)
    # No close(), no checkpoint: die the hard way mid-reply.
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    """
)


def test_killed_process_loses_no_committed_turn(db: Path) -> None:
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD, str(db)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if hasattr(signal, "SIGKILL"):
        assert child.returncode == -signal.SIGKILL, child.stderr
    else:
        assert child.returncode != 0, child.stderr
    conversation, reply = map(int, child.stdout.split())
    # The commits live only in the write-ahead log: the kill left it un-checkpointed.
    wal = db.with_name(db.name + "-wal")
    assert wal.is_file() and wal.stat().st_size > 0

    with History(db) as h:
        turns = h.turns(conversation)
        assert [(t.role, t.text, t.status) for t in turns] == [
            ("user", "tell me a story", "done"),
            ("assistant", "Once upon a time, there was a lighthouse", "streaming"),
        ]
        assert turns[1].id == reply
        assert h.recover_interrupted() == 1
        assert h.turns(conversation)[1].status == "interrupted"
        assert h.turns(conversation)[1].text == "Once upon a time, there was a lighthouse"


def test_parent_path_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")
    target = blocker / "history.db"
    with pytest.raises(HistoryError) as err:
        History(target)
    message = str(err.value)
    assert message.startswith(f"Parley cannot write its history at {target}: ")
    assert "Traceback" not in message


def _open_as_nobody(target: Path) -> str:
    """Open History at `target` in a forked child running as the unprivileged
    'nobody' (root ignores permission bits); returns the error message."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            os.close(read_end)
            os.setgid(65534)
            os.setuid(65534)
            try:
                History(target).close()
                message = "opened"
            except HistoryError as exc:
                message = str(exc)
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


@pytest.mark.skipif(os.name == "nt", reason="Windows directories have no write bit to clear")
def test_unwritable_directory(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # pytest's tmp_path is private to root; nobody needs a path it can reach.
        d = Path(tempfile.mkdtemp(prefix="parley-ro-"))
        try:
            d.chmod(0o555)
            target = d / "history.db"
            message = _open_as_nobody(target)
            assert not target.exists()
        finally:
            shutil.rmtree(d)
    else:
        d = tmp_path / "locked"
        d.mkdir(mode=0o555)
        target = d / "history.db"
        try:
            History(target)
            message = "opened"
        except HistoryError as exc:
            message = str(exc)
        finally:
            d.chmod(0o755)
        assert not target.exists()
    assert message == (
        f"Parley cannot write its history at {target}: the directory {d} is not writable"
    )


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "history.db"
    content = b"these are my holiday photos, not a database\n" * 200
    junk.write_bytes(content)
    with History(junk) as h:  # set aside, not refused: Parley must go on
        assert h.damage is not None
        assert h.damage.startswith(f"The history file {junk} is damaged (file is not a database)")
        assert h.conversations() == []
    (aside,) = tmp_path.glob("history.db.damaged-*[0-9]")
    assert f"set aside as {aside}" in h.damage
    assert aside.read_bytes() == content  # the user's file is kept, byte for byte


def test_newer_schema_is_refused(db: Path) -> None:
    db.parent.mkdir()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(HistoryError, match="newer version of Parley"):
        History(db)


def test_bad_arguments(history: History) -> None:
    c = history.new_conversation()
    with pytest.raises(ValueError, match="role"):
        history.add_turn(c, "narrator", "hi")
    with pytest.raises(ValueError, match="status"):
        history.add_turn(c, "user", "hi", status="maybe")
    with pytest.raises(HistoryError, match="no conversation 999"):
        history.add_turn(999, "user", "hi")
    with pytest.raises(HistoryError, match="no turn 12345"):
        history.update_turn(12345, text="x")
    with pytest.raises(HistoryError, match="no conversation 999"):
        history.export(999, "md")
    with pytest.raises(ValueError, match="format"):
        history.export(c, "pdf")
    assert history.turns(c) == []  # nothing half-written


def _sample(history: History) -> tuple[int, list[int]]:
    c = history.new_conversation()
    ids = [
        history.add_turn(
            c, "user", "set a timer for five minutes", confidence=0.91, timings={"stt_final": 90.0}
        ),
        history.add_turn(
            c,
            "assistant",
            "Timer set for 5 minutes.",
            source="rule",
            intent="timer",
            timings={"first_sample": 250.0},
        ),
        history.add_turn(
            c, "user", "blorp the frobnicator", confidence=0.31, flagged="nothing could handle it"
        ),
        history.add_turn(
            c, "assistant", "Here is a long story about", status="interrupted", source="llm"
        ),
    ]
    return c, ids


def test_export_json(history: History) -> None:
    c, _ = _sample(history)
    data = json.loads(history.export(c, "json"))
    assert set(data) == {"id", "title", "created_at", "turns"}
    assert (data["id"], data["title"]) == (c, "set a timer for five minutes")
    assert data["created_at"] == history.conversation(c).created_at
    turn_keys = {
        "role",
        "text",
        "status",
        "source",
        "flagged",
        "timings",
        "created_at",
        "intent",
        "confidence",
    }
    assert all(set(t) == turn_keys for t in data["turns"])
    assert [(t["role"], t["status"], t["source"]) for t in data["turns"]] == [
        ("user", "done", ""),
        ("assistant", "done", "rule"),
        ("user", "done", ""),
        ("assistant", "interrupted", "llm"),
    ]
    assert data["turns"][0]["timings"] == {"stt_final": 90.0}
    assert data["turns"][0]["confidence"] == 0.91
    assert data["turns"][1]["intent"] == "timer"
    assert data["turns"][2]["flagged"] == "nothing could handle it"
    assert data["turns"][3]["confidence"] is None


def test_export_markdown(history: History) -> None:
    c, _ = _sample(history)
    md = history.export(c, "md")
    lines = md.splitlines()
    assert lines[0] == "# set a timer for five minutes"
    turn_lines = [line for line in lines if line.startswith("**")]
    assert len(turn_lines) == 4
    assert turn_lines[0].startswith("**You**") and "set a timer" in turn_lines[0]
    assert turn_lines[1].startswith("**Parley** (rule, timer)")
    assert turn_lines[3].endswith("Here is a long story about *(interrupted)*")
    assert "*(interrupted)*" not in "\n".join(turn_lines[:3])
    flag = lines.index("> **Flagged:** nothing could handle it")
    assert lines[flag - 1] == turn_lines[2]


def test_flagged_newest_first_across_conversations(history: History) -> None:
    a = history.new_conversation()
    b = history.new_conversation()
    first = history.add_turn(a, "user", "mumble", flagged="low confidence (0.30)")
    history.add_turn(a, "assistant", "fine", source="rule")
    tick()
    second = history.add_turn(b, "user", "gibberish", flagged="no handler")
    third = history.add_turn(a, "assistant", "", status="streaming", source="llm")
    history.update_turn(third, flagged="tool failed")
    flagged = history.flagged()
    assert [t.id for t in flagged] == [third, second, first]
    assert [t.conversation_id for t in flagged] == [a, b, a]
    assert flagged[1].flagged == "no handler"


def test_conversations_newest_first(history: History) -> None:
    assert history.conversations() == []
    assert history.last_conversation() is None
    a = history.new_conversation()
    tick()
    b = history.new_conversation()
    tick()
    c = history.new_conversation()
    assert [x.id for x in history.conversations()] == [c, b, a]
    tick()
    history.add_turn(a, "user", "back to the first one")  # activity moves it to the top
    listed = history.conversations()
    assert [x.id for x in listed] == [a, c, b]
    assert [x.turn_count for x in listed] == [1, 0, 0]
    assert listed[0].updated_at > listed[0].created_at
    assert history.last_conversation() == a
    assert [x.id for x in history.conversations(limit=2)] == [a, c]


def test_concurrent_writers(history: History) -> None:
    """The dialogue manager writes from a worker thread while others read."""
    c = history.new_conversation()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                t = history.add_turn(c, "assistant", "", status="streaming")
                history.update_turn(t, text=f"{n}-{i}", status="done")
                history.turns(c)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = history.turns(c)
    assert sorted(t.text for t in turns) == sorted(f"{n}-{i}" for n in range(4) for i in range(40))
    assert {t.status for t in turns} == {"done"}
