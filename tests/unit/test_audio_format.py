"""audio.format: the one sample rate and frame, the one dBFS and the WAV round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.audio.format import (
    DBFS_FLOOR,
    FRAME_SAMPLES,
    FRAME_SECONDS,
    SAMPLE_RATE,
    WavError,
    dbfs,
    read_wav,
    read_wav_16k,
    write_wav,
)


def sine(hz: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_frame_is_30_ms_of_16_khz() -> None:
    assert (SAMPLE_RATE, FRAME_SAMPLES) == (16_000, 480)
    assert pytest.approx(0.03) == FRAME_SECONDS


def test_dbfs_of_int16() -> None:
    assert dbfs(np.full(480, 32767, np.int16)) == pytest.approx(0.0, abs=0.01)
    assert dbfs(np.full(480, 3277, np.int16)) == pytest.approx(-20.0, abs=0.01)
    assert dbfs(sine(1000, 0.03, 16_000, amp=0.5)) == pytest.approx(-9.03, abs=0.1)


def test_dbfs_of_float_matches_int16() -> None:
    x = sine(440, 0.03, 16_000, amp=0.1)
    assert dbfs(x.astype(np.float32) / 32768.0) == pytest.approx(dbfs(x), abs=1e-3)


def test_silence_and_nothing_sit_on_the_floor() -> None:
    assert DBFS_FLOOR == -100.0
    assert dbfs(np.zeros(480, np.int16)) == DBFS_FLOOR
    assert dbfs(np.zeros(0, np.int16)) == DBFS_FLOOR
    assert dbfs(np.zeros(512, np.float32)) == DBFS_FLOOR
    assert dbfs(np.array([1] + [0] * 99, np.int16)) == DBFS_FLOOR  # -110 dB: clamped


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    mono = sine(300, 0.1, 22_050)
    samples, rate = read_wav(write_wav(tmp_path / "m.wav", mono, 22_050))
    assert rate == 22_050 and np.array_equal(samples, mono)
    stereo = np.stack([mono, mono // 2], axis=1)
    samples, rate = read_wav(write_wav(tmp_path / "s.wav", stereo, 22_050))
    assert samples.shape == stereo.shape and np.array_equal(samples, stereo)


def test_read_wav_16k_resamples_and_downmixes(tmp_path: Path) -> None:
    stereo = np.stack([sine(500, 0.5, 44_100), np.zeros(22_050, np.int16)], axis=1)
    got = read_wav_16k(write_wav(tmp_path / "s.wav", stereo, 44_100))
    assert got.dtype == np.int16 and got.ndim == 1 and len(got) == 8000
    assert abs(np.abs(got).max() - 0.25 * 32767) < 300  # averaged with a silent channel


def test_a_file_that_is_not_audio_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("hello, this is text")
    with pytest.raises(WavError, match="not a WAV|RIFF"):
        read_wav(path)
    with pytest.raises(WavError):
        read_wav_16k(path)
