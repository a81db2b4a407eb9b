"""Problems and notices shown once, above the conversation.

One line per condition (keyed by what it is about, not by its wording): a new
message about the same condition replaces the old one, a condition that ends
("the microphone is back") removes its line, and every line has a close
button. Nothing here goes into the conversation itself.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

CONDITION = {
    "no_microphone": "input", "input_lost": "input", "input_back": "input",
    "stt_unavailable": "input", "no_stt": "input", "worker_failed": "input",
    "output_unavailable": "output", "tts_unavailable": "output", "tts_voice": "output",
    "llm_failed": "model", "model_missing": "model", "model_unreadable": "model",
    "model_corrupt": "model", "llm_loading": "model",
    "history_damaged": "history", "history_unwritable": "history",
    "timers_damaged": "timers", "timers_unsaved": "timers",
    "config_problem": "config", "no_wake": "wake", "hotkey": "hotkey",
}
"""Event code -> the condition it is about. Codes not listed are their own condition."""

ENDS = {"input_back"}
"""Codes that say a condition is over: their line goes (a status-bar word is enough)."""


WARNINGS = {"input", "output", "wake", "hotkey", "timers"}
"""Conditions Parley works around (it types instead of listening, shows text
instead of speaking): amber, not the red of something broken."""

def condition(code: str) -> str:
    return CONDITION.get(code, code or "other")


def model_cause(message: str, model: str) -> str:
    """A missing model file named by the user's own setting is a wrong path,
    not a model to download: say so, and where to fix it."""
    path_like = "/" in model or model.endswith(".gguf")
    if model and path_like and not Path(model).expanduser().is_file():
        return (
            f"The language model file {model} does not exist. Check the path in "
            "Settings > Language model, or choose the built-in model there. "
            "Until then Parley answers what it can without it."
        )
    return message


class NoticeLine(QFrame):
    def __init__(self, key: str, text: str, error: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("notice_line")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setAccessibleName("Dismiss")
        self.close_button.setToolTip("Dismiss")
        row.addWidget(self.label, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.set(text, error)

    def set(self, text: str, error: bool) -> None:
        self.label.setText(text)
        self.label.setAccessibleName(text)
        self.setProperty("error", error)
        self.setStyleSheet(
            "QFrame#notice_line { border-radius: 6px; "
            + ("background: rgba(217,48,37,0.12); border: 1px solid #d93025; }"
               if error else "background: rgba(201,162,39,0.14); border: 1px solid #c9a227; }")
        )

    def text(self) -> str:
        return self.label.text()


class NoticeBar(QWidget):
    """The stack of current notices (hidden when there are none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notices")
        self.setAccessibleName("Notices")
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 4)
        self._box.setSpacing(4)
        self.lines: dict[str, NoticeLine] = {}
        self.dismissed: set[tuple[str, str]] = set()
        self.hide()

    def show_notice(self, code: str, text: str, error: bool = False) -> None:
        key = condition(code)
        error = error and key not in WARNINGS
        if code in ENDS:  # over: a later return of the condition is news again
            self.clear(key)
            self.dismissed = {d for d in self.dismissed if d[0] != key}
            return
        if (key, text) in self.dismissed:  # the user closed exactly this one already
            return
        line = self.lines.get(key)
        if line is None:
            line = NoticeLine(key, text, error, self)
            line.close_button.clicked.connect(lambda: self.dismiss(key))
            self.lines[key] = line
            self._box.addWidget(line)
        else:
            line.set(text, error)
        self.show()

    def dismiss(self, key: str) -> None:
        line = self.lines.get(key)
        if line is not None:
            self.dismissed.add((key, line.text()))
        self.clear(key)

    def clear(self, key: str) -> None:
        line = self.lines.pop(key, None)
        if line is not None:
            self._box.removeWidget(line)
            line.deleteLater()
        self.setVisible(bool(self.lines))

    def texts(self) -> list[str]:
        return [line.text() for line in self.lines.values()]
