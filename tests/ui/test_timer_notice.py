"""A finished timer is noticed: a bubble that stays, the desktop notification
(the tray's message) and a chime, heard on a real (virtual) speaker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.config import update_settings
from assistant.events import ReplyDone


class NoMic:
    def start(self) -> None:
        from assistant.audio.capture import NoInputDevice

        raise NoInputDevice()

    def stop(self) -> None:
        pass

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        raise AssertionError("never read: start failed")


class TrayRecorder:
    """Stands in for the tray icon (there is no system tray offscreen)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def showMessage(self, title: str, text: str, *_rest: Any) -> None:  # noqa: N802 (Qt's name)
        self.messages.append((title, text))

    def hide(self) -> None:
        pass


def test_a_finished_timer_gives_a_bubble_a_notification_and_a_chime(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QApplication

    import ui.chime
    from ui.controller import CoreOptions
    from ui.shell import Shell

    chimes: list[str] = []
    monkeypatch.setattr(ui.chime, "play_chime", lambda device="": chimes.append(device))
    update_settings({"use_llm": False})
    shell = Shell(
        QApplication.instance(),  # type: ignore[arg-type]
        CoreOptions(speak=False, source_factory=lambda _s: NoMic()),
        control=False, onboarding=False, global_hotkey=False,
    )
    qtbot.addWidget(shell.window)
    shell.start()
    tray = TrayRecorder()
    shell.tray = tray
    replies: list[ReplyDone] = []
    shell.bridge.reply_done.connect(replies.append)
    try:
        qtbot.waitUntil(shell.controller.ready.is_set, timeout=60000)
        w = shell.window
        w.text.setText("set a timer for 2 seconds")
        w.send.click()
        qtbot.waitUntil(lambda: bool(replies), timeout=30000)
        qtbot.waitUntil(lambda: bool(tray.messages), timeout=15000)
        title, text = tray.messages[0]
        assert title == "Parley" and "timer" in text.lower() and "done" in text.lower()
        assert chimes == [shell.settings.output_device]
        bubble = w.transcript.bubbles[-1]
        assert bubble.role == "assistant" and bubble.text() == text and bubble.property("timer")
        qtbot.wait(3000)  # the bubble stays (a status-bar line would be gone by now)
        assert bubble in w.transcript.bubbles and bubble.isVisible()
        assert w.statusBar().currentMessage() != text
    finally:
        shell.shutdown()


def test_the_chime_is_two_soft_notes() -> None:
    from ui.chime import RATE, chime

    wave = chime()
    assert wave.dtype == np.float32 and 0.1 < np.abs(wave).max() < 0.9
    assert 0.7 < len(wave) / RATE < 1.2
    first = np.abs(np.fft.rfft(wave[: RATE // 4]))
    assert abs(np.argmax(first) * RATE / (RATE // 4) - 1318.5) < 10


@pytest.fixture
def virtual_speaker() -> Iterator[Any]:
    from assistant.audio import devices
    from assistant.audio.virtual import PulseServer, missing_tools

    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: pulseaudio, pulseaudio-utils)")
    server = PulseServer().start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    devices.refresh()
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()
        devices.refresh()


def test_the_chime_is_heard_on_the_speaker(virtual_speaker: Any, tmp_path: Path) -> None:
    from ui.chime import play_chime

    rec = virtual_speaker.record_speaker(tmp_path / "chime.wav", rate=16000)
    time.sleep(0.2)
    play_chime("pulse").join(timeout=10)
    time.sleep(0.3)
    heard = rec.samples().astype(np.float32) / 32768.0
    loud = heard[np.abs(heard) > 0.02]
    assert len(loud) > 1600, "less than 0.1 s of the chime reached the speaker"
    spectrum = np.abs(np.fft.rfft(heard))
    peak_hz = np.argmax(spectrum) * 16000 / len(heard)
    assert 1000 < peak_hz < 1400  # one of the two notes, not noise
