"""The app with what users really lack: no microphone, a model file that is not
there. The window says why, in words, and typing still works."""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.config import load_settings, update_settings
from assistant.events import Error, ReplyDone


class NoMic:
    """A microphone that is not there: start() fails as MicSource's does."""

    def start(self) -> None:
        from assistant.audio.capture import NoInputDevice

        raise NoInputDevice()

    def stop(self) -> None:
        pass

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        raise AssertionError("never read: start failed")


def test_no_microphone_and_a_missing_model(qtbot: Any) -> None:
    from ui.bridge import Bridge
    from ui.controller import Controller, CoreOptions
    from ui.main_window import MainWindow

    update_settings({"llm_model": "/nonexistent/model.gguf"})
    bridge = Bridge()
    controller = Controller(bridge, CoreOptions(speak=False, source_factory=lambda _s: NoMic()))
    window = MainWindow(controller, bridge, load_settings().settings)
    qtbot.addWidget(window)
    errors: list[Error] = []
    done: list[ReplyDone] = []
    bridge.error.connect(errors.append)
    bridge.reply_done.connect(done.append)
    controller.start()
    try:
        qtbot.waitUntil(controller.ready.is_set, timeout=60000)
        qtbot.waitUntil(lambda: any(e.code == "no_microphone" for e in errors), timeout=5000)
        notices = window.notices.texts()  # one line above the conversation, not a bubble
        assert sum("microphone" in t.lower() for t in notices) == 1
        assert not any(b.role == "notice" for b in window.transcript.bubbles)
        assert not window.ptt.isEnabled()
        assert "cannot listen" in window.ptt.toolTip()

        window.text.setText("what is two plus two")  # typing still works
        window.send.click()
        qtbot.waitUntil(lambda: len(done) == 1, timeout=30000)
        assert "4" in done[0].text
        window.text.setText("tell me a story")
        window.send.click()
        qtbot.waitUntil(lambda: len(done) == 2, timeout=30000)
        assert any(e.code == "model_missing" for e in errors)
        # The real cause: a wrong path in the settings, not a model to download.
        model_notices = [t for t in window.notices.texts() if "/nonexistent/model.gguf" in t]
        assert len(model_notices) == 1
        assert "does not exist" in model_notices[0] and "Settings" in model_notices[0]
        assert "models pull" not in model_notices[0]
        assert not any(b.tag.text() for b in window.transcript.bubbles if b.role == "user")
    finally:
        controller.close()
        bridge.close()
        window.stall.stop()
