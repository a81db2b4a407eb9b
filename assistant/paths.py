"""Where Parley keeps its files: config, data (history, models), logs, control socket.

The OS-correct locations come from platformdirs. Setting the environment variable
`PARLEY_HOME` puts everything in that one folder instead (portable installs, tests,
a read-only home). It is read on every call, never cached, so a test or a launcher
can change it at any time.

Nothing here creates a file or folder except `ensure_dir`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "parley"
HOME_ENV = "PARLEY_HOME"

# AF_UNIX paths must fit sun_path: 108 bytes on Linux, 104 on macOS (both with the NUL).
_MAX_SOCKET_PATH = 103


class PathError(OSError):
    """A folder Parley needs cannot be created or written; the message says what to do."""

    def __init__(self, path: Path, reason: str, errno: int | None = None) -> None:
        super().__init__(
            f"Parley cannot write to {path}: {reason}. Set {HOME_ENV} to a writable folder."
        )
        self.path = path
        self.reason = reason
        self.errno = errno


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


def runtime_socket() -> Path:
    """Path of the local control socket (`parley toggle` talks to a running Parley).

    Under PARLEY_HOME when set, else in the per-user runtime folder. A path too long
    for AF_UNIX (deep PARLEY_HOME, e.g. pytest's tmp_path) is swapped for a short one
    named by a hash of the long one, so two homes never share a socket.
    """
    home = home_override()
    folder = home if home else platformdirs.user_runtime_path(APP_NAME, appauthor=False)
    path = folder / f"{APP_NAME}.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{APP_NAME}-{digest}.sock"


def ensure_dir(path: Path) -> Path:
    """Create `path` (with parents) if needed and check a file can be written in it.

    The check writes a real temporary file rather than asking `os.access`: that is
    the only answer that is right for root, ACLs, read-only mounts and Windows.
    Raises PathError with a message fit to show the user.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".parley-write-check-"):
            pass
    except OSError as exc:
        raise PathError(path, exc.strerror or str(exc), exc.errno) from exc
    return path
