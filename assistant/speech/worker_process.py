"""One child process on the 'spawn' start method and the pipe to it: the part
of the speech workers (`stt_worker.RecognizerProcess`, `tts.Synthesizer`) that
is not their protocol.

The child runs `target(conn, *args)`. Its first message says whether it can
serve: an instance of the `ready` type, or anything else to say why not (the
child then returns). After that, the owner's protocol runs over the pipe; this
class only moves messages and turns a dead child, a closed pipe and a silent
child into `WorkerGone` and `WorkerTimeout`. What to do then (drop an
utterance, restart, raise an error a user can read) is the owner's call.

The start method is 'spawn' on every platform (Windows has no other; a fork
of a process running audio, llama.cpp and Qt threads would copy their locks
mid-use). It imports the caller's main module in the child, so that module
must be import-safe (`if __name__ == "__main__"`), and a frozen app must call
`multiprocessing.freeze_support()` first thing.

Not thread-safe apart from `kill()` and `stop()`, which another thread may
call to end a child the owner is waiting on: `kill()` leaves the pipe open, so
the waiting thread wakes with `WorkerGone` instead of reading a closed handle.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

SPAWN = multiprocessing.get_context("spawn")


class WorkerError(Exception):
    """The worker cannot answer; the subclass says why."""


class WorkerGone(WorkerError):
    """The worker exited, or its pipe is closed."""


class WorkerTimeout(WorkerError):
    """Nothing came from the worker in time."""

    def __init__(self, name: str, timeout: float) -> None:
        super().__init__(f"{name} did not answer within {timeout:g} s")
        self.timeout = timeout


class WorkerNotReady(WorkerError):
    """The worker's first message was not its ready message (usually its own
    word on why it cannot serve)."""

    def __init__(self, name: str, reply: object) -> None:
        super().__init__(f"{name} did not start: {reply!r}")
        self.reply = reply


def _child_main(
    target: Callable[..., None], own_group: bool, conn: Connection, args: tuple[Any, ...]
) -> None:
    if own_group and hasattr(os, "setpgrp"):
        os.setpgrp()  # so kill() takes whatever the worker started (an aplay) with it
    # Ctrl-C in a terminal reaches the whole foreground group: the parent
    # quits and closes its workers; a worker of its own would print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    target(conn, *args)


class WorkerProcess:
    """A worker process and the parent's end of its pipe. `start()` spawns one;
    `wait_ready()` waits for its first message; `send()`, `receive()` and
    `poll()` carry the owner's protocol; `restart()`, `kill()`, `stop()` and
    `close()` end it. Nothing runs until `start()`."""

    def __init__(
        self,
        target: Callable[..., None],
        *,
        name: str,
        ready: type,
        own_group: bool = False,
    ) -> None:
        """`target(conn, *args)` runs in the child: a module-level function (the
        child imports it by name). `ready`: the type of the message it sends once
        it can serve. `own_group`: the child leads a process group of its own and
        `kill()` kills the whole group (POSIX)."""
        self.target = target
        self.name = name
        self.ready_type = ready
        self.own_group = own_group
        self.ready = False
        """Whether the current child said it was ready (`wait_ready()`)."""
        self.started_at = 0.0
        """time.monotonic() at the last `start()`."""
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # stop() may come from another thread

    # -- state -----------------------------------------------------------------

    @property
    def started(self) -> bool:
        """A child was started and not closed since (it may have died)."""
        return self._conn is not None

    @property
    def alive(self) -> bool:
        proc = self._proc
        if proc is None:
            return False
        try:
            return proc.is_alive()
        except ValueError:  # closed by another thread meanwhile
            return False

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return None if proc is None else proc.pid

    # -- lifecycle -------------------------------------------------------------

    def start(self, *args: Any) -> None:
        """Spawn a child running `target(conn, *args)`; one left from before is
        closed first. Returns at once: the child loads while the caller works."""
        self.close()
        parent, child = SPAWN.Pipe()
        proc = SPAWN.Process(
            target=_child_main,
            args=(self.target, self.own_group, child, args),
            name=self.name,
            daemon=True,
        )
        proc.start()
        child.close()
        self.started_at = time.monotonic()
        self._proc, self._conn, self.ready = proc, parent, False

    def wait_ready(self, timeout: float) -> Any:
        """The child's ready message, waited for up to `timeout` s. Raises
        WorkerNotReady (with the child's message) when it says something else,
        WorkerTimeout or WorkerGone; the child is left as it is, for the owner
        to close or restart."""
        reply = self.receive(timeout)
        if not isinstance(reply, self.ready_type):
            raise WorkerNotReady(self.name, reply)
        self.ready = True
        return reply

    def restart(self, *args: Any) -> None:
        """Kill the child (hung or dead) and start a new one; see `start()`."""
        self.kill()
        self.start(*args)

    def kill(self, timeout: float = 5.0) -> None:
        """Kill the child now (with its process group if it has one) and reap it
        (up to `timeout` s). The pipe stays open, so that a thread waiting on it
        wakes with WorkerGone; `close()` releases it. Any thread may call this."""
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(ValueError):  # closed by another thread meanwhile
                self._end(proc, timeout)
        self.ready = False

    def stop(self, farewell: object = None, grace: float = 2.0) -> None:
        """End the child politely: send `farewell` (when given; the child's cue
        to return), close the pipe, wait up to `grace` s, then kill it. Any
        thread may call this."""
        with self._lock:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
            self.ready = False
        if conn is not None:
            if farewell is not None:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(farewell)
            conn.close()
        if proc is not None:
            proc.join(timeout=grace)
            self._end(proc)

    def close(self) -> None:
        """Close the pipe and forget the child, killing it first if it still
        runs. Safe to call twice."""
        with self._lock:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
            self.ready = False
        if conn is not None:
            conn.close()
        if proc is not None:
            with contextlib.suppress(ValueError):  # closed already
                self._end(proc)
                proc.close()

    def _end(self, proc: BaseProcess, timeout: float = 5.0) -> None:
        """Kill `proc` if it still runs (its group too) and reap it."""
        if proc.is_alive():
            if self.own_group and hasattr(os, "killpg") and proc.pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.kill()
        proc.join(timeout)

    # -- messages --------------------------------------------------------------

    def send(self, message: object) -> None:
        """Raises WorkerGone when the pipe is closed or the child is gone."""
        conn = self._conn
        if conn is None:
            raise WorkerGone(f"{self.name} is not running")
        try:
            conn.send(message)
        except (OSError, ValueError) as exc:
            raise WorkerGone(_gone(self.name, exc)) from exc

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether a message (or the end of the pipe) is waiting, after up to
        `timeout` s. Raises WorkerGone when the pipe is closed."""
        conn = self._conn
        if conn is None:
            raise WorkerGone(f"{self.name} is not running")
        try:
            return conn.poll(timeout)
        except (EOFError, OSError) as exc:
            raise WorkerGone(_gone(self.name, exc)) from exc

    def receive(self, timeout: float) -> Any:
        """The child's next message, waited for up to `timeout` s. Raises
        WorkerTimeout, or WorkerGone when the child died or the pipe closed."""
        conn = self._conn
        if conn is None:
            raise WorkerGone(f"{self.name} is not running")
        try:
            if conn.poll(timeout):
                return conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerGone(_gone(self.name, exc)) from exc
        raise WorkerTimeout(self.name, timeout)


def _gone(name: str, exc: BaseException) -> str:
    return f"{name} is gone ({str(exc) or type(exc).__name__})"
