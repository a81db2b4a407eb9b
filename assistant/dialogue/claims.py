"""Parley never says it did something that no tool did.

A small language model writes "Opened https://example.org in your web
browser." or "I've set a timer for you." when nothing ran: the user then
waits for a page or a timer that never comes. `find_claim` recognises a clause
that claims (or promises) an action of one of the tool families; `ClaimGate`
holds such a clause back while a reply streams, until it can be checked
against the tools that succeeded in the turn; `correction` is what Parley
says instead (dialogue/manager.py `_answer_llm`).

What counts as a claim, one clause at a time:
- the first person with a past, perfect, progressive or future verb of a
  family, tied to its object: "I've opened example.org", "I have set an
  alarm", "I'm opening your browser", "I'll remind you at five";
- a clause that opens with the participle, as tools word their results:
  "Opened https://example.org", "Noted.", "Deleted your note";
- a headline or passive: "Timer set for 5 minutes", "Your note has been
  saved", "The email has been sent".
The "world" family is the actions no Parley tool can do in the user's world
(buying, ordering, booking, paying, calling someone, switching or dimming
lights, locking doors, watering plants, playing music…): each verb is tied to
what it acts on ("I'll order a pizza", "I've turned the lights off", "I'm
calling your mum", "Booked!", "Your table is booked"); no tool backs it, so
it is always corrected with what Parley can do instead.
Not claims: offers and abilities ("I can open web pages if you ask"),
negations ("I haven't opened anything"), questions, conditions ("once the
timer is set…"), and history ("Opened in 1850, the bridge…", "the first email
was sent in 1971").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.dialogue.tools import ToolOutcome


@dataclass(frozen=True)
class Family:
    name: str
    tools: frozenset[str]
    """Tools whose success in the turn backs a claim of this family."""
    correction: str
    """What Parley says instead of an unbacked claim: true whatever an earlier
    turn did ("just now"), and how to get the action done."""


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "open",
            frozenset({"open_url", "open_app"}),
            "I haven't opened anything just now. To open a page or an app, say \"open\" "
            'and its name, like "open example.org".',
        ),
        Family(
            "timer",
            frozenset({"set_timer", "set_alarm"}),
            "I haven't set a timer or an alarm just now. To set one, say "
            '"set a timer for 10 minutes".',
        ),
        Family(
            "cancel",
            frozenset({"cancel_timer"}),
            'I haven\'t cancelled anything just now. To cancel a timer, say "cancel the timer".',
        ),
        Family(
            "delete",
            frozenset({"delete_note", "delete_all_notes"}),
            'I haven\'t deleted anything just now. To delete a note, say "delete the note" '
            "and what it says.",
        ),
        Family(
            "note",
            frozenset({"add_note"}),
            'I haven\'t saved a note just now. To save one, say "take a note" and what to write.',
        ),
        Family(
            "world",
            frozenset(),
            "I haven't done that, and I can't: I can't act on things outside this computer. "
            "I can set timers and alarms, take notes, and open apps and pages.",
        ),
        Family(
            "send",
            frozenset({"draft_email"}),
            "I haven't sent anything, and I can't send messages: I can draft an email in your "
            "mail program for you to send.",
        ),
    )
}


@dataclass(frozen=True)
class Claim:
    family: str
    words: str
    """The words of the clause that make the claim."""


# -- vocabulary ---------------------------------------------------------------------------------

_URL = (
    r"(?:https?://\S+|www\.\S+"
    r"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|dev|edu|gov|co|uk|de|fr|app|ai)\b)"
)
_IT = r"(?:it|that|this|them|one)\b"
_TIMER_N = r"(?:timers?|alarms?|reminders?|countdowns?)\b"
_NOTE_N = r"(?:notes?|to-?dos?|(?:shopping |to-?do )?list)\b"
_MAIL_N = r"(?:e-?mails?|mails?|messages?|drafts?|texts?|letters?|invitations?|repl(?:y|ies))\b"
_WORLD_THING = r"(?:[\w'-]+\W+){0,3}?"
"""Up to three words before the thing acted on ("the kitchen lights")."""
_PERSON = (
    r"(?:your\b|him\b|her\b|them\b|mum|mom|mother|dad|father|parents|wife|husband|partner"
    r"|sister|brother|friend|boss|doctor|dentist|plumber|the (?:police|doctor|office|shop)"
    r"|(?:a|an) (?:taxi|cab|ambulance|plumber|doctor))"
)
_GOODS = (
    r"(?:pizzas?|food|meals?|dinner|lunch|breakfast|coffee|tea|drinks?|water|beer|wine|snacks?"
    r"|sandwich(?:es)?|curry|cake|groceries|shopping|tickets?|taxis?|cabs?|presents?|gifts?"
    r"|flowers|umbrella|keys|coat|medicine|parcels?|packages?)\b"
)
_PLACE = (
    r"(?:shops?|store|supermarket|market|pharmacy|chemist|bank|post office|station|airport"
    r"|cinema|restaurant|cafe|pub|bakery|hotel|hospital|doctor's|office|door|kitchen|garden"
    r"|garage|car)\b"
)
_TO = r"(?:to|down to|over to|round to|into)"
_OPEN_N = (
    r"(?:(?:web ?)?pages?|websites?|sites?|links?|urls?|browser|tabs?|apps?|applications?"
    r"|programs?)\b"
)


@dataclass(frozen=True)
class _Verbs:
    family: str
    past: str
    """Past tense or participle, after "I", "I've", "I have just"."""
    base: str
    """After "I'll", "I will", "I'm going to"."""
    ing: str
    """After "I'm", "I am"."""
    tie: str
    """The object that must follow within five words ("" = none needed)."""


# Checked in this order: "deleted the timer" is a cancel, "deleted the note" a delete.
_VERBS = (
    _Verbs("timer", r"set|started|scheduled|created|added|put",
           r"set|start|schedule|create|add|put", r"setting|starting|scheduling|creating",
           rf"{_TIMER_N}|(?:it|one) for\b"),
    _Verbs("timer", r"reminded", r"remind", r"reminding", r"you\b"),
    _Verbs("cancel", r"cancell?ed|stopped|turned off|switched off|disabled|called off|deleted"
           r"|removed|cleared", r"cancel|stop|turn off|switch off|disable|delete|remove",
           r"cancell?ing|stopping|turning off|switching off|deleting|removing", _TIMER_N),
    _Verbs("delete", r"deleted|removed|erased|cleared|wiped|got rid of",
           r"delete|remove|erase|clear|wipe|get rid of",
           r"deleting|removing|erasing|clearing|wiping|getting rid of",
           rf"{_NOTE_N}|{_IT}|everything|all\b|entry|entries|items?\b"),
    _Verbs("note", r"noted|made a note|taken a note|took a note|taken note|took note",
           r"make a note|take a note|note down", r"making a note|taking a note|noting", ""),
    _Verbs("note", r"saved|stored|recorded|written down|wrote down|jotted down|jotted",
           r"save|store|record|write down|jot down|note",
           r"saving|storing|recording|writing down|jotting down",
           rf"{_NOTE_N}|{_IT}|down\b|your\b|(?:in|to) your"),
    _Verbs("note", r"added|put", r"add|put", r"adding|putting", rf"{_NOTE_N}|(?:in|to) your"),
    _Verbs("send", r"sent|emailed|e-mailed|mailed|forwarded|drafted|texted|messaged",
           r"send|email|e-mail|mail|forward|draft|text|message",
           r"sending|emailing|e-mailing|mailing|forwarding|drafting|texting|messaging",
           rf"{_MAIL_N}|{_IT}"),
    _Verbs("open", r"opened|launched", r"open|launch", r"opening|launching",
           rf"{_URL}|{_OPEN_N}|{_IT}"),
    # Actions in the user's world, which no tool does ("world"). Each verb is
    # tied to what it acts on, so "I'll turn to your question", "I'll pay
    # attention" or "I'll call it a day" are not claims.
    _Verbs("world", r"bought|purchased|ordered|booked|reserved|rented|hired",
           r"buy|purchase|order|book|reserve|rent|hire",
           r"buying|purchasing|ordering|booking|reserving|renting|hiring",
           r"(?:a|an|some|you|your|the|two|three|four|\d+|it|them|tickets?|tables?|rooms?"
           r"|flights?|taxis?|cabs?|pizzas?|food|takeaway|groceries)\b"),
    _Verbs("world", r"paid|transferred|wired|sent|donated", r"pay|transfer|wire|send|donate",
           r"paying|transferring|wiring|sending|donating",
           r"(?:bills?|rent|invoices?|fees?|fines?|money|cash|funds|payments?|deposit|pounds"
           r"|dollars|euros|it\b|them\b|[\u00a3$\u20ac]\s?\d)"),
    _Verbs("world", r"got|given|gave|brought|fetched|delivered|made|cooked|poured",
           r"get|give|bring|fetch|deliver|make|cook|pour",
           r"getting|giving|bringing|fetching|delivering|making|cooking|pouring",
           rf"(?:you|your)\W+{_WORLD_THING}{_GOODS}"),
    _Verbs("world", r"went|gone|driven|walked|headed|come|came",
           r"go|drive|walk|head|come|pop|nip|run", r"going|driving|walking|heading|coming|popping"
           r"|nipping|running", rf"{_TO} {_WORLD_THING}{_PLACE}"),
    _Verbs("world", r"called|phoned|rang|dialled|dialed|rung|video-?called|facetimed",
           r"call|phone|ring|dial|video-?call|facetime",
           r"calling|phoning|ringing|dialling|dialing|video-?calling|facetiming",
           _PERSON),
    _Verbs("world", r"turned|switched|flipped|flicked",
           r"turn|switch|flip|flick", r"turning|switching|flipping|flicking",
           r"(?:on|off|up|down)\b(?! to\b| (?:your|the|a|an|this|that|my) (?:question|topic"
           r"|subject|story|answer))"),
    _Verbs("world", r"dimmed|brightened|locked|unlocked|watered|fed|closed|shut|heated|cooled"
           r"|adjusted|raised|lowered|muted|unmuted|paused|resumed|started|stopped|charged"
           r"|vacuumed|cleaned|warmed up|cooled down|set",
           r"dim|brighten|lock|unlock|water|feed|close|shut|heat|cool|adjust|raise|lower|mute"
           r"|unmute|pause|resume|start|stop|charge|vacuum|clean|warm up|cool down|set",
           r"dimming|brightening|locking|unlocking|watering|feeding|closing|shutting|heating"
           r"|cooling|adjusting|raising|lowering|muting|unmuting|pausing|resuming|starting"
           r"|stopping|charging|vacuuming|cleaning|warming up|cooling down|setting",
           rf"{_WORLD_THING}(?:lights?|lamps?|doors?|windows?|locks?|gates?|garage|blinds"
           r"|curtains|heating|heater|thermostat|temperature|radiators?|boiler|fan|air con"
           r"|aircon|air conditioning|oven|kettle|dishwasher|washing machine|washer|dryer"
           r"|fridge|tv|television|telly|radio|speakers?|volume|music|alarm system|car|engine"
           r"|plants?|garden|lawn|flowers|cat|dog|pets?|fish|house|floor|carpet|robot)\b"),
    _Verbs("world", r"played|streamed|put on|queued", r"play|stream|put on|queue",
           r"playing|streaming|putting on|queueing|queuing",
           rf"{_WORLD_THING}(?:music|songs?|tracks?|tunes?|playlists?|albums?|radio|podcasts?"
           r"|jazz|rock|pop|classical|blues|hip-?hop|rap|country|reggae|soul|metal|folk"
           r"|beethoven|mozart|bach|spotify|the news)\b"),
)  # fmt: skip

# Headline and passive: noun, optional auxiliary, participle.
_PASSIVE = (
    ("timer", _TIMER_N, r"set|started|scheduled|created|added"),
    ("cancel", _TIMER_N, r"cancell?ed|stopped|turned off|deleted|removed|cleared"),
    ("delete", _NOTE_N, r"deleted|removed|erased|cleared"),
    ("note", _NOTE_N, r"saved|added|taken|created|stored|recorded|noted|made"),
    ("send", _MAIL_N, r"sent|drafted|forwarded|delivered"),
    ("open", _OPEN_N, r"opened|launched|loaded"),
    ("world", r"(?:tables?|reservations?|bookings?|orders?|pizzas?|food|tickets?|flights?"
     r"|rooms?|taxis?|cabs?|deliver(?:y|ies)|payments?|bills?|money|transfers?|lights?|doors?"
     r"|windows?|heating|thermostat|music|plants?|calls?|purchases?)\b",
     r"booked|reserved|ordered|placed|confirmed|paid|bought|purchased|transferred|on (?:its|the)"
     r" way|turned (?:on|off|up|down)|switched (?:on|off)|dimmed|locked|unlocked|watered"
     r"|playing|made|arranged|scheduled"),
)

# A clause that opens with the participle ("Opened …", "Noted.").
_OPENERS = {
    "opened": "open", "launched": "open",
    "deleted": "delete", "removed": "delete", "erased": "delete", "cleared": "delete",
    "noted": "note", "saved": "note", "added": "note",
    "sent": "send", "emailed": "send", "drafted": "send",
    "cancelled": "cancel", "canceled": "cancel", "stopped": "cancel",
    "booked": "world", "ordered": "world", "reserved": "world", "bought": "world",
    "purchased": "world", "paid": "world", "called": "world", "phoned": "world",
    "dimmed": "world", "locked": "world", "unlocked": "world", "watered": "world",
}  # fmt: skip

_ADVERBS = (
    r"(?:\s+(?:just|already|now|also|successfully|quickly|finally|gone ahead and"
    r"|went ahead and|then|all))*"
)
_SUBJECTS = (
    ("past", r"\bi(?:'ve| have)?"),
    ("base", r"\bi(?:'ll| will| am going to|'m going to)"),
    ("ing", r"\bi(?:'m| am)"),
)
_CONDITION = re.compile(
    r"\b(?:if|when|whenever|once|after|before|until|unless|can|could|would|should|might|may"
    r"|shall)\b"
)
_LEAD = r"(?:(?:ok(?:ay)?|done|sure|alright|all right|great|there you go|yes|right)\W+)*"
_CLAUSE_END = re.compile(r"[.!?;,:](?=\s|$)|\n|\s[-\u2013\u2014]\s")


def _normalise(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").split())


def _first_person(verbs: _Verbs, clause: str) -> re.Match[str] | None:
    for form, subject in _SUBJECTS:
        pattern = rf"{subject}{_ADVERBS}\s+(?:{getattr(verbs, form)})\b"
        if verbs.tie:
            pattern += rf"(?:\W+[\w'-]+){{0,4}}?\W+(?:{verbs.tie})"
        m = re.search(pattern, clause)
        if m is not None:
            return m
    return None


def _opened_by_name(verbs: _Verbs, clause: str, original: str) -> re.Match[str] | None:
    """ "I've launched Firefox", "I'll call Sarah": an application or a person
    is named, not tied by a noun."""
    going = verbs.tie.startswith(_TO)  # "I'm going to York": a place is named
    named = verbs.family == "open" or verbs.tie == _PERSON or going
    if not named or len(clause) != len(original):
        return None
    to = rf"{_TO}\s+" if going else ""
    for form, subject in _SUBJECTS:
        m = re.search(rf"{subject}{_ADVERBS}\s+(?:{getattr(verbs, form)})\s+{to}", clause)
        if m is not None and original[m.end() : m.end() + 1].isupper() and (
            not re.match(r"I\b", original[m.end() :])  # "I'm going to I don't know"
        ):
            return m
    return None


def _passive(noun: str, participles: str, clause: str) -> re.Match[str] | None:
    m = re.search(
        rf"(?:\b(?P<det>your|the|a|an|my|both|all)\s+)?(?:new\s+)?\b{noun}\s+"
        rf"(?:(?P<aux>has|have|is|are|was|were)\s+)?(?P<adv>(?:(?:now|been|just|successfully"
        rf"|all|already)\s+)*)(?:{participles})\b",
        clause,
    )
    if m is None:
        return None
    aux, mine = m.group("aux"), m.group("det") == "your"
    if aux is None:  # headline style: only as the clause's start ("Timer set…")
        lead = re.match(rf"{_LEAD}(?:(?:your|the|a|an|my|new|both|all)\s+)*", clause)
        return m if lead is not None and m.start() <= lead.end() else None
    if aux in ("was", "were") and not mine:
        return None  # "the first email was sent in 1971": history, not Parley
    if aux in ("is", "are") and not (mine or "now" in m.group("adv")):
        return None  # "a timer is set by saying…": how things work, not what was done
    return m


def _opener(clause: str, original: str) -> Claim | None:
    m = re.match(rf"{_LEAD}(?P<verb>[a-z]+)\b(?P<rest>.*)", clause)
    if m is None or m.group("verb") not in _OPENERS:
        return None
    family = _OPENERS[m.group("verb")]
    rest = m.group("rest").strip()
    if not rest or re.fullmatch(r"[\W_]*", rest):
        return Claim(family, original)  # "Noted." "Deleted!"
    if re.match(r"(?:in|on|to|into|from) your\b", rest):
        return Claim(family, original)  # "Opened in your browser", "Added to your notes"
    if re.match(r"(?:in|on|at|by|during|since|from|around|for|as|with|after|before|of)\b", rest):
        return None  # "Opened in 1850, the bridge…", "Saved by the bell"
    # "Deleted the timer" is a cancel; "Deleted your note" a delete.
    families = (family, "cancel") if family == "delete" else (family,)
    for verbs in _VERBS:
        if verbs.family == "world" and not re.fullmatch(verbs.past, m.group("verb")):
            continue  # "Called the Big Apple": only the verb's own objects tie
        tied = rf"(?:[\w'-]+\W+){{0,3}}?(?:{verbs.tie})"
        if verbs.tie and verbs.family in families and re.match(tied, rest):
            return Claim(verbs.family, original)
    named = len(clause) == len(original) and re.match(r"\s*[A-Z]", original[m.start("rest") :])
    if family == "open" and named:  # "Opened Firefox"
        return Claim(family, original)
    return None


def _clauses(text: str) -> list[str]:
    out, start = [], 0
    for m in _CLAUSE_END.finditer(text):
        out.append(text[start : m.end()].strip())
        start = m.end()
    out.append(text[start:].strip())
    return [c for c in out if c]


def find_claim(text: str) -> Claim | None:
    """The first clause of `text` that claims or promises an action of a tool
    family, or None."""
    for original in _clauses(_normalise(text)):
        clause = original.lower()
        if clause.endswith("?"):
            continue  # a question asks; it claims nothing
        for verbs in _VERBS:
            m = _first_person(verbs, clause) or _opened_by_name(verbs, clause, original)
            if m is not None and not _CONDITION.search(clause[: m.start()]):
                return Claim(verbs.family, original[m.start() : m.end()])
        for family, noun, participles in _PASSIVE:
            m = _passive(noun, participles, clause)
            if m is not None and not _CONDITION.search(clause[: m.start()]):
                return Claim(family, original[m.start() : m.end()])
        claim = _opener(clause, original)
        if claim is not None:
            return claim
    return None


def backed(claim: Claim, actions: Sequence[tuple[str, ToolOutcome]]) -> bool:
    """Whether a tool of the claim's family succeeded in the turn."""
    tools = FAMILIES[claim.family].tools
    return any(name in tools and outcome.ok for name, outcome in actions)


def unbacked_claim(text: str, actions: Sequence[tuple[str, ToolOutcome]]) -> Claim | None:
    """The first claim in `text` that no successful tool of the turn backs."""
    claim = find_claim(text)
    return claim if claim is not None and not backed(claim, actions) else None


def correction(claim: Claim) -> str:
    return FAMILIES[claim.family].correction


# -- streaming ------------------------------------------------------------------------------------

_PRONOUNS = {"i", "i've", "i'll", "i'm"}
_NOUNS = {
    "timer", "timers", "alarm", "alarms", "reminder", "reminders", "countdown", "note",
    "notes", "email", "emails", "e-mail", "message", "messages", "draft", "page", "website",
    "browser", "app", "list", "table", "reservation", "booking", "order", "pizza", "ticket",
    "tickets", "taxi", "payment", "light", "lights", "door", "heating", "music", "call",
}  # fmt: skip
_DETERMINERS = {"your", "the", "a", "an", "my", "both", "all", "new"}
"""Held for one word: "Your timer has been set" is a claim from "Your" on."""
_TRIGGERS = _PRONOUNS | _NOUNS | _DETERMINERS | set(_OPENERS)
_CONNECT = {
    "'ve", "have", "has", "'ll", "will", "'m", "am", "just", "already", "now", "also",
    "successfully", "quickly", "finally", "gone", "went", "go", "ahead", "and", "then", "all",
    "going", "to", "be", "sure", "definitely", "is", "are", "was", "were", "been",
}  # fmt: skip


def _first_words(*alternations: str) -> set[str]:
    return {alt.split()[0] for a in alternations for alt in a.split("|") if alt}


_ACTION_WORDS = _first_words(*(f"{v.past}|{v.base}|{v.ing}" for v in _VERBS)) | {
    "cancelled", "canceled", "cancelling", "canceling",
} | _first_words(*(p for _f, _n, p in _PASSIVE))  # fmt: skip
_HOLD_WORDS = 8
"""Past a trigger, a clause is let out after this many words with no claim:
claims are short ("I've just set a timer for you")."""


def _word(token: str) -> str:
    return token.lower().replace("\u2019", "'").strip(".,!?;:\"()")


def _may_claim(trigger: str, before: str, after: list[str], growing: bool) -> bool:
    """Whether the clause, `before` + `trigger` + the words `after` it so far,
    may still turn out to claim an action from the trigger on. `growing`: the
    last word of `after` is still being written."""
    word = _word(trigger)
    if growing and after:
        last = _word(after[-1])
        if any(w.startswith(last) for w in _CONNECT | _ACTION_WORDS | _NOUNS | _DETERMINERS):
            after = after[:-1]  # it may become a claim's word: decide on the rest
    if word in _DETERMINERS:
        nouns = [i for i, t in enumerate(after) if _word(t) not in _DETERMINERS]
        if not nouns:
            return True  # undecided yet
        noun = after[nouns[0]]
        return _word(noun) in _NOUNS and _may_claim(noun, before, after[nouns[0] + 1 :], False)
    if word in _OPENERS and word not in _NOUNS:
        # A participle claims only as the clause's first word ("Opened …").
        lead = before.lower().strip() + " " if before.strip() else ""
        return re.fullmatch(_LEAD, lead) is not None
    if len(after) > _HOLD_WORDS:
        return False
    for token in after:
        w = _word(token)
        if w in _ACTION_WORDS:
            return True  # a claim's verb: hold the clause to its end, then check it
        if w not in _CONNECT:
            return False  # "I think…", "Note that…", "The timer is a…"
    return True  # undecided yet


class ClaimGate:
    """Lets a streamed reply out clause by clause. From a word a claim can
    start with ("I", "I've", "Opened", "timer"…) the clause is held until it
    ends or can no longer be a claim, then checked; text before that goes out
    at once, so an ordinary reply keeps its first-word latency.

    `feed` returns the text that may be said now. Once a clause makes a claim
    no successful tool of the turn backs, `claim` is set and nothing more comes
    out: the caller stops the generation and says `correction(claim)`."""

    def __init__(self, actions: Sequence[tuple[str, ToolOutcome]]) -> None:
        self.actions = actions
        self.claim: Claim | None = None
        self._clause = ""  # the clause being written
        self._said = 0  # how much of it has been let out

    def feed(self, delta: str) -> str:
        if self.claim is not None:
            return ""
        self._clause += delta
        out = []
        while (end := self._clause_end()) is not None:
            done, self._clause = self._clause[:end], self._clause[end:]
            said, self._said = self._said, 0
            if self._check(done):
                return "".join(out)
            out.append(done[said:])
        out.append(self._release())
        return "".join(out)

    def close(self) -> str:
        """The end of the reply: the rest of it, checked."""
        if self.claim is not None:
            return ""
        done, self._clause = self._clause, ""
        said, self._said = self._said, 0
        return "" if self._check(done) else done[said:]

    def _check(self, clause: str) -> bool:
        self.claim = unbacked_claim(clause, self.actions)
        return self.claim is not None

    def _clause_end(self) -> int | None:
        # A stop at the very end of the text so far may be the "." of
        # "example.org": it ends the clause only once more text follows.
        for m in _CLAUSE_END.finditer(self._clause):
            if m.end() < len(self._clause):
                return m.end()
        return None

    def _release(self) -> str:
        """What of the unfinished clause may be said now."""
        clause = self._clause
        if unbacked_claim(clause, self.actions) is not None:
            return ""  # a long clause already claims ("I've ordered a curry from…"): hold it
        hold = len(clause)
        for m in re.finditer(r"\S+", clause):
            if m.start() < self._said:
                continue
            whole = m.end() < len(clause)  # a word still being written may grow
            word = _word(m.group())
            if not whole:
                if any(t.startswith(word) for t in _TRIGGERS) or not word:
                    hold = m.start()
                break
            rest = clause[m.end() :]
            growing = bool(rest) and not rest[-1].isspace()
            if word in _TRIGGERS and _may_claim(
                m.group(), clause[: m.start()], rest.split(), growing
            ):
                hold = m.start()
                break
        hold = max(hold, self._said)
        out, self._said = clause[self._said : hold], hold
        return out
