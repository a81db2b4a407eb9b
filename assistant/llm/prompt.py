"""What the model sees of a turn, beyond the fixed start (system text, tools,
few-shot examples; `dialogue/manager.py` `system_messages`).

A small model copies what it sees (docs/ARCHITECTURE.md, Answers):
- Replies Parley gave by rule or tool ("It's 9:23 PM.", "6 times 7 is 42.")
  are left out of a base model's context, with the request they answer, and
  reach an instruct model shortened and marked done. Measured with `parley
  bench answers`: copies of them in unrelated answers were the worst damage.
- The facts a model cannot know (the date, the time, the weekday, the time
  zone) are one line after the newest user message, never in the system text:
  the start of every prompt stays the same, so the KV cache keeps it, and the
  line is there only while its turn is the newest (a later prompt re-reads
  just the last exchange).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.llm.templates import Message

FIXED_ORIGINS = frozenset({"rule", "tool", "system"})
"""Message origins of replies Parley wrote itself, not the model."""

CLOCK_WORDS = re.compile(
    r"\b(today|tonight|tomorrow|yesterday|date|day|days|week|weekday|weekend|month|year|"
    r"time|clock|hour|hours|now|zone|timezone|morning|afternoon|evening|calendar|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
LONG_WORDS = re.compile(
    r"\b(long|longer|story|stories|in detail|detailed|essay|poem|explain .* in detail|"
    r"tell me (?:all|everything) about|describe .* in detail|step by step)\b",
    re.IGNORECASE,
)
LONG_REPLY_TOKENS = 400
"""Reply budget for a request for something long (a story): about 300 words."""


@dataclass(frozen=True)
class PromptPolicy:
    """How the conversation enters a prompt (chosen by `parley bench answers`)."""

    fixed_replies: str = "drop"
    """What happens to rule and tool exchanges: "drop" (left out), "mark"
    (the reply shortened to a done-marker), "keep" (as said)."""
    facts: str = "clock"
    """When the fact line is added: "always", "clock" (the user's words are
    about the date or time), "never"."""


BASE_POLICY = PromptPolicy(fixed_replies="drop", facts="clock")
INSTRUCT_POLICY = PromptPolicy(fixed_replies="mark", facts="always")


def policy_for(base_model: bool) -> PromptPolicy:
    return BASE_POLICY if base_model else INSTRUCT_POLICY


QUESTION_OPENERS = re.compile(
    r"^(what|what's|who|who's|whom|whose|why|how|when|where|which|is|are|am|was|were|can|"
    r"could|do|does|did|will|would|should|shall|may|have|has)\b",
    re.IGNORECASE,
)


def written(text: str) -> str:
    """A transcript as it would be written: a capital first letter and an end
    mark ("who wrote hamlet" -> "Who wrote hamlet?"). A small model answers
    written questions and echoes unpunctuated fragments ("Hamlet what?")."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?\"')":
        text += "?" if QUESTION_OPENERS.match(text) or text.lower().startswith("and ") else "."
    return text


def conversation_view(messages: Sequence[Message], policy: PromptPolicy) -> list[Message]:
    """`messages` (user/assistant, oldest first) as the model should see them."""
    out: list[Message] = []
    for m in messages:
        if m.role == "user":
            out.append(Message("user", written(m.content), m.origin))
        elif m.role != "assistant" or m.origin not in FIXED_ORIGINS:
            out.append(m)
        elif policy.fixed_replies == "drop":
            if out and out[-1].role == "user":
                out.pop()  # the request a rule answered goes with its answer
        elif policy.fixed_replies == "mark":
            out.append(Message("assistant", f"(Done: {_short(m.content)})", m.origin))
        else:
            out.append(m)
    return out


def _short(text: str, words: int = 8) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def asks_about_clock(text: str) -> bool:
    return CLOCK_WORDS.search(text) is not None


def wants_long(text: str) -> bool:
    """Whether the user asks for something long ("tell me a long story")."""
    return LONG_WORDS.search(text) is not None


def fact_line(now: datetime) -> str:
    """The date, time, weekday and time zone, said once, plainly."""
    local = now if now.tzinfo is not None else now.astimezone()
    zone = local.tzname() or "local time"
    hour = local.strftime("%I:%M %p").lstrip("0")
    return f"(It is {local:%A}, {local.day} {local:%B %Y}, {hour}, time zone {zone}.)"


def with_facts(
    messages: Sequence[Message], now: datetime, policy: PromptPolicy
) -> list[Message]:
    """`messages` with the fact line after the newest user message, when the
    policy calls for it."""
    out = list(messages)
    if not out or out[-1].role != "user" or policy.facts == "never":
        return out
    last = out[-1]
    if policy.facts == "clock" and not asks_about_clock(last.content):
        return out
    out[-1] = Message("user", f"{last.content}\n{fact_line(now)}", last.origin)
    return out


def turn_messages(
    messages: Sequence[Message], now: datetime, base_model: bool
) -> list[Message]:
    """The conversation part of a turn's prompt: the view, then the facts."""
    policy = policy_for(base_model)
    return with_facts(conversation_view(messages, policy), now, policy)
