"""The turn-gap bench's summary: figures computed from the measured turns."""

from __future__ import annotations

from assistant.bench.turn_gap import TurnGap, TurnGapReport


def report() -> TurnGapReport:
    turns = [
        TurnGap("what time is it", "rule", 300.0, "rule", "what time is it",
                {"endpoint": 150.0, "first_sample": 260.0}),
        TurnGap("what is seven plus five", "rule", 700.0, "llm", "what is said and plus five",
                {"endpoint": 210.0, "first_sample": 650.0}),
        TurnGap("what is twelve times seven", "rule", 320.0, "rule", "what is twelve times seven",
                {"endpoint": 150.0, "first_sample": 290.0}),
        TurnGap("name a famous painter", "llm", 500.0, "llm", "name a famous painter",
                {"endpoint": 210.0, "first_sample": 460.0}, ahead_tokens=2),
        TurnGap("why is the sky blue", "llm", float("nan"), "", "", {}),
    ]  # fmt: skip
    return TurnGapReport(turns, startup_ms=2000.0, idle_cpu_percent=2.0, idle_seconds=30.0)


def test_rule_turns_answered_by_rule_are_reported_apart() -> None:
    s = report().summary()
    assert s["rule_n"] == 3 and s["rule_p50_ms"] == 320.0
    assert s["rule_answered_by_rule_n"] == 2
    assert s["rule_answered_by_rule_p50_ms"] == 310.0


def test_unclocked_time_is_the_gap_the_stages_do_not_cover() -> None:
    s = report().summary()
    # 40, 50, 30, 40 ms: the turn with no measurement is left out.
    assert s["unclocked_p50_ms"] == 40.0


def test_table_names_every_figure() -> None:
    table = report().table()
    assert "answered by rule (heard right): n=2, gap p50 310.0 ms" in table
    assert "p50: 40.0 ms" in table
    assert "1 of 1" in table  # the unanswered LLM question is not a reply


def test_hesitant_requests_count_cut_offs_and_whole_turns() -> None:
    import json

    fluent = report().turns
    hesitant = [
        # answered 300 ms after the true end, one turn holding the words after the pause
        TurnGap("set a timer ... for ten minutes", "rule", 300.0, "rule",
                "set a timer for ten minutes", {}, pause_s=0.5, after="for ten minutes"),
        # a reply sound 400 ms before the end: a cut-off, though taken back
        TurnGap("what is nine ... plus four", "rule", -400.0, "rule", "what is nine plus four",
                {}, pause_s=0.45, after="plus four", retracted=1),
        # the fragment was answered and stood: two turns, not whole
        TurnGap("tell me something ... about owls", "llm", 900.0, "llm", "about owls", {},
                pause_s=0.6, after="about owls", turns=2),
    ]  # fmt: skip
    r = TurnGapReport(fluent + hesitant, 2000.0, 2.0, 30.0)
    s = r.summary()
    assert s["hesitant_n"] == 3
    assert s["hesitant_cut_offs"] == 2
    assert s["hesitant_whole"] == 2  # the cut-off one was still heard whole
    assert s["hesitant_taken_back"] == 1
    assert s["rule_n"] == 3  # the fluent figures leave the hesitant set out
    json.dumps(r.to_dict())  # numpy values would not serialise
    assert "cut-offs 2 (goal 0), heard whole 2 (goal 3)" in r.table()


def test_the_speakers_output_latency_is_read_from_parleys_log(tmp_path) -> None:
    from assistant.bench.turn_gap import output_latency_ms

    assert output_latency_ms(tmp_path) is None  # never opened
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "parley.log").write_text(
        "2026-12-04 18:44:14,360 INFO assistant.audio.playback: speaker pulse at 44100 Hz, "
        "1 ch, latency 40 ms\n"
        "2026-12-04 18:46:01,773 INFO assistant.audio.playback: speaker pulse at 44100 Hz, "
        "1 ch, latency 20 ms\n"
    )
    assert output_latency_ms(tmp_path) == 20.0  # the stream the replies were played on
    r = TurnGapReport([], 2000.0, 2.0, 30.0, output_latency_ms(tmp_path))
    assert r.summary()["output_latency_ms"] == 20.0
    assert "speaker output latency       20.0 ms" in r.table()
