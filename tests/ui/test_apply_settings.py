"""Saving settings in the running app: the theme applies at once; a setting the
core reads at start-up restarts the core (off the GUI thread) and the next
turn uses it."""

from __future__ import annotations

from typing import Any

from assistant.config import load_settings, update_settings
from assistant.events import ReplyDone, UserTurn


def test_core_restarts_with_new_settings(qtbot: Any) -> None:
    from PySide6.QtWidgets import QApplication

    from ui import theme
    from ui.controller import CoreOptions, SilentSource
    from ui.shell import Shell

    update_settings({"use_llm": False})
    app = QApplication.instance()
    options = CoreOptions(speak=False, source_factory=lambda _s: SilentSource())
    shell = Shell(app, options, control=False, onboarding=False, global_hotkey=False)  # type: ignore[arg-type]
    qtbot.addWidget(shell.window)
    done: list[ReplyDone] = []
    users: list[UserTurn] = []
    shell.bridge.reply_done.connect(done.append)
    shell.bridge.user_turn.connect(users.append)
    assert shell.start()
    try:
        first = shell.controller
        qtbot.waitUntil(first.ready.is_set, timeout=60000)
        shell.window.text.setText("what is two plus two")
        shell.window.send.click()
        qtbot.waitUntil(lambda: len(done) == 1, timeout=30000)

        update_settings({"theme": "dark", "min_confidence": 0.5})
        shell.apply_settings(load_settings().settings)
        assert theme.is_dark(app.palette())
        second = shell.controller
        assert second is not first and shell.window.controller is second
        qtbot.waitUntil(second.ready.is_set, timeout=60000)
        assert second.session.settings.min_confidence == 0.5
        assert first.closed
        shell.window.text.setText("what is three plus three")
        shell.window.send.click()
        qtbot.waitUntil(lambda: len(done) == 2, timeout=30000)
        assert "6" in done[1].text
        assert users[1].conversation_id == users[0].conversation_id  # the conversation goes on
    finally:
        shell.shutdown()
        theme.apply_theme(app, "system")
