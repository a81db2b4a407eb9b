"""Settings dialog, built from `assistant.config.SPECS` (help text, ranges,
choices), writing the TOML file through `update_settings` (comments kept,
backup made, atomic).

Every field is checked with `validate_value` as the user types; a bad value is
refused in place: the field is marked, the reason shows under it, and Save
does nothing but point at it. Only changed keys are written.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from assistant import paths
from assistant.config import SPECS, ConfigError, Settings, load_settings, update_settings
from assistant.config import validate_value as _validate
from ui.hotkey_field import HotkeyField, to_pynput

__all__ = ["SettingsDialog", "to_pynput"]

TABS: list[tuple[str, list[str]]] = [
    (
        "Hearing",
        [
            "input_device",
            "wake_word_enabled",
            "wake_phrase",
            "follow_up_s",
            "turn_wait_s",
            "headphones",
            "stt_engine",
            "stt_model",
            "language",
        ],
    ),
    ("Voice", ["output_device", "tts_voice", "tts_rate", "tts_volume"]),
    ("Language model", ["use_llm", "llm_model", "system_prompt", "max_tokens"]),
    (
        "Desktop",
        [
            "hotkey",
            "hotkey_mode",
            "theme",
            "close_to_tray",
            "confirm_timeout_s",
            "typed_confirm_timeout_s",
        ],
    ),
    (
        "Advanced",
        [
            "temperature",
            "n_ctx",
            "n_threads",
            "n_gpu_layers",
            "chat_template",
            "min_confidence",
            "developer",
        ],
    ),
]
TABS = [(t, [k for k in keys if k in SPECS]) for t, keys in TABS]  # settings this core has

LABELS = {
    "input_device": "Microphone",
    "output_device": "Speaker",
    "wake_word_enabled": "Wake word",
    "wake_phrase": "Wake phrase",
    "follow_up_s": "Keep listening after a reply",
    "turn_wait_s": "Wait through pauses",
    "headphones": "Headphones",
    "stt_engine": "Speech engine",
    "stt_model": "Speech model",
    "language": "Language",
    "min_confidence": "Ask again when unsure below",
    "tts_voice": "Voice",
    "tts_rate": "Speed",
    "tts_volume": "Volume",
    "llm_model": "Model",
    "system_prompt": "Instructions",
    "n_ctx": "Memory (context)",
    "n_threads": "Processor threads",
    "n_gpu_layers": "GPU layers",
    "max_tokens": "Longest reply",
    "temperature": "Creativity",
    "chat_template": "Prompt format",
    "use_llm": "Language model",
    "hotkey": "Push-to-talk hotkey",
    "hotkey_mode": "The hotkey works by",
    "theme": "Colours",
    "close_to_tray": "Closing the window",
    "confirm_timeout_s": "Time to answer yes or no",
    "typed_confirm_timeout_s": "… when you typed the request",
    "developer": "Developer tools",
}

HELP = {
    "input_device": "The microphone Parley listens to.",
    "output_device": "Where Parley's voice and the timer chime play.",
    "wake_word_enabled": "Start listening when you say the wake phrase.",
    "wake_phrase": "The words that make Parley listen, for example “hey parley”.",
    "follow_up_s": "After a reply you can go on talking without the wake phrase.",
    "turn_wait_s": "How long Parley waits when you pause in the middle of a request.",
    "headphones": "With headphones Parley cannot hear itself, so you can interrupt it "
    "at any moment.",
    "stt_engine": "Which speech recogniser turns your voice into words.",
    "stt_model": "The model the recogniser uses (get more with Help > Run set-up again).",
    "language": "The language you speak to Parley.",
    "min_confidence": "When the recogniser is less sure than this, Parley asks again.",
    "tts_voice": "Parley's voice.",
    "tts_rate": "How fast Parley speaks.",
    "tts_volume": "How loud Parley speaks.",
    "llm_model": "The model that answers open questions.",
    "system_prompt": "What the language model is told before every conversation.",
    "n_ctx": "How much of the conversation the model keeps in mind. More uses more memory.",
    "n_threads": "Processor cores the model may use (Automatic: as many as there are).",
    "n_gpu_layers": "Parts of the model that run on the graphics card (0: none).",
    "max_tokens": "Replies stop after about this many words.",
    "temperature": "Low: the likeliest answer every time. High: more varied answers. "
    "Automatic: what measured best for the model's kind.",
    "chat_template": "How prompts are laid out for the model.",
    "use_llm": "Off: Parley answers only its built-in requests (time, timers, notes, sums).",
    "hotkey": "Click the box, then press the keys to hold anywhere on the desktop.",
    "close_to_tray": "Parley keeps running in the tray when you close its window.",
    "confirm_timeout_s": "Before Parley deletes or opens something it asks first; "
    "no answer in this time means no.",
    "typed_confirm_timeout_s": "Typing an answer takes longer than saying it.",
    "developer": "Reply timings and the list of hard cases.",
}

CHOICES = {
    "hotkey_mode": {
        "hold": "Holding the keys while you talk",
        "toggle": "Pressing once to start and again to stop",
    },
    "theme": {"system": "Same as the system", "light": "Light", "dark": "Dark"},
    "stt_engine": {
        "auto": "Automatic (the best for your language)",
        "moonshine": "Moonshine",
        "pocketsphinx": "PocketSphinx",
        "vosk": "Vosk",
    },
    "chat_template": {
        "": "Automatic (from the model file)",
        "gemma": "Gemma",
        "chatml": "ChatML",
        "llama3": "Llama 3",
        "plain": "Plain text",
    },
}

CHECK_TEXT = {
    "use_llm": "Answer open questions with the language model",
    "wake_word_enabled": "Listen for the wake phrase",
    "headphones": "I use headphones",
    "close_to_tray": "Keeps Parley in the tray",
    "developer": "Show developer tools",
}

UNITS = {
    "follow_up_s": (" s", 1),
    "turn_wait_s": (" s", 1),
    "confirm_timeout_s": (" s", 0),
    "typed_confirm_timeout_s": (" s", 0),
    "tts_rate": (" words a minute", 0),
    "tts_volume": (" %", 0),
    "n_ctx": (" tokens", 0),
    "n_threads": ("", 0),
    "n_gpu_layers": ("", 0),
    "max_tokens": (" tokens", 0),
    "temperature": ("", 2),
    "min_confidence": (" %", 0),
}
SPECIAL = {"n_threads": "Automatic", "n_gpu_layers": "All", "temperature": "Automatic"}
PERCENT = {"tts_volume", "min_confidence"}
"""Stored as 0..1, shown as 0..100 %."""

LANGUAGES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ru": "Russian",
    "uk": "Ukrainian",
    "pl": "Polish",
    "tr": "Turkish",
    "ar": "Arabic",
    "fa": "Persian",
    "hi": "Hindi",
    "zh": "Chinese",
    "ja": "Japanese",
    "ko": "Korean",
    "vi": "Vietnamese",
    "sv": "Swedish",
    "cs": "Czech",
    "ca": "Catalan",
    "el": "Greek",
}


AUTOMATIC = {
    "tts_voice": "System default",
    "llm_model": "Automatic (the built-in model)",
    "stt_model": "Automatic (the best installed)",
}


def parse_text(key: str, text: str) -> object:
    """The typed text as the setting's type, when it reads as one (else the text,
    which validate_value then refuses with its reason)."""
    spec = SPECS[key]
    t = text.strip()
    try:
        if spec.type is int:
            return int(t)
        if spec.type is float:
            return float(t)
    except ValueError:
        return text
    if spec.index_ok and t.isdigit():
        return int(t)
    return text


class Field:
    """One setting's editor, its error label and its check."""

    def __init__(self, key: str, value: object, parent: QWidget) -> None:
        self.key = key
        self.spec = SPECS[key]
        self.initial = value
        self.error = QLabel(parent)
        self.error.setObjectName(f"error_{key}")
        self.error.setStyleSheet("color: #d93025;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.widget: Any
        spec = self.spec
        if spec.type is bool:
            self.widget = QCheckBox(CHECK_TEXT.get(key, ""), parent)
            self.widget.setChecked(bool(value))
            self.widget.toggled.connect(lambda _v: self.check())
        elif spec.choices:
            self.widget = QComboBox(parent)
            names = CHOICES.get(key, {})
            for c in spec.choices:
                self.widget.addItem(names.get(c, c.capitalize() if c else "Automatic"), c)
            self.widget.setCurrentIndex(max(0, spec.choices.index(str(value))))
            self.widget.currentIndexChanged.connect(lambda _i: self.check())
        elif key == "hotkey":
            self.widget = HotkeyField(str(value), parent)
            self.widget.changed.connect(lambda _t: self.check())
        elif key == "language":
            self.widget = QComboBox(parent)
            for code, name in sorted(LANGUAGES.items(), key=lambda kv: kv[1]):
                self.widget.addItem(name, code)
            if self.widget.findData(str(value)) < 0:
                self.widget.addItem(str(value), str(value))  # a code we have no name for
            self.widget.setCurrentIndex(self.widget.findData(str(value)))
            self.widget.currentIndexChanged.connect(lambda _i: self.check())
        elif spec.type in (int, float):
            suffix, decimals = UNITS.get(key, ("", 0 if spec.type is int else 2))
            scale = 100.0 if key in PERCENT else 1.0
            if spec.type is int:
                self.widget = QSpinBox(parent)
            else:
                self.widget = QDoubleSpinBox(parent)
                self.widget.setDecimals(decimals)
                self.widget.setSingleStep(0.1 if decimals else 1.0)
            kind = int if spec.type is int else float
            low = spec.minimum * scale if spec.minimum is not None else -1_000_000
            high = spec.maximum * scale if spec.maximum is not None else 1_000_000
            self.widget.setRange(kind(low), kind(high))
            self.widget.setSuffix(suffix)
            self.widget.setValue(kind(value * scale))  # type: ignore[operator]
            self.widget.valueChanged.connect(lambda _v: self.check())
            self.widget.setMinimumWidth(160)
            if key in SPECIAL:  # the minimum means something of its own
                self.widget.setSpecialValueText(SPECIAL[key])
            if key == "temperature":  # every value below 0 is Automatic: one step leaves it
                self.widget.valueChanged.connect(self._snap_automatic)
        elif key == "system_prompt":
            self.widget = QPlainTextEdit(str(value), parent)
            self.widget.setTabChangesFocus(True)  # Tab leaves the box, for keyboard users
            self.widget.setFixedHeight(90)
            # Fixed, not the text box's Expanding: the form would give this row
            # the tab's free height and float the hint far below the box.
            self.widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            self.widget.textChanged.connect(self.check)
        elif key in ("input_device", "output_device", "llm_model", "stt_model", "tts_voice"):
            # Editable: a listed device or model, or any name, number or path typed in.
            self.widget = QComboBox(parent)
            self.widget.setEditable(True)
            self.widget.addItem(AUTOMATIC.get(key, "System default"), "")
            self.widget.setCurrentIndex(0)
            if value:
                self.widget.setEditText(str(value))
            self.widget.setMinimumContentsLength(30)
            self.widget.editTextChanged.connect(lambda _t: self.check())
        else:
            self.widget = QLineEdit(str(value), parent)
            self.widget.textChanged.connect(lambda _t: self.check())
        self.widget.setObjectName(f"field_{key}")
        self.widget.setAccessibleName(LABELS.get(key, key))
        self.widget.setAccessibleDescription(HELP.get(key, ""))

    def _snap_automatic(self, value: float) -> None:
        if -1 < value < 0 and isinstance(self.widget, QDoubleSpinBox):
            self.widget.setValue(0.0 if value <= -0.5 else -1.0)

    def raw(self) -> object:
        w = self.widget
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, HotkeyField):
            return w.text()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            v = w.value()
            if self.key in PERCENT:
                return round(v / 100.0, 4)
            return int(v) if self.spec.type is int else float(v)
        if isinstance(w, QComboBox) and not w.isEditable():
            return w.currentData()
        if isinstance(w, QComboBox):
            text = w.currentText()
            data = w.currentData()
            if text == w.itemText(w.currentIndex()) and data is not None:
                return parse_text(self.key, str(data))
            return parse_text(self.key, text)
        if isinstance(w, QPlainTextEdit):
            return w.toPlainText()
        return parse_text(self.key, w.text())

    def set_text(self, text: str) -> None:
        w = self.widget
        if isinstance(w, QComboBox) and w.isEditable():
            w.setEditText(text)
        elif isinstance(w, (QLineEdit, HotkeyField)):
            w.setText(text)

    def check(self) -> str | None:
        reason = _validate(self.key, self.raw())
        if reason is None and self.key == "hotkey":
            from ui.hotkey import check as check_hotkey

            reason = check_hotkey(str(self.raw()))
        self.error.setText(f"{LABELS.get(self.key, self.key)}: {reason}" if reason else "")
        self.error.setVisible(bool(reason))
        self.widget.setProperty("invalid", bool(reason))
        if not isinstance(self.widget, (QCheckBox, HotkeyField)):
            self.widget.setStyleSheet("border: 1px solid #d93025;" if reason else "")
        return reason

    def changed(self) -> bool:
        return self.raw() != self.initial


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settings_dialog")
        loaded = load_settings()
        self.settings = settings or loaded.settings
        self.saved: Settings | None = None
        self.fields: dict[str, Field] = {}
        self._checks: list[Any] = []
        self.recommended: Any = None
        """The recommended language model and its Download button (model_pick.py)."""
        self._switched = False
        tabs = QTabWidget(self)
        self.tabs = tabs
        faded = self.palette().color(QPalette.ColorRole.Text)
        faded.setAlphaF(0.65)  # readable in light and dark themes
        hint_color = f"rgba({faded.red()}, {faded.green()}, {faded.blue()}, 166)"
        pages: list[QWidget] = []
        for title, keys in TABS:
            page = QWidget()
            form = QFormLayout(page)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            for key in keys:
                f = Field(key, getattr(self.settings, key), page)
                self.fields[key] = f
                label = QLabel(LABELS.get(key, key) + ":")
                label.setBuddy(f.widget.edit if isinstance(f.widget, HotkeyField) else f.widget)
                box = QVBoxLayout()
                box.setSpacing(2)
                row = QHBoxLayout()
                short = isinstance(f.widget, (QSpinBox, QDoubleSpinBox))
                row.addWidget(f.widget, 0 if short else 1)
                for extra in self._extras(key, page):
                    row.addWidget(extra)
                if short:
                    row.addStretch(1)
                box.addLayout(row)
                if HELP.get(key):
                    hint = QLabel(HELP[key])
                    hint.setWordWrap(True)
                    hint.setStyleSheet(f"color: {hint_color}; font-size: 8pt;")
                    box.addWidget(hint)
                box.addWidget(f.error)
                form.addRow(label, box)
                if key == "llm_model":
                    form.addRow("", self._recommendation(page))
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(page)
            tabs.addTab(scroll, title)
            pages.append(page)
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #d93025;")
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self._fit(pages)
        self._fill_devices()
        self._models_job = _ModelList().start()  # reading the catalog takes ~0.3 s
        self._models_timer = QTimer(self)
        self._models_timer.setInterval(50)
        self._models_timer.timeout.connect(self._fill_models)
        self._models_timer.start()
        self._voices: _VoiceList | None = None  # listed when the Voice tab is first shown
        tabs.currentChanged.connect(self._tab_shown)
        self._poll = QTimer(self)
        self._poll.setInterval(50)
        self._poll.timeout.connect(self._update_checks)

    # -- extras: browse buttons and device tests ----------------------------------------

    def _extras(self, key: str, parent: QWidget) -> list[QWidget]:
        out: list[QWidget] = []
        if key == "llm_model":
            out.append(
                self._button(
                    "Browse…",
                    "Choose a GGUF model file",
                    lambda: self._browse_file("llm_model"),
                    parent,
                )
            )
        elif key == "stt_model":
            out.append(
                self._button(
                    "Browse…",
                    "Choose a Vosk model folder",
                    lambda: self._browse_dir("stt_model"),
                    parent,
                )
            )
        elif key == "input_device":
            self.mic_meter = QProgressBar(parent)
            self.mic_meter.setRange(0, 100)
            self.mic_meter.setTextVisible(False)
            self.mic_meter.setFixedWidth(90)
            self.mic_meter.setAccessibleName("Microphone test level")
            self.mic_meter.setToolTip("The level while the microphone test runs")
            self.mic_meter.hide()  # an empty box means nothing until a test runs
            out.append(self.mic_meter)
            out.append(
                self._button(
                    "Test", "Test the microphone: speak and watch the level", self.test_mic, parent
                )
            )
        elif key == "output_device":
            out.append(self._button("Test", "Play a test sound", self.test_sound, parent))
        elif key == "tts_voice":
            out.append(
                self._button("Preview", "Hear this voice at this rate", self.preview_voice, parent)
            )
        return out

    def _recommendation(self, parent: QWidget) -> QWidget:
        from ui.model_pick import RecommendedModel

        self.recommended = RecommendedModel(self.settings.language, parent)
        self.recommended.switched.connect(self._model_switched)
        self.recommended.start(measure=True)  # times the model on disk once, on a worker
        return self.recommended

    def _model_switched(self, changes: dict[str, object]) -> None:
        """The recommended model is downloaded and chosen: the settings file says so
        already, the field shows it, and closing the dialog applies it."""
        if "llm_model" not in changes:
            return
        field = self.fields["llm_model"]
        combo = field.widget
        value = str(changes["llm_model"])
        if not value:
            combo.setCurrentIndex(0)  # the embedded default
        else:
            if combo.findData(value) < 0:
                pick = self.recommended.pick if self.recommended is not None else None
                combo.addItem(pick.name if pick is not None else value, value)
            combo.setCurrentIndex(combo.findData(value))
        field.initial = field.raw()
        self._switched = True

    def _fit(self, pages: list[QWidget]) -> None:
        """Big enough for the largest tab without scrolling, within the screen."""
        w = max(p.sizeHint().width() for p in pages) + 60
        h = max(p.sizeHint().height() for p in pages) + 140
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            w, h = min(w, screen.width() - 40), min(h, screen.height() - 60)
        self.resize(max(w, 620), max(h, 420))

    def _button(self, text: str, name: str, slot: Any, parent: QWidget) -> QPushButton:
        b = QPushButton(text, parent)
        b.setAccessibleName(name)
        b.setToolTip(name)
        b.clicked.connect(lambda _=False: slot())
        return b

    def _recorded(self, seq: QKeySequence) -> None:
        text = to_pynput(seq)
        if text:
            self.fields["hotkey"].set_text(text)

    def _browse_file(self, key: str) -> None:
        start = str(paths.models_dir())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model", start, "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.fields[key].set_text(path)

    def _browse_dir(self, key: str) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Choose a Vosk model folder", str(paths.models_dir())
        )
        if path:
            self.fields[key].set_text(path)

    def _fill_devices(self) -> None:
        try:
            from assistant.audio.devices import list_devices

            devices = list_devices()
        except Exception:  # no PortAudio: the fields still take a name or number
            devices = []
        for key, kind in (("input_device", "input"), ("output_device", "output")):
            combo = self.fields[key].widget
            current = combo.currentText()
            for d in devices:
                if d.has(kind):  # type: ignore[arg-type]
                    combo.addItem(f"{d.name} ({d.hostapi})", d.name)
            _show_choice(combo, current)

    def _fill_models(self) -> None:
        job = self._models_job
        if not job.done.is_set():
            return
        self._models_timer.stop()
        from assistant.models.builtin import MOONSHINE_ID

        for key, kind in (("llm_model", "llm"), ("stt_model", "stt")):
            combo = self.fields[key].widget
            current = combo.currentText()
            for m in job.models:
                # Moonshine is an engine of its own: the Speech engine field picks it.
                if m.kind == kind and m.installed and m.id != MOONSHINE_ID:
                    combo.addItem(m.name, m.id)
            _show_choice(combo, current)

    def _tab_shown(self, index: int) -> None:
        """Listing the voices starts the speech engine (a second or two): only
        for a user who opens the Voice tab, and off the GUI thread."""
        if self._voices is None and self.tabs.tabText(index) == "Voice":
            self._voices = _VoiceList(self.settings.language).start()
            self._voices_timer = QTimer(self)
            self._voices_timer.setInterval(100)
            self._voices_timer.timeout.connect(self._fill_voices)
            self._voices_timer.start()

    def _fill_voices(self) -> None:
        job = self._voices
        if job is None or not job.done.is_set():
            return
        self._voices_timer.stop()
        combo = self.fields["tts_voice"].widget
        current = combo.currentText()
        for name, voice_id in job.voices:
            combo.addItem(name, voice_id)
        _show_choice(combo, current)

    def test_mic(self) -> None:
        from ui.audio_check import MicCheck

        reason = self.fields["input_device"].check()
        if reason:
            return
        self.mic_meter.show()
        self._checks.append(("mic", MicCheck(str(self.fields["input_device"].raw()), 10).start()))
        self._poll.start()

    def test_sound(self) -> None:
        from ui.audio_check import SoundCheck

        if self.fields["output_device"].check():
            return
        self._checks.append(("sound", SoundCheck(str(self.fields["output_device"].raw())).start()))
        self._poll.start()

    def preview_voice(self) -> None:
        from ui.audio_check import SoundCheck

        if any(self.fields[k].check() for k in ("tts_voice", "tts_rate", "tts_volume")):
            return
        voice = (
            self.fields["tts_voice"].raw(),
            self.fields["tts_rate"].raw(),
            self.fields["tts_volume"].raw(),
        )
        check = SoundCheck(
            str(self.fields["output_device"].raw()),
            "Hello, I am Parley. This is how I sound.",
            voice,
        )
        self._checks.append(("voice", check.start()))
        self._poll.start()

    def _update_checks(self) -> None:
        for item in list(self._checks):
            kind, check = item
            if kind == "mic":
                self.mic_meter.setValue(int(max(0, min(100, (check.level_dbfs + 60) * 100 / 60))))
            if check.done.is_set():
                self._checks.remove(item)
                if check.error:
                    self._show_problem(f"{kind.capitalize()} test: {check.error}")
                elif kind == "mic":
                    self.mic_meter.setValue(0)
                    self.mic_meter.hide()
        if not self._checks:
            self._poll.stop()

    def _show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    # -- saving -----------------------------------------------------------------------------

    def invalid(self) -> dict[str, str]:
        out = {}
        for key, f in self.fields.items():
            reason = f.check()
            if reason:
                out[key] = reason
        return out

    def save(self) -> bool:
        bad = self.invalid()
        if bad:
            key = next(iter(bad))
            for i, (_title, keys) in enumerate(TABS):
                if key in keys:
                    self.tabs.setCurrentIndex(i)
            self.fields[key].widget.setFocus()
            n = len(bad)
            self._show_problem(
                f"{n} setting{'s are' if n > 1 else ' is'} not valid; nothing was saved. "
                + "; ".join(f"{LABELS.get(k, k)}: {r}" for k, r in bad.items())
            )
            return False
        changes = {k: f.raw() for k, f in self.fields.items() if f.changed()}
        try:
            if changes:
                update_settings(changes)
        except (ConfigError, OSError) as e:
            self._show_problem(f"Not saved: {e}")
            return False
        self.saved = load_settings().settings
        self._show_problem("")
        self.accept()
        return True

    def reject(self) -> None:
        """Cancel drops the edits not saved. A model switched to from the
        recommendation is already in the settings file: it still applies."""
        if self._switched:
            try:
                self.saved = load_settings().settings
            except (ConfigError, OSError):
                self.saved = None
            self.done(QDialog.DialogCode.Accepted)
            return
        super().reject()

    def done(self, result: int) -> None:
        if self.recommended is not None:
            self.recommended.cancel()  # a download stops; pulling it again resumes
        for _kind, check in self._checks:
            stop = getattr(check, "stop", None)
            if stop is not None:
                stop()
        self._checks.clear()
        super().done(result)


def _show_choice(combo: QComboBox, current: str) -> None:
    """A stored id or device name shows as its list entry (a name people read);
    anything else stays as typed."""
    i = combo.findData(current) if current and current != combo.itemText(0) else -1
    if i > 0:
        combo.setCurrentIndex(i)
    else:
        combo.setEditText(current)


class _ModelList:
    """Installed models from the model manager, read on a worker thread."""

    def __init__(self) -> None:
        self.models: list[Any] = []
        self.done = threading.Event()

    def start(self) -> _ModelList:
        threading.Thread(target=self._run, name="model-list", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            from assistant import models

            self.models = models.list_models()
        except Exception:  # no model manager, or an unreadable catalog: paths still work
            self.models = []
        finally:
            self.done.set()


class _VoiceList:
    """The speech engine's voices for the user's language (all of them when
    none fits), as (name, id), read on a worker thread."""

    def __init__(self, language: str) -> None:
        self.language = language.lower().split("-")[0]
        self.voices: list[tuple[str, str]] = []
        self.done = threading.Event()

    def start(self) -> _VoiceList:
        threading.Thread(target=self._run, name="voice-list", daemon=True).start()
        return self

    def _run(self) -> None:
        synth = None
        try:
            from assistant.speech.tts import Synthesizer

            synth = Synthesizer()
            every = synth.voices()
            mine = [
                v
                for v in every
                if any(lang.lower().split("-")[0] == self.language for lang in v.languages)
            ]
            self.voices = [(v.name, v.id) for v in (mine or every)]
        except Exception:  # no speech engine: the field still takes a typed name
            self.voices = []
        finally:
            if synth is not None:
                synth.close()
            self.done.set()
