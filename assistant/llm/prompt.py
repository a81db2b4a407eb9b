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
- Earlier exchanges enter a base model's prompt only when the new words refer
  to them (`referred`): a pronoun or an ellipsis ("and Germany?", "why?",
  "what else did he write?") brings the exchange before it (and what that one
  referred to), a question about the user ("what is my dog called?") the
  user's statements that share a word with it. A small model given an
  unrelated exchange copied its reply ("what is the tallest mountain" ->
  "I can't tell you a joke."); a question on its own is answered as in a fresh
  conversation.
- A base model reads a follow-up written out in full ("And Germany?" -> "What
  is the capital of Germany?", `llm/follow_up.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.llm.follow_up import written_out
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
LONG_MIN_TOKENS = 120
"""A long reply's least length (about 90 words, half a minute spoken): the
reply cannot end or break a line before it (`LlmEngine.stream` `min_tokens`)."""


@dataclass(frozen=True)
class PromptPolicy:
    """How the conversation enters a prompt (chosen by `parley bench answers`)."""

    fixed_replies: str = "drop"
    """What happens to rule and tool exchanges: "drop" (left out), "mark"
    (the reply shortened to a done-marker), "keep" (as said)."""
    facts: str = "clock"
    """When the fact line is added: "always", "clock" (the user's words are
    about the date or time), "never"."""
    earlier: str = "all"
    """Which earlier exchanges the prompt keeps: "all", or "referred" (only
    those the newest user message refers to, `referred`)."""
    write_out: bool = False
    """Follow-ups reach the model written out in full ("And Germany?" -> "What
    is the capital of Germany?", `llm/follow_up.py`)."""


BASE_POLICY = PromptPolicy(fixed_replies="drop", facts="clock", earlier="referred", write_out=True)
INSTRUCT_POLICY = PromptPolicy(fixed_replies="mark", facts="always", earlier="all")


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


def min_reply_tokens(text: str) -> int:
    """The least length of the reply to `text`: LONG_MIN_TOKENS when it asks
    for something long, else 0. The turn and the tokens run ahead for it at a
    pause must agree, or the ahead tokens are discarded."""
    return LONG_MIN_TOKENS if wants_long(text) else 0


def fact_line(now: datetime) -> str:
    """The date, time, weekday and time zone, said once, plainly."""
    local = now if now.tzinfo is not None else now.astimezone()
    zone = local.tzname() or "local time"
    hour = local.strftime("%I:%M %p").lstrip("0")
    return f"(It is {local:%A}, {local.day} {local:%B %Y}, {hour}, time zone {zone}.)"


def with_facts(messages: Sequence[Message], now: datetime, policy: PromptPolicy) -> list[Message]:
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


REFERS_BACK = re.compile(
    r"^(and|but|or|so|also|then|what about|how about|what else|why|why not|how come|"
    r"really|are you sure|which one|what do you mean|tell me more|more|go on|continue|"
    r"again|same|another)\b"
    r"|\b(it|its|it's|itself|that|this|those|these|they|them|their|theirs|there|he|him|his|"
    r"himself|she|her|hers|herself|else|again|too|also|another|same|earlier|before|"
    r"previous|previously|you said|your answer|that one|the other)\b",
    re.IGNORECASE,
)
"""Words that point at something said before: a pronoun, an ellipsis opener."""
FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|me|my|mine|myself)\b", re.IGNORECASE)
USER_SAYS = re.compile(r"\b(i|i'm|i've|my|mine)\b", re.IGNORECASE)
"""A statement about the user ("I live in Lisbon", not "tell me a joke")."""
ABOUT_USER = re.compile(r"\b(my|mine|am i|did i|have i)\b", re.IGNORECASE)
"""A question about the user's own things: with no statement on its topic, all
the user's statements about themselves may answer it ("what is my job?" after
"I work as a nurse")."""
SHORT_FRAGMENT = 3
"""A message of at most this many words that is no question or request of its
own ("Germany?", "in French?") continues the one before."""
_STANDALONE_OPENERS = re.compile(
    r"^(what|what's|who|who's|where|when|which|how|tell|say|give|write|name|list|is|are|"
    r"can|could|do|does|did|will|would|define|describe|explain|suggest|recommend)\b",
    re.IGNORECASE,
)
_COMMON = (
    "the a an and or but of to in on at for with from by about as is are was were be been "
    "am do does did have has had what whats who whom whose which where when why how that "
    "this these those it its there here not no yes can could would should will shall may "
    "might must you your yours me my mine i im ive we our us they them their he him his "
    "she her tell say please know think like just very much many some any all one"
)
_STOPWORDS = frozenset(_COMMON.split())
_WORD = re.compile(r"[a-z][a-z']*")


def refers_back(text: str) -> bool:
    """Whether `text` points at something said before ("and Germany?", "why?",
    "what else did he write?"), so it cannot be answered on its own."""
    words = _WORD.findall(text.lower())
    if not words:
        return False
    if REFERS_BACK.search(text):
        return True
    return len(words) <= SHORT_FRAGMENT and not _STANDALONE_OPENERS.match(text.strip())


def _content_stems(text: str) -> set[str]:
    """The words of `text` that carry its topic, cut to 5 letters (so "colours"
    meets "colour")."""
    words = (w.replace("'", "") for w in _WORD.findall(text.lower().replace("\u2019", "'")))
    return {w[:5] for w in words if w not in _STOPWORDS and len(w) >= 3}


def _is_statement(text: str) -> bool:
    text = text.strip()
    return not text.endswith("?") and not QUESTION_OPENERS.match(text)


def referred(messages: Sequence[Message]) -> list[Message]:
    """`messages` (user/assistant, oldest first, ending with the new user
    message) cut to the exchanges the new message refers to, oldest first:

    - words that point back (`refers_back`) bring the exchange before, and
      that one brings what it referred to, and so on;
    - a message in the first person ("what is my name?") brings the user's
      earlier first-person statements that share a topic word with it
      ("my name is Priya"); a question about the user's own things with no
      such statement ("what is my job?") brings all of them.

    A message that refers to nothing is sent alone. The chain of a follow-up
    is the previous turn's prompt plus its reply, so the KV cache still holds
    it."""
    if not messages or messages[-1].role != "user":
        return list(messages)
    # Exchanges: a user message with the replies that followed it.
    exchanges: list[list[Message]] = []
    for m in messages:
        if m.role == "user" or not exchanges:
            exchanges.append([m])
        else:
            exchanges[-1].append(m)
    user = [ex[0].content if ex[0].role == "user" else "" for ex in exchanges]

    def antecedents(i: int) -> set[int]:
        found: set[int] = set()
        if i > 0 and refers_back(user[i]):
            found.add(i - 1)
        if FIRST_PERSON.search(user[i]):
            topic = _content_stems(user[i])
            own = [j for j in range(i) if USER_SAYS.search(user[j]) and _is_statement(user[j])]
            on_topic = {j for j in own if topic & _content_stems(user[j])}
            asks = not _is_statement(user[i]) and ABOUT_USER.search(user[i])
            found |= on_topic or (set(own) if asks else set())
        return found

    keep: set[int] = set()
    todo = [len(exchanges) - 1]
    while todo:
        i = todo.pop()
        for j in antecedents(i) - keep:
            keep.add(j)
            todo.append(j)
    keep.add(len(exchanges) - 1)
    return [m for i in sorted(keep) for m in exchanges[i]]


def turn_messages(messages: Sequence[Message], now: datetime, base_model: bool) -> list[Message]:
    """The conversation part of a turn's prompt: the exchanges the newest
    message refers to (for base models), the view, then the facts."""
    policy = policy_for(base_model)
    if policy.earlier == "referred":
        messages = referred(messages)
    view = conversation_view(messages, policy)
    if policy.write_out:
        view = written_out(view)
    return with_facts(view, now, policy)
