"""The user's notes ("take a note ..."), kept in the history database.

The `notes` table is created by the history schema migration, so notes and
conversations share one file, one schema version and one backup.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

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
        with self._lock:
            try:
                cur = self._conn.execute(
                    "INSERT INTO notes (text, created_at) VALUES (?, ?)", (text, now_utc())
                )
            except sqlite3.Error as exc:
                raise self._error("write", exc) from exc
        return int(cur.lastrowid or 0)

    def list(self) -> list[tuple[int, str, str]]:
        """All notes as (id, text, created_at), oldest first."""
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT id, text, created_at FROM notes ORDER BY id"
                ).fetchall()
            except sqlite3.Error as exc:
                raise self._error("read", exc) from exc
        return [(int(i), str(t), str(c)) for i, t, c in rows]

    def delete(self, note_id: int) -> bool:
        """Remove a note; False when there was no such note."""
        with self._lock:
            try:
                cur = self._conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))
            except sqlite3.Error as exc:
                raise self._error("write", exc) from exc
        return cur.rowcount > 0

    def _error(self, verb: str, exc: sqlite3.Error) -> HistoryError:
        """The error to raise for `exc` (called holding the lock). Damage moves
        the notes into memory: this operation fails, the next ones work."""
        if dbfile.is_damage(exc) and not self.in_memory:
            message = dbfile.mark_damaged(self.path, dbfile.HISTORY, exc)
            self._conn.close()
            self._conn, self.in_memory = memory_database(), True
            return DamagedDatabase(message)
        return HistoryError(
            f"Parley cannot {verb} its notes at {self.path}: {describe_error(self.path, exc)}"
        )
