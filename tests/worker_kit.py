"""What tests run inside real worker processes (`speech.worker_process`): a
spawned child imports its target by module and name, which a test module
imported with --import-mode=importlib cannot offer, so they live here (on the
path through pytest's `pythonpath`)."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection


@dataclass(frozen=True)
class Hello:
    """The echo worker's ready message."""

    pid: int
    helper: int = 0
    """The pid of the process it started, if any."""


def echo(conn: Connection) -> None:
    """Says Hello, then sends back every message, until "quit" (it returns),
    "die" (it exits at once with code 3) or "hang" (it stops reading)."""
    conn.send(Hello(os.getpid()))
    _echo(conn)


def _echo(conn: Connection) -> None:
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message == "quit":
            return
        if message == "die":
            os._exit(3)
        if message == "hang":
            threading.Event().wait()
        conn.send(message)


def refuse(conn: Connection, why: str) -> None:
    """Says why it cannot serve instead of Hello, and returns."""
    conn.send(why)


def die_at_once(conn: Connection) -> None:
    os._exit(1)


def silent(conn: Connection) -> None:
    """Never says anything."""
    threading.Event().wait()


def with_helper(conn: Connection, witness: Connection) -> None:
    """Starts a helper process that holds `witness` open (so the pipe's other
    end sees EOF once the helper and this worker are both gone), then echoes."""
    helper = subprocess.Popen(["sleep", "600"], pass_fds=[witness.fileno()])
    witness.close()
    conn.send(Hello(os.getpid(), helper.pid))
    _echo(conn)
