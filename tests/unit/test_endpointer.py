"""The Endpointer state machine and the looks_complete heuristic: pure logic, no audio."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.speech.vad import (
    Endpointer,
    EndpointEvent,
    iter_frames,
    looks_complete,
)
from assistant.speech.vad import EndpointEventType as E

DT = 0.03  # one 30 ms frame


def feed(ep: Endpointer, pattern: str, dt: float = DT) -> list[EndpointEvent]:
    """'#' is a speech frame, '.' a silent one; returns every event in order."""
    return [e for c in pattern for e in ep.process(dt, c == "#")]


def kinds(events: list[EndpointEvent]) -> list[E]:
    return [e.type for e in events]


def test_start_needs_start_s_of_speech_and_reports_where_it_began():
    ep = Endpointer()
    assert feed(ep, "...#") == []
    [start] = feed(ep, "#")
    assert start.type == E.SPEECH_START
    assert start.time_s == pytest.approx(5 * DT)
    assert start.speech_start_s == pytest.approx(3 * DT)  # the first speech frame's start
    assert ep.in_speech


def test_short_blips_are_ignored():
    ep = Endpointer()
    assert feed(ep, "#..#..#...#.." * 20) == []
    assert not ep.in_speech


def test_a_one_frame_dip_does_not_discard_speech_towards_a_start():
    assert kinds(feed(Endpointer(), "#.#")) == [E.SPEECH_START]


def test_end_after_the_long_hangover_with_pause_first():
    ep = Endpointer(hangover_s=0.6, pause_s=0.1)
    feed(ep, "." * 10 + "#" * 10)  # speech ends at 20 frames = 0.6 s
    events = feed(ep, "." * 25)
    assert kinds(events) == [E.PAUSE, E.SPEECH_END]
    pause, end = events
    assert pause.time_s == pytest.approx(0.6 + 4 * DT)  # first frame boundary past 0.1 s
    assert end.speech_end_s == pytest.approx(0.6)
    assert end.speech_start_s == pytest.approx(0.3)
    assert end.latency_s == pytest.approx(0.6)
    assert not end.complete_hint
    assert not ep.in_speech


def test_no_end_before_the_long_hangover():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10)
    assert kinds(feed(ep, "." * 19)) == [E.PAUSE]  # 0.57 s of silence
    assert ep.in_speech


def test_short_hangover_when_hinted_complete():
    ep = Endpointer(hangover_s=0.6, short_hangover_s=0.2)
    feed(ep, "#" * 10)
    ep.set_hint(True)
    events = feed(ep, "." * 7)
    assert kinds(events) == [E.PAUSE, E.SPEECH_END]
    assert events[-1].latency_s == pytest.approx(0.21)  # 7 frames: first boundary past 0.2 s
    assert events[-1].complete_hint


def test_hint_given_late_ends_at_once():
    ep = Endpointer(hangover_s=0.6, short_hangover_s=0.2)
    feed(ep, "#" * 10 + "." * 12)  # 0.36 s of silence: past the short hangover already
    ep.set_hint(True)
    assert kinds(feed(ep, ".")) == [E.SPEECH_END]


def test_a_hangover_already_covered_by_the_silence_is_overdue_at_once():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10 + "." * 5)  # 0.15 s of silence: paused, long hangover pending
    assert ep.overdue() == []
    ep.set_hangover(0.12)
    events = ep.overdue()
    assert kinds(events) == [E.SPEECH_END]
    assert events[0].latency_s == pytest.approx(0.15)  # now, not a chunk later
    assert not ep.in_speech and ep.overdue() == []  # once


def test_a_hangover_not_yet_covered_is_not_overdue():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10 + "." * 4)
    ep.set_hangover(0.2)
    assert ep.overdue() == []
    assert kinds(feed(ep, "." * 3)) == [E.SPEECH_END]


def test_nothing_is_overdue_while_speech_goes_on_or_resumes():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10)
    ep.set_hangover(0.0001)
    assert ep.overdue() == []  # not paused: the speaker is talking
    ep.set_hangover(None)
    assert kinds(feed(ep, "." * 5 + "#")) == [E.PAUSE]  # then a frame of speech: resuming?
    ep.set_hangover(0.12)
    assert ep.in_speech and ep.overdue() == []


def test_hint_withdrawn_restores_the_long_hangover():
    ep = Endpointer(hangover_s=0.6, short_hangover_s=0.2)
    feed(ep, "#" * 10)
    ep.set_hint(True)
    ep.set_hint(False)
    assert E.SPEECH_END not in kinds(feed(ep, "." * 10))


def test_hint_is_cleared_at_the_end_of_an_utterance():
    ep = Endpointer(hangover_s=0.6, short_hangover_s=0.2)
    feed(ep, "#" * 10)
    ep.set_hint(True)
    feed(ep, "." * 10)
    assert not ep.complete_hint
    feed(ep, "#" * 10)
    assert E.SPEECH_END not in kinds(feed(ep, "." * 10))  # long hangover again


def test_resume_after_pause_clears_the_hint_and_moves_the_end():
    ep = Endpointer(hangover_s=0.6, short_hangover_s=0.2, pause_s=0.1)
    feed(ep, "#" * 10)
    ep.set_hint(True)
    assert kinds(feed(ep, "....")) == [E.PAUSE]
    assert kinds(feed(ep, "##")) == [E.RESUME]
    assert not ep.complete_hint
    assert not ep.paused
    feed(ep, "#" * 4)  # speech now ends at 20 frames
    events = feed(ep, "." * 20)
    assert kinds(events) == [E.PAUSE, E.SPEECH_END]
    assert events[-1].speech_end_s == pytest.approx(20 * DT)
    assert events[-1].latency_s == pytest.approx(0.6)


def test_speech_that_just_resumed_counts_towards_the_end_time():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10 + "." * 5 + "##")  # ends with the two frames that resumed
    events = feed(ep, "." * 20)
    assert events[-1].type == E.SPEECH_END
    assert events[-1].speech_end_s == pytest.approx(17 * DT)


def test_a_blip_in_the_hangover_neither_resumes_nor_delays_the_end():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10)
    events = feed(ep, "." * 8 + "#" + "." * 11)  # the hangover counts the blip as silence
    assert kinds(events) == [E.PAUSE, E.SPEECH_END]
    assert events[-1].speech_end_s == pytest.approx(10 * DT)
    assert events[-1].time_s == pytest.approx(30 * DT)


def test_speech_short_of_the_pause_keeps_the_utterance_going():
    ep = Endpointer(hangover_s=0.6, pause_s=0.1)
    assert kinds(feed(ep, ("#" * 5 + "...") * 10)) == [E.SPEECH_START]
    assert ep.in_speech


def test_max_utterance_length_times_out_then_starts_again():
    ep = Endpointer(max_utterance_s=15.0)
    events = feed(ep, "#" * 500)  # exactly 15 s of speech
    assert kinds(events) == [E.SPEECH_START, E.TIMEOUT]
    assert events[-1].time_s == pytest.approx(15.0)
    assert events[-1].speech_start_s == pytest.approx(0.0)
    assert kinds(feed(ep, "##")) == [E.SPEECH_START]


def test_reset_drops_the_utterance_but_keeps_the_clock():
    ep = Endpointer()
    feed(ep, "#" * 10)
    ep.set_hint(True)
    ep.reset()
    assert not ep.in_speech and not ep.complete_hint
    assert ep.now_s == pytest.approx(10 * DT)
    assert feed(ep, "." * 30) == []
    [start] = feed(ep, "##")
    assert start.speech_start_s == pytest.approx(40 * DT)


def test_reset_forgets_speech_counted_towards_a_start():
    ep = Endpointer()
    feed(ep, "#")
    ep.reset()
    assert feed(ep, "#") == []


def test_flush_ends_an_open_utterance():
    ep = Endpointer()
    assert ep.flush() == []
    feed(ep, "#" * 10 + "..")
    [end] = ep.flush()
    assert end.type == E.SPEECH_END
    assert end.speech_end_s == pytest.approx(10 * DT)
    assert ep.flush() == []


def test_one_long_chunk_can_trigger_pause_and_end_together():
    ep = Endpointer(hangover_s=0.6)
    feed(ep, "#" * 10)
    assert kinds(ep.process(1.0, False)) == [E.PAUSE, E.SPEECH_END]


def test_invalid_configuration_and_chunks_are_refused():
    with pytest.raises(ValueError):
        Endpointer(hangover_s=0.2, short_hangover_s=0.6)
    with pytest.raises(ValueError):
        Endpointer().process(0.0, True)


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("what time is it", True),
        ("what's the weather like today", True),
        ("how are you", True),
        ("set a timer for five minutes", True),
        ("turn off the lights please", True),
        ("tell me a joke", True),
        ("stop", True),
        ("yes", True),
        ("Is it raining?", True),
        ("", False),
        ("   ", False),
        ("what", False),
        ("weather", False),
        ("turn on the", False),
        ("I want to", False),
        ("bread and", False),
        ("what is um", False),
        ("what's the", False),
        ("can you", False),
        ("how do I", False),
        ("could you please", False),
        ("set a timer for five", False),
        ("remind me to call", False),
        ("it's", False),
        ("what\u2019s", False),
    ],
)
def test_looks_complete(text: str, complete: bool):
    assert looks_complete(text) is complete


def test_iter_frames_yields_whole_frames_only():
    samples = np.arange(480 * 3 + 100, dtype=np.int16)
    frames = list(iter_frames(samples))
    assert [len(f) for f in frames] == [480, 480, 480]
    assert frames[1][0] == 480


def test_gated_vad_runs_the_accurate_vad_only_around_flagged_frames() -> None:
    from assistant.speech.vad import GatedVad

    class Scripted:
        frame_samples = 480

        def __init__(self, answers: list[bool]) -> None:
            self.answers, self.calls = answers, 0

        def is_speech(self, frame: np.ndarray) -> bool:
            self.calls += 1
            return self.answers[min(self.calls - 1, len(self.answers) - 1)]

        def reset(self) -> None:
            self.calls = 0

    gate = Scripted([False] * 5 + [True] + [False] * 20)
    primary = Scripted([True] * 30)
    vad = GatedVad(primary, gate, hold_frames=3)
    frame = np.zeros(480, np.int16)
    decisions = [vad.is_speech(frame) for _ in range(26)]
    # Quiet: the accurate VAD never runs. Flagged frame + 3 held frames: it decides.
    assert decisions == [False] * 5 + [True] * 4 + [False] * 17
    assert primary.calls == 4
