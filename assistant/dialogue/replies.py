"""What Parley says for a rule intent. Pure: no side effects.

Storing a note or starting a timer is the dialogue manager's job; this module
only words the answer, from the intent and a `RuleContext` snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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
    "I can tell you the time and the date, set timers, do arithmetic, take notes and "
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


def _time(_intent: Intent, ctx: RuleContext) -> str:
    hour = ctx.now.hour % 12 or 12
    return f"It's {hour}:{ctx.now.minute:02d} {'AM' if ctx.now.hour < 12 else 'PM'}."


def _date(intent: Intent, ctx: RuleContext) -> str:
    part = intent.entities.get("part")
    if part == "year":
        return f"It's {ctx.now.year}."
    if part == "month":
        return f"It's {MONTHS[ctx.now.month - 1]}."
    return f"Today is {_long_date(ctx.now)}."


def _long_date(now: datetime) -> str:
    return f"{WEEKDAYS[now.weekday()]}, {MONTHS[now.month - 1]} {now.day}, {now.year}"


def _day_of_week(intent: Intent, ctx: RuleContext) -> str:
    today = WEEKDAYS[ctx.now.weekday()]
    asked = str(intent.entities.get("day", ""))
    if not asked:
        return f"Today is {today}."
    return f"{'Yes' if asked.lower() == today.lower() else 'No'}, today is {today}."


def _timer(intent: Intent, _ctx: RuleContext) -> str:
    seconds = int(intent.entities.get("seconds", 0))
    if seconds <= 0:
        return "How long should the timer be? Say, for example: set a timer for five minutes."
    duration = format_duration(seconds)
    label = intent.entities.get("label")
    return f"Timer set for {duration}: {label}." if label else f"Timer set for {duration}."


def _calculate(intent: Intent, _ctx: RuleContext) -> str:
    if "error" in intent.entities:
        return str(intent.entities["error"])
    expression = str(intent.entities.get("expression", ""))
    value = intent.entities.get("value")
    if value is None:
        return "I couldn't work that out."
    try:
        words = calculator.describe(expression)
    except ValueError:
        return f"That's {format_number(value)}."
    return f"{words[0].upper()}{words[1:]} is {format_number(value)}."


def _note_add(intent: Intent, _ctx: RuleContext) -> str:
    text = str(intent.entities.get("text", "")).strip()
    return f"Noted: {text}." if text else "What should the note say?"


def _note_list(_intent: Intent, ctx: RuleContext) -> str:
    notes = [n.strip().rstrip(".") for n in ctx.notes if n.strip()]
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
}
