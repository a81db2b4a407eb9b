"""The language model recommended for this computer, in plain words ("Qwen2.5
1.5B Instruct: 986 MB download, about 8 words a second on this computer"), with
one button that downloads it through the model manager and switches to it.

Shown on the first-run wizard's models page and in Settings (Language model).
Deciding (which may time the model on disk for a few seconds, once) and
downloading run on worker threads; a timer on the GUI thread follows them, as
the wizard's own jobs do. The decision itself is `assistant.models.recommend`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

CHECKING = "Checking how fast this computer runs a language model (a few seconds)…"


class Work:
    """A blocking call on a worker thread; the widget polls `done` / `error`
    (the models page of the wizard uses it too)."""

    def __init__(self, fn: Callable[[Work], Any], name: str) -> None:
        self.done = threading.Event()
        self.error = ""
        self.result: Any = None
        self.progress = 0.0
        self.status = ""

        def run() -> None:
            try:
                self.result = fn(self)
            except Exception as e:  # ModelError's str() is fit to show
                self.error = str(e) or type(e).__name__
            finally:
                self.done.set()

        threading.Thread(target=run, name=name, daemon=True).start()


def decide(language: str, measure: bool) -> tuple[Any, Any]:
    """(recommendation, its ModelInfo) for the user's language; (None, None) when
    the core has no recommender or nothing to recommend. Blocking."""
    from assistant import models
    from assistant.models import recommend

    pick = recommend.recommend("llm", language, measure=measure)
    if pick is None:
        return None, None
    return pick, models.get_model(pick.id)


class RecommendedModel(QGroupBox):
    """The recommendation and its button. With `hosted`, a click only emits
    `chosen(model id)` and the host runs the download (the wizard's page has
    its own progress bar); else the widget downloads and switches by itself and
    emits `switched(settings changed)`."""

    chosen = Signal(str)
    switched = Signal(object)
    decided = Signal(object)

    def __init__(self, language: str = "", parent: QWidget | None = None, *,
                 hosted: bool = False) -> None:
        super().__init__("Recommended for this computer", parent)
        self.setObjectName("recommended_model")
        self.language = language
        self.hosted = hosted
        self.measure = False
        self.pick: Any = None
        self.info: Any = None
        self.busy = False
        self._deciding: Work | None = None
        self._again = False
        self._pulling: Work | None = None
        self._token: Any = None

        self.sentence = QLabel("")
        self.sentence.setObjectName("recommended_sentence")
        self.sentence.setWordWrap(True)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton("Download and use it")
        self.button.setAccessibleName("Download and use the recommended model")
        self.button.clicked.connect(lambda _=False: self._clicked())
        self.button.hide()
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.clicked.connect(lambda _=False: self.cancel())
        self.cancel_button.hide()
        self.why_link = QLabel('<a href="why">Why this one?</a>')
        self.why_link.setAccessibleName("Why this model is recommended")
        self.why_link.linkActivated.connect(lambda _link: self.toggle_why())
        self.why_link.hide()
        self.why = QLabel()
        self.why.setObjectName("recommended_why")
        self.why.setWordWrap(True)
        faded = self.palette().color(QPalette.ColorRole.Text)
        self.why.setStyleSheet(
            f"color: rgba({faded.red()}, {faded.green()}, {faded.blue()}, 170); font-size: 8pt;")
        self.why.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setAccessibleName("Download progress")
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("recommended_status")
        self.status.setWordWrap(True)
        self.status.hide()

        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.why_link)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sentence)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.why)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)

    # -- deciding -----------------------------------------------------------------------

    def start(self, measure: bool = False, language: str | None = None) -> None:
        """Decide again (on a worker). `measure`: time the model on disk when no
        kept check exists (seconds); once measured, later decisions stay measured."""
        self.measure = self.measure or measure
        if language is not None:
            self.language = language
        if self._deciding is not None:
            self._again = True  # after the running one: it may predate this change
            return
        if self.pick is None:
            self.sentence.setText(CHECKING if measure else "Choosing a model…")
        elif measure and not self.pick.measured:  # the guess stays until it is measured
            self.button.setEnabled(False)
            self._say(CHECKING)
        language_now, measure_now = self.language, self.measure
        self._deciding = Work(lambda _w: decide(language_now, measure_now), "model-pick")
        self._timer.start()

    def refresh(self) -> None:
        """Decide again, e.g. after a download: the pick may now be installed."""
        self.start()

    def toggle_why(self) -> None:
        self.why.setVisible(self.why.isHidden())

    def _decided(self, work: Work) -> None:
        if work.error:
            self.pick = self.info = None
            self.sentence.setText(f"Parley could not choose a model for this computer: "
                                  f"{work.error}")
            self.button.hide()
            self.why_link.hide()
            self.decided.emit(None)
            return
        self.pick, self.info = work.result
        if self.status.text() == CHECKING:
            self._say("")
        if self.pick is None:
            self.hide()
            self.decided.emit(None)
            return
        self.show()
        self.sentence.setText(self.pick.sentence)
        self.sentence.setAccessibleName(f"Recommended: {self.pick.sentence}")
        self.why.setText(self.pick.why)
        self.setToolTip(self.pick.why)
        self.why_link.show()
        self._update_button()
        self.decided.emit(self.pick)

    def _update_button(self) -> None:
        info = self.info
        if self.pick is None or info is None:
            self.button.hide()
            return
        if info.in_use:
            self.button.hide()
            self._say("Parley uses it now." if not self.pick.builtin else
                      "Parley uses it now: a larger model would answer too slowly here.")
            return
        self.button.setText("Use it" if info.installed or info.builtin else "Download and use it")
        self.button.setAccessibleName(f"{self.button.text()}: {self.pick.name}")
        self.button.setEnabled(not self.busy and self._pulling is None)
        self.button.show()
        if self.status.text().startswith("Parley uses it now"):  # no longer so
            self._say("")

    # -- downloading -------------------------------------------------------------------

    def set_busy(self, busy: bool) -> None:
        """The host runs a download (hosted mode): no second one from here."""
        self.busy = busy
        self.button.setEnabled(not busy and self._pulling is None)

    def _clicked(self) -> None:
        if self.pick is None or self._pulling is not None:
            return
        if self.hosted:
            self.chosen.emit(self.pick.id)
            return
        self.download()

    def download(self) -> None:
        """Pull the pick through the model manager (nothing when it is installed
        or built in) and switch to it when the download completes."""
        from assistant import models

        pick, info = self.pick, self.info
        if pick is None or self._pulling is not None:
            return
        token = models.CancelToken()
        self._token = token
        name = pick.name

        def work(job: Work) -> Any:
            if not (info is not None and (info.installed or info.builtin)):
                def progress(p: Any) -> None:
                    job.progress = p.fraction or 0.0
                    if p.phase == "download":
                        total = f" of {p.total // 1_000_000} MB" if p.total else ""
                        job.status = f"Downloading {name}: {p.done // 1_000_000}{total} MB"
                    elif p.phase == "verify":
                        job.status = f"Checking the download of {name}…"

                models.pull(pick.id, progress=progress, cancel=token)
            return models.use(pick.id)

        self._pulling = Work(work, "model-pick-pull")
        self.button.setEnabled(False)
        downloading = not (info is not None and (info.installed or info.builtin))
        if downloading:
            self.progress.setValue(0)
            self.progress.show()
            self.cancel_button.show()
        self._say(f"Downloading {name}…" if downloading else f"Choosing {name}…")
        self._timer.start()

    def cancel(self) -> None:
        if self._token is not None:
            self._token.cancel()

    def _pulled(self, work: Work) -> None:
        self._pulling = None
        self._token = None
        self.progress.hide()
        self.cancel_button.hide()
        if work.error:
            self._say(work.error)
            self.button.setEnabled(not self.busy)
            return
        self._say("Done: Parley uses it from now on.")
        self.switched.emit(work.result or {})
        self.refresh()

    # -- the timer ----------------------------------------------------------------------

    def _poll(self) -> None:
        deciding = self._deciding
        if deciding is not None and deciding.done.is_set():
            self._deciding = None
            self._decided(deciding)
            if self._again:
                self._again = False
                self.start()
        pulling = self._pulling
        if pulling is not None:
            self.progress.setValue(int(pulling.progress * 1000))
            if pulling.status:
                self._say(pulling.status)
            if pulling.done.is_set():
                self._pulled(pulling)
        if self._deciding is None and self._pulling is None:
            self._timer.stop()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def working(self) -> bool:
        """Deciding or downloading (for tests and for closing)."""
        return self._deciding is not None or self._pulling is not None
