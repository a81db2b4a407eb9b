"""The completeness judge: partial transcripts labelled finished or unfinished."""

from __future__ import annotations

import pytest

from assistant.dialogue.turn_end import Missing, continuation_question, judge_turn

FINISHED = [
    "write a song about a whale who wants to sing",  # "to sing": an activity, whole
    "i would like to learn to cook",
    "what time is it",
    "what is the date",
    "what is eight times nine",
    "what is forty two divided by six",
    "what is twenty percent of fifty",
    "how much is three plus four",
    "set a timer for three minutes",
    "start a timer for ninety seconds",
    "remind me in five minutes to check the oven",
    "take a note call the dentist",
    "read my notes",
    "what is the capital of spain",
    "who painted the mona lisa",
    "show me what she painted",  # "what" is the object here
    "do you know who wrote it",
    "why do cats purr",
    "tell me a story",
    "tell me something about volcanoes",
    "what is the weather like",
    "set an alarm for six thirty am",
    "how far away is the sun",
    # the question word is the object the last word needs
    "what does a panda eat",
    "which poem did she write",
    "who did you vote for",
    "what planet are you from",
    "what are you looking at",
    "what is this tool used for",
    "who is he talking to",
    "what is glass made of",
    "stop",
    "thanks",
    "yes",
    "turn the lights off please",
    "what is the square root of sixteen",
    "translate hello into french",
    "what timers do i have",
    "how old are you",
    "what is too plus to",  # a recogniser's spelling of "two plus two"
    "who composed the moonlight sonata",
    "which planet is the largest",
    "who is the oldest",
    "turn the lights on",
    "switch it off",
    "what happened",
    "what about paris",
    "how many people live in tokyo",
    "what colour is the sky",
    "start a countdown from ten",
    "wake me up at seven thirty",
    "convert five miles to kilometres",
    "what time does the sun rise",
    "how long should i boil an egg",
    "what does the word mean",
    "why do i sneeze",
    "how many legs does a spider have",
    "what can a computer do",
    "open example.net/a",  # a typed address: its last piece is no article
    "send it to bob@example.com",
    # a person in a place the question word asks for (not the dummy "it")
    "which floor is she on",
    "what city am i in",
    "what team are they in",
    "which country is that city in",  # a named thing where the noun asked for is
    "what channel is the final on",
    "what town does she work in",
    "which country was he born in",  # a subject and its verb after "does"
    "which day of the week are we on",  # a longer noun phrase before the auxiliary
    "what's the date then",  # "then" closes a question
    "what time is it then",
    # a question names a note or an alarm, it asks for none
    "why do people write notes",
    "is it good to wake up early",
    "what did i write in my notes",
]
UNFINISHED = [
    # trailing function words
    ("what is the", Missing.WORDS),
    ("what is the time and then", Missing.WORDS),
    ("what is the weather in", Missing.WORDS),  # no noun asked for: a place follows
    ("what time is the film on in", Missing.WORDS),  # "then" after "and" goes on
    ("set a reminder for", Missing.NOTE_TEXT),
    ("i need you to set", Missing.OBJECT),  # "to set": set what
    ("what is the distance between", Missing.WORDS),
    ("tell me about", Missing.WORDS),
    ("find a recipe with chicken and", Missing.WORDS),
    ("could you please", Missing.MORE),
    ("how do i", Missing.MORE),
    ("what's", Missing.WORDS),
    ("what is", Missing.MORE),
    ("can you tell me where", Missing.MORE),
    ("play some music by", Missing.WORDS),
    ("um", Missing.WORDS),
    # operators and numbers an expression still needs
    ("what is six times", Missing.OPERAND),
    ("what is eighty minus", Missing.OPERAND),
    ("what is ten percent of", Missing.OPERAND),
    ("what is thirty", Missing.OPERAND),
    ("how much is a hundred divided by", Missing.OPERAND),
    ("what's twenty five percent", Missing.OPERAND),
    ("what is ten per cent", Missing.OPERAND),
    # verbs that need their object
    ("tell me", Missing.OBJECT),
    ("give me", Missing.OBJECT),
    ("can you remind me", Missing.OBJECT),
    ("please open", Missing.OBJECT),
    ("remind me to", Missing.WORDS),
    # a fronted question word does not stand for every object
    ("where can i find", Missing.OBJECT),  # find what?
    ("what can you show", Missing.OBJECT),  # show me ...
    ("what time is it in", Missing.WORDS),  # (Lisbon)
    ("what do you want us to", Missing.WORDS),
    ("what are you going to", Missing.WORDS),
    ("who was the king of", Missing.WORDS),
    # intents missing a slot
    ("set a timer", Missing.DURATION),
    ("start a countdown", Missing.DURATION),
    ("set a timer for twenty", Missing.DURATION),
    ("put a timer on for", Missing.DURATION),
    ("set an alarm", Missing.CLOCK_TIME),
    ("take a note", Missing.NOTE_TEXT),
    ("make a new note saying", Missing.NOTE_TEXT),
    ("set a timer uh", Missing.DURATION),
    # open questions still waiting for their complement
    ("what is the population", Missing.COMPLEMENT),
    ("who was the first president", Missing.COMPLEMENT),
    ("tell me something", Missing.COMPLEMENT),
    ("can you write me anything", Missing.COMPLEMENT),
    ("who composed", Missing.MORE),
    ("who first discovered", Missing.MORE),
    ("what is the square root", Missing.COMPLEMENT),
    ("what is two to the power", Missing.COMPLEMENT),
    # a question's noun phrase with no verb yet, a particle without its object
    ("how many days", Missing.MORE),
    ("how much sugar", Missing.MORE),
    ("which planet", Missing.MORE),
    ("what colour", Missing.MORE),
    ("turn off", Missing.OBJECT),
    ("where is the nearest", Missing.WORDS),
    ("show me the best", Missing.WORDS),
    ("start to count down", Missing.DURATION),
    ("wake me up", Missing.CLOCK_TIME),
    ("wake me a pet", Missing.CLOCK_TIME),  # Moonshine's "wake me up at" in a robot voice
    ("convert five miles", Missing.COMPLEMENT),
    ("who discover", Missing.MORE),  # heard for "who discovered ..."
    ("tell me who painted", Missing.MORE),  # an embedded question: its object is to come
    ("do you know which scientist discovered", Missing.MORE),
    ("what time does the sun", Missing.MORE),
    ("when did my flight", Missing.MORE),
    ("how long should i boil", Missing.MORE),
    ("spell the word", Missing.MORE),
    ("what is the boiling point", Missing.COMPLEMENT),
]


@pytest.mark.parametrize("text", FINISHED)
def test_finished_requests_end_the_turn(text: str) -> None:
    verdict = judge_turn(text)
    assert verdict.complete, verdict
    assert verdict.missing is Missing.NOTHING


@pytest.mark.parametrize(("text", "missing"), UNFINISHED)
def test_unfinished_requests_are_waited_for(text: str, missing: Missing) -> None:
    verdict = judge_turn(text)
    assert not verdict.complete
    assert verdict.missing is missing


def test_the_table_is_large_and_balanced() -> None:
    assert len(FINISHED) + len(UNFINISHED) >= 40
    assert len(FINISHED) >= 20 and len(UNFINISHED) >= 20


def test_rule_requests_are_marked_as_ready_at_once() -> None:
    assert judge_turn("what is nine times four").rule
    assert judge_turn("set a timer for one minute").rule
    assert not judge_turn("who wrote hamlet").rule


def test_dictated_content_is_finished_but_may_go_on() -> None:
    verdict = judge_turn("take a note buy milk")
    assert verdict.complete and verdict.dictation
    assert not judge_turn("what time is it").dictation


def test_empty_text_is_not_finished() -> None:
    assert not judge_turn("").complete
    assert not judge_turn("   ").complete


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("set a timer", "For how long?"),
        ("set a timer for forty", "For how long?"),
        ("set an alarm for", "For what time?"),
        ("take a note", "What should the note say?"),
        ("what is nine minus", "Nine minus what?"),
        ("what is forty", "Forty and what?"),
        ("remind me to", "Remind you to what?"),
        ("show me the best", "The best what?"),
        ("turn off", "Turn off what?"),
        ("what is fifty percent", "Fifty percent of what?"),
    ],
)
def test_a_half_said_request_gets_a_question_for_the_rest(text: str, question: str) -> None:
    verdict = judge_turn(text)
    assert verdict.asks
    assert continuation_question(text, verdict) == question


@pytest.mark.parametrize("text", ["tell me something", "what is the capital", "can you"])
def test_a_soft_gap_is_answered_not_asked_about(text: str) -> None:
    verdict = judge_turn(text)
    assert not verdict.complete and not verdict.asks


@pytest.mark.parametrize(
    ("text", "sure"),
    [
        ("what is it", False),  # "what is eight ..." heard before the rest
        ("who was she", False),
        ("where are they", False),
        ("what is that", False),
        ("what time is it", True),
        ("where is it parked", True),
        ("who are you", True),
        ("how old is he", True),
        ("tell me about it", True),
    ],
)
def test_a_question_that_only_points_is_finished_but_not_sure(text: str, sure: bool) -> None:
    verdict = judge_turn(text)
    assert verdict.complete
    assert verdict.sure is sure
