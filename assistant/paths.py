"""Where Parley keeps its files: config, data (history, models), logs, control socket.

The OS-correct locations come from platformdirs. Setting the environment variable
`PARLEY_HOME` puts everything in that one folder instead (portable installs, tests,
a read-only home). It is read on every call, never cached, so a test or a launcher
can change it at any time.

Everything Parley keeps is private to the user who runs it (history and notes are
personal): the entry points call `private_umask()` before anything is written, so
new files are 0600 and new folders 0700, and `tighten_existing()` brings an install
made before that (0755/0644) into line.

Nothing here creates a file or folder except `ensure_dir` and `ensure_private_dir`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import sys
import tempfile
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "parley"
HOME_ENV = "PARLEY_HOME"

# AF_UNIX paths must fit sun_path: 108 bytes on Linux, 104 on macOS (both with the NUL).
_MAX_SOCKET_PATH = 103

# Base of the per-user fallback folder `parley-<uid>` for the control socket. A fixed
# place, not tempfile.gettempdir(): the client must find the server's socket even
# when the two were started with different TMPDIRs.
_SHARED_TMP = "/tmp"

# tighten_existing walks models/ (a Vosk model is a few dozen files); past this many
# entries it stops, so a huge or looping tree cannot slow start-up down.
_MAX_WALK = 5000


class PathError(OSError):
    """A folder Parley needs cannot be created or written; the message says what to do."""

    def __init__(self, path: Path, reason: str, errno: int | None = None) -> None:
        super().__init__(
            f"Parley cannot write to {path}: {reason}. Set {HOME_ENV} to a writable folder."
        )
        self.path = path
        self.reason = reason
        self.errno = errno


class UnsafePath(PermissionError):
    """A folder or socket Parley would use belongs to another user, is a symlink or is
    open to others: Parley refuses to use it (and never deletes it)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path} {reason}; not using it.")
        self.path = Path(path)
        self.reason = reason


def home_override() -> Path | None:
    """The folder named by PARLEY_HOME, made absolute; None when unset or empty."""
    value = os.environ.get(HOME_ENV, "")
    return Path(value).expanduser().absolute() if value else None


def config_dir() -> Path:
    home = home_override()
    return home if home else platformdirs.user_config_path(APP_NAME, appauthor=False)


def config_file() -> Path:
    return config_dir() / "config.toml"


def data_dir() -> Path:
    home = home_override()
    return home if home else platformdirs.user_data_path(APP_NAME, appauthor=False)


def models_dir() -> Path:
    return data_dir() / "models"


def logs_dir() -> Path:
    home = home_override()
    return home / "logs" if home else platformdirs.user_log_path(APP_NAME, appauthor=False)


def history_db() -> Path:
    return data_dir() / "history.sqlite3"


def _uid() -> int:
    return os.geteuid() if hasattr(os, "geteuid") else 0


def shared_runtime_dir() -> Path:
    """`/tmp/parley-<uid>`: the per-user fallback for the control socket when there
    is no private runtime folder. It sits in a shared folder, so it is used only
    when it is exactly 0700, ours and not a symlink (`ensure_private_dir(strict)`)."""
    base = Path(_SHARED_TMP) if Path(_SHARED_TMP).is_dir() else Path(tempfile.gettempdir())
    return base / f"{APP_NAME}-{_uid()}"


def _is_private_dir(path: Path) -> bool:
    """A real folder (not a symlink) of ours that nobody else can enter."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == _uid() and st.st_mode & 0o077 == 0


def runtime_dir() -> Path:
    """The folder of the control socket: `run/` under PARLEY_HOME; else the user's
    runtime folder ($XDG_RUNTIME_DIR, /run/user/<uid>) when it is private;
    else `shared_runtime_dir()`. Looked up, never created."""
    home = home_override()
    if home:
        return home / "run"
    if sys.platform == "win32":  # the control channel is a named pipe there
        return platformdirs.user_runtime_path(APP_NAME, appauthor=False)
    candidates = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(Path(os.environ["XDG_RUNTIME_DIR"]))
    if sys.platform == "darwin":  # ~/Library/Caches/TemporaryItems
        candidates.append(platformdirs.user_runtime_path(APP_NAME, appauthor=False).parent)
    else:
        # Not platformdirs here: without XDG_RUNTIME_DIR it falls back to a
        # /tmp/runtime-<uid> it has not checked.
        candidates.append(Path(f"/run/user/{_uid()}"))
    for base in candidates:
        if _is_private_dir(base):
            return base / APP_NAME
    return shared_runtime_dir()


def runtime_socket() -> Path:
    """Path of the local control socket (`parley toggle` talks to a running Parley).

    In `runtime_dir()`. A path too long for AF_UNIX (deep PARLEY_HOME, e.g. pytest's
    tmp_path) is swapped for one in `shared_runtime_dir()` named by a hash of the long
    one, so two homes never share a socket and the name is never directly in /tmp.
    """
    path = runtime_dir() / f"{APP_NAME}.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return shared_runtime_dir() / f"{digest}.sock"


def private_umask() -> None:
    """Make every file and folder this process creates from now on 0600 / 0700
    (history, notes, timers, logs, config, downloaded models, exports). Called first
    thing by each entry point; the umask is process-wide."""
    if os.name == "posix":
        os.umask(0o077)


def _parleys_roots() -> list[Path]:
    roots = [data_dir(), config_dir(), logs_dir()]
    return list(dict.fromkeys(roots))


def _is_parleys(path: Path) -> bool:
    """Inside one of Parley's own folders (tightening anything else, say a config
    saved to the home folder, would be a surprise)."""
    path = Path(path).absolute()
    return any(path == r or path.is_relative_to(r) for r in _parleys_roots())


def _tighten(path: Path | str, st: os.stat_result, uid: int) -> bool:
    """Take the group and other bits off one file or folder of ours. Never through a
    symlink: it is opened with O_NOFOLLOW and must still be what lstat saw."""
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return False  # symlinks, sockets, fifos
    if st.st_uid != uid or st.st_mode & 0o077 == 0:
        return False
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return False  # swapped since the lstat
        os.fchmod(fd, stat.S_IMODE(now.st_mode) & 0o700)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def ensure_dir(path: Path) -> Path:
    """Create `path` (with parents) if needed and check a file can be written in it.

    A new folder is 0700, and one of Parley's own folders that is looser is tightened
    (history and notes are personal). The check writes a real temporary file rather
    than asking `os.access`: that is the only answer that is right for root, ACLs,
    read-only mounts and Windows. Raises PathError with a message fit to show the user.
    """
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and _is_parleys(path):
            _tighten(path, os.lstat(path), _uid())
        with tempfile.TemporaryFile(dir=path, prefix=".parley-write-check-"):
            pass
    except OSError as exc:
        raise PathError(path, exc.strerror or str(exc), exc.errno) from exc
    return path


def ensure_private_dir(path: Path, *, strict: bool = False) -> Path:
    """Create `path` 0700, or check the existing one: a real folder (not a symlink),
    owned by us, 0700. One of ours that is looser is tightened, unless `strict`
    (a folder in a shared place like /tmp: someone may have used it while it was
    open), when it is refused. Raises UnsafePath or PathError."""
    path = Path(path)
    if os.name != "posix":
        return ensure_dir(path)
    if not strict:
        ensure_dir(path.parent)
    try:
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # mkdir's mode is cut by the umask; say it exactly
    except FileExistsError:
        pass
    except OSError as exc:
        raise PathError(path, exc.strerror or str(exc), exc.errno) from exc
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePath(path, "is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(path, "is not a folder")
    if st.st_uid != _uid():
        raise UnsafePath(path, f"is owned by another user (uid {st.st_uid})")
    if stat.S_IMODE(st.st_mode) != 0o700:
        if strict:
            raise UnsafePath(
                path, f"has mode {stat.S_IMODE(st.st_mode):o}, not 700 (remove it to start over)"
            )
        os.chmod(path, 0o700)
    return path


def tighten_existing() -> int:
    """Make an existing install private: Parley's folders 0700; the files directly
    in them (history.sqlite3 and its -wal/-shm, timers.sqlite3, config.toml(.bak),
    parley.log...) and everything under models/ 0600 (group and other bits off).
    Skips symlinks and what another user owns. Returns how many entries changed.
    A handful of chmods, and a bounded walk of models/."""
    if os.name != "posix":
        return 0
    uid = _uid()
    changed = 0
    folders = [*_parleys_roots(), models_dir()]
    run = runtime_dir()
    if run != shared_runtime_dir():  # that one is checked, never changed
        folders.append(run)
    for folder in dict.fromkeys(folders):
        try:
            st = os.lstat(folder)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        changed += _tighten(folder, st, uid)
        if st.st_uid != uid:
            continue
        if folder == models_dir():
            changed += _tighten_tree(folder, uid)
            continue
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                changed += _tighten(entry.path, entry.stat(follow_symlinks=False), uid)
            except OSError:
                continue
    if changed:
        log.info("made %d of Parley's files and folders private to this user", changed)
    return changed


def _tighten_tree(root: Path, uid: int) -> int:
    changed = 0
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow symlinks
        for name in dirnames + filenames:
            seen += 1
            if seen > _MAX_WALK:
                return changed
            p = os.path.join(dirpath, name)
            try:
                changed += _tighten(p, os.lstat(p), uid)
            except OSError:
                continue
    return changed
