"""Timers and alarms that survive a restart: stored in SQLite, fired by one
scheduler thread.

A timer is a row with a due time in wall-clock seconds (UTC epoch): wall clock,
not monotonic, because it must mean the same after Parley restarts. The
scheduler sleeps until the next due time (at most `MAX_SLEEP_S`, so a changed
system clock is noticed) or until a timer is added or cancelled.

States: pending -> fired (announced on time) | missed (due while Parley was
closed; announced at the next start) | cancelled. A state change is one
`UPDATE ... WHERE state = 'pending'`, so each timer is announced once even if
two Parley processes share the file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from assistant.dialogue import dbfile
from assistant.dialogue.history import HistoryError, describe_error

log = logging.getLogger(__name__)

MAX_SLEEP_S = 30.0
"""The scheduler re-reads the clock at least this often."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('timer', 'alarm')),
    label TEXT NOT NULL DEFAULT '',
    duration_s INTEGER NOT NULL DEFAULT 0,
    due_at REAL NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'fired', 'missed', 'cancelled')),
    done_at REAL
)
"""


class TimerKind(StrEnum):
    TIMER = "timer"
    """A duration."""
    ALARM = "alarm"
    """A clock time."""


class TimerState(StrEnum):
    """See the module docstring. The `state` column stores the value."""

    PENDING = "pending"
    FIRED = "fired"
    MISSED = "missed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Timer:
    id: int
    kind: TimerKind
    label: str
    duration_s: int
    """Seconds from creation to due (timers); 0 for alarms."""
    due_at: float
    """Wall-clock due time, seconds since the epoch."""
    created_at: float
    state: TimerState

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Timer:
        timer_id, kind, label, duration_s, due_at, created_at, state = row
        # The table's CHECKs admit only these values.
        return cls(timer_id, TimerKind(kind), label, duration_s, due_at, created_at,
                   TimerState(state))  # fmt: skip


class TimerStore:
    """Timer rows. Thread-safe; every write commits at once.

    A damaged file is set aside at open (`damage` says so). Damage met later
    moves the timers into memory for the rest of the run: the statement is run
    again there, so setting a timer still works, and `on_damage` (or the log)
    gets the message once."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path != ":memory:" else Path(":memory:")
        self.clock = clock
        self._lock = threading.Lock()
        self.damage: str | None = None
        """The file was damaged and set aside at open: the message to show."""
        self.on_damage: Callable[[str], None] | None = None
        """Told (once, on the thread that met it) when damage is met mid-session."""
        self.in_memory = str(path) == ":memory:"
        if self.in_memory:
            self._conn = self._connect(":memory:")
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HistoryError(
                f"Parley cannot keep its timers at {path}: {describe_error(self.path, e)}"
            ) from e
        self._conn, self.damage = dbfile.open_checked(
            self.path, dbfile.TIMERS, self._open_file, HistoryError
        )

    def _open_file(self, path: Path) -> sqlite3.Connection:
        try:
            return self._connect(str(path))
        except sqlite3.Error as e:
            raise HistoryError(
                f"Parley cannot keep its timers at {path}: {describe_error(path, e)}"
            ) from e

    @staticmethod
    def _connect(target: str) -> sqlite3.Connection:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=5.0)
        try:
            if target != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(_SCHEMA)
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _run(self, sql: str, params: tuple = ()) -> tuple[sqlite3.Cursor, list[Any]]:
        """Run one statement: (cursor, its rows)."""
        with self._lock:
            try:
                cur = self._conn.execute(sql, params)
                return cur, cur.fetchall()  # rows are read here, where errors are caught
            except sqlite3.Error as e:
                if self.in_memory or not dbfile.is_damage(e):
                    raise HistoryError(
                        f"Parley cannot use its timers at {self.path}: "
                        f"{describe_error(self.path, e)}"
                    ) from e
                message = dbfile.mark_damaged(self.path, dbfile.TIMERS, e)
                self._conn.close()
                self._conn, self.in_memory = self._connect(":memory:"), True
                cur = self._conn.execute(sql, params)  # this statement, in memory
                rows = cur.fetchall()
        self._report(message)
        return cur, rows

    def _report(self, message: str) -> None:
        if self.on_damage is None:
            log.warning("%s", message)
            return
        try:
            self.on_damage(message)
        except Exception:  # a broken listener must not fail the timer
            log.exception("timers: on_damage failed")

    def add(
        self, due_at: float, *, kind: TimerKind | str = TimerKind.TIMER, label: str = "",
        duration_s: int = 0,
    ) -> Timer:
        now = self.clock()
        cur, _ = self._run(
            "INSERT INTO timers (kind, label, duration_s, due_at, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, label, duration_s, due_at, now),
        )
        return Timer(int(cur.lastrowid or 0), TimerKind(kind), label, duration_s, due_at, now,
                     TimerState.PENDING)  # fmt: skip

    _SELECT = "SELECT id, kind, label, duration_s, due_at, created_at, state FROM timers"

    def pending(self) -> list[Timer]:
        """Timers still to fire, soonest first."""
        _, rows = self._run(self._SELECT + " WHERE state = 'pending' ORDER BY due_at, id")
        return [Timer.from_row(r) for r in rows]

    def get(self, timer_id: int) -> Timer | None:
        _, rows = self._run(self._SELECT + " WHERE id = ?", (timer_id,))
        return Timer.from_row(rows[0]) if rows else None

    def finish(self, timer_id: int, state: TimerState) -> bool:
        """Move a pending timer to `state`; False when it was not pending (already
        fired, cancelled, or taken by another process)."""
        cur, _ = self._run(
            "UPDATE timers SET state = ?, done_at = ? WHERE id = ? AND state = 'pending'",
            (state, self.clock(), timer_id),
        )
        return cur.rowcount > 0


Announce = Callable[[Timer, bool], None]
"""Called with (timer, missed) when a timer is due; on the scheduler's thread."""


class TimerScheduler:
    """Fires due timers. `start()` first announces the timers that came due
    while Parley was closed (missed=True), then runs the thread."""

    def __init__(self, store: TimerStore, announce: Announce) -> None:
        self.store = store
        self.announce = announce
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changes = 0  # bumped by changed(): a wake-up is never lost

    def start(self) -> None:
        if self._thread is not None:
            return
        now = self.store.clock()
        try:
            for timer in self.store.pending():
                if timer.due_at <= now and self.store.finish(timer.id, TimerState.MISSED):
                    self._announce(timer, True)
        except HistoryError as e:  # the timers are unreadable; the rest of Parley is not
            log.warning("timers: %s", e)
        self._thread = threading.Thread(target=self._loop, name="timers", daemon=True)
        self._thread.start()

    def add(self, due_at: float, **kw: object) -> Timer:
        timer = self.store.add(due_at, **kw)  # type: ignore[arg-type]
        self.changed()
        return timer

    def cancel(self, timer_id: int) -> bool:
        ok = self.store.finish(timer_id, TimerState.CANCELLED)
        self.changed()
        return ok

    def changed(self) -> None:
        with self._wake:
            self._changes += 1
            self._wake.notify_all()

    def close(self) -> None:
        self._stop.set()
        self.changed()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def fire_due(self) -> float:
        """Announce every pending timer that is due; returns seconds until the
        next one (MAX_SLEEP_S when none)."""
        now = self.store.clock()
        wait = MAX_SLEEP_S
        try:
            for timer in self.store.pending():
                if timer.due_at <= now:
                    if self.store.finish(timer.id, TimerState.FIRED):
                        self._announce(timer, False)
                else:
                    wait = min(wait, timer.due_at - now)
                    break
        except HistoryError as e:  # logged; the thread must go on
            log.warning("timers: %s", e)
            return MAX_SLEEP_S
        return max(0.01, wait)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                seen = self._changes
            wait = self.fire_due()
            with self._wake:
                if self._stop.is_set():
                    return
                if self._changes == seen:
                    self._wake.wait(wait)

    def _announce(self, timer: Timer, missed: bool) -> None:
        try:
            self.announce(timer, missed)
        except Exception:  # a broken listener must not stop later timers
            log.exception("timer announcement failed")
