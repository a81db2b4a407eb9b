"""Tool confirmation: what will happen, asked in plain words, Yes / No, and a countdown.

Shown inline above the input bar (not a modal dialog: the user may also say
"yes" or "no", and the conversation stays visible). No answer before the
countdown ends counts as no. A ToolResult for the request (answered by voice)
closes it without a second answer. Requests that arrive while one is shown
wait their turn.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from assistant.events import ToolRequest
from ui.words import confirmation_question

GRACE_S = 1.5
"""The core times a request out itself (and reports it with a ToolResult);
the panel answers "no" on its own only this long after, if the core did not."""


class ConfirmPanel(QFrame):
    answered = Signal(str, bool)  # request_id, approved

    def __init__(
        self, answer: Callable[[str, bool], object], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("confirm")
        self.setAccessibleName("Confirm action")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._answer = answer
        self.current: ToolRequest | None = None
        self._waiting: deque[ToolRequest] = deque()
        self._deadline = 0.0
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: 600;")
        self.title.setWordWrap(True)
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.description.hide()  # the question says it all
        self.countdown = QLabel(self)
        self.countdown.setAccessibleName("Time left to answer")
        self.yes = QPushButton("&Yes, do it", self)
        self.yes.setAccessibleName("Yes, do it")
        self.no = QPushButton("&No", self)
        self.no.setAccessibleName("No, do not do it")
        self.yes.clicked.connect(lambda: self._decide(True))
        self.no.clicked.connect(lambda: self._decide(False))
        buttons = QHBoxLayout()
        buttons.addWidget(self.countdown, 1)
        buttons.addWidget(self.no)
        buttons.addWidget(self.yes)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.description)
        layout.addLayout(buttons)
        self._timer = QTimer(self)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._tick)
        self.hide()

    def request(self, req: ToolRequest) -> None:
        if self.current is not None:
            self._waiting.append(req)
            return
        self.current = req
        question = confirmation_question(req.tool, req.arguments, req.description)
        self.title.setText(question)
        self.title.setAccessibleName(question)
        self._deadline = time.monotonic() + req.timeout_s  # shown to the user
        self._tick()
        self._timer.start()
        self.show()
        self.no.setFocus()  # the safe answer is the default for Enter

    def resolved(self, request_id: str) -> None:
        """The core reports the request done (a spoken answer): close, answer nothing."""
        if self.current is not None and self.current.request_id == request_id:
            self._next()
        else:
            self._waiting = deque(r for r in self._waiting if r.request_id != request_id)

    def seconds_left(self) -> float:
        return max(0.0, self._deadline - time.monotonic())

    def _tick(self) -> None:
        left = self.seconds_left()
        if left <= 0:
            self.countdown.setText("No answer: not doing it.")
            if time.monotonic() >= self._deadline + GRACE_S:
                self._decide(False)
            return
        self.countdown.setText(f"No answer in {left:.0f} s means no")

    def _decide(self, approved: bool) -> None:
        req = self.current
        if req is None:
            return
        self._next()
        self._answer(req.request_id, approved)
        self.answered.emit(req.request_id, approved)

    def _next(self) -> None:
        self._timer.stop()
        self.current = None
        self.hide()
        if self._waiting:
            self.request(self._waiting.popleft())
