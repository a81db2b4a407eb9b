"""State rules, with the real core (rules, history, timers; no language model,
no microphone): what every indicator shows follows one listening state, and
the conversation list and pane always show the same conversation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from assistant.config import update_settings
from assistant.events import ReplyDone, State


class NoMic:
    def start(self) -> None:
        from assistant.audio.capture import NoInputDevice

        raise NoInputDevice()

    def stop(self) -> None:
        pass

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        raise AssertionError("never read: start failed")


def _shell(qtbot: Any, new_conversation: bool = False) -> Any:
    from PySide6.QtWidgets import QApplication

    from ui.controller import CoreOptions
    from ui.shell import Shell

    shell = Shell(
        QApplication.instance(),  # type: ignore[arg-type]
        CoreOptions(speak=False, source_factory=lambda _s: NoMic(),
                    new_conversation=new_conversation),
        control=False, onboarding=False, global_hotkey=False,
    )
    qtbot.addWidget(shell.window)
    replies: list[ReplyDone] = []
    shell.bridge.reply_done.connect(replies.append)
    shell.replies = replies
    shell.start()
    qtbot.waitUntil(shell.controller.ready.is_set, timeout=60000)
    qtbot.waitUntil(lambda: not shell.window.ptt.isEnabled(), timeout=10000)
    return shell


def _say(qtbot: Any, shell: Any, text: str) -> ReplyDone:
    n = len(shell.replies)
    shell.window.text.setText(text)
    shell.window.send.click()
    qtbot.waitUntil(lambda: len(shell.replies) > n, timeout=30000)
    return shell.replies[-1]


def _current_id(window: Any) -> int:
    from PySide6.QtCore import Qt

    item = window.conversations.currentItem()
    return int(item.data(Qt.ItemDataRole.UserRole)) if item is not None else 0


@pytest.fixture(autouse=True)
def _no_model() -> None:
    update_settings({"use_llm": False})


def test_no_microphone_means_never_listening(qtbot: Any) -> None:
    shell = _shell(qtbot)
    w = shell.window
    try:
        shown: list[State] = []
        w.listen.changed.connect(shown.append)
        # The core says "listening" (as after a spoken reply): no microphone, so never shown.
        _say(qtbot, shell, "what is two plus two")
        w.set_state(State.LISTENING)
        assert State.LISTENING not in shown
        assert "Listening" not in w.state_label.text()
        assert not w.ptt.property("live")
        # `parley toggle` and the Talk menu give the same, true answer.
        answer = shell._control("toggle")
        assert answer.startswith("cannot listen") and "microphone" in answer.lower()
        assert shell._control("start").startswith("cannot listen")
        w.toggle_listening()
        assert w.statusBar().currentMessage().startswith("Cannot listen")
        assert "hold Talk" not in w.statusBar().currentMessage()
        # The microphone comes back: now the state is shown as it is.
        w.set_can_listen(True)
        w.set_state(State.LISTENING)
        assert "Listening" in w.state_label.text()
    finally:
        shell.shutdown()


def test_list_and_pane_show_the_same_conversation(qtbot: Any) -> None:
    from PySide6.QtCore import Qt

    first = _shell(qtbot)
    _say(qtbot, first, "take a note buy milk")
    first_id = first.window.shown_conversation
    first.shutdown()
    second = _shell(qtbot, new_conversation=True)
    _say(qtbot, second, "what is two plus two")
    second_id = second.window.shown_conversation
    second.shutdown()
    assert first_id and second_id and first_id != second_id

    # Relaunch: the newest conversation is highlighted and shown, at once.
    shell = _shell(qtbot)
    w = shell.window
    try:
        qtbot.waitUntil(lambda: w.shown_conversation == second_id, timeout=5000)
        assert _current_id(w) == second_id
        assert [b.text() for b in w.transcript.bubbles][0] == "what is two plus two"

        # A right click on the other one shows it too (highlight and pane never differ).
        row = next(i for i in range(w.conversations.count())
                   if w.conversations.item(i).data(Qt.ItemDataRole.UserRole) == first_id)
        rect = w.conversations.visualItemRect(w.conversations.item(row))
        qtbot.mouseClick(w.conversations.viewport(), Qt.MouseButton.RightButton,
                         pos=rect.center())
        assert _current_id(w) == first_id == w.shown_conversation
        assert shell.controller.conversation_id() == first_id
        # A stored tool action reads as a conversation: no audit rows, the icon on the reply.
        roles = [b.role for b in w.transcript.bubbles]
        assert roles == ["user", "assistant"]
        assert "Notes" in w.transcript.bubbles[1].tag.text()
        assert w.transcript.bubbles[1].text() == "Noted: buy milk."
    finally:
        shell.shutdown()


def test_the_timers_panel_cancels(qtbot: Any) -> None:
    shell = _shell(qtbot)
    w = shell.window
    try:
        _say(qtbot, shell, "set a timer for 10 minutes")
        qtbot.waitUntil(lambda: len(w.timers.rows) == 1, timeout=5000)
        row = w.timers.rows[0]
        assert "10 min" in row.title.text() and row.left.text().startswith(("9:5", "10:00"))
        row.cancel.click()
        assert not w.timers.rows and not w.timers.isVisible()
        assert shell.controller.pending_timers() == []
    finally:
        shell.shutdown()


def test_the_tray_follows_the_same_state(qtbot: Any, window: Any) -> None:
    from ui.tray import Tray

    tray = Tray(window, window.toggle_listening, lambda: None)
    window.listen.changed.connect(lambda s: tray.set_state(s, window.listen.can_listen))
    window.set_state(State.LISTENING)
    assert tray.listen_action.text() == "Stop listening"
    window.set_can_listen(False, "No microphone found.")
    assert tray.listen_action.text() == "Listen" and not tray.listen_action.isEnabled()
    assert tray.toolTip() == "Parley: cannot listen"
