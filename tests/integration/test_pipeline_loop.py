"""The voice loop's barge-in, follow-up window and spoken/clicked confirmation,
driven with scripted ear messages through the real Pipeline, DialogueManager
and Speaker, with fake engines (tests/pipeline_kit.py: no subprocess, no Qt).
The acoustic tests cover the same behaviour through the virtual microphone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pipeline_kit import heard, voice_loop

from assistant.config import Settings
from assistant.events import (
    Notice,
    NoticeCode,
    ReplyDone,
    State,
    StateChanged,
    ToolRequest,
    ToolResult,
)
from assistant.pipeline import VoiceOptions
from assistant.speech.ear import SpeechStarted, WakeHeard


def test_speech_while_parley_speaks_stops_the_reply(tmp_path: Path) -> None:
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.0)
    with voice_loop(tmp_path, options, blocking=True) as (pipeline, events, out):
        pipeline.on_ear(heard("what is six times seven"))
        events.wait(lambda: pipeline.state is State.SPEAKING)  # sounding, until stopped
        assert out.clips
        barged = time.monotonic()
        pipeline.on_ear(SpeechStarted(barged))
        assert out.stops and out.stops[0] - barged < 0.05  # silenced at once
        events.wait(lambda: any(e.interrupted for e in events.of(ReplyDone)))
        history = pipeline.manager.history
        assert history is not None
        replies = [t for t in history.turns(pipeline.manager.conversation_id)
                   if t.role == "assistant"]  # fmt: skip
        assert [(t.text, t.status) for t in replies] == [("6 times 7 is 42.", "interrupted")]


def test_waiting_for_the_wake_phrase_only_the_phrase_barges_in(tmp_path: Path) -> None:
    """Speech without the wake phrase (someone else in the room) leaves the
    reply sounding; the wake phrase stops it."""
    options = VoiceOptions(open_mic=False, follow_up_s=0.0, resume_window_s=0.0)
    with voice_loop(tmp_path, options, blocking=True, wake=True) as (pipeline, events, out):
        pipeline.on_ear(WakeHeard(time.monotonic()))
        pipeline.on_ear(heard("what is six times seven"))
        events.wait(lambda: pipeline.state is State.SPEAKING)
        assert pipeline.ear.wake_required
        pipeline.on_ear(SpeechStarted(time.monotonic()))
        assert out.stops == [] and pipeline.state is State.SPEAKING
        woke = time.monotonic()
        pipeline.on_ear(WakeHeard(woke))
        assert out.stops and out.stops[0] - woke < 0.05
        events.wait(lambda: any(e.interrupted for e in events.of(ReplyDone)))


def test_after_a_reply_parley_listens_without_the_wake_word_for_a_while(
    tmp_path: Path,
) -> None:
    options = VoiceOptions(open_mic=False, follow_up_s=0.4, resume_window_s=0.0)
    with voice_loop(tmp_path, options, wake=True) as (pipeline, events, _out):
        assert pipeline.ear.wake_required and pipeline.state is State.IDLE
        pipeline.on_ear(WakeHeard(time.monotonic()))
        pipeline.on_ear(heard("what is two plus two"))
        events.wait(lambda: bool(events.of(ReplyDone)))
        events.wait(lambda: pipeline.state is State.LISTENING and not pipeline.ear.wake_required)
        replied = time.monotonic()
        events.wait(lambda: pipeline.state is State.IDLE, timeout=5)  # the window closed
        assert time.monotonic() - replied >= 0.3
        assert pipeline.ear.wake_required
        states = [e.state for e in events.of(StateChanged)]
        assert states[-2:] == [State.LISTENING, State.IDLE]


def test_a_typed_request_opens_no_follow_up_window(tmp_path: Path) -> None:
    """Someone who typed is not talking: after the reply Parley goes on waiting
    for the wake phrase, and never says it is listening."""
    options = VoiceOptions(open_mic=False, follow_up_s=5.0, resume_window_s=0.0)
    with voice_loop(tmp_path, options, wake=True) as (pipeline, events, out):
        pipeline.submit_text("what is two plus two")
        events.wait(lambda: bool(events.of(ReplyDone)) and bool(out.clips))
        events.wait(lambda: pipeline.state is State.IDLE)
        assert pipeline.ear.wake_required
        assert State.LISTENING not in [e.state for e in events.of(StateChanged)]


def test_a_question_in_the_follow_up_window_needs_no_wake_phrase(tmp_path: Path) -> None:
    """Speech in the window keeps it open while the user talks; the next reply
    opens it again."""
    options = VoiceOptions(open_mic=False, follow_up_s=0.5, resume_window_s=0.0)
    with voice_loop(tmp_path, options, wake=True) as (pipeline, events, _out):
        pipeline.on_ear(WakeHeard(time.monotonic()))
        pipeline.on_ear(heard("what is two plus two"))
        events.wait(lambda: pipeline.state is State.LISTENING and not pipeline.ear.wake_required)
        pipeline.on_ear(SpeechStarted(time.monotonic()))  # no WakeHeard
        time.sleep(0.7)  # a long question: longer than the window
        assert not pipeline.ear.wake_required and pipeline.state is State.LISTENING
        pipeline.on_ear(heard("what is three plus three"))
        events.wait(lambda: len(events.of(ReplyDone)) == 2)
        assert events.of(ReplyDone)[-1].text == "3 plus 3 is 6."
        events.wait(lambda: pipeline.state is State.IDLE, timeout=5)  # then it closes
        assert pipeline.ear.wake_required


@pytest.mark.parametrize(("answer", "deleted"), [("yes", True), ("no", False)])
def test_a_consequential_request_waits_for_a_spoken_answer(
    tmp_path: Path, answer: str, deleted: bool
) -> None:
    """Waiting for the wake phrase: the question opens the follow-up window,
    so the answer needs no wake phrase."""
    options = VoiceOptions(open_mic=False, follow_up_s=5.0, resume_window_s=0.0)
    with voice_loop(tmp_path, options, wake=True) as (pipeline, events, out):
        notes = pipeline.manager.notes
        assert notes is not None
        pipeline.on_ear(WakeHeard(time.monotonic()))
        pipeline.on_ear(heard("take a note buy milk"))
        events.wait(lambda: len(events.of(ReplyDone)) == 1)
        events.wait(lambda: not pipeline.ear.wake_required)
        pipeline.on_ear(SpeechStarted(time.monotonic()))
        pipeline.on_ear(heard("delete the note buy milk"))
        events.wait(lambda: bool(events.of(ToolRequest)))
        request = events.of(ToolRequest)[0]
        assert request.tool == "delete_note"
        # The question is asked aloud, then the window opens again.
        events.wait(lambda: len(events.of(ReplyDone)) == 2 and len(out.clips) >= 2)
        events.wait(lambda: pipeline.state is State.LISTENING and not pipeline.ear.wake_required)
        spoken = len(out.clips)
        assert [text for _id, text, _when in notes.list()] == ["buy milk"]  # not yet
        pipeline.on_ear(SpeechStarted(time.monotonic()))
        pipeline.on_ear(heard(answer))
        events.wait(lambda: any(r.tool == "delete_note" for r in events.of(ToolResult)))
        result = next(r for r in events.of(ToolResult) if r.tool == "delete_note")
        assert result.request_id == request.request_id and result.ok is deleted
        assert (notes.list() == []) is deleted
        events.wait(lambda: len(out.clips) > spoken)  # the outcome is said


def test_a_click_on_no_leaves_everything_as_it_was(tmp_path: Path) -> None:
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.0)
    with voice_loop(tmp_path, options) as (pipeline, events, _out):
        notes = pipeline.manager.notes
        assert notes is not None
        pipeline.on_ear(heard("take a note call the dentist"))
        events.wait(lambda: len(events.of(ReplyDone)) == 1)
        pipeline.on_ear(heard("delete all my notes"))
        events.wait(lambda: bool(events.of(ToolRequest)))
        request = events.of(ToolRequest)[0]
        assert request.tool == "delete_all_notes"
        pipeline.confirm(request.request_id, False)
        events.wait(lambda: any(r.tool == request.tool for r in events.of(ToolResult)))
        denied = next(r for r in events.of(ToolResult) if r.tool == request.tool)
        assert not denied.ok  # denied, not run
        assert [text for _id, text, _when in notes.list()] == ["call the dentist"]


def test_a_question_left_unanswered_is_dropped_aloud(tmp_path: Path) -> None:
    """The timeout comes from the manager's timer thread, outside any turn:
    its notice goes out and is spoken at once."""
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.0)
    settings = Settings(confirm_timeout_s=1.0)
    with voice_loop(tmp_path, options, settings=settings) as (pipeline, events, out):
        notes = pipeline.manager.notes
        assert notes is not None
        pipeline.on_ear(heard("take a note buy milk"))
        pipeline.on_ear(heard("delete the note buy milk"))
        events.wait(lambda: bool(events.of(ToolRequest)))
        events.wait(lambda: len(events.of(ReplyDone)) == 2 and len(out.clips) >= 2)
        events.wait(lambda: pipeline.state is State.LISTENING)  # the question was said
        spoken = len(out.clips)
        events.wait(lambda: any(n.code == NoticeCode.CONFIRM_TIMEOUT for n in events.of(Notice)))
        events.wait(lambda: len(out.clips) > spoken)  # "No answer, so I didn't ..."
        assert [text for _id, text, _when in notes.list()] == ["buy milk"]
