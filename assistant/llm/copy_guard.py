"""Keeps a reply from copying the prompt's fixed start, or itself.

A small base model that has no better idea falls back on the example answer
nearest the question, word for word (BASE_MODEL_EXAMPLES' refusal given to
"what is the opposite of hot"). The guard watches the reply as it is written:
once its last words repeat a run of the fixed start (EXAMPLE_RUN words of an
example exchange, SYSTEM_RUN of the system text), the word that would carry the
copy on is not allowed, so the model writes its own words from there ("I can't
control" goes on "the weather", not "devices. I can set timers ...").

No-repeat n-gram blocking (as in transformers' `no_repeat_ngram_size`), here
against the prompt's header as well as the reply itself (REPLY_RUN: a long
story's loops), and on words, not tokens: a banned word is banned in every
tokenization that starts it (" dev", " devices"), or greedy decoding would
write the same word in smaller pieces. Runs the user's own words contain stay
allowed: a reply may quote the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
"""A word ("can't" is one); "get_time" and "get-time" are two."""
IDENTIFIER = re.compile(r"[^\W_]+(?:_[^\W_]+)+")
"""A name in code ("set_timer"): its parts are a run no reply may complete."""
EXAMPLE_RUN = 3
"""Words of an example exchange a reply may repeat before the next is banned:
4-word runs are the shortest copies that read as one ("I can't control
devices"), 3 still occur in answers of their own ("invented the telephone")."""
SYSTEM_RUN = 4
"""The same for the system text, whose wording is plainer ("one or two short")."""
REPLY_RUN = 4
"""Words of the reply's own a reply may say again before the next is banned
(transformers' `no_repeat_ngram_size` 5, on words)."""


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in WORD.findall(text)]


class CopyGuard:
    """The runs of the fixed start, and which word each may not be followed by."""

    def __init__(self, examples: Iterable[str], system: Iterable[str] = ()) -> None:
        self._next: dict[tuple[str, ...], set[str]] = {}
        self._names: set[str] = set()
        """The examples' names (capitalised inside a sentence: "Edison")."""
        for text in examples:
            self._add(words(text), EXAMPLE_RUN)
            for sentence in re.split(r"(?<=[.!?])\s+", text):
                found = WORD.findall(sentence)[1:]
                self._names |= {w.lower() for w in found if w[:1].isupper() and w != "I"}
        for text in system:
            self._add(words(text), SYSTEM_RUN)
            # Names in code ("set_timer"): no reply says one, however it joins
            # the parts. A long story ran on into the tool list ("Use this
            # tool: get-time(): current time and date ...").
            for name in IDENTIFIER.findall(text):
                parts = name.lower().split("_")
                self._add(parts, len(parts) - 1)
        self._runs = sorted({len(key) for key in self._next})

    def _add(self, ws: list[str], run: int) -> None:
        for i in range(len(ws) - run):
            self._next.setdefault(tuple(ws[i : i + run]), set()).add(ws[i + run])

    def __bool__(self) -> bool:
        return bool(self._next)

    def banned(self, reply: str, said: str = "", held: bool = False) -> set[str]:
        """What the next token may not write after `reply`, because it would
        make the reply repeat a run of the fixed start that `said` (the user's
        words) does not hold. Two kinds of text come back:
        - " word": a whole next word, if the reply's last word is complete;
        - "rest": the rest of a word the reply's last word may be the start of
          ("can" + "'t": a copy can be written in pieces). Every token whose
          text begins that rest is banned.
        `held`: the reply is being held open past where the model would end it
        (a long reply, `LlmEngine.stream` `min_tokens`): with nothing more to
        say the model reaches for the examples' names ("It was invented by
        Alexander Graham Bell."), so none may start."""
        ws = words(reply)
        own = words(said)
        out: set[str] = set()
        _continuations(self._next, self._runs, ws, own, out)
        if held and self._names:
            _continuations({(): self._names}, [0], ws, own, out)
        # The reply's own runs: a loop says a run again ("He sings for his
        # teacher, but he doesn't like it." twice in a long story).
        mine: dict[tuple[str, ...], set[str]] = {}
        for i in range(len(ws) - REPLY_RUN - 1):  # the last word may be unfinished
            mine.setdefault(tuple(ws[i : i + REPLY_RUN]), set()).add(ws[i + REPLY_RUN])
        _continuations(mine, [REPLY_RUN], ws, [], out)
        return out


def _continuations(
    following: dict[tuple[str, ...], set[str]],
    runs: Sequence[int],
    ws: list[str],
    own: list[str],
    out: set[str],
) -> None:
    """Adds to `out` what would carry `ws` on along a run of `following`
    (`CopyGuard.banned`), unless `own` holds that run."""
    for run in runs:
        key = tuple(ws[-run:]) if run else ()
        for word in following.get(key, ()):
            if not _holds(own, (*key, word)):
                out.add(" " + word)
        if len(ws) > run:  # the last word may be unfinished
            part, key = ws[-1], tuple(ws[-run - 1 : -1]) if run else ()
            for word in following.get(key, ()):
                if word.startswith(part) and word != part and not _holds(own, (*key, word)):
                    out.add(word[len(part) :])


def _holds(ws: list[str], run: tuple[str, ...]) -> bool:
    n = len(run)
    return any(tuple(ws[i : i + n]) == run for i in range(len(ws) - n + 1))


class TokenBans:
    """The tokens `CopyGuard.banned` texts stand for, from the model's
    tokenizer, cached: for " word", the single tokens of the word with or
    without its space (as written, capitalised, in capitals); for a rest,
    every single token that is a leading piece of it."""

    def __init__(self, tokenize: Callable[[str], Sequence[int]]) -> None:
        self._tokenize = tokenize
        self._cache: dict[str, frozenset[int]] = {}

    def tokens(self, text: str) -> frozenset[int]:
        found = self._cache.get(text)
        if found is None:
            if text.startswith(" "):
                # With its space, or without after a mark ("day?:today").
                word = text[1:]
                forms = {word, word.capitalize(), word.upper()}
                pieces = forms | {" " + f for f in forms}
            else:
                pieces = {f[:end] for f in (text, text.upper()) for end in range(1, len(f) + 1)}
            ids = {t[0] for t in map(self._tokenize, pieces) if len(t) == 1}
            found = self._cache[text] = frozenset(ids)
        return found
