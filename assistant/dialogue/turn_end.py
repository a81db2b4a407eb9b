"""Is the user's request finished? The end of the turn judged by meaning.

While the user pauses, the ear asks `judge_turn` about the partial transcript.
A finished request ends the turn after a short hangover; an unfinished one is
waited for through a pause of up to `Settings.turn_wait_s` (docs/ARCHITECTURE.md,
"Turn-taking"). People hesitate at predictable places, and English grammar
says where a sentence cannot stop yet:

- after a function word: an article, preposition, conjunction, auxiliary,
  possessive, "and"/"or", a filler ("set a timer for", "what is the");
- after an operator that needs its second operand ("nine plus", "fifteen
  percent"), or a verb that needs its object ("tell me", "remind me to");
- after a relational noun whose complement is still to come ("what is the
  capital", "the population");
- after an indefinite object of a verb of telling ("tell me something");
- when an intent lacks a slot it cannot do without: a timer with no duration,
  an alarm with no time, a note with no text, a sum with one number.

A wrong "finished" cuts the user off; a wrong "unfinished" only waits longer.
So the judge leans towards "unfinished" where English usually goes on.

`continuation_question` words the question Parley asks when the wait ran out
and a request is still only half said ("For how long?", "Nine plus what?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from assistant.dialogue import intents
from assistant.dialogue.intents import RULE_CONFIDENCE, IntentName
from assistant.dialogue.tools import asks


class Missing(StrEnum):
    """What an unfinished request still needs."""

    NOTHING = ""
    WORDS = "words"
    """The sentence stops where English cannot (a function word, an operator)."""
    DURATION = "duration"
    CLOCK_TIME = "clock_time"
    NOTE_TEXT = "note_text"
    OPERAND = "operand"
    OBJECT = "object"
    """A verb that needs its object ("tell me", "remind me to")."""
    COMPLEMENT = "complement"
    """A relational noun or an indefinite object ("the capital", "something"):
    usually followed by more, but a request as it stands."""
    MORE = "more"
    """An auxiliary or question word at the end ("what is", "can you", "tell
    me what"): usually followed by more, but too vague to ask about."""


_SOFT = frozenset({Missing.COMPLEMENT, Missing.MORE})


@dataclass(frozen=True)
class TurnVerdict:
    complete: bool
    missing: Missing = Missing.NOTHING
    rule: bool = False
    """A rule will answer it as it stands (the reply is ready at once)."""
    dictation: bool = False
    """Its content is the user's own words (a note's text): people pause
    between items ("buy milk ... eggs ... bread"), so the turn ends only after
    the long wait."""
    sure: bool = True
    """A finished request that opens the way requests do (a question word, an
    auxiliary, a verb of asking or doing, a greeting). A transcript that opens
    otherwise is often a mishearing of a fragment ("said a diner" for "set a
    timer"): the turn then ends after a longer pause."""

    @property
    def asks(self) -> bool:
        """Still half said at the end of the wait: Parley asks for the rest
        rather than answering the fragment. A soft gap (COMPLEMENT, MORE) is
        handled as it stands."""
        return not self.complete and self.missing not in _SOFT


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ARTICLES = _words("a an the some any every each another no")
# "this", "that", "these", "those" are left out: at the end they are pronouns ("repeat that").
_POSSESSIVES = _words("my your his her its our their")
_PREPOSITIONS = _words(
    """
    to of in on at for with from by about into onto over under after before between
    through during without like as via per than until till around across against
    towards toward upon within near behind beside besides beyond
    """
)
_CONJUNCTIONS = _words("and or but nor so because if then when while whether unless although")
_AUXILIARIES = _words(
    "is are was were be been being am do does did have has had can could will would "
    "shall should may might must"
)
_CONTRACTED = _words(
    "what's it's there's that's i'm you're we're they're he's she's let's i'd i'll "
    "you'll we'll i've you've who's where's how's when's why's"
)
_FILLERS = _words("um uh er erm ah hmm mm uhm hm eh")
_INTENSIFIERS = _words("very really just also quite too so more most")
_QUESTION_WORDS = _words("what who whom whose which where when why how")
_OPERATORS = _words("plus minus times divided multiplied over percent add subtract")
_OPERATOR_PHRASES = (("divided", "by"), ("multiplied", "by"), ("percent", "of"), ("to", "the"))
_SUBJECT_PRONOUNS = _words("i you we they he she it")
_MODALS = _words("do does did can could will would shall should may might must")
# Verbs that take an object the request cannot do without: "tell me", "give me",
# "remind me", "set", "play". At the end (alone or with "me"/"us") they promise more.
_OBJECT_VERBS = _words(
    """
    tell give show remind set make play open call send add put bring find get search
    write read take teach sing describe explain define name list spell translate
    convert compare start create turn buy book let
    """
)
# Of those, verbs that stand alone as an activity: "learn to sing" is whole.
_INTRANSITIVE_TOO = _words("sing read write play start cook draw spell")
_RECIPIENTS = _words("me us him her them")
# Nouns that take an "of" complement: "what is the capital" is waiting for "of".
_RELATIONAL = _words(
    """
    capital population meaning definition opposite author president currency
    distance height length weight size area volume speed value price cost
    temperature age name color colour capitol mayor founder inventor root power
    square cube sum product average difference half point
    """
)
# "turn off", "switch on": a phrasal verb whose object follows its particle.
_PHRASAL = _words("turn switch shut put pick look write set plug hook")
_PARTICLES = _words("off on up down out")
# After a question word, words that make a whole question without a verb
# ("what about paris", "what else", "why not", "how come").
_VERBLESS_FOLLOW_UPS = _words("about else now not so come if for")
# Verbs whose object a "who ..." question asks for next: "who painted" (the
# Mona Lisa), "who invented" (the telephone).
_TRANSITIVE_PAST = _words(
    """
    wrote painted invented discovered founded built designed directed composed
    created made sang won killed played starred named owned owns invents
    discovers writes paints sings directs discover invent write paint compose
    found build design direct create sing own
    """
)
_INDEFINITE = _words("something anything someone anyone somewhere anywhere stuff")
_TELLING = _words("tell say write sing read teach show give explain")
_ONE_WORD_ANSWERS = _words(
    """
    yes yeah yep no nope stop cancel help thanks okay ok sure repeat pause resume
    continue quit exit hello hi bye goodbye correct right wrong why really great
    """
)
_NUMBER_WORDS = _words(
    """
    zero one two three four five six seven eight nine ten eleven twelve thirteen
    fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty
    sixty seventy eighty ninety hundred thousand million half quarter
    """
)
_FUNCTION_WORDS = (
    _ARTICLES | _POSSESSIVES | _PREPOSITIONS | _CONJUNCTIONS | _AUXILIARIES | _FILLERS
)
_NUMBER_TAKERS = _words("for in after")  # "a timer for five" awaits "minutes"
_ASKING = _words("what whats how calculate compute")
_WORD_RE = re.compile(r"[a-z0-9']+")
_CLAUSE_BREAK = re.compile(r"[,;.!?]")
# Nouns that name a thing to be made with content: "set a timer", "take a note".
_SLOT_NOUNS = {
    "timer": Missing.DURATION,
    "timers": Missing.DURATION,
    "countdown": Missing.DURATION,
    "alarm": Missing.CLOCK_TIME,
    "note": Missing.NOTE_TEXT,
    "notes": Missing.NOTE_TEXT,
    "reminder": Missing.NOTE_TEXT,
    "memo": Missing.NOTE_TEXT,
}
_MAKING = _words("set start make take add create write jot put new begin run")


# How requests to an assistant open: a question, an auxiliary, a verb of
# asking or doing, politeness, a greeting, the speaker themself.
_OPENERS = (
    _QUESTION_WORDS | _AUXILIARIES | _OBJECT_VERBS | _MAKING | _CONTRACTED | _PHRASAL
    | _words(
        """
        please hey hi hello good thanks thank okay ok so and also now then i i'm my we
        let's help stop cancel repeat pause resume continue check look calculate count
        say recommend suggest wake delete remove clear jot note explain tell whats
        whos hows wheres whens whys is are was were could would should might may
        """
    )
)

_PER_CENT = re.compile(r"\bper cent\b")


# A typed web address or path ("example.net/a", "~/notes.txt") is one thing,
# not words: its last piece is no trailing article.
_ADDRESS = re.compile(r"\S*[./\\@]\S*[a-z0-9]\S*", re.IGNORECASE)


def words_of(text: str) -> list[str]:
    """Lower-case words; "per cent" (a recogniser's British spelling) is one,
    and so is a web address or a path."""
    text = _PER_CENT.sub("percent", text.lower().replace("\u2019", "'"))
    text = _ADDRESS.sub(lambda m: m.group() if _NUMBER.fullmatch(m.group()) else " address ", text)
    return _WORD_RE.findall(text)


_NUMBER = re.compile(r"[\d.,]+%?")


def _is_number(word: str) -> bool:
    return word.isdigit() or word in _NUMBER_WORDS


def judge_turn(text: str) -> TurnVerdict:
    """Whether `text` (a partial transcript) reads as a finished request."""
    words = words_of(text)
    if words and words[-1] in _FILLERS:
        # "set a timer um": a filler at the end says more is coming.
        spoken = [w for w in words if w not in _FILLERS]
        gap = (_lexical_gap(spoken) or _slot_gap(spoken)) if spoken else Missing.NOTHING
        return TurnVerdict(False, gap or Missing.WORDS)
    if not words:
        return TurnVerdict(False, Missing.WORDS)
    if len(words) == 1:
        done = words[0] in _ONE_WORD_ANSWERS
        return TurnVerdict(done, Missing.NOTHING if done else Missing.WORDS)
    gap = _lexical_gap(words)
    if gap in (Missing.NOTHING, Missing.WORDS, Missing.OBJECT):
        # "set a timer for": the duration is what is missing (in the last clause).
        clauses = [c for c in _CLAUSE_BREAK.split(text) if words_of(c)]
        gap = _slot_gap(words_of(clauses[-1]) if clauses else words) or gap
    intent = intents.parse(text)
    if gap is Missing.DURATION and intent is not None and intent.name is IntentName.ALARM:
        gap = Missing.MORE  # "an alarm for seven": "thirty" may follow; as it stands, a time
    if gap is not Missing.NOTHING and not _whole_sum(intent):
        return TurnVerdict(False, gap)
    if intent is not None:
        missing = _intent_gap(intent)
        if missing is not Missing.NOTHING:
            return TurnVerdict(False, missing)
        return TurnVerdict(
            True,
            rule=intent.confidence >= RULE_CONFIDENCE,
            dictation=intent.name is IntentName.NOTE_ADD,
        )
    return TurnVerdict(True, sure=words[0] in _OPENERS and not _only_pointing(words))


_POINTING = _words("it this that these those he she they him them there")


def _only_pointing(words: list[str]) -> bool:
    """A question whose only content points at something unnamed ("what is
    it", "who was she", "where are they"): with nothing said before, often the
    first words of a longer one ("what is eight ..." heard as "what is it")."""
    if words[0] not in _QUESTION_WORDS:
        return False
    rest = [w for w in words[1:] if w not in _AUXILIARIES]
    return bool(rest) and all(w in _POINTING for w in rest)


def _lexical_gap(words: list[str]) -> Missing:
    """What the sentence's last words say is still to come."""
    last, before = words[-1], words[-2] if len(words) > 1 else ""
    if last in _OPERATORS or (before, last) in _OPERATOR_PHRASES:
        return Missing.OPERAND
    if last in ("am", "pm") and _is_number(before):
        return Missing.NOTHING  # "at seven am" (not the verb "am")
    if last == "like" and words[0] in ("what", "what's", "whats"):
        return Missing.NOTHING  # "what is the weather like"
    if last == "please":  # "could you please" waits; "lights off please" is done
        return Missing.MORE if before in _SUBJECT_PRONOUNS | _MODALS else Missing.NOTHING
    if last in _PARTICLES and before in _PHRASAL:
        return Missing.OBJECT  # "turn off" (the lights), "switch on"
    if last in _PARTICLES and any(w in _PHRASAL for w in words[-5:-2]):
        return Missing.NOTHING  # "turn it off", "switch the lights on"
    if _fronted_object(words):
        return Missing.NOTHING  # "what did she write", "where are you from"
    if last == "then" and before not in _CONJUNCTIONS and words[0] in _QUESTION_WORDS | _words(
        "what's whats where's who's"
    ):
        return Missing.NOTHING  # "what's today then", "why not then" (not "and then")
    if last in _ARTICLES | _POSSESSIVES | _PREPOSITIONS | _CONJUNCTIONS:
        return Missing.WORDS
    if last in _AUXILIARIES and before in _SUBJECT_PRONOUNS | _words("there"):
        return Missing.NOTHING  # "what do i have", "how old are you" ... "where is it"
    if last in _words("have has do be") and any(w in _MODALS for w in words[:-2]):
        return Missing.NOTHING  # "how many legs does a spider have", "what can it do"
    if last in _AUXILIARIES | _CONTRACTED | _INTENSIFIERS:
        return Missing.MORE  # "what is", "it's", "a very"
    if last in _SUBJECT_PRONOUNS and before in _MODALS:
        return Missing.MORE  # "can you", "how do i"
    if last in _QUESTION_WORDS and len(words) > 1:
        return Missing.MORE  # "tell me what", "do you know where"
    if last in _OBJECT_VERBS and before not in _ARTICLES | _POSSESSIVES:
        if last in _INTRANSITIVE_TOO and before == "to" and len(words) > 3:
            return Missing.NOTHING  # "a dragon who learns to sing", "help me learn to read"
        return Missing.OBJECT  # "please set", "can you tell" (not "the name")
    if last in _RECIPIENTS and before in _OBJECT_VERBS:
        return Missing.OBJECT  # "tell me", "remind me", "give us"
    if _is_number(last) and before in _NUMBER_TAKERS:
        return Missing.DURATION  # "a timer for five", "remind me in ten"
    if _is_number(last) and before in _OPERATORS:
        return Missing.NOTHING  # "nine plus four"
    if before in _ARTICLES | _POSSESSIVES and _superlative(last) and _names_no_thing(words):
        return Missing.WORDS  # "where is the nearest", "show me the best" (what?)
    if _wh_phrase_without_verb(words):
        return Missing.MORE  # "how many days", "which planet" (is ...?)
    if _subject_without_verb(words):
        return Missing.MORE  # "what time does the sun" (rise?)
    if len(words) > 3 and words[0] in _words("how where") and (
        words[-3] in _MODALS and before in _SUBJECT_PRONOUNS
    ):
        return Missing.MORE  # "how long should i boil" (what?), "where can i buy"
    if last in _words("word words term phrase") and before in _ARTICLES | _POSSESSIVES:
        return Missing.MORE  # "spell the word" (which?), "what does the word"
    if last in _TRANSITIVE_PAST and _subject_question(words):
        return Missing.MORE  # "who painted", "tell me who first discovered"
    if last in _RELATIONAL and (_ARTICLES | _POSSESSIVES) & set(words[-3:-1]):
        return Missing.COMPLEMENT  # "what is the capital", "the first president"
    if last in _INDEFINITE and any(w in _TELLING for w in words[:-1]):
        return Missing.COMPLEMENT  # "tell me something"
    return Missing.NOTHING


# Prepositions a question leaves at its end once their object was asked for
# first ("where are you from", "what is it for"); not "in"/"on": "what time is
# it in" (Tokyo) goes on.
_STRANDED = _words("from for about with to at of")
# Verbs whose "-ing"/"-ed" form before "to" is a future or a wish, not an
# action the question word is the object of: "what are you going to" (do).
_NOT_DONE_TO = _words("going trying planning supposed used meant wanted hoping able")
_PARTICIPLES = _words(
    "made built written known done sold kept held found told paid born raised based located "
    "set buried grown"
)
# Verbs that usually go on after a fronted object: "what can you tell" (me about).
_GOES_ON = _words("tell give show teach remind let send bring put turn")


def _fronted_object(words: list[str]) -> bool:
    """A question whose question word is the object its last word needs: the
    verb's ("what do bees eat", "which book did he write") or a preposition's
    ("what country is she from", "who are you talking to"). English asks for
    the object first, so the sentence is whole where a statement would not be."""
    if words[0] not in _words("what which who whom where") or len(words) < 4:
        return False
    # The question word, its noun phrase up to four words ("which day of the
    # week"), then the auxiliary, a subject, and the last word.
    aux = next((k for k in range(1, 6) if k < len(words) and words[k] in _AUXILIARIES), 0)
    if not aux or aux >= len(words) - 2:
        return False
    last, before = words[-1], words[-2]
    if last in _STRANDED | _words("in on"):
        if before in _SUBJECT_PRONOUNS | _POINTING:
            # "where are you from", "what is it for", "what city are we in";
            # not "what time is it in" (a place may follow the dummy "it")
            if last in _words("in on"):
                return before in _words("i we you he she they")
            return last != "to"
        # The verb that leaves the preposition behind follows a subject: "who is
        # he talking to", "what is glass made of", "who did you vote for" (not
        # "who was the king of": "the" is no subject).
        if last in _words("in on") and before not in _FUNCTION_WORDS:
            # The question word's own noun asks where a named thing is: "which
            # country is that city in", "what channel is the match on" (not
            # "what is the weather in": no noun is asked for, a place follows).
            named = words[aux + 1] in _ARTICLES | _POSSESSIVES | _words("that this these those")
            if aux >= 2 and named:
                return True
            # A subject and its verb after "do": "which country do i live in",
            # "what city does she work in", "what do you believe in".
            if words[aux] in _words("do does did") and len(words) - aux >= 4:
                return True
        subject = words[aux + 1 : -2]
        if not subject or subject[-1] in _FUNCTION_WORDS:
            return False
        if words[aux] in _MODALS:  # "who did you vote for"; not "what did you say to"
            return last != "to"
        doing = before in _PARTICIPLES or (len(before) > 3 and before.endswith(("ing", "ed")))
        # "who are you talking to"; not "what are you going to"
        return doing and not (last == "to" and before in _NOT_DONE_TO)
    # "where" asks for no verb's object: "where can i buy" (what?) goes on.
    verb = last in (_OBJECT_VERBS | _TRANSITIVE_PAST) and last not in _GOES_ON
    asks_object = words[0] != "where" and words[aux] in _MODALS
    return verb and asks_object  # "what do bees make", "what did he write"


def _subject_question(words: list[str]) -> bool:
    """The last verb's subject is a question word, here or in an embedded
    question ("who painted", "which artist painted", "tell me who wrote",
    "do you know who invented"): its object is still to come. Not when a
    subject or an auxiliary comes between ("what he painted", "what did she
    write": there the question word is the object)."""
    for i in range(len(words) - 2, -1, -1):
        if words[i] in _words("who which what"):
            between = set(words[i + 1 : -1])
            return not between & (_SUBJECT_PRONOUNS | _AUXILIARIES | _MODALS)
    return False


def _superlative(word: str) -> bool:
    """nearest, biggest, best, first: an adjective that still needs its noun."""
    return word in _words("best worst first last next most least") or (
        len(word) > 4 and word.endswith("est") and word not in _words("interest request guest")
    )


def _subject_without_verb(words: list[str]) -> bool:
    """A question whose auxiliary has its subject but no verb yet: "what time
    does the sun", "when did my flight". (One noun after the article: with
    two, the second is likely the verb, "does the sun rise".)"""
    if words[0] not in _QUESTION_WORDS or len(words) < 4:
        return False
    aux, det, _noun = words[-3:]
    return aux in _MODALS and det in _ARTICLES | _POSSESSIVES


def _names_no_thing(words: list[str]) -> bool:
    """The request has not named the thing a final superlative describes:
    "where is the nearest", "show me the best" (but "which planet is the
    largest", "who is the oldest" have)."""
    first = words[0]
    if first in _OBJECT_VERBS | _TELLING:
        return True
    if first in _words("what's whats where's"):
        return True
    return first in _words("what where") and len(words) > 1 and words[1] in _AUXILIARIES


# Nouns "what" asks about as a determiner ("what colour is ..."): after "what"
# a single word may as well be a verb ("what happened").
_WHAT_NOUNS = _words(
    "colour color kind type sort size year day month time language country city number"
)


def _wh_phrase_without_verb(words: list[str]) -> bool:
    """A question word and a noun phrase with no verb yet: "how many days",
    "which planet", "what colour". (Short: a longer phrase may hold a verb
    this lexicon does not know, "which planet orbits fastest".)"""
    first, rest = words[0], words[1:]
    if first not in _words("which what how") or not rest or len(rest) > 3:
        return False
    if first == "how":
        if rest[0] not in _words("many much"):
            return False
        rest = rest[1:]
    if not rest or rest[0] in _VERBLESS_FOLLOW_UPS | _words("one ones"):
        return False
    if first == "what" and rest[0] not in _WHAT_NOUNS:
        return False
    verbs = _AUXILIARIES | _CONTRACTED | _MODALS | _OBJECT_VERBS | _TRANSITIVE_PAST
    return not any(w in verbs or w.endswith("'s") for w in rest)


def _joined_count_down(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        if w == "down" and out and out[-1] == "count":
            out[-1] = "countdown"
        else:
            out.append(w)
    return out


def _slot_gap(words: list[str]) -> Missing:
    """A request whose content is still to come: "set a timer", "what is twelve"."""
    # Only the last clause: "start a timer for five minutes and list my notes".
    cut = max((i for i, w in enumerate(words) if w in _words("and then so")), default=-1)
    if cut >= 0 and cut < len(words) - 1:
        words = words[cut + 1 :]
    words = _joined_count_down(words)  # "start to count down": a countdown
    if asks(" ".join(words)):
        # A question names a timer or a note, it asks for none: "why do people
        # write notes", "is it good to wake up early". A sum may still be half said.
        return _operand_gap(words)
    if "wake" in words:  # "wake me up", "wake me at": an alarm without its time yet
        after = words[words.index("wake") + 1 :]
        if not any(_is_number(w) or w in _words("noon midnight") for w in after):
            return Missing.CLOCK_TIME
    if words[0] == "convert" and not _words("to into in") & set(words[2:]):
        return Missing.COMPLEMENT  # "convert five miles" (to what?)
    for i, word in enumerate(words):
        slot = _SLOT_NOUNS.get(word)
        if slot is None or not any(w in _MAKING for w in words[:i]):
            continue
        rest = words[i + 1 :]
        if slot is Missing.NOTE_TEXT:
            content = [w for w in rest if w not in _FUNCTION_WORDS | _words("that saying says")]
        else:
            content = [w for w in rest if _is_number(w) or w in _words("noon midnight")]
            counting = len(rest) > 1 and rest[-2] == "from"  # "count down from ten"
            if slot is Missing.DURATION and content and _is_number(rest[-1]) and not counting:
                return slot  # "for ten": ten what?
        if not content:
            return slot
    return _operand_gap(words)


def _operand_gap(words: list[str]) -> Missing:
    last = words[-1]
    # "what is twelve", "how much is seven": a sum with one number so far.
    if _is_number(last) and words[0] in _ASKING:
        body = [w for w in words if w not in _words("what whats how much is calculate compute")]
        if body and all(_is_number(w) or w == "and" for w in body):
            return Missing.OPERAND
    return Missing.NOTHING


def _whole_sum(intent: intents.Intent | None) -> bool:
    """The rules read the whole utterance as a sum with an answer: finished,
    whatever its last word ("what is too plus to", Moonshine's "two plus two")."""
    return (
        intent is not None
        and intent.name is IntentName.CALCULATE
        and intent.confidence >= RULE_CONFIDENCE
        and "value" in intent.entities
    )


def _intent_gap(intent: intents.Intent) -> Missing:
    if intent.name is IntentName.TIMER and not intent.entities.get("seconds"):
        return Missing.DURATION
    if intent.name is IntentName.NOTE_ADD and not str(intent.entities.get("text", "")).strip():
        return Missing.NOTE_TEXT
    return Missing.NOTHING


_QUESTIONS = {
    Missing.DURATION: "For how long?",
    Missing.CLOCK_TIME: "For what time?",
    Missing.NOTE_TEXT: "What should the note say?",
}
_FLIP = {"me": "you", "my": "your", "i": "you", "myself": "yourself", "us": "you", "our": "your"}


def continuation_question(text: str, verdict: TurnVerdict) -> str:
    """What Parley asks when a request is still half said after the wait:
    the slot it needs, or an echo question on the last words ("Nine plus what?")."""
    fixed = _QUESTIONS.get(verdict.missing)
    if fixed is not None:
        return fixed
    words = [w for w in words_of(text) if w not in _FILLERS]
    tail = [_FLIP.get(w, w) for w in words[-3:]]
    while tail and tail[0] in _QUESTION_WORDS | _AUXILIARIES | _words("much many"):
        tail.pop(0)  # "what is nine plus" -> "nine plus"
    if len(tail) > 2 and words[-3] in _RECIPIENTS:
        tail.pop(0)  # "show me the best" -> "the best" (not "you the best")
    if not tail:
        return "Yes?"
    if verdict.missing is Missing.OPERAND and _is_number(tail[-1]):
        tail.append("and")  # "what is twelve" -> "Twelve and what?"
    elif tail[-1] == "percent":
        tail.append("of")
    echo = " ".join(tail)
    return f"{echo[0].upper()}{echo[1:]} what?"
