"""The grammar pass with real engines: commands spoken by flite voices, heard
by Moonshine through the voice loop's ear and command bias
(`speech.hearing.transcribe`), where Moonshine's words are a near-miss the
bias alone reads wrong or not at all; the pocketsphinx grammar decode of the
same audio makes them the command said. Open questions close to command
wording stay as heard.

(Before the grammar pass, both went to the language model: "open the
terminal" in awb heard as "go open the town and go", "set a timer for five
minutes" as "set a time of horrified minutes".)
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from assistant.bench import voices
from assistant.bench.stt import acted_intent
from assistant.speech import hearing, stt

pytest.importorskip("moonshine_voice")
pytest.importorskip("pocketsphinx")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite"),
]


@pytest.fixture(scope="module")
def engine() -> object:
    return stt.open_engine("en", kind="moonshine")


def _heard(text: str, voice: str, engine: object) -> str:
    audio = np.concatenate([
        np.zeros(int(0.3 * stt.SAMPLE_RATE), np.int16),
        voices.speak(text, voice),
        np.zeros(int(0.8 * stt.SAMPLE_RATE), np.int16),
    ])
    return hearing.transcribe(audio, engine, "en").text  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("said", "voice"),
    [
        # Moonshine's words, and the bias's reading of them alone:
        ("open the terminal", "awb"),  # "go open the town and go": none
        ("set a timer for five minutes", "awb"),  # "set a time of horrified minutes": none
    ],
)
def test_a_near_miss_is_heard_as_the_command_said(said: str, voice: str, engine: object) -> None:
    heard = _heard(said, voice, engine)
    assert acted_intent(heard) == acted_intent(said), heard


@pytest.mark.parametrize(
    ("said", "voice"),
    [
        ("what is five times the speed of sound", "slt"),
        ("what is the square of a circle", "awb"),
        ("what is the time zone of tokyo", "slt"),
        ("how much time does it take to boil an egg", "awb"),
    ],
)
def test_an_open_question_near_a_command_stays_a_question(
    said: str, voice: str, engine: object
) -> None:
    heard = _heard(said, voice, engine)
    assert acted_intent(heard) == "llm", heard
