"""The control channel on Windows: a named pipe that only this user can open.

`control.py` speaks the protocol (one JSON line each way); this module only
moves the bytes. It uses pywin32 (win32pipe, win32file, win32security), the
well-kept wrapper of the Win32 calls, rather than hand-written ctypes.

Who may talk to it:
- the pipe is created with a protected DACL that grants access to the
  current user's SID alone (`user_only_sddl`): other users, even
  administrators by default, cannot open it;
- the first instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so a pipe
  of that name made earlier by someone else makes `start` fail instead of
  Parley serving beside it;
- remote clients are rejected (PIPE_REJECT_REMOTE_CLIENTS);
- the client opens the pipe at the identification impersonation level (a
  squatting server cannot act as the client) and checks that the process
  serving it runs as the same user before sending anything.

This module is imported on Windows only; `user_only_sddl` and `split_line`
are plain functions, tested everywhere.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

PIPE_REJECT_REMOTE_CLIENTS = 0x00000008
FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000
SECURITY_SQOS_PRESENT = 0x00100000
SECURITY_IDENTIFICATION = 0x00010000
ERROR_ACCESS_DENIED = 5
ERROR_PIPE_BUSY = 231
ERROR_PIPE_CONNECTED = 535
BUFFER = 4096
POLL_S = 0.01


class PipeRefused(PermissionError):
    """The pipe exists but is not ours to serve or to talk to (the message is
    the reason, without the pipe's name)."""


def user_only_sddl(sid: str) -> str:
    """A security descriptor (SDDL) whose protected DACL lets `sid` alone in:
    no inherited entries, no Everyone/Administrators read access."""
    if not sid.startswith("S-1-") or any(c in sid for c in "();"):
        raise ValueError(f"not a SID string: {sid!r}")
    return f"D:P(A;;GA;;;{sid})"


def split_line(buf: bytes, limit: int) -> tuple[bytes | None, bool]:
    """(the first line without its newline, or None while incomplete; whether
    `buf` is already over `limit` bytes without one)."""
    end = buf.find(b"\n")
    if end >= 0 and end < limit:
        return buf[:end], False
    return None, len(buf) >= limit


# -- the user ---------------------------------------------------------------------------


def _token_sid(process: Any) -> Any:
    import win32security

    token = win32security.OpenProcessToken(process, win32security.TOKEN_QUERY)
    try:
        return win32security.GetTokenInformation(token, win32security.TokenUser)[0]
    finally:
        token.Close()


def _my_sid() -> Any:
    import win32api

    return _token_sid(win32api.GetCurrentProcess())


def _process_sid(pid: int) -> Any:
    import win32api
    import win32con

    process = win32api.OpenProcess(win32con.PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    try:
        return _token_sid(process)
    finally:
        process.Close()


# -- server -----------------------------------------------------------------------------


class PipeServer:
    """Serves `answer(line) -> bytes` (the reply line, newline included; the
    line is None when the client sent `limit` bytes without a newline), a
    thread per connection."""

    def __init__(
        self, address: str, answer: Callable[[bytes | None], bytes], limit: int
    ) -> None:
        self.address = address
        self._answer = answer
        self._limit = limit
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._security: Any = None

    def start(self) -> None:
        """Raises PipeRefused when a pipe of this name already exists (someone
        else's, or a Parley that did not answer)."""
        import win32security

        sid = win32security.ConvertSidToStringSid(_my_sid())
        attributes = win32security.SECURITY_ATTRIBUTES()
        attributes.SECURITY_DESCRIPTOR = (
            win32security.ConvertStringSecurityDescriptorToSecurityDescriptor(
                user_only_sddl(sid), win32security.SDDL_REVISION_1
            )
        )
        attributes.bInheritHandle = False
        self._security = attributes
        first = self._instance(first=True)
        self._thread = threading.Thread(
            target=self._serve, args=(first,), name="control", daemon=True
        )
        self._thread.start()

    def _instance(self, *, first: bool) -> Any:
        import pywintypes
        import win32pipe

        open_mode = win32pipe.PIPE_ACCESS_DUPLEX
        if first:
            open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE
        pipe_mode = (
            win32pipe.PIPE_TYPE_BYTE
            | win32pipe.PIPE_READMODE_BYTE
            | win32pipe.PIPE_WAIT
            | PIPE_REJECT_REMOTE_CLIENTS
        )
        try:
            return win32pipe.CreateNamedPipe(
                self.address, open_mode, pipe_mode, win32pipe.PIPE_UNLIMITED_INSTANCES,
                BUFFER, BUFFER, 0, self._security,
            )  # fmt: skip
        except pywintypes.error as e:
            if e.winerror == ERROR_ACCESS_DENIED:
                raise PipeRefused("already exists and is not this user's Parley") from e
            raise

    def _serve(self, handle: Any) -> None:
        import pywintypes
        import win32pipe

        while not self._closing.is_set():
            try:
                win32pipe.ConnectNamedPipe(handle, None)
            except pywintypes.error as e:
                if e.winerror != ERROR_PIPE_CONNECTED:  # connected before we waited: fine
                    handle.Close()
                    if self._closing.is_set():
                        return
                    log.warning("control pipe: %s", e.strerror)
                    time.sleep(0.1)
                    handle = self._instance(first=False)
                    continue
            if self._closing.is_set():
                handle.Close()
                return
            threading.Thread(
                target=self._talk, args=(handle,), name="control-conn", daemon=True
            ).start()
            handle = self._instance(first=False)  # the next client's
        handle.Close()

    def _talk(self, handle: Any) -> None:
        import pywintypes
        import win32file
        import win32pipe

        try:
            buf = b""
            while True:
                line, too_long = split_line(buf, self._limit)
                if line is not None or too_long:
                    break
                _hr, chunk = win32file.ReadFile(handle, BUFFER)
                if not chunk:
                    return
                buf += chunk
            reply = self._answer(None if too_long else line)
            win32file.WriteFile(handle, reply)
            win32file.FlushFileBuffers(handle)
        except pywintypes.error:
            log.debug("control: pipe connection dropped", exc_info=True)
        finally:
            with contextlib.suppress(pywintypes.error):
                win32pipe.DisconnectNamedPipe(handle)
            handle.Close()

    def close(self) -> None:
        """Stop serving: a connection of our own wakes the waiting thread."""
        self._closing.set()
        with contextlib.suppress(Exception):
            _open(self.address, 0.5).Close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


# -- client -----------------------------------------------------------------------------


def _open(address: str, timeout: float) -> Any:
    """A client handle, waiting up to `timeout` while every instance is busy.
    Raises FileNotFoundError when no pipe of that name exists."""
    import pywintypes
    import win32file
    import win32pipe

    deadline = time.monotonic() + timeout
    while True:
        try:
            return win32file.CreateFile(
                address,
                win32file.GENERIC_READ | win32file.GENERIC_WRITE,
                0, None, win32file.OPEN_EXISTING,
                SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, None,
            )  # fmt: skip
        except pywintypes.error as e:
            if e.winerror == ERROR_PIPE_BUSY and time.monotonic() < deadline:
                wait_ms = max(1, int((deadline - time.monotonic()) * 1000))
                with contextlib.suppress(pywintypes.error):
                    win32pipe.WaitNamedPipe(address, wait_ms)
                continue
            if e.winerror == ERROR_ACCESS_DENIED:
                raise PipeRefused("belongs to another user") from e
            raise FileNotFoundError(address) from e


def request(address: str, line: bytes, limit: int, timeout: float) -> bytes | None:
    """Send one line, return the answer line (None when the server closed
    without one). Raises FileNotFoundError (nobody serves), PipeRefused (the
    server runs as another user), TimeoutError."""
    import pywintypes
    import win32file
    import win32pipe

    handle = _open(address, timeout)
    try:
        server = win32pipe.GetNamedPipeServerProcessId(handle)
        if _process_sid(server) != _my_sid():
            raise PipeRefused(f"is served by another user's process (pid {server})")
        win32file.WriteFile(handle, line)
        deadline = time.monotonic() + timeout
        buf = b""
        while True:
            answer, too_long = split_line(buf, limit)
            if answer is not None:
                return answer
            if too_long:
                return None
            try:
                _data, available, _left = win32pipe.PeekNamedPipe(handle, 0)
            except pywintypes.error:  # the server closed the pipe
                return None
            if not available:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{address} did not answer within {timeout} s")
                time.sleep(POLL_S)
                continue
            _hr, chunk = win32file.ReadFile(handle, min(available, limit))
            buf += chunk
    finally:
        handle.Close()
