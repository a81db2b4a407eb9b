"""The voice loop's barge-in, follow-up window and spoken/clicked confirmation,
driven with scripted ear messages through the real Pipeline, DialogueManager,
Speaker and eSpeak NG worker (tests/pipeline_kit.py). The acoustic tests
cover the same behaviour through the virtual microphone."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline_kit import heard, voice_loop

from assistant.events import (
    ReplyDone,
    State,
    StateChanged,
    ToolRequest,
    ToolResult,
)
from assistant.pipeline import VoiceOptions
from assistant.speech.ear import SpeechStarted, WakeHeard
from assistant.speech.tts import Synthesizer


def test_speech_while_parley_speaks_stops_the_reply(tmp_path: Path, synth: Synthesizer) -> None:
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.0)
    with voice_loop(tmp_path, synth, options, blocking=True) as (pipeline, events, out):
        pipeline.on_ear(heard("what is six times seven"))
        events.wait(lambda: bool(out.clips))  # sounding, until stopped
        assert pipeline.state is State.SPEAKING or pipeline.state is State.THINKING
        barged = time.monotonic()
        pipeline.on_ear(SpeechStarted(barged))
        assert out.stops and out.stops[0] - barged < 0.05  # silenced at once
        events.wait(lambda: any(e.interrupted for e in events.of(ReplyDone)))
        history = pipeline.manager.history
        assert history is not None
        replies = [t for t in history.turns(pipeline.manager.conversation_id)
                   if t.role == "assistant"]  # fmt: skip
        assert [(t.text, t.status) for t in replies] == [("6 times 7 is 42.", "interrupted")]


def test_after_a_reply_parley_listens_without_the_wake_word_for_a_while(
    tmp_path: Path, synth: Synthesizer
) -> None:
    options = VoiceOptions(open_mic=False, follow_up_s=0.4, resume_window_s=0.0)
    with voice_loop(tmp_path, synth, options) as (pipeline, events, _out):
        pipeline.ear.wake_required = True
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


def test_a_consequential_request_waits_for_a_spoken_yes(
    tmp_path: Path, synth: Synthesizer
) -> None:
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.0)
    with voice_loop(tmp_path, synth, options) as (pipeline, events, _out):
        notes = pipeline.manager.notes
        assert notes is not None
        pipeline.on_ear(heard("take a note buy milk"))
        events.wait(lambda: len(events.of(ReplyDone)) == 1)
        pipeline.on_ear(heard("delete the note buy milk"))
        events.wait(lambda: bool(events.of(ToolRequest)))
        request = events.of(ToolRequest)[0]
        assert request.tool == "delete_note"
        assert [text for _id, text, _when in notes.list()] == ["buy milk"]  # not yet
        pipeline.on_ear(heard("yes"))
        events.wait(lambda: any(r.tool == "delete_note" for r in events.of(ToolResult)))
        result = next(r for r in events.of(ToolResult) if r.tool == "delete_note")
        assert result.request_id == request.request_id and result.ok
        assert notes.list() == []


def test_a_click_on_no_leaves_everything_as_it_was(tmp_path: Path, synth: Synthesizer) -> None:
    options = VoiceOptions(open_mic=True, follow_up_s=0.0, resume_window_s=0.0)
    with voice_loop(tmp_path, synth, options) as (pipeline, events, _out):
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
