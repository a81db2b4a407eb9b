"""Parley's built-in tools: time, timers and alarms, sums, notes, a web page,
an application, an email draft.

`builtin_registry(env)` builds them around a `ToolEnv` (the stores and the
functions that reach outside), so tests swap the clock or the browser and the
rules and the LLM share one set of tools.
"""

from __future__ import annotations

import re
import urllib.parse
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from assistant.dialogue import apps as apps_mod
from assistant.dialogue import calculator, intents
from assistant.dialogue.history import HistoryError
from assistant.dialogue.notes import NoteStore
from assistant.dialogue.numbers import format_duration, format_number
from assistant.dialogue.replies import (
    MONTHS,
    WEEKDAYS,
    clock_time,
    notes_text,
    sum_text,
    time_text,
    timer_set_text,
)
from assistant.dialogue.timers import Timer, TimerScheduler
from assistant.dialogue.tools import Plan, Registry, Tool, ToolError, ToolOutcome

MAX_TIMER_S = intents.MAX_TIMER_SECONDS
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+")


@dataclass
class ToolEnv:
    """What the tools work on. None = that tool says it is unavailable."""

    notes: NoteStore | None = None
    timers: TimerScheduler | None = None
    now: Callable[[], datetime] = datetime.now
    open_url: Callable[[str], bool] = field(default=webbrowser.open)
    """Opens a URL (http(s) or mailto) the platform's way; False when nothing could."""
    apps: Callable[[], list[apps_mod.App]] = apps_mod.installed_apps
    launch: Callable[[apps_mod.App], None] = apps_mod.launch


def _obj(props: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": props or {}, "required": list(required)}


def _str(desc: str, max_len: int, min_len: int = 1) -> dict[str, Any]:
    return {"type": "string", "description": desc, "minLength": min_len, "maxLength": max_len}


def builtin_registry(env: ToolEnv) -> Registry:
    return Registry(
        [
            _get_time(env),
            *_timer_tools(env),
            _calculate(),
            *_note_tools(env),
            _open_url(env),
            _open_app(env),
            _draft_email(env),
        ]
    )


# --- time -------------------------------------------------------------------------


def _get_time(env: ToolEnv) -> Tool:
    def run(_args: dict[str, Any]) -> ToolOutcome:
        now = env.now()
        day = f"{WEEKDAYS[now.weekday()]}, {MONTHS[now.month - 1]} {now.day}, {now.year}"
        return ToolOutcome(time_text(now), {"now": now.isoformat(timespec="seconds"), "date": day})

    return Tool(
        "get_time",
        "current time and date",
        _obj(),
        run,
        read_only=True,
        keywords=("clock", "date"),
    )


# --- timers and alarms --------------------------------------------------------------


def _need_timers(env: ToolEnv) -> TimerScheduler:
    if env.timers is None:
        raise ToolError("Timers are not available: Parley cannot store them.")
    return env.timers


def _timer_tools(env: ToolEnv) -> list[Tool]:
    def set_timer(args: dict[str, Any]) -> ToolOutcome:
        seconds, label = int(args["seconds"]), str(args.get("label", ""))
        due = env.now().timestamp() + seconds
        timer = _need_timers(env).add(due, kind="timer", label=label, duration_s=seconds)
        return ToolOutcome(
            timer_set_text(seconds, label),
            {"timer_id": timer.id, "seconds": seconds, "label": label},
        )

    def set_alarm(args: dict[str, Any]) -> ToolOutcome:
        now = env.now()
        hour, minute = parse_clock(str(args["time"]))
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        # Tomorrow when said, or when today's has passed (a passed "today" too).
        if args.get("day") == "tomorrow" or due <= now:
            due += timedelta(days=1)
        label = str(args.get("label", ""))
        timer = _need_timers(env).add(due.timestamp(), kind="alarm", label=label)
        day = "today" if due.date() == now.date() else "tomorrow"
        text = f"Alarm set for {clock_time(due)} {day}" + (f": {label}." if label else ".")
        return ToolOutcome(text, {"timer_id": timer.id, "due": due.isoformat(timespec="minutes")})

    def list_timers(_args: dict[str, Any]) -> ToolOutcome:
        pending = _need_timers(env).store.pending()
        if not pending:
            return ToolOutcome("You have no timers or alarms.", {"timers": []})
        now = env.now().timestamp()
        said = [describe_timer(t, now, env.now) for t in pending]
        text = f"You have {len(said)}: " + "; ".join(said) + "."
        if len(said) == 1:
            text = f"You have one: {said[0]}."
        return ToolOutcome(text, {"timers": [t.id for t in pending]})

    def cancel_timer(args: dict[str, Any]) -> ToolOutcome:
        scheduler = _need_timers(env)
        now = env.now()
        pending = matching_timers(scheduler.store.pending(), args, now.tzinfo)
        if not pending:
            return ToolOutcome(
                f"There {_none_like(args, now.tzinfo)} to cancel.", {"cancelled": []}, ok=False
            )
        if len(pending) > 1 and not args.get("all"):
            names = "; ".join(describe_timer(t, now.timestamp(), env.now) for t in pending)
            # Not an error: the answer ("the second one") completes this call.
            return ToolOutcome(
                f"You have several: {names}. Which one should I cancel?",
                {"cancelled": [], "choices": [t.id for t in pending]},
                ok=False,
            )
        for t in pending:
            scheduler.cancel(t.id)
        if len(pending) == 1:
            text = f"Cancelled {describe_timer(pending[0], now.timestamp(), env.now)}."
        else:
            text = f"Cancelled all {len(pending)} {_kinds(pending)}."
        return ToolOutcome(text, {"cancelled": [t.id for t in pending]})

    def undo_timer(outcome: ToolOutcome) -> None:
        _need_timers(env).cancel(int(outcome.data["timer_id"]))

    label = _str("what it is for", 40)
    return [
        Tool(
            "set_timer",
            "start a countdown",
            _obj(
                {
                    "seconds": {"type": "integer", "minimum": 1, "maximum": MAX_TIMER_S},
                    "label": label,
                },
                ("seconds",),
            ),
            set_timer,
            keywords=("timer", "countdown", "remind", "reminder"),
            undo=undo_timer,
        ),
        Tool(
            "set_alarm",
            "ring at a clock time",
            _obj(
                {
                    "time": _str("HH:MM, 24-hour or with am/pm", 8, 3),
                    "day": {"type": "string", "enum": ["today", "tomorrow"]},
                    "label": label,
                },
                ("time",),
            ),
            set_alarm,
            keywords=("alarm", "wake"),
            undo=undo_timer,
        ),
        Tool(
            "list_timers",
            "list timers and alarms",
            _obj(),
            list_timers,
            read_only=True,
            keywords=("timers", "alarms"),
        ),
        Tool(
            "cancel_timer",
            "cancel a timer or alarm",
            _obj(
                {
                    "label": label,
                    "time": _str("HH:MM of an alarm", 8, 3),
                    "kind": {"type": "string", "enum": ["timer", "alarm"]},
                    "seconds": {"type": "integer", "minimum": 1, "maximum": MAX_TIMER_S},
                    "ordinal": {"type": "integer", "minimum": -1, "maximum": 20},
                    "all": {"type": "boolean"},
                }
            ),
            cancel_timer,
            keywords=("cancel",),
        ),
    ]


def matching_timers(
    pending: list[Timer], which: dict[str, Any], tz: tzinfo | None = None
) -> list[Timer]:
    """The pending timers (soonest first) that `which` describes: its kind,
    label (words of it), clock time (HH:MM, the local time it goes off),
    duration in seconds, and ordinal (1 = the soonest, -1 = the last) among
    those left. Every key is optional; none means all of them."""
    found = list(pending)
    if kind := which.get("kind"):
        found = [t for t in found if t.kind == kind]
    if label := " ".join(str(which.get("label", "")).lower().split()):
        named = [t for t in found if label == t.label.lower()]
        found = named or [t for t in found if _words_in(label, t.label)]
    if clock := str(which.get("time") or ""):
        hour, minute = parse_clock(clock)
        times = {(hour, minute)}
        if re.fullmatch(r"\s*([1-9]|1[0-2])[:.]\d\d\s*", clock):  # "6:30": AM or PM
            times.add(((hour + 12) % 24, minute))
        found = [t for t in found if _clock_of(t, tz) in times]
    if seconds := which.get("seconds"):
        found = [t for t in found if t.kind == "timer" and t.duration_s == int(seconds)]
    if ordinal := which.get("ordinal"):
        index = int(ordinal) - 1 if int(ordinal) > 0 else int(ordinal)
        found = [found[index]] if -len(found) <= index < len(found) else []
    return found


def _words_in(label: str, name: str) -> bool:
    """Every word of `label` is in `name`, a plural "s" aside ("egg" = "eggs")."""
    wanted, have = _stems(label), _stems(name.lower())
    return bool(wanted) and wanted <= have


def _stems(text: str) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in text.split()}


def _clock_of(timer: Timer, tz: tzinfo | None) -> tuple[int, int]:
    at = datetime.fromtimestamp(timer.due_at, tz=tz)
    return at.hour, at.minute


def _kinds(timers: list[Timer]) -> str:
    kinds = {t.kind for t in timers}
    return "timers and alarms" if len(kinds) > 1 else f"{kinds.pop()}s"


def _none_like(which: dict[str, Any], tz: tzinfo | None) -> str:
    """ "is no alarm at 7:00 AM", "are no timers": what was not found, in words."""
    kind = str(which.get("kind") or "")
    noun = kind or "timer or alarm"
    if which.get("label"):
        return f"is no {noun} called {which['label']}"
    if which.get("time"):
        hour, minute = parse_clock(str(which["time"]))
        return f"is no {noun} at {clock_time(datetime(2000, 1, 1, hour, minute))}"
    if which.get("seconds"):
        return f"is no {format_duration(int(which['seconds']))} timer"
    if which.get("ordinal"):
        return f"is no such {noun}"
    return f"are no {kind or 'timer'}s"


# Words that say what a timer is, not what it is for: a label made only of
# them (a model's "Alarm for 10 am") is no label.
_GENERIC_WORDS = """alarm alarms timer timers countdown reminder remind set start wake me up
    my the a an for at in on to of am pm o clock oclock today tomorrow tonight morning
    afternoon evening night hour hours minute minutes second seconds min mins"""
_GENERIC = frozenset(_GENERIC_WORDS.split())


def grounded_args(args: Any, said: str) -> Any:
    """A model's call with its "label" kept only when the user said it: every
    word of it that is not generic is in `said`. Otherwise the label goes (a
    stale example or an invented name must never be read back)."""
    if not isinstance(args, dict) or not isinstance(args.get("label"), str):
        return args
    heard = set(_label_words(intents.digitize(said.lower())))
    content = [w for w in _label_words(args["label"].lower()) if w not in _GENERIC]
    if content and all(w in heard for w in content) and not any(w.isdigit() for w in content):
        return args
    return {k: v for k, v in args.items() if k != "label"}


def _label_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text)


def parse_clock(text: str) -> tuple[int, int]:
    """ "7:30", "07:30", "19:30", "7 pm", "7:30am" -> (hour, minute) on a 24-hour clock."""
    m = re.fullmatch(r"\s*(\d{1,2})(?:[:.h](\d{2}))?\s*([ap])?\.?\s*m?\.?\s*", text.lower())
    if not m:
        raise ToolError(f"I can't read {text!r} as a time of day; say it like 7:30 or 7:30 pm.")
    hour, minute = int(m[1]), int(m[2] or 0)
    if m[3]:
        if not 1 <= hour <= 12:
            raise ToolError(f"{text!r} is not a time of day.")
        hour = hour % 12 + (12 if m[3] == "p" else 0)
    if hour > 23 or minute > 59:
        raise ToolError(f"{text!r} is not a time of day.")
    return hour, minute


_SINGULAR_UNIT = re.compile(r"\b(hour|minute|second)s\b")  # "the 5 minute timer"
_ONE = r"\1"


def describe_timer(timer: Timer, now: float, clock: Callable[[], datetime]) -> str:
    """ "the pasta timer, 4 minutes left" / "the alarm at 7:30 AM"."""
    if timer.kind == "alarm":
        at = datetime.fromtimestamp(timer.due_at, tz=clock().tzinfo)
        return f"the {timer.label + ' ' if timer.label else ''}alarm at {clock_time(at)}"
    left = max(1, round(timer.due_at - now))
    name = (
        f"the {timer.label} timer"
        if timer.label
        else f"the {_SINGULAR_UNIT.sub(_ONE, format_duration(timer.duration_s))} timer"
    )
    return f"{name}, {format_duration(left)} left"


def announcement(timer: Timer, missed: bool, now: Callable[[], datetime] = datetime.now) -> str:
    """What Parley says when a timer is due (or was, while it was closed)."""
    due = datetime.fromtimestamp(timer.due_at, tz=now().tzinfo)
    if timer.kind == "alarm":
        what = f"your {timer.label} alarm" if timer.label else "your alarm"
    elif timer.label:
        what = f"your {timer.label} timer"
    else:
        what = f"your timer for {format_duration(timer.duration_s)}"
    if missed:
        return f"While Parley was closed, {what} went off at {clock_time(due)}."
    if timer.kind == "alarm":
        return f"It's {clock_time(due)}: {what}!"
    return f"{what[0].upper()}{what[1:]} is done."


# --- sums -----------------------------------------------------------------------------


def _calculate() -> Tool:
    def run(args: dict[str, Any]) -> ToolOutcome:
        text = str(args["expression"])
        expression = intents.to_expression(intents.digitize(text.lower())) or text
        try:
            value = calculator.evaluate(expression)
        except calculator.MathError as e:
            return ToolOutcome(str(e), {"expression": expression}, ok=False)
        except calculator.ExpressionError as e:
            raise ToolError(f"I can't work out {text!r}: {e}") from e
        return ToolOutcome(
            sum_text(expression, value), {"expression": expression, "value": format_number(value)}
        )

    return Tool(
        "calculate",
        "arithmetic, e.g. 12*7 or 15% of 80",
        _obj({"expression": _str("the sum", 100)}, ("expression",)),
        run,
        read_only=True,
        keywords=("calculate", "plus", "minus", "divided", "percent"),
    )


# --- notes ----------------------------------------------------------------------------


def _need_notes(env: ToolEnv) -> NoteStore:
    if env.notes is None:
        raise ToolError("Notes are not available: Parley cannot open its notes file.")
    return env.notes


def _all_notes(env: ToolEnv) -> list[tuple[int, str, str]]:
    try:
        return _need_notes(env).list()
    except HistoryError as e:
        raise ToolError(str(e)) from e


def _note_tools(env: ToolEnv) -> list[Tool]:
    def add(args: dict[str, Any]) -> ToolOutcome:
        text = str(args["text"])
        try:
            note_id = _need_notes(env).add(text)
        except HistoryError as e:
            raise ToolError(str(e)) from e
        return ToolOutcome(f"Noted: {text}.", {"note_id": note_id, "text": text})

    def list_notes(_args: dict[str, Any]) -> ToolOutcome:
        notes = _all_notes(env)
        return ToolOutcome(
            notes_text([t for _i, t, _c in notes]),
            {"notes": [{"id": i, "text": t} for i, t, _c in notes]},
        )

    def plan_delete(args: dict[str, Any]) -> Plan:
        wanted = " ".join(str(args["text"]).lower().split()).strip(" .'\"")
        notes = _all_notes(env)
        exact = [(i, t) for i, t, _c in notes if t.lower().strip(" .") == wanted]
        hits = exact or [(i, t) for i, t, _c in notes if wanted in t.lower()]
        if not hits:
            raise ToolError(f"You have no note that says {args['text']!r}.")
        if len(hits) > 1:
            shown = "; ".join(t for _i, t in hits[:5])
            raise ToolError(f"Several notes match {args['text']!r}: {shown}. Which one?")
        note_id, text = hits[0]
        return Plan(f"delete the note '{text}'", {"id": note_id, "text": text})

    def delete(args: dict[str, Any]) -> ToolOutcome:
        try:
            gone = _need_notes(env).delete(int(args["id"]))
        except HistoryError as e:
            raise ToolError(str(e)) from e
        if not gone:
            return ToolOutcome(f"The note '{args['text']}' was already gone.", dict(args), ok=False)
        return ToolOutcome(f"Deleted the note '{args['text']}'.", dict(args))

    def plan_clear(_args: dict[str, Any]) -> Plan:
        ids = [i for i, _t, _c in _all_notes(env)]
        if not ids:
            raise ToolError("You have no notes to delete.")
        what = "your one note" if len(ids) == 1 else f"all {len(ids)} of your notes"
        return Plan(f"delete {what}", {"ids": ids})

    def clear(args: dict[str, Any]) -> ToolOutcome:
        store = _need_notes(env)
        try:
            gone = [i for i in args["ids"] if store.delete(int(i))]
        except HistoryError as e:
            raise ToolError(str(e)) from e
        return ToolOutcome(
            f"Deleted {len(gone)} note{'s' if len(gone) != 1 else ''}.", {"deleted": gone}
        )

    def undo_add(outcome: ToolOutcome) -> None:
        _need_notes(env).delete(int(outcome.data["note_id"]))

    return [
        Tool(
            "add_note",
            "save a note",
            _obj({"text": _str("the note", 200)}, ("text",)),
            add,
            keywords=("note", "jot"),
            undo=undo_add,
        ),
        Tool(
            "list_notes",
            "read the notes back",
            _obj(),
            list_notes,
            read_only=True,
            keywords=("notes",),
        ),
        Tool(
            "delete_note",
            "delete one note",
            _obj({"text": _str("words of the note", 200)}, ("text",)),
            delete,
            consequential=True,
            plan=plan_delete,
            keywords=("delete", "remove", "erase"),
        ),
        Tool(
            "delete_all_notes",
            "delete every note",
            _obj(),
            clear,
            consequential=True,
            plan=plan_clear,
            keywords=("delete", "remove", "erase", "clear"),
        ),
    ]


# --- the world outside: browser, applications, mail ------------------------------------


def normalise_url(text: str) -> str:
    """A web address to open: http(s) only, "example.com" gets https://."""
    url = text.strip()
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", url):
        url = "https://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ToolError(f"I only open web pages (http or https), not {parts.scheme}: links.")
    host = parts.hostname or ""
    if not host or (host != "localhost" and "." not in host) or any(c.isspace() for c in url):
        raise ToolError(f"{text!r} is not a web address.")
    return url


def _open(env: ToolEnv, url: str, what: str) -> None:
    try:
        opened = env.open_url(url)
    except Exception as e:  # webbrowser raises webbrowser.Error and OSError
        raise ToolError(f"I couldn't open {what}: {e}") from e
    if not opened:
        raise ToolError(f"I couldn't open {what}: no browser or mail program was found.")


def _open_url(env: ToolEnv) -> Tool:
    def plan(args: dict[str, Any]) -> Plan:
        url = normalise_url(str(args["url"]))
        return Plan(f"open {url} in your web browser", {"url": url})

    def run(args: dict[str, Any]) -> ToolOutcome:
        _open(env, args["url"], args["url"])
        return ToolOutcome(f"Opened {args['url']}.", {"url": args["url"]})

    return Tool(
        "open_url",
        "open a web page",
        _obj({"url": _str("web address", 300)}, ("url",)),
        run,
        consequential=True,
        plan=plan,
        keywords=("open", "browse", "browser", "website", "url"),
    )


def _open_app(env: ToolEnv) -> Tool:
    def plan(args: dict[str, Any]) -> Plan:
        app = apps_mod.find_app(str(args["name"]), env.apps())
        return Plan(f"open the application {app.name}", {"name": app.name, "path": str(app.path)})

    def run(args: dict[str, Any]) -> ToolOutcome:
        match = [a for a in env.apps() if str(a.path) == args["path"]]
        if not match:
            raise ToolError(f"{args['name']} is no longer installed.")
        env.launch(match[0])
        return ToolOutcome(f"Opened {args['name']}.", {"app": args["name"], "path": args["path"]})

    return Tool(
        "open_app",
        "launch an installed application",
        _obj({"name": _str("application name", 60)}, ("name",)),
        run,
        consequential=True,
        plan=plan,
        keywords=("open", "launch", "app", "application"),
    )


def mailto(to: str, subject: str, body: str) -> str:
    query = urllib.parse.urlencode(
        {k: v for k, v in (("subject", subject), ("body", body)) if v},
        quote_via=urllib.parse.quote,
    )
    return f"mailto:{urllib.parse.quote(to, safe='@.,+')}" + (f"?{query}" if query else "")


def _draft_email(env: ToolEnv) -> Tool:
    def plan(args: dict[str, Any]) -> Plan:
        to = str(args.get("to", ""))
        for address in filter(None, (a.strip() for a in to.split(","))):
            if not _EMAIL.fullmatch(address):
                raise ToolError(f"{address!r} is not an email address.")
        subject, body = str(args.get("subject", "")), str(args.get("body", ""))
        who = f"to {to}" if to else "with no recipient yet"
        about = f" about '{subject}'" if subject else ""
        return Plan(
            f"open an email draft {who}{about} in your mail program (you send it)",
            {"url": mailto(to, subject, body), "to": to, "subject": subject},
        )

    def run(args: dict[str, Any]) -> ToolOutcome:
        _open(env, args["url"], "your mail program")
        return ToolOutcome(
            "The draft is open in your mail program; send it when it's ready.",
            {"mailto": args["url"]},
        )

    return Tool(
        "draft_email",
        "draft an email in the mail program",
        _obj(
            {
                "to": _str("address", 120, 0),
                "subject": _str("subject", 120, 0),
                "body": _str("text", 400, 0),
            }
        ),
        run,
        consequential=True,
        plan=plan,
        keywords=("email", "mail"),
    )
