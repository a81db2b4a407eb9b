"""The self-hearing guard: while Parley speaks, its own voice reaches the
microphone. A frame counts as the user's speech only when the microphone is
clearly louder than the echo expected from what is being played.

The expected echo is the level of the loudest 60 ms of the last 1.2 s of
output (the echo's delay is unknown: output latency, the room or a loopback,
the capture latency and the ear thread running behind under load add up to
several hundred ms) plus the
speaker-to-microphone coupling, learned while Parley talks: the 80th
percentile of (mic - output) over the last two seconds of audible playback.
A silent microphone during loud playback is evidence too (no echo path), so
the microphone level is floored, not skipped. Headphones mode turns the guard
off.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Protocol

import numpy as np

from assistant.audio.format import dbfs

log = logging.getLogger(__name__)


class PlaysAudio(Protocol):
    def recent_output(self, seconds: float) -> np.ndarray:
        """int16 samples handed to the device during the last `seconds`."""
        ...


def loudest_dbfs(samples: np.ndarray, parts: int = 20) -> float:
    """Level of the loudest of `parts` equal slices."""
    if samples.size < parts:
        return dbfs(samples)
    return max(dbfs(chunk) for chunk in np.array_split(samples, parts))


class EchoGate:
    def __init__(
        self,
        out: PlaysAudio,
        speaking: threading.Event,
        *,
        margin_db: float = 8.0,
        tail_s: float = 1.2,
        window_s: float = 1.2,
        initial_coupling_db: float = 0.0,
    ) -> None:
        self.out = out
        self.speaking = speaking
        self.margin_db = margin_db
        self.tail_s = tail_s
        self.window_s = window_s
        self._ratios: collections.deque[float] = collections.deque(maxlen=66)
        self._initial = initial_coupling_db
        self._last_speaking = 0.0
        self.blocked_frames = 0

    @property
    def coupling_db(self) -> float:
        if len(self._ratios) < 5:
            return self._initial
        return float(np.percentile(self._ratios, 80))

    def __call__(self, frame: np.ndarray, is_speech: bool) -> bool:
        now = time.monotonic()
        speaking = self.speaking.is_set()
        if speaking:
            self._last_speaking = now
        elif now - self._last_speaking > self.tail_s:
            return is_speech
        ref = self.out.recent_output(self.window_s)
        ref_db = loudest_dbfs(ref)
        if ref_db < -70:  # nothing audible played: no echo to fear
            return is_speech
        mic_db = dbfs(frame)
        if speaking and ref_db > -45:  # learn how much of Parley's voice comes back
            self._ratios.append(max(mic_db, -70.0) - ref_db)
        if not is_speech:
            return False
        loud_enough = mic_db > ref_db + self.coupling_db + self.margin_db
        if not loud_enough:
            self.blocked_frames += 1
        else:
            log.debug("speech over playback: mic %.1f dB, echo %.1f + %.1f dB",
                      mic_db, ref_db, self.coupling_db)
        return loud_enough
