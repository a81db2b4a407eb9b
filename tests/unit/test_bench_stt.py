"""`parley bench stt`'s scoring (assistant/bench/stt.py): the intent Parley
acts on, intent accuracy before and after the command bias, and false
conversions, on hand-made transcripts and the real command bias."""

from __future__ import annotations

from assistant.bench import stt
from assistant.speech.command_bias import CommandBias


def test_acted_intent_ignores_case_and_punctuation_and_sends_the_rest_to_the_llm() -> None:
    assert stt.acted_intent("Set a timer for ten minutes.") == stt.acted_intent(
        "set a timer for ten minutes"
    )
    assert stt.acted_intent("set a timer for ten minutes") != stt.acted_intent(
        "set a timer for two minutes"
    )
    assert stt.acted_intent("who wrote hamlet") == stt.LLM


def test_score_counts_intents_fixed_by_the_bias_and_false_conversions() -> None:
    refs = ["what is seven plus five", "set a timer for ten minutes", "who wrote hamlet"]
    heard = ["what is seven class five", "set a timer for ten minutes", "who wrote hamlet"]
    score = stt.score_voice("joe", refs, heard, CommandBias().correct)
    assert score.clips == 3
    assert score.intent_accuracy == 2 / 3  # "class" is no operator
    assert score.intent_accuracy_biased == 1.0  # the bias reads "plus"
    assert score.wer > 0 and score.wer_biased == 0
    assert score.false_conversions == 0 and score.misses == []


def test_a_bias_that_forces_commands_is_caught() -> None:
    refs = ["tell me about the moon"]
    score = stt.score_voice("joe", refs, refs, lambda _t: "what time is it")
    assert score.false_conversions == 1
    assert score.misses == [(refs[0], refs[0], "what time is it")]


def test_the_command_list_is_read_without_comments() -> None:
    lines = stt.commands()
    assert len(lines) > 40
    assert not any(line.startswith("#") or not line.strip() for line in lines)
    assert sum(stt.acted_intent(line) != stt.LLM for line in lines) > len(lines) // 2


def test_the_table_reports_the_grammar_pass_here_and_through_the_worker() -> None:
    score = stt.VoiceScore("awb", 46, 0.3, 0.2, 0.5, 0.8, 0)
    score.second_pass_ms = [150.0, 220.0, 160.0]
    score.worker_final_ms, score.worker_same = [170.0, 240.0, 180.0], 3
    out = stt.table([stt.EngineReport("moonshine", voices=[score])])
    assert "grammar pass on 3 near-miss(es): median 160 ms, max 220 ms" in out
    assert "through the worker: final after the endpoint median 180 ms, max 240 ms" in out
    assert "the same reading as here 3/3" in out
