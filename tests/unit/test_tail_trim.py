"""TailTrim: frames far quieter than the utterance's own speech level are silence."""

from __future__ import annotations

import numpy as np

from assistant.speech.tail import TailTrim


def tone(dbfs: float, n: int = 480) -> np.ndarray:
    amplitude = 32768 * 10 ** (dbfs / 20) * np.sqrt(2)  # a sine's RMS is amplitude / sqrt(2)
    return (amplitude * np.sin(np.arange(n) * 2 * np.pi * 300 / 16000)).astype(np.int16)


def test_a_quiet_tail_after_loud_speech_is_silence() -> None:
    trim = TailTrim(drop_db=25, min_frames=5)
    assert all(trim(tone(-15), True) for _ in range(10))
    assert trim(tone(-35), True)  # 20 dB down: a soft consonant is still speech
    assert not trim(tone(-45), True)  # 30 dB down: the voice has stopped
    assert trim.trimmed == 1


def test_the_model_saying_silence_always_wins() -> None:
    trim = TailTrim()
    assert not trim(tone(-10), False)


def test_the_level_is_not_trusted_before_min_frames() -> None:
    trim = TailTrim(drop_db=25, min_frames=5)
    for _ in range(4):
        assert trim(tone(-15), True)
    assert trim(tone(-60), True)  # only 4 speech frames so far: no reference yet


def test_each_utterance_has_its_own_reference() -> None:
    """A quiet talker after a loud one is heard: the old level is forgotten."""
    trim = TailTrim(drop_db=25, min_frames=5)
    for _ in range(20):
        trim(tone(-10), True)
    assert not trim(tone(-45), True)
    trim.start_utterance()
    assert all(trim(tone(-45), True) for _ in range(10))
    assert not trim(tone(-75), True)
