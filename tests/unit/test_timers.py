"""Persistent timers: the SQLite store and the scheduler thread, for real."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from assistant.dialogue.history import HistoryError
from assistant.dialogue.timers import MAX_SLEEP_S, Timer, TimerScheduler, TimerStore


class Heard(list):
    """Collects announcements; `wait(n)` blocks until n have arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.cond = threading.Condition()

    def __call__(self, timer: Timer, missed: bool) -> None:
        with self.cond:
            self.append((timer, missed))
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self) >= n, timeout)


def test_store_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "timers.sqlite3"
    store = TimerStore(path)
    a = store.add(time.time() + 60, label="tea", duration_s=60)
    b = store.add(time.time() + 30, kind="alarm")
    store.close()
    again = TimerStore(path)
    assert [t.id for t in again.pending()] == [b.id, a.id]  # soonest first
    assert again.get(a.id) == a
    assert again.finish(a.id, "cancelled") is True
    assert again.finish(a.id, "fired") is False  # only a pending timer changes state
    assert [t.id for t in again.pending()] == [b.id]
    again.close()


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HistoryError, match="cannot keep its timers"):
        TimerStore(blocker / "timers.sqlite3")


def test_fires_on_time_and_only_once(tmp_path: Path) -> None:
    heard = Heard()
    scheduler = TimerScheduler(TimerStore(tmp_path / "t.sqlite3"), heard)
    scheduler.start()
    try:
        # Added while the thread sleeps (it sleeps MAX_SLEEP_S with nothing due):
        # the add must wake it, or nothing is heard within wait()'s 10 s.
        time.sleep(0.1)
        timer = scheduler.add(time.time() + 0.3, label="egg", duration_s=1)
        assert heard.wait(1)
        assert heard == [(timer, False)]
        assert scheduler.store.get(timer.id).state == "fired"  # type: ignore[union-attr]
        time.sleep(0.3)
        assert len(heard) == 1
    finally:
        scheduler.close()


def test_cancelled_timer_never_fires(tmp_path: Path) -> None:
    heard = Heard()
    scheduler = TimerScheduler(TimerStore(tmp_path / "t.sqlite3"), heard)
    scheduler.start()
    try:
        doomed = scheduler.add(time.time() + 0.3)
        kept = scheduler.add(time.time() + 0.6)
        assert scheduler.cancel(doomed.id) is True
        assert heard.wait(1)
        assert [t.id for t, _ in heard] == [kept.id]
    finally:
        scheduler.close()


def test_timer_due_while_closed_is_announced_as_missed(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    store = TimerStore(path)
    overdue = store.add(time.time() - 120, label="pasta", duration_s=300)
    future = store.add(time.time() + 3600)
    store.close()

    heard = Heard()
    scheduler = TimerScheduler(TimerStore(path), heard)  # "Parley starts again"
    scheduler.start()
    try:
        assert heard.wait(1)
        assert [(t.id, missed) for t, missed in heard] == [(overdue.id, True)]
        assert scheduler.store.get(overdue.id).state == "missed"  # type: ignore[union-attr]
        assert [t.id for t in scheduler.store.pending()] == [future.id]
    finally:
        scheduler.close()


def test_two_schedulers_on_one_file_announce_once(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    heard = Heard()
    first = TimerScheduler(TimerStore(path), heard)
    second = TimerScheduler(TimerStore(path), heard)
    first.start()
    second.start()
    try:
        first.add(time.time() + 0.2)
        second.changed()
        assert heard.wait(1)
        time.sleep(0.5)
        second.fire_due()
        assert len(heard) == 1
    finally:
        first.close()
        second.close()


def test_a_failing_listener_does_not_stop_later_timers(tmp_path: Path) -> None:
    heard = Heard()
    calls = []

    def flaky(timer: Timer, missed: bool) -> None:
        calls.append(timer.id)
        if len(calls) == 1:
            raise RuntimeError("UI gone")
        heard(timer, missed)

    scheduler = TimerScheduler(TimerStore(tmp_path / "t.sqlite3"), flaky)
    scheduler.start()
    try:
        scheduler.add(time.time() + 0.1)
        scheduler.add(time.time() + 0.3)
        assert heard.wait(1)
        assert len(calls) == 2
    finally:
        scheduler.close()


def test_fire_due_with_a_fake_clock(tmp_path: Path) -> None:
    now = [1000.0]
    heard = Heard()
    scheduler = TimerScheduler(TimerStore(tmp_path / "t.sqlite3", clock=lambda: now[0]), heard)
    scheduler.add(1010.0)
    scheduler.add(1050.0)
    assert scheduler.fire_due() == pytest.approx(10.0)
    now[0] = 1010.0
    assert scheduler.fire_due() == MAX_SLEEP_S  # 40 s away: re-read the clock sooner
    assert len(heard) == 1
    now[0] = 2000.0
    assert scheduler.fire_due() == MAX_SLEEP_S
    assert len(heard) == 2
