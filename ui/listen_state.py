"""The one listening state every indicator shows: status dot, Talk button,
tray icon and the answer to `parley toggle`.

The core reports what it is doing (StateChanged); the app knows whether it can
hear at all (a microphone and a recogniser). What is shown combines both: with
no way to hear, "listening" is never shown, because nothing is being heard
(the voice loop still opens its follow-up window on a silent source).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from assistant.events import State


class ListenState(QObject):
    changed = Signal(object)  # the State to show

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = State.IDLE
        self.can_listen = True
        self.why_not = ""
        """Why Parley cannot listen, in words (empty when it can)."""

    @property
    def shown(self) -> State:
        if self.core is State.LISTENING and not self.can_listen:
            return State.IDLE
        return self.core

    def set_core(self, state: State) -> None:
        self.core = state
        self.changed.emit(self.shown)

    def set_can_listen(self, ok: bool, why: str = "") -> None:
        self.can_listen = ok
        self.why_not = "" if ok else why
        self.changed.emit(self.shown)

    def toggle(self, controller: object) -> str:
        """`parley toggle` and the menu item: the answer says what is true.
        Plain attribute reads, so the control socket's thread may call it."""
        if not self.can_listen:
            return f"cannot listen: {self.why_not or 'no microphone'}"
        return str(controller.toggle())  # type: ignore[attr-defined]
