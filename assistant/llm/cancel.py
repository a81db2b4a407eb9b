"""Cancel tokens: how a generation (or any long step of a turn) is stopped."""

from __future__ import annotations

import threading


class CancelToken:
    """Set once by whoever wants the work stopped; checked by the worker.

    A `threading.Event` rather than a shared bool, so waiting code can also
    block on it (`wait`)."""

    __slots__ = ("_event", "reason")

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)
