"""Tray icon: show / hide the window, listen, quit. The icon turns red while
Parley listens, so the user can see the microphone is live."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from assistant.events import State
from ui import theme


class Tray(QSystemTrayIcon):
    def __init__(
        self,
        window: QWidget,
        listen: Callable[[], object],
        quit_app: Callable[[], object],
    ) -> None:
        super().__init__(theme.app_icon(), window)
        self.window = window
        self.setToolTip("Parley")
        menu = QMenu(window)
        self.show_action = QAction("Hide Parley", menu)
        self.show_action.triggered.connect(self.toggle_window)
        self.listen_action = QAction("Listen", menu)
        self.listen_action.triggered.connect(lambda _=False: listen())
        quit_action = QAction("Quit Parley", menu)
        quit_action.triggered.connect(lambda _=False: quit_app())
        menu.addAction(self.show_action)
        menu.addAction(self.listen_action)
        menu.addSeparator()
        menu.addAction(quit_action)
        self.setContextMenu(menu)
        self._menu = menu
        self.activated.connect(self._activated)
        self._listening_icon = QIcon(str(theme.asset("tray-listening.svg")))

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            bring = getattr(self.window, "bring_to_front", self.window.show)
            bring()
        self.sync()

    def sync(self) -> None:
        self.show_action.setText("Hide Parley" if self.window.isVisible() else "Show Parley")

    def set_state(self, state: State, can_listen: bool = True) -> None:
        """Follows the window's ListenState (the one state every indicator shows)."""
        listening = state is State.LISTENING
        self.setIcon(self._listening_icon if listening else theme.app_icon())
        self.listen_action.setText("Stop listening" if listening else "Listen")
        self.listen_action.setEnabled(can_listen)
        self.setToolTip(f"Parley: {state.value}" if can_listen else "Parley: cannot listen")
