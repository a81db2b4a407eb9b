"""The ear's routing logic with a scripted VAD, recogniser and wake spotter
(the real engines are covered by the integration tests)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.speech.ear import (
    Ear,
    PartialHeard,
    PauseHeard,
    PauseJudgement,
    SpeechDiscarded,
    SpeechStarted,
    UtteranceHeard,
    WakeHeard,
)
from assistant.speech.stt import Transcript
from assistant.speech.vad import FRAME_SAMPLES, Endpointer

SPEECH = np.full(FRAME_SAMPLES, 1000, np.int16)
SILENCE = np.zeros(FRAME_SAMPLES, np.int16)


class LoudVad:
    frame_samples = FRAME_SAMPLES

    def is_speech(self, frame: np.ndarray) -> bool:
        return bool(np.abs(frame).max() > 100)

    def reset(self) -> None:
        pass


class ScriptedRecognizer:
    """Says `words` once it has heard enough audio."""

    sample_rate = 16000

    def __init__(self, words: str) -> None:
        self.words = words
        self.samples = 0

    def accept(self, samples: np.ndarray) -> None:
        self.samples += int(np.count_nonzero(samples))  # only speech counts

    def partial(self) -> str:
        return self.words if self.samples >= 8 * FRAME_SAMPLES else ""

    def final(self) -> Transcript:
        text = self.partial()
        self.samples = 0
        return Transcript(text, 0.9, (), "scripted")

    def reset(self) -> None:
        self.samples = 0


@dataclass
class Hit:
    end_sample: int


class ScriptedSpotter:
    def __init__(self, hit_after_frames: int | None) -> None:
        self.after = hit_after_frames
        self.frames = 0

    def accept(self, samples: np.ndarray) -> Hit | None:
        self.frames += 1
        if self.after is not None and self.frames == self.after:
            return Hit(end_sample=self.frames * FRAME_SAMPLES)
        return None

    def reset(self) -> None:
        self.frames = 0


def run(ear: Ear, *pattern: tuple[np.ndarray, float]) -> None:
    for frame, seconds in pattern:
        for _ in range(round(seconds / 0.03)):
            ear.feed(frame)


def make(words: str, spotter: ScriptedSpotter | None = None) -> tuple[Ear, list]:
    got: list = []
    ear = Ear(
        LoudVad(), ScriptedRecognizer(words), got.append, endpointer=Endpointer(), spotter=spotter
    )
    return ear, got


def test_complete_request_gets_the_short_hangover() -> None:
    ear, got = make("what time is it")
    ear.wake_required = False
    run(ear, (SILENCE, 0.3), (SPEECH, 0.9), (SILENCE, 1.0))
    kinds = [type(m) for m in got]
    assert kinds[0] is SpeechStarted
    assert PartialHeard in kinds
    pause = next(m for m in got if isinstance(m, PauseHeard))
    assert pause.complete and pause.text == "what time is it"
    utt = next(m for m in got if isinstance(m, UtteranceHeard))
    assert utt.transcript.text == "what time is it"
    assert utt.hinted
    assert utt.speech_end <= utt.endpoint <= utt.stt_final


def test_incomplete_request_waits_for_the_long_hangover() -> None:
    ear, got = make("set a timer for")
    ear.wake_required = False
    run(ear, (SPEECH, 0.9), (SILENCE, 0.45))
    assert not any(isinstance(m, UtteranceHeard) for m in got)  # still waiting
    run(ear, (SILENCE, 0.3))
    utt = next(m for m in got if isinstance(m, UtteranceHeard))
    assert not utt.hinted


def test_without_wake_word_speech_is_discarded() -> None:
    ear, got = make("some conversation in the room", ScriptedSpotter(None))
    run(ear, (SPEECH, 1.0), (SILENCE, 1.0))
    assert any(isinstance(m, SpeechDiscarded) for m in got)
    assert not any(isinstance(m, UtteranceHeard) for m in got)


def test_wake_word_then_request_in_one_breath() -> None:
    ear, got = make("what time is it", ScriptedSpotter(hit_after_frames=5))
    run(ear, (SPEECH, 1.5), (SILENCE, 1.0))
    assert any(isinstance(m, WakeHeard) for m in got)
    utt = next(m for m in got if isinstance(m, UtteranceHeard))
    assert utt.transcript.text == "what time is it"


def test_wake_word_alone_opens_the_next_utterance() -> None:
    ear, got = make("", ScriptedSpotter(hit_after_frames=3))
    ear.recognizer = ScriptedRecognizer("what time is it")
    run(ear, (SPEECH, 0.3), (SILENCE, 1.0))  # "hey parley", then a pause
    assert any(isinstance(m, WakeHeard) for m in got)
    assert not ear.wake_required  # listening for the request now
    run(ear, (SPEECH, 1.0), (SILENCE, 1.0))
    assert any(isinstance(m, UtteranceHeard) for m in got)


def test_end_of_stream_finishes_the_utterance() -> None:
    ear, got = make("what time is it")
    ear.wake_required = False
    run(ear, (SPEECH, 1.0))
    ear.end_of_stream()
    assert any(isinstance(m, UtteranceHeard) for m in got)


def test_speech_gate_can_veto_speech() -> None:
    ear, got = make("what time is it")
    ear.wake_required = False
    ear.speech_gate = lambda frame, speech: False  # e.g. only Parley's own voice
    run(ear, (SPEECH, 1.0), (SILENCE, 1.0))
    assert got == []


class LateWordRecognizer(ScriptedRecognizer):
    """The last word shows up only after some silence, as pocketsphinx's partial
    does: "what time is" during speech, "what time is it" 2 frames into the pause."""

    def __init__(self) -> None:
        super().__init__("what time is it")
        self.silent = 0

    def accept(self, samples: np.ndarray) -> None:
        super().accept(samples)
        self.silent = 0 if np.count_nonzero(samples) else self.silent + 1

    def partial(self) -> str:
        return self.words if self.silent >= 5 else "what time is"


def test_a_pause_is_judged_again_when_the_last_word_arrives() -> None:
    got: list = []
    ear = Ear(LoudVad(), LateWordRecognizer(), got.append, endpointer=Endpointer())
    ear.wake_required = False
    run(ear, (SPEECH, 0.9), (SILENCE, 0.3))
    pauses = [m for m in got if isinstance(m, PauseHeard)]
    assert [(p.text, p.complete) for p in pauses] == [
        ("what time is", False),
        ("what time is it", True),
    ]
    utt = next(m for m in got if isinstance(m, UtteranceHeard))  # the short hangover, not 0.6 s
    assert utt.hinted and utt.transcript.text == "what time is it"


class SettlingRecognizer(ScriptedRecognizer):
    """Like a re-decoding recogniser: the partial covers the speech only after
    `settle_frames` of silence; before that it says the last words are pending."""

    def __init__(self, words: str, settle_frames: int) -> None:
        super().__init__(words)
        self.settle_frames = settle_frames
        self.silent = 0

    def accept(self, samples: np.ndarray) -> None:
        super().accept(samples)
        self.silent = 0 if np.count_nonzero(samples) else self.silent + 1

    def settled(self) -> bool:
        return self.silent >= self.settle_frames


def test_a_turn_does_not_end_on_a_partial_still_being_decoded() -> None:
    """A finished-looking partial ends the turn after 0.12 s, but not while the
    recogniser still decodes the last words: here it settles after 0.3 s."""
    from assistant.speech.ear import PauseJudgement

    got: list = []
    ear = Ear(LoudVad(), SettlingRecognizer("what time is it", 10), got.append,
              endpointer=Endpointer())  # fmt: skip
    ear.wake_required = False
    ear.judge = lambda _text: PauseJudgement(0.12, True)
    run(ear, (SPEECH, 0.9), (SILENCE, 1.5))
    pauses = [(m.text, m.complete, m.settled) for m in got if isinstance(m, PauseHeard)]
    assert pauses == [("what time is it", True, False), ("what time is it", True, True)]
    utt = next(m for m in got if isinstance(m, UtteranceHeard))
    silence_s = utt.endpoint - utt.speech_end
    # Ended in the very frame it settled (0.3 s, past the 0.12 s hangover
    # already), not at 0.12 s and not a frame later.
    assert abs(silence_s - 0.3) < 0.01


def test_a_recogniser_that_never_settles_still_ends_the_turn() -> None:
    got: list = []
    ear = Ear(LoudVad(), SettlingRecognizer("what time is it", 10_000), got.append,
              endpointer=Endpointer())  # fmt: skip
    ear.wake_required = False
    ear.settle_wait_s = 0.8
    run(ear, (SPEECH, 0.9), (SILENCE, 1.5))
    utt = next(m for m in got if isinstance(m, UtteranceHeard))
    assert 0.79 < utt.endpoint - utt.speech_end < 0.9


class PushedRecognizer(ScriptedRecognizer):
    """Like a worker process: its decode of the last words lands between frames."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.decoded = False

    def settled(self) -> bool:
        return self.decoded


def test_a_decode_landing_between_frames_is_judged_at_once() -> None:
    from assistant.speech.ear import PauseJudgement, TurnEnding

    got: list = []
    ear = Ear(LoudVad(), PushedRecognizer("what time is it"), got.append,
              endpointer=Endpointer())  # fmt: skip
    ear.wake_required = False
    ear.judge = lambda _text: PauseJudgement(0.12, True)
    run(ear, (SPEECH, 0.9), (SILENCE, 0.15))  # paused, the last words still decoding
    assert ear.awaiting_words and not any(isinstance(m, TurnEnding) for m in got)
    ear.poll()  # nothing new yet: nothing happens
    assert ear.awaiting_words and not any(isinstance(m, TurnEnding) for m in got)
    ear.recognizer.decoded = True  # type: ignore[attr-defined]
    ear.poll()  # between two frames
    assert not ear.awaiting_words
    assert [m.text for m in got if isinstance(m, TurnEnding)] == ["what time is it"]
    utt = next(m for m in got if isinstance(m, UtteranceHeard))
    assert abs((utt.endpoint - utt.speech_end) - 0.15) < 0.01  # no frame waited for


class CountingRecognizer(ScriptedRecognizer):
    """Its words say how many frames of speech it heard since its last reset."""

    def partial(self) -> str:
        return f"{self.samples // FRAME_SAMPLES} frames"


def test_speech_going_on_with_the_last_utterance_is_heard_again_with_it() -> None:
    got: list = []
    ear = Ear(LoudVad(), CountingRecognizer(""), got.append, endpointer=Endpointer())
    ear.wake_required = False
    ear.judge = lambda _text: PauseJudgement(0.12, True)
    run(ear, (SILENCE, 0.6), (SPEECH, 0.6), (SILENCE, 0.3))
    first = next(m for m in got if isinstance(m, UtteranceHeard))
    assert first.transcript.text == "20 frames" and not first.continues
    start = ear.utterance_start_s

    def on_start(msg: object) -> None:
        got.append(msg)
        if isinstance(msg, SpeechStarted):
            assert ear.continue_last()
            assert not ear.continue_last()  # once

    ear.emit = on_start
    run(ear, (SPEECH, 0.3), (SILENCE, 0.5))
    second = [m for m in got if isinstance(m, UtteranceHeard)][-1]
    assert second.continues
    assert second.transcript.text == "30 frames"  # both utterances' speech, once each
    assert ear.utterance_start_s == start  # the request starts where the first did


def test_a_wake_phrase_is_not_heard_again_when_the_request_goes_on() -> None:
    got: list = []
    spotter = ScriptedSpotter(hit_after_frames=15)  # "hey parley" is 15 frames
    ear = Ear(LoudVad(), CountingRecognizer(""), got.append, endpointer=Endpointer(),
              spotter=spotter)  # fmt: skip
    ear.judge = lambda _text: PauseJudgement(0.12, True)
    run(ear, (SILENCE, 0.6), (SPEECH, 0.6), (SILENCE, 0.3))
    first = next(m for m in got if isinstance(m, UtteranceHeard))
    after_wake = int(first.transcript.text.split()[0])
    assert after_wake < 20  # the wake phrase's frames went to the spotter

    def on_start(msg: object) -> None:
        if isinstance(msg, SpeechStarted):
            ear.wake_required = False
            ear.continue_last()
        got.append(msg)

    ear.emit = on_start
    run(ear, (SPEECH, 0.3), (SILENCE, 0.5))
    second = [m for m in got if isinstance(m, UtteranceHeard)][-1]
    assert second.continues and second.transcript.text == f"{after_wake + 10} frames"


def test_nothing_to_go_on_with_after_a_reset() -> None:
    ear, got = make("what time is it")
    ear.wake_required = False
    run(ear, (SPEECH, 0.6), (SILENCE, 1.5))
    ear.reset()
    answers: list[bool] = []

    def on_start(msg: object) -> None:
        if isinstance(msg, SpeechStarted):
            answers.append(ear.continue_last())

    ear.emit = on_start
    run(ear, (SPEECH, 0.3))
    assert answers == [False]


class FrameLog(ScriptedRecognizer):
    """Keeps the first sample of every frame it hears."""

    def __init__(self) -> None:
        super().__init__("")
        self.heard: list[int] = []

    def accept(self, samples: np.ndarray) -> None:
        self.heard.extend(int(v) for v in samples[::FRAME_SAMPLES])

    def reset(self) -> None:
        self.heard = []


def test_a_wake_phrase_spotted_inside_the_pre_roll_hands_on_each_frame_once() -> None:
    rec = FrameLog()
    ear = Ear(LoudVad(), rec, lambda _m: None, endpointer=Endpointer(),
              spotter=ScriptedSpotter(hit_after_frames=9))  # fmt: skip
    frames = [np.full(FRAME_SAMPLES, 1000 + i, np.int16) for i in range(20)]
    run(ear, (SILENCE, 0.6))
    for f in frames:
        ear.feed(f)
    assert rec.heard == sorted(set(rec.heard))  # in order, none twice
    assert rec.heard[-1] == 1019
