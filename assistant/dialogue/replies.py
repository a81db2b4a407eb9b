"""What Parley says for a rule intent. Pure: no side effects.

Storing a note or starting a timer is the dialogue manager's job; this module
only words the answer, from the intent and a `RuleContext` snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from assistant.dialogue import calculator
from assistant.dialogue.intents import Intent, IntentName
from assistant.dialogue.numbers import format_duration, format_number

# English names on purpose: strftime's %A / %B follow the process locale.
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
MAX_NOTES_READ = 5
"""Reading more notes than this aloud is a monologue: the newest ones are read."""

HELP_TEXT = (
    "I can tell you the time and the date, set timers and alarms, do arithmetic, take notes and "
    "read them back, and repeat what I said. With a language model loaded I can also "
    "answer questions and chat. Say stop to interrupt me."
)


@dataclass
class RuleContext:
    now: datetime
    """The local time the answer is about."""
    last_reply: str = ""
    """What Parley said last, for "repeat"."""
    notes: list[str] = field(default_factory=list)
    """The user's notes, oldest first (including one this turn just added)."""


def rule_reply(intent: Intent, ctx: RuleContext) -> str:
    """The spoken answer to `intent`."""
    return _REPLIES[intent.name](intent, ctx)


def clock_time(now: datetime) -> str:
    """"3:05 PM": the time as people say it."""
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"


def time_text(now: datetime) -> str:
    return f"It's {clock_time(now)}."


def _time(_intent: Intent, ctx: RuleContext) -> str:
    return time_text(ctx.now)


_DAY_NAMES = {-1: ("Yesterday", "was"), 0: ("Today", "is"), 1: ("Tomorrow", "is")}


def _date(intent: Intent, ctx: RuleContext) -> str:
    part = intent.entities.get("part")
    offset = int(intent.entities.get("offset", 0))
    day = ctx.now + timedelta(days=offset)
    if part == "zone":
        local = ctx.now if ctx.now.tzinfo is not None else ctx.now.astimezone()
        return f"Your time zone is {local.tzname() or 'the local time'}."
    if part == "year":
        return f"It's {day.year}."
    if part == "month":
        return f"It's {MONTHS[day.month - 1]}."
    name, verb = _DAY_NAMES.get(offset, _DAY_NAMES[0])
    return f"{name} {verb} {_long_date(day)}."


def _long_date(now: datetime) -> str:
    return f"{WEEKDAYS[now.weekday()]}, {MONTHS[now.month - 1]} {now.day}, {now.year}"


def _day_of_week(intent: Intent, ctx: RuleContext) -> str:
    offset = int(intent.entities.get("offset", 0))
    if offset or intent.entities.get("part") == "weekend":
        name, verb = _DAY_NAMES.get(offset, _DAY_NAMES[0])
        day = WEEKDAYS[(ctx.now + timedelta(days=offset)).weekday()]
        if intent.entities.get("part") != "weekend":
            return f"{name} {verb} {day}."
        weekend = day in ("Saturday", "Sunday")
        return f"{name} {verb} {day}, {'the weekend' if weekend else 'a weekday'}."
    today = WEEKDAYS[ctx.now.weekday()]
    asked = str(intent.entities.get("day", ""))
    if not asked:
        return f"Today is {today}."
    return f"{'Yes' if asked.lower() == today.lower() else 'No'}, today is {today}."


def timer_set_text(seconds: int, label: str = "") -> str:
    duration = format_duration(seconds)
    return f"Timer set for {duration}: {label}." if label else f"Timer set for {duration}."


def _timer(intent: Intent, _ctx: RuleContext) -> str:
    seconds = int(intent.entities.get("seconds", 0))
    if seconds <= 0:
        return "How long should the timer be? Say, for example: set a timer for five minutes."
    return timer_set_text(seconds, str(intent.entities.get("label") or ""))


def _calculate(intent: Intent, _ctx: RuleContext) -> str:
    if "error" in intent.entities:
        return str(intent.entities["error"])
    value = intent.entities.get("value")
    if value is None:
        return "I couldn't work that out."
    return sum_text(str(intent.entities.get("expression", "")), value)


def sum_text(expression: str, value: float) -> str:
    try:
        words = calculator.describe(expression)
    except ValueError:
        return f"That's {format_number(value)}."
    return f"{words[0].upper()}{words[1:]} is {format_number(value)}."


def _note_add(intent: Intent, _ctx: RuleContext) -> str:
    text = str(intent.entities.get("text", "")).strip()
    return f"Noted: {text}." if text else "What should the note say?"


def _note_list(_intent: Intent, ctx: RuleContext) -> str:
    return notes_text(ctx.notes)


def notes_text(all_notes: list[str]) -> str:
    """The notes read aloud: all of them, or the latest MAX_NOTES_READ."""
    notes = [n.strip().rstrip(".") for n in all_notes if n.strip()]
    if not notes:
        return "You have no notes yet."
    if len(notes) == 1:
        return f"You have one note: {notes[0]}."
    shown = notes[-MAX_NOTES_READ:]
    head = f"You have {len(notes)} notes"
    if len(notes) > len(shown):
        head += f". The latest {len(shown)} are"
    return f"{head}: {'; '.join(shown[:-1])}; and {shown[-1]}."


def _repeat(_intent: Intent, ctx: RuleContext) -> str:
    return ctx.last_reply or "I haven't said anything yet."


def _greeting(intent: Intent, _ctx: RuleContext) -> str:
    greeting = str(intent.entities.get("greeting", ""))
    opener = f"{greeting.capitalize()}!" if greeting.startswith("good ") else "Hello!"
    if intent.entities.get("how_are_you"):
        return f"{opener} I'm doing well, thanks. How can I help?"
    return f"{opener} How can I help?"


_REPLIES = {
    IntentName.TIME: _time,
    IntentName.DATE: _date,
    IntentName.DAY_OF_WEEK: _day_of_week,
    IntentName.TIMER: _timer,
    IntentName.CALCULATE: _calculate,
    IntentName.NOTE_ADD: _note_add,
    IntentName.NOTE_LIST: _note_list,
    IntentName.STOP: lambda _i, _c: "Okay.",
    IntentName.REPEAT: _repeat,
    IntentName.HELP: lambda _i, _c: HELP_TEXT,
    IntentName.GREETING: _greeting,
    IntentName.THANKS: lambda _i, _c: "You're welcome.",
    IntentName.GOODBYE: lambda _i, _c: "Goodbye!",
    # Answered by tools; these words are only heard when the tool is missing.
    IntentName.NOTE_DELETE: lambda _i, _c: "I can't delete notes right now.",
    IntentName.NOTE_CLEAR: lambda _i, _c: "I can't delete notes right now.",
    IntentName.TIMER_LIST: lambda _i, _c: "I can't read your timers right now.",
    IntentName.TIMER_CANCEL: lambda _i, _c: "I can't cancel timers right now.",
    IntentName.ALARM: lambda i, _c: str(i.entities.get("error") or "I can't set alarms right now."),
    IntentName.OPEN: lambda _i, _c: "I can't open things right now.",
}
