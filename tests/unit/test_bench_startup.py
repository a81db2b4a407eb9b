"""`parley bench startup`'s plumbing with a stand-in child process: the line
that says it is ready is found, its memory is read once ready and after an
exchange, the child is ended, and a child that never gets ready is reported
with its last words. No timings are asserted (speed lives in the bench itself)."""

from __future__ import annotations

import mmap
import os
import sqlite3
import sys
from pathlib import Path

import psutil
import pytest

from assistant.bench.startup import (
    Memory,
    Run,
    StartupReport,
    measure,
    memory_by_role,
    process_memory,
    replies,
    wait_idle,
)

CHILD = (
    "import sys, time\n"
    "print('loading', file=sys.stderr, flush=True)\n"
    "blob = bytearray(40 * 2**20)\n"  # 40 MB it holds at rest
    "print('INFO ui.shell: window shown', file=sys.stderr, flush=True)\n"
    "time.sleep(60)\n"
)

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_measure_finds_the_line_reads_memory_and_ends_the_child() -> None:
    asked = []
    run, why = measure(
        [sys.executable, "-c", CHILD], dict(os.environ), "window shown", "app",
        timeout_s=60, settle_s=0.2, exchange=lambda: asked.append(1) or "",
    )
    assert why == "" and asked == [1]
    assert run.seconds > 0
    ready = run.memory["ready"]["app"]
    assert ready.rss >= 40  # the bytearray is resident
    assert 40 <= ready.uss <= ready.rss  # and its own
    assert "app" in run.memory["exchange"]
    assert not [p for p in psutil.Process().children() if p.cmdline()[-1:] == [CHILD]]


def test_a_failed_exchange_is_reported_and_its_memory_not_read() -> None:
    run, why = measure(
        [sys.executable, "-c", CHILD], dict(os.environ), "window shown", "app",
        timeout_s=60, settle_s=0.1, exchange=lambda: "no reply",
    )
    assert why == "no reply" and run.seconds > 0
    assert set(run.memory) == {"ready"}


def test_a_child_that_never_gets_ready_is_reported() -> None:
    code = "import sys; print('parley: no microphone', file=sys.stderr); sys.exit(1)"
    run, why = measure(
        [sys.executable, "-c", code], dict(os.environ), "Listening.", "listen",
        timeout_s=60, settle_s=0.2,
    )
    assert run.seconds == -1 and run.memory == {}
    assert "no microphone" in why


@linux
def test_anonymous_and_model_file_pages_are_told_apart(tmp_path: Path) -> None:
    model = tmp_path / "weights.gguf"
    model.write_bytes(os.urandom(8 * 2**20))
    before = process_memory(os.getpid())
    with model.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        sum(mapped[i] for i in range(0, len(mapped), 4096))  # touch every page
        mine = process_memory(os.getpid())
    assert mine.models - before.models >= 7.5  # the mapped model, file-backed
    assert mine.file >= mine.models
    assert 0 < mine.anon < mine.rss and mine.pss <= mine.rss


def test_memory_of_a_process_tree_by_role() -> None:
    mine = memory_by_role(os.getpid(), "me")
    assert set(mine) >= {"me"} and mine["me"].rss > 0


def test_an_idle_process_is_at_rest() -> None:
    assert wait_idle(os.getpid(), timeout_s=10, idle_for_s=0.4)


def test_replies_counts_finished_assistant_turns(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    assert replies(db) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE turns (role TEXT, status TEXT)")
        conn.executemany("INSERT INTO turns VALUES (?, ?)", [
            ("user", "done"), ("assistant", "streaming"), ("assistant", "done"),
            ("assistant", "interrupted"),
        ])
    assert replies(db) == 2


def _mem(rss: float) -> Memory:
    return Memory(rss, rss / 2, rss / 4, rss / 4, rss / 2, 0.0)


def test_report_medians_skip_failed_runs() -> None:
    report = StartupReport(
        [Run(0.5, {"ready": {"app": _mem(100.0)}}), Run(0.3, {"ready": {"app": _mem(120.0)}}),
         Run(-1)],
        [Run(1.0, {"ready": {"listen": _mem(50.0), "speech worker": _mem(10.0)},
                   "exchange": {"listen": _mem(60.0), "speech worker": _mem(12.0)}})],
    )
    d = report.to_dict()
    assert d["window_s"] == 0.4 and d["ready_to_listen_s"] == 1.0
    assert d["memory_mb"] == {
        "app": {"app": 110.0}, "listen": {"listen": 50.0, "speech worker": 10.0}
    }
    memory = report.memory()
    assert memory["app"]["ready"]["app"]["pss"] == 55.0
    assert "exchange" not in memory["app"]
    assert memory["listen"]["exchange"]["speech worker"]["rss"] == 12.0
    table = report.table()
    assert "window shown" in table and "goal <= 0.8 s" in table
    assert "after one exchange" in table and "models" in table
