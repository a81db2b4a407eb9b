"""The app as people use it, with the real core (rules, history, timers, no
language model, no microphone): what each state shows, checked in the widgets,
and a screenshot of each screen saved for people to look at.

Screenshots go to $PARLEY_ARTEFACTS (CI keeps that folder), else to
./test-artifacts/screens (git-ignored).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.config import load_settings, update_settings
from assistant.events import ReplyDone, State

ROOT = Path(__file__).resolve().parents[2]


def artefacts() -> Path:
    folder = Path(os.environ.get("PARLEY_ARTEFACTS") or ROOT / "test-artifacts") / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot(widget: Any, name: str) -> Path:
    from PySide6.QtWidgets import QApplication

    QApplication.processEvents()
    path = artefacts() / f"{name}.png"
    assert widget.grab().save(str(path), "PNG"), f"could not save {path}"
    return path


class NoMic:
    """A microphone that is not there: start() fails as MicSource's does."""

    def start(self) -> None:
        from assistant.audio.capture import NoInputDevice

        raise NoInputDevice()

    def stop(self) -> None:
        pass

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        raise AssertionError("never read: start failed")


@pytest.fixture
def app_without_mic(qtbot: Any) -> Any:
    from PySide6.QtWidgets import QApplication

    from ui.controller import CoreOptions
    from ui.shell import Shell

    update_settings({"use_llm": False})
    shell = Shell(
        QApplication.instance(),  # type: ignore[arg-type]
        CoreOptions(speak=False, source_factory=lambda _s: NoMic()),
        control=False, onboarding=False, global_hotkey=False,
    )
    qtbot.addWidget(shell.window)
    shown: list[State] = []
    shell.window.listen.changed.connect(shown.append)
    shell.shown_states = shown
    shell.start()
    qtbot.waitUntil(shell.controller.ready.is_set, timeout=60000)
    qtbot.waitUntil(lambda: not shell.window.ptt.isEnabled(), timeout=10000)
    yield shell
    shell.shutdown()


def _say(qtbot: Any, shell: Any, text: str, replies: list[ReplyDone]) -> ReplyDone:
    n = len(replies)
    shell.window.text.setText(text)
    shell.window.send.click()
    qtbot.waitUntil(lambda: len(replies) > n, timeout=30000)
    # The turn is over once the core leaves Thinking: shots show the state at rest.
    qtbot.waitUntil(lambda: shell.window.listen.shown is State.IDLE, timeout=5000)
    return replies[-1]


def test_the_app_without_a_microphone(qtbot: Any, app_without_mic: Any) -> None:
    shell = app_without_mic
    w = shell.window
    replies: list[ReplyDone] = []
    shell.bridge.reply_done.connect(replies.append)
    w.resize(1000, 700)

    # No microphone: said once, in the notice bar; Talk is off; nothing says Listening.
    assert any("microphone" in t.lower() for t in w.notices.texts())
    assert not any(b.role == "notice" for b in w.transcript.bubbles)
    w.listen.set_core(State.LISTENING)  # the voice loop's follow-up window, on a silent source
    assert "Listening" not in w.state_label.text()
    assert w.listen.toggle(shell.controller).startswith("cannot listen")
    assert "hold Talk" not in w.statusBar().currentMessage()
    shot(w, "main-no-microphone")

    # A tool action: one bubble, Parley's, with the tool's icon.
    before = len(w.transcript.bubbles)
    _say(qtbot, shell, "take a note buy milk", replies)
    new = w.transcript.bubbles[before:]
    assert [b.role for b in new] == ["user", "assistant"]
    assert new[1].tag.isVisible() and "Notes" in new[1].tag.text()

    # A timer: listed with its time left, then a bubble that stays and the shell's notification.
    finished: list[str] = []
    w.timer_finished.connect(finished.append)
    _say(qtbot, shell, "set a timer for 3 seconds", replies)
    qtbot.waitUntil(lambda: bool(w.timers.rows), timeout=5000)
    assert "left" in w.timers.rows[0].left.text()
    shot(w, "timer-running")
    qtbot.waitUntil(lambda: bool(finished), timeout=15000)
    assert w.transcript.bubbles[-1].role == "assistant"
    assert "timer" in w.transcript.bubbles[-1].text().lower()
    qtbot.waitUntil(lambda: not w.timers.rows, timeout=5000)
    shot(w, "timer-finished")

    # A consequential tool: the question in plain words.
    _say(qtbot, shell, "delete the note buy milk", replies)
    qtbot.waitUntil(w.confirm.isVisible, timeout=5000)
    assert w.confirm.title.text() == "Delete the note 'buy milk'?"
    assert "Thinking" not in w.state_label.text()  # Parley waits for the user, not the reverse
    assert not w.stop.isEnabled()
    shot(w, "confirm")
    w.confirm.no.click()

    assert State.LISTENING not in shell.shown_states


def test_settings_and_wizard_screens(qtbot: Any) -> None:
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(load_settings().settings)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.windowTitle() == "Settings"
    for i in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(i)
        shot(dialog, f"settings-{i + 1}-{dialog.tabs.tabText(i).lower().replace(' ', '-')}")


def test_first_run_wizard(qtbot: Any, app_without_mic: Any) -> None:
    from PySide6.QtCore import Qt

    shell = app_without_mic
    again = next(a for a in shell.window.help_menu.actions() if "set-up again" in a.text())
    again.trigger()  # Help > Run set-up again
    wizard = shell.onboarding
    qtbot.waitUntil(wizard.isVisible, timeout=5000)
    names = ["welcome", "microphone", "models", "hotkey", "say-hello"]
    for i, name in enumerate(names):
        page = wizard.currentPage()
        if page is wizard.mic:  # no microphone: one clear message, no live-looking meter
            qtbot.waitUntil(lambda: "No microphone" in wizard.mic.status.text(), timeout=10000)
            assert not wizard.mic.meter.isEnabled()
        if page is wizard.models_page:  # plain names and sizes, no [stt, en-us] codes
            items = [page.list.item(j).text() for j in range(page.list.count())]
            assert not any("[" in t for t in items)
            assert not any("Korean" in t for t in items)  # an English user sees English
            assert "★ recommended" in page.list.currentItem().text()
        if page is wizard.hotkey_page:  # the same key-capture field as Settings
            assert page.hotkey.edit.keySequence().toString() == "Ctrl+Alt+Space"
        shot(wizard, f"wizard-{i + 1}-{name}")
        if i < len(names) - 1:
            wizard.skip_page()  # every page can be skipped
    talk = wizard.talk
    assert not talk.ptt.isEnabled()  # no microphone: Talk is off here too
    assert talk.text.placeholderText() == "Type here and press Enter"  # not "or type"
    talk.text.setText("what time is it")
    qtbot.keyClick(talk.text, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(talk.exchange.bubbles) >= 2, timeout=30000)
    assert wizard.isVisible()  # Enter sent the message; it did not close the wizard
    assert talk.exchange.bubbles[0].text() == "what time is it"
    shot(wizard, "wizard-5-say-hello-answered")
    wizard.accept()


def test_help_menu(qtbot: Any, window: Any) -> None:
    titles = [a.text() for a in window.help_menu.actions() if a.text()]
    assert any("What can I say" in t for t in titles)
    assert any("set-up again" in t for t in titles)
    assert any("About" in t for t in titles)
    window.show_examples()
    text = window.examples_window.body.text()
    assert "set a timer for 5 minutes" in text and "take a note buy milk" in text
    assert "Delete one note (Parley asks you first)" in text  # from the tools themselves
    shot(window.examples_window, "help-what-can-i-say")
    window.show_about()
    about = window.about_window.body.text()
    assert "Parley" in about and "Gemma 3 270M" in about and "Apache-2.0" in about
    shot(window.about_window, "help-about")
    # Developer tools are hidden unless asked for.
    assert not window.hard_cases_action.isVisible() and not window.latency_toggle.isVisible()
