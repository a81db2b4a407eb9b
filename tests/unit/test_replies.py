"""Rule replies: the words Parley speaks for each intent, from a fixed context."""

from __future__ import annotations

from datetime import datetime

import pytest

from assistant.dialogue.intents import Intent, IntentName, parse
from assistant.dialogue.replies import HELP_TEXT, RuleContext, rule_reply

N = IntentName
WED = datetime(2026, 11, 25, 15, 42)  # a Wednesday afternoon


def reply(text: str, **ctx: object) -> str:
    intent = parse(text)
    assert intent is not None, text
    return rule_reply(intent, RuleContext(now=ctx.pop("now", WED), **ctx))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("now", "spoken"),
    [
        (datetime(2026, 11, 25, 15, 42), "It's 3:42 PM."),
        (datetime(2026, 11, 25, 0, 5), "It's 12:05 AM."),
        (datetime(2026, 11, 25, 12, 0), "It's 12:00 PM."),
        (datetime(2026, 11, 25, 9, 7), "It's 9:07 AM."),
    ],
)
def test_time(now: datetime, spoken: str) -> None:
    assert reply("what time is it", now=now) == spoken


def test_date_and_day() -> None:
    assert reply("what's the date") == "Today is Wednesday, November 25, 2026."
    assert reply("what year is it") == "It's 2026."
    assert reply("what month is it") == "It's November."
    assert reply("what day is it") == "Today is Wednesday."
    assert reply("is it wednesday") == "Yes, today is Wednesday."
    assert reply("is today friday") == "No, today is Wednesday."


def test_timer() -> None:
    assert reply("set a timer for five minutes") == "Timer set for 5 minutes."
    assert reply("set a timer for an hour and a half") == "Timer set for 1 hour and 30 minutes."
    assert reply("set a timer for 5 minutes for the pasta") == "Timer set for 5 minutes: pasta."
    assert reply("set a timer").startswith("How long should the timer be?")


def test_calculation() -> None:
    assert reply("what is twelve times seven") == "12 times 7 is 84."
    assert reply("fifteen percent of eighty") == "15 percent of 80 is 12."
    assert reply("square root of one hundred forty four") == "The square root of 144 is 12."
    assert reply("one divided by three") == "1 divided by 3 is 0.33."
    assert reply("7 divided by 2") == "7 divided by 2 is 3.5."
    assert reply("what is seven divided by zero") == "I can't divide by zero."


def test_notes() -> None:
    assert reply("take a note buy milk") == "Noted: buy milk."
    assert reply("read my notes") == "You have no notes yet."
    assert reply("read my notes", notes=["buy milk."]) == "You have one note: buy milk."
    assert (
        reply("read my notes", notes=["buy milk", "call Bob"])
        == "You have 2 notes: buy milk; and call Bob."
    )
    many = [f"note {i}" for i in range(1, 8)]
    assert reply("read my notes", notes=many) == (
        "You have 7 notes. The latest 5 are: note 3; note 4; note 5; note 6; and note 7."
    )


def test_control_and_small_talk() -> None:
    assert reply("stop") == "Okay."
    assert reply("say that again", last_reply="It's 3:42 PM.") == "It's 3:42 PM."
    assert reply("say that again") == "I haven't said anything yet."
    assert reply("what can you do") == HELP_TEXT
    assert reply("hello") == "Hello! How can I help?"
    assert reply("good morning how are you") == (
        "Good morning! I'm doing well, thanks. How can I help?"
    )
    assert reply("thanks") == "You're welcome."
    assert reply("bye") == "Goodbye!"


def test_every_intent_has_a_non_empty_reply() -> None:
    ctx = RuleContext(now=WED)
    for name in IntentName:
        text = rule_reply(Intent(name, 1.0, {}), ctx)
        assert text and text[0].isupper() and text[-1] in ".!?", (name, text)


def test_replies_are_pure() -> None:
    ctx = RuleContext(now=WED, last_reply="x", notes=["a"])
    intent = parse("take a note buy milk")
    assert intent is not None
    assert rule_reply(intent, ctx) == rule_reply(intent, ctx)
    assert ctx.notes == ["a"] and ctx.last_reply == "x"
