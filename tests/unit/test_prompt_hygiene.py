"""Prompt building (llm/prompt.py) and the answer bench's checks (bench/answers.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from assistant.bench.answers import check, few_shot_marks, find_leaks, load_cases, rule_facts
from assistant.llm.prompt import (
    BASE_POLICY,
    INSTRUCT_POLICY,
    conversation_view,
    fact_line,
    turn_messages,
    with_facts,
    written,
)
from assistant.llm.templates import BASE_MODEL_EXAMPLES, Message, PlainFormat

NOW = datetime(2026, 12, 4, 21, 5, tzinfo=UTC)
CONVO = [
    Message("user", "what time is it"),
    Message("assistant", "It's 9:05 PM.", "rule"),
    Message("user", "what is the capital of France"),
    Message("assistant", "Paris."),
    Message("user", "what is 6 times 7"),
    Message("assistant", "6 times 7 is 42.", "rule"),
    Message("user", "say something about the sea"),
]


def test_base_models_never_see_rule_exchanges() -> None:
    view = conversation_view(CONVO, BASE_POLICY)
    text = PlainFormat().render(view)
    assert "9:05" not in text and "42" not in text and "time is it" not in text
    assert "Paris." in text and text.endswith("User: Say something about the sea.\nParley:")


def test_instruct_models_see_rule_replies_marked_done() -> None:
    view = conversation_view(CONVO, INSTRUCT_POLICY)
    assert view[1].content.startswith("(Done:") and view[0].content == "What time is it?"
    assert [m.role for m in view] == ["user", "assistant"] * 3 + ["user"]


def test_fact_line_follows_only_the_newest_user_message() -> None:
    turn = [*CONVO[:-1], Message("user", "what day is it tomorrow")]
    msgs = turn_messages(turn, NOW, base_model=True)
    assert msgs[-1].content.endswith(fact_line(NOW))
    assert "Friday, 4 December 2026, 9:05 PM, time zone UTC" in fact_line(NOW)
    assert sum(fact_line(NOW) in m.content for m in msgs) == 1
    # A base model gets it only when the clock is asked about: nothing to copy otherwise.
    assert fact_line(NOW) not in turn_messages(CONVO, NOW, base_model=True)[-1].content
    assert fact_line(NOW) in with_facts(CONVO, NOW, INSTRUCT_POLICY)[-1].content


def test_prefix_of_the_next_turn_is_unchanged_up_to_the_last_exchange() -> None:
    fmt = PlainFormat()
    turn1 = turn_messages(CONVO, NOW, base_model=True)
    convo2 = [*CONVO, Message("assistant", "The sea is wide."), Message("user", "and the sky")]
    turn2 = turn_messages(convo2, NOW, base_model=True)
    assert fmt.render(turn2).startswith(fmt.render(turn1))


def test_transcripts_are_written_as_sentences() -> None:
    assert written("who wrote hamlet") == "Who wrote hamlet?"
    assert written("and germany") == "And germany?"
    assert written("tell me a story") == "Tell me a story."
    assert written("Done!") == "Done!"
    assert written("") == ""


def test_bench_leak_check_finds_copies_of_the_header() -> None:
    example = [Message("user", "Name my cat."), Message("assistant", "How about Mochi?")]
    marks = few_shot_marks([Message("system", "You are Parley."), *example])
    assert "Mochi" in marks
    assert find_leaks("Mochi is a good name.", "name my dog", marks) == ["Mochi"]
    assert find_leaks("It's called Mochi.", "my tortoise is Mochi", marks) == []
    assert find_leaks("Sure.\nUser: hi", "hi", marks) == ["User:"]
    assert find_leaks("<end_of_turn>", "hi", marks) == ["<end_of_turn>"]
    real = few_shot_marks([Message("system", "You are Parley."), *BASE_MODEL_EXAMPLES])
    assert real  # the shipped examples give the bench something to look for
    refusal = next(m.content for m in BASE_MODEL_EXAMPLES if m.content.startswith("I can"))
    # Copied into a joke it is a leak; as the answer to a request no tool can do
    # (the false-claims cases) it is the right answer.
    assert find_leaks(refusal, "tell me a joke about owls", real)
    apt = few_shot_marks([Message("system", "You are Parley."), *BASE_MODEL_EXAMPLES],
                         refusals=False)  # fmt: skip
    assert find_leaks(refusal, "turn off the lights", apt) == []


def test_bench_contamination_and_grounding_checks() -> None:
    cases = {c.category: c for c in load_cases()}
    assert len(load_cases()) >= 60
    facts = rule_facts(["It's 9:05 PM.", "6 times 7 is 42."])
    assert {"42", "9:05"} <= facts
    probe = cases["contamination"]
    ok, why = check(probe, ["", "The sea is 42 miles wide."], ["6 times 7 is 42."], NOW,
                    False, False)  # fmt: skip
    assert not ok and "42" in why
    ground = next(c for c in load_cases() if c.clock == ("tomorrow",))
    assert check(ground, ["Tomorrow is Saturday."], [], NOW, False, False)[0]
    assert not check(ground, ["Tomorrow is Monday."], [], NOW, False, False)[0]
