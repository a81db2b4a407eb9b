"""The CLI's words for people: counts agree with their nouns."""

from __future__ import annotations

from assistant.commands.doctor import _count


def test_one_is_singular_and_other_counts_are_plural() -> None:
    assert _count(1, "problem") == "1 problem"
    assert _count(2, "problem") == "2 problems"
    assert _count(0, "output device") == "0 output devices"
