"""Driving the real Pipeline with scripted ear messages and fake engines (on
sys.path through pytest's `pythonpath`): the test thread plays the ear thread
and calls `Pipeline.on_ear` directly. The engines are replaced: a silent
source, a recogniser and a wake spotter that hear nothing (the script says
what was heard), a synthesiser in this process (no TTS worker), and an output
that records what it is asked to play (and, when `blocking`, plays until
stopped, like a long reply). No subprocess, no Qt; the dialogue manager, its
SQLite history, notes and tools are the real ones (rules only, no LLM)."""

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
from assistant.pipeline import EarHooks, Pipeline, VoiceOptions, speaker_for
from assistant.speech.ear import Ear, UtteranceHeard
from assistant.speech.stt import Transcript
from assistant.speech.tts import Synthesis
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


class NoSpotter:
    """A wake-word spotter that never fires (the script sends `WakeHeard`);
    with it the ear starts out waiting for the wake phrase."""

    def accept(self, samples: np.ndarray) -> object | None:
        return None

    def reset(self) -> None: ...


class ScriptedEar(Ear):
    """The real Ear, fed no audio; counts the turns taken back it was asked
    to hear again (`continue_last`)."""

    continued = 0

    def continue_last(self) -> bool:
        self.continued += 1
        return super().continue_last()


class FakeSynth:
    """A TTS engine in this process: 10 ms of sound per character, at once."""

    def synthesize(self, text: str, timeout: float = 10.0) -> Synthesis:
        return Synthesis(np.full(160 * len(text), 1000, np.int16), 16_000, text, 0.0)


class Out:
    """Records the clips it is asked to play (monotonic hand-over times) and
    its stops; reports each clip's first sample as played at once, as the
    real outputs do. `blocking`: a reply sounds until `stop` (at most 20 s)."""

    def __init__(self, blocking: bool = False) -> None:
        self.clips: list[float] = []
        self.stops: list[float] = []
        self.blocking = blocking
        self._stopped = threading.Event()
        self.on_first_sample: Callable[[float], None] | None = None
        """Wired to the speaker by `pipeline.speaker_for`, as Player and WavOut are."""

    def play(self, samples: np.ndarray, rate: int) -> None:
        self._stopped.clear()
        self.clips.append(time.monotonic())
        if self.on_first_sample is not None:
            self.on_first_sample(self.clips[-1])

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
    folder: Path,
    options: VoiceOptions,
    *,
    blocking: bool = False,
    wake: bool = False,
    settings: Settings | None = None,
    manager_type: type[DialogueManager] = DialogueManager,
) -> Iterator[tuple[Pipeline, Events, Out]]:
    """A started Pipeline over the real DialogueManager (rules, SQLite history,
    notes and tools, no LLM) and Speaker, with the fake engines above; closed
    on exit. `wake`: the ear waits for the wake phrase (it has a spotter);
    `manager_type`: a DialogueManager subclass, to slow or watch the brain."""
    history = History(folder / "history.sqlite3")
    events = Events()
    manager = manager_type(
        settings or Settings(), sink=events, history=history, llm=None, notes=NoteStore(history)
    )
    manager.open_conversation(new=True)
    out = Out(blocking)

    def ear(hooks: EarHooks) -> Ear:
        spotter = NoSpotter() if wake else None
        # The judge as voice.build_voice wires it.
        return ScriptedEar(EnergyVad(), NoRecognizer(), hooks.emit, spotter=spotter,
                           judge=hooks.judge)  # fmt: skip

    pipeline = Pipeline(
        manager,
        source=SilentSource(),
        ear=ear,
        sink=events,
        speaker=speaker_for(FakeSynth(), out),  # type: ignore[arg-type]
        options=options,
    )
    pipeline.start()
    try:
        yield pipeline, events, out
    finally:
        pipeline.close()
        manager.close()
        history.close()


def heard(
    text: str, speech_end: float | None = None, *, continues: bool = False
) -> UtteranceHeard:
    """The ear's final transcript; `continues`: it re-decoded the turn taken
    back with these words as one clip (`Ear.continue_last`)."""
    now = time.monotonic()
    end = now if speech_end is None else speech_end
    return UtteranceHeard(Transcript(text, 0.9, (), "test"), end, now, now, True, continues)


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
