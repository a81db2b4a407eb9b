"""Measures how long the GUI thread was unable to run (a "stall").

A precise QTimer ticks every `interval_ms`; when a tick comes late, the
lateness is how long the event loop was blocked. `max_ms` is the worst stall
since start, `turn_max_ms` the worst since the last `mark()` (the app marks
the start of each turn and logs the value when the turn's latency arrives).
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Qt, QTimer

log = logging.getLogger(__name__)

REPORT_MS = 50.0
"""Stalls longer than this go to the log (the goal is to stay under it)."""


class StallMonitor(QObject):
    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.max_ms = 0.0
        self.turn_max_ms = 0.0
        self.ticks = 0
        self._last = 0.0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def mark(self) -> None:
        """Start measuring a new turn."""
        self.turn_max_ms = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        late = (now - self._last) * 1000 - self.interval_ms
        self._last = now
        self.ticks += 1
        if late > self.turn_max_ms:
            self.turn_max_ms = late
        if late > self.max_ms:
            self.max_ms = late
        if late > REPORT_MS:
            log.info("GUI thread stalled %.0f ms", late)
