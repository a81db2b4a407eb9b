"""Is the user frustrated with Parley? A small rule lexicon, not a model.

Why rules: this runs on every turn before anything else, offline, in
microseconds, and must be predictable. General sentiment scorers (VADER, or
a classifier) rate how negative the *topic* is: "what's wrong with my code"
or "I had a terrible day" score as negative, yet they are ordinary requests.
We need something narrower: frustration *aimed at the assistant* ("that's
wrong", "you're not listening", "stupid assistant", "ugh"). Those turns follow
a handful of shapes, so each pattern below names who is blamed (you / that /
this) or is a bare exclamation that fills the whole turn.

`negativity()` gives the weight of the strongest matching pattern (0..1);
`is_negative()` compares it with `THRESHOLD`. Weaker patterns (a lone "come
on") stay below the threshold so one ambiguous phrase is not flagged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

THRESHOLD = 0.5


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    weight: float
    kind: str  # "wrong", "not_listening", "insult", "exclamation"


# Words that, right after "wrong", show it is about something else:
# "it is wrong to lie", "that's wrong with the world".
_NOT_ABOUT_US = r"(?!\s+(?:with|to|about|for|in|when|if|because|of|way)\b)"
_END = r"\s*(?:again|as usual|this time|too|honestly|seriously|parley|you idiot)?\s*$"
_BAD = r"(?:useless|stupid|dumb|hopeless|pointless|rubbish|garbage|terrible|awful|broken|annoying)"
_USELESS = r"(?:useless|stupid|dumb|hopeless|pointless|rubbish|garbage|ridiculous)"
_WHO = r"(?:assistant|bot|robot|machine|thing|computer|app|program|ai|parley)"
_SAID = r"not (?:what i (?:said|asked|meant|wanted|asked for)|it|right|correct|true)"

_RULES = [
    _Rule(re.compile(p), w, k)
    for p, w, k in [
        # Corrections: "that's wrong", "you got it wrong again", "no that's not what I said".
        (rf"\b(?:that|this|it|you|your answer|the answer) (?:is|was|are|were) "
         rf"(?:all |completely |totally |so |just |still )?(?:wrong|incorrect){_NOT_ABOUT_US}", 0.9,
         "wrong"),
        (r"\byou (?:got|get|have|did|understood|heard|misunderstood)(?: it| that| this| me)?"
         r"(?: all| completely)? ?(?:wrong|backwards|incorrectly)\b", 0.9, "wrong"),
        (r"\byou misunderstood\b|\byou misheard\b", 0.8, "wrong"),
        (rf"\b(?:that|this|it) is {_SAID}\b", 0.8, "wrong"),
        (r"\b(?:no|nope|wrong)\b.*\bi (?:said|asked|meant)\b", 0.7, "wrong"),
        (rf"^(?:no |nope )*(?:wrong|incorrect|not even close|wrong again|still wrong){_END}", 1.0,
         "wrong"),
        (r"\bthat (?:makes no|does not make any|doesn't make any|does not make|doesn't make) sense",
         0.7, "wrong"),
        # Not listening / not understanding.
        (r"\byou (?:are|were) not (?:listening|helping|understanding|getting it|getting this)\b",
         1.0, "not_listening"),
        (r"\byou (?:never|don't|do not|can't|cannot) (?:listen|understand|get it)\b", 0.9,
         "not_listening"),
        (r"\bwhy (?:can't|cant|won't|wont|don't|do not|can not) you (?:understand|listen|get)",
         0.9, "not_listening"),
        (r"\b(?:are you|you) deaf\b|\bare you even listening\b|\blisten to me\b", 0.9,
         "not_listening"),
        # Insults and "useless": about "you/this" or an assistant word, not any noun.
        (rf"\byou(?: are| were)? (?:so |really |completely |totally |just )?{_BAD}\b", 1.0,
         "insult"),
        # Narrower for "this/that": "it was awful" is as likely about a film as about us.
        (rf"\b(?:this|that) (?:is|was) (?:so |really |completely |totally |just )?{_USELESS}{_END}",
         0.9, "insult"),
        (rf"\b(?:stupid|dumb|useless|idiotic|worthless|terrible|awful|hopeless) {_WHO}\b", 1.0,
         "insult"),
        (r"\bwhat is wrong with you\b|\bwhat's wrong with you\b|\byou idiot\b|\bi give up\b",
         0.9, "insult"),
        # Exclamations that make up the whole turn.
        (r"^(?:ugh+|argh+|urgh+|gah+|ffs|for fuck's sake|for god's sake|for crying out loud"
         r"|oh my god|omg|seriously|are you kidding me|you must be kidding|damn it|dammit"
         r"|come on|oh come on|not again|no no no+|no no)"
         r"(?: (?:again|parley|seriously|no|not again|come on))*$", 0.8, "exclamation"),
        (r"^(?:come on|seriously)\b", 0.4, "exclamation"),
    ]
]

_ACKNOWLEDGEMENTS = {
    "wrong": "Sorry, I got that wrong. Could you say it again?",
    "not_listening": "Sorry, I misunderstood. Could you say it another way?",
    "insult": "Sorry I let you down. Tell me again what you need and I'll try once more.",
    "exclamation": "Sorry, that wasn't helpful. What should I do instead?",
}
_DEFAULT_ACK = _ACKNOWLEDGEMENTS["wrong"]


def _normalise(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    t = re.sub(r"\b(that|what|it)'s\b", r"\1 is", t)
    t = re.sub(r"\b(that|what)s\b", r"\1 is", t)
    t = re.sub(r"\byou're\b|\byoure\b", "you are", t)
    t = re.sub(r"[^\w\s']", " ", t)
    return " ".join(t.split())


def _best(text: str) -> _Rule | None:
    t = _normalise(text)
    best: _Rule | None = None
    for rule in _RULES:
        if rule.pattern.search(t) and (best is None or rule.weight > best.weight):
            best = rule
    return best


def negativity(text: str) -> float:
    """0..1: how clearly `text` is frustration aimed at Parley."""
    rule = _best(text)
    return rule.weight if rule else 0.0


def is_negative(text: str) -> bool:
    """True for a frustrated turn aimed at the assistant ("that's wrong", "ugh")."""
    return negativity(text) >= THRESHOLD


def acknowledgement(text: str) -> str:
    """A short reply owning the mistake, worded for the kind of frustration.

    For text that is not negative it returns the general apology: callers
    decide with `is_negative()` first."""
    rule = _best(text)
    return _ACKNOWLEDGEMENTS[rule.kind] if rule else _DEFAULT_ACK
