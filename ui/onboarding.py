"""First-run onboarding: microphone check, models, hotkey, a first exchange.

Runs once (the app writes a flag in the data folder when it closes, finished
or skipped). Every page can be skipped; nothing is written until Finish.
Model downloads and imports go through `assistant.models` on a worker thread;
when that package is missing, the page offers choosing a local GGUF file or
Vosk folder and sets llm_model / stt_model directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from assistant import paths
from assistant.config import ConfigError, Settings, load_settings, update_settings
from ui import hotkey as hotkey_mod
from ui import theme
from ui.audio_check import MicCheck
from ui.hotkey_field import HotkeyField
from ui.model_pick import Work


def check_gguf(path: str) -> str | None:
    """Why `path` is not a GGUF model file, or None."""
    p = Path(path).expanduser()
    if not p.is_file():
        return f"{p} is not a file."
    try:
        with p.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        return f"{p} cannot be read ({e.strerror or e})."
    return None if magic == b"GGUF" else f"{p.name} is not a GGUF model (wrong file header)."


def check_vosk(path: str) -> str | None:
    """Why `path` is not a Vosk model folder, or None."""
    p = Path(path).expanduser()
    if not p.is_dir():
        return f"{p} is not a folder."
    if (p / "am").is_dir() or (p / "conf" / "model.conf").is_file() or (p / "final.mdl").exists():
        return None
    return f"{p.name} does not look like a Vosk model (no am/ or conf/model.conf inside)."


def _Job(fn: Any) -> Work:  # noqa: N802 (reads as the class it makes)
    """A blocking call on a worker thread; the page polls `done` / `error`."""
    return Work(fn, "onboarding-job")


class WelcomePage(QWizardPage):
    def __init__(self, llm_on: bool = True) -> None:
        super().__init__()
        self.setTitle("Welcome to Parley")
        self.setSubTitle(
            "A voice assistant that runs entirely on this computer: what you say never leaves it."
        )
        icon = QLabel()
        icon.setPixmap(theme.app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        text = QLabel(
            "<p><b>Ask it things</b> — “what time is it?”, “what is 12 times 7?”</p>"
            "<p><b>Set timers and alarms</b> — “set a timer for 10 minutes”</p>"
            "<p><b>Keep notes</b> — “take a note: buy milk”, “read my notes”</p>"
            + (
                "<p><b>Chat</b> — open questions go to a small language model</p>"
                if llm_on
                else "<p><b>Chat</b> — the language model is turned off, so Parley "
                "answers with its built-in rules only (Settings › Language model "
                "turns it on)</p>"
            )
            + "<p>The next pages check your microphone, choose the models, set up a "
            "push-to-talk key and try a first exchange. Skip any of them; everything "
            "can be changed later in Settings.</p>"
        )
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        self.text = text
        row = QHBoxLayout(self)
        row.addWidget(icon)
        row.addSpacing(16)
        row.addWidget(text, 1)


class MicPage(QWizardPage):
    def __init__(self, settings: Settings, opener: Callable[[str], Any] | None = None) -> None:
        super().__init__()
        self.opener = opener  # the app's own way to open the microphone, when it has one
        self.setTitle("Microphone")
        self.setSubTitle("Check that Parley can hear you.")
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.setAccessibleName("Microphone")
        self.device.addItem("System default", "")
        self.inputs = 0
        try:
            from assistant.audio.devices import list_devices

            for d in list_devices():
                if d.has("input"):
                    self.device.addItem(f"{d.name} ({d.hostapi})", d.name)
                    self.inputs += 1
        except Exception:
            pass
        if settings.input_device:
            self.device.setEditText(settings.input_device)
        self.meter = QProgressBar()
        self.meter.setRange(0, 100)
        self.meter.setTextVisible(False)
        self.meter.setAccessibleName("Microphone level")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.retry = QPushButton("Test again")
        self.retry.setAccessibleName("Test the microphone again")
        self.retry.clicked.connect(self.start_check)
        self.device.activated.connect(lambda _i: self.start_check())
        form = QFormLayout(self)
        form.addRow("Microphone:", self.device)
        form.addRow("Level:", self.meter)
        form.addRow("", self.status)
        form.addRow("", self.retry)
        self.check: MicCheck | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)

    def chosen(self) -> str:
        text = self.device.currentText()
        if text == self.device.itemText(self.device.currentIndex()):
            return str(self.device.currentData() or "")
        return text

    def initializePage(self) -> None:  # noqa: N802
        self.start_check()

    def cleanupPage(self) -> None:  # noqa: N802
        self.stop_check()

    def start_check(self) -> None:
        self.stop_check()
        self.status.setText("Say something: the bar moves while Parley hears you.")
        self.meter.setEnabled(True)
        self.check = MicCheck(self.chosen(), seconds=30, opener=self.opener).start()
        self._timer.start()

    def stop_check(self) -> None:
        if self.check is not None:
            self.check.stop()
            self.check = None
        self._timer.stop()

    def _poll(self) -> None:
        c = self.check
        if c is None:
            return
        self.meter.setValue(int(max(0, min(100, (c.level_dbfs + 60) * 100 / 60))))
        if c.peak_dbfs > -35:
            self.status.setText(f"Parley hears you on {c.device_name or 'the microphone'}.")
        if c.done.is_set():
            self._timer.stop()
            if c.error:
                self.no_microphone(c.error, missing=c.missing)

    def no_microphone(self, why: str, missing: bool = False) -> None:
        """One message, and nothing that suggests a microphone is there."""
        self.meter.setValue(0)
        self.meter.setEnabled(False)
        if missing or self.inputs == 0:
            self.status.setText(
                "No microphone found. You can type to Parley for now; plug one in and "
                "choose Test again, or skip this step."
            )
        else:
            self.status.setText(
                f"This microphone does not work: {why} Choose another, "
                "or skip this step and type to Parley."
            )


class ModelsPage(QWizardPage):
    """Download (model manager) or pick local models."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.setTitle("Speech and language models")
        self.saved_language = settings.language
        self.language = first_language(settings)
        self.llm_on = settings.use_llm
        """The language model is turned on: only then is its model "in use"."""
        self.changes: dict[str, object] = {}
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.job: Work | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)
        layout = QVBoxLayout(self)
        try:
            from assistant import models

            self.models: Any = models
        except ImportError:
            self.models = None
        if self.models is not None:
            self.setSubTitle(
                "Parley has what it needs built in. A larger model hears or "
                "answers better; pick one to download, or skip this step."
            )
            self.language_box = QComboBox()
            self.language_box.setAccessibleName("Language you speak")
            from ui.settings_dialog import LANGUAGES

            for code, name in sorted(LANGUAGES.items(), key=lambda kv: kv[1]):
                self.language_box.addItem(name, code)
            self.language_box.setCurrentIndex(max(0, self.language_box.findData(self.language)))
            self.language_box.currentIndexChanged.connect(lambda _i: self._language_chosen())
            lang_row = QHBoxLayout()
            lang_row.addWidget(QLabel("I speak:"))
            lang_row.addWidget(self.language_box)
            lang_row.addStretch(1)
            layout.addLayout(lang_row)
            from ui.model_pick import RecommendedModel

            # The language model this computer runs best, with one button: the
            # download goes through this page's own job (progress bar, Cancel).
            self.recommended_box = RecommendedModel(self.language, hosted=True)
            self.recommended_box.chosen.connect(self.pull_model)
            self.recommended_box.decided.connect(lambda _pick: self.refresh())
            self.recommended_box.start(measure=False)  # at once: a kept check or a guess
            layout.addWidget(self.recommended_box)
            self.list = QListWidget()
            self.list.setAccessibleName("Models")
            layout.addWidget(self.list, 1)
            self.all_languages = QCheckBox("Show models for other languages")
            self.all_languages.toggled.connect(lambda _on: self.refresh())
            layout.addWidget(self.all_languages)
            row = QHBoxLayout()
            self.pull_button = QPushButton("Download and use")
            self.pull_button.clicked.connect(self.pull)
            self.use_button = QPushButton("Use")
            self.use_button.clicked.connect(self.use)
            self.cancel_button = QPushButton("Cancel download")
            self.cancel_button.clicked.connect(self.cancel)
            self.cancel_button.hide()
            for b in (self.pull_button, self.use_button, self.cancel_button):
                b.setAccessibleName(b.text())
                row.addWidget(b)
            row.addStretch(1)
            layout.addLayout(row)
            self.refresh()
        else:
            self.setSubTitle("Choose models you already have on disk (or keep the defaults).")
        self.llm = QLineEdit(settings.llm_model)
        self.llm.setPlaceholderText("none: the built-in model")
        self.llm.setAccessibleName("Language model file")
        self.stt = QLineEdit(settings.stt_model)
        self.stt.setPlaceholderText("none: the best one installed")
        self.stt.setAccessibleName("Speech model folder")
        form = QFormLayout()
        form.addRow("Your own language model file:", self._with_browse(self.llm, self.browse_llm))
        form.addRow("Your own Vosk speech model:", self._with_browse(self.stt, self.browse_stt))
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self._cancel_token: Any = None

    def _with_browse(self, edit: QLineEdit, slot: Any) -> QWidget:
        w = QWidget()
        row = QHBoxLayout(w)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        b = QPushButton("Browse…")
        b.setAccessibleName(f"Browse for the {edit.accessibleName().lower()}")
        b.clicked.connect(slot)
        row.addWidget(b)
        return w

    def browse_llm(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a GGUF model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self.choose_llm(path)

    def browse_stt(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self, "Choose a Vosk model folder", str(Path.home())
        )
        if path:
            self.choose_stt(path)

    def choose_llm(self, path: str) -> bool:
        reason = check_gguf(path)
        if reason:
            self.status.setText(reason)
            return False
        if self.models is not None:
            return self._import(path)
        self.llm.setText(path)
        self.changes["llm_model"] = path
        self.status.setText(f"Parley will use {Path(path).name}.")
        return True

    def choose_stt(self, path: str) -> bool:
        reason = check_vosk(path)
        if reason:
            self.status.setText(reason)
            return False
        if self.models is not None:
            return self._import(path)
        self.stt.setText(path)
        self.changes["stt_model"] = path
        self.status.setText(f"Parley will hear with {Path(path).name}.")
        return True

    # -- model manager --------------------------------------------------------------------

    def refresh(self) -> None:
        """The models for the user's language, by what they do, with plain names
        and sizes; the recommended one of each kind is marked and selected."""
        if self.models is None:
            return
        self.list.clear()
        try:
            infos = [m for m in self.models.list_models() if m.kind in ("stt", "llm")]
        except Exception as e:
            self.status.setText(f"Cannot list the models: {e}")
            return
        every = self.all_languages.isChecked()
        for kind, heading in (
            ("stt", "Hearing: speech recognition"),
            ("llm", "Answering: language model"),
        ):
            shown = [m for m in infos if m.kind == kind and (every or fits(m, self.language))]
            if not shown:
                continue
            head = QListWidgetItem(heading)
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading: read, never chosen
            font = head.font()
            font.setBold(True)
            head.setFont(font)
            self.list.addItem(head)
            best = recommended(shown, kind, self.language)
            for m in shown:
                off = kind == "llm" and not self.llm_on
                item = QListWidgetItem("    " + model_line(m, m is best, off=off))
                item.setData(256, m.id)
                item.setToolTip(m.description)
                self.list.addItem(item)
                if m is best:
                    self.list.setCurrentItem(item)

    def _language_chosen(self) -> None:
        self.language = str(self.language_box.currentData())
        self.refresh()
        self.recommended_box.start(language=self.language)

    def initializePage(self) -> None:  # noqa: N802 (Qt's name)
        """Shown: time the language model on disk, when no check is kept yet (a few
        seconds, on a worker), so the recommendation is measured, not guessed."""
        if self.models is not None:
            self.recommended_box.start(measure=True)

    def skip(self) -> None:
        """Skip this step: no download, and the language stays as it was."""
        self.cancel()
        self.language = self.saved_language
        self.changes.pop("language", None)
        if self.models is not None:
            self.language_box.setCurrentIndex(max(0, self.language_box.findData(self.language)))

    def validatePage(self) -> bool:  # noqa: N802 (Qt's name)
        """Next keeps the language shown (Skip this step does not)."""
        if self.language != self.saved_language:
            self.changes["language"] = self.language
        return True

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        if item is None or item.data(256) is None:
            self.status.setText("Choose a model in the list first.")
            return None
        return str(item.data(256))

    def _name(self, model_id: str) -> str:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(256) == model_id:
                return item.text().strip().split(" — ")[0]
        return model_id

    def pull(self) -> None:
        model_id = self._selected()
        if model_id is not None:
            self.pull_model(model_id)

    def pull_model(self, model_id: str) -> None:
        """Download `model_id` through the model manager and use it once it is in."""
        if self.job is not None:
            return
        models = self.models
        token = models.CancelToken()
        self._cancel_token = token

        def work(job: Work) -> Any:
            def progress(p: Any) -> None:
                job.progress = p.fraction or 0.0
                job.status = f"{p.phase} {p.done // 1_000_000} MB"

            models.pull(model_id, progress=progress, cancel=token)
            return models.use(model_id)

        self._run(_Job(work), f"Downloading {self._name(model_id)}…")

    def use(self) -> None:
        model_id = self._selected()
        if model_id is None or self.job is not None:
            return
        models = self.models
        self._run(_Job(lambda _job: models.use(model_id)), f"Choosing {self._name(model_id)}…")

    def _import(self, path: str) -> bool:
        if self.job is not None:
            return False
        models = self.models

        def work(_job: Work) -> Any:
            info = models.import_model(path)
            return models.use(info.id)

        self._run(_Job(work), f"Importing {Path(path).name}…")
        return True

    def cancel(self) -> None:
        if self._cancel_token is not None:
            self._cancel_token.cancel()

    def _run(self, job: Work, text: str) -> None:
        self.job = job
        self.status.setText(text)
        self.progress.setValue(0)
        self.progress.show()
        if self.models is not None:
            self.cancel_button.show()
            self.recommended_box.set_busy(True)
        self._timer.start()

    def _poll(self) -> None:
        job = self.job
        if job is None:
            return
        self.progress.setValue(int(job.progress * 1000))
        if job.status:
            self.status.setText(job.status)
        if not job.done.is_set():
            return
        self._timer.stop()
        self.progress.hide()
        if self.models is not None:
            self.cancel_button.hide()
            self.recommended_box.set_busy(False)
        self.job = None
        if job.error:
            self.status.setText(job.error)
            return
        changed = job.result or {}
        self.status.setText("Done: Parley will use it from now on." if changed else "Done.")
        for k, v in changed.items():
            if k == "llm_model":
                self.llm.setText(str(v))
            if k == "stt_model":
                self.stt.setText(str(v))
        self.refresh()
        if "llm_model" in changed:
            self.recommended_box.refresh()  # the pick may now be the model in use

    def cleanupPage(self) -> None:  # noqa: N802
        self.cancel()


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def first_language(settings: Settings) -> str:
    """The language to start from: the one set in the settings file, else the
    desktop's own language when Parley knows its name."""
    import tomllib

    from PySide6.QtCore import QLocale

    from ui.settings_dialog import LANGUAGES

    try:
        written = "language" in tomllib.loads(paths.config_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no file yet, or one the settings loader reports
        written = False
    if written:
        return settings.language
    system = QLocale.system().name().split("_")[0].lower()
    return system if system in LANGUAGES else settings.language


def fits(model: Any, language: str) -> bool:
    """A model for the user's language ("en" takes "en-us"), or for every language."""
    lang = (model.language or "multi").lower()
    want = language.lower().split("-")[0]
    return lang == "multi" or lang.split("-")[0] == want


def recommended(shown: list[Any], kind: str, language: str) -> Any:
    """The pick to suggest: the model recommender's when the core has one,
    else the catalog's default for this language (what Parley uses when the
    setting is empty), else the first installed one."""
    try:
        from assistant.models import recommend

        pick = recommend.recommend(kind, language)
        pick_id = getattr(pick, "id", pick)
        for m in shown:
            if m.id == pick_id:
                return m
    except Exception:  # no recommender yet, or it could not decide
        pass
    for m in shown:
        if m.in_use:
            return m
    return next((m for m in shown if m.installed), shown[0] if shown else None)


def model_line(m: Any, best: bool, *, off: bool = False) -> str:
    """'Moonshine tiny English — built in, in use · recommended'. `off`: the
    setting names this model but its kind is turned off (Settings > Language
    model), so it is chosen, not in use."""
    name = m.name.replace(" (built in)", "")
    if m.builtin and m.installed:
        where = "built in"
    elif m.installed:
        where = "downloaded"
    else:
        where = f"{_size(m.size)} download" if m.size else "download"
    parts = [where] + ((["chosen, but turned off"] if off else ["in use"]) if m.in_use else [])
    return f"{name} — {', '.join(parts)}" + ("  ★ recommended" if best else "")


class HotkeyPage(QWizardPage):
    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.setTitle("Push-to-talk")
        self.setSubTitle("Talk without the wake word: hold a key while you speak.")
        self.hotkey = HotkeyField(settings.hotkey)
        self.mode = QComboBox()
        self.mode.setAccessibleName("Hotkey mode")
        self.mode.addItem("Hold to talk", "hold")
        self.mode.addItem("Press to start, press again to stop", "toggle")
        self.mode.setCurrentIndex(0 if settings.hotkey_mode == "hold" else 1)
        self.error = QLabel()
        self.error.setStyleSheet("color: #d93025;")
        self.error.setWordWrap(True)
        note = QLabel()
        note.setWordWrap(True)
        reason = hotkey_mod.unavailable_reason()
        note.setText(
            f"A global hotkey cannot work here: {reason}\n\n{hotkey_mod.fallback_help()}"
            if reason
            else "Click the box, then press the keys you want to hold while you talk."
        )
        form = QFormLayout(self)
        form.addRow("Hotkey:", self.hotkey)
        form.addRow("Mode:", self.mode)
        form.addRow("", self.error)
        form.addRow("", note)
        self.original = settings.hotkey

    def problem(self) -> str | None:
        return hotkey_mod.check(self.hotkey.text())

    def skip(self) -> None:
        self.hotkey.setText(self.original)
        self.error.setText("")

    def validatePage(self) -> bool:  # noqa: N802
        reason = self.problem()
        self.error.setText(reason or "")
        return reason is None


class _EnterSends(QObject):
    """Enter in the message box sends it. Without this the wizard also takes
    the Enter as its default button and closes before the reply is seen."""

    def __init__(self, send: Any, parent: QObject) -> None:
        super().__init__(parent)
        self.send = send

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress and event.key() in (  # type: ignore[attr-defined]
            Qt.Key.Key_Return,
            Qt.Key.Key_Enter,
        ):
            self.send()
            return True
        return False


class FirstTalkPage(QWizardPage):
    """Hold the button and ask something (or type it); the exchange shows here
    as it does in the main window (and is spoken when a speaker is there)."""

    def __init__(self, controller: Any, bridge: Any) -> None:
        super().__init__()
        self.controller = controller
        self.setTitle("Say hello")
        self.setSubTitle('Hold "Talk" and ask "what time is it?", or type it and press Enter.')
        from ui.main_window import PushToTalk
        from ui.transcript import Transcript, bubble_style

        self.ptt = PushToTalk(controller)
        self.text = QLineEdit()
        self.text.setAccessibleName("Message")
        self.text.setPlaceholderText("or type here and press Enter")
        self.text.installEventFilter(_EnterSends(self.submit, self.text))
        self.heard = QLabel()
        self.heard.setWordWrap(True)
        self.heard.setStyleSheet("font-style: italic;")
        self.exchange = Transcript()
        self.exchange.setAccessibleName("Your first exchange")
        self.exchange.setStyleSheet(bubble_style(self.palette()))
        self.reply = QLabel()  # problems only (the exchange itself is in the bubbles)
        self.reply.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.ptt)
        row.addWidget(self.text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.heard)
        layout.addWidget(self.exchange, 1)
        layout.addWidget(self.reply)
        # Bound methods: Qt drops the connections when the page is deleted.
        bridge.partial.connect(self._partial)
        bridge.user_turn.connect(self._user)
        bridge.reply_delta.connect(self._delta)
        bridge.reply_done.connect(self._done)

    def _partial(self, e: Any) -> None:
        self.heard.setText(f"Hearing: {e.text}…")

    def _delta(self, e: Any) -> None:
        self.exchange.append_delta(e.text, e.turn_id)

    def _done(self, e: Any) -> None:
        self.exchange.finish_reply(e.text, e.turn_id, e.interrupted)

    def follow(self, listen: Any) -> None:
        """Talk follows the app's listening state: no microphone, no Talk."""

        def show(_state: object = None) -> None:
            self.ptt.setEnabled(listen.can_listen)
            # Typing is not the alternative when it is the only way.
            self.text.setPlaceholderText(
                "or type here and press Enter" if listen.can_listen else "Type here and press Enter"
            )
            self.setSubTitle(
                'Hold "Talk" and ask "what time is it?", or type it and press Enter.'
                if listen.can_listen
                else 'Type "what time is it?" and press Enter (Parley cannot hear you yet).'
            )

        listen.changed.connect(show)
        show()
        self.ptt.follow(listen)

    def _user(self, e: Any) -> None:
        self.heard.setText("")
        self.exchange.add_user(e.text, e.turn_id)

    def submit(self) -> None:
        text = self.text.text().strip()
        if text and self.controller.submit_text(text):
            self.text.clear()
            self.reply.setText("")
        elif text:
            self.reply.setText("Parley is still starting; press Enter again in a moment.")


class Onboarding(QWizard):
    def __init__(
        self, controller: Any, bridge: Any, settings: Settings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up Parley")
        self.setObjectName("onboarding")
        self.saved: Settings | None = None
        factory = getattr(getattr(controller, "options", None), "source_factory", None)
        opener = None
        if factory is not None:  # check the microphone the app itself opens
            opener = lambda device: factory(replace(settings, input_device=device))  # noqa: E731
        self.mic = MicPage(settings, opener)
        self.models_page = ModelsPage(settings)
        self.hotkey_page = HotkeyPage(settings)
        self.talk = FirstTalkPage(controller, bridge)
        listen = getattr(parent, "listen", None)
        if listen is not None:
            self.talk.follow(listen)
        welcome = WelcomePage(settings.use_llm)
        for page in (welcome, self.mic, self.models_page, self.hotkey_page, self.talk):
            self.addPage(page)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Skip setup")
        # Every page can be skipped: its changes are dropped and the next page shows.
        self.setButtonText(QWizard.WizardButton.CustomButton1, "Skip this step")
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.customButtonClicked.connect(lambda _which: self.skip_page())
        self.currentIdChanged.connect(self._skip_shown)
        self.settings = settings
        self.resize(680, 580)

    def skip_page(self) -> None:
        page = self.currentPage()
        if page is self.hotkey_page:
            self.hotkey_page.skip()
        elif page is self.models_page:
            self.models_page.skip()
        elif page is self.mic:
            self.mic.stop_check()
            self.mic.device.setCurrentIndex(0)
            if self.settings.input_device:
                self.mic.device.setEditText(self.settings.input_device)
        if self.nextId() == -1:
            self.accept()
        else:
            self.next()

    def _skip_shown(self, _id: int) -> None:
        page = self.currentPage()
        last = page is self.talk or page is None
        self.button(QWizard.WizardButton.CustomButton1).setVisible(not last and _id > 0)

    def accept(self) -> None:
        changes: dict[str, object] = dict(self.models_page.changes)
        device = self.mic.chosen()
        if device != self.settings.input_device:
            changes["input_device"] = device
        hk = self.hotkey_page.hotkey.text().strip()
        if hk and hk != self.settings.hotkey and self.hotkey_page.problem() is None:
            changes["hotkey"] = hk
        mode = self.hotkey_page.mode.currentData()
        if mode != self.settings.hotkey_mode:
            changes["hotkey_mode"] = mode
        try:
            if changes:
                update_settings(changes)
            self.saved = load_settings().settings
        except (ConfigError, OSError) as e:
            self.models_page.status.setText(str(e))
            self.talk.reply.setText(f"Settings not saved: {e}")
            return
        self.mic.stop_check()
        super().accept()

    def reject(self) -> None:
        self.mic.stop_check()
        self.models_page.cancel()
        # Models chosen through the manager are already in the settings file.
        self.saved = load_settings().settings if paths.config_file().exists() else None
        super().reject()
