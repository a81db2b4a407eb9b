"""Audio sources for the voice loop: the microphone and WAV files.

Every source hands out frames of 16 kHz mono int16 samples as 1-D numpy
arrays of `FRAME_SAMPLES` (480 samples = 30 ms, what the VADs take), through one
interface::

    src.start()
    while True:
        try:
            frame = src.read(timeout=0.1)   # None: nothing yet
        except DeviceLost:                  # mic unplugged / sound server gone
            src.reopen(timeout=None)        # blocks until a device is back
            continue
        except EndOfStream:                 # file ended, or stop() was called
            break

End of stream and device loss are exceptions of their own types rather than
sentinel values, so a consumer cannot mistake them for audio and an unhandled
one stops the loop loudly.

`MicSource` keeps PortAudio's callback trivial: it copies the block into a
bounded queue (dropping the oldest block when the consumer falls behind, so
latency stays bounded) and notes the time. Resampling (when the device cannot
open at 16 kHz), down-mixing and cutting into frames happen in `read()`, on the
consumer's thread. PortAudio has no unplug notification: `read()` reports
`DeviceLost` when the stream finished by itself or no callback arrived for
`stall_s` seconds, but only after every frame captured before has been read.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import soxr

from assistant.audio import devices
from assistant.audio.format import (
    DBFS_FLOOR,
    FRAME_MS,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    dbfs,
    read_wav_16k,
)

log = logging.getLogger(__name__)

STALL_SECONDS = 1.0
"""No callback for this long means the device is gone."""


class NoInputDevice(Exception):
    """There is no microphone to open. `detail` says what PortAudio reported."""

    MESSAGE = (
        "No microphone found. Plug one in or choose one in settings; "
        "until then you can type."
    )

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.MESSAGE)
        self.detail = detail


class DeviceLost(Exception):
    """The microphone stopped delivering audio (unplugged, sound server gone).
    Raised by `read()` once all frames captured before are consumed; call
    `reopen()` to continue."""

    def __init__(self, device: str, reason: str) -> None:
        super().__init__(f"lost the microphone {device!r}: {reason}")
        self.device = device
        self.reason = reason


class EndOfStream(Exception):
    """The source has no more frames: the file ended or `stop()` was called."""


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] (or int16 passed through) as int16, clipped."""
    if x.dtype == np.int16:
        return x
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def downmix(block: np.ndarray) -> np.ndarray:
    """(frames, channels) or (frames,) int16 -> (frames,) int16, channels averaged."""
    if block.ndim == 1:
        return block
    if block.shape[1] == 1:
        return block[:, 0]
    return block.mean(axis=1).astype(np.int16)


class Reframer:
    """Cuts a stream of int16 chunks of any length into frames of `size` samples."""

    def __init__(self, size: int = FRAME_SAMPLES) -> None:
        self.size = size
        self._buf = np.zeros(0, dtype=np.int16)

    def push(self, chunk: np.ndarray) -> None:
        if chunk.size:
            self._buf = np.concatenate([self._buf, chunk.astype(np.int16, copy=False)])

    def pop(self) -> np.ndarray | None:
        """The next whole frame, or None until enough samples arrived."""
        if len(self._buf) < self.size:
            return None
        frame, self._buf = self._buf[: self.size].copy(), self._buf[self.size :]
        return frame

    @property
    def pending(self) -> int:
        """Samples held back until a frame is complete."""
        return len(self._buf)

    def clear(self) -> None:
        self._buf = np.zeros(0, dtype=np.int16)


class StreamResampler:
    """Streaming mono int16 resampling to 16 kHz with soxr (identity at 16 kHz).
    soxr holds back a few ms of samples (its filter delay and block batching),
    so output chunk sizes vary; `flush()` returns the rest."""

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE) -> None:
        self.in_rate, self.out_rate = in_rate, out_rate
        self._rs = None if in_rate == out_rate else soxr.ResampleStream(
            in_rate, out_rate, 1, dtype="int16", quality="HQ"
        )  # fmt: skip

    def process(self, mono: np.ndarray) -> np.ndarray:
        if self._rs is None:
            return mono
        return self._rs.resample_chunk(np.ascontiguousarray(mono, dtype=np.int16))

    def flush(self) -> np.ndarray:
        if self._rs is None:
            return np.zeros(0, dtype=np.int16)
        out = self._rs.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
        self._rs = soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="int16")
        return out


class MicSource:
    """The microphone, as 30 ms frames of 16 kHz mono int16.

    `device`: the `input_device` setting ("" = default, a number, or part of a
    name; a name that matches nothing falls back to the default with a warning).
    Opens at 16 kHz when the device supports it, else at its native rate with
    soxr resampling; `rate` forces a device rate (resampled to 16 kHz), for devices
    that misreport what they support. `queue_blocks` bounds the backlog (times
    30 ms); on overflow the oldest block is dropped and `dropped` counts it.
    """

    def __init__(
        self,
        device: str = "",
        *,
        queue_blocks: int = 100,
        stall_s: float = STALL_SECONDS,
        latency: str | float = "low",
        rate: int | None = None,
    ) -> None:
        self.spec = device
        self.forced_rate = rate
        self.stall_s = stall_s
        self.latency = latency
        self.overflows = 0
        """Blocks PortAudio flagged as input overflow (samples lost before us)."""
        self.dropped = 0
        """Blocks dropped because the consumer did not keep up."""
        self.level_dbfs = DBFS_FLOOR
        """Level of the last frame read, for a meter."""
        self.last_frame_time = 0.0
        """time.monotonic() when the callback delivered the end of the last frame read."""
        self.device_name = ""
        self.device_rate = 0
        """Hz the device was opened at (16000 unless resampling)."""
        self.stream_latency = 0.0
        """Seconds, PortAudio's input latency estimate for the open stream."""
        self._queue: queue.Queue[tuple[float, np.ndarray]] = queue.Queue(queue_blocks)
        self._stream: Any = None
        self._resampler: StreamResampler | None = None
        self._reframer = Reframer()
        self._last_callback = 0.0
        self._finished = threading.Event()
        self._started = False
        self._lost: DeviceLost | None = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> MicSource:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Open and start the device. Raises `NoInputDevice` when there is none."""
        self._started = True
        self._lost = None
        self._reframer.clear()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        try:
            self._open()
        except NoInputDevice:
            devices.refresh()  # a microphone may have appeared since PortAudio started
            self._open()

    def stop(self) -> None:
        """Stop capturing. Frames already queued can still be read; then `EndOfStream`."""
        self._close_stream()
        self._started = False
        self._lost = None

    def _resolve(self) -> tuple[int, str]:
        index = devices.find_input(self.spec)
        if index is None and self.spec.strip():
            fallback = devices.find_input("")
            if fallback is not None:
                log.warning("microphone %r not found; using %s", self.spec,
                            devices.device_name(fallback))  # fmt: skip
            index = fallback
        if index is None:
            raise NoInputDevice(devices.portaudio_missing() or "no input device listed")
        return index, devices.device_name(index)

    def _open(self) -> None:
        sd = devices._sd()
        if sd is None:
            raise NoInputDevice(devices.portaudio_missing())
        index, name = self._resolve()
        with devices.PORTAUDIO_LOCK:
            self._finished.clear()
            self._last_callback = time.monotonic()
            stream = None
            try:
                rate, channels = self._choose_format(sd, index)
                stream = sd.InputStream(
                    device=index, samplerate=rate, channels=channels, dtype="int16",
                    blocksize=rate * FRAME_MS // 1000, latency=self.latency,
                    callback=self._callback, finished_callback=self._finished.set,
                )  # fmt: skip
                devices.register_stream(stream)
                stream.start()
            except sd.PortAudioError as e:
                if stream is not None:
                    stream.close(ignore_errors=True)
                raise NoInputDevice(f"{name}: {e}") from e
        self._stream = stream
        self.device_name, self.device_rate = name, rate
        self.stream_latency = float(stream.latency)
        self._resampler = StreamResampler(rate)
        log.info("microphone %s at %d Hz, %d ch, latency %.0f ms", name, rate, channels,
                 self.stream_latency * 1000)  # fmt: skip

    def _choose_format(self, sd: Any, index: int) -> tuple[int, int]:
        info = sd.query_devices(index)
        channels = 1
        try:
            sd.check_input_settings(device=index, channels=1, dtype="int16")
        except sd.PortAudioError:
            channels = min(2, int(info["max_input_channels"]))
        if self.forced_rate:
            return self.forced_rate, channels
        try:
            sd.check_input_settings(device=index, channels=channels, dtype="int16",
                                    samplerate=SAMPLE_RATE)  # fmt: skip
            return SAMPLE_RATE, channels
        except sd.PortAudioError:
            return int(info["default_samplerate"]), channels

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with devices.PORTAUDIO_LOCK:
            if not stream.closed:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)

    # ------------------------------------------------------------------ PortAudio thread

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        self._last_callback = now
        if status.input_overflow:
            self.overflows += 1
        item = (now, indata.copy())
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(item)

    # ------------------------------------------------------------------ consumer thread

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        """The next frame (480 samples), or None when none arrived within `timeout`
        seconds (None = wait as long as it takes). Raises `DeviceLost` or
        `EndOfStream` once the queue is drained."""
        frame = self._reframer.pop()
        if frame is not None:
            return self._deliver(frame)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = 0.05 if deadline is None else min(0.05, max(deadline - time.monotonic(), 0))
            try:
                t, block = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                self._check_alive()
                if deadline is not None and time.monotonic() >= deadline:
                    return None
                continue
            self.last_frame_time = t
            assert self._resampler is not None
            self._reframer.push(self._resampler.process(downmix(block)))
            frame = self._reframer.pop()
            if frame is not None:
                return self._deliver(frame)

    def _deliver(self, frame: np.ndarray) -> np.ndarray:
        self.level_dbfs = dbfs(frame)
        return frame

    def _check_alive(self) -> None:
        """Called with an empty queue: raise when no more audio can come."""
        if self._lost is not None:
            raise self._lost
        stream = self._stream
        if stream is None:
            if not self._started:
                raise EndOfStream()
            raise DeviceLost(self.device_name, "not open")
        reason = ""
        if stream.closed:
            reason = "the audio system was re-scanned"
        elif self._finished.is_set() or not stream.active:
            reason = "the stream stopped"
        elif time.monotonic() - self._last_callback > self.stall_s:
            reason = f"no audio for {self.stall_s:g} s"
        if reason:
            self._lost = DeviceLost(self.device_name, reason)
            log.warning("%s", self._lost)
            self._close_stream()
            if self._resampler is not None:  # keep the samples soxr still holds
                self._reframer.push(self._resampler.flush())
            raise self._lost

    # ------------------------------------------------------------------ recovery

    def wait_for_device(
        self, timeout: float | None = None, *, cancel: threading.Event | None = None,
        poll_s: float = 1.0,
    ) -> bool:
        """Re-scan devices until an input device is listed (the named one, or any
        when the name matches nothing). Each re-scan closes this package's open
        streams (see `devices.refresh`). False on timeout or cancel."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            devices.refresh()
            if devices.find_input(self.spec) is not None or devices.find_input("") is not None:
                return True
            left = poll_s if deadline is None else min(poll_s, deadline - time.monotonic())
            if left <= 0:
                return False
            if cancel is None:
                time.sleep(left)
            elif cancel.wait(left):
                return False

    def reopen(
        self, timeout: float | None = None, *, cancel: threading.Event | None = None,
        poll_s: float = 1.0,
    ) -> bool:
        """Open the microphone again after `DeviceLost`, retrying every `poll_s`
        seconds (re-scanning devices in between) until it works, `timeout` passes or
        `cancel` is set. True when capturing again. Frames queued before are kept."""
        self._close_stream()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                self._open()
            except NoInputDevice as e:
                log.info("microphone not back yet: %s", e.detail)
            else:
                self._started = True
                self._lost = None
                return True
            left = poll_s if deadline is None else min(poll_s, deadline - time.monotonic())
            if left <= 0:
                return False
            if cancel is None:
                time.sleep(left)
            elif cancel.wait(left):
                return False
            if self.device_name.lower() not in devices.LINUX_PREFERRED:
                # The device list is fixed until PortAudio re-scans. A sound
                # server's device never leaves that list (the server tracks the
                # hardware), and a re-scan would also cut off the speaker mid-word.
                devices.refresh()


class WavSource:
    """A WAV file (any rate, any channels, 8/16/24/32-bit PCM or 32/64-bit float;
    `format.WavError` says why another file cannot be read) as 16 kHz mono frames,
    at real-time pace (`realtime=True`: each frame is released when its last sample
    would have been spoken) or as fast as it is read. The last frame is padded with
    silence; then `read()` raises `EndOfStream`."""

    overflows = 0
    dropped = 0

    def __init__(self, path: Path | str | None = None, *, realtime: bool = True) -> None:
        self.realtime = realtime
        self.level_dbfs = DBFS_FLOOR
        self.last_frame_time = 0.0
        self._samples = np.zeros(0, dtype=np.int16)
        if path is not None:
            self._samples = read_wav_16k(path)
        self._pos = 0
        self._t0: float | None = None
        self._stopped = False

    @classmethod
    def from_samples(cls, samples: np.ndarray, rate: int, *, realtime: bool = True) -> WavSource:
        """A source over samples already in memory (int16 or float, mono or (n, ch))."""
        src = cls(None, realtime=realtime)
        src._samples = resample_to_16k(samples, rate)
        return src

    @property
    def duration_s(self) -> float:
        return len(self._samples) / SAMPLE_RATE

    def __enter__(self) -> WavSource:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._pos = 0
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        if self._t0 is None:
            raise RuntimeError("call start() first")
        if self._stopped or self._pos >= len(self._samples):
            raise EndOfStream()
        end = self._pos + FRAME_SAMPLES
        if self.realtime:
            wait = self._t0 + end / SAMPLE_RATE - time.monotonic()
            if timeout is not None and wait > timeout:
                time.sleep(max(timeout, 0))
                return None
            if wait > 0:
                time.sleep(wait)
        frame = self._samples[self._pos : end]
        if len(frame) < FRAME_SAMPLES:
            frame = np.concatenate([frame, np.zeros(FRAME_SAMPLES - len(frame), np.int16)])
        self._pos = end
        self.last_frame_time = time.monotonic()
        self.level_dbfs = dbfs(frame)
        return frame


def resample_to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Any samples (int16 or float in [-1, 1], mono or (n, channels)) -> 16 kHz mono int16."""
    x = samples
    if x.ndim == 2:
        x = downmix(x) if x.dtype == np.int16 else x.mean(axis=1)
    if rate == SAMPLE_RATE or not x.size:
        return to_int16(x)
    y = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
    return to_int16(soxr.resample(y, rate, SAMPLE_RATE))
