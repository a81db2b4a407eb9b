"""The hard cases: turns Parley flagged (not heard right, not understood,
nothing could handle them), newest first, to review and to type again."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from assistant.dialogue.history import local_time
from ui.transcript import FLAG_TEXT


class HardCases(QDialog):
    def __init__(self, turns: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hard cases")
        self.list = QListWidget(self)
        self.list.setAccessibleName("Flagged turns")
        self.chosen = ""
        for t in turns:
            reason = FLAG_TEXT.get(t.flagged or "", t.flagged or "")
            item = QListWidgetItem(f"{local_time(t.created_at)}  ·  {reason}  ·  {t.text or '…'}")
            item.setData(Qt.ItemDataRole.UserRole, t.text)
            self.list.addItem(item)
        note = QLabel(
            "Turns Parley was unsure about. Double-click one to put its text in the "
            "message box and send it again."
            if turns
            else "No hard cases: every turn was understood."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.list.itemActivated.connect(self._choose)
        self.resize(560, 380)

    def _choose(self, item: QListWidgetItem) -> None:
        self.chosen = str(item.data(Qt.ItemDataRole.UserRole) or "")
        self.accept()
