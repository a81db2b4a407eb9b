"""After a wake hit, the phrase (or its tail, heard as a word when the spotter
fired early) is not part of the request (speech/wakeword.py request_after_wake)."""

from __future__ import annotations

import pytest

from assistant.speech.wakeword import request_after_wake


@pytest.mark.parametrize(
    ("heard", "phrase", "rest"),
    [
        ("the set a timer for ten minutes", "hey parley", "set a timer for ten minutes"),
        ("lee what time is it", "hey parley", "what time is it"),
        ("ly, open firefox", "hey parley", "open firefox"),
        ("hey parley what time is it", "hey parley", "what time is it"),
        ("parley what is seven plus five", "hey parley", "what is seven plus five"),
        ("ter what time is it", "ok computer", "what time is it"),
    ],
)
def test_the_wake_phrase_or_its_tail_goes(heard: str, phrase: str, rest: str) -> None:
    assert request_after_wake(heard, phrase) == rest


@pytest.mark.parametrize(
    "heard",
    [
        "what time is it",
        "theater tickets for tonight",
        "take a note buy milk",
        "tell me a joke",
        "who wrote romeo and juliet",
        "the",  # nothing follows: that is no request to cut into
        "",
    ],
)
def test_a_request_without_them_is_kept(heard: str) -> None:
    assert request_after_wake(heard, "hey parley") == heard


def test_another_phrase_has_other_tails() -> None:
    # "-ley" is no ending of "computer": "the" stays.
    assert request_after_wake("the set a timer", "ok computer") == "the set a timer"
