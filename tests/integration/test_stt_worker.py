"""pocketsphinx in its worker process: the same words as in-process, a bad
word refused at start, and a worker killed mid-utterance replaced."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.format import read_wav_16k
from assistant.speech.stt import PocketsphinxEngine, SttError
from assistant.speech.stt_worker import RecognizerProcess

FRAME = 480


def flite(text: str, out: Path, voice: str = "rms") -> np.ndarray:
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", str(out)], check=True)
    return read_wav_16k(out)


def feed(rec: object, samples: np.ndarray) -> None:
    for i in range(0, len(samples), FRAME):
        rec.accept(samples[i : i + FRAME])  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def worker() -> RecognizerProcess:
    rec = RecognizerProcess({"parley": "P AA R L IY"})
    yield rec
    rec.close()


def test_the_worker_hears_what_pocketsphinx_hears_in_process(
    worker: RecognizerProcess, tmp_path: Path
) -> None:
    samples = flite("what is twelve times seven", tmp_path / "q.wav")
    here = PocketsphinxEngine({"parley": "P AA R L IY"}).recognizer(two_pass=False)
    feed(here, samples)
    expected = here.final()
    feed(worker, samples[: len(samples) // 2])
    assert worker.partial()  # partials while the user is still speaking
    feed(worker, samples[len(samples) // 2 :])
    got = worker.final()
    assert got.text == expected.text == "what is twelve times seven"
    assert [w.text for w in got.words] == [w.text for w in expected.words]
    assert worker.pid is not None and worker.pid != os.getpid()
    assert worker.final().text == ""  # a final with nothing heard since is empty


def test_an_added_word_is_heard_through_the_worker(
    worker: RecognizerProcess, tmp_path: Path
) -> None:
    feed(worker, flite("hey parley", tmp_path / "w.wav"))  # rms; slt is heard as "charlie"
    assert worker.final().text == "hey parley"


def test_a_bad_word_is_refused_when_the_worker_starts() -> None:
    rec = RecognizerProcess({"zorblax": "ZZ QQ"})
    with pytest.raises(SttError) as err:
        rec.ready()
    assert err.value.code == "bad_word" and "ARPAbet" in str(err.value)
    assert rec.pid is None  # the failed worker is gone
    rec.close()


def test_a_killed_worker_loses_only_the_utterance_in_progress(tmp_path: Path) -> None:
    rec = RecognizerProcess()
    try:
        samples = flite("what time is it", tmp_path / "t.wav")
        feed(rec, samples)
        assert rec.pid is not None
        os.kill(rec.pid, 9)
        assert rec.final().text == ""  # lost with the worker, and said so in the log
        feed(rec, samples)  # the next frame starts a new worker
        assert rec.final().text == "what time is it"
        assert rec.restarts == 1
    finally:
        rec.close()
    assert rec.pid is None
