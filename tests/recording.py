"""Test helper shared by the suites (on sys.path through pytest's `pythonpath`):
`from recording import EventRecorder`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from assistant.events import Event


class EventRecorder(list[Event]):
    """A sink that keeps every event it is given, in order. Safe to fill from any
    thread; `wait_for` blocks until an event passes a test (no sleeps)."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._changed:
            self.append(event)
            self._changed.notify_all()

    def of(self, kind: type) -> list[Any]:
        """The events of one type, in order."""
        with self._changed:
            return [e for e in self if isinstance(e, kind)]

    def wait_for(self, test: Callable[[Event], bool], timeout: float = 10.0) -> bool:
        """True once an event passes `test`; False after `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: any(test(e) for e in self), timeout)
