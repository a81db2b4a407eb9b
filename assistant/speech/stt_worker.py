"""pocketsphinx in a process of its own.

pocketsphinx's Python binding holds the GIL while it works. Measured with a
1 ms ticker thread: loading the decoder stops every other Python thread for
~0.5 s, decoding a 30 ms frame for ~6 ms (up to ~48 ms), and the final result
of a 7 s utterance for ~77 ms. In one process that froze the desktop app's
window and could starve the audio callbacks. Here the ear only copies frames
into a pipe (microseconds) and asks for partials and the final transcript; the
decoding runs on its own interpreter. Vosk releases the GIL and stays in-process.

If the worker dies, the utterance in progress is lost (its transcript is empty),
the failure is logged and a new worker starts on the next frame.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from assistant.speech.stt import SAMPLE_RATE, SttError, Transcript, _as_pcm, _transcript

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
ANSWER_TIMEOUT_S = 10.0
REVIVE_EVERY_S = 5.0


@dataclass(frozen=True)
class _Ready:
    load_seconds: float


@dataclass(frozen=True)
class _Failed:
    message: str
    code: str


def _worker_main(conn: Connection, extra_words: dict[str, str], two_pass: bool) -> None:
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
    conn.send(_Ready(engine.load_seconds))
    while True:
        try:
            op, data = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if op == "accept":
            rec.accept(np.frombuffer(data, dtype=np.int16))
        elif op == "partial":
            conn.send(rec.partial())
        elif op == "final":
            conn.send(rec.final())
        elif op == "reset":
            rec.reset()
        elif op == "quit":
            return


class RecognizerProcess:
    """A pocketsphinx `Recognizer` whose decoder lives in a worker process.
    The worker starts loading at construction; `ready()` waits for it and raises
    SttError when it cannot load the model. Not thread-safe: one thread (the
    ear) uses it, as with any recogniser."""

    sample_rate = SAMPLE_RATE

    def __init__(self, extra_words: dict[str, str] | None = None, two_pass: bool = False) -> None:
        self.extra_words = dict(extra_words or {})
        self.two_pass = two_pass
        self.load_seconds = 0.0
        self.restarts = 0
        self._proc: Any = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()  # close() may come from another thread
        self._last_revive = 0.0
        self._spawned = 0.0
        self._ready = False
        self._spawn()

    def ready(self) -> None:
        """Wait until the worker has loaded the model (the first use waits too).
        Raises SttError when it cannot; the model loads while the caller does
        other start-up work in between."""
        if self._conn is not None and self._proc is not None and not self._ready:
            self._await_ready()

    def _start(self) -> None:
        self._spawn()
        self._await_ready()

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_worker_main,
            args=(child, self.extra_words, self.two_pass),
            name="parley-stt",
            daemon=True,
        )
        proc.start()
        child.close()
        self._spawned = time.monotonic()
        self._proc, self._conn, self._ready = proc, parent, False

    def _await_ready(self) -> None:
        proc, conn = self._proc, self._conn
        assert proc is not None and conn is not None
        reply: object = None
        try:
            if conn.poll(START_TIMEOUT_S):
                reply = conn.recv()
        except (EOFError, OSError):
            reply = None
        if not isinstance(reply, _Ready):
            self._proc = self._conn = None
            proc.kill()
            conn.close()
            if isinstance(reply, _Failed):
                raise SttError(reply.message, reply.code)
            raise SttError("The speech recogniser did not start.", "worker_failed")
        self.load_seconds = time.monotonic() - self._spawned
        self._ready = True

    def _send(self, op: str, data: bytes = b"") -> bool:
        if self._conn is None and not self._revive():
            return False
        if not self._ready:
            try:
                self._await_ready()
            except SttError as e:
                log.error("speech recogniser worker could not start: %s", e)
                return False
        assert self._conn is not None
        try:
            self._conn.send((op, data))
            return True
        except (OSError, ValueError) as e:
            self._lost(e)
            return False

    def _answer(self) -> Any:
        assert self._conn is not None
        try:
            if self._conn.poll(ANSWER_TIMEOUT_S):
                return self._conn.recv()
            self._lost(TimeoutError(f"no answer within {ANSWER_TIMEOUT_S:g} s"))
        except (EOFError, OSError) as e:
            self._lost(e)
        return None

    def _lost(self, why: Exception) -> None:
        log.error("speech recogniser worker lost (%s); the utterance is dropped", why)
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
        with self._lock:
            proc, conn = self._proc, self._conn
            self._proc = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("quit", b""))
            conn.close()
        if proc is not None:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()

    # -- Recognizer -------------------------------------------------------------

    def accept(self, samples: np.ndarray) -> None:
        data = _as_pcm(samples).tobytes()
        if data:
            self._send("accept", data)

    def partial(self) -> str:
        if not self._send("partial"):
            return ""
        text = self._answer()
        return text if isinstance(text, str) else ""

    def final(self) -> Transcript:
        if not self._send("final"):
            return _transcript([], "pocketsphinx")
        result = self._answer()
        return result if isinstance(result, Transcript) else _transcript([], "pocketsphinx")

    def reset(self) -> None:
        self._send("reset")

    def close(self) -> None:
        self._stop_worker()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else int(self._proc.pid)
