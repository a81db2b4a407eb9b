"""A file-writing TTS driver that finishes without writing (a known pyttsx3
failure) is asked once more, so the clause is spoken instead of dropped."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.speech.tts import Synthesizer, TtsError, _SynthReq


def scripted(tmp_path: Path, writes: list[bool]) -> tuple[Synthesizer, list[str]]:
    synth = Synthesizer(driver="espeak")
    asked: list[str] = []

    def request(req: object, timeout: float) -> None:
        assert isinstance(req, _SynthReq)
        asked.append(req.text)
        if writes.pop(0):
            with wave.open(req.path, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(22050)
                w.writeframes((np.ones(2205, np.int16) * 1000).tobytes())

    synth._ensure_started = lambda timeout=30.0: tmp_path  # type: ignore[method-assign]
    synth._request = request  # type: ignore[method-assign]
    return synth, asked


def test_nothing_written_once_is_asked_again(tmp_path: Path) -> None:
    synth, asked = scripted(tmp_path, [False, True])
    syn = synth.synthesize("Hello there.")
    assert asked == ["Hello there.", "Hello there."]
    assert syn.samples.size == 2205 and syn.sample_rate == 22050


def test_nothing_written_twice_is_a_clear_error(tmp_path: Path) -> None:
    synth, asked = scripted(tmp_path, [False, False])
    with pytest.raises(TtsError, match="produced no audio"):
        synth.synthesize("Hello there.")
    assert len(asked) == 2


def test_a_good_first_answer_is_not_asked_again(tmp_path: Path) -> None:
    synth, asked = scripted(tmp_path, [True])
    assert synth.synthesize("Hi.").samples.size == 2205
    assert asked == ["Hi."]
