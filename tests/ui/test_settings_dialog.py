"""Settings round-trip through the TOML file under PARLEY_HOME; bad values are
refused in place with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant import paths
from assistant.config import load_settings
from ui.settings_dialog import SettingsDialog


def _dialog(qtbot: Any) -> SettingsDialog:
    d = SettingsDialog()
    qtbot.addWidget(d)
    return d


def test_round_trip(qtbot: Any) -> None:
    d = _dialog(qtbot)
    f = d.fields
    f["n_ctx"].widget.setValue(4096)
    f["temperature"].widget.setValue(0.2)
    f["wake_word_enabled"].widget.setChecked(False)
    f["wake_phrase"].widget.setText("hello computer")
    f["theme"].widget.setCurrentIndex(f["theme"].widget.findData("dark"))
    f["hotkey_mode"].widget.setCurrentIndex(f["hotkey_mode"].widget.findData("toggle"))
    f["system_prompt"].widget.setPlainText("Be brief.")
    f["input_device"].set_text("3")
    assert f["stt_engine"].widget.accessibleName() == "Speech engine"
    assert f["stt_engine"].widget.currentData() == "auto"
    f["stt_engine"].widget.setCurrentIndex(f["stt_engine"].widget.findData("pocketsphinx"))
    assert d.save()
    s = load_settings().settings
    assert (s.n_ctx, s.temperature, s.wake_word_enabled, s.wake_phrase) == (
        4096, 0.2, False, "hello computer")
    assert (s.theme, s.hotkey_mode, s.system_prompt, s.input_device, s.stt_engine) == (
        "dark", "toggle", "Be brief.", "3", "pocketsphinx")
    text = paths.config_file().read_text()
    assert "n_ctx = 4096" in text and "follow_up_s" not in text  # only what changed
    assert d.saved == s

    again = _dialog(qtbot)  # a new dialog shows what the file holds
    assert again.fields["n_ctx"].widget.value() == 4096
    assert again.fields["theme"].widget.currentData() == "dark"
    assert not again.fields["wake_word_enabled"].widget.isChecked()
    assert again.fields["input_device"].raw() == 3
    assert again.fields["stt_engine"].widget.currentData() == "pocketsphinx"


def test_hearing_and_voice_settings_restart_the_core() -> None:
    # The core reads them only at start-up (the recogniser, the wake spotter,
    # the voice): saving one of them must start a new core.
    from ui.settings_dialog import TABS
    from ui.shell import CORE_KEYS

    tabs = dict(TABS)
    assert "stt_engine" in tabs["Hearing"]
    assert set(tabs["Hearing"]) | set(tabs["Voice"]) <= CORE_KEYS


def test_invalid_values_are_refused_in_place(qtbot: Any) -> None:
    d = _dialog(qtbot)
    d.show()
    # Numbers are spin boxes: a value out of range cannot be entered at all.
    n_ctx = d.fields["n_ctx"].widget
    assert (n_ctx.minimum(), n_ctx.maximum(), n_ctx.suffix()) == (256, 131072, " tokens")
    n_ctx.setValue(100)
    assert n_ctx.value() == 256
    volume = d.fields["tts_volume"].widget
    assert volume.suffix() == " %" and volume.maximum() == 100
    wake = d.fields["wake_phrase"]
    wake.widget.setText("  ")
    assert not wake.error.isHidden()  # on a tab not shown, but not hidden
    d.fields["hotkey"].widget.setText("ctrl+space")
    assert not d.save()
    assert d.isVisible() and d.saved is None
    assert not paths.config_file().exists()  # nothing written
    assert "2 settings are not valid" in d.problem.text()
    assert "'ctrl' must be one character or a <key name>" in d.problem.text()
    assert "Wake phrase: must not be empty" in d.problem.text()
    # Fixing them makes Save work.
    wake.widget.setText("hey parley")
    d.fields["hotkey"].widget.setText("<ctrl>+<space>")
    volume.setValue(50)
    assert wake.error.isHidden()
    assert d.save()
    assert load_settings().settings.tts_volume == 0.5


def test_plain_words_and_a_fitting_dialog(qtbot: Any) -> None:
    from PySide6.QtWidgets import QLabel

    d = _dialog(qtbot)
    d.show()
    assert d.windowTitle() == "Settings"
    shown = " ".join(w.text() for w in d.findChildren(QLabel))
    for jargon in ("pynput", "true =", "false =", "GGUF metadata"):
        assert jargon not in shown
    combos = [d.fields[k].widget for k in ("hotkey_mode", "theme")]
    assert all(c.itemText(i) not in ("hold", "toggle", "system") for c in combos
               for i in range(c.count()))
    language = d.fields["language"].widget
    assert language.currentText() == "English" and language.currentData() == "en"
    assert d.fields["hotkey"].widget.edit.keySequence().toString() == "Ctrl+Alt+Space"
    assert d.fields["input_device"].widget.isVisible()
    assert not d.mic_meter.isVisible()  # no empty box beside the microphone until a test
    page = d.tabs.currentWidget().widget()
    assert d.width() >= page.sizeHint().width()


def test_a_broken_file_is_never_overwritten(qtbot: Any, parley_home: Path) -> None:
    cfg = paths.config_file()
    cfg.write_text('n_ctx = 4096\nwake_phrase = "unclosed\n', encoding="utf-8")
    before = cfg.read_bytes()
    d = _dialog(qtbot)
    d.fields["n_threads"].widget.setValue(2)
    assert not d.save()
    assert "syntax error" in d.problem.text() and "line 2" in d.problem.text()
    assert cfg.read_bytes() == before


def test_models_are_offered_and_a_path_still_works(qtbot: Any, gguf_path: Path) -> None:
    d = _dialog(qtbot)
    combo = d.fields["llm_model"].widget
    qtbot.waitUntil(lambda: combo.count() > 1, timeout=10000)  # listed off the GUI thread
    ids = [combo.itemData(i) for i in range(combo.count())]
    assert "" in ids and "gemma-3-270m-q4_k_m" in ids
    assert d.fields["llm_model"].raw() == ""  # automatic
    combo.setCurrentIndex(ids.index("gemma-3-270m-q4_k_m"))
    assert d.fields["llm_model"].raw() == "gemma-3-270m-q4_k_m"
    d.fields["llm_model"].set_text(str(gguf_path))  # what Browse… does
    assert d.save()
    assert load_settings().settings.llm_model == str(gguf_path)
    # Built-in speech models are offered as stt_model, but not Moonshine: it is an
    # engine, chosen in the Speech engine field.
    stt = d.fields["stt_model"].widget
    stt_ids = [stt.itemData(i) for i in range(stt.count())]
    assert "pocketsphinx-en-us" in stt_ids and "moonshine-tiny-en" not in stt_ids


def test_recording_a_shortcut_writes_pynput_syntax(qtbot: Any) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QKeySequence

    from ui.settings_dialog import to_pynput

    ctrl_alt = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    assert to_pynput(QKeySequence(ctrl_alt | Qt.Key.Key_Space)) == "<ctrl>+<alt>+<space>"
    assert to_pynput(QKeySequence("Ctrl+Shift+P")) == "<ctrl>+<shift>+p"
    assert to_pynput(QKeySequence("F9")) == "<f9>"
    d = _dialog(qtbot)
    d._recorded(QKeySequence("Ctrl+Shift+K"))
    assert d.fields["hotkey"].raw() == "<ctrl>+<shift>+k"
    assert d.save()
    assert load_settings().settings.hotkey == "<ctrl>+<shift>+k"


def test_voices_are_offered_by_name(qtbot: Any) -> None:
    """Opening the Voice tab lists the speech engine's voices for the language
    (eSpeak NG here), by name; the chosen one is saved by its id."""
    d = _dialog(qtbot)
    d.show()
    combo = d.fields["tts_voice"].widget
    assert combo.count() == 1 and combo.currentText() == "System default"
    d.tabs.setCurrentIndex([d.tabs.tabText(i) for i in range(d.tabs.count())].index("Voice"))
    qtbot.waitUntil(lambda: d._voices is not None and d._voices.done.is_set(), timeout=30000)
    qtbot.waitUntil(lambda: combo.count() > 1, timeout=2000)
    names = [combo.itemText(i) for i in range(1, combo.count())]
    assert any("English" in n for n in names), names[:10]
    english = next(i for i in range(1, combo.count()) if "English" in combo.itemText(i))
    combo.setCurrentIndex(english)
    assert d.save()
    assert load_settings().settings.tts_voice == combo.itemData(english)


def test_temperature_is_automatic_by_default_and_one_step_leaves_it(qtbot: Any) -> None:
    """Below 0 the temperature is the model family's (measured); the box shows
    it as one value, Automatic, not as -1.00 ... -0.10."""
    box = _dialog(qtbot).fields["temperature"].widget
    assert box.value() == -1.0 and box.text() == "Automatic"
    box.stepUp()
    assert box.value() == 0.0
    box.stepDown()
    assert box.value() == -1.0 and box.text() == "Automatic"
