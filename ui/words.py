"""People's words for what the core does: tool icons and confirmation questions.

The core describes a consequential call as a plain phrase ("delete the note
'buy milk'"); the question is that phrase asked. A tool without its own
description gets one built from its name and arguments, never the raw name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TOOL_ICONS = {
    "note": ("✎", "Notes"),
    "timer": ("◷", "Timer"),
    "alarm": ("◷", "Alarm"),
    "url": ("↗", "Web"),
    "app": ("▶", "Apps"),
    "email": ("✉", "Email"),
}
DEFAULT_ICON = ("✓", "Done")


def tool_tag(tool: str, fallback: bool = True) -> str:
    """A small glyph and word above a tool's reply, by what the tool is about
    ('' for an unknown one when `fallback` is False)."""
    for word, (icon, name) in TOOL_ICONS.items():
        if word in tool:
            return f"{icon} {name}"
    return f"{DEFAULT_ICON[0]} {DEFAULT_ICON[1]}" if fallback and tool else ""


def _humane(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, (list, tuple)):
        return ", ".join(_humane(v) for v in value)
    return str(value)


def describe_call(tool: str, args: Mapping[str, Any]) -> str:
    """'send_message' {'to': 'Ann'} -> "send message to 'Ann'"."""
    words = tool.replace("_", " ").strip() or "do this"
    shown = ", ".join(f"{k.replace('_', ' ')} {_humane(v)}" for k, v in args.items())
    return f"{words} {shown}".strip() if shown else words


def confirmation_question(tool: str, args: Mapping[str, Any], description: str) -> str:
    """The yes-or-no question for a consequential call, in plain words."""
    phrase = description.strip().rstrip(".?!")
    if not phrase or phrase.startswith(f"run {tool}"):  # the core's generic fallback
        phrase = describe_call(tool, args)
    return phrase[0].upper() + phrase[1:] + "?"
