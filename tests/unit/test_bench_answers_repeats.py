"""`parley bench answers` counts replies that say a run of words twice (what
a repeat penalty acts on) and names the sampling it ran with."""

from __future__ import annotations

from assistant.bench.answers import CaseResult, _report, repeated_run


def test_a_run_said_twice_is_found() -> None:
    assert repeated_run("I can help you. I can help you with that.") == "i can help you"
    assert repeated_run("Once upon a time a fox met a crow; the fox was hungry.") == ""
    assert repeated_run("no no no no no no no no") == "no no no no"
    assert repeated_run("ha ha ha ha ha") == ""  # overlapping: said once and a bit


def test_the_report_counts_cases_with_repeats_and_names_the_sampling() -> None:
    cases = [
        CaseResult("length", ["tell me a story"], ["A fox. A fox ran. A fox. A fox ran."], True,
                   repeats=["a fox a fox"]),
        CaseResult("facts", ["capital of Japan"], ["Tokyo."], True),
    ]  # fmt: skip
    report = _report("m.gguf", "plain", 1.0, cases)
    report.temperature, report.repeat_penalty, report.seed = 0.5, 1.1, 3
    assert report.repeats == 1
    table = report.table()
    assert "temperature 0.5, repeat penalty 1.1, seed 3" in table
    assert "repeats               1" in table
