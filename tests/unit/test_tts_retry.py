"""What the Synthesizer does when its engine misbehaves, driven through its
public API with a scripted engine in a real worker (`worker_kit.ScriptedEngine`):
a file-writing driver that finishes without writing (a known pyttsx3 failure)
is asked once more, so the clause is spoken instead of dropped; a worker that
dies or hangs is replaced and the next request is served."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from worker_kit import ScriptedEngine

from assistant.speech.tts import Synthesizer, TtsError

Scripted = Callable[..., Synthesizer]
"""scripted(*steps): a Synthesizer whose engine follows the steps (ScriptedEngine)."""


@pytest.fixture
def asked(tmp_path: Path) -> Path:
    return tmp_path / "asked.txt"


@pytest.fixture
def scripted(asked: Path) -> Iterator[Scripted]:
    made: list[Synthesizer] = []

    def make(*script: str) -> Synthesizer:
        synth = Synthesizer(engine=functools.partial(ScriptedEngine, str(asked), script))
        made.append(synth)
        return synth

    yield make
    for synth in made:
        synth.close()


def asks(asked: Path) -> list[str]:
    return asked.read_text(encoding="utf-8").splitlines() if asked.exists() else []


def test_nothing_written_once_is_asked_again(scripted: Scripted, asked: Path) -> None:
    synth = scripted("nothing", "write")
    syn = synth.synthesize("Hello there.")
    assert asks(asked) == ["Hello there.", "Hello there."]
    assert syn.samples.size == 2205 and syn.sample_rate == 22050


def test_nothing_written_twice_is_a_clear_error(scripted: Scripted, asked: Path) -> None:
    synth = scripted("nothing", "nothing")
    with pytest.raises(TtsError, match="produced no audio"):
        synth.synthesize("Hello there.")
    assert len(asks(asked)) == 2


def test_a_good_first_answer_is_not_asked_again(scripted: Scripted, asked: Path) -> None:
    synth = scripted("write")
    assert synth.synthesize("Hi.").samples.size == 2205
    assert asks(asked) == ["Hi."]


def test_a_worker_that_dies_is_replaced(scripted: Scripted, asked: Path) -> None:
    synth = scripted("die")
    synth.start()
    first = synth.pid
    with pytest.raises(TtsError, match="stopped while synthesising; it has been restarted"):
        synth.synthesize("Hi.")
    assert first is not None and not psutil.pid_exists(first)
    assert synth.synthesize("Hi again.").samples.size == 2205
    assert synth.pid != first
    assert asks(asked) == ["Hi.", "Hi again."]


def test_a_worker_that_hangs_is_replaced(scripted: Scripted, asked: Path) -> None:
    synth = scripted("hang")
    synth.start()
    hung = synth.pid
    with pytest.raises(TtsError, match=r"did not answer within 0\.5 s while synthesising"):
        synth.synthesize("Hi.", timeout=0.5)
    assert hung is not None and not psutil.pid_exists(hung)
    assert synth.synthesize("Hi again.").samples.size == 2205
    assert synth.pid != hung


def test_close_ends_the_worker_and_a_new_request_starts_one(scripted: Scripted) -> None:
    synth = scripted()
    synth.start()
    pid = synth.pid
    synth.close()
    assert pid is not None and not psutil.pid_exists(pid)
    assert not synth.alive and synth.pid is None
    assert synth.synthesize("Hi.").samples.size == 2205
    assert synth.alive and synth.pid != pid
