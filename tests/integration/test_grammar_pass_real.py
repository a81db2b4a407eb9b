"""The grammar pass with real engines: commands spoken by flite voices, heard
by Moonshine through the voice loop's ear and command bias
(`speech.hearing.transcribe`), where Moonshine's words are a near-miss the
bias alone reads wrong or not at all; the pocketsphinx grammar decode of the
same audio makes them the command said. Open questions close to command
wording stay as heard. In the voice loop, the grammar decodes in the speech
worker process.

(Before the grammar pass, both went to the language model: "open the
terminal" in awb heard as "go open the town and go", "set a timer for five
minutes" as "set a time of horrified minutes".)
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import numpy as np
import pytest

from assistant.bench import voices
from assistant.bench.stt import acted_intent
from assistant.speech import hearing, stt, stt_worker
from assistant.speech.ear import Ear, UtteranceHeard
from assistant.speech.grammar_pass import GrammarPass, WorkerGrammarPass
from assistant.speech.moonshine import MoonshineEngine
from assistant.speech.stt import Transcript

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


def _clip(text: str, voice: str) -> np.ndarray:
    lead = np.zeros(int(0.3 * stt.SAMPLE_RATE), np.int16)
    return np.concatenate([lead, voices.speak(text, voice), np.zeros(stt.SAMPLE_RATE, np.int16)])


def _loop_ear(heard: list[Transcript]) -> Ear:
    """The voice loop's ear: Moonshine in its worker process."""
    rec = hearing.recognizer(MoonshineEngine(load=False), worker=True)

    def on_message(msg: object) -> None:
        if isinstance(msg, UtteranceHeard):
            heard.append(msg.transcript)

    return hearing.make_ear(rec, "en", on_message)


def test_the_loop_rereads_a_near_miss_in_its_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The voice loop's pass decodes in the speech worker: this process never
    loads the grammar decoder, and the final's words are the worker's reading."""

    def no_decoder_here(self: GrammarPass) -> None:
        raise AssertionError("the grammar decoder loaded in the parent process")

    monkeypatch.setattr(GrammarPass, "_load", no_decoder_here)
    heard: list[Transcript] = []
    ear = _loop_ear(heard)
    second = ear.recognizer.second
    assert isinstance(second, WorkerGrammarPass)
    readings: list[str] = []
    decode = second.decode

    def seen(audio: np.ndarray) -> str:
        readings.append(decode(audio))
        return readings[-1]

    monkeypatch.setattr(second, "decode", seen)
    try:
        said = "set a timer for five minutes"  # awb: "set a time of horrified minutes"
        ear.feed(_clip(said, "awb"))
        ear.end_of_stream()
    finally:
        ear.recognizer.close()
    assert len(heard) == 1 and readings, heard
    assert heard[0].text == readings[0] and acted_intent(heard[0].text) == acted_intent(said)
    assert second.last_ms > 0


def test_a_worker_killed_in_the_pass_loses_only_that_utterance() -> None:
    heard: list[Transcript] = []
    ear = _loop_ear(heard)
    rec = ear.recognizer.inner
    final = rec.final
    kills = []

    def final_then_die() -> Transcript:
        t = final()
        if not kills:  # the worker dies before the grammar's reading comes
            kills.append(rec.pid)
            os.kill(rec.pid, signal.SIGKILL)
            rec._worker._proc.join(5)
        return t

    rec.final = final_then_die
    said = "set a timer for five minutes"
    try:
        ear.feed(_clip(said, "awb"))
        ear.end_of_stream()
        assert kills and [t.text for t in heard] == [""]  # lost (logged), as in a final
        time.sleep(stt_worker.REVIVE_EVERY_S)
        ear.feed(_clip(said, "awb"))  # the next frame starts a new worker
        ear.end_of_stream()
    finally:
        rec.close()
    assert rec.restarts == 1
    # heard again (the ear's state after a first utterance may move the clip
    # and with it Moonshine's words, so not necessarily as a near-miss)
    assert len(heard) == 2 and "minutes" in heard[1].text, heard
