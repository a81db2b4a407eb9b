"""Commands heard right: a transcript that is nearly one of Parley's commands is
read as that command.

A recogniser that knows nothing of Parley writes "what is said and plus five"
for "what is seven plus five", and the rules (`dialogue/intents.py`) then hand
the turn to the language model. When the heard text is no rule request, the
bias looks for the cheapest reading a few sounds away that is one: each word,
or pair of words, may be replaced by a word or short phrase of Parley's own
vocabulary (numbers, operators, timer, alarm and note words, app names, the
wake phrase) that sounds alike, and a short function word may be dropped (the
tail of a wake phrase heard as "the"). Sounds are compared as ARPAbet phones
from the CMU dictionary that ships with pocketsphinx, with a cheaper
substitution between similar phones (vowels, voiced/voiceless pairs, nasals).

Never a command forced onto speech that is not one:
- text the rules already read, or that holds no word, is left as it is;
- at most `MAX_EDITS` changes, each within `MAX_WORD_DISTANCE` of what was
  heard, together at most `MAX_CHANGED_SHARE` of the utterance's phones, and
  at least as many words kept as changes made (a third change only when
  most are kept; heard words cut into two entries each count; a respelling
  with the same sounds, "due" -> "do", counts as kept unless it makes a
  number); a number
  heard as a number is never made another number, nor is a number made
  beside one;
- only to requests where a word or two matter (timers, alarms, sums, notes,
  apps, time and date), never to the short social ones (stop, thanks, hello);
  a timer or an alarm only when asked for (the heard words not opening with
  a subject: "the alarm rang at six" tells of one; an alarm's verb first);
- the free text of a command (a note, a timer's label) must be heard as it
  stands, and an app must be one Parley knows by name;
- a reading keeps at most `MAX_UNEXPLAINED` words that are neither command
  words nor its free text: an open question keeps its own words.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from assistant.dialogue import intents
from assistant.dialogue.intents import IntentName
from assistant.speech import cmudict

if TYPE_CHECKING:
    import numpy as np

    from assistant.speech.grammar_pass import GrammarPass
    from assistant.speech.stt import Recognizer, Transcript

log = logging.getLogger(__name__)

MAX_EDITS = 3
MAX_WORD_DISTANCE = 0.45
"""Weighted phone edits over the longer of the two phone strings: "dwelt" ->
"twelve" is 0.3, "said and" -> "seven" 0.33, "nap" -> "note" 0.67."""
MAX_CHANGED_SHARE = 0.3
"""Of all the utterance's phones, the share an accepted reading may change."""
MAX_WORDS = 16
"""Longer speech is no command (Parley's longest run to about 12 words): left as
heard, so a long sentence costs the ear thread nothing."""
MAX_UNEXPLAINED = 1
"""Words a corrected command may hold beyond its own and its free text ("please")."""
MAX_OPTIONS = 24
"""Single changes tried in pairs, cheapest first."""
MAX_TRIPLE_OPTIONS = 16
"""Single changes tried in threes, cheapest first (a third change only when
most of the utterance is kept: `_enough_kept`)."""
MAX_SPAN = 3
"""Heard words one change may replace ("time of four" -> "timer for")."""
NEAR_MISS_DISTANCE = 0.34
"""A heard word this near a command word ("blanche" for "launch", "dread"
for "bread") makes a near-miss (`near_miss`); "capital" to "cancel" is not."""
MAX_OPERAND_DISTANCE = 0.7
"""Beside an operator a number is expected: a word there may be read as the
one number it is nearest ("plus by" -> "plus five"), further than elsewhere."""
MAX_SPLIT_WORDS = 6
"""Spans are cut in two, three heard words read as one entry, and three
changes made only in utterances this short: run-together commands are ("adbred
to my notes"), and the search costs the ear thread tens of ms per longer one;
the accuracy on the spoken commands was the same at 10."""
SPLIT_COST = 0.5
"""A heard span read as two entries cut from its phones costs this much more."""
OPERAND_DISCOUNT = 0.7
"""An operand's number costs this share of its phones changed."""

_NUMBERS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    "hundred", "thousand", "half", "quarter", "point",
)
_COUNTS = frozenset(_NUMBERS) - {"half", "quarter", "point"}
_PHRASES = (
    # operators
    "plus", "minus", "times", "divided by", "multiplied by", "over", "percent",
    "percent of", "squared", "cubed", "square root of", "to the power of",
    # asking
    "what", "what is", "how much is", "calculate", "is", "it", "the", "of", "and", "a", "an",
    # timers and alarms
    "set", "set a", "set an", "start", "timer", "timers", "alarm", "alarms", "countdown", "for",
    "minute", "minutes", "second", "seconds", "hour", "hours", "in", "remind me", "wake me",
    "up", "cancel", "left", "time", "how much time", "how long", "on", "are", "running",
    "at", "am", "pm", "past", "o'clock",
    # notes
    "take", "take a", "make", "make a", "note", "notes", "add", "read", "delete", "list",
    "my", "all", "to", "what notes", "do i have", "show", "me",
    # apps
    "open", "launch",
    # time and date
    "date", "day", "today", "year", "month", "week",
)
APPS = ("calculator", "terminal", "browser", "firefox", "files", "text editor", "settings",
        "music", "calendar", "email", "chrome", "editor")
"""App names always in the vocabulary; the installed ones are added (`CommandBias`)."""
_BIASED = frozenset({
    IntentName.TIME, IntentName.DATE, IntentName.DAY_OF_WEEK, IntentName.TIMER,
    IntentName.CALCULATE, IntentName.NOTE_ADD, IntentName.NOTE_LIST, IntentName.NOTE_DELETE,
    IntentName.NOTE_CLEAR, IntentName.TIMER_LIST, IntentName.TIMER_CANCEL, IntentName.OPEN,
    IntentName.ALARM,
})
"""Intents a misheard word keeps from being understood; not the social ones."""
_FREE_TEXT = {
    IntentName.NOTE_ADD: {"note", "notes"},
    IntentName.NOTE_DELETE: {"note", "notes"},
}
"""Commands that take any words as their text: only when their own word was heard."""
_OPERATORS = frozenset({"plus", "minus", "times", "by", "over"})
"""Words with a number on either side."""
_OF_OPERATORS = frozenset({"percent", "power", "root"})
"""Words that take a number after "of"."""
_DROPPABLE = frozenset({"the", "a", "uh", "um", "ah", "oh", "and", "of", "to", "that", "then"})
"""Short words a reading may drop: fragments (a wake phrase's tail heard as "the")."""

_WEAK = {
    "and": (("AH", "N"),), "in": (("AH", "N"),), "of": (("AH",),), "at": (("AH", "T"),),
    "to": (("T", "AH"),), "have": (("AH", "V"),), "do": (("D", "AH"),),
    "you": (("Y", "AH"),), "for": (("F", "ER"),), "or": (("ER",),),
}
"""Weak forms of function words, as said in running speech ("and" as "'n",
"of" as "o'"): the dictionary holds few, and a recogniser writes one word's
for another's ("remind me and ten minutes", "the date of day")."""

_WORD = re.compile(r"[a-z0-9']+(?:[.,]\d+)?")
_VOWELS = frozenset({
    "AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW",
})
_PAIRS = [
    {"P", "B"}, {"T", "D"}, {"K", "G"}, {"F", "V"}, {"TH", "DH"}, {"S", "Z"}, {"SH", "ZH"},
    {"CH", "JH"}, {"M", "N"}, {"N", "NG"}, {"L", "R"}, {"TH", "F"}, {"DH", "D"}, {"V", "W"},
    {"S", "SH"}, {"P", "F"}, {"B", "V"},
]


_PHONES = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH",
    "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH",
    "UH", "UW", "V", "W", "Y", "Z", "ZH",
)


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a in _VOWELS and b in _VOWELS:
        return 0.5
    if any(a in p and b in p for p in _PAIRS):
        return 0.5
    return 1.0


_SUB = {(a, b): _sub_cost(a, b) for a in _PHONES for b in _PHONES}
_INDEL = {p: 0.7 if p in _VOWELS else 1.0 for p in _PHONES}
_INDEL["HH"] = 0.5  # a breath a recogniser drops or adds ("has left" for "is left")


@lru_cache(maxsize=65536)
def phone_distance(
    a: tuple[str, ...], b: tuple[str, ...], within: float = MAX_WORD_DISTANCE
) -> float:
    """Weighted edit distance between two phone strings, over the longer one's
    length; 1.0 as soon as it must exceed `within`."""
    if not a or not b:
        return 1.0
    longest = max(len(a), len(b))
    limit = within * longest
    if abs(len(a) - len(b)) * 0.7 > limit:
        return 1.0
    row: list[float] = []
    for row in _edit_rows(a, b):
        if min(row) > limit:
            return 1.0
    return row[-1] / longest


def _edit_rows(a: tuple[str, ...], b: tuple[str, ...]) -> Iterator[list[float]]:
    """The weighted edit-distance table between `a` and `b`, row by row: row i
    holds the cost of a[:i] against each prefix of b (row 0: b's insertions).
    A generator, so a caller stops it once no later row can be near enough."""
    sub, indel = _SUB, _INDEL
    prev = [0.0]
    for y in b:
        prev.append(prev[-1] + indel.get(y, 1.0))
    yield prev
    for x in a:
        dx = indel.get(x, 1.0)
        cur = [prev[0] + dx]
        for j, y in enumerate(b, 1):
            best = prev[j - 1] + sub.get((x, y), 1.0)
            if prev[j] + dx < best:
                best = prev[j] + dx
            c = cur[j - 1] + indel.get(y, 1.0)
            cur.append(c if c < best else best)
        yield cur
        prev = cur


_SPELLING = [
    ("tion", "SH AH N"), ("ough", "AO"), ("igh", "AY"), ("tch", "CH"), ("sch", "S K"),
    ("th", "TH"), ("sh", "SH"), ("ch", "CH"), ("ph", "F"), ("ck", "K"), ("ng", "NG"),
    ("qu", "K W"), ("wh", "W"), ("kn", "N"), ("wr", "R"), ("ee", "IY"), ("ea", "IY"),
    ("oo", "UW"), ("ou", "AW"), ("ow", "OW"), ("oa", "OW"), ("ai", "EY"), ("ay", "EY"),
    ("ie", "IY"), ("ei", "EY"), ("oi", "OY"), ("oy", "OY"), ("au", "AO"), ("aw", "AO"),
    ("er", "ER"), ("ir", "ER"), ("ur", "ER"), ("a", "AE"), ("e", "EH"), ("i", "IH"),
    ("o", "AA"), ("u", "AH"), ("y", "IY"), ("b", "B"), ("c", "K"), ("d", "D"), ("f", "F"),
    ("g", "G"), ("h", "HH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"),
    ("p", "P"), ("r", "R"), ("s", "S"), ("t", "T"), ("v", "V"), ("w", "W"), ("x", "K S"),
    ("z", "Z"),
]
_SPELLING_RE = re.compile("|".join(re.escape(g) for g, _ in _SPELLING))
_SPELLING_PHONES = dict(_SPELLING)


@lru_cache(maxsize=4096)
def spelled_phones(word: str) -> tuple[str, ...]:
    """A rough reading of a word the dictionary lacks, by its letters: a
    recogniser's run-together words ("adbret", "satatimer") still sound near
    what was said. Doubled letters count once; a final silent "e" is dropped
    and makes the vowel before it long."""
    w = re.sub(r"([a-z])\1", r"\1", word.lower())
    # a vowel, one consonant and a silent "e" (and "s" or "d"): the vowel is
    # long ("bimes" as "times", "calade")
    long = re.search(r"([aeiou])([b-df-hj-np-tv-z])e[sd]?$", w)
    if long and (len(w) < 5 or w[long.start() - 1] not in "aeiou"):
        vowel = _LONG_VOWELS[long[1]]
        w = w[: long.start()]
        tail = tuple(_SPELLING_PHONES[long[2]].split()) + (("Z",) if word.endswith("s") else ())
        return _spell(w) + (vowel,) + tail
    if len(w) > 3 and w.endswith("e") and w[-2] not in "aeiou":
        w = w[:-1]
    if len(w) > 4 and w.endswith(("or", "ar")):  # unstressed: "calator", "calendar"
        return _spell(w[:-2]) + ("ER",)
    return _spell(w)


_LONG_VOWELS = {"a": "EY", "e": "IY", "i": "AY", "o": "OW", "u": "UW"}


def _spell(w: str) -> tuple[str, ...]:
    out: list[str] = []
    for m in _SPELLING_RE.finditer(w):
        out.extend(_SPELLING_PHONES[m[0]].split())
    return tuple(out)


@lru_cache(maxsize=1)
def lexicon() -> cmudict.Pronunciations | dict[str, tuple[tuple[str, ...], ...]]:
    """Word -> its pronunciations (ARPAbet, no stress; `.get` as a dict's),
    from pocketsphinx's CMU dictionary, looked up in its file
    (speech/cmudict.py: a dict of it held 60 MB); empty when pocketsphinx is
    missing (the bias then does nothing)."""
    lex = cmudict.english()
    if lex is None:
        log.warning("command bias: no pronouncing dictionary (pocketsphinx); bias is off")
        return {}
    return lex


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    """Heard words [start, end) are replaced."""
    words: tuple[str, ...]
    cost: float
    """Phones changed (distance times length)."""
    cut: bool = False
    """The heard phones cut into two entries (`CommandBias._split`): each heard
    word counts as a change."""


class CommandBias:
    """Reads a heard transcript as the nearest command when it is nearly one."""

    def __init__(self, apps: Iterable[str] = ()) -> None:
        self._lex = lexicon()
        self.apps = frozenset(a.lower() for a in (*APPS, *apps))
        phrases = {*_NUMBERS, *_PHRASES, *self.apps, "parley", "hey parley"}
        self._vocab: list[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]] = []
        for phrase in sorted(phrases):
            words = tuple(phrase.split())
            prons = self._phones(words)
            if prons:
                self._vocab.append((words, prons))
        self._words = frozenset(w for phrase in phrases for w in phrase.split())
        self._shapes = [
            (words, [(p, len(p), sum(x in _VOWELS for x in p)) for p in prons])
            for words, prons in self._vocab
        ]
        """Each entry's pronunciations with their lengths and vowel counts."""
        self.correct = lru_cache(maxsize=512)(self._correct)  # partials repeat
        self._near_cached = lru_cache(maxsize=4096)(self._near_uncached)
        self._split = lru_cache(maxsize=4096)(self._split_uncached)
        self._ends = lru_cache(maxsize=8192)(self._ends_uncached)

    def _phones(self, words: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
        """Pronunciations of a word sequence (first two per word; a word the
        dictionary lacks is read by its spelling), or () for a word with digits."""
        per_word = []
        for w in words:
            prons = self._lex.get(w) or ((spelled_phones(w),) if w.isalpha() else ())
            if not prons:
                return ()
            per_word.append(prons[:2] + _WEAK.get(w, ()))
        return tuple(tuple(itertools.chain(*combo)) for combo in itertools.product(*per_word))

    def _distance(self, a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]) -> float:
        return min(phone_distance(x, y) for x in a for y in b)

    def _correct(self, text: str) -> str:
        """`text`, or the command it nearly is."""
        words = _WORD.findall(text.lower())
        if not 2 <= len(words) <= MAX_WORDS or not self._lex or self._acts(text):
            return text
        total = sum(len(self._phones((w,))[0]) if self._phones((w,)) else len(w) for w in words)
        budget = MAX_CHANGED_SHARE * total
        short = len(words) <= MAX_SPLIT_WORDS
        options = self._options(words, split=short)
        for edits in self._readings(options, budget, short):
            # a respelling ("due" -> "do", "red" -> "read") changes no sound:
            # its words count as kept, not as a change; but a number made
            # ("for" -> "four") changes what is asked, so it is one
            sounds = [e for e in edits if e.cost > 0 or _COUNTS.intersection(e.words)]
            kept = len(words) - sum(e.end - e.start for e in sounds)
            changes = sum(e.end - e.start if e.cut else 1 for e in sounds)
            if kept < changes or (len(sounds) > 2 and not _enough_kept(kept, len(words))):
                continue
            if any(_joins_a_number(words, e) for e in edits):
                continue
            candidate = _apply(words, edits)
            intent = intents.parse(candidate)
            if intent is None or intent.confidence < intents.RULE_CONFIDENCE:
                continue
            if (
                intent.name in _BIASED
                and _asks(intent, words, candidate)
                and self._slots_heard(intent, words)
                and self._unexplained(intent, candidate) <= MAX_UNEXPLAINED
            ):
                log.debug("command bias: %d change(s)", len(edits))
                return candidate
        return text

    def _options(self, words: list[str], *, split: bool = False) -> list[_Edit]:
        """Every single change within MAX_WORD_DISTANCE, cheapest first: a
        span of up to MAX_SPAN heard words read as one vocabulary entry or as
        two (its phones cut in two: "alarming" -> "alarm in"), a droppable
        word dropped, a word beside an operator read as a number."""
        options = []
        for i, w in enumerate(words):
            if w in _DROPPABLE and i + 1 < len(words):
                prons = self._phones((w,))
                options.append(_Edit(i, i + 1, (), 0.7 * (len(prons[0]) if prons else 2)))
            for k in range(1, MAX_SPAN + 1 if split else 3):
                span = tuple(words[i : i + k])
                if len(span) != k:
                    continue
                if k < 3:
                    options.extend(_Edit(i, i + k, v, c) for v, c in self._near(span))
                if split:
                    before = tuple(words[max(0, i + k - MAX_SPAN) : i])
                    after = tuple(words[i + k : i + MAX_SPAN])
                    options.extend(
                        _Edit(i, i + k, v, c, cut=len(v) > 1)
                        for v, c in self._split(span, before, after)
                    )
            if _operand_position(words, i):
                options.extend(_Edit(i, i + 1, v, c) for v, c in self._operand(w))
        best: dict[tuple[int, int, tuple[str, ...]], _Edit] = {}
        for e in options:
            key = (e.start, e.end, e.words)
            if key not in best or e.cost < best[key].cost:
                best[key] = e
        return sorted(best.values(), key=lambda e: e.cost)

    def near_miss(self, text: str) -> bool:
        """No rule reads `text`, but it is near a command: of two to MAX_WORDS
        words, one heard word is, or sounds like, a word only commands use
        (`_COMMAND_WORDS`: "timer", "alarm", "plus", "notes", an app's name;
        not "what", "is", nor a number). Only then is the grammar pass worth
        its time (`speech/grammar_pass.py`)."""
        words = heard_words(text)
        if not 2 <= len(words) <= MAX_WORDS or not self._lex or self._acts(text):
            return False
        marks = _COMMAND_WORDS | self.apps
        for w in words:
            if w in marks:
                return True
            heard = self._first_phones((w,))
            if len(heard) < 3:
                continue  # "is" is within reach of "hours" in its weak form
            for v, cost in self._near((w,)):
                if len(v) == 1 and v[0] in marks and cost <= NEAR_MISS_DISTANCE * len(heard):
                    return True
        return False

    def sounds_like(
        self, word: str, targets: frozenset[str], within: float = MAX_WORD_DISTANCE
    ) -> bool:
        """`word` is one of `targets` or within `within` (at most
        MAX_WORD_DISTANCE) of one."""
        if word in targets:
            return True
        n = len(self._first_phones((word,)))
        return any(
            len(v) == 1
            and v[0] in targets
            and cost <= within * max(n, len(self._first_phones(v)))
            for v, cost in self._near((word,))
        )

    def ends_alike(self, heard: str, reading: str, within: float) -> bool:
        """The last word of `reading` is within `within` of the heard
        utterance's last sounds (as many phones, one more or one fewer)."""
        tail = self._first_phones(tuple(_spoken(heard_words(heard))))
        last = heard_words(reading)[-1:]
        prons = self._phones(tuple(last)) if last else ()
        return any(
            phone_distance(tail[-k:], p, within) <= within
            for p in prons
            for k in (len(p) - 1, len(p), len(p) + 1)
            if 0 < k <= len(tail)
        )

    def agrees(self, heard: str, reading: str, within: float) -> bool:
        """`reading` is within `within` of the `heard` words, phone for phone
        over the whole utterance (each word's first pronunciation; a number
        written in digits read as spoken)."""
        a = self._first_phones(tuple(_spoken(heard_words(heard))))
        b = self._first_phones(tuple(_spoken(heard_words(reading))))
        return bool(a and b) and phone_distance(a, b, within) <= within

    def _near(self, span: tuple[str, ...]) -> list[tuple[tuple[str, ...], float]]:
        """Vocabulary within MAX_WORD_DISTANCE of a heard span, with the phones
        changed. Cached: a growing partial brings one new word at a time."""
        return self._near_cached(span)

    def _near_uncached(self, span: tuple[str, ...]) -> list[tuple[tuple[str, ...], float]]:
        if any(c.isdigit() for c in "".join(span)):
            return []
        heard = self._phones(span)
        if not heard:
            return []
        n = max(len(p) for p in heard)
        out = []
        joined = "".join(span)
        numbers = _COUNTS.intersection(span)
        for vocab, prons in self._vocab:
            if vocab == span or (numbers and _COUNTS.intersection(vocab)):
                continue  # a number heard as a number stays that number ("four ten")
            if len(span) > 1 and joined == "".join(vocab) and vocab[0] in self.apps:
                # a name written apart ("fire fox"), never numbers ("four ten")
                out.append((vocab, 0.1))
                continue
            d = self._distance(heard, prons)
            if d <= MAX_WORD_DISTANCE:
                out.append((vocab, d * max(n, len(prons[0]))))
        return out

    def _split_uncached(
        self, span: tuple[str, ...], before: tuple[str, ...] = (), after: tuple[str, ...] = ()
    ) -> list[tuple[tuple[str, ...], float]]:
        """The span's phones (each word's first pronunciation) cut in two,
        each part near a vocabulary entry: words run together ("alarming" ->
        "alarm in", "calculates its" -> "calculate six") or cut elsewhere;
        and a span of three words near one entry.
        `before` and `after`, the heard words around the span, only let
        neighbouring spans share their tables (`_ends`)."""
        phones = self._first_phones(span)
        if not phones:
            return []
        # the table of the span and the words after it holds the span's starts,
        # that of the words before it and the span its ends
        starts = self._ends(phones + self._first_phones(after))
        ends = self._ends(self._first_phones(before) + phones, backward=True)
        numbers = bool(_COUNTS.intersection(span))
        out: dict[tuple[str, ...], float] = {}
        if len(span) > 2:  # three words as one entry ("how much time" heard in three)
            for vocab, cost in starts[len(phones)]:
                if vocab != span and not (numbers and _COUNTS.intersection(vocab)):
                    out[vocab] = cost
        for cut in range(2, len(phones) - 1):
            left, right = starts[cut], ends[len(phones) - cut]
            for (v1, c1), (v2, c2) in itertools.product(left[:3], right[:3]):
                vocab = v1 + v2
                if v1 == span[:1] or v2 == span[-1:]:
                    continue  # a word kept as heard: a smaller change says it
                if vocab == span or (numbers and _COUNTS.intersection(vocab)):
                    continue
                cost = c1 + c2 + SPLIT_COST
                if cost <= MAX_WORD_DISTANCE * len(phones) and cost < out.get(vocab, 1e9):
                    out[vocab] = cost
        return list(out.items())

    def _first_phones(self, words: tuple[str, ...]) -> tuple[str, ...]:
        """Each word's first pronunciation, run together; () if one has none."""
        out: list[str] = []
        for w in words:
            prons = self._phones((w,))
            if not prons:
                return ()
            out.extend(prons[0])
        return tuple(out)

    def _ends_uncached(
        self, phones: tuple[str, ...], backward: bool = False
    ) -> list[list[tuple[tuple[str, ...], float]]]:
        """For each length n, the vocabulary entries within MAX_WORD_DISTANCE
        of the first n phones (`backward`: the last n), with the phones
        changed, cheapest first: one edit-distance table per entry gives
        every length at once."""
        seq = phones[::-1] if backward else phones
        found: list[dict[tuple[str, ...], float]] = [{} for _ in range(len(seq) + 1)]
        for vocab, shapes in self._shapes:
            for pron, m, _ in shapes:
                ref = pron[::-1] if backward else pron
                for n, cost in enumerate(_prefix_costs(seq, ref)):
                    near = n and cost <= MAX_WORD_DISTANCE * max(n, m)
                    if near and cost < found[n].get(vocab, 1e9):
                        found[n][vocab] = cost
        return [sorted(f.items(), key=lambda vc: vc[1]) for f in found]

    def _operand(self, word: str) -> list[tuple[tuple[str, ...], float]]:
        """The one number a word beside an operator is nearest, if one is
        clearly nearest (no other within half a phone)."""
        if word in _COUNTS or word in _OPERATORS - {"by"} or any(c.isdigit() for c in word):
            return []
        heard = self._phones((word,))
        if not heard:
            return []
        found = []
        for vocab, prons in self._vocab:
            if len(vocab) == 1 and vocab[0] in _COUNTS:
                d = min(phone_distance(h, p, MAX_OPERAND_DISTANCE) for h in heard for p in prons)
                if d <= MAX_OPERAND_DISTANCE:
                    found.append((d * max(len(heard[0]), len(prons[0])), vocab))
        found.sort()
        if not found or (len(found) > 1 and found[1][0] - found[0][0] < 0.5):
            return []
        return [(found[0][1], found[0][0] * OPERAND_DISCOUNT)]

    def _readings(
        self, options: list[_Edit], budget: float, short: bool
    ) -> Iterable[tuple[_Edit, ...]]:
        """Sets of non-overlapping changes within the budget, cheapest first;
        three changes only in a short utterance."""
        found: list[tuple[float, tuple[_Edit, ...]]] = [
            (e.cost, (e,)) for e in options if e.cost <= budget
        ]
        for size, top in ((2, MAX_OPTIONS), (3, MAX_TRIPLE_OPTIONS)):
            if size > MAX_EDITS or (size > 2 and not short):
                break
            for combo in itertools.combinations(options[:top], size):
                cost = sum(e.cost for e in combo)
                if cost > budget:
                    continue
                ordered = sorted(combo, key=lambda e: e.start)
                if all(x.end <= y.start for x, y in itertools.pairwise(ordered)):
                    found.append((cost + 0.01 * size, tuple(ordered)))
        found.sort(key=lambda f: f[0])
        return (edits for _, edits in found)

    def _acts(self, text: str) -> bool:
        """The rules already answer `text` (or it holds no words). Opening an
        app Parley does not know is not an answer: "open fire thawks" may be
        Firefox."""
        if not any(c.isalnum() for c in text):
            return True
        intent = intents.parse(text)
        if intent is None or intent.confidence < intents.RULE_CONFIDENCE:
            return False
        app = intent.entities.get("app")
        return app is None or str(app).lower() in self.apps or len(str(app).split()) > 2

    def _unexplained(self, intent: intents.Intent, candidate: str) -> int:
        """Words of `candidate` that are neither command words nor the
        command's free text: an open question edited into a command keeps its
        own words ("can you explain how rainbows form" is no "cancel ... alarm")."""
        # a cancel's label names a timer that may not exist: it explains nothing
        cancel = intent.name is IntentName.TIMER_CANCEL
        keys = ("text", "app") if cancel else ("text", "label", "app")
        slots = " ".join(str(intent.entities.get(k, "")) for k in keys)
        free = set(_WORD.findall(slots.lower()))
        return sum(1 for w in _WORD.findall(candidate) if w not in self._words and w not in free)

    def _slots_heard(self, intent: intents.Intent, words: list[str]) -> bool:
        """Free text (a note, a label) must be as heard; an app must be a known one."""
        e = intent.entities
        if intent.name in _FREE_TEXT and not _FREE_TEXT[intent.name] & set(words):
            return False  # "take a nap ..." is no note: the command's own word was not heard
        if intent.name is IntentName.OPEN:
            return str(e.get("app", "")).lower() in self.apps
        heard = " ".join(words)
        for key in ("text", "label"):
            if key in e:
                slot = " ".join(_WORD.findall(str(e[key]).lower()))
                if slot and slot not in heard:
                    return False
        return True


def _prefix_costs(seq: tuple[str, ...], ref: tuple[str, ...]) -> list[float]:
    """Weighted edits between each prefix seq[:n] and all of `ref`, for n = 0..;
    the list stops where no longer prefix can be within MAX_WORD_DISTANCE."""
    m = len(ref)
    # each phone beyond ref's length costs at least 0.7: n <= m * 0.7 / (0.7 - MAX)
    rows = min(len(seq), int(m * 0.7 / (0.7 - MAX_WORD_DISTANCE)) + 1)
    limit = MAX_WORD_DISTANCE * max(rows, m)
    out: list[float] = []
    for row in _edit_rows(seq[:rows], ref):
        out.append(row[-1])
        if min(row) > limit:
            break  # every longer prefix costs more still
    return out


_ALARM_VERBS = frozenset({"set", "start", "make", "create", "put", "wake", "remind", "get"})
_SUBJECTS = frozenset({"i", "my", "we", "our", "the", "he", "she", "they", "it", "his", "her"})


def _asks(intent: intents.Intent, words: list[str], candidate: str) -> bool:
    """A timer or an alarm is set when asked for: the heard words do not
    start with a subject, which tells of one ("the alarm rang at six thirty",
    "i set a timer for ten minutes yesterday"), and an alarm's reading starts
    with its verb."""
    if intent.name not in (IntentName.ALARM, IntentName.TIMER):
        return True
    if intent.name is IntentName.TIMER:  # "the" may be a wake phrase's tail
        return words[0] not in _SUBJECTS - {"the"}
    return words[0] not in _SUBJECTS and candidate.split()[0] in _ALARM_VERBS


def _joins_a_number(words: list[str], edit: _Edit) -> bool:
    """A number made beside a number heard would make the heard one another
    ("two" and "in binary" read "two ninety")."""
    if not _COUNTS.intersection(edit.words):
        return False
    beside = words[edit.start - 1 : edit.start] + words[edit.end : edit.end + 1]
    return any(w in _COUNTS or w[:1].isdigit() for w in beside)


def _enough_kept(kept: int, total: int) -> bool:
    """A third change only when at least half the words, and three, are kept."""
    return kept >= 3 and 2 * kept >= total


def _operand_position(words: list[str], i: int) -> bool:
    """A number is expected at `i`: beside "plus", "minus", "times", "by",
    "over", or after "percent of", "power of", "root of"."""
    before = words[i - 1] if i else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    if before in _OPERATORS or after in _OPERATORS - {"by"}:
        return True
    return i >= 2 and before == "of" and words[i - 2] in _OF_OPERATORS


_COMMAND_WORDS = frozenset({
    "plus", "minus", "times", "divided", "multiplied", "percent", "squared", "cubed", "square",
    "root", "power", "calculate", "timer", "timers", "alarm", "alarms", "countdown", "minute",
    "minutes", "second", "seconds", "hour", "hours", "remind", "wake", "cancel", "note", "notes",
    "open", "launch", "date", "day", "today", "year", "month", "time",
})
"""Words Parley's commands use and open questions seldom do: a heard word that
is or sounds like one makes a transcript that no rule reads a near-miss."""

_ONES = _NUMBERS[:20]
_TENS_WORDS = _NUMBERS[20:28]


def heard_words(text: str) -> list[str]:
    """The words of a transcript, lower case, as the bias reads them."""
    return _WORD.findall(text.lower())


def say_number(n: int) -> list[str]:
    """A whole number below a million as spoken words ("420": "four hundred twenty")."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS_WORDS[n // 10 - 2]] + (say_number(n % 10) if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (say_number(n % 100) if n % 100 else [])
    return say_number(n // 1000) + ["thousand"] + (say_number(n % 1000) if n % 1000 else [])


def _spoken(words: list[str]) -> list[str]:
    """Words with whole numbers written in digits said in words."""
    out: list[str] = []
    for w in words:
        out.extend(say_number(int(w)) if w.isdigit() and int(w) < 1_000_000 else [w])
    return out


def _apply(words: list[str], edits: Iterable[_Edit]) -> str:
    out: list[str] = []
    i = 0
    for e in sorted(edits, key=lambda e: e.start):
        out.extend(words[i : e.start])
        out.extend(e.words)
        i = e.end
    out.extend(words[i:])
    return " ".join(out)


def read_final(
    text: str,
    bias: CommandBias,
    second: GrammarPass | None = None,
    audio: list[np.ndarray] | np.ndarray | None = None,
) -> str:
    """What Parley acts on for a final transcript: the grammar pass's reading
    of the utterance's `audio` (a worker's pass holds it: `audio` unused) when
    `text` is a near-miss and the two agree, else the bias's reading of
    `text`. Raises grammar_pass.PassLost when a worker's pass went away."""
    if second is not None:  # `reread` itself passes over a missing clip it needs
        import numpy as np

        if audio is None or not len(audio):
            samples = np.zeros(0, np.int16)
        else:
            samples = np.concatenate(audio) if isinstance(audio, list) else audio
        reread = second.reread(text, samples)
        if reread != text:
            return reread
    return bias.correct(text)


class BiasedRecognizer:
    """A recogniser whose partials and final transcripts pass through the bias;
    everything else is the wrapped recogniser's."""

    def __init__(
        self, inner: Recognizer, bias: CommandBias, second: GrammarPass | None = None
    ) -> None:
        self.inner = inner
        self.bias = bias
        self.second = second
        """The grammar pass over a near-miss's audio (`speech/grammar_pass.py`)."""
        self.sample_rate = inner.sample_rate
        self._audio: list[np.ndarray] = []
        self._keep_audio = second is not None and second.needs_audio

    def accept(self, samples: np.ndarray) -> None:
        if self._keep_audio:
            self._audio.append(samples)
        self.inner.accept(samples)

    def partial(self) -> str:
        return self.bias.correct(self.inner.partial())

    def final(self) -> Transcript:
        from assistant.speech.grammar_pass import PassLost

        t = self.inner.final()
        audio, self._audio = self._audio, []
        try:
            text = read_final(t.text, self.bias, self.second, audio)
        except PassLost:  # the worker died in the pass; it logged and restarts
            return replace(t, text="", confidence=0.0, words=())
        return t if text == t.text else replace(t, text=text, words=())

    def reset(self) -> None:
        self._audio = []
        self.inner.reset()

    def __getattr__(self, name: str) -> Any:  # settled(), ready(), close(), engine, ...
        return getattr(self.inner, name)


@lru_cache(maxsize=1)
def default_bias() -> CommandBias:
    """One bias for the process, with the installed apps' names (the dictionary
    loads once, about a third of a second)."""
    names: list[str] = []
    try:
        from assistant.dialogue.apps import installed_apps

        names = [a.name for a in installed_apps() if len(a.name.split()) <= 3]
    except Exception:  # no app list on this platform: the built-in names only
        log.debug("command bias: no installed apps listed", exc_info=True)
    return CommandBias(names)


def biased(recognizer: Recognizer, language: str) -> Recognizer:
    """`recognizer` with the bias when Parley hears English (its rules are
    English); any other language's recogniser as it is. A recogniser in a
    worker process (`stt_worker.RecognizerProcess`) runs the grammar pass's
    decode there: pocketsphinx holds the GIL while it decodes."""
    if not language.lower().startswith("en"):
        return recognizer
    bias = default_bias()
    in_worker = getattr(recognizer, "reread_near_misses", None)
    if in_worker is not None and default_grammar_pass() is not None:
        from assistant.speech.grammar_pass import WorkerGrammarPass

        in_worker(sorted(bias.apps))
        return BiasedRecognizer(recognizer, bias, WorkerGrammarPass(bias, recognizer))
    return BiasedRecognizer(recognizer, bias, default_grammar_pass())


@lru_cache(maxsize=1)
def default_grammar_pass() -> GrammarPass | None:
    """One grammar pass for the process (its decoder loads on the first
    near-miss), or None without pocketsphinx."""
    if not lexicon():
        return None
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        return None
    from assistant.speech.grammar_pass import GrammarPass

    return GrammarPass(default_bias())
