"""`parley bench startup`'s plumbing with a stand-in child process: the line
that says it is ready is found, its memory is read, the child is ended, and
a child that never gets ready is reported with its last words. No timings are
asserted (speed lives in the bench itself)."""

from __future__ import annotations

import os
import sys

import psutil

from assistant.bench.startup import Run, StartupReport, measure, resident_mb

CHILD = (
    "import sys, time\n"
    "print('loading', file=sys.stderr, flush=True)\n"
    "blob = bytearray(40 * 2**20)\n"  # 40 MB it holds at rest
    "print('INFO ui.shell: window shown', file=sys.stderr, flush=True)\n"
    "time.sleep(60)\n"
)


def test_measure_finds_the_line_reads_memory_and_ends_the_child() -> None:
    run, why = measure(
        [sys.executable, "-c", CHILD], dict(os.environ), "window shown", "app",
        timeout_s=60, settle_s=0.2,
    )
    assert why == ""
    assert run.seconds > 0
    assert run.memory_mb["app"] >= 40  # the bytearray is resident
    assert 40 <= run.private_mb["app"] <= run.memory_mb["app"]  # and its own
    assert not [p for p in psutil.Process().children() if p.cmdline()[-1:] == [CHILD]]


def test_a_child_that_never_gets_ready_is_reported() -> None:
    code = "import sys; print('parley: no microphone', file=sys.stderr); sys.exit(1)"
    run, why = measure(
        [sys.executable, "-c", code], dict(os.environ), "Listening.", "listen",
        timeout_s=60, settle_s=0.2,
    )
    assert run.seconds == -1 and run.memory_mb == {}
    assert "no microphone" in why


def test_memory_of_a_process_tree_by_role() -> None:
    mine = resident_mb(os.getpid(), "me")
    assert set(mine) >= {"me"} and mine["me"] > 0


def test_report_medians_skip_failed_runs() -> None:
    report = StartupReport(
        [Run(0.5, {"app": 100.0}), Run(0.3, {"app": 120.0}), Run(-1)],
        [Run(1.0, {"listen": 50.0, "speech worker": 10.0})],
    )
    d = report.to_dict()
    assert d["window_s"] == 0.4 and d["ready_to_listen_s"] == 1.0
    assert d["memory_mb"] == {
        "app": {"app": 110.0}, "listen": {"listen": 50.0, "speech worker": 10.0}
    }
    assert "window shown" in report.table() and "goal <= 0.8 s" in report.table()
