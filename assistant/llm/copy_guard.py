"""Keeps a reply from copying the prompt's fixed start.

A small base model that has no better idea falls back on the example answer
nearest the question, word for word (BASE_MODEL_EXAMPLES' refusal given to
"what is the opposite of hot"). The guard watches the reply as it is written:
once its last words repeat a run of the fixed start (EXAMPLE_RUN words of an
example exchange, SYSTEM_RUN of the system text), the word that would carry the
copy on is not allowed, so the model writes its own words from there ("I can't
control" goes on "the weather", not "devices. I can set timers ...").

No-repeat n-gram blocking (as in transformers' `no_repeat_ngram_size`), here
against the prompt's header instead of the reply itself, and on words, not
tokens: a banned word is banned in every tokenization that starts it (" dev",
" devices"), or greedy decoding would write the same word in smaller pieces.
Runs the user's own words contain stay allowed: a reply may quote the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

WORD = re.compile(r"[\w'’]+")
"""A word as `parley bench answers` counts them ("can't" is one)."""
EXAMPLE_RUN = 3
"""Words of an example exchange a reply may repeat before the next is banned:
4-word runs are the shortest copies that read as one ("I can't control
devices"), 3 still occur in answers of their own ("invented the telephone")."""
SYSTEM_RUN = 4
"""The same for the system text, whose wording is plainer ("one or two short")."""
TAIL_TOKENS = 24
"""Reply tokens read back at each step: more than the longest run's words."""


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD.findall(text)]


class CopyGuard:
    """The runs of the fixed start, and which word each may not be followed by."""

    def __init__(self, examples: Iterable[str], system: Iterable[str] = ()) -> None:
        self._next: dict[tuple[str, ...], set[str]] = {}
        for text in examples:
            self._add(words(text), EXAMPLE_RUN)
        for text in system:
            self._add(words(text), SYSTEM_RUN)
        self._runs = sorted({len(key) for key in self._next})

    def _add(self, ws: list[str], run: int) -> None:
        for i in range(len(ws) - run):
            self._next.setdefault(tuple(ws[i : i + run]), set()).add(ws[i + run])

    def __bool__(self) -> bool:
        return bool(self._next)

    def banned(self, reply: str, said: str = "") -> set[str]:
        """What the next token may not write after `reply`, because it would
        make the reply repeat a run of the fixed start that `said` (the user's
        words) does not hold. Two kinds of text come back:
        - " word": a whole next word, if the reply's last word is complete;
        - "rest": the rest of a word the reply's last word may be the start of
          ("can" + "'t": a copy can be written in pieces). Every token whose
          text begins that rest is banned."""
        ws = words(reply)
        own = words(said)
        out: set[str] = set()
        for run in self._runs:
            key = tuple(ws[-run:])
            for word in self._next.get(key, ()):
                if not _holds(own, (*key, word)):
                    out.add(" " + word)
            if len(ws) > run:  # the last word may be unfinished
                part, key = ws[-1], tuple(ws[-run - 1 : -1])
                for word in self._next.get(key, ()):
                    if word.startswith(part) and word != part and not _holds(own, (*key, word)):
                        out.add(word[len(part) :])
        return out


def _holds(ws: list[str], run: tuple[str, ...]) -> bool:
    n = len(run)
    return any(tuple(ws[i : i + n]) == run for i in range(len(ws) - n + 1))


class TokenBans:
    """The tokens `CopyGuard.banned` texts stand for, from the model's
    tokenizer, cached: for " word", the single tokens of the word with its
    space (as written, capitalised, in capitals); for a rest, every single
    token that is a leading piece of it."""

    def __init__(self, tokenize: Callable[[str], Sequence[int]]) -> None:
        self._tokenize = tokenize
        self._cache: dict[str, frozenset[int]] = {}

    def tokens(self, text: str) -> frozenset[int]:
        found = self._cache.get(text)
        if found is None:
            if text.startswith(" "):
                word = text[1:]
                pieces = {" " + f for f in (word, word.capitalize(), word.upper())}
            else:
                pieces = {f[:end] for f in (text, text.upper()) for end in range(1, len(f) + 1)}
            ids = {t[0] for t in map(self._tokenize, pieces) if len(t) == 1}
            found = self._cache[text] = frozenset(ids)
        return found
