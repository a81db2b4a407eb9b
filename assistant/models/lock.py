"""A per-model lock file, so two pulls of one model (two windows, the CLI and the
app) never write the same `.partial`.

An OS lock on an open file (flock / msvcrt.locking), not "create the file if it
does not exist": the OS drops the lock when the process dies, so a crash never
leaves a stale lock that blocks the next pull. flock conflicts between two opens
even inside one process, so two threads are kept apart too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from assistant.models.errors import ModelBusy


class ModelLock:
    def __init__(self, path: Path, model_id: str) -> None:
        self.path = path
        self.model_id = model_id
        self._fd: int | None = None

    def __enter__(self) -> ModelLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError as e:
            os.close(fd)
            raise ModelBusy(
                f"{self.model_id} is already being downloaded by another Parley "
                f"(lock {self.path}). Wait for it to finish, or stop it first."
            ) from e
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            finally:
                os.close(self._fd)
                self._fd = None


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
