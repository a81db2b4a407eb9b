"""Conversation history in SQLite: every turn is committed as soon as it exists.

A user turn is written when final; a reply is written when it starts (status
``streaming``) and rewritten as it grows, so a crash mid-reply leaves the partial
text on disk, and `History.recover_interrupted` marks it ``interrupted`` at the
next start-up.

Times are stored as ISO 8601 UTC strings with milliseconds, which sort correctly
as text. `timings` maps a stage name to milliseconds (see `events.Latency`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from assistant.dialogue import dbfile

log = logging.getLogger(__name__)


class TurnRole(StrEnum):
    """Who a turn is from (the `role` column stores the value)."""

    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class TurnStatus(StrEnum):
    """Where a turn's writing stands (the `status` column stores the value)."""

    STREAMING = "streaming"
    """Being written: a reply is stored when it starts."""
    DONE = "done"
    INTERRUPTED = "interrupted"
    """Cut off: by barge-in, or by a crash (`recover_interrupted`)."""


ROLES = tuple(r.value for r in TurnRole)
STATUSES = tuple(s.value for s in TurnStatus)
SOURCES = ("", "rule", "llm", "tool", "system")
EXPORT_FORMATS = ("md", "json")
TITLE_CHARS = 60


class HistoryError(Exception):
    """The history cannot be opened, read or written; the message is for people."""


class DamagedDatabase(HistoryError):
    """The file turned out to be damaged mid-session; the store now keeps what
    is written in memory (see `dbfile`). Raised once, by the operation that met it."""


@dataclass(frozen=True)
class Turn:
    id: int
    conversation_id: int
    role: TurnRole
    text: str
    status: TurnStatus
    source: str
    """Who wrote a reply: '', 'rule', 'llm', 'tool' or 'system'."""
    intent: str
    flagged: str | None
    """Why the turn needs review (a "hard case"), or None."""
    confidence: float | None
    """Recogniser confidence 0..1 for a spoken user turn, else None."""
    timings: dict[str, float]
    """Stage name -> ms from the start of the turn."""
    created_at: str
    data: dict[str, Any] = field(default_factory=dict)
    """Details of a tool row (request id, tool, arguments, decision, result)."""


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    created_at: str
    updated_at: str
    """When the last turn was added."""
    turn_count: int


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def make_title(text: str) -> str:
    """A conversation title from its first user turn: one line, about 60 chars."""
    words = " ".join(text.split())
    if len(words) <= TITLE_CHARS:
        return words
    cut = words[:TITLE_CHARS].rsplit(" ", 1)[0] or words[:TITLE_CHARS]
    return cut.rstrip(" ,.;:") + "…"


# --- schema ------------------------------------------------------------------
# Each entry migrates from version i to i + 1; `PRAGMA user_version` records how
# many have run. Append new steps; never edit a released one.
_MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL
                REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
            text TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'done'
                CHECK (status IN ('streaming', 'done', 'interrupted')),
            source TEXT NOT NULL DEFAULT ''
                CHECK (source IN ('', 'rule', 'llm', 'tool', 'system')),
            intent TEXT NOT NULL DEFAULT '',
            flagged TEXT,
            confidence REAL,
            timings TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX turns_by_conversation ON turns (conversation_id, id)",
        # Partial index: the hard-cases list reads only flagged rows.
        "CREATE INDEX turns_flagged ON turns (created_at) WHERE flagged IS NOT NULL",
        """CREATE TABLE notes (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ),
    # 2: tool audit rows (request, decision, result) carry their details as JSON.
    ("ALTER TABLE turns ADD COLUMN data TEXT NOT NULL DEFAULT '{}'",),
]
SCHEMA_VERSION = len(_MIGRATIONS)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    # BEGIN IMMEDIATE takes the write lock even when there is nothing to
    # migrate, so a read-only file or directory is reported at open time
    # rather than at the first turn.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"Parley cannot use its history at {path}: it was written by a newer "
                f"version of Parley (schema {version}, this version knows {SCHEMA_VERSION})."
            )
        for step in range(version, SCHEMA_VERSION):
            for statement in _MIGRATIONS[step]:
                conn.execute(statement)
            log.info("history %s: schema migrated to version %d", path, step + 1)
        # user_version is transactional: a failed migration leaves it unchanged.
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def describe_error(path: Path, exc: BaseException) -> str:
    """Say in words why the database could not be opened or written."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    message = str(exc)
    if "not a database" in message or "malformed" in message:
        return (
            "the file is damaged or not a Parley history database (move it aside "
            "and Parley will start a new one)"
        )
    if "readonly" in message or "unable to open" in message:
        if path.is_dir():
            return "the path is a directory, not a file"
        if not os.access(path.parent, os.W_OK):
            return f"the directory {path.parent} is not writable"
        if path.exists() and not os.access(path, os.W_OK):
            return "the file is read-only"
    return message


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the history database at `path`, migrated to the
    current schema. Shared by `History` and `notes.NoteStore`.

    Raises HistoryError with a readable message on any failure."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HistoryError(
            f"Parley cannot write its history at {path}: {describe_error(path, exc)}"
        ) from exc
    conn: sqlite3.Connection | None = None
    try:
        # isolation_level=None: every statement outside an explicit BEGIN is
        # its own committed transaction. The dialogue manager writes from a
        # worker thread, so the connection is shared across threads (callers
        # serialise access with a lock).
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            log.warning("history %s: journal mode is %s, not wal", path, mode)
        # In WAL mode, synchronous=NORMAL skips the fsync per commit. A commit
        # is complete once its frames are in the WAL file, so a crash or kill -9
        # of this process loses no committed transaction (the OS still holds
        # the data); only a power cut or OS crash can drop the last few
        # commits, and even then the database is not corrupted.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        reason = describe_error(path, exc)
        verb = "read" if "not a Parley history database" in reason else "write"
        raise HistoryError(f"Parley cannot {verb} its history at {path}: {reason}") from exc
    except HistoryError:
        if conn is not None:
            conn.close()
        raise
    return conn


def open_checked(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """`open_database` after setting a damaged file aside (`dbfile.open_checked`):
    (connection, the message saying so or None)."""
    return dbfile.open_checked(Path(path), dbfile.HISTORY, open_database, HistoryError)


def memory_database() -> sqlite3.Connection:
    """A history in memory, where a store carries on once its file is damaged."""
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA foreign_keys = ON")
    _migrate(conn, Path(":memory:"))
    return conn


class History:
    """Conversations and their turns. Thread-safe; every write commits at once."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._conn, self.damage = open_checked(self.path)
        """`damage`: the file was damaged and set aside at open; the message to show."""
        self.in_memory = False
        """True once damage met mid-session moved the history into memory."""
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------

    @contextmanager
    def _locked(self, verb: str = "write") -> Iterator[sqlite3.Connection]:
        """Serialise access and turn sqlite errors into HistoryError."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                if dbfile.is_damage(exc) and not self.in_memory:
                    message = dbfile.mark_damaged(self.path, dbfile.HISTORY, exc)
                    self._conn.close()
                    self._conn, self.in_memory = memory_database(), True
                    raise DamagedDatabase(message) from exc
                raise HistoryError(
                    f"Parley cannot {verb} its history at {self.path}: "
                    f"{describe_error(self.path, exc)}"
                ) from exc

    @staticmethod
    def _transaction(conn: sqlite3.Connection, body: Callable[[], Any]) -> Any:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    # --- conversations -------------------------------------------------------

    def new_conversation(self, title: str = "") -> int:
        now = now_utc()
        with self._locked() as conn:
            cur = conn.execute(
                "INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?)",
                (title, now, now),
            )
            return int(cur.lastrowid or 0)

    def last_conversation(self) -> int | None:
        """The most recently active conversation, or None when there is none."""
        with self._locked("read") as conn:
            row = conn.execute(
                "SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else int(row[0])

    _CONVERSATION_SELECT = """
        SELECT c.id, c.title, c.created_at, c.updated_at,
               (SELECT count(*) FROM turns t WHERE t.conversation_id = c.id)
        FROM conversations c
    """

    def conversations(self, limit: int | None = None) -> list[Conversation]:
        """Conversations, most recently active first."""
        sql = self._CONVERSATION_SELECT + " ORDER BY c.updated_at DESC, c.id DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        with self._locked("read") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [Conversation(*row) for row in rows]

    def conversation(self, conversation_id: int) -> Conversation:
        """One conversation; HistoryError when there is no such id."""
        with self._locked("read") as conn:
            row = conn.execute(
                self._CONVERSATION_SELECT + " WHERE c.id = ?", (conversation_id,)
            ).fetchone()
        if row is None:
            raise HistoryError(f"There is no conversation {conversation_id} in the history.")
        return Conversation(*row)

    # --- turns ---------------------------------------------------------------

    def add_turn(
        self,
        conversation_id: int,
        role: TurnRole | str,
        text: str,
        *,
        status: TurnStatus | str = TurnStatus.DONE,
        source: str = "",
        intent: str = "",
        confidence: float | None = None,
        flagged: str | None = None,
        timings: dict[str, float] | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Append a turn and commit it. A conversation without a title takes
        its title from its first user turn. `flagged=""` means not flagged.
        `data`: JSON details of a tool row."""
        _check(role, ROLES, "role")
        _check(status, STATUSES, "status")
        _check(source, SOURCES, "source")
        now = now_utc()
        timings_json = json.dumps(timings or {})
        data_json = json.dumps(data or {}, ensure_ascii=False, default=str)

        def body() -> int:
            if (
                conn.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
                ).fetchone()
                is None
            ):
                if not self.in_memory:
                    raise HistoryError(
                        f"There is no conversation {conversation_id} in the history."
                    )
                # It was in the damaged file: the caller's conversation goes on here.
                conn.execute(
                    "INSERT INTO conversations (id, created_at, updated_at) VALUES (?, ?, ?)",
                    (conversation_id, now, now),
                )
            cur = conn.execute(
                "INSERT INTO turns (conversation_id, role, text, status, source, intent,"
                " flagged, confidence, timings, created_at, updated_at, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    role,
                    text,
                    status,
                    source,
                    intent,
                    flagged or None,
                    confidence,
                    timings_json,
                    now,
                    now,
                    data_json,
                ),
            )
            title = make_title(text) if role == "user" else ""
            conn.execute(
                "UPDATE conversations SET updated_at = ?,"
                " title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (now, title, conversation_id),
            )
            return int(cur.lastrowid or 0)

        with self._locked() as conn:
            return int(self._transaction(conn, body))

    def update_turn(
        self,
        turn_id: int,
        *,
        text: str | None = None,
        status: TurnStatus | str | None = None,
        source: str | None = None,
        flagged: str | None = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        """Change the given fields of a turn and commit. Called about once per
        clause while a reply streams, so it is one UPDATE statement.

        `text` replaces the stored text; `timings` is merged into the stored
        timings (stages recorded earlier are kept); `flagged=""` clears a flag;
        None leaves a field as it is."""
        sets = ["updated_at = ?"]
        params: list[Any] = [now_utc()]
        if text is not None:
            sets.append("text = ?")
            params.append(text)
        if status is not None:
            _check(status, STATUSES, "status")
            sets.append("status = ?")
            params.append(status)
        if source is not None:
            _check(source, SOURCES, "source")
            sets.append("source = ?")
            params.append(source)
        if flagged is not None:
            sets.append("flagged = ?")
            params.append(flagged or None)
        if timings:
            sets.append("timings = json_patch(timings, ?)")
            params.append(json.dumps(timings))
        params.append(turn_id)
        with self._locked() as conn:
            cur = conn.execute(f"UPDATE turns SET {', '.join(sets)} WHERE id = ?", params)
        if cur.rowcount == 0 and not self.in_memory:  # in memory: it was in the damaged file
            raise HistoryError(f"There is no turn {turn_id} in the history.")

    def retract_turns(self, conversation_id: int, first_turn_id: int) -> int:
        """Delete the turns of a conversation from `first_turn_id` on: a turn
        Parley ended too early is taken back when the user goes on speaking,
        so the history holds the whole request once. A title that came from
        a deleted turn is cleared. Returns the number of rows deleted."""

        def body() -> int:
            cur = conn.execute(
                "DELETE FROM turns WHERE conversation_id = ? AND id >= ?",
                (conversation_id, first_turn_id),
            )
            conn.execute(
                "UPDATE conversations SET title = '' WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM turns WHERE conversation_id = ? AND role = 'user')",
                (conversation_id, conversation_id),
            )
            return int(cur.rowcount)

        with self._locked() as conn:
            return int(self._transaction(conn, body))

    _TURN_SELECT = (
        "SELECT id, conversation_id, role, text, status, source, intent, flagged,"
        " confidence, timings, created_at, data FROM turns"
    )

    def turns(self, conversation_id: int) -> list[Turn]:
        """The turns of one conversation, oldest first ([] for an unknown id)."""
        with self._locked("read") as conn:
            rows = conn.execute(
                self._TURN_SELECT + " WHERE conversation_id = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        return [_turn(row) for row in rows]

    def flagged(self) -> list[Turn]:
        """Flagged turns (the hard cases) of all conversations, newest first."""
        with self._locked("read") as conn:
            rows = conn.execute(
                self._TURN_SELECT + " WHERE flagged IS NOT NULL ORDER BY created_at DESC, id DESC"
            ).fetchall()
        return [_turn(row) for row in rows]

    def recover_interrupted(self) -> int:
        """Mark replies left 'streaming' by a crash as 'interrupted'.

        Call once at start-up, before any new reply streams (Parley runs as a
        single instance, so no other process is writing a reply)."""
        with self._locked() as conn:
            cur = conn.execute(
                "UPDATE turns SET status = 'interrupted', updated_at = ?"
                " WHERE status = 'streaming'",
                (now_utc(),),
            )
        if cur.rowcount:
            log.info("history: %d reply(ies) cut off by a crash marked interrupted", cur.rowcount)
        return cur.rowcount

    # --- export --------------------------------------------------------------

    def export(self, conversation_id: int, fmt: str) -> str:
        """The conversation as Markdown ('md') or a JSON object ('json')."""
        _check(fmt, EXPORT_FORMATS, "export format")
        conversation = self.conversation(conversation_id)
        turns = self.turns(conversation_id)
        if fmt == "json":
            return json.dumps(_export_dict(conversation, turns), ensure_ascii=False, indent=2)
        return _export_markdown(conversation, turns)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}, not {value!r}")


def _turn(row: tuple[Any, ...]) -> Turn:
    turn_id, conversation_id, role, text, status, *rest, timings, created_at, data = row
    return Turn(
        turn_id,
        conversation_id,
        TurnRole(role),  # the table's CHECK admits only these
        text,
        TurnStatus(status),
        *rest,
        timings=json.loads(timings or "{}"),
        created_at=created_at,
        data=json.loads(data or "{}"),
    )


def _export_dict(conversation: Conversation, turns: list[Turn]) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "turns": [
            {
                "role": t.role,
                "text": t.text,
                "status": t.status,
                "source": t.source,
                "flagged": t.flagged,
                "timings": t.timings,
                "created_at": t.created_at,
                "intent": t.intent,
                "confidence": t.confidence,
                **({"data": t.data} if t.data else {}),
            }
            for t in turns
        ],
    }


SPEAKERS = {"user": "You", "assistant": "Parley", "tool": "Tool"}


def local_time(stamp: str) -> str:
    """A stored UTC time as local 'YYYY-MM-DD HH:MM:SS' for people to read."""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return stamp


def _export_markdown(conversation: Conversation, turns: list[Turn]) -> str:
    lines = [
        f"# {conversation.title or 'Untitled conversation'}",
        "",
        f"Conversation {conversation.id}, started {local_time(conversation.created_at)}.",
        "",
    ]
    for t in turns:
        details = [d for d in (t.source, t.intent) if d]
        head = f"**{SPEAKERS[t.role]}**" + (f" ({', '.join(details)})" if details else "")
        line = f"{head}, {local_time(t.created_at)[11:]}: {t.text}"
        if t.status == "interrupted":
            line += " *(interrupted)*"
        elif t.status == "streaming":
            line += " *(still being written)*"
        lines.append(line)
        if t.flagged:
            lines.append(f"> **Flagged:** {t.flagged}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
