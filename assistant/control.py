"""Single instance and remote control over a local socket.

A running Parley listens on `paths.runtime_socket()` (a Unix socket; a named
pipe on Windows). `parley toggle` sends "toggle" there: that is push-to-talk
on Wayland, where apps may not grab global hotkeys, bound to a key in the
desktop's own shortcut settings. A second Parley finds the first one the same
way and hands over instead of starting twice.

`multiprocessing.connection` gives both transports with one API, from the
standard library. The Unix socket lives in a per-user folder; its file
permissions are the access control.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path

from assistant import paths

log = logging.getLogger(__name__)

COMMANDS = ("toggle", "start", "stop", "show", "ping")


class AlreadyRunning(Exception):
    """Another Parley answers on the control socket."""


class NotRunning(Exception):
    """No Parley answers on the control socket."""


def default_address() -> str:
    if sys.platform == "win32":
        user = os.environ.get("USERNAME", "user")
        return rf"\\.\pipe\parley-{user}"
    return str(paths.runtime_socket())


def _family(address: str) -> str:
    return "AF_PIPE" if address.startswith("\\\\.\\pipe\\") else "AF_UNIX"


def send_command(command: str, address: str | None = None, timeout: float = 2.0) -> str:
    """Send one command to the running Parley; returns its answer."""
    address = address or default_address()
    if _family(address) == "AF_UNIX" and not Path(address).exists():
        raise NotRunning(address)
    try:
        conn = Client(address, family=_family(address))
    except (FileNotFoundError, ConnectionRefusedError, OSError) as e:
        raise NotRunning(address) from e
    with conn:
        conn.send(command)
        if not conn.poll(timeout):
            raise NotRunning(f"{address} did not answer within {timeout} s")
        return str(conn.recv())


class ControlServer:
    """Answers commands on a background thread. `handler(command) -> answer`
    is called on that thread: it must hand work to the right thread itself."""

    def __init__(self, handler: Callable[[str], str], address: str | None = None) -> None:
        self.address = address or default_address()
        self._handler = handler
        self._listener: Listener | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            send_command("ping", self.address, timeout=1.0)
        except NotRunning:
            pass
        else:
            raise AlreadyRunning(self.address)
        if _family(self.address) == "AF_UNIX":
            sock = Path(self.address)
            paths.ensure_dir(sock.parent)
            sock.unlink(missing_ok=True)  # stale: nobody answered the ping
        self._listener = Listener(self.address, family=_family(self.address))
        if _family(self.address) == "AF_UNIX":
            os.chmod(self.address, 0o600)
        self._thread = threading.Thread(target=self._serve, name="control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._listener is not None
        while True:
            try:
                conn = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Connection) -> None:
        with conn:
            try:
                if not conn.poll(2.0):
                    return
                command = str(conn.recv())
                if command == "ping":
                    answer = "pong"
                elif command in COMMANDS:
                    answer = self._handler(command)
                else:
                    answer = f"unknown command {command!r} (known: {', '.join(COMMANDS)})"
                conn.send(answer)
            except (EOFError, OSError) as e:
                log.debug("control connection dropped: %s", e)
            except Exception as e:  # a handler bug must not kill the server
                log.exception("control command failed")
                conn.send(f"error: {e}")

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            if _family(self.address) == "AF_UNIX":
                Path(self.address).unlink(missing_ok=True)
