"""A recogniser in a process of its own: pocketsphinx or Moonshine.

pocketsphinx's Python binding holds the GIL while it works. Measured with a
1 ms ticker thread: loading the decoder stops every other Python thread for
~0.5 s, decoding a 30 ms frame for ~6 ms (up to ~48 ms), and the final result
of a 7 s utterance for ~77 ms. In one process that froze the desktop app's
window and could starve the audio callbacks. Here the ear only copies frames
into a pipe (microseconds) and asks for partials and the final transcript; the
decoding runs on its own interpreter. Vosk releases the GIL and stays in-process.

Moonshine (`speech.moonshine`) re-decodes the growing utterance on a thread of
the worker as audio arrives and pushes each new partial transcript up the pipe
(`_Partial`, tagged with the utterance it belongs to): `partial()` here only
reads what has arrived, never waits for a decode. `final()` waits for the
worker, which reuses its last decode when no speech came after it.

The grammar pass over near-misses (`speech.grammar_pass`) decodes in the worker
too, once the parent asks for it (`reread_near_misses`): the worker keeps the
utterance's audio, and after a final whose words are a near-miss the parent
asks for the grammar's reading of it (`grammar_reading`). pocketsphinx holds
the GIL for those 150-270 ms; in the parent that stalled the window, the audio
callbacks and the reply's streaming.

If the worker dies, the utterance in progress is lost (its transcript is empty),
the failure is logged and a new worker starts on the next frame.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from assistant.audio.format import SAMPLE_RATE
from assistant.memory import trim_heap
from assistant.speech.stt import SttError, Transcript, _as_pcm, _transcript
from assistant.speech.worker_process import (
    WorkerError,
    WorkerGone,
    WorkerNotReady,
    WorkerProcess,
    WorkerTimeout,
)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 10.0
REVIVE_EVERY_S = 5.0


class Op(StrEnum):
    """What the parent asks its worker, as (op, bytes) on the pipe."""

    ACCEPT = "accept"
    """Decode these samples (int16 bytes)."""
    PARTIAL = "partial"
    """Answer with the partial transcript."""
    FINAL = "final"
    """Answer with the final transcript; the utterance ends."""
    RESET = "reset"
    """Drop the utterance."""
    GRAMMAR = "grammar"
    """Keep each utterance's audio for the grammar pass, whose grammar names
    these apps (UTF-8, one a line); its decoder loads on the first near-miss."""
    REREAD = "reread"
    """Answer with the grammar pass's reading of the utterance the last FINAL
    ended (`_Reading`)."""
    QUIT = "quit"


@dataclass(frozen=True)
class _Ready:
    load_seconds: float


@dataclass(frozen=True)
class _Failed:
    message: str
    code: str


@dataclass(frozen=True)
class _Partial:
    """A newer partial transcript, pushed by a Moonshine worker unasked."""

    utterance: int
    """Utterances the worker had finished or dropped before this one."""
    text: str


@dataclass(frozen=True)
class _Settled:
    """A Moonshine worker's word on whether its latest partial covers all the
    speech it has heard (pushed whenever that changes)."""

    utterance: int
    settled: bool


@dataclass(frozen=True)
class _Reading:
    """The grammar pass's reading of the last finished utterance ("" when none)."""

    text: str
    ms: float
    """The decode's time."""


ENGINES = ("pocketsphinx", "moonshine")


def _worker_main(
    conn: Connection, extra_words: dict[str, str], two_pass: bool, engine: str = "pocketsphinx"
) -> None:
    if engine == "moonshine":
        _moonshine_main(conn)
        return
    from assistant.speech.stt import PocketsphinxEngine

    try:
        engine = PocketsphinxEngine(extra_words)
        rec = engine.recognizer(two_pass=two_pass)
    except SttError as e:
        conn.send(_Failed(str(e), e.code))
        return
    except Exception as e:  # the model files are missing or unreadable
        conn.send(_Failed(f"The English speech model could not be loaded: {e}", "model_broken"))
        return
    try:
        conn.send(_Ready(engine.load_seconds))
    except OSError:  # the parent quit while the model loaded: nothing to tell
        return
    _serve(conn, rec, conn.send)


def _serve(
    conn: Connection, rec: Any, send: Callable[[object], None],
    after: Callable[[Op], None] | None = None,
) -> None:
    """Answer the parent's requests with `rec` until it says QUIT or goes away;
    `after(op)` runs once each request is done. When an utterance ends, the
    memory its decodes freed goes back to the system (Moonshine's kept ~14 MB
    per process otherwise; docs/ARCHITECTURE.md, Memory)."""
    rereader = _Rereader()
    while True:
        try:
            op, data = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if op == Op.ACCEPT:
            samples = np.frombuffer(data, dtype=np.int16)
            rec.accept(samples)
            rereader.accept(samples)
        elif op == Op.PARTIAL:
            send(rec.partial())
        elif op == Op.FINAL:
            send(rec.final())
            rereader.final()
        elif op == Op.RESET:
            rec.reset()
            rereader.reset()
        elif op == Op.GRAMMAR:
            rereader.start(data.decode("utf-8").splitlines())
        elif op == Op.REREAD:
            send(rereader.reading())
        elif op == Op.QUIT:
            return
        if after is not None:
            after(op)
        if op in (Op.FINAL, Op.RESET):  # answered: the parent is not waiting
            trim_heap()


class _Rereader:
    """The worker's side of the grammar pass: the utterance's audio, and the
    grammar decoder (`grammar_pass.GrammarPass`) that reads the last finished
    one on request."""

    def __init__(self) -> None:
        self.second: Any = None
        self._audio: list[np.ndarray] = []
        self._finished: list[np.ndarray] = []

    def start(self, apps: list[str]) -> None:
        """Keep audio from now on. The decoder loads on the first near-miss
        (~60 ms more for that one): loaded here, it cost the worker ~35 MB
        from the start, for a pass many sessions never need."""
        from assistant.speech.command_bias import CommandBias
        from assistant.speech.grammar_pass import GrammarPass

        self.second = GrammarPass(CommandBias(apps))

    def accept(self, samples: np.ndarray) -> None:
        if self.second is not None:
            self._audio.append(samples)

    def final(self) -> None:
        self._finished, self._audio = self._audio, []

    def reset(self) -> None:
        self._audio, self._finished = [], []

    def reading(self) -> _Reading:
        audio, self._finished = self._finished, []
        if self.second is None or not audio:
            return _Reading("", 0.0)
        try:
            text = self.second.decode(np.concatenate(audio))
        except Exception:  # no pocketsphinx here: no reading, the words stand
            log.warning("speech recogniser worker: no grammar pass", exc_info=True)
            self.second = None
            return _Reading("", 0.0)
        return _Reading(text, self.second.last_ms)


def _moonshine_main(conn: Connection) -> None:
    from assistant.speech.moonshine import BackgroundRecognizer, MoonshineEngine

    try:
        engine = MoonshineEngine()
    except SttError as e:
        conn.send(_Failed(str(e), e.code))
        return
    except Exception as e:  # the library itself does not load on this machine
        conn.send(_Failed(f"The Moonshine speech model could not be loaded: {e}", "model_broken"))
        return
    sending = threading.Lock()  # the decode thread pushes partials, this one answers

    def send(message: object) -> None:
        with sending:
            conn.send(message)

    told = [True]  # the settledness the parent was last told

    def tell_settled() -> None:
        settled = rec.settled()
        if settled != told[0]:
            told[0] = settled
            with contextlib.suppress(OSError, ValueError):
                send(_Settled(rec.utterance, settled))

    def push(utterance: int, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # the parent went away
            send(_Partial(utterance, text))
        tell_settled()

    rec = BackgroundRecognizer(engine.recognizer(), on_partial=push)
    rec.on_decoded = tell_settled
    try:
        send(_Ready(engine.load_seconds))
    except OSError:  # the parent quit while the model loaded: nothing to tell
        rec.close()
        return
    trim_heap()  # what loading the model freed: 15 MB
    def after(op: Op) -> None:
        if op == Op.ACCEPT:
            tell_settled()
        elif op in (Op.RESET, Op.FINAL):
            told[0] = True  # a new utterance starts settled, on both sides

    try:
        _serve(conn, rec, send, after)
    finally:
        rec.close()


class RecognizerProcess:
    """A `Recognizer` (pocketsphinx or Moonshine) whose decoder lives in a worker
    process. The worker starts loading at construction; `ready()` waits for it
    and raises SttError when it cannot load the model. Not thread-safe: one
    thread (the ear) uses it, as with any recogniser."""

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        extra_words: dict[str, str] | None = None,
        two_pass: bool = False,
        *,
        engine: str = "pocketsphinx",
    ) -> None:
        """`extra_words` and `two_pass` are pocketsphinx's (see PocketsphinxEngine);
        Moonshine has no dictionary to add words to."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
        self.engine = engine
        self.extra_words = dict(extra_words or {})
        self.two_pass = two_pass
        self.load_seconds = 0.0
        self.restarts = 0
        self._worker = WorkerProcess(_worker_main, name="parley-stt", ready=_Ready)
        self._last_revive = 0.0
        self._pushes = engine == "moonshine"  # partials arrive unasked
        self._utterance = 0  # as the worker counts them (both start at 0)
        self._latest = ""  # the newest partial pushed for this utterance
        self._settled = True  # the newest partial covers all speech sent (see settled())
        self._grammar: bytes | None = None  # the apps of the worker's grammar pass
        self._spawn()

    def ready(self) -> None:
        """Wait until the worker has loaded the model (the first use waits too).
        Raises SttError when it cannot; the model loads while the caller does
        other start-up work in between."""
        if self._worker.started and not self._worker.ready:
            self._await_ready()

    def _start(self) -> None:
        self._spawn()
        self._await_ready()

    def _spawn(self) -> None:
        self._worker.start(self.extra_words, self.two_pass, self.engine)
        self._utterance, self._latest, self._settled = 0, "", True
        if self._grammar is not None:  # read after the model loads
            self._worker.send((Op.GRAMMAR, self._grammar))

    def _await_ready(self) -> None:
        try:
            self._worker.wait_ready(START_TIMEOUT_S)
        except WorkerError as e:
            self._worker.close()
            reply = e.reply if isinstance(e, WorkerNotReady) else None
            if isinstance(reply, _Failed):
                raise SttError(reply.message, reply.code) from None
            raise SttError("The speech recogniser did not start.", "worker_failed") from None
        self.load_seconds = time.monotonic() - self._worker.started_at

    def _send(self, op: Op, data: bytes = b"") -> bool:
        if not self._worker.started and not self._revive():
            return False
        if not self._worker.ready:
            try:
                self._await_ready()
            except SttError as e:
                log.error("speech recogniser worker could not start: %s", e)
                return False
        try:
            self._worker.send((op, data))
            return True
        except WorkerGone as e:
            self._lost(e)
            return False

    def _answer(self) -> Any:
        """The worker's answer to the last request; pushed partials met on the
        way are taken in."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        try:
            while True:
                reply = self._worker.receive(max(0.0, deadline - time.monotonic()))
                if not isinstance(reply, _Partial | _Settled):
                    return reply
                self._take(reply)
        except WorkerTimeout:
            self._lost(TimeoutError(f"no answer within {ANSWER_TIMEOUT_S:g} s"))
        except WorkerGone as e:
            self._lost(e)
        return None

    def _take(self, pushed: _Partial | _Settled) -> None:
        if pushed.utterance != self._utterance:
            return  # a late one for a finished utterance
        if isinstance(pushed, _Settled):
            self._settled = pushed.settled
        else:
            self._latest = pushed.text

    def _drain(self) -> None:
        """Take in the partials pushed so far, without waiting."""
        if not self._worker.ready:
            return
        try:
            while self._worker.poll():
                reply = self._worker.receive(0)
                if isinstance(reply, _Partial | _Settled):
                    self._take(reply)
                else:
                    log.warning("speech recogniser worker: unexpected %r", reply)
        except WorkerError as e:
            self._lost(e)

    def _next_utterance(self) -> None:
        self._utterance += 1
        self._latest = ""
        self._settled = True

    def _lost(self, why: Exception) -> None:
        log.error("speech recogniser worker lost (%s); the utterance is dropped", why)
        self._latest = ""
        self._stop_worker()

    def _revive(self) -> bool:
        """Start a new worker, at most once every REVIVE_EVERY_S: the ear calls
        this for every frame, and a model that no longer loads must not stall it."""
        now = time.monotonic()
        if now - self._last_revive < REVIVE_EVERY_S:
            return False
        self._last_revive = now
        self.restarts += 1
        try:
            self._start()
        except SttError as e:
            log.error("speech recogniser worker could not restart: %s", e)
            return False
        return True

    def _stop_worker(self) -> None:
        self._worker.stop((Op.QUIT, b""), grace=2.0)

    # -- Recognizer -------------------------------------------------------------

    def accept(self, samples: np.ndarray) -> None:
        data = _as_pcm(samples).tobytes()
        if data:
            self._send(Op.ACCEPT, data)

    def partial(self) -> str:
        if self._pushes:  # the newest pushed partial: no round trip, no wait
            self._drain()
            return self._latest
        if not self._send(Op.PARTIAL):
            return ""
        text = self._answer()
        return text if isinstance(text, str) else ""

    def settled(self) -> bool:
        """Whether the partial covers all the speech sent: a streaming decoder
        (pocketsphinx) always; Moonshine once its re-decode after the latest
        speech is in."""
        if self._pushes:
            self._drain()
            return self._settled
        return True

    def final(self) -> Transcript:
        if not self._send(Op.FINAL):
            return _transcript([], self.engine)
        self._next_utterance()
        result = self._answer()
        return result if isinstance(result, Transcript) else _transcript([], self.engine)

    def reset(self) -> None:
        if self._send(Op.RESET):
            self._next_utterance()

    # -- the grammar pass (speech.grammar_pass.WorkerGrammarPass) ----------------

    def reread_near_misses(self, apps: list[str]) -> None:
        """Have the worker (and each restarted one) keep each utterance's audio
        for the grammar pass, whose grammar names `apps`."""
        self._grammar = "\n".join(apps).encode("utf-8")
        if self._worker.started:
            try:
                self._worker.send((Op.GRAMMAR, self._grammar))
            except WorkerGone as e:
                self._lost(e)

    def grammar_reading(self) -> tuple[str, float] | None:
        """The grammar's reading of the utterance the last `final()` ended, and
        the decode's time in ms ("" when it has none); None when the worker
        went away meanwhile (logged; a new one starts on the next frame)."""
        if not self._worker.ready:
            return None  # lost with the final: no utterance to read
        if not self._send(Op.REREAD):
            return None
        reply = self._answer()
        if isinstance(reply, _Reading):
            return reply.text, reply.ms
        if reply is not None:
            log.warning("speech recogniser worker: unexpected %r", reply)
        return None

    def close(self) -> None:
        self._stop_worker()

    @property
    def pid(self) -> int | None:
        return self._worker.pid
