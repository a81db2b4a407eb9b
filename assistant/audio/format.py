"""The one audio format Parley works in, and the one place for its numbers:
16 kHz mono int16, in 30 ms frames; levels in dBFS; WAV files in and out.

Reading goes through `wavfile`, the hardened parser (any PCM or float WAV, or a
`WavError` saying why not); this module is what the rest of the code imports.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from assistant.audio import wavfile
from assistant.audio.wavfile import WavError

__all__ = [
    "DBFS_FLOOR",
    "FRAME_MS",
    "FRAME_SECONDS",
    "FRAME_SAMPLES",
    "SAMPLE_RATE",
    "WavError",
    "dbfs",
    "read_wav",
    "read_wav_16k",
    "write_wav",
]

SAMPLE_RATE = 16_000
"""Hz, of everything captured, heard, decoded and compared."""
FRAME_MS = 30
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
"""480 samples = 30 ms: one frame from a source, one decision of a VAD."""
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
"""Seconds per frame (0.03)."""

DBFS_FLOOR = -100.0
"""The level of silence, and the lowest level `dbfs` returns. The fixed
thresholds levels are compared with are -70 dBFS or above (echo gate -70, level
VAD -60, Moonshine's gate -55); the echo gate and tail trim (whose own floor was
-120) compare with speech and playback levels, far above -100. So the floor
decides nothing: it keeps silence a finite number for meters and sums."""


def dbfs(samples: np.ndarray) -> float:
    """RMS level relative to full scale: int16 samples (full scale 32768) or
    float in [-1, 1]. DBFS_FLOOR for silence or no samples."""
    if samples.size == 0:
        return DBFS_FLOOR
    x = samples.astype(np.float64).ravel()
    power = float(np.dot(x, x)) / x.size
    if samples.dtype == np.int16:
        power /= 32768.0**2
    if power <= 0.0:
        return DBFS_FLOOR
    return max(10.0 * math.log10(power), DBFS_FLOOR)


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """A WAV file's samples as int16 at its own rate: (samples, Hz), shape (n,)
    for mono, (n, channels) otherwise. WavError (a ValueError) says why a file
    cannot be read."""
    return wavfile.read_pcm16(path)


def read_wav_16k(path: Path | str) -> np.ndarray:
    """A WAV file (PCM or float, any rate and channels) as 16 kHz mono int16:
    channels averaged, resampled with soxr. WavError says why a file cannot be read."""
    return wavfile.read_mono(path, SAMPLE_RATE)


def write_wav(path: Path | str, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write int16 samples, shape (n,) or (n, channels), as a 16-bit PCM WAV."""
    path = Path(path)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())
    return path
