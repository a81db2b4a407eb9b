"""The push-to-talk button, the in-window shortcut and the hotkey handler drive the pipeline."""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import Qt

from assistant.events import State, StateChanged
from ui.hotkey import HotkeyHandler, fallback_help, to_display, unavailable_reason


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_hold_to_talk(qtbot: Any, window: Any, fake: Any) -> None:
    clock = Clock()
    window.ptt.clock = clock
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["start_listening"]
    clock.t += 1.5  # held for 1.5 s
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["start_listening", "stop_listening"]
    assert not window.ptt.latched


def test_click_toggles_until_the_next_click(qtbot: Any, window: Any, fake: Any) -> None:
    clock = Clock()
    window.ptt.clock = clock
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["start_listening"]
    assert window.ptt.latched
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["start_listening", "stop_listening"]
    assert not window.ptt.latched


def core_says(qtbot: Any, window: Any, state: State) -> None:
    """The core reports its state the way it does in the app: through the bridge."""
    window.bridge(StateChanged(state))
    qtbot.waitUntil(lambda: window.listen.core is state, timeout=3000)


def test_one_click_stops_listening_that_parley_toggle_started(
    qtbot: Any, window: Any, fake: Any
) -> None:
    """`parley toggle` starts listening in the core; the Talk button follows
    the core's state, so one click stops it (it used to take two: the first
    only latched the button's own flag)."""
    clock = Clock()
    window.ptt.clock = clock
    assert window.listen.toggle(fake) == "listening"  # what the control socket runs
    core_says(qtbot, window, State.LISTENING)
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["toggle", "stop_listening"]
    core_says(qtbot, window, State.IDLE)
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)  # and the next click starts
    assert fake.names()[-1] == "start_listening" and window.ptt.latched


def test_one_click_starts_after_a_toggle_stopped_a_click(
    qtbot: Any, window: Any, fake: Any
) -> None:
    """The mirror case: Talk started listening, `parley toggle` stopped it."""
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)
    core_says(qtbot, window, State.LISTENING)
    core_says(qtbot, window, State.IDLE)  # toggled off elsewhere
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["start_listening", "start_listening"]


def test_holding_talk_while_already_listening_talks_until_release(
    qtbot: Any, window: Any, fake: Any
) -> None:
    """Listening already (a toggle, the follow-up after a reply): a hold is
    still hold-to-talk, its release ends the utterance."""
    clock = Clock()
    window.ptt.clock = clock
    core_says(qtbot, window, State.LISTENING)
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == []  # not stopped on press
    clock.t += 1.0
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    assert fake.names() == ["stop_listening"]


def test_keyboard_space_on_the_button(qtbot: Any, window: Any, fake: Any) -> None:
    window.ptt.setFocus()
    qtbot.keyClick(window.ptt, Qt.Key.Key_Space)
    assert fake.names() == ["start_listening"]  # a short press latches, like a click


def test_in_window_shortcut_hold_and_tap(qtbot: Any, window: Any, fake: Any) -> None:
    clock = Clock()
    window.ptt.clock = clock
    ctrl = Qt.KeyboardModifier.ControlModifier
    window.text.setFocus()
    qtbot.keyPress(window.text, Qt.Key.Key_Space, ctrl)
    clock.t += 1.0  # held
    qtbot.keyRelease(window.text, Qt.Key.Key_Space, ctrl)
    assert fake.names() == ["start_listening", "stop_listening"]
    qtbot.keyClick(window.text, Qt.Key.Key_Space, ctrl)  # a tap starts...
    assert fake.names()[-1] == "start_listening" and window.ptt.latched
    qtbot.keyClick(window.text, Qt.Key.Key_Space, ctrl)  # ...and the next tap stops
    assert fake.names()[-1] == "stop_listening"
    assert window.text.text() == ""  # the key never typed a space


def test_hotkey_handler_hold_and_toggle(fake: Any) -> None:
    h = HotkeyHandler(fake, "hold")
    h.press()
    h.press()  # key repeat while held does nothing more
    h.release()
    h.release()
    assert fake.names() == ["start_listening", "stop_listening"]
    fake.calls.clear()
    h.mode = "toggle"
    h.press()
    h.release()
    h.press()
    h.release()
    assert fake.names() == ["toggle", "toggle"]


def test_hotkey_presses_from_the_listener_thread_run_on_the_gui_thread(
    qtbot: Any, window: Any, fake: Any
) -> None:
    """pynput calls back on its own thread; the app delivers through the bridge."""
    h = HotkeyHandler(fake, "hold")
    deliver = window.bridge.run_on_gui
    t = threading.Thread(target=lambda: (deliver(h.press), deliver(h.release)))
    t.start()
    t.join()
    qtbot.waitUntil(lambda: len(fake.calls) == 2, timeout=3000)
    assert fake.names() == ["start_listening", "stop_listening"]
    assert set(fake.threads) == {threading.get_ident()}


def test_wayland_has_no_global_hotkey_and_says_how_to_bind_toggle(monkeypatch: Any) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert "Wayland" in (unavailable_reason() or "")
    help_text = fallback_help("<ctrl>+<alt>+<space>")
    assert "parley toggle" in help_text and "Ctrl+Alt+Space" in help_text
    assert to_display("<ctrl>+<shift>+p") == "Ctrl+Shift+P"


def test_the_shell_says_it_once(qtbot: Any, monkeypatch: Any, parley_home: Any) -> None:
    """Where no global hotkey can work, the first start shows a notice with the
    `parley toggle` instructions; later starts do not repeat it."""
    from PySide6.QtWidgets import QApplication

    from ui.shell import Shell

    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setattr("sys.platform", "linux")
    app = QApplication.instance()
    counts = []
    for _ in range(2):
        shell = Shell(app, control=False, onboarding=False)  # type: ignore[arg-type]
        qtbot.addWidget(shell.window)
        shell._start_hotkey()
        notices = [t for t in shell.window.notices.texts() if "parley toggle" in t]
        counts.append(len(notices))
        assert "parley toggle" in shell.window.hotkey_help
        shell.window.stall.stop()
        shell.bridge.close()
    assert counts == [1, 0]
