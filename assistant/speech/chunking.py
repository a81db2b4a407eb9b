"""Cut a streaming reply into clauses that can be synthesised one by one.

The LLM streams small text deltas; the mouth wants whole clauses, the first one
as early as possible (it bounds the time to the first sample) and later ones
long enough to keep natural prosody. `ClauseChunker` is a pure state machine:
`feed()` deltas, get back finished clauses; `flush()` at the end of the stream.

Cut rules, in order of strength:

- sentence ends (``. ! ? …``) followed by whitespace or the end of the stream;
- a line break (list items, paragraphs);
- clause punctuation (``, ; : —``, a spaced ``-`` or ``–``) once the clause holds
  at least `min_words` words (`first_min_words` for the first clause);
- a forced cut after `max_words` words, at a word boundary.

A ``.`` is not a sentence end inside numbers (3.5), domains (example.com/path),
after titles (Dr., Mr.), after e.g./i.e., after initials or dotted acronyms
(U.S., J. K.) unless a capitalised word follows, or before a lowercase word
(etc., unknown abbreviations). Commas and colons inside 1,000 or 3:30 are no
cut either. Deciding all this may need text that has not arrived yet ("3." then
"5"), so a cut whose context is incomplete waits for the next delta or `flush()`;
the clauses therefore never depend on how the text was split into deltas.

Hand-written rather than a sentence splitter library (pysbd, punkt): those work
on whole texts, and the hold-until-decidable logic is the part that matters here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = ".!?…"
_CLAUSE_PUNCT = ",;:"
_CLOSERS = "\"')]}”’»*_`"
# Never a sentence end: a name or a continuation always follows.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "mt", "vs", "fig", "approx", "ca", "cf"}
    | {"gen", "capt", "sgt", "lt", "col", "gov", "sen", "rev", "hon", "e.g", "i.e"}
)


@dataclass(frozen=True)
class _Cut:
    end: int
    """Index just past the clause's last character."""


class ClauseChunker:
    """Turns streamed reply text into speakable clauses.

    Not thread-safe; one instance per reply (``flush()`` resets it for reuse).
    """

    def __init__(
        self,
        min_words: int = 8,
        first_min_words: int = 4,
        max_words: int = 25,
        first_max_words: int | None = None,
    ) -> None:
        """`first_max_words`: force the first clause out at a word boundary after
        this many words even without punctuation (the first clause bounds the
        first sound of the reply); None: only `max_words` applies."""
        if first_min_words < 1 or not 1 <= min_words <= max_words:
            raise ValueError("need 1 <= first_min_words, 1 <= min_words <= max_words")
        if first_max_words is not None and first_max_words < first_min_words:
            raise ValueError("need first_max_words >= first_min_words")
        self.min_words = min_words
        self.first_min_words = first_min_words
        self.max_words = max_words
        self.first_max_words = first_max_words
        self._buf = ""
        self._first = True

    def feed(self, delta: str) -> list[str]:
        """Add a piece of streamed text; return the clauses it completed."""
        self._buf += delta
        return self._drain(at_end=False)

    def flush(self) -> list[str]:
        """End of stream: return the remaining clauses and reset."""
        out = self._drain(at_end=True)
        rest = self._buf.strip()
        if _has_alnum(rest):
            out.append(rest)
        self._buf = ""
        self._first = True
        return out

    def _drain(self, at_end: bool) -> list[str]:
        out: list[str] = []
        while (cut := self._find_cut(at_end)) is not None:
            clause = self._buf[: cut.end].strip()
            self._buf = self._buf[cut.end :]
            if _has_alnum(clause):
                out.append(clause)
                self._first = False
        return out

    def _find_cut(self, at_end: bool) -> _Cut | None:
        """The first cut in the buffer, or None if there is none yet (or it is
        still undecidable without more text)."""
        buf = self._buf
        n = len(buf)
        threshold = self.first_min_words if self._first else self.min_words
        limit = self.max_words
        if self._first and self.first_max_words is not None:
            limit = min(limit, self.first_max_words)
        words = 0
        in_word = False
        i = 0
        while i < n:
            c = buf[i]
            if c.isspace():
                if in_word and words >= limit:
                    return _Cut(i)
                in_word = False
                if c == "\n" and words:
                    return _Cut(i)
                i += 1
                continue
            if not in_word and c.isalnum():
                in_word = True
                words += 1
            if c in _SENTENCE_END:
                if i and buf[i - 1] in _SENTENCE_END:
                    i += 1
                    continue  # the run was judged at its first character
                end = self._sentence_end(buf, i, at_end, words >= threshold)
                if end is None:
                    return None  # need more text to decide
                if end:
                    return _Cut(end)
            elif (c in _CLAUSE_PUNCT or c in "—–-") and words >= threshold:
                end = _skip_closers(buf, i + 1)
                if end >= n and not at_end:
                    return None  # "1," may become "1,000"
                if _is_clause_break(buf, i, buf[i + 1] if i + 1 < n else None):
                    return _Cut(end)
            i += 1
        return None

    def _sentence_end(self, buf: str, i: int, at_end: bool, clause_ok: bool) -> int | None:
        """Decide whether the terminator run starting at buf[i] ends a sentence.

        Returns the cut index, 0 (no cut here) or None (undecidable yet)."""
        n = len(buf)
        j = i
        while j < n and buf[j] in _SENTENCE_END:
            j += 1
        run = buf[i:j]
        end = _skip_closers(buf, j)
        if end >= n:
            return end if at_end else None
        if not buf[end].isspace():
            return 0  # 3.5, example.com, "?q=" in a URL
        if "!" in run or "?" in run:
            return end
        k = end
        while k < n and buf[k].isspace():
            k += 1
        if "\n" in buf[end:k]:
            return end  # a line break after the stop: no abbreviation ("Paris.\n")
        if k >= n:
            if not at_end:
                return None  # the next word decides (lowercase -> abbreviation)
            return end
        lower_next = buf[k].islower()
        if len(run) > 1 or run == "…":
            # An ellipsis before a lowercase word is a pause inside the sentence.
            return end if not lower_next or clause_ok else 0
        before = buf[:i]
        if not _has_letter(before):
            return 0  # "1." opening a numbered list item
        word = before.split()[-1].lstrip(_OPENERS)
        if word.lower() in _TITLES or lower_next:
            return 0  # Dr. Smith; etc. / U.S. / an unknown abbreviation mid-sentence
        if _INITIAL.fullmatch(word):
            return 0  # J. K. Rowling
        return end


_OPENERS = "\"'([{“‘*_"
_INITIAL = re.compile(r"[A-HJ-Z]")  # not "I"


def _is_clause_break(buf: str, i: int, nxt: str | None) -> bool:
    c = buf[i]
    after_space = nxt is None or nxt.isspace() or nxt in _CLOSERS
    if c == "—":
        return True  # used unspaced in English prose
    if c in "-–":
        # A spaced dash; not a hyphen, a range (1–5) or a list bullet.
        return i > 0 and buf[i - 1] == " " and after_space and _has_alnum(buf[:i])
    return after_space  # not 1,000 or 3:30 or https://


def _skip_closers(buf: str, j: int) -> int:
    while j < len(buf) and buf[j] in _CLOSERS:
        j += 1
    return j


def _has_alnum(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


_FENCE = re.compile(r"```[^\n]*")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1")
_LINE_MARKUP = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+•][ \t]+)", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*([-*_=])\1{2,}[ \t]*$", re.MULTILINE)


def speakable(text: str) -> str:
    """Text with the markdown a voice should not read out removed: emphasis
    asterisks, heading marks, list bullets, quote marks, code backticks, link
    targets, table bars. Words and punctuation stay."""
    text = _FENCE.sub(" ", text)
    text = _RULE.sub(" ", text)
    text = _LINK.sub(r"\1", text)
    text = _LINE_MARKUP.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = text.replace("`", "").replace("*", "").replace("|", " ")
    return " ".join(text.split())
