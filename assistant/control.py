"""Single instance and remote control over a local socket.

A running Parley listens on `paths.runtime_socket()` (a Unix socket; a named
pipe on Windows). `parley toggle` sends "toggle" there: that is push-to-talk
on Wayland, where apps may not grab global hotkeys, bound to a key in the
desktop's own shortcut settings. A second Parley finds the first one the same
way and hands over instead of starting twice.

The protocol carries data, never code: one JSON object per line (UTF-8,
newline-terminated, at most MAX_LINE bytes), one request per connection.

    request   {"cmd": "toggle"}                 cmd is one of COMMANDS
    answer    {"ok": true, "answer": "listening"}
              {"ok": false, "error": "unknown command 'dance' (known: ...)"}

Who may talk to it (POSIX): the socket is 0600 in a 0700 folder of ours
(`paths.runtime_dir()`), bound under a umask that never lets it be open to
others; on Linux the server also checks the peer's uid (SO_PEERCRED) and the
client the server's, so a socket another user planted is never talked to.
A socket or folder at the address that another user owns is refused, never
used or removed.

Windows: a named pipe whose DACL admits this user alone, created as the first
instance of its name; the client checks that the server runs as the same
user (control_pipe.py).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.paths import UnsafePath

log = logging.getLogger(__name__)

COMMANDS = ("toggle", "start", "stop", "show", "ping")

MAX_LINE = 4096
"""Bytes per message, newline included; a longer one is answered with an error
and the connection closed."""
CONNECTION_TIMEOUT_S = 2.0
"""A client gets this long, in all, to send its line: a silent or dribbling
client cannot hold a thread."""
MAX_CONNECTIONS = 8
"""Connections served at once; one more is told "busy"."""

# os.umask is process-wide: binds in this process take turns.
_umask_lock = threading.Lock()


class AlreadyRunning(Exception):
    """Another Parley answers on the control socket."""


class NotRunning(Exception):
    """No Parley answers on the control socket."""


UnsafeAddress = UnsafePath
"""The socket or its folder belongs to another user (or is a symlink, or open
to others): refused. A PermissionError, so an OSError."""


@dataclass(frozen=True)
class Answer:
    ok: bool
    text: str  # the answer, or the error when not ok


def default_address() -> str:
    if sys.platform == "win32":
        user = os.environ.get("USERNAME", "user")
        return rf"\\.\pipe\parley-{user}"
    return str(paths.runtime_socket())


def _is_pipe(address: str) -> bool:
    return address.startswith("\\\\.\\pipe\\")


# -- messages -------------------------------------------------------------------------


def _encode(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _decode_request(line: bytes) -> str | dict[str, Any]:
    """The command in one request line, or the error answer for it."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return _error("the request is not UTF-8 text")
    except (ValueError, RecursionError):
        return _error("the request is not JSON")
    if not isinstance(obj, dict):
        return _error('the request must be a JSON object like {"cmd": "ping"}')
    cmd = obj.get("cmd")
    if not isinstance(cmd, str):
        return _error('the request has no "cmd" string')
    if cmd not in COMMANDS:
        return _error(f"unknown command {cmd[:40]!r} (known: {', '.join(COMMANDS)})")
    return cmd


def _decode_answer(line: bytes) -> Answer:
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict) and obj.get("ok") is True and isinstance(obj.get("answer"), str):
        return Answer(True, obj["answer"])
    if isinstance(obj, dict) and obj.get("ok") is False and isinstance(obj.get("error"), str):
        return Answer(False, obj["error"])
    return Answer(False, "the control socket gave an answer Parley does not understand")


class _TooLong(Exception):
    pass


def _read_line(sock: socket.socket, deadline: float) -> bytes | None:
    """One line (without its newline) by `deadline`; None when the peer closed
    first. Never buffers more than MAX_LINE bytes. Raises _TooLong, TimeoutError."""
    buf = bytearray()
    while True:
        end = buf.find(b"\n")
        if end >= 0:
            return bytes(buf[:end])
        if len(buf) >= MAX_LINE:
            raise _TooLong
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(MAX_LINE - len(buf))
        if not chunk:
            if buf:
                raise EOFError("the request was not ended by a newline")
            return None
        buf += chunk


def _peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end, where the OS tells it."""
    if sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("iII"))
        _pid, uid, _gid = struct.unpack("iII", creds)
        return uid
    # macOS/BSD: Python exposes neither getpeereid nor a parsed LOCAL_PEERCRED, so
    # the guard there is the 0700 folder and 0600 socket (and the client's lstat).
    return None


# -- client ---------------------------------------------------------------------------


def _check_socket(path: Path) -> None:
    """Refuse a socket (or any file) at `path` that another user owns, or one in a
    folder others can write to (they could swap it). NotRunning when absent."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise NotRunning(str(path)) from e
    uid = os.geteuid()
    if st.st_uid != uid:
        raise UnsafeAddress(path, f"is owned by another user (uid {st.st_uid})")
    folder = os.stat(path.parent)
    if folder.st_uid != uid:
        raise UnsafeAddress(path.parent, f"is owned by another user (uid {folder.st_uid})")
    if folder.st_mode & 0o022:
        raise UnsafeAddress(path.parent, "can be written by other users")


def request(command: str, address: str | None = None, timeout: float = 2.0) -> Answer:
    """Send one command to the running Parley and return its answer, ok or not.

    Raises NotRunning when nobody answers, UnsafeAddress when the socket there is
    not ours."""
    address = address or default_address()
    if _is_pipe(address):
        return _request_pipe(command, address, timeout)
    path = Path(address)
    _check_socket(path)
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as e:  # refused (stale), gone, or timed out
            raise NotRunning(address) from e
        peer = _peer_uid(sock)
        if peer is not None and peer != os.geteuid():
            raise UnsafeAddress(path, f"is served by another user (uid {peer})")
        try:
            # A busy server answers and closes before reading: its answer waits.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(_encode({"cmd": command}))
            line = _read_line(sock, deadline)
        except TimeoutError as e:
            raise NotRunning(f"{address} did not answer within {timeout} s") from e
        except _TooLong:
            return Answer(False, "the control socket's answer is too long")
        except (EOFError, OSError) as e:
            raise NotRunning(f"{address} closed the connection") from e
    if line is None:
        raise NotRunning(f"{address} closed the connection without answering")
    return _decode_answer(line)


def send_command(command: str, address: str | None = None, timeout: float = 2.0) -> str:
    """Send one command to the running Parley; returns its answer (or, when it
    refused the command, the reason). Raises NotRunning, UnsafeAddress."""
    return request(command, address, timeout).text


def _request_pipe(command: str, address: str, timeout: float) -> Answer:
    from assistant import control_pipe

    try:
        line = control_pipe.request(address, _encode({"cmd": command}), MAX_LINE, timeout)
    except control_pipe.PipeRefused as e:
        raise UnsafeAddress(Path(address), str(e)) from e
    except TimeoutError as e:
        raise NotRunning(f"{address} did not answer within {timeout} s") from e
    except OSError as e:  # no such pipe, or it went away
        raise NotRunning(address) from e
    if line is None:
        raise NotRunning(f"{address} closed the connection without answering")
    return _decode_answer(line)


# -- server ---------------------------------------------------------------------------


def _prepare_folder(folder: Path) -> None:
    """Parley's runtime folder is created 0700 (or checked); a folder the caller
    chose must exist, be ours and not writable by others."""
    if folder == paths.shared_runtime_dir():
        paths.ensure_private_dir(folder, strict=True)
    elif folder == paths.runtime_dir():
        paths.ensure_private_dir(folder)
    else:
        st = os.stat(folder)
        if st.st_uid != os.geteuid():
            raise UnsafeAddress(folder, f"is owned by another user (uid {st.st_uid})")
        if st.st_mode & 0o022:
            raise UnsafeAddress(folder, "can be written by other users")


def _bind(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # Never open to others, not even between bind and chmod. Held briefly:
        # another thread creating a file in this window gets 0600 too.
        with _umask_lock:
            old = os.umask(0o177)
            try:
                sock.bind(str(path))
            finally:
                os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(MAX_CONNECTIONS)
    except BaseException:
        sock.close()
        raise
    return sock


class ControlServer:
    """Answers commands on a background thread. `handler(command) -> answer`
    is called on a connection's thread: it must hand work to the right thread
    itself. "ping" is answered here ("pong")."""

    def __init__(self, handler: Callable[[str], str], address: str | None = None) -> None:
        self.address = address or default_address()
        self._handler = handler
        self._sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._pipe: Any = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def start(self) -> None:
        """Raises AlreadyRunning, UnsafeAddress (another user's socket or folder:
        left alone), or another OSError when the socket cannot be made."""
        if not _is_pipe(self.address):
            _prepare_folder(Path(self.address).parent)
        try:
            request("ping", self.address, timeout=1.0)
        except NotRunning:
            pass
        else:  # something of ours answered, even if not with "pong"
            raise AlreadyRunning(self.address)
        if _is_pipe(self.address):
            self._start_pipe()
            return
        path = Path(self.address)
        self._remove_stale(path)
        self._sock = _bind(path)
        st = os.lstat(path)
        self._inode = (st.st_dev, st.st_ino)
        # accept() wakes now and then to see close(): closing a socket under a
        # blocked accept is not reliable on every OS.
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    @staticmethod
    def _remove_stale(path: Path) -> None:
        """A socket of ours that nobody answered on was left by a crash."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if st.st_uid != os.geteuid():
            raise UnsafeAddress(path, f"is owned by another user (uid {st.st_uid})")
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeAddress(path, "is a folder")
        path.unlink()
        log.info("control: replaced a stale socket")

    def _serve(self) -> None:
        assert self._sock is not None
        sock = self._sock
        try:
            while not self._closing.is_set():
                try:
                    conn, _ = sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return  # shut down
                if not self._slots.acquire(blocking=False):
                    self._send_quietly(conn, _error("busy; try again"))
                    conn.close()
                    continue
                threading.Thread(
                    target=self._answer, args=(conn,), name="control-conn", daemon=True
                ).start()
        finally:
            sock.close()

    @staticmethod
    def _send_quietly(conn: socket.socket, answer: dict[str, Any]) -> None:
        try:
            conn.settimeout(CONNECTION_TIMEOUT_S)
            conn.sendall(_encode(answer))
        except OSError:
            pass  # the client left; nothing to tell

    def _answer(self, conn: socket.socket) -> None:
        try:
            with conn:
                try:
                    uid = _peer_uid(conn)
                except OSError:
                    return
                if uid is not None and uid != os.geteuid():
                    log.warning("control: refused a connection from uid %d", uid)
                    return
                deadline = time.monotonic() + CONNECTION_TIMEOUT_S
                try:
                    line = _read_line(conn, deadline)
                except _TooLong:
                    self._send_quietly(conn, _error(f"message longer than {MAX_LINE} bytes"))
                    return
                except TimeoutError:
                    self._send_quietly(conn, _error("no request within the time limit"))
                    return
                except EOFError as e:
                    self._send_quietly(conn, _error(str(e)))
                    return
                except OSError:
                    return  # reset by the client
                if line is None:
                    return  # connected and left: a probe
                self._send_quietly(conn, self._reply(line))
        except Exception:  # whatever a client sends, the server keeps serving
            log.exception("control: connection failed")
        finally:
            self._slots.release()

    def _reply(self, line: bytes) -> dict[str, Any]:
        command = _decode_request(line)
        if isinstance(command, dict):
            return command
        if command == "ping":
            return {"ok": True, "answer": "pong"}
        try:
            return {"ok": True, "answer": str(self._handler(command))}
        except Exception as e:  # a handler bug must not kill the server
            log.exception("control command %s failed", command)
            return _error(f"{command} failed: {e}")

    # -- Windows ------------------------------------------------------------------------

    def _start_pipe(self) -> None:
        # A named pipe whose DACL lets this user alone in (control_pipe.py).
        from assistant import control_pipe

        server = control_pipe.PipeServer(self.address, self._answer_pipe, MAX_LINE)
        try:
            server.start()
        except control_pipe.PipeRefused as e:
            raise UnsafeAddress(Path(self.address), str(e)) from e
        self._pipe = server

    def _answer_pipe(self, line: bytes | None) -> bytes:
        if line is None:
            return _encode(_error(f"message longer than {MAX_LINE} bytes"))
        return _encode(self._reply(line))

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        self._closing.set()
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None
            return
        if self._sock is None:
            return
        with contextlib.suppress(OSError):  # already shut
            self._sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2.0)  # it closes the socket on its way out
        self._sock = None
        path = Path(self.address)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._inode:  # not a successor's socket
            path.unlink(missing_ok=True)
