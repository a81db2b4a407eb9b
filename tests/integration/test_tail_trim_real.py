"""The end of a turn through the real Ear (Silero VAD, pocketsphinx), with and
without TailTrim, on flite questions and the LibriVox clips."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.format import SAMPLE_RATE, read_wav_16k
from assistant.speech import vad_compare as vc
from assistant.speech.ear import Ear, PauseJudgement, UtteranceHeard
from assistant.speech.stt import PocketsphinxEngine
from assistant.speech.tail import TailTrim
from assistant.speech.vad import Endpointer, make_listening_vad

QUESTIONS = (
    ("slt", "what time is it"),
    ("rms", "what is twelve times seven"),
    ("awb", "tell me a joke about cats"),
    ("slt", "what is the capital of france"),
    ("rms", "why is the sky blue"),
)
SOUND = 300  # |sample| above this (about -40 dBFS) is the voice


@pytest.fixture(scope="module")
def engine() -> PocketsphinxEngine:
    return PocketsphinxEngine()


def render(text: str, voice: str, out: Path) -> np.ndarray:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", str(SAMPLE_RATE), str(out)], check=True)
    return read_wav_16k(out)


def heard(samples: np.ndarray, engine: PocketsphinxEngine, trim: bool) -> list[UtteranceHeard]:
    """Utterances the Ear reports, with times on the stream clock (s)."""
    got: list[UtteranceHeard] = []
    ear = Ear(
        make_listening_vad(),
        engine.recognizer(),
        lambda m: got.append(m) if isinstance(m, UtteranceHeard) else None,
        endpointer=Endpointer(),
    )
    ear.clock = lambda: ear.endpointer.now_s
    ear.tail_trim = TailTrim() if trim else None
    quiet = np.zeros(SAMPLE_RATE, np.int16)
    ear.feed(np.concatenate([quiet[:4800], samples, quiet]))
    return got


def test_the_turn_ends_sooner_after_the_true_end_of_speech(
    engine: PocketsphinxEngine, tmp_path: Path
) -> None:
    saved = []
    for i, (voice, text) in enumerate(QUESTIONS):
        samples = render(text, voice, tmp_path / f"q{i}.wav")
        true_end = (4800 + np.flatnonzero(np.abs(samples.astype(int)) > SOUND)[-1]) / SAMPLE_RATE
        before = heard(samples, engine, trim=False)
        after = heard(samples, engine, trim=True)
        assert len(before) == len(after) == 1, (text, before, after)
        assert after[0].transcript.text == before[0].transcript.text
        # The trimmed speech end is at the voice's end (within a frame or two), not before it.
        assert true_end - 0.03 <= after[0].speech_end <= before[0].speech_end
        saved.append((before[0].endpoint - after[0].endpoint) * 1000)
    print(f"endpoint sooner by (ms): {[round(s) for s in saved]}")
    assert min(saved) > 0 and np.median(saved) >= 60  # measured 90-150 ms on these


def test_read_speech_is_not_cut_into_more_turns(engine: PocketsphinxEngine) -> None:
    """LibriVox narration with every pause judged complete (the short hangover):
    trimming the tails makes no more turns than Silero alone."""
    paths = sorted(vc.LIBRIVOX_DIR.glob("*.wav"))
    if not paths:
        pytest.skip(f"LibriVox clips missing from {vc.LIBRIVOX_DIR} (pocketsphinx-testdata)")

    def turns(samples: np.ndarray, trim: bool) -> int:
        got = 0

        def count(m: object) -> None:
            nonlocal got
            got += isinstance(m, UtteranceHeard)

        ear = Ear(make_listening_vad(), engine.recognizer(), count, endpointer=Endpointer())
        ear.judge = lambda _text: PauseJudgement(0.2, True)  # every pause looks complete
        ear.tail_trim = TailTrim() if trim else None
        ear.feed(np.concatenate([samples, np.zeros(SAMPLE_RATE, np.int16)]))
        return got

    for path in paths:
        samples = read_wav_16k(path)
        assert turns(samples, trim=True) == turns(samples, trim=False), path.name
