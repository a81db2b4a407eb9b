"""The self-hearing guard: while Parley speaks, its own voice reaches the
microphone. A frame counts as the user's speech only when the microphone is
clearly louder than the echo expected from what is being played.

The expected echo is the level of the last 300 ms of output (the loudest part:
the echo's delay is unknown but short) plus the speaker-to-microphone coupling,
learned while Parley talks: a low percentile of (mic - output) over the last
two seconds of playback, so a user talking over the reply raises it only if
they talk over most of it. Headphones mode turns the guard off.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Protocol

import numpy as np


class PlaysAudio(Protocol):
    def recent_output(self, seconds: float) -> np.ndarray:
        """int16 samples handed to the device during the last `seconds`."""
        ...


def dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return -120.0
    rms = float(np.sqrt(np.mean(samples.astype(np.float32) ** 2))) / 32768.0
    return 20.0 * np.log10(max(rms, 1e-6))


class EchoGate:
    def __init__(
        self,
        out: PlaysAudio,
        speaking: threading.Event,
        *,
        margin_db: float = 8.0,
        tail_s: float = 0.4,
        initial_coupling_db: float = 0.0,
    ) -> None:
        self.out = out
        self.speaking = speaking
        self.margin_db = margin_db
        self.tail_s = tail_s
        self._ratios: collections.deque[float] = collections.deque(maxlen=66)
        self._initial = initial_coupling_db
        self._last_speaking = 0.0
        self.blocked_frames = 0

    @property
    def coupling_db(self) -> float:
        if len(self._ratios) < 5:
            return self._initial
        return float(np.percentile(self._ratios, 20))

    def __call__(self, frame: np.ndarray, is_speech: bool) -> bool:
        now = time.monotonic()
        if self.speaking.is_set():
            self._last_speaking = now
        elif now - self._last_speaking > self.tail_s:
            return is_speech
        ref_db = dbfs(self.out.recent_output(0.3))
        if ref_db < -70:  # nothing audible played: no echo to fear
            return is_speech
        mic_db = dbfs(frame)
        self._ratios.append(mic_db - ref_db)
        if not is_speech:
            return False
        loud_enough = mic_db > ref_db + self.coupling_db + self.margin_db
        if not loud_enough:
            self.blocked_frames += 1
        return loud_enough
