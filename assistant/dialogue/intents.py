"""Rule NLU: map an utterance to an intent with entities, without an LLM.

The rules answer the everyday requests (time, date, timers, sums, notes, stop,
repeat, help, small talk) at once, and keep Parley useful with no model loaded.

How an utterance is read:

1. Normalised: lowercase, punctuation dropped (arithmetic symbols and decimal
   points kept), "what's" -> "what is", fillers ("um") and "please" removed.
2. Politeness and the wake word are peeled off the edges ("hey parley could you
   tell me ...", "... for me thanks"); every stage is kept as a variant, and
   the most stripped variant is tried first.
3. Each intent's patterns must match the *whole* variant. That is what keeps
   near-misses out: "what time does the store open", "time flies when you're
   having fun", "I need help with my essay" contain a keyword but are not the
   request. Such turns get None and go to the LLM.

Confidence: 0.95 when the whole utterance is the request. 0.6 for a judgement
call (below `RULE_CONFIDENCE`, so the LLM decides when it is loaded):
- "note that the meeting moved": in English "note that ..." usually prefaces a
  remark, so it is a NOTE_ADD candidate only; "take a note ...", "note down ...",
  "note: ..." are certain.
- "I need help": help with what? Perhaps Parley, perhaps anything.
- A timer or a sum inside a longer sentence ("set a timer for five minutes and
  tell me a joke") gets 0.4-0.7 by how much of the sentence it covers; never
  when the sentence contains a negation ("don't set a timer ...").

Entities: TIMER {"seconds": int, "spoken": "5 minutes"} (spoken is the
canonical phrase, the same whether the user said "five minutes" or "5 min"),
plus "label" for "... for the pasta" / "remind me in 10 minutes to ...". A bare
"set a timer" is TIMER without "seconds" (the reply asks how long).
CALCULATE {"expression": "12*7", "value": 84.0}, or {"expression": "7/0",
"error": "I can't divide by zero."} when the sum has no answer ("add 5 and
3", "the product of 12 and 3", "half of 50" are sums too); a "to" or
"too" where only an operand can stand is "two" there ("what is too plus to",
as a recogniser may write it), every other "to" is kept. NOTE_ADD
{"text": "buy milk"} (never empty; the user's own casing). DATE may carry
{"part": "year" | "month" | "zone"} and {"offset": -1 | 0 | 1} (yesterday,
today, tomorrow); DAY_OF_WEEK {"day": "monday"} for "is it Monday?", or
{"offset"} and {"part": "weekend"} for "is tomorrow a weekday?";
GREETING {"greeting": "good morning", "how_are_you": bool}.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from assistant.dialogue import calculator
from assistant.dialogue.numbers import digitize, format_duration

RULE_CONFIDENCE = 0.8
"""At or above this a rule intent is answered without asking the LLM."""
HIGH = 0.95
LOW = 0.6


class IntentName(StrEnum):
    TIME = "time"
    DATE = "date"
    DAY_OF_WEEK = "day_of_week"
    TIMER = "timer"
    CALCULATE = "calculate"
    NOTE_ADD = "note_add"
    NOTE_LIST = "note_list"
    STOP = "stop"
    REPEAT = "repeat"
    HELP = "help"
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    NOTE_DELETE = "note_delete"
    NOTE_CLEAR = "note_clear"
    TIMER_LIST = "timer_list"
    TIMER_CANCEL = "timer_cancel"
    OPEN = "open"
    ALARM = "alarm"


@dataclass(frozen=True)
class Intent:
    name: IntentName
    confidence: float
    """0..1; >= RULE_CONFIDENCE (0.8) means "answer by rule without asking the LLM"."""
    entities: dict[str, Any] = field(default_factory=dict)
    """Per intent, see the module docstring."""


# --- normalisation ------------------------------------------------------------

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"'})
_CONTRACTIONS = {
    "what's": "what is", "whats": "what is", "it's": "it is", "that's": "that is",
    "thats": "that is", "i'd": "i would", "i'm": "i am", "im": "i am",
    "you're": "you are", "how's": "how is", "hows": "how is", "let's": "let us",
    "what're": "what are", "there's": "there is", "that'll": "that will",
}
_CONTRACTION_RE = re.compile(r"\b(?:" + "|".join(map(re.escape, _CONTRACTIONS)) + r")(?!\w)")
_FILLERS = re.compile(r"\b(?:um+|uh+|uhm+|erm+|er|hmm+|mm+|please|kindly)\b")

_WAKE = r"(?:(?:hey|hi|hello|ok|okay|yo) )?(?:parley|parlay|parly)"
# Openers that carry no meaning of their own. Tried repeatedly at the start.
_PREFIXES = [
    _WAKE,
    r"hey|ok|okay|so|well|oh|alright|all right|excuse me|quick question|now",
    r"(?:can|could|would|will|won't) you(?: possibly| just| maybe| quickly)?",
    r"would you (?:mind|be able to|be so kind as to)|are you able to",
    r"do you think you (?:can|could)",
    r"i (?:want|would like|'d like|need|wanna) (?:you to|to know)",
    r"i (?:want|would like|'d like|need|wanna) to",
    r"(?:tell|show|give) me|let me know",
    r"remind me(?= (?:what|who|whom|where|which|how|whether)\b)",  # a question, no timer
    r"(?:do|would|might) you (?:happen to )?know|any idea",
    r"i (?:wonder|was wondering)(?: if)?",
    r"go ahead and|just|quickly",
    r"(?:can|could|may) i (?:ask|know)",
]
_SUFFIXES = [
    r"(?:thanks|thank you)(?: (?:so|very) much)?",
    r"parley|parlay|parly",
    r"for me|if you (?:can|could|would|do not mind|don't mind)|if possible",
    r"now|right now|quickly",
]
_PREFIX_RE = re.compile(r"^(?:" + "|".join(_PREFIXES) + r")\b[\s,.!]*")
_SUFFIX_RE = re.compile(r"[\s,.!]*\b(?:" + "|".join(_SUFFIXES) + r")[.!]*$")


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower().translate(_QUOTES)
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # "1,200" -> "1200"
    t = re.sub(r"[^\w\s'+\-*/%^().√=×÷−]", " ", t)
    t = re.sub(r"\.(?!\d)", " ", t)  # sentence dots go, decimal points stay
    t = re.sub(r"(?<!\w)'|'(?!\w)", " ", t)  # quote marks go, apostrophes stay
    t = re.sub(r"(?<=[a-z])\s+-+\s+(?=[a-z])", " ", t)  # a dash between words
    t = _CONTRACTION_RE.sub(lambda m: _CONTRACTIONS[m[0]], t)
    t = re.sub(r"\bto morrow\b", "tomorrow", t)  # as a recogniser may write it
    t = _FILLERS.sub(" ", t)
    return " ".join(t.split())


def _strip_edges(text: str) -> list[str]:
    """`text` with politeness peeled off, one variant per step, most stripped last."""
    variants = [text]
    for pattern in (_PREFIX_RE, _SUFFIX_RE):
        while True:
            rest = pattern.sub("", variants[-1], count=1).strip(" ,.")
            if not rest or rest == variants[-1]:
                break
            variants.append(rest)
    return variants


# --- word intents -------------------------------------------------------------

_NOWISH = r"(?: (?:now|right now|currently|at the moment|here|today))?"
_DAYS = r"monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_GREET = (
    r"(?:hello|hi|hey|hiya|howdy|greetings|yo|heya|good (?:morning|afternoon|evening|day)"
    r"|morning|evening|afternoon)"
)
_HOW_ARE_YOU = r"how are you(?: doing)?(?: today)?|how is it going|how are things"

# (intent, pattern matched against the whole variant, confidence)
_WORD_RULES: list[tuple[IntentName, str, float]] = [
    (IntentName.STOP, r"(?:ok |okay |no |oh )?(?:stop(?: it| that| this| talking| speaking"
     r"| reading| now| stop| right there)?|cancel(?: that| it)?|never ?mind|forget (?:about )?it"
     r"|be quiet|quiet|shut up|hush|shh+|shush|silence|enough|that is enough|that will do)", HIGH),
    (IntentName.REPEAT, r"repeat(?: that| it| yourself| again| the last (?:thing|answer|part)"
     r"| what you (?:just )?said)?|say (?:that|it) again|say again|come again|again"
     r"|one more time|once more|pardon(?: me)?|i beg your pardon|what did you (?:just )?say"
     r"|what was that(?: again)?|sorry what(?: did you say| was that)?"
     r"|i (?:did not|didn't) (?:catch|hear|get) (?:that|you|it|what you said)", HIGH),
    (IntentName.TIME, r"what time is it" + _NOWISH + r"|what is the (?:current )?time" + _NOWISH
     + r"|what time it is" + _NOWISH + r"|what the (?:current )?time is" + _NOWISH
     + r"|(?:the |current |the current )?time" + _NOWISH
     + r"|time check|(?:do you have|have you got|you got|got) the time"
     r"|what time (?:do you have|have you got)|what hour is it|how late is it", HIGH),
    (IntentName.DATE, r"what is (?:the |today's |todays |the current )?date(?: today)?" + _NOWISH
     + r"|(?:the |today's |todays |the current |current )?date(?: today)?"
     r"|what date is (?:it|today)(?: today)?|which date is it|what is today"
     r"|(?:what|which) date it is(?: today)?|what (?:the |today's )?date is(?: today)?", HIGH),
    (IntentName.DAY_OF_WEEK, r"(?:what|which) day is (?:it|today)(?: today)?"
     r"|what day of the week is (?:it|today)(?: today)?|(?:the )?day of the week"
     r"|what is (?:the )?day(?: of the week)?(?: today)?|what weekday is (?:it|today)(?: today)?"
     r"|what is today's day|(?:what|which) day(?: of the week)? it is(?: today)?"
     r"|what day are we", HIGH),
    (IntentName.NOTE_LIST, r"(?:read|list|show|tell|give|read out|read back|go through)"
     r"(?: me)?(?: all)?(?: of)? (?:my|the|all my|all the) notes|(?:all )?my notes|notes"
     r"|what (?:are|were) my notes|what notes do i have|what did i note(?: down)?"
     r"|do i have (?:any )?notes|what is (?:in|on) my notes|how many notes do i have"
     r"|(?:list|read|show) notes", HIGH),
    (IntentName.HELP, r"help(?: me)?(?: out)?|what (?:else )?can you do(?: for me)?"
     r"|what are you able to do|what (?:can|could) i (?:say|ask)(?: you)?"
     r"|what (?:are|is) your (?:features|abilities|commands|skills|capabilities)"
     r"|what commands (?:are there|do you (?:know|understand|have)|can i (?:use|say))"
     r"|(?:list|show)(?: me)?(?: your| the)? commands|how do i use (?:you|this|parley|this app)"
     r"|how does (?:this|parley|this app) work|how do you work|what do you do|what are you for"
     r"|what can parley do", HIGH),
    (IntentName.HELP, r"i (?:need|want) (?:some )?help|help me please", LOW),
    (IntentName.GREETING, _GREET + r"(?: there)?(?: parley| parlay)?(?: " + _HOW_ARE_YOU + r")?"
     r"|" + _HOW_ARE_YOU + r"|what is up|sup|nice to meet you|(?:hello|hi) again", HIGH),
    (IntentName.THANKS, r"(?:thanks|thank you|thank u|thx|ty|cheers|many thanks|ta)"
     r"(?: (?:so|very) much| a lot| a bunch| a million| again| for (?:that|this|the help"
     r"|your help|helping(?: me)?|everything|the answer))?(?: parley)?"
     r"|(?:great|perfect|awesome|cool|nice|lovely|brilliant|wonderful|excellent|ok|okay|good"
     r"|got it|that is (?:great|perfect|helpful)|that helps|that was helpful)"
     r" (?:thanks|thank you)(?: (?:so|very) much| a lot)?"
     r"|much appreciated|(?:i )?appreciate (?:it|that|your help|the help)", HIGH),
    (IntentName.GOODBYE, r"(?:ok |okay |thanks |thank you )?(?:good ?bye|bye(?: bye)?|bye now"
     r"|see you(?: later| soon| tomorrow| around)?|see ya(?: later)?|good ?night|night night"
     r"|farewell|talk to you (?:later|soon)|catch you later|that is all(?: for (?:now|today))?"
     r"|that will be all|that is it for (?:now|today)|i am done(?: for (?:now|today))?"
     r"|signing off)(?: parley)?", HIGH),
]
_WORD_RES = [(name, re.compile(p), c) for name, p, c in _WORD_RULES]
_PART_OF_DATE = re.compile(
    r"what (?P<p>year|month) is (?:it|this)(?: now)?|what is the (?:current )?(?P<q>year|month)"
    r"|which (?P<r>year|month) is it"
)
_IS_DAY = re.compile(rf"is (?:it|today) (?P<day>{_DAYS})(?: today)?")


# Questions about the calendar built from their parts, so a wording the rules
# above do not list is still answered from the clock, never by the language
# model (a small one invents dates): a question word, the part asked for, who
# or when it is about, and words that change nothing ("now", "please").
_CLOCK_PART = r"(?P<part>year|month|date|day of the week|day|weekday|time ?zone)"
_CLOCK_REF = r"(?P<ref>today|tomorrow|yesterday)"
_CLOCK_SUBJ = (
    r"(?P<subj>is it(?: going to be)?|was it|will it be|is today|is tomorrow|will tomorrow be"
    r"|was yesterday|are we(?: in)?|am i(?: in)?|is this|is (?:it )?here|do we have)"
)
_CLOCK_TAIL = r"(?: (?:now|right now|currently|at the moment|please|here|then|again))*"
_CLOCK_QUESTIONS = [
    re.compile(
        rf"(?:what|which) (?:is |was |will be )?(?:the |my |our )?{_CLOCK_PART} {_CLOCK_SUBJ}"
        rf"(?: {_CLOCK_REF})?{_CLOCK_TAIL}"
    ),
    re.compile(
        rf"(?:what|which) (?:is|was|will be) (?:the |my |our )?{_CLOCK_PART}(?: of)?"
        rf"(?: {_CLOCK_REF})?{_CLOCK_TAIL}"
    ),
    # The day itself asked for ("what was yesterday", "tomorrow is what"): its date.
    re.compile(rf"what (?:is|was|will be|will it be)(?: it)? {_CLOCK_REF}{_CLOCK_TAIL}"),
    re.compile(rf"{_CLOCK_REF} (?:is|was|will be) what{_CLOCK_TAIL}"),
]
_WEEKEND_QUESTION = re.compile(
    rf"(?:is|will|was) (?P<subj>it|today|tomorrow|yesterday)(?: be)? (?:a |the )?"
    rf"(?:weekday|weekend|work ?day|week day|school day)"
    rf"(?: or (?:a |the )?(?:weekday|weekend|work ?day|week day|school day))?"
    rf"(?: {_CLOCK_REF})?{_CLOCK_TAIL}"
)
_OFFSETS = {"yesterday": -1, "today": 0, "tomorrow": 1}


def _clock_question(core: str) -> Intent | None:
    """A calendar question by its parts: DATE {"part": "year" | "month" |
    "zone", "offset": -1 | 0 | 1} or DAY_OF_WEEK {"offset", "part": "weekend"}."""
    if m := _WEEKEND_QUESTION.fullmatch(core):
        ref = m["ref"] or m["subj"]
        return Intent(
            IntentName.DAY_OF_WEEK, HIGH, {"part": "weekend", "offset": _OFFSETS.get(ref, 0)}
        )
    for pattern in _CLOCK_QUESTIONS:
        if not (m := pattern.fullmatch(core)):
            continue
        subj = m.groupdict().get("subj") or ""
        ref = m["ref"] or next((w for w in subj.split() if w in _OFFSETS), "today")
        offset = _OFFSETS[ref]
        part = m.groupdict().get("part") or "date"
        if part.replace(" ", "") == "timezone":
            return Intent(IntentName.DATE, HIGH, {"part": "zone"})
        if part in ("year", "month"):
            return Intent(IntentName.DATE, HIGH, {"part": part, "offset": offset})
        if part == "date":
            return Intent(IntentName.DATE, HIGH, {"offset": offset})
        return Intent(IntentName.DAY_OF_WEEK, HIGH, {"offset": offset})
    return None


def _word_intent(core: str) -> Intent | None:
    if m := _PART_OF_DATE.fullmatch(core):
        return Intent(IntentName.DATE, HIGH, {"part": m["p"] or m["q"] or m["r"]})
    if m := _IS_DAY.fullmatch(core):
        return Intent(IntentName.DAY_OF_WEEK, HIGH, {"day": m["day"]})
    for name, pattern, confidence in _WORD_RES:
        if pattern.fullmatch(core):
            return Intent(name, confidence, _word_entities(name, core))
    return _clock_question(core)


def _word_entities(name: IntentName, core: str) -> dict[str, Any]:
    if name is not IntentName.GREETING:
        return {}
    greet = re.match(_GREET, core)
    return {
        "greeting": greet[0] if greet else "",
        "how_are_you": re.search(_HOW_ARE_YOU, core) is not None,
    }


# --- timers -------------------------------------------------------------------

_NUM = r"\d+(?:\.\d+)?"
_H = r"(?:hours?|hrs?|h)"
_UNIT = rf"(?:{_H}|minutes?|mins?|m|seconds?|secs?|s)"
_FRAC = r"(?:and (?:a half|a quarter|3 quarters))"
_PART = (
    rf"(?:(?P<amt>{_NUM}|an?|one) ?(?:(?P<f1>{_FRAC}) )?(?P<u1>{_UNIT})\b(?: (?P<f2>{_FRAC}))?"
    rf"|half (?:an? )?(?P<u2>{_UNIT})\b|(?:a |1 |one )?(?P<q1>quarter) (?:of )?(?:an? )?{_H}\b"
    rf"|3 (?P<q3>quarters) (?:of )?(?:an? )?{_H}\b)"
)
_PART_RE = re.compile(_PART)
_PLAIN_PART = re.sub(r"\?P<\w+>", "", _PART)  # the same without names, to repeat it
_DURATION = rf"{_PLAIN_PART}(?:(?:,? and |, | ){_PLAIN_PART})*"
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_FRAC_VALUE = {"and a half": 0.5, "and a quarter": 0.25, "and 3 quarters": 0.75}
MAX_TIMER_SECONDS = 24 * 3600
"""Longer durations are probably misheard: they match with low confidence."""

_SET = (
    r"(?:i (?:need|want|would like) )?(?:(?:set|start|make|create|begin|put on|put|run|add)"
    r"(?: me)? )?"
)
"""A timer's verb, or a wish for one ("i need a timer for ..."), or none."""
_ART = r"(?:(?:an?|the|my|one) )?"
_LABEL = (
    r"(?: (?:for|called|named|labelled|labeled) (?:the |my |a |an )?(?P<label>[a-z][a-z' ]{0,40}))?"
)
_TIMER_RES = [
    re.compile(
        rf"{_SET}{_ART}(?:timer|countdown)(?: on)?(?: for| of| to| at)? (?P<dur>{_DURATION})"
        rf"{_LABEL}"
    ),
    re.compile(rf"{_SET}{_ART}(?P<dur>{_DURATION}) (?:timer|countdown){_LABEL}"),
    re.compile(rf"count ?down(?: for| from)? (?P<dur>{_DURATION})"),
    re.compile(
        rf"(?:wake me(?: up)?|alert me|ping me|buzz me|remind me) in (?P<dur>{_DURATION})"
        r"(?: (?:to|about) (?P<label>.+))?"
    ),
    re.compile(rf"remind me to (?P<label>.+?) in (?P<dur>{_DURATION})"),
    re.compile(rf"{_SET}(?:an? )?alarm (?:for|in) (?P<dur>{_DURATION})"),
]
_TIMER_BARE = re.compile(
    rf"(?:(?:set|start|make|create)(?: me)? )?{_ART}(?:timer|countdown)"
    r"|(?:set|start|make|create)(?: me)? (?:an? |the )?(?:timer|countdown)"
    r" (?:for|called|named) [a-z' ]{1,30}"
)
_TIMER_SEARCH = [
    re.compile(rf"\b(?:timer|countdown) (?:for |of )?(?P<dur>{_DURATION})"),
    re.compile(rf"\b(?P<dur>{_DURATION}) (?:timer|countdown)\b"),
]
_NEGATION = re.compile(r"\b(?:don't|do not|dont|never|not|cancel|stop|no)\b")


def parse_duration(text: str) -> int | None:
    """Seconds in a (digitized) duration: "1 hour and 30 minutes" -> 5400,
    "an hour and a half" -> 5400, "half an hour" -> 1800, "90 seconds" -> 90."""
    if not re.fullmatch(_DURATION, text):
        return None
    total = 0.0
    for m in _PART_RE.finditer(text):
        if m["q1"] or m["q3"]:
            total += 3600 * (0.75 if m["q3"] else 0.25)
        elif m["u2"]:
            total += 0.5 * _UNIT_SECONDS[m["u2"][0]]
        else:
            amount = 1.0 if m["amt"] in ("a", "an", "one") else float(m["amt"])
            amount += _FRAC_VALUE.get(m["f1"] or m["f2"] or "", 0.0)
            total += amount * _UNIT_SECONDS[m["u1"][0]]
    seconds = round(total)
    return seconds if seconds > 0 else None


def _timer_intent(core: str) -> Intent | None:
    for pattern in _TIMER_RES:
        if (m := pattern.fullmatch(core)) and (seconds := parse_duration(m["dur"])):
            confidence = HIGH if seconds <= MAX_TIMER_SECONDS else LOW
            return Intent(IntentName.TIMER, confidence, _timer_entities(seconds, m))
    if _TIMER_BARE.fullmatch(core):
        return Intent(IntentName.TIMER, 0.85, {})
    return None


def _timer_entities(seconds: int, m: re.Match[str]) -> dict[str, Any]:
    entities: dict[str, Any] = {"seconds": seconds, "spoken": format_duration(seconds)}
    if m.groupdict().get("label"):
        entities["label"] = m["label"].strip()
    return entities


# --- alarms: a clock time, never a stale default --------------------------------

_AMPM = r"(?:a ?m|p ?m)"
_CLOCK_PLAIN = (
    r"(?:(?:\d{1,2}(?:[ .]\d{2}| oh \d)?|(?:a )?(?:half|quarter)|\d{1,2}(?: minutes?)?)"
    r"(?: (?:past|after|to|before) \d{1,2})?(?: ?" + _AMPM + r"| o ?'?clock)?"
    r"|(?:12 )?(?:noon|midday|midnight))"
    r"(?: (?:in the (?:morning|afternoon|evening)|at night|tonight"
    r"|this (?:morning|afternoon|evening)))?"
)
_CLOCK_RE = re.compile(
    r"(?:(?P<h>\d{1,2})(?:[ .](?P<mi>\d{2})| oh (?P<mo>\d))?"
    r"|(?:a )?(?P<rel>half|quarter|\d{1,2})(?: minutes?)? (?P<dir>past|after|to|before)"
    r" (?P<rh>\d{1,2})"
    r"|(?:12 )?(?P<noon>noon|midday)|(?:12 )?(?P<mid>midnight))"
    r"(?: ?(?P<ap>" + _AMPM + r")| o ?'?clock)?"
    r"(?: (?P<part>in the (?:morning|afternoon|evening)|at night|tonight"
    r"|this (?:morning|afternoon|evening)))?"
)
_DAY = r"(?:today|tomorrow(?: (?:morning|afternoon|evening|night))?|tonight)"
_WHEN = (
    rf"(?:(?:on |for )?{_DAY} (?:at |for )?)?{_CLOCK_PLAIN}(?: (?:for |on )?{_DAY})?"
)
_ALARM_NOUN = r"(?:alarm(?: clock)?|wake ?up call|wake ?up alarm)"
_ALARM_LABEL = (
    r"(?: (?:for|called|named|labelled|labeled|to|so i can|so that i can)"
    r" (?:the |my |a |an )?(?P<label>[a-z][a-z' ]{0,40}))?"
)
_ALARM_SET = rf"(?:i (?:need|want|would like) |(?:a )?new )?{_SET}"
_ALARM_ART = r"(?:(?:an?|the|my|one|in) )?"  # "set in alarm": "an" as heard
_ALARM_RES = [
    re.compile(
        rf"{_ALARM_SET}{_ALARM_ART}{_ALARM_NOUN}(?: for| at| to| on)? (?P<when>{_WHEN})"
        rf"{_ALARM_LABEL}"
    ),
    re.compile(rf"{_ALARM_SET}{_ART}(?P<when>{_WHEN}) {_ALARM_NOUN}{_ALARM_LABEL}"),
    re.compile(rf"(?:wake|get) me(?: up)?(?: at| for| on)? (?P<when>{_WHEN}){_ALARM_LABEL}"),
    re.compile(rf"remind me (?:at |on )?(?P<when>{_WHEN}) (?:to|about) (?P<label>.+)"),
    re.compile(rf"remind me (?:to|about) (?P<label>.+?) (?:at|on) (?P<when>{_WHEN})"),
]
_LATER_PART = ("afternoon", "evening", "night", "tonight")


def parse_clock_words(text: str) -> tuple[int, int] | None:
    """A (digitized) clock time as (hour, minute) on a 24-hour clock: "7 am",
    "7 30", "half past 7", "quarter to 8 pm", "6 45 in the evening", "noon".
    An hour with no am/pm or part of the day is taken as said (24-hour);
    None when `text` is not a time of day."""
    m = _CLOCK_RE.fullmatch(text.strip())
    if m is None:
        return None
    if m["noon"] or m["mid"]:
        if m["ap"] or m["part"]:
            return None
        return (12, 0) if m["noon"] else (0, 0)
    if m["rel"]:
        offset = {"half": 30, "quarter": 15}.get(m["rel"]) or int(m["rel"])
        hour, minute = int(m["rh"]), 0
        if offset >= 60 or hour > 23:
            return None
        if m["dir"] in ("to", "before"):
            hour, minute = (hour - 1) % 24, 60 - offset
        else:
            minute = offset
    else:
        hour, minute = int(m["h"]), int(m["mi"] or m["mo"] or 0)
    if hour > 23 or minute > 59:
        return None
    ap = (m["ap"] or "").replace(" ", "")
    if ap:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ap == "pm" else 0)
    elif m["part"] and any(p in m["part"] for p in _LATER_PART) and 1 <= hour < 12:
        hour += 12  # "7 in the evening", "9 tonight"
    return hour, minute


def _when(text: str) -> tuple[tuple[int, int], str] | None:
    """((hour, minute), day) from "tomorrow at 7 am", "7 30 tomorrow", "9 tonight";
    day is "today", "tomorrow" or "" (the next time the clock shows it)."""
    day = ""
    t = text
    lead = re.match(rf"(?:on |for )?(?P<d>{_DAY}) (?:at |for )?", t)
    if lead:
        day, t = lead["d"], t[lead.end():]
    trail = re.search(rf" (?:for |on )?(?P<d>{_DAY})$", t)
    if trail and not re.search(r"\bat night$|\btonight$", t[: trail.start()]):
        if day:
            return None  # two days
        day, t = trail["d"], t[: trail.start()]
    if day.startswith("tomorrow "):  # "tomorrow evening": the part of the day
        part = day.split()[1]
        t, day = f"{t} {'at night' if part == 'night' else 'in the ' + part}", "tomorrow"
    elif day == "tonight":
        t, day = f"{t} tonight", "today"
    clock = parse_clock_words(t)
    return (clock, day) if clock is not None else None


_NOT_A_TIME = re.compile(
    rf"{_ALARM_SET}{_ALARM_ART}{_ALARM_NOUN}(?: for| at)? (?P<when>\d[\d .:]*(?: ?{_AMPM})?)"
)


def _alarm_intent(core: str) -> Intent | None:
    if (m := _NOT_A_TIME.fullmatch(core)) and _when(m["when"]) is None:
        said = m["when"].replace(" ", ":", 1) if re.fullmatch(r"\d+ \d+", m["when"]) else m["when"]
        error = f"{said} is not a time of day; say it like 7:30 or 7:30 pm."
        return Intent(IntentName.ALARM, HIGH, {"error": error})
    for pattern in _ALARM_RES:
        m = pattern.fullmatch(core)
        if m is None or (when := _when(m["when"])) is None:
            continue
        (hour, minute), day = when
        entities: dict[str, Any] = {"time": f"{hour:02d}:{minute:02d}"}
        if day:
            entities["day"] = day
        label = (m["label"] or "").strip()
        if label and not re.fullmatch(rf"{_DAY}|me|me up|wake up|waking up|get up", label):
            entities["label"] = label
        return Intent(IntentName.ALARM, HIGH, entities)
    return None


# --- which timer: cancelling one, and the answer to "Which one?" ----------------------

_KIND = r"(?P<kind>timer|alarm|countdown)s?"
_CANCEL_VERB = r"(?:cancel|stop|delete|remove|turn off|switch off|clear|kill|dismiss|get rid of)"
_WHICH = r"(?: (?P<what>[a-z0-9][a-z0-9' .]{0,40}?))?"
_TIMER_CANCEL_RES = [
    re.compile(
        rf"{_CANCEL_VERB}(?: the| my| all| all my| all the| that| this| a| an| one of my"
        rf"| one of the)?{_WHICH} {_KIND}"
        r"(?: and (?:alarms|timers))?"
        r"(?: (?:for|at|called|named|set for|of|about|that is set for) (?P<what2>.{1,40}))?"
    ),
    re.compile(
        rf"{_CANCEL_VERB} (?:the |my )?(?P<what>[a-z0-9][a-z0-9' .]{{0,40}}?) (?:one|1)"
    ),
    re.compile(
        rf"{_CANCEL_VERB} (?:the |that )?(?:one|1)"
        r" (?:for|at|called|named|set for|of|about|that is set for) (?P<what2>.{1,40})"
    ),
]
_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
    "4th": 4, "fifth": 5, "5th": 5, "last": -1, "latter": -1, "former": 1,
}
_ORDINAL = "|".join(_ORDINALS)
_CHOICE_RES = [
    re.compile(
        rf"(?:{_CANCEL_VERB} )?(?:the |that |my )?(?P<ord>{_ORDINAL})"
        r"(?: (?:one|1|timer|alarm|countdown))?(?: please)?"
    ),
    re.compile(rf"(?:{_CANCEL_VERB} )?(?:the )?(?:number|no) (?P<num>[1-9])"),
    re.compile(
        rf"(?:{_CANCEL_VERB} )?(?P<all>all(?: of them| of those| 3| three| the timers)?"
        r"|both(?: of them)?|every (?:one|1)|them all|all timers|everything)"
    ),
    re.compile(
        rf"(?:{_CANCEL_VERB} )?(?:the |that |my )?(?P<what>[a-z0-9][a-z0-9' .]{{0,40}}?)"
        r" (?:one|1|timer|alarm|countdown)"
    ),
    re.compile(
        rf"(?:{_CANCEL_VERB} )?(?:the |that )?(?:one|1|timer|alarm|countdown)"
        r" (?:for|at|called|named|set for|of|about|that is set for) (?P<what>.{1,40})"
    ),
    re.compile(rf"(?:{_CANCEL_VERB} )?(?:the |that |my )?(?P<kind>timer|alarm|countdown)"),
]


def describe_which(what: str) -> dict[str, Any]:
    """What a (digitized) phrase says about a timer: a clock time ("7 am" ->
    {"time": "07:00"}), a duration ("5 minute" -> {"seconds": 300}) or a label
    ("pasta" -> {"label": "pasta"}). Empty when it says nothing usable."""
    what = re.sub(r"^(?:the|my|a|an|that|this) ", "", what.strip(" ."))
    if not what or what in ("the", "my", "all", "that", "this") or re.fullmatch(_DAY, what):
        return {}  # a day alone ("my alarm for tomorrow") does not say which
    if (when := _when(what)) is not None and re.search(r"\d|noon|midday|midnight", what):
        (hour, minute), _day = when
        if 1 <= hour <= 12 and not re.search(rf"{_AMPM}\b|morning|afternoon|evening|night", what):
            return {"time": f"{hour}:{minute:02d}"}  # "the 6 30 one": AM or PM, either
        return {"time": f"{hour:02d}:{minute:02d}"}
    duration = re.sub(r"\b(hour|minute|second|min|sec|hr)\b", r"\1s", what)
    if (seconds := parse_duration(duration)) is not None:
        return {"seconds": seconds}
    if re.fullmatch(r"[a-z][a-z' ]{0,39}", what):
        return {"label": what}
    return {}


def _timer_cancel(core: str) -> Intent | None:
    for pattern in _TIMER_CANCEL_RES:
        if (m := pattern.fullmatch(core)) is None:
            continue
        groups = m.groupdict()
        entities: dict[str, Any] = {}
        which = {**describe_which(groups.get("what") or ""),
                 **describe_which(groups.get("what2") or "")}
        if groups.get("kind") in ("timer", "alarm"):
            entities["kind"] = groups["kind"]
        if re.search(r"\ball\b", core) or core.endswith(("timers", "alarms")):
            entities["all"] = True
        if not which and not groups.get("kind"):
            return None  # "cancel the one": nothing to go on
        if (groups.get("what") or "").strip() in _ORDINALS:
            which = {"ordinal": _ORDINALS[groups["what"].strip()]}
        return Intent(IntentName.TIMER_CANCEL, HIGH, {**entities, **which})
    return None


def parse_choice(text: str) -> dict[str, Any] | None:
    """The answer to "Which one should I cancel?": {"ordinal": 2} for "the
    second one", {"time": "07:00"} for "the 7 am one", {"label": "pasta"} for
    "the pasta one", {"all": True} for "all of them", {"kind": "alarm"} for
    "the alarm". None when `text` does not read as picking one."""
    for core in reversed(_strip_edges(_normalise(text))):
        # "the six thirty one" is the 6:30 one, not 6:31: "one" stays a word.
        head, one, _ = core.rpartition(" one")
        core = digitize(head) + " one" if one and not _ else digitize(core)
        for pattern in _CHOICE_RES:
            if (m := pattern.fullmatch(core)) is None:
                continue
            groups = m.groupdict()
            if groups.get("ord"):
                return {"ordinal": _ORDINALS[groups["ord"]]}
            if groups.get("num"):
                return {"ordinal": int(groups["num"])}
            if groups.get("all"):
                return {"all": True}
            if groups.get("kind"):
                return {"kind": groups["kind"] if groups["kind"] != "countdown" else "timer"}
            which = describe_which(groups.get("what") or "")
            if which:
                return which
        # "7 am", "the 6 30", "5 minutes"; a bare word only may name one.
        which = describe_which(re.sub(r"^(?:the|that|my) ", "", core))
        if "time" in which or "seconds" in which:
            return which
        if "label" in which and len(core.split()) <= 3:
            return {**which, "weak": True}
    return None


# --- arithmetic ---------------------------------------------------------------

_CALC_PREFIX = re.compile(
    r"^(?:what is|what are|how much is|how much are|calculate|compute|work out|evaluate|solve"
    r"|figure out|what do you get (?:for|from|if you (?:do|compute|calculate))|what does"
    r"|what will)\s+"
)
_CALC_SUFFIX = re.compile(r"\s*(?:\b(?:equal to|equals?|is equal to|make|come to|give)\b|=)\s*$")
_OPERATORS = [
    (r"%\s*of\b|percent(?:age)? of\b|per cent of\b", "% of"),
    (r"(?:the )?square root of\b|sqrt\b|√|root of\b", "sqrt"),
    (r"(?:raised )?to the power(?: of)?\b|raised to\b|\*\*|\^", "**"),
    (r"squared\b", "**2"),
    (r"cubed\b", "**3"),
    (r"multiplied by\b|times\b|x(?=\s*[\d(.])|\*|×", "*"),
    (r"//", "//"),
    (r"divided by\b|divide by\b|over\b|/|÷", "/"),
    (r"plus\b|\+", "+"),
    (r"minus\b|take away\b|negative\b|-|−", "-"),
    (r"modulo\b|modulus\b|mod\b|%", "%"),
    (r"\(", "("),
    (r"\)", ")"),
]
_TOKEN_RE = re.compile(
    rf"\s*(?:(?P<num>{_NUM}|\.\d+)|"
    + "|".join(f"(?P<op{i}>{p})" for i, (p, _) in enumerate(_OPERATORS))
    + ")"
)
_BINARY = {"+", "*", "/", "//", "%", "**", "% of"}
_SEARCH_OP = (
    r"plus|minus|times|multiplied by|divided by|over|to the power of|percent of|mod|modulo"
    r"|\*\*|[-+*/x%^]"
)
_SQRT_WORDS = r"(?:(?:the )?square root of )?"
_CALC_SEARCH = re.compile(
    rf"{_SQRT_WORDS}{_NUM}(?: ?(?:{_SEARCH_OP}) ?{_SQRT_WORDS}{_NUM})+"
    rf"|(?:the )?square root of {_NUM}"
)


def to_expression(text: str) -> str | None:
    """Spoken or typed arithmetic (already digitized) as a calculator expression:
    "12 times 7" -> "12*7", "15 percent of 80" -> "15% of 80", "square root of
    144" -> "sqrt(144)". None when anything in `text` is not arithmetic, or when
    there is no operation at all ("12")."""
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            return None
        pos = m.end()
        if m["num"]:
            tokens.append(m["num"])
            continue
        symbol = _OPERATORS[int(str(m.lastgroup)[2:])][1]
        tokens.extend(["**", symbol[2:]] if symbol in ("**2", "**3") else [symbol])
    if not tokens or not _has_operation(tokens):
        return None
    out: list[str] = []
    for i, tok in enumerate(tokens):  # sqrt takes the number after it: "sqrt(144)"
        if i and tokens[i - 1] == "sqrt" and tok not in ("(", "sqrt"):
            out.append(f"({tok})")
        else:
            out.append("% of " if tok == "% of" else tok)
    return "".join(out)


def _has_operation(tokens: list[str]) -> bool:
    for i, tok in enumerate(tokens):
        if tok in _BINARY or tok == "sqrt":
            return True
        if tok == "-" and i and (tokens[i - 1][0].isdigit() or tokens[i - 1] == ")"):
            return True
    return False


def _calc_intent(expression_text: str, confidence: float) -> Intent | None:
    expression = to_expression(expression_text)
    if expression is None:
        return None
    try:
        value = calculator.evaluate(expression)
    except calculator.ExpressionError:
        return None
    except calculator.MathError as e:
        return Intent(IntentName.CALCULATE, confidence, {"expression": expression, "error": str(e)})
    return Intent(IntentName.CALCULATE, confidence, {"expression": expression, "value": value})


# "two" as a recogniser may write it ("what is too plus to"): read as 2 only
# where an operand must stand, between binary operators or the ends of the sum.
_HEARD_FOR_TWO = frozenset({"to", "too"})
_BINARY_WORDS = (
    r"plus|minus|times|multiplied by|divided by|divide by|over|take away|mod|modulo|modulus"
    r"|percent of|per cent of|(?:raised )?to the power(?: of)?|raised to|[-+*/^×÷−]"
)
_OPERATOR_BEFORE = re.compile(rf"(?:^|\s)(?:{_BINARY_WORDS})$")
_OPERATOR_AFTER = re.compile(rf"(?:{_BINARY_WORDS})(?:\s|$)")


def _two_heard_as_to(body: str) -> str:
    """`body` with each "to"/"too" that stands where an operand must read as "2":
    after a binary operator or at the start, and before one or at the end. "to
    the power of" and every other "to" are kept."""
    words = body.split()
    out = list(words)
    for i, word in enumerate(words):
        if word not in _HEARD_FOR_TWO:
            continue
        before, after = " ".join(words[:i]), " ".join(words[i + 1 :])
        if (not before or _OPERATOR_BEFORE.search(before)) and (
            not after or _OPERATOR_AFTER.match(after)
        ):
            out[i] = "2"
    return " ".join(out)


# A sum said as an instruction or by its name: rewritten to its operator form.
_SPOKEN_SUMS = [
    (re.compile(rf"(?:add|sum) ({_NUM}) (?:and|to|plus) ({_NUM})"), r"\1 + \2"),
    (re.compile(rf"(?:the )?sum of ({_NUM}) and ({_NUM})"), r"\1 + \2"),
    (re.compile(rf"(?:the )?product of ({_NUM}) and ({_NUM})"), r"\1 * \2"),
    (re.compile(rf"multiply ({_NUM}) (?:by|and|with) ({_NUM})"), r"\1 * \2"),
    (re.compile(rf"divide ({_NUM}) by ({_NUM})"), r"\1 / \2"),
    (re.compile(rf"subtract ({_NUM}) from ({_NUM})"), r"\2 - \1"),
    (re.compile(rf"(?:the )?difference between ({_NUM}) and ({_NUM})"), r"\1 - \2"),
    (re.compile(rf"half of ({_NUM})"), r"\1 / 2"),
    (re.compile(rf"(?:a )?(?:third) of ({_NUM})"), r"\1 / 3"),
    (re.compile(rf"(?:a )?quarter of ({_NUM})"), r"\1 / 4"),
    (re.compile(rf"double ({_NUM})"), r"\1 * 2"),
]


def _calculate(core: str) -> Intent | None:
    body = _CALC_SUFFIX.sub("", _CALC_PREFIX.sub("", core))
    for pattern, form in _SPOKEN_SUMS:
        if pattern.fullmatch(body):
            body = pattern.sub(form, body)
            break
    intent = _calc_intent(body, HIGH)
    if intent is None and _HEARD_FOR_TWO.intersection(body.split()):
        # Only a body that is not a sum as it stands, and is one with the twos read.
        fixed = _two_heard_as_to(body)
        if fixed != body:
            intent = _calc_intent(fixed, HIGH)
    return intent


# --- notes (on the original casing) -------------------------------------------

_NOTE_RULES = [
    (r"(?:take|make|add|create|write|jot|leave|start)(?: down)? (?:a |another |a new |new "
     r"|a quick |me a )?note(?: down)?(?: for me)?(?:\s*[:,-]\s*|\s+(?:that|saying|to say"
     r"|which says|reading|of|about|to)\s+|\s+)(?P<t>.+)", HIGH),
    (r"(?:new )?note(?: to self)?\s*:\s*(?P<t>.+)", HIGH),
    (r"note to self[\s,:-]+(?P<t>.+)", HIGH),
    (r"note down[\s,:-]+(?:that\s+)?(?P<t>.+)", HIGH),
    (r"(?:write|jot|put) (?:this |that |it )?down[\s,:-]+(?:that\s+)?(?P<t>.+)", 0.9),
    (r"(?:add|put|save) (?P<t>.+?) (?:to|in|on|into) (?:my |the )?notes?(?: list)?", HIGH),
    (r"note that\s+(?P<t>.+)", LOW),  # see the module docstring
]
_NOTE_RES = [(re.compile(p, re.DOTALL), c) for p, c in _NOTE_RULES]
_LIGHT_PREFIX_RE = re.compile(r"^(?:" + "|".join(_PREFIXES) + r"|please)\b[\s,.!:;-]*")
_LIGHT_SUFFIX_RE = re.compile(r"[\s,.!]*\b(?:please|thanks|thank you|parley)[\s.!]*$")


def _note_intent(text: str) -> Intent | None:
    light = " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).split())
    low = light.lower()
    if len(low) != len(light):  # rare case-folding that changes length: give up casing
        light = low
    while (m := _LIGHT_PREFIX_RE.match(low)) and m.end() < len(low):
        light, low = light[m.end():], low[m.end():]
    while (m := _LIGHT_SUFFIX_RE.search(low)) and m.start() > 0:
        light, low = light[: m.start()], low[: m.start()]
    for pattern, confidence in _NOTE_RES:
        if m := pattern.fullmatch(low):
            note = light[m.start("t"): m.end("t")]
            note = re.sub(r"^(?:please|that)\b[\s,]*", "", note, flags=re.IGNORECASE)
            note = note.strip(" \t\"'.,;:!?-")
            if any(c.isalnum() for c in note):
                return Intent(IntentName.NOTE_ADD, confidence, {"text": note})
            return None
    return None


# --- the parser ---------------------------------------------------------------

def _fallback(core: str) -> Intent | None:
    """A timer or a sum inside a longer sentence: a hint, below RULE_CONFIDENCE."""
    if _NEGATION.search(core):
        return None
    for pattern in _TIMER_SEARCH:
        if (m := pattern.search(core)) and (seconds := parse_duration(m["dur"])):
            return Intent(IntentName.TIMER, _coverage(m, core), _timer_entities(seconds, m))
    if m := _CALC_SEARCH.search(core):
        return _calc_intent(m[0], _coverage(m, core))
    return None


def _coverage(m: re.Match[str], core: str) -> float:
    return round(0.4 + 0.3 * (m.end() - m.start()) / len(core), 2)


# --- tool commands: delete notes, list / cancel timers, open a page or app --------

_NOTE_DELETE_RES = [
    re.compile(r"(?:delete|remove|erase|cross out|get rid of) (?:the |my |a )?note"
               r"(?: that says| saying| about| called| reading)?(?:\s*[:,-]\s*|\s+)(?P<t>.+)",
               re.DOTALL),
    re.compile(r"(?:delete|remove|erase|cross out) (?P<t>.+?) from (?:my |the )?notes?(?: list)?",
               re.DOTALL),
]
_NOTE_CLEAR = re.compile(
    r"(?:delete|remove|erase|clear|wipe|clear out|wipe out) (?:all (?:of )?)?(?:my |the )?notes"
    r"|(?:delete|remove|erase|clear) (?:all|every) (?:of )?(?:my |the )?notes?"
)
_TIMER_LIST = re.compile(
    r"(?:what|which) (?:timers|alarms)(?: and alarms)? (?:do i have|are (?:set|running|on))"
    r"|(?:list|show|read)(?: me)? (?:all )?(?:my |the )?(?:timers|alarms)(?: and alarms)?"
    r"|(?:my |the )?(?:timers|alarms)|do i have (?:any )?(?:timers|alarms)(?: set| running)?"
    r"|how (?:long|much time) is left(?: on (?:my|the) timer)?"
    r"|how (?:long|much time) do i have left(?: on (?:my|the) timer)?"
)
_OPEN_RE = re.compile(
    r"(?:open|launch|open up|bring up|fire up)(?: the| a| an| my)?"
    r"(?: (?:app|application|program|website|web ?site|page|site|web page))?"
    r"(?: called| named)?\s+(?P<t>.+?)(?: for me)?[.!]*",
    re.IGNORECASE | re.DOTALL,
)
# A suffix only after a space or comma: "example.org/parley" keeps its last word.
_LIGHT_TAIL_RE = re.compile(r"[\s,]+[\s,.!]*(?:please|thanks|thank you|parley)[\s.!]*$")
_URLISH = re.compile(r"(?:https?://)?[\w-]+(?:\.[\w-]+)+(?::\d+)?(?:/\S*)?", re.IGNORECASE)


def _light(text: str) -> str:
    """The user's words with politeness peeled off the edges, casing kept."""
    light = " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).split())
    low = light.lower()
    if len(low) != len(light):
        light = low
    while (m := _LIGHT_PREFIX_RE.match(low)) and m.end() < len(low):
        light, low = light[m.end():], low[m.end():]
    while (m := _LIGHT_TAIL_RE.search(low)) and m.start() > 0:
        light, low = light[: m.start()], low[: m.start()]
    return light


def _tool_command(text: str) -> Intent | None:
    """Commands on the original casing (note text, web addresses keep theirs)."""
    light = _light(text)
    low = light.lower()
    if _NOTE_CLEAR.fullmatch(low.rstrip(" .!")):
        return Intent(IntentName.NOTE_CLEAR, HIGH)
    for pattern in _NOTE_DELETE_RES:
        if m := pattern.fullmatch(low):
            note = light[m.start("t"): m.end("t")].strip(" \t\"'.,;:!?-")
            if any(c.isalnum() for c in note):
                return Intent(IntentName.NOTE_DELETE, HIGH, {"text": note})
    if m := _OPEN_RE.fullmatch(light):
        target = m["t"].strip(" \"'")
        if _URLISH.fullmatch(target):
            return Intent(IntentName.OPEN, HIGH, {"url": target})
        if 0 < len(target.split()) <= 3 and not _NEGATION.search(low):
            return Intent(IntentName.OPEN, 0.85, {"app": target})
    return None


def _timer_command(core: str) -> Intent | None:
    if _TIMER_LIST.fullmatch(core):
        return Intent(IntentName.TIMER_LIST, HIGH)
    return None


# "to hundred" is no English ("up to a hundred" is): a recogniser's "too
# hundred" is "two hundred", in a sum or a duration alike.
_TWO_BEFORE_A_SCALE = re.compile(r"\b(?:to|too) (?=(?:hundred|thousand)\b)")
_STAGES: list[Callable[[str], Intent | None]] = [_word_intent, _timer_command]
_DIGIT_STAGES: list[Callable[[str], Intent | None]] = [
    _timer_cancel, _alarm_intent, _timer_intent, _calculate,
]


def parse(text: str) -> Intent | None:
    """The rule intent of one utterance (typed or transcribed), or None."""
    if not text or not text.strip():
        return None
    if intent := _note_intent(text):
        return intent
    if intent := _tool_command(text):
        return intent
    variants = list(reversed(_strip_edges(_normalise(text))))
    if not variants[0]:
        return None
    for core in variants:
        for stage in _STAGES:
            if intent := stage(core):
                return intent
        digits = digitize(_TWO_BEFORE_A_SCALE.sub("two ", core))
        for stage in _DIGIT_STAGES:
            if intent := stage(digits):
                return intent
    return _fallback(digitize(variants[0]))


# --- answers to a confirmation question ----------------------------------------

_YES = re.compile(
    r"(?:oh |well |um |uh )?(?:yes|yeah|yep|yup|yea|sure|ok|okay|alright|all right|correct|confirm"
    r"|confirmed|affirmative|absolutely|definitely|of course|do it|go ahead|go for it|please do"
    r"|that is right|that is fine|fine)"
    r"(?: (?:yes|please|do it|go ahead|thanks|thank you|sure|confirm|delete it|open it|send it"
    r"|do that|that is fine|that is right|parley|go for it))*"
)
_NO = re.compile(
    r"(?:oh |well |um |uh )?(?:no|nope|nah|no way|don't|do not|cancel|stop|never mind|nevermind"
    r"|negative|not now|no thanks|no thank you|don't do it|do not do it|abort|forget it)"
    r"(?: (?:no|thanks|thank you|do not|don't|do it|cancel it|cancel that|parley|please))*"
)


def is_yes(text: str) -> bool:
    """A plain yes to a question Parley asked ("yes", "sure, go ahead"); a yes
    with anything else in it ("yes but not that one") is not."""
    core = _normalise(text)
    return bool(core) and _YES.fullmatch(core) is not None


def is_no(text: str) -> bool:
    core = _normalise(text)
    return bool(core) and _NO.fullmatch(core) is not None
