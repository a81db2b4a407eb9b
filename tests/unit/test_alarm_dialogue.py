"""Alarms and cancelling through the real dialogue manager, timer store and
rule parser (no LLM): labels come only from what was said, a timer is
cancelled by its time, label, length or place in the list, and the answer
to "Which one should I cancel?" is understood. Also confirmations: a typed
request waits longer, and a late yes is told the question expired."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.dialogue.builtin_tools import grounded_args, matching_timers
from assistant.dialogue.history import History
from assistant.dialogue.intents import parse_choice, parse_clock_words
from assistant.dialogue.manager import DialogueManager
from assistant.dialogue.notes import NoteStore
from assistant.dialogue.timers import Timer, TimerScheduler, TimerStore
from assistant.dialogue.turn_end import judge_turn
from assistant.events import Event, ToolRequest

MORNING = datetime(2026, 3, 4, 6, 10)  # a Wednesday, 6:10 AM local


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[tuple[DialogueManager, list[Event]]]:
    history = History(tmp_path / "history.sqlite3")
    events: list[Event] = []
    # The store's clock is the same fixed morning: nothing falls due meanwhile.
    store = TimerStore(tmp_path / "timers.sqlite3", clock=MORNING.timestamp)
    m = DialogueManager(
        replace(Settings(), use_llm=False),
        sink=events.append,
        history=history,
        llm=None,
        notes=NoteStore(history),
        now=lambda: MORNING,
        timers=TimerScheduler(store, lambda _timer, _missed: None),
    )
    m.open_conversation(new=True)
    yield m, events
    m.close()
    history.close()


def pending(m: DialogueManager) -> list[Timer]:
    assert m.timers is not None
    return m.timers.store.pending()


def test_alarm_reply_names_only_what_was_said(manager) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    assert m.handle("please set an alarm for six in the morning").reply == (
        "Alarm set for 6:00 AM tomorrow."
    )
    assert m.handle("get me up at 8:20 tomorrow").reply == "Alarm set for 8:20 AM tomorrow."
    assert m.handle("alarm at a quarter past seven").reply == "Alarm set for 7:15 AM today."
    assert m.handle("set my alarm for 5:30 pm for yoga").reply == (
        "Alarm set for 5:30 PM today: yoga."
    )
    assert sorted(t.label for t in pending(m)) == ["", "", "", "yoga"]
    due = {datetime.fromtimestamp(t.due_at).strftime("%d %H:%M") for t in pending(m)}
    assert due == {"05 06:00", "05 08:20", "04 07:15", "04 17:30"}


def test_an_alarm_at_a_bare_hour_is_set_not_asked_about(manager) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    # "for nine" reads like "a timer for nine ..." (nine what?) but an alarm's
    # number is a time: no "For how long?".
    assert m.handle("set an alarm for nine").reply == "Alarm set for 9:00 AM today."
    verdict = judge_turn("could you set an alarm for eight")
    assert not verdict.asks  # waited for ("eight thirty"?), then answered as it stands


def test_cancel_by_time_label_and_length(manager) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    m.handle("wake me at 6:45")
    m.handle("set an alarm for 9 pm")
    m.handle("set a timer for 3 minutes for the eggs")
    m.handle("set a timer for 12 minutes")
    assert m.handle("switch off the six forty five alarm").reply == (
        "Cancelled the alarm at 6:45 AM."
    )
    assert m.handle("stop the egg timer").reply.startswith("Cancelled the eggs timer")
    assert m.handle("kill the twelve minute timer").reply.startswith(
        "Cancelled the 12 minute timer"
    )
    assert m.handle("cancel the 10 pm alarm").reply == "There is no alarm at 10:00 PM to cancel."
    assert [t.kind for t in pending(m)] == ["alarm"]


def test_the_answer_to_which_one_is_understood(manager) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    m.handle("set a timer for 4 minutes for the soup")
    m.handle("set a timer for 9 minutes for the rice")
    m.handle("set a timer for 20 minutes")
    asked = m.handle("cancel the timer")
    assert asked.reply.endswith("Which one should I cancel?")
    r = m.handle("the rice one")
    assert r.reply.startswith("Cancelled the rice timer"), r.reply
    m.handle("cancel a timer")
    assert m.handle("the last one").reply.startswith("Cancelled the 20 minute timer")
    assert [t.label for t in pending(m)] == ["soup"]


def test_answer_by_clock_time_and_a_bare_label(manager) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    m.handle("set an alarm for 6:30 pm")
    m.handle("set an alarm for 11 pm for the dishwasher")
    assert "Which one" in m.handle("cancel my alarm").reply
    assert m.handle("the six thirty one").reply == "Cancelled the alarm at 6:30 PM."
    m.handle("set an alarm for 8 pm")
    assert "Which one" in m.handle("delete the alarm").reply
    assert m.handle("dishwasher").reply == "Cancelled the dishwasher alarm at 11:00 PM."


def test_something_else_after_which_one_is_its_own_turn(manager) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    m.handle("set a timer for 2 minutes")
    m.handle("set a timer for 5 minutes")
    assert "Which one" in m.handle("cancel the timer").reply
    assert m.handle("what time is it").reply == "It's 6:10 AM."
    # The question is not open any more: an ordinal now means nothing to cancel.
    assert not m.handle("the first one").reply.startswith("Cancelled")
    assert len(pending(m)) == 2


def test_typed_request_waits_longer_than_a_spoken_one(manager) -> None:  # type: ignore[no-untyped-def]
    m, events = manager
    m.settings = replace(m.settings, confirm_timeout_s=15.0, typed_confirm_timeout_s=300.0)
    m.handle("take a note call the plumber")
    m.handle("delete the note call the plumber", typed=True)
    m.handle("no")
    m.handle("delete the note call the plumber")
    timeouts = [e.timeout_s for e in events if isinstance(e, ToolRequest)]
    assert timeouts == [300.0, 15.0]


def test_a_late_yes_is_told_the_question_expired(manager) -> None:  # type: ignore[no-untyped-def]
    m, events = manager
    m.handle("take a note water the plants")
    m.handle("delete the note water the plants", typed=True)
    request = m.pending_request
    assert request is not None
    m.confirmations.expire(request.request_id)  # what the timeout's timer thread does
    r = m.handle("yes")
    assert r.reply.startswith("That question has expired")
    assert "delete the note 'water the plants'" in r.reply
    assert m.notes is not None and [t for _i, t, _c in m.notes.list()] == ["water the plants"]
    # Only the next turn is told: a later yes is an ordinary turn.
    assert not m.handle("yes").reply.startswith("That question has expired")


# --- the pieces ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "clock"),
    [
        ("7 am", (7, 0)), ("7 30", (7, 30)), ("7.05 pm", (19, 5)), ("12 am", (0, 0)),
        ("half past 10", (10, 30)), ("20 to 6 pm", (17, 40)), ("8 in the evening", (20, 0)),
        ("noon", (12, 0)), ("midnight", (0, 0)), ("9 o'clock", (9, 0)), ("6 oh 5", (6, 5)),
        ("13 pm", None), ("25 00", None), ("7 80", None), ("pasta", None),
    ],
)
def test_clock_words(words: str, clock: tuple[int, int] | None) -> None:
    assert parse_clock_words(words) == clock


@pytest.mark.parametrize(
    ("answer", "choice"),
    [
        ("the third one", {"ordinal": 3}),
        ("um the last one please", {"ordinal": -1}),
        ("the one at eight", {"time": "8:00"}),  # AM or PM: whichever is set
        ("the 8 pm one", {"time": "20:00"}),
        ("the five minute one", {"seconds": 300}),
        ("the bread one", {"label": "bread"}),
        ("both of them", {"all": True}),
        ("number 2", {"ordinal": 2}),
        ("the one for the stew", {"label": "stew"}),
        ("the 6:30", {"time": "6:30"}),
        ("the alarm", {"kind": "alarm"}),
        ("what is the weather like", None),
        ("set a timer for five minutes and tell me a joke", None),
    ],
)
def test_choice_words(answer: str, choice: dict | None) -> None:
    assert parse_choice(answer) == choice


def test_a_models_label_is_kept_only_when_said() -> None:
    said = "set an alarm for 7 am"
    assert grounded_args({"time": "7:00", "label": "Alarm for 10 am"}, said) == {"time": "7:00"}
    assert grounded_args({"time": "7:00", "label": "Alarm"}, said) == {"time": "7:00"}
    assert grounded_args({"time": "7:30", "label": "Settle your alarm"}, said) == {"time": "7:30"}
    kept = {"seconds": 300, "label": "tea"}
    assert grounded_args(kept, "a five minute timer for my tea") == kept


def test_matching_timers_reads_every_key() -> None:
    t = [
        Timer(1, "timer", "tea", 300, 1000.0, 0.0, "pending"),
        Timer(2, "alarm", "", 0, datetime(2026, 3, 4, 7, 0).timestamp(), 0.0, "pending"),
        Timer(3, "timer", "", 600, 2000.0, 0.0, "pending"),
    ]
    assert [x.id for x in matching_timers(t, {})] == [1, 2, 3]
    assert [x.id for x in matching_timers(t, {"kind": "timer", "ordinal": -1})] == [3]
    assert [x.id for x in matching_timers(t, {"time": "07:00"})] == [2]
    assert [x.id for x in matching_timers(t, {"seconds": 600})] == [3]
    assert [x.id for x in matching_timers(t, {"label": "tea"})] == [1]
    assert matching_timers(t, {"ordinal": 4}) == []


@pytest.mark.parametrize(
    "said", ["set an alarm for 26:00", "set my alarm for 14 pm", "alarm at 6:75"]
)
def test_an_alarm_at_no_time_of_day_is_told_so(manager, said: str) -> None:  # type: ignore[no-untyped-def]
    m, _ = manager
    r = m.handle(said)
    assert r.reply.endswith("is not a time of day; say it like 7:30 or 7:30 pm."), r.reply
    assert pending(m) == []
