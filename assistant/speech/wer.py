"""Word error rate: how far a recognised transcript is from a reference.

WER = (substitutions + deletions + insertions) / reference words, from a
word-level Levenshtein alignment. A dozen lines of dynamic programming, so no
dependency (jiwer would bring rapidfuzz and click for the same number).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_PUNCT = re.compile(r"[^\w\s']")


def normalize(text: str) -> list[str]:
    """Lower-case words without punctuation; the form both sides are compared in."""
    return _PUNCT.sub(" ", text.lower()).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Fewest word substitutions, deletions and insertions turning `ref` into `hyp`."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (0.0 is perfect; may exceed 1).

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise.
    """
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


@dataclass(frozen=True)
class WerTotal:
    """Corpus WER: errors summed over utterances divided by reference words summed."""

    errors: int
    words: int

    @property
    def wer(self) -> float:
        return self.errors / self.words if self.words else 0.0


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> WerTotal:
    """Pooled WER over (reference, hypothesis) pairs, weighting long utterances more."""
    errors = words = 0
    for reference, hypothesis in pairs:
        ref = normalize(reference)
        errors += edit_distance(ref, normalize(hypothesis))
        words += len(ref)
    return WerTotal(errors, words)
