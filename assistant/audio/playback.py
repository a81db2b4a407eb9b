"""Playing clips (TTS clauses, earcons) through the speaker, stoppable at once.

`Player` owns one sounddevice OutputStream, opened at the device's own rate;
clips are resampled to it with soxr when they are queued. PortAudio's callback
copies the current clip into the output block, or zeros when there is nothing
to play, so `stop()` only has to drop the queued clips for the next block to be
silent; it also aborts and restarts the stream, which discards the audio
PortAudio and the sound server still buffer (otherwise that much, the output
latency, would still play: 40 ms here).

First-sample time: when the callback hands out the first non-silent sample of a
clip, it computes when that sample will reach the speaker from PortAudio's
timing (`outputBufferDacTime - currentTime`, the time until the block starts
playing, plus the sample's offset in the block), falling back to the stream's
reported latency when the host API gives no timing. The report goes to
`on_first_sample(t_monotonic)` from a small dispatcher thread, never from the
audio thread.

Reference signal: everything the callback hands out (zeros included) goes
into a ring buffer, `recent_output(seconds)`, for an echo canceller or the
self-hearing gate.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np
import soxr

from assistant.audio import devices

log = logging.getLogger(__name__)

SILENCE = 64
"""|sample| below this (about -54 dBFS) counts as silence when finding a clip's onset."""


class NoOutputDevice(Exception):
    """There is no speaker to open."""

    MESSAGE = "No speaker found. Plug one in or choose one in settings; replies are shown as text."

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.MESSAGE)
        self.detail = detail


class RingBuffer:
    """The last `capacity` samples written. One writer (the audio callback) and
    readers on other threads; a reader racing the writer may get a block that is
    partly one callback newer, which a reference signal tolerates."""

    def __init__(self, capacity: int, dtype: Any = np.int16) -> None:
        self.capacity = capacity
        self._buf = np.zeros(capacity, dtype=dtype)
        self.written = 0
        """Samples ever written."""

    def write(self, x: np.ndarray) -> None:
        n = len(x)
        if n > self.capacity:  # only the tail survives; keep positions consistent
            skip = n - self.capacity
            x, n = x[skip:], self.capacity
            self.written += skip
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = x[:first]
        self._buf[: n - first] = x[first:]
        self.written += n

    def latest(self, n: int) -> np.ndarray:
        """A copy of the last `n` samples written, oldest first (fewer if fewer were)."""
        end = self.written
        n = max(0, min(n, self.capacity, end))
        start = (end - n) % self.capacity
        if start + n <= self.capacity:
            return self._buf[start : start + n].copy()
        return np.concatenate([self._buf[start:], self._buf[: (start + n) - self.capacity]])


def onset(samples: np.ndarray, threshold: int = SILENCE) -> int:
    """Index of the first sample at or above `threshold` in magnitude (0 if none)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= threshold)
    return int(loud[0]) if loud.size else 0


def resample_clip(samples: np.ndarray, rate: int, out_rate: int) -> np.ndarray:
    """A whole mono clip (int16 or float in [-1, 1]) as int16 at `out_rate`."""
    x = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else samples
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if rate != out_rate and x.size:
        x = soxr.resample(x, rate, out_rate)
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


@dataclass
class _Clip:
    id: int
    samples: np.ndarray
    """int16 at the stream rate."""
    generation: int
    onset: int
    pos: int = 0
    reported: bool = False


@dataclass(frozen=True)
class _FirstSample:
    clip_id: int
    t: float


@dataclass(frozen=True)
class _Shutdown:
    pass


class Player:
    """Plays mono clips on the output device named by `device` (the
    `output_device` setting). `block_ms`: audio block length, which bounds how
    late `stop()` takes effect in the callback. `history_s`: length of the
    reference ring buffer.

    The block starts small, because it sets the output latency: on PulseAudio
    the stream buffers two blocks, and a clip's first sample reaches the
    device ~35 ms after `play` with 10 ms blocks against ~60 ms with 20 ms.
    5 ms blocks were measured too: ~12 ms alone, but in the voice loop the
    time from a reply's audio to its first sample stayed ~40 ms, and `parley
    bench turn-gap` gave rule turns a p50 of 186 ms against 197 ms (two runs
    each, with a shorter Moonshine tail that alone changed nothing) and LLM
    turns none, for 2.4 % of a core against 1.6 % while the stream is open.
    So 10 ms stays.
    A loaded machine cannot always feed 10 ms blocks in time (underflows are
    clicks): after UNDERFLOWS_TO_GROW underflows the block doubles, up to
    MAX_BLOCK_MS, the next time the output is quiet. The smallest block this
    machine can feed is found, not assumed."""

    UNDERFLOWS_TO_GROW = 3
    MAX_BLOCK_MS = 40

    def __init__(
        self,
        device: str = "",
        *,
        block_ms: int = 10,
        history_s: float = 10.0,
        latency: str | float = "low",
        on_first_sample: Callable[[float], None] | None = None,
    ) -> None:
        self.spec = device
        self.block_ms = block_ms
        self.latency = latency
        self.history_s = history_s
        self.on_first_sample = on_first_sample
        self.rate = 0
        """Hz of the open stream (clips are resampled to it)."""
        self.stream_latency = 0.0
        """Seconds, PortAudio's output latency for the open stream."""
        self.device_name = ""
        self.underflows = 0
        self._underflows_at_open = 0
        self._stream: Any = None
        self._channels = 1
        self._pending: collections.deque[_Clip] = collections.deque()
        self._current: _Clip | None = None
        self._generation = 0
        self._next_id = 1
        self._done_id = 0  # clips play in order: every id up to this one is finished
        self._tail_end = 0.0  # monotonic time the last handed-out sample finishes playing
        self._first: dict[int, float] = {}
        self._events: queue.SimpleQueue[_FirstSample | _Shutdown] = queue.SimpleQueue()
        self._dispatcher: threading.Thread | None = None
        self.reference = RingBuffer(1)
        """Everything handed to PortAudio (int16 mono at `rate`, zeros included):
        the reference signal for an echo canceller or the self-hearing gate."""
        self._lock = threading.Lock()  # open/close vs play from different threads

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> Player:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Open the output stream (`play` does it on demand). Raises `NoOutputDevice`."""
        with self._lock:
            if self._stream is not None and not self._stream.closed and self._stream.active:
                return
            self._open()
        if self._dispatcher is None or not self._dispatcher.is_alive():
            self._dispatcher = threading.Thread(target=self._dispatch, name="player-events",
                                                daemon=True)  # fmt: skip
            self._dispatcher.start()

    def _open(self) -> None:
        sd = devices._sd()
        if sd is None:
            raise NoOutputDevice(devices.portaudio_missing())
        self._close_stream()
        index = self._resolve()
        if index is None:
            devices.refresh()  # a speaker may have appeared since PortAudio started
            index = self._resolve()
        if index is None:
            raise NoOutputDevice("no output device listed")
        info = sd.query_devices(index)
        rate = int(info["default_samplerate"])
        channels = 1
        with devices.PORTAUDIO_LOCK:
            stream = None
            try:
                try:
                    sd.check_output_settings(device=index, channels=1, dtype="int16",
                                             samplerate=rate)  # fmt: skip
                except sd.PortAudioError:
                    channels = min(2, int(info["max_output_channels"]))
                if self.rate != rate:
                    self.reference = RingBuffer(int(rate * self.history_s))
                self.rate, self._channels = rate, channels
                stream = sd.OutputStream(
                    device=index, samplerate=rate, channels=channels, dtype="int16",
                    blocksize=rate * self.block_ms // 1000, latency=self.latency,
                    callback=self._callback,
                )  # fmt: skip
                devices.register_stream(stream)
                self.stream_latency = float(stream.latency)
                self._underflows_at_open = self.underflows
                stream.start()
            except sd.PortAudioError as e:
                if stream is not None:
                    stream.close(ignore_errors=True)
                raise NoOutputDevice(f"{info['name']}: {e}") from e
        self._stream = stream
        self.device_name = str(info["name"])
        log.info("speaker %s at %d Hz, %d ch, latency %.0f ms", self.device_name, rate,
                 channels, self.stream_latency * 1000)  # fmt: skip

    def _resolve(self) -> int | None:
        index = devices.find_output(self.spec)
        if index is None and self.spec.strip():
            index = devices.find_output("")
            if index is not None:
                log.warning("speaker %r not found; using %s", self.spec,
                            devices.device_name(index))  # fmt: skip
        return index

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None and not stream.closed:
            with devices.PORTAUDIO_LOCK:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)

    def rest(self) -> bool:
        """Close the output stream while nothing plays: an open stream keeps
        PortAudio's callback thread writing silence, about 1 % of a core here,
        which is a third of Parley's idle budget. `start` (or `play`) opens it
        again. True when the stream was closed."""
        with self._lock:
            if self.playing or self._stream is None:  # `playing` counts queued clips too
                return False
            self._close_stream()
            return True

    def close(self) -> None:
        """Stop playing and release the device and the dispatcher thread."""
        self.stop()
        with self._lock:
            self._close_stream()
        if self._dispatcher is not None:
            self._events.put(_Shutdown())
            self._dispatcher.join(timeout=2)
            self._dispatcher = None

    # ------------------------------------------------------------------ control

    def play(self, samples: np.ndarray, rate: int) -> int:
        """Queue a mono clip (int16, or float in [-1, 1]) recorded at `rate` Hz and
        return at once with its id. Reopens the stream if the device was lost."""
        stream = self._stream
        if stream is None or stream.closed or not stream.active:
            self.start()
        elif self._should_grow():
            with self._lock:
                self.block_ms = min(self.block_ms * 2, self.MAX_BLOCK_MS)
                log.info("speaker underflows: audio blocks grow to %d ms", self.block_ms)
                self._open()
        clip = resample_clip(samples, rate, self.rate)
        with self._lock:
            clip_id = self._next_id
            self._next_id += 1
            self._pending.append(_Clip(clip_id, clip, self._generation, onset(clip)))

        return clip_id

    def _should_grow(self) -> bool:
        """Underflows since the stream opened, with nothing playing now (a
        reopen would cut a clip)."""
        return (
            self.underflows - self._underflows_at_open >= self.UNDERFLOWS_TO_GROW
            and self.block_ms < self.MAX_BLOCK_MS
            and not self.playing
        )

    def stop(self, *, flush: bool = True) -> None:
        """Silence output from the next audio block on: drop the current and queued
        clips. With `flush`, also discard what PortAudio and the sound server still
        buffer (abort and restart the stream, a few ms in this thread): measured on
        PulseAudio, the sound ends about 7 ms after stop() instead of one block plus
        the output latency (60 ms) later."""
        was_playing = self.playing
        self._generation += 1  # the callback drops clips of older generations
        self._pending.clear()
        self._done_id = self._next_id - 1
        self._tail_end = 0.0
        stream = self._stream
        if flush and was_playing and stream is not None and not stream.closed:
            sd = devices._sd()
            with devices.PORTAUDIO_LOCK:
                try:
                    stream.abort()
                    stream.start()
                except sd.PortAudioError as e:  # the device went away: reopen on play()
                    log.warning("speaker stream failed on stop: %s", e)
                    self._close_stream()

    @property
    def playing(self) -> bool:
        """True while clips are queued or sound handed to PortAudio is still playing."""
        return self._done_id < self._next_id - 1 or time.monotonic() < self._tail_end

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until everything queued has been played; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.playing:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def first_sample_time(self, clip_id: int) -> float | None:
        """time.monotonic() at which the clip's first non-silent sample is expected
        at the speaker (None until it has been handed to PortAudio)."""
        return self._first.get(clip_id)

    def recent_output(self, seconds: float) -> np.ndarray:
        """The last `seconds` of what was handed to PortAudio (int16 mono at `rate`),
        ending about `stream_latency` ahead of what the speaker is playing now."""
        return self.reference.latest(int(seconds * self.rate))

    # ------------------------------------------------------------------ PortAudio thread

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        if status.output_underflow:
            self.underflows += 1
        ahead = time_info.outputBufferDacTime - time_info.currentTime
        if not 0.0 < ahead < 2.0:  # the host API gave no usable timing
            ahead = self.stream_latency
        out = outdata[:, 0]
        generation = self._generation
        filled = 0
        while filled < frames:
            clip = self._current
            if clip is None or clip.generation != generation:
                try:
                    clip = self._pending.popleft()
                except IndexError:
                    clip = None
                self._current = clip
                if clip is None:
                    break
                continue  # re-check the generation of the clip just taken
            n = min(frames - filled, len(clip.samples) - clip.pos)
            out[filled : filled + n] = clip.samples[clip.pos : clip.pos + n]
            if not clip.reported and clip.onset < clip.pos + n:
                clip.reported = True
                t = now + ahead + (filled + clip.onset - clip.pos) / self.rate
                self._events.put(_FirstSample(clip.id, t))
            clip.pos += n
            filled += n
            if clip.pos >= len(clip.samples):
                self._current = None
                self._done_id = max(self._done_id, clip.id)
                self._tail_end = now + ahead + filled / self.rate
        out[filled:] = 0
        if self._channels > 1:
            outdata[:, 1:] = outdata[:, :1]
        self.reference.write(out)

    # ------------------------------------------------------------------ dispatcher thread

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if isinstance(event, _Shutdown):
                return
            self._first[event.clip_id] = event.t
            if len(self._first) > 256:  # keep the map small over a long session
                for old in sorted(self._first)[:128]:
                    del self._first[old]
            if self.on_first_sample is not None:
                try:
                    self.on_first_sample(event.t)
                except Exception:
                    log.exception("on_first_sample failed")
