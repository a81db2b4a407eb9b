"""Damaged database files: found, set aside, replaced, never fatal.

Parley keeps two SQLite files in its data folder: the history (conversations
and notes) and the timers. Either can be damaged (a disk error, an OS crash
mid-write, another program writing into it). That must cost what was in the
file, not Parley:

- At open, `damage_reason` runs `PRAGMA quick_check` on a read-only connection
  (a read-only connection never checkpoints a WAL into a damaged file, so the
  bytes set aside are the bytes found). A damaged file is renamed, with its
  -wal/-shm/-journal, to ``<name>.damaged-YYYYmmdd-HHMMSS`` in the same folder
  (never deleted or overwritten) and a new file is started; the store keeps
  the message for the session to show.
- Mid-session, a statement that fails with SQLITE_CORRUPT or SQLITE_NOTADB
  (`is_damage`) is not repaired on the spot: other connections may still have
  the file open (the notes share the history file), and renaming an open
  SQLite file can corrupt the new one (sqlite.org/howtocorrupt.html). The store
  carries on in memory until Parley quits, and a marker beside the file
  (``<name>-damaged``) has the next start set it aside even if quick_check
  would miss the damage.

`parley doctor` lists the set-aside files and markers (`damaged_files`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

ASIDE_INFIX = ".damaged-"
"""A set-aside file is named <name>.damaged-<YYYYmmdd-HHMMSS>[-n]."""
MARKER_SUFFIX = "-damaged"
"""<name>-damaged: damage seen mid-session; the next start sets <name> aside."""
COMPANIONS = ("-wal", "-shm", "-journal")
"""SQLite's side files, which belong to the database and move with it."""

# Extended result codes carry the primary code in their low byte.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

C = TypeVar("C")


@dataclass(frozen=True)
class Kind:
    """How messages name a file and what it held."""

    noun: str
    """'history' or 'timers': "The <noun> file ..."."""
    saved: str
    """What the old file still holds, as a sentence subject."""
    memory: str
    """What is kept in memory after damage mid-session."""


HISTORY = Kind("history", "Conversations and notes saved before", "conversations and notes")
TIMERS = Kind("timers", "Timers set before", "timers")


def is_damage(exc: BaseException) -> bool:
    """True when a sqlite3 error says the file itself is damaged or not a database
    (not busy, locked, read-only or out of space)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def marker_path(path: Path) -> Path:
    return path.with_name(path.name + MARKER_SUFFIX)


def damage_reason(path: Path, timeout: float = 5.0) -> str | None:
    """Why the database at `path` is damaged, in a few words; None when it is
    sound, missing, or cannot be read for another reason (a folder, no
    permission, locked: the ordinary open reports those)."""
    path = Path(path)
    marker = marker_path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        with contextlib.suppress(OSError):  # the file it was about is gone already
            marker.unlink(missing_ok=True)
        return None
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if marker.exists():
        try:
            noted = marker.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            noted = ""
        return noted or "damage was found while Parley was running"
    if st.st_size == 0:
        # SQLite would take an empty file as a new database; but Parley writes
        # a header at once, so an empty file lost what it had.
        return "it is empty (0 bytes)"
    try:
        conn = sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=timeout
        )
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return str(e) if is_damage(e) else None
    if rows == [("ok",)]:
        return None
    # Rows are problems; the first may start with "*** in database main ***".
    problems = [
        line for row in rows for line in str(row[0]).splitlines() if not line.startswith("***")
    ]
    return "SQLite's check found: " + (problems[0] if problems else "problems")


def set_aside(path: Path) -> Path:
    """Rename the damaged database and its side files to a new, unused
    ``.damaged-<time>`` name in the same folder; returns the new path.
    OSError when it cannot be renamed (nothing is lost: it stays where it was)."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}{ASIDE_INFIX}{stamp}")
    n = 1
    # os.rename replaces an existing target on POSIX: pick a name nothing has.
    while any(Path(f"{aside}{s}").exists() for s in ("", *COMPANIONS)):
        n += 1
        aside = path.with_name(f"{path.name}{ASIDE_INFIX}{stamp}-{n}")
    os.rename(path, aside)
    for suffix in COMPANIONS:
        side = Path(f"{path}{suffix}")
        if side.exists():
            # Named <aside>-wal, SQLite opens the set-aside file with its WAL.
            try:
                os.rename(side, Path(f"{aside}{suffix}"))
            except OSError as e:
                log.warning("could not move %s beside %s: %s", side, aside, e)
    with contextlib.suppress(OSError):
        marker_path(path).unlink(missing_ok=True)
    return aside


def _nothing_saved(path: Path, reason: str) -> bool:
    if not reason.startswith("it is empty"):
        return False
    wal = Path(f"{path}-wal")
    return not (wal.exists() and wal.stat().st_size > 0)


def set_aside_message(kind: Kind, path: Path, reason: str, aside: Path) -> str:
    if _nothing_saved(aside, reason):
        after = "It held nothing to recover."
    else:
        after = (
            f"{kind.saved} are in that file (the sqlite3 tool's .recover command "
            "can often get them back)."
        )
    return (
        f"The {kind.noun} file {path} is damaged ({reason}); it was set aside as "
        f"{aside} and Parley started a new one. {after}"
    )


def stuck_message(kind: Kind, path: Path, reason: str, err: OSError) -> str:
    return (
        f"The {kind.noun} file {path} is damaged ({reason}) and Parley could not set it "
        f"aside ({err.strerror or err}). Move it out of {path.parent} and start Parley again."
    )


def in_memory_message(kind: Kind, path: Path, reason: str) -> str:
    return (
        f"The {kind.noun} file {path} is damaged ({reason}). Until Parley quits, "
        f"{kind.memory} are kept in memory only; when it next starts it sets the file "
        f"aside and starts a new one. {kind.saved} stay in that file."
    )


def open_checked(
    path: Path,
    kind: Kind,
    opener: Callable[[Path], C],
    error: Callable[[str], Exception],
) -> tuple[C, str | None]:
    """Open the database at `path` with `opener`, first setting a damaged file
    aside. Returns (connection, message for the user or None).

    `opener` raises an exception whose `__cause__` is the sqlite3 error; damage
    it meets that quick_check missed also sets the file aside (once). `error`
    makes the exception raised when a damaged file cannot be set aside."""
    path = Path(path)
    message: str | None = None
    reason = damage_reason(path)
    if reason is not None:
        message = _replace(path, kind, reason, error)
    try:
        return opener(path), message
    except Exception as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        if message is not None or not is_damage(cause):
            raise
        message = _replace(path, kind, str(cause), error)
    return opener(path), message


def _replace(path: Path, kind: Kind, reason: str, error: Callable[[str], Exception]) -> str:
    try:
        aside = set_aside(path)
    except OSError as e:
        raise error(stuck_message(kind, path, reason, e)) from e
    message = set_aside_message(kind, path, reason, aside)
    log.info("%s", message)  # the caller shows it to the user
    return message


_reported: set[Path] = set()
"""Files whose mid-session damage this process has already told the user of
(the history and the notes share a file, each with its own connection)."""


def was_reported(path: Path) -> bool:
    return Path(path).absolute() in _reported


def mark_damaged(path: Path, kind: Kind, exc: BaseException) -> str:
    """Damage met mid-session: leave the marker for the next start; returns the
    message for the user (the store carries on in memory)."""
    path = Path(path)
    _reported.add(path.absolute())
    reason = str(exc)
    try:
        marker_path(path).write_text(reason + "\n", encoding="utf-8")
    except OSError as e:  # quick_check at the next start will still see most damage
        log.warning("could not write %s: %s", marker_path(path), e)
    message = in_memory_message(kind, path, reason)
    log.info("%s", message)
    return message


def damaged_files(folder: Path) -> list[Path]:
    """Set-aside files and markers in `folder` (not their -wal/-shm), oldest first."""
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return []
    found = [
        p
        for p in entries
        if p.is_file()
        and (
            (ASIDE_INFIX in p.name and not p.name.endswith(COMPANIONS))
            or p.name.endswith(MARKER_SUFFIX)
        )
    ]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))
