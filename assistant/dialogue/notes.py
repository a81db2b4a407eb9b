"""The user's notes ("take a note ..."), kept in the history database.

The `notes` table is created by the history schema migration, so notes and
conversations share one file, one schema version and one backup.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.dialogue import dbfile
from assistant.dialogue.history import (
    DamagedDatabase,
    History,
    HistoryError,
    describe_error,
    memory_database,
    now_utc,
    open_checked,
    open_database,
)

log = logging.getLogger(__name__)


class NoteStore:
    """Notes, oldest first. Thread-safe; every write commits at once.

    Takes the database path, or an open `History` whose file it shares (with
    its own connection, so it never contends for the history's lock; the
    History has already checked the file for damage, so it is not checked twice)."""

    def __init__(self, db: Path | History) -> None:
        self.path = db.path if isinstance(db, History) else Path(db)
        self.damage: str | None = None
        """The file was damaged and set aside at open: the message to show."""
        if isinstance(db, History):
            self._conn = open_database(self.path)
        else:
            self._conn, self.damage = open_checked(self.path)
        self.in_memory = False
        """True once damage met mid-session moved the notes into memory."""
        self.on_damage: Callable[[str], None] | None = None
        """Told once when damage is met mid-session (the operation then succeeds,
        in memory); without it the operation raises DamagedDatabase."""
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> NoteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add(self, text: str) -> int:
        """Store a note; returns its id."""
        text = text.strip()
        if not text:
            raise ValueError("a note needs some text")
        cur, _ = self._run(
            "write", "INSERT INTO notes (text, created_at) VALUES (?, ?)", (text, now_utc())
        )
        return int(cur.lastrowid or 0)

    def list(self) -> list[tuple[int, str, str]]:
        """All notes as (id, text, created_at), oldest first."""
        _, rows = self._run("read", "SELECT id, text, created_at FROM notes ORDER BY id")
        return [(int(i), str(t), str(c)) for i, t, c in rows]

    def delete(self, note_id: int) -> bool:
        """Remove a note; False when there was no such note."""
        cur, _ = self._run("write", "DELETE FROM notes WHERE id = ?", (note_id,))
        return cur.rowcount > 0

    def _run(
        self, verb: str, sql: str, params: tuple[object, ...] = ()
    ) -> tuple[sqlite3.Cursor, list[Any]]:
        """Run one statement: (cursor, its rows). Damage moves the notes into
        memory and runs the statement again there; `on_damage` is told (without
        a listener the operation raises DamagedDatabase instead)."""
        with self._lock:
            try:
                cur = self._conn.execute(sql, params)
                return cur, cur.fetchall()  # rows are read here, where errors are caught
            except sqlite3.Error as exc:
                if self.in_memory or not dbfile.is_damage(exc):
                    raise HistoryError(
                        f"Parley cannot {verb} its notes at {self.path}: "
                        f"{describe_error(self.path, exc)}"
                    ) from exc
                told = dbfile.was_reported(self.path)
                message = dbfile.mark_damaged(self.path, dbfile.HISTORY, exc)
                self._conn.close()
                self._conn, self.in_memory = memory_database(), True
                if self.on_damage is None:
                    raise DamagedDatabase(message) from exc
                cur = self._conn.execute(sql, params)
                rows = cur.fetchall()
        if not told:  # the history's own connection may have said it already
            try:
                self.on_damage(message)
            except Exception:  # a broken listener must not lose the note
                log.exception("notes: on_damage failed")
        return cur, rows
