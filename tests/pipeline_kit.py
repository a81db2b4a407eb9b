"""Driving the real Pipeline with scripted ear messages (on sys.path through
pytest's `pythonpath`): the test thread plays the ear thread and calls
`Pipeline.on_ear` directly. Only the microphone and the sound device are
replaced: a silent source, and an output that records what it is asked to
play (and, when `blocking`, plays until stopped, like a long reply)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from recording import EventRecorder

from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.dialogue.notes import NoteStore
from assistant.pipeline import Pipeline, VoiceOptions
from assistant.speech.ear import Ear, UtteranceHeard
from assistant.speech.speaker import Speaker
from assistant.speech.stt import Transcript
from assistant.speech.tts import Synthesizer
from assistant.speech.vad import EnergyVad


class SilentSource:
    def start(self) -> None: ...
    def stop(self) -> None: ...

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        time.sleep(timeout or 0.05)
        return None


class NoRecognizer:
    sample_rate = 16_000

    def accept(self, samples: np.ndarray) -> None: ...
    def partial(self) -> str:
        return ""

    def final(self) -> Transcript:
        return Transcript("", 0.0, (), "none")

    def reset(self) -> None: ...


class Out:
    """Records the clips it is asked to play (monotonic hand-over times) and
    its stops. `blocking`: a reply sounds until `stop` (at most 20 s)."""

    def __init__(self, blocking: bool = False) -> None:
        self.clips: list[float] = []
        self.stops: list[float] = []
        self.blocking = blocking
        self._stopped = threading.Event()

    def play(self, samples: np.ndarray, rate: int) -> None:
        self._stopped.clear()
        self.clips.append(time.monotonic())

    def stop(self) -> None:
        self.stops.append(time.monotonic())
        self._stopped.set()

    def wait_done(self, timeout: float | None = None) -> bool:
        if self.blocking:
            self._stopped.wait(20.0 if timeout is None else min(timeout, 20.0))
        return True


class Events(EventRecorder):
    def wait(self, pred: Callable[[], bool], timeout: float = 20.0) -> None:
        """Until `pred()` holds: checked at every new event, and every 10 ms
        for what is not an event (the clips `Out` was handed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not pred():
                remaining = deadline - time.monotonic()
                assert remaining > 0, list(self)
                self._changed.wait(min(remaining, 0.01))


@contextmanager
def voice_loop(
    folder: Path, synth: Synthesizer, options: VoiceOptions, *, blocking: bool = False
) -> Iterator[tuple[Pipeline, Events, Out]]:
    """A started Pipeline over the real DialogueManager (rules, SQLite history,
    notes and tools, no LLM), Speaker and TTS worker; closed on exit."""
    history = History(folder / "history.sqlite3")
    events = Events()
    manager = DialogueManager(
        Settings(), sink=events, history=history, llm=None, notes=NoteStore(history)
    )
    manager.open_conversation(new=True)
    out = Out(blocking)
    speaker = Speaker(synth, out)
    ear = Ear(EnergyVad(), NoRecognizer(), lambda _m: None)
    pipeline = Pipeline(manager, SilentSource(), ear, speaker, events, options)
    pipeline.start()
    try:
        yield pipeline, events, out
    finally:
        pipeline.close()
        manager.close()
        history.close()


def heard(text: str, speech_end: float | None = None) -> UtteranceHeard:
    now = time.monotonic()
    end = now if speech_end is None else speech_end
    return UtteranceHeard(Transcript(text, 0.9, (), "test"), end, now, now, True)


def user_rows(pipeline: Pipeline) -> list[str]:
    history = pipeline.manager.history
    assert history is not None
    return [t.text for t in history.turns(pipeline.manager.conversation_id) if t.role == "user"]


def wait_held(pipeline: Pipeline) -> None:
    """Until the reply prepared during the pause is synthesised and held."""
    speaker, tentative = pipeline.speaker, pipeline._tentative
    assert speaker is not None and tentative is not None
    deadline = time.monotonic() + 20
    while not speaker.held(tentative.epoch):
        assert time.monotonic() < deadline, "the prepared reply was never held"
        time.sleep(0.005)
