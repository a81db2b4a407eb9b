"""Follow-ups written out in full for a small model (llm/follow_up.py): only
where the earlier words show plainly where the new ones go."""

from __future__ import annotations

import pytest

from assistant.llm.follow_up import (
    named_person,
    resolve_demonstrative,
    resolve_ellipsis,
    resolve_pronoun,
    written_out,
)
from assistant.llm.templates import Message


@pytest.mark.parametrize(
    ("question", "follow_up", "full"),
    [
        # the phrase after the question's last preposition
        ("What is the population of Canada?", "And Mexico?", "What is the population of Mexico?"),
        ("how tall is the tower in pisa", "what about paris", "how tall is the tower in paris?"),
        # the same preposition
        ("what is the boiling point of water", "and of olive oil",
         "what is the boiling point of olive oil?"),
        ("which language do they speak in brazil", "and in chile?",
         "which language do they speak in chile?"),
        # a superlative for a superlative
        ("What is the longest river in Africa?", "And the shortest?",
         "What is the shortest river in Africa?"),
        ("which is the hottest planet", "how about the coldest", "which is the coldest planet?"),
        # a bare fragment
        ("what is the currency of japan", "Korea?", "what is the currency of Korea?"),
    ],
)  # fmt: skip
def test_an_ellipsis_takes_the_place_of_its_counterpart(
    question: str, follow_up: str, full: str
) -> None:
    assert resolve_ellipsis(question, follow_up) == full


@pytest.mark.parametrize(
    ("question", "follow_up"),
    [
        ("What is the population of Canada?", "And what is the population of Mexico?"),  # whole
        ("tell me a joke", "and another"),  # the earlier words are no question
        ("who painted the sunflowers", "and the water lilies"),  # no preposition to follow
        ("What is the capital of France?", "why?"),
        ("what is the capital of france", "how about in summer"),  # "in" is not in it
        ("how far is the moon", "and the sun is it far too"),  # a sentence of its own
        ("what is the capital of france", "and set a timer"),
        # words that name no thing: another question, not another object
        ("What is the weather like in London?", "and tomorrow?"),
        ("What is the weather like in London?", "and then?"),
        ("what is the capital of france", "and you?"),
        ("what is the capital of france", "what about the other one"),
        ("what is the capital of france", "really?"),
        ("what is the capital of france", "korea?"),  # a bare word: a name only when written as one
    ],
)  # fmt: skip
def test_anything_unplain_is_left_alone(question: str, follow_up: str) -> None:
    assert resolve_ellipsis(question, follow_up) == ""


def test_a_person_pronoun_takes_the_name_the_reply_gave() -> None:
    assert resolve_pronoun("where was she born?", "Marie Curie did.") == (
        "where was Marie Curie born?"
    )
    assert resolve_pronoun("what was his first film", "It was Charlie Chaplin.") == (
        "what was Charlie Chaplin's first film"
    )
    assert resolve_pronoun("tell me more about her", "Ada Lovelace.") == (
        "tell me more about Ada Lovelace"
    )
    assert resolve_pronoun("what were her books about", "Jane Austen.") == (
        "what were Jane Austen's books about"
    )
    # No name in the reply, or two pronouns: left alone.
    assert resolve_pronoun("where was he born?", "I don't know.") == ""
    assert resolve_pronoun("did he meet her", "Napoleon.") == ""


def test_a_name_skips_the_words_that_open_a_sentence() -> None:
    assert named_person("The painter was Vincent van Gogh.") == "Vincent van Gogh"
    assert named_person("I think it was Leonardo da Vinci.") == "Leonardo da Vinci"
    assert named_person("it was nobody") == ""
    assert named_person("That's lovely, have fun in Rome!") == "Rome"  # not "That's"
    assert named_person("Shakespeare.") == "Shakespeare"


def test_a_pointed_at_kind_takes_the_last_name() -> None:
    earlier = ["That sounds fun.", "I am flying to Lisbon next week."]
    assert resolve_demonstrative("what language do they speak in that city", earlier) == (
        "what language do they speak in Lisbon"
    )
    assert resolve_demonstrative("is that song long", ["no names here"]) == ""


def test_written_out_rewrites_each_follow_up_and_keeps_the_rest() -> None:
    conversation = [
        Message("user", "What is the population of Canada?"),
        Message("assistant", "About forty million."),
        Message("user", "And Mexico?"),
        Message("assistant", "About 130 million."),
        Message("user", "And Peru?"),
    ]
    out = written_out(conversation)
    assert [m.content for m in out] == [
        "What is the population of Canada?",
        "About forty million.",
        "What is the population of Mexico?",
        "About 130 million.",
        "What is the population of Peru?",
    ]
    assert written_out([Message("user", "And Mexico?")])[0].content == "And Mexico?"
