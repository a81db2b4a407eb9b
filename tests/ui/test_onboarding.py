"""First-run onboarding: bad model files are refused with the reason; Finish
writes the choices; the app runs it only once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.config import load_settings
from ui.onboarding import Onboarding, check_gguf, check_vosk


def test_model_files_are_checked(tmp_path: Path, gguf_path: Path) -> None:
    assert check_gguf(str(gguf_path)) is None
    txt = tmp_path / "notes.gguf"
    txt.write_text("hello")
    assert "not a GGUF model" in (check_gguf(str(txt)) or "")
    assert "is not a file" in (check_gguf(str(tmp_path / "missing.gguf")) or "")
    assert "is not a folder" in (check_vosk(str(txt)) or "")
    empty = tmp_path / "empty-model"
    empty.mkdir()
    assert "does not look like a Vosk model" in (check_vosk(str(empty)) or "")
    (empty / "am").mkdir()
    assert check_vosk(str(empty)) is None


def test_finish_writes_the_choices(qtbot: Any, fake: Any, window: Any) -> None:
    s = load_settings().settings
    w = Onboarding(fake, window.bridge, s, window)
    qtbot.addWidget(w)
    w.mic.device.setEditText("7")
    w.hotkey_page.hotkey.setText("<ctrl>+<shift>+p")
    w.hotkey_page.mode.setCurrentIndex(1)
    w.accept()
    saved = load_settings().settings
    assert (saved.input_device, saved.hotkey, saved.hotkey_mode) == ("7", "<ctrl>+<shift>+p",
                                                                     "toggle")
    assert w.saved == saved


def test_a_bad_hotkey_is_refused(qtbot: Any, fake: Any, window: Any) -> None:
    w = Onboarding(fake, window.bridge, load_settings().settings, window)
    qtbot.addWidget(w)
    w.hotkey_page.hotkey.setText("<ctrl>+<nonsense>")
    assert not w.hotkey_page.validatePage()
    assert "not a key name pynput knows" in w.hotkey_page.error.text()


def test_first_talk_page_sends_typed_text(qtbot: Any, fake: Any, window: Any) -> None:
    w = Onboarding(fake, window.bridge, load_settings().settings, window)
    qtbot.addWidget(w)
    w.talk.text.setText("what time is it")
    w.talk.submit()
    assert fake.calls[-1] == ("submit_text", "what time is it")


def test_onboarding_runs_on_first_start_only(qtbot: Any, parley_home: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from ui.shell import ONBOARDED_FLAG, Shell, flag_path

    shells, wizards = [], []
    for _ in range(2):
        shell = Shell(QApplication.instance(), control=False, global_hotkey=False)  # type: ignore[arg-type]
        shell.controller.start = lambda: None  # type: ignore[method-assign]
        qtbot.addWidget(shell.window)
        assert shell.start()
        shells.append(shell)
        wizard = shell.onboarding
        wizards.append(wizard)
        if wizard is not None:
            wizard.reject()  # "Skip setup"
            assert shell.onboarding is None  # closed: Help can open a new one
    assert wizards[0] is not None and wizards[1] is None
    assert flag_path(ONBOARDED_FLAG).exists()
    for s in shells:
        s.shutdown()


def test_the_models_page_follows_the_language(qtbot: Any, fake: Any, window: Any) -> None:
    w = Onboarding(fake, window.bridge, load_settings().settings, window)
    qtbot.addWidget(w)
    page = w.models_page
    assert page.language_box.currentData() == "en"  # the settings' language (no desktop locale)

    def listed() -> list[str]:
        return [page.list.item(i).text() for i in range(page.list.count())]

    assert any("Moonshine" in t for t in listed()) and not any("German" in t for t in listed())
    page.language_box.setCurrentIndex(page.language_box.findData("de"))
    assert any("German" in t and "★ recommended" in t for t in listed())
    assert not any("Moonshine" in t for t in listed())
    assert page.validatePage() and page.changes["language"] == "de"  # Next keeps it
    page.changes.pop("language")
    w.restart()
    w.next(), w.next()  # welcome, microphone -> models
    assert w.currentPage() is page
    w.skip_page()  # Skip this step keeps the language as it was
    w.accept()
    assert load_settings().settings.language == "en"
