"""Frustration aimed at Parley is noticed; ordinary negative words are not."""

from __future__ import annotations

import pytest

from assistant.dialogue.sentiment import THRESHOLD, acknowledgement, is_negative, negativity

FRUSTRATED = [
    "that's wrong",
    "That's wrong!",
    "thats wrong",
    "you're wrong",
    "that is incorrect",
    "that's not right",
    "wrong",
    "wrong again",
    "no, wrong",
    "you got it wrong again",
    "you got that completely wrong",
    "no that's not what I said",
    "that is not what I asked for",
    "no, I said five minutes",
    "you're not listening",
    "you are not listening to me",
    "you never listen",
    "why can't you understand me",
    "are you deaf",
    "this is useless",
    "this is so stupid",
    "you are useless",
    "you're so dumb",
    "stupid assistant",
    "useless bot",
    "what's wrong with you",
    "ugh",
    "Ugh!!",
    "argh",
    "for crying out loud",
    "no no no",
    "seriously?",
    "that makes no sense",
]

NOT_FRUSTRATED = [
    "what's wrong with my code",
    "what is the opposite of wrong",
    "is it wrong to eat meat",
    "it is wrong to lie",
    "the answer is wrong in my textbook",
    "I'm not sure",
    "no thanks",
    "no",
    "not bad",
    "not really",
    "I had a terrible day",
    "this is terrible news",
    "the movie was awful",
    "it was awful",
    "my phone is useless in the rain",
    "ugh what time is it",
    "stop",
    "shut up",
    "never mind",
    "what time is it",
    "thank you",
    "you are great",
    "I don't understand photosynthesis",
    "come on over tonight",
    "is this right",
]


@pytest.mark.parametrize("text", FRUSTRATED)
def test_frustration_is_noticed(text: str) -> None:
    assert is_negative(text), (text, negativity(text))
    assert negativity(text) >= THRESHOLD


@pytest.mark.parametrize("text", NOT_FRUSTRATED)
def test_ordinary_turns_are_not_flagged(text: str) -> None:
    assert not is_negative(text), (text, negativity(text))


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("that's wrong", "Sorry, I got that wrong. Could you say it again?"),
        ("no that's not what I said", "Sorry, I got that wrong. Could you say it again?"),
        ("you're not listening", "Sorry, I misunderstood. Could you say it another way?"),
        ("stupid assistant",
         "Sorry I let you down. Tell me again what you need and I'll try once more."),
        ("ugh", "Sorry, that wasn't helpful. What should I do instead?"),
    ],
)
def test_acknowledgement_fits_the_complaint(text: str, reply: str) -> None:
    assert acknowledgement(text) == reply


def test_acknowledgement_is_short_and_apologetic_for_every_frustrated_turn() -> None:
    for text in FRUSTRATED:
        reply = acknowledgement(text)
        assert reply.startswith("Sorry")
        assert len(reply.split()) <= 16


def test_scores_are_bounded() -> None:
    for text in FRUSTRATED + NOT_FRUSTRATED:
        assert 0.0 <= negativity(text) <= 1.0
