"""The voice loop's turn-taking driven with scripted ear messages: the real
Pipeline, DialogueManager (rules, SQLite history) and Speaker, with fake
engines (a silent source, a synthesiser in this process, an output that
records what it is asked to play; no subprocess, no Qt).

The test thread plays the ear thread: it calls `Pipeline.on_ear` directly
(tests/pipeline_kit.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_kit import Events, Out, ScriptedEar, heard, user_rows, voice_loop, wait_held

from assistant.dialogue.manager import DialogueManager, TurnResult
from assistant.events import (
    Error,
    Latency,
    Notice,
    NoticeCode,
    ReplyDone,
    TurnRetracted,
    UserTurn,
)
from assistant.pipeline import Pipeline, VoiceOptions
from assistant.speech.ear import PauseHeard, SpeechResumed, SpeechStarted, TurnEnding


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[tuple[Pipeline, Events, Out]]:
    with voice_loop(tmp_path, VoiceOptions(open_mic=True, follow_up_s=0.0)) as parts:
        yield parts


def test_a_reply_prepared_in_the_pause_plays_when_the_turn_ends(
    loop: tuple[Pipeline, Events, Out],
) -> None:
    pipeline, events, out = loop
    end = time.monotonic()
    pipeline.on_ear(SpeechStarted(end - 1.0))
    pipeline.on_ear(PauseHeard("what is six times seven", True, end))
    wait_held(pipeline)  # answered and synthesised, not played
    assert out.clips == [] and not events.of(UserTurn)  # nothing seen or heard yet
    released = time.monotonic()
    pipeline.on_ear(TurnEnding("what is six times seven"))
    assert out.clips and out.clips[0] - released < 0.05  # at once
    pipeline.on_ear(heard("what is six times seven", end))
    events.wait(lambda: bool(events.of(Latency)))
    assert [e.text for e in events.of(UserTurn)] == ["what is six times seven"]
    assert events.of(ReplyDone)[0].text == "6 times 7 is 42."
    assert "intent" in events.of(Latency)[0].stages_ms
    assert user_rows(pipeline) == ["what is six times seven"]


def test_going_on_after_a_pause_drops_what_was_prepared(
    loop: tuple[Pipeline, Events, Out],
) -> None:
    pipeline, events, out = loop
    end = time.monotonic()
    pipeline.on_ear(SpeechStarted(end - 1.0))
    pipeline.on_ear(PauseHeard("what is six times seven", True, end))
    wait_held(pipeline)
    pipeline.on_ear(SpeechResumed())
    pipeline.on_ear(TurnEnding("what is six times seven plus one"))
    pipeline.on_ear(heard("what is six times seven plus one", end + 1.0))
    events.wait(lambda: bool(events.of(Latency)))
    assert [e.text for e in events.of(UserTurn)] == ["what is six times seven plus one"]
    assert [e.text for e in events.of(ReplyDone)] == ["6 times 7 plus 1 is 43."]
    assert len(out.clips) == 2  # "6 times 7 plus" "1 is 43.": the dropped answer never played
    assert user_rows(pipeline) == ["what is six times seven plus one"]


def test_speech_resuming_after_the_end_takes_the_turn_back(
    loop: tuple[Pipeline, Events, Out],
) -> None:
    pipeline, events, out = loop
    end = time.monotonic()
    pipeline.on_ear(SpeechStarted(end - 1.0))
    pipeline.on_ear(heard("what is two plus two", end))  # no pause seen: answered at once
    events.wait(lambda: bool(out.clips))  # it is sounding
    resumed = time.monotonic()
    pipeline.on_ear(SpeechStarted(resumed))  # 150 ms-ish after the decision
    assert out.stops and out.stops[0] - resumed < 0.05  # silenced at once
    pipeline.on_ear(heard("plus three", time.monotonic()))
    events.wait(lambda: any("7" in e.text for e in events.of(ReplyDone)))
    events.wait(lambda: bool(events.of(TurnRetracted)))
    taken_back = events.of(TurnRetracted)[0]
    assert taken_back.user_turn_id == events.of(UserTurn)[0].turn_id
    assert events.of(UserTurn)[-1].text == "what is two plus two plus three"
    assert user_rows(pipeline) == ["what is two plus two plus three"]
    assert [m.content for m in pipeline.manager.messages if m.role == "user"] == [
        "what is two plus two plus three"
    ]


def test_speech_after_the_window_is_a_new_turn(tmp_path: Path) -> None:
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.05)
    with voice_loop(tmp_path, options) as (pipeline, events, _out):
        end = time.monotonic()
        pipeline.on_ear(heard("what is two plus two", end))
        events.wait(lambda: bool(events.of(Latency)))
        time.sleep(0.1)
        pipeline.on_ear(SpeechStarted(time.monotonic()))
        pipeline.on_ear(heard("what is three plus three", time.monotonic()))
        events.wait(lambda: len(events.of(Latency)) == 2)
        assert not events.of(TurnRetracted)
        assert user_rows(pipeline) == ["what is two plus two", "what is three plus three"]


def test_a_turn_committed_before_the_brain_reaches_it_is_heard(tmp_path: Path) -> None:
    """The ear can commit a prepared turn while the brain still finishes earlier
    work (a model warm-up): the reply must then not be held at all."""
    warming, busy = threading.Event(), threading.Event()

    class SlowWarmUp(DialogueManager):
        def speculate(self, text: str, should_stop: Callable[[], bool] | None = None) -> int:
            warming.set()
            return int(busy.wait(10))

    options = VoiceOptions(open_mic=True, follow_up_s=0.0)
    with voice_loop(tmp_path, options, manager_type=SlowWarmUp) as (pipeline, events, out):
        end = time.monotonic()
        pipeline.on_ear(SpeechStarted(end - 1.0))
        # A request that changes something is not prepared: the model is warmed up.
        pipeline.on_ear(PauseHeard("take a note buy milk", True, end - 0.5))
        assert warming.wait(10)
        pipeline.on_ear(SpeechResumed())
        pipeline.on_ear(PauseHeard("what is six times seven", True, end))
        pipeline.on_ear(TurnEnding("what is six times seven"))
        pipeline.on_ear(heard("what is six times seven", end))
        assert out.clips == []  # the brain has not answered yet
        busy.set()
        events.wait(lambda: bool(events.of(Latency)))
        assert out.clips, "the committed reply was never played"
        assert events.of(ReplyDone)[0].text == "6 times 7 is 42."


def test_a_turn_taken_back_for_no_words_is_answered_as_said(tmp_path: Path) -> None:
    """Wake-word mode: the speech that took the turn back needs no wake phrase,
    and when it holds no words (a cough) the request is answered as it was."""
    from assistant.speech.ear import SpeechDiscarded, WakeHeard

    options = VoiceOptions(open_mic=False, follow_up_s=0.0)
    with voice_loop(tmp_path, options, wake=True) as (pipeline, events, out):
        pipeline.on_ear(WakeHeard(time.monotonic()))
        pipeline.on_ear(heard("what is two plus two", time.monotonic()))
        events.wait(lambda: bool(out.clips))
        assert pipeline.ear.wake_required
        pipeline.on_ear(SpeechStarted(time.monotonic()))
        assert not pipeline.ear.wake_required  # the resumed words are listened to
        pipeline.on_ear(SpeechDiscarded(""))
        events.wait(lambda: len(events.of(ReplyDone)) >= 2)
        assert events.of(ReplyDone)[-1].text == "2 plus 2 is 4."  # answered again
        deadline = time.monotonic() + 10  # the brain writes the row before it says the reply
        while user_rows(pipeline) != ["what is two plus two"]:
            assert time.monotonic() < deadline, user_rows(pipeline)
            time.sleep(0.01)


def test_a_turn_taken_back_for_a_wordless_utterance_keeps_its_confidence(
    loop: tuple[Pipeline, Events, Out],
) -> None:
    """The resumed sound reached the recogniser but held no words (its
    confidence 0): the request taken back is answered as said, not flagged."""
    from assistant.speech.ear import UtteranceHeard
    from assistant.speech.stt import Transcript

    pipeline, events, out = loop
    pipeline.on_ear(heard("what is three plus three", time.monotonic()))
    events.wait(lambda: bool(out.clips))
    pipeline.on_ear(SpeechStarted(time.monotonic()))
    now = time.monotonic()
    pipeline.on_ear(UtteranceHeard(Transcript("", 0.0, (), "moonshine"), now, now, now, True))
    events.wait(lambda: len(events.of(ReplyDone)) >= 2)
    assert events.of(ReplyDone)[-1].text == "3 plus 3 is 6."
    assert [e.confidence for e in events.of(UserTurn)][-1] == 0.9  # as first heard


def test_resumed_speech_is_heard_again_whole_and_undoes_the_turn(
    loop: tuple[Pipeline, Events, Out],
) -> None:
    """The ear re-decodes the turn taken back with the new words as one clip
    (`Ear.continue_last`, `UtteranceHeard.continues`): that transcript is the
    request, joined to nothing; what the first turn did is undone."""
    pipeline, events, out = loop
    notes = pipeline.manager.notes
    assert notes is not None
    pipeline.on_ear(SpeechStarted(time.monotonic() - 1.0))
    pipeline.on_ear(heard("take a note buy milk", time.monotonic()))
    # Answered, and the reply over (its Latency out): speech that comes before
    # that takes the turn back with no Latency of its own, a race under load.
    events.wait(lambda: bool(out.clips) and len(events.of(Latency)) == 1)
    assert [text for _id, text, _when in notes.list()] == ["buy milk"]
    ear = pipeline.ear
    assert isinstance(ear, ScriptedEar)
    pipeline.on_ear(SpeechStarted(time.monotonic()))
    assert ear.continued == 1  # asked to hear it all again
    pipeline.on_ear(heard("take a note buy milk and eggs", time.monotonic(), continues=True))
    events.wait(lambda: len(events.of(Latency)) == 2 and bool(events.of(TurnRetracted)))
    assert [e.text for e in events.of(UserTurn)][-1] == "take a note buy milk and eggs"
    assert [text for _id, text, _when in notes.list()] == ["buy milk and eggs"]
    assert user_rows(pipeline) == ["take a note buy milk and eggs"]
    # Nothing more was written to the turn taken back (its ids are the new turn's now).
    assert not events.of(Error)
    assert [e.interrupted for e in events.of(ReplyDone)] == [False, False]
    history = pipeline.manager.history
    assert history is not None
    replies = [t for t in history.turns(pipeline.manager.conversation_id) if t.role == "assistant"]
    assert [(t.text, t.status) for t in replies] == [("Noted: buy milk and eggs.", "done")]


def test_a_timer_going_off_while_a_reply_is_prepared_is_not_held_with_it(
    tmp_path: Path,
) -> None:
    """Events the manager emits off the brain thread belong to no turn: a
    prepared turn that is dropped must not take them with it."""
    preparing, go = threading.Event(), threading.Event()

    class SlowRule(DialogueManager):
        def handle(self, *args: Any, **kwargs: Any) -> TurnResult:
            result = super().handle(*args, **kwargs)
            preparing.set()
            go.wait(10)
            return result

    options = VoiceOptions(open_mic=True, follow_up_s=0.0)
    with voice_loop(tmp_path, options, manager_type=SlowRule) as (pipeline, events, _out):
        end = time.monotonic()
        pipeline.on_ear(SpeechStarted(end - 1.0))
        pipeline.on_ear(PauseHeard("what is six times seven", True, end))
        assert preparing.wait(10)  # the brain is inside the prepared turn
        done = Notice("Your timer for 2 seconds is done.", NoticeCode.TIMER)
        pipeline.manager.sink(done)  # from a thread not the brain's, as the timers emit
        assert done in events.of(Notice)  # out at once, not held
        pipeline.on_ear(SpeechResumed())  # the prepared reply is dropped
        go.set()
        assert done in events.of(Notice)
        assert not events.of(UserTurn)
