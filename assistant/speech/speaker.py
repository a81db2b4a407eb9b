"""The mouth: reply clauses -> TTS -> audio output, on its own thread.

The brain hands over clauses as the reply streams (`say`); the first one is
synthesised and played while the LLM is still writing the rest. `stop()`
silences the output at once and drops every clause still queued (barge-in,
the stop button); clauses of a stopped reply that arrive late are ignored
because each reply is an epoch.

A reply can be prepared before it may be heard (`new_reply(held=True)`): its
clauses are synthesised as usual but kept until `release` plays them, or
`discard` drops them. The pipeline answers during the user's pause this way,
so the first sample is written the moment the turn is over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from assistant.memory import trim_heap
from assistant.speech.chunking import speakable
from assistant.speech.pauses import fit_pauses
from assistant.speech.tts import Synthesizer, TtsError

log = logging.getLogger(__name__)


class AudioOut(Protocol):
    """Where synthesised speech goes: a sound device or a file."""

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Queue int16 mono samples at `rate` Hz; returns at once."""
        ...

    def stop(self) -> None:
        """Silence now and drop whatever is queued."""
        ...

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been played."""
        ...


@dataclass
class ReplyTiming:
    """Monotonic times (s) for one reply's speech."""

    first_clause: float = 0.0
    tts_ready: float = 0.0
    first_sample: float = 0.0


@dataclass(frozen=True)
class _Clause:
    text: str
    epoch: int


@dataclass(frozen=True)
class _EndOfReply:
    epoch: int
    done: Callable[[ReplyTiming], None]


@dataclass(frozen=True)
class _Shutdown:
    pass


@dataclass(frozen=True)
class _Warm:
    """Open the output before a reply needs it (the user started talking)."""


REST_AFTER_S = 8.0
"""Quiet time after which the output stream is closed (`Player.rest`)."""


@dataclass
class _Reply:
    epoch: int
    timing: ReplyTiming = field(default_factory=ReplyTiming)
    spoke: bool = False


class Speaker:
    """Speaks reply clauses in order. `say`/`end_reply`/`stop` may be called
    from any thread; synthesis and output happen on the speaker's thread."""

    def __init__(
        self,
        synth: Synthesizer,
        out: AudioOut,
        on_first_sample: Callable[[float], None] | None = None,
        may_rest: Callable[[], bool] = lambda: True,
    ) -> None:
        self._synth = synth
        self._out = out
        self._queue: queue.Queue[_Clause | _EndOfReply | _Shutdown | _Warm] = queue.Queue()
        self._epoch = 0
        self._lock = threading.Lock()
        self._reply: _Reply | None = None
        self._held: dict[int, list[tuple[np.ndarray, int]]] = {}
        """Clips of held replies by epoch, in order, until `release` or `discard`."""
        self._thread: threading.Thread | None = None
        self._trimmed = False  # the heap was trimmed and nothing happened since
        self.on_first_sample = on_first_sample
        """Called (from the audio thread) when a reply's first sample is played."""
        self.speaking = threading.Event()
        """Set from the first clause of a reply until its last sample is played."""
        self.may_rest = may_rest
        """Whether the output may close after REST_AFTER_S of quiet. The voice
        loop keeps it open whenever a turn can start without the wake word: a
        stream opened at the end of the user's speech costs the first reply
        sound ~100 ms, and its first blocks are not the device's steady latency."""

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mouth", daemon=True)
            self._thread.start()

    def new_reply(self, held: bool = False) -> int:
        """Begin a reply; returns its epoch (pass it to `say`/`end_reply`).
        `held`: synthesise its clauses but play nothing until `release`."""
        with self._lock:
            self._epoch += 1
            if held:
                self._held[self._epoch] = []
            return self._epoch

    def release(self, epoch: int) -> None:
        """Play a held reply: the clips ready so far at once, later ones as
        they are synthesised. Any thread."""
        with self._lock:
            clips = self._held.pop(epoch, None)
            if clips is None or epoch != self._epoch:
                return
            if clips:
                if self._reply is not None and self._reply.epoch == epoch:
                    self._reply.spoke = True
                self.speaking.set()
            for samples, rate in clips:
                self._out.play(samples, rate)

    def held(self, epoch: int) -> int | None:
        """Clips of a held reply ready to play; None once released or dropped."""
        with self._lock:
            clips = self._held.get(epoch)
            return None if clips is None else len(clips)

    def discard(self, epoch: int) -> None:
        """Drop a held reply and whatever of it is still to come, without
        touching the output (nothing of it was heard). Any thread."""
        with self._lock:
            self._held.pop(epoch, None)
            if epoch == self._epoch:
                self._epoch += 1

    def say(self, text: str, epoch: int) -> None:
        text = speakable(text)
        if text:
            self._queue.put(_Clause(text, epoch))

    def end_reply(self, epoch: int, done: Callable[[ReplyTiming], None]) -> None:
        """`done(timing)` runs on the speaker's thread once the reply has been
        spoken (or dropped by `stop`)."""
        self._queue.put(_EndOfReply(epoch, done))

    def warm(self) -> None:
        """Have the output open by the time a reply comes: called when the user
        starts talking, hundreds of ms before the first clause. (The output
        rests after REST_AFTER_S of quiet.) Returns at once."""
        self._queue.put(_Warm())

    def stop(self) -> None:
        """Silence within one audio block; queued clauses are dropped."""
        with self._lock:
            self._epoch += 1
        self._out.stop()
        self.speaking.clear()

    def close(self) -> None:
        self.stop()
        self._queue.put(_Shutdown())
        if self._thread is not None:
            self._thread.join(timeout=5)

    def mark_first_sample(self, t: float) -> None:
        """Called by the audio output when a clip's first sample is handed to
        the device (from the audio thread)."""
        reply = self._reply
        if reply is not None and not reply.timing.first_sample:
            reply.timing.first_sample = t
            if self.on_first_sample is not None:
                self.on_first_sample(t)

    # -- the thread -------------------------------------------------------------

    def _current(self, epoch: int) -> bool:
        with self._lock:
            return epoch == self._epoch

    def _run(self) -> None:
        while True:
            try:
                msg = self._queue.get(timeout=REST_AFTER_S)
            except queue.Empty:
                self._rest()
                continue
            self._trimmed = False
            if isinstance(msg, _Shutdown):
                return
            if isinstance(msg, _Warm):
                self._wake()
                continue
            if isinstance(msg, _EndOfReply):
                self._finish(msg)
                continue
            if not self._current(msg.epoch):
                continue  # a stopped reply
            if self._reply is None or self._reply.epoch != msg.epoch:
                self._reply = _Reply(msg.epoch)
            reply = self._reply
            if not reply.timing.first_clause:
                reply.timing.first_clause = time.monotonic()
            try:
                syn = self._synth.synthesize(msg.text)
            except (TtsError, ValueError) as e:
                log.warning("TTS failed for a %d-character clause: %s", len(msg.text), e)
                continue
            if not reply.timing.tts_ready:
                reply.timing.tts_ready = time.monotonic()
            samples = fit_pauses(syn.samples, syn.sample_rate, msg.text)
            with self._lock:  # against `release`: clips keep their order
                if msg.epoch != self._epoch:
                    continue
                held = self._held.get(msg.epoch)
                if held is not None:
                    held.append((samples, syn.sample_rate))
                    continue
            self.speaking.set()
            reply.spoke = True
            self._out.play(samples, syn.sample_rate)

    def _rest(self) -> None:
        rest = getattr(self._out, "rest", None)
        if rest is not None and not self.speaking.is_set() and self.may_rest() and rest():
            log.debug("output resting")
        if not self._trimmed and not self.speaking.is_set():
            # REST_AFTER_S without a word to say: Parley is at rest, and what its
            # threads freed since start-up or the last turn goes back to the
            # system (~10 MB after an exchange; docs/ARCHITECTURE.md, Memory).
            self._trimmed = True
            trim_heap()

    def _wake(self) -> None:
        start = getattr(self._out, "start", None)
        if start is None:
            return
        try:
            start()
        except Exception as e:  # no device now: `play` reports it when it matters
            log.info("could not open the output early: %s", e)

    def _finish(self, msg: _EndOfReply) -> None:
        reply = self._reply if self._reply and self._reply.epoch == msg.epoch else None
        if reply is not None and reply.spoke and self._current(msg.epoch):
            self._out.wait_done(timeout=120)
        self.speaking.clear()
        timing = reply.timing if reply is not None else ReplyTiming()
        try:
            msg.done(timing)
        except Exception:
            log.exception("end-of-reply callback failed")


class WavOut:
    """An AudioOut that writes what would be played to a WAV file, clip after
    clip (`parley listen --speak-to`, `parley say --to`)."""

    def __init__(self, path: Path, on_first_sample: Callable[[float], None] | None = None) -> None:
        self.path = path
        self._clips: list[np.ndarray] = []
        self._rate = 0
        self.on_first_sample = on_first_sample

    def play(self, samples: np.ndarray, rate: int) -> None:
        if self._rate and rate != self._rate:
            import soxr

            samples = soxr.resample(samples, rate, self._rate).astype(np.int16)
        else:
            self._rate = rate
        if self.on_first_sample is not None:
            self.on_first_sample(time.monotonic())
        self._clips.append(samples.astype(np.int16))

    def stop(self) -> None:
        pass  # a file keeps what was "played" up to the stop

    def wait_done(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        rate = self._rate or 16000
        data = np.concatenate(self._clips) if self._clips else np.zeros(0, np.int16)
        with wave.open(str(self.path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(data.tobytes())
