"""The key-capture field for the push-to-talk hotkey, used by Settings and by
the first-run wizard: click it and press the keys. It shows the shortcut as
people read it ("Ctrl+Alt+Space") and gives the setting's own syntax
(pynput's "<ctrl>+<alt>+<space>") through `text()`."""

from __future__ import annotations

from PySide6.QtCore import QKeyCombination, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QKeySequenceEdit, QToolButton, QWidget

MODS = (
    (Qt.KeyboardModifier.ControlModifier, "<ctrl>"),
    (Qt.KeyboardModifier.AltModifier, "<alt>"),
    (Qt.KeyboardModifier.ShiftModifier, "<shift>"),
    (Qt.KeyboardModifier.MetaModifier, "<cmd>"),
)
NAMED_KEYS = {
    Qt.Key.Key_Space: "<space>", Qt.Key.Key_Tab: "<tab>", Qt.Key.Key_Return: "<enter>",
    Qt.Key.Key_Enter: "<enter>", Qt.Key.Key_Escape: "<esc>", Qt.Key.Key_Backspace: "<backspace>",
    Qt.Key.Key_Insert: "<insert>", Qt.Key.Key_Delete: "<delete>", Qt.Key.Key_Home: "<home>",
    Qt.Key.Key_End: "<end>", Qt.Key.Key_PageUp: "<page_up>", Qt.Key.Key_PageDown: "<page_down>",
    Qt.Key.Key_Left: "<left>", Qt.Key.Key_Right: "<right>", Qt.Key.Key_Up: "<up>",
    Qt.Key.Key_Down: "<down>", Qt.Key.Key_Pause: "<pause>",
}
_KEY_BY_NAME = {name: key for key, name in NAMED_KEYS.items() if key != Qt.Key.Key_Enter}
_MOD_BY_NAME = {name: flag for flag, name in MODS} | {"<cmd_l>": Qt.KeyboardModifier.MetaModifier}


def to_pynput(seq: QKeySequence) -> str:
    """A recorded Qt shortcut in the setting's syntax ('' when there is none)."""
    if seq.isEmpty():
        return ""
    combo = seq[0]
    mods, key = combo.keyboardModifiers(), combo.key()
    parts = [name for flag, name in MODS if mods & flag]
    if key in NAMED_KEYS:
        parts.append(NAMED_KEYS[key])
    elif Qt.Key.Key_F1 <= key <= Qt.Key.Key_F20:
        parts.append(f"<f{key - Qt.Key.Key_F1 + 1}>")
    elif 0x20 < key < 0x7F:
        parts.append(chr(key).lower())
    else:
        return ""
    return "+".join(parts)


def from_pynput(text: str) -> QKeySequence:
    """The setting's syntax as a Qt shortcut (empty when it has no key Qt knows)."""
    mods = Qt.KeyboardModifier.NoModifier
    key: Qt.Key | None = None
    for part in (p.strip().lower() for p in text.split("+") if p.strip()):
        if part in _MOD_BY_NAME:
            mods |= _MOD_BY_NAME[part]
        elif part in _KEY_BY_NAME:
            key = _KEY_BY_NAME[part]
        elif part.startswith("<f") and part[2:-1].isdigit():
            key = Qt.Key(Qt.Key.Key_F1 + int(part[2:-1]) - 1)
        elif len(part) == 1 and 0x20 < ord(part.upper()) < 0x7F:
            key = Qt.Key(ord(part.upper()))
        else:
            return QKeySequence()
    if key is None:
        return QKeySequence()
    return QKeySequence(QKeyCombination(mods, key))


class HotkeyField(QWidget):
    """Click, press the keys; a clear button starts again."""

    changed = Signal(str)  # the shortcut in the setting's syntax

    def __init__(self, value: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QKeySequenceEdit(self)
        self.edit.setMaximumSequenceLength(1)
        self.edit.setAccessibleName("Push-to-talk hotkey: click, then press the keys")
        self.edit.setToolTip("Click here, then press the keys you want to hold to talk")
        self.clear_button = QToolButton(self)
        self.clear_button.setText("Clear")
        self.clear_button.setAccessibleName("Clear the hotkey")
        self.clear_button.clicked.connect(self.edit.clear)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.clear_button)
        self._raw = ""
        self.setText(value)
        self.edit.keySequenceChanged.connect(self._recorded)

    def _recorded(self, seq: QKeySequence) -> None:
        text = to_pynput(seq)
        if text or seq.isEmpty():
            self._raw = text
            self.changed.emit(text)

    def setText(self, text: str) -> None:  # noqa: N802 (as QLineEdit's, which this replaced)
        """Show a shortcut given in the setting's syntax (any text: the check says why
        it is wrong when it is)."""
        self._raw = text
        seq = from_pynput(text)
        self.edit.blockSignals(True)
        self.edit.setKeySequence(seq)
        self.edit.blockSignals(False)
        self.changed.emit(text)

    def text(self) -> str:
        return self._raw
