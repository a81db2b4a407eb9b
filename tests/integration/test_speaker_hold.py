"""A reply prepared during the user's pause: its clauses are synthesised (the
real eSpeak NG worker) but nothing plays until it is released, and a dropped
one never plays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from assistant.speech.speaker import Speaker
from assistant.speech.tts import Synthesizer


class Out:
    """An AudioOut that records what it was asked to play."""

    def __init__(self) -> None:
        self.clips: list[int] = []
        self.played = threading.Event()
        self.stops = 0

    def play(self, samples: np.ndarray, rate: int) -> None:
        self.clips.append(len(samples))
        self.played.set()

    def stop(self) -> None:
        self.stops += 1

    def wait_done(self, timeout: float | None = None) -> bool:
        return True


def wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_held_reply_plays_only_when_released(synth: Synthesizer) -> None:
    out = Out()
    speaker = Speaker(synth, out)
    speaker.start()
    try:
        epoch = speaker.new_reply(held=True)
        speaker.say("The time is", epoch)
        speaker.say("five past three.", epoch)
        wait_until(lambda: speaker.held(epoch) == 2)
        assert out.clips == [] and not speaker.speaking.is_set()
        speaker.release(epoch)
        assert len(out.clips) == 2  # both at once, in order, on release
        assert speaker.speaking.is_set()
        assert speaker.held(epoch) is None
        speaker.say("And one more clause.", epoch)  # after release: played as it comes
        wait_until(lambda: len(out.clips) == 3)
    finally:
        speaker.close()


def test_a_dropped_reply_never_plays(synth: Synthesizer) -> None:
    out = Out()
    speaker = Speaker(synth, out)
    speaker.start()
    try:
        epoch = speaker.new_reply(held=True)
        speaker.say("This was prepared for nothing.", epoch)
        wait_until(lambda: speaker.held(epoch) == 1)
        speaker.discard(epoch)
        speaker.say("Nor this.", epoch)  # a late clause of the dropped reply
        speaker.release(epoch)  # too late: nothing to release
        nxt = speaker.new_reply()
        speaker.say("Hello.", nxt)
        assert out.played.wait(20)
        assert len(out.clips) == 1  # only the next reply's clause
        assert out.stops == 0  # nothing sounding was touched
    finally:
        speaker.close()
