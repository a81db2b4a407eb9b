"""The running timers and alarms, with the time left and a Cancel button each.

Rows come from the core's timer store (`Controller.pending_timers`); the list
is read again only when something may have changed (a tool ran, a timer went
off, the user cancelled). Between those, a one-second tick updates the time
left from each timer's due time, and only while there is a timer to show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget


def time_left(seconds: float) -> str:
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def timer_title(timer: Any) -> str:
    if timer.label:
        return str(timer.label)
    if timer.kind == "alarm":
        return "Alarm"
    m, s = divmod(int(timer.duration_s), 60)
    h, m = divmod(m, 60)
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{s} s" if s else ""]
    return "Timer, " + " ".join(p for p in parts if p) if any(parts) else "Timer"


def when(timer: Any, now: float) -> str:
    if timer.kind == "alarm":
        at = datetime.fromtimestamp(timer.due_at).strftime("%H:%M")
        return f"at {at}, in {time_left(timer.due_at - now)}"
    return f"{time_left(timer.due_at - now)} left"


class TimerRow(QWidget):
    def __init__(self, timer: Any, cancel: Callable[[int], object], parent: QWidget) -> None:
        super().__init__(parent)
        self.timer = timer
        icon = "◷"
        self.title = QLabel(f"{icon} {timer_title(timer)}", self)
        self.left = QLabel(self)
        self.left.setObjectName("time_left")
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setAccessibleName(f"Cancel {timer_title(timer)}")
        self.cancel.clicked.connect(lambda: cancel(timer.id))
        text = QVBoxLayout()
        text.setSpacing(0)
        text.addWidget(self.title)
        text.addWidget(self.left)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 2, 0, 2)
        row.addLayout(text, 1)
        row.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignVCenter)

    def tick(self, now: float) -> None:
        self.left.setText(when(self.timer, now))


class TimersPanel(QWidget):
    """Hidden while nothing runs."""

    def __init__(self, source: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source  # () -> the controller (it changes when settings restart the core)
        self.clock: Callable[[], float] = time.time
        self.setObjectName("timers_panel")
        self.setAccessibleName("Timers and alarms")
        self.heading = QLabel("Timers and alarms", self)
        self.heading.setObjectName("heading")
        self._rows_box = QVBoxLayout()
        self._rows_box.setSpacing(0)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 8, 0, 0)
        box.addWidget(self.heading)
        box.addLayout(self._rows_box)
        self.rows: list[TimerRow] = []
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self.tick)
        self.hide()

    def refresh(self) -> None:
        try:
            timers = self.source().pending_timers()
        except Exception:  # an unreadable store: the panel stays as it was
            return
        for row in self.rows:
            self._rows_box.removeWidget(row)
            row.deleteLater()
        self.rows = [TimerRow(t, self.cancel, self) for t in timers]
        for row in self.rows:
            self._rows_box.addWidget(row)
        self.tick()
        self.setVisible(bool(self.rows))
        if self.rows:
            self._tick.start()
        else:
            self._tick.stop()

    def tick(self) -> None:
        now = self.clock()
        if any(r.timer.due_at <= now - 2 for r in self.rows):  # gone off; its notice is late
            QTimer.singleShot(0, self.refresh)
        for row in self.rows:
            row.tick(now)

    def cancel(self, timer_id: int) -> None:
        self.source().cancel_timer(timer_id)
        self.refresh()
