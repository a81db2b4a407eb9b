"""Calendar questions are answered from the clock whatever their wording, and
questions that only mention a calendar word are left to the model."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.dialogue import intents
from assistant.dialogue.intents import RULE_CONFIDENCE
from assistant.dialogue.replies import RuleContext, rule_reply

# A Friday, so tomorrow is a weekend day and yesterday a weekday.
NOW = datetime(2031, 3, 14, 9, 30, tzinfo=timezone(timedelta(hours=1), "CET"))


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("which day will it be tomorrow", "Tomorrow is Saturday."),
        ("what day was yesterday", "Yesterday was Thursday."),
        ("what's the date today please", "Today is Friday, March 14, 2031."),
        ("what was the date yesterday", "Yesterday was Thursday, March 13, 2031."),
        ("which date will it be tomorrow", "Tomorrow is Saturday, March 15, 2031."),
        ("what month is it right now", "It's March."),
        ("which year is it currently", "It's 2031."),
        ("what year are we in", "It's 2031."),
        ("which timezone is this", "Your time zone is CET."),
        ("what time zone are we in", "Your time zone is CET."),
        ("will tomorrow be a weekday", "Tomorrow is Saturday, the weekend."),
        ("is it a workday today", "Today is Friday, a weekday."),
        ("was yesterday a weekend or a weekday", "Yesterday was Thursday, a weekday."),
        ("what weekday is tomorrow", "Tomorrow is Saturday."),
        ("what was it yesterday", "Yesterday was Thursday, March 13, 2031."),
        ("tomorrow is what", "Tomorrow is Saturday, March 15, 2031."),
        ("what is it today then", "Today is Friday, March 14, 2031."),
    ],
)
def test_a_calendar_question_is_answered_from_the_clock(question: str, answer: str) -> None:
    intent = intents.parse(question)
    assert intent is not None and intent.confidence >= RULE_CONFIDENCE, question
    assert rule_reply(intent, RuleContext(NOW)) == answer


@pytest.mark.parametrize(
    "question",
    [
        "what year did the first moon landing happen",
        "which month has the most rain",
        "what day of the week was i born on",
        "what year was the eiffel tower built",
        "is it true that a day on venus is longer than its year",
        "what date is easter next year",
        "what is the longest day of the year",
        "what is it about today's weather",
        "what is today's special",
    ],
)
def test_a_question_that_only_mentions_the_calendar_goes_to_the_model(question: str) -> None:
    intent = intents.parse(question)
    assert intent is None or intent.confidence < RULE_CONFIDENCE, (question, intent)
