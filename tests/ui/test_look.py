"""Look and access: every control has a name a screen reader can say, the tab
order reaches them, the theme switches the palette and the icons, the tray
menu follows the window and the state."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QWidget,
)

from assistant.events import State
from ui import theme


def test_every_control_has_an_accessible_name(window: Any) -> None:
    controls = [
        w for w in window.findChildren(QWidget)
        if isinstance(w, QAbstractButton | QLineEdit | QListWidget | QProgressBar)
        and (w.focusPolicy() != Qt.FocusPolicy.NoFocus or isinstance(w, QProgressBar))
    ]
    unnamed = [
        w for w in controls
        if not (w.accessibleName() or (isinstance(w, QAbstractButton) and w.text().strip()))
    ]
    assert len(controls) >= 8
    assert unnamed == []


def test_tab_reaches_the_main_controls(qtbot: Any, window: Any) -> None:
    window.set_state(State.SPEAKING)  # the stop button is enabled only then
    window.activateWindow()
    window.text.setFocus()
    reached = []
    for _ in range(15):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    for control in (window.send, window.ptt, window.stop, window.settings_button,
                    window.new_button, window.conversations):
        assert control in reached


def test_theme_switches_palette_and_icons(qtbot: Any, window: Any) -> None:
    app = QApplication.instance()
    try:
        theme.apply_theme(app, "dark")
        assert theme.is_dark(app.palette())
        dark_icon = theme.icon("mic").pixmap(24).toImage()
        theme.apply_theme(app, "light")
        assert not theme.is_dark(app.palette())
        light_icon = theme.icon("mic").pixmap(24).toImage()
        assert dark_icon != light_icon  # recoloured to stay readable
        base = app.palette().color(QPalette.ColorRole.Base).name()
        assert base in window.transcript.styleSheet()  # bubbles follow the palette
    finally:
        theme.apply_theme(app, "system")


def test_icons_render_at_high_dpi(qapp: Any) -> None:
    for name in ("mic", "send", "stop", "settings", "new", "parley", "tray-listening"):
        icon = theme.icon(name)
        assert not icon.isNull()
        assert icon.pixmap(64).width() == 64


def test_tray_follows_window_and_state(qtbot: Any, window: Any, fake: Any) -> None:
    from ui.tray import Tray

    quits = []
    tray = Tray(window, fake.toggle, lambda: quits.append(1))
    tray.toggle_window()
    assert not window.isVisible() and tray.show_action.text() == "Show Parley"
    tray.toggle_window()
    assert window.isVisible() and tray.show_action.text() == "Hide Parley"
    tray.set_state(State.LISTENING)
    assert tray.listen_action.text() == "Stop listening"
    tray.listen_action.trigger()
    assert fake.names() == ["toggle"]
    tray.contextMenu().actions()[-1].trigger()
    assert quits == [1]


def test_close_to_tray_hides_instead_of_quitting(qtbot: Any, window: Any) -> None:
    from dataclasses import replace

    quits: list[int] = []
    window.quit_requested.connect(lambda: quits.append(1))
    window.settings = replace(window.settings, close_to_tray=True)
    window.tray_available = True
    window.close()
    assert not window.isVisible() and quits == []
    window.show()
    window.settings = replace(window.settings, close_to_tray=False)
    window.close()
    assert quits == [1]


def test_the_state_shows_from_the_start(window: Any) -> None:
    """Before the core says anything, the indicator already reads Idle and Stop is off."""
    assert "Idle" in window.state_label.text()
    assert not window.stop.isEnabled()
