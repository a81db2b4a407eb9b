"""Core events -> Qt signals on the GUI thread.

The core calls `bridge(event)` on its own threads (ear, brain, timers, the
control socket, pynput). Those threads never touch Qt: the event goes into a
`queue.Queue` and one byte is written to a local socketpair. A QSocketNotifier
on the other end (created on the GUI thread) wakes the GUI thread, which drains
the queue and emits the signals there.

Why not `QCoreApplication.postEvent` or a signal emitted from the core thread:
PySide6 can crash when Qt is entered from Python threads Qt did not create
(docs/ARCHITECTURE.md, "The window and the core"). A socketpair wake-up costs
nothing while idle (no polling timer) and works on Windows too, where
QSocketNotifier needs a socket.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Signal

from assistant.events import (
    Error,
    Event,
    Flagged,
    Latency,
    Notice,
    Partial,
    ReplyDelta,
    ReplyDone,
    StateChanged,
    ToolRequest,
    ToolResult,
    TurnRetracted,
    UserTurn,
)

log = logging.getLogger(__name__)


class Bridge(QObject):
    """Create on the GUI thread; call it (as an EventSink) from any thread."""

    event = Signal(object)  # every event, in order
    state = Signal(object)  # StateChanged
    partial = Signal(object)  # Partial
    user_turn = Signal(object)  # UserTurn
    reply_delta = Signal(object)  # ReplyDelta
    reply_done = Signal(object)  # ReplyDone
    tool_request = Signal(object)  # ToolRequest
    tool_result = Signal(object)  # ToolResult
    latency = Signal(object)  # Latency
    flagged = Signal(object)  # Flagged
    error = Signal(object)  # Error
    notice = Signal(object)  # Notice
    turn_retracted = Signal(object)  # TurnRetracted

    _ROUTES: dict[type, str] = {
        StateChanged: "state",
        Partial: "partial",
        UserTurn: "user_turn",
        ReplyDelta: "reply_delta",
        ReplyDone: "reply_done",
        ToolRequest: "tool_request",
        ToolResult: "tool_result",
        Latency: "latency",
        Flagged: "flagged",
        Error: "error",
        Notice: "notice",
        TurnRetracted: "turn_retracted",
    }

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._gui_thread = threading.get_ident()
        self._rx, self._tx = socket.socketpair()
        self._rx.setblocking(False)
        self._tx.setblocking(False)
        self._wake_pending = threading.Event()
        self._notifier = QSocketNotifier(self._rx.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)

    # -- any thread ------------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        """The core's EventSink."""
        self._put(event)

    def run_on_gui(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the GUI thread soon (from any thread)."""
        self._put(_Call(fn))

    def _put(self, item: Any) -> None:
        self._queue.put(item)
        if not self._wake_pending.is_set():
            self._wake_pending.set()
            # A full buffer already holds wake-ups; a closed one means we are quitting.
            with contextlib.suppress(BlockingIOError, OSError):
                self._tx.send(b"\0")

    # -- GUI thread ----------------------------------------------------------------------------

    def drain(self) -> int:
        """Deliver everything queued; returns how many items. Tests call it too."""
        return self._drain()

    def _drain(self, *_: object) -> int:
        # Order matters: consume the wake-up bytes first, then clear the flag,
        # then empty the queue. A put after the clear sends a fresh byte (so we
        # run again); a put before it is still in the queue we are about to
        # empty. Clearing first could swallow a byte while leaving the flag set,
        # and every later event would wait for a wake-up that never comes.
        with contextlib.suppress(BlockingIOError, OSError):
            while self._rx.recv(4096):
                pass
        self._wake_pending.clear()
        n = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return n
            n += 1
            try:
                if isinstance(item, _Call):
                    item.fn()
                    continue
                self.event.emit(item)
                name = self._ROUTES.get(type(item))
                if name is not None:
                    getattr(self, name).emit(item)
            except Exception:  # one bad handler must not stop the others
                log.exception("handling %s failed", type(item).__name__)  # not its text

    def close(self) -> None:
        self._notifier.setEnabled(False)
        self._rx.close()
        self._tx.close()


class _Call:
    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[], None]) -> None:
        self.fn = fn
