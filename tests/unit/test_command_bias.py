"""The command bias (speech/command_bias.py) with the real pronouncing
dictionary from pocketsphinx: near-commands are read as commands, anything else
is left exactly as heard."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.dialogue import intents
from assistant.speech.command_bias import (
    BiasedRecognizer,
    CommandBias,
    phone_distance,
    spelled_phones,
)
from assistant.speech.stt import Transcript


@pytest.fixture(scope="module")
def bias() -> CommandBias:
    return CommandBias(apps=["Thunderbird"])


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("what is said and plus five", "what is seven plus five"),
        ("what is seven class five", "what is seven plus five"),
        ("what is one hundred divided by for", "what is one hundred divided by four"),
        ("set a time for ten minutes", "set a timer for ten minutes"),
        ("sent a timer for thirty seconds", "set a timer for thirty seconds"),
        ("the set a timer for ten minutes", "set a timer for ten minutes"),
        ("often the calculator", "open the calculator"),
        ("often the thunderbird", "open the thunderbird"),
        ("can sell my alarm", "cancel my alarm"),
        ("can sell the pasta timer", "cancel the pasta timer"),
        ("what is for plus for", "what is four plus four"),
    ],
)
def test_a_near_command_is_read_as_the_command(bias: CommandBias, heard: str, meant: str) -> None:
    before = intents.parse(heard)
    assert before is None or before.confidence < intents.RULE_CONFIDENCE
    assert bias.correct(heard) == meant


@pytest.mark.parametrize(
    "heard",
    [
        "",
        "you",
        "the",
        "who wrote romeo and juliet",
        "what is the capital of france",
        "tell me about the french revolution",
        "how tall is mount everest",
        "what is love",
        "what is dwelt",  # "what is twelve" is no command either
        "take a nap after lunch",  # no note: "note" was never said
        "make a quote buy milk",
        "often the door",  # not an app Parley knows
        "sit down and listen to me",
        "i saw a film about time travel",
        "it was the best of times it was the worst of times",
        "stop",
        "shop",  # never forced onto the short social commands
        # open questions keep their own words: no "cancel ... alarm" from "can you ..."
        "can you explain how rainbows form",
        "can you describe why the tide turns",
        "could you say how glaciers move",
    ],
)
def test_other_speech_is_left_as_heard(bias: CommandBias, heard: str) -> None:
    assert bias.correct(heard) == heard


@pytest.mark.parametrize(
    "heard",
    [
        "set a timer for ten minutes",
        "what time is it",
        "take a note by milk",  # the note's text is the user's, misheard or not
        "open the door",
    ],
)
def test_what_the_rules_already_read_is_untouched(bias: CommandBias, heard: str) -> None:
    assert bias.correct(heard) == heard


def test_free_text_is_never_rewritten(bias: CommandBias) -> None:
    # "for the pasta" is the timer's label: a reading may fix "time" but must
    # keep the label as heard.
    fixed = bias.correct("set a time for ten minutes for the pasta")
    assert fixed == "set a timer for ten minutes for the pasta"


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # one heard word cut into two of the vocabulary's
        ("set an alarming twenty minutes", "set an alarm in twenty minutes"),
        ("set and alarming forty minutes", "set an alarm in forty minutes"),
        # two heard words cut elsewhere
        ("calculates its plus two", "calculate six plus two"),
    ],
)
def test_words_run_together_or_cut_apart_are_read_apart(
    bias: CommandBias, heard: str, meant: str
) -> None:
    assert bias.correct(heard) == meant


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("what is fifty percent of maybe", "what is fifty percent of eighty"),
        ("what is twelve times maybe", "what is twelve times eighty"),
    ],
)
def test_a_word_beside_an_operator_is_read_as_its_nearest_number(
    bias: CommandBias, heard: str, meant: str
) -> None:
    assert bias.correct(heard) == meant


def test_an_operand_is_left_when_two_numbers_are_as_near(bias: CommandBias) -> None:
    # "by" is as near "five" as "nine" or "eight": no guess
    assert bias.correct("what is six plus by") == "what is six plus by"


def test_three_changes_when_most_words_are_kept(bias: CommandBias) -> None:
    assert bias.correct("said a time far ten minutes") == "set a timer for ten minutes"


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # "and" said as "'n" is "in" said as "'n"; "of" said as "o'"
        ("remind me and twenty limits to check the oven",
         "remind me in twenty minutes to check the oven"),
        ("what is the date of day", "what is the date today"),
    ],
)
def test_weak_forms_of_function_words(bias: CommandBias, heard: str, meant: str) -> None:
    assert bias.correct(heard) == meant


@pytest.mark.parametrize(
    "heard",
    [
        "remind me and my sister of the party",
        "what is the state of play",
        "what do you think of cats and dogs",
        "a cup of tea in the morning",
        "what is the date of the next full moon",
    ],
)
def test_weak_forms_do_not_make_open_speech_a_command(bias: CommandBias, heard: str) -> None:
    assert bias.correct(heard) == heard


def test_a_silent_e_makes_the_vowel_before_it_long() -> None:
    # a word the dictionary lacks, read by its letters
    assert spelled_phones("bimes") == ("B", "AY", "M", "Z")
    assert spelled_phones("calade") == ("K", "AE", "L", "EY", "D")
    assert spelled_phones("pleese")[-1] == "S"  # "ee" is no vowel-consonant-e
    assert spelled_phones("calator")[-1] == "ER"  # an unstressed ending


def test_an_app_name_heard_in_two_misspelt_parts(bias: CommandBias) -> None:
    assert bias.correct("launch the cow calator") == "launch the calculator"


def test_a_misspelt_operator_is_read_by_its_long_vowel(bias: CommandBias) -> None:
    assert bias.correct("what is it bimes nine") == "what is eight times nine"


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("set in alarm for seven thirty im", "set in alarm for seven thirty am"),
        ("set in alarm for half a past seven", "set in alarm for half past seven"),
        ("wake me up hatsix in the morning", "wake me up six in the morning"),
    ],
)
def test_a_near_alarm_is_read_as_the_alarm(bias: CommandBias, heard: str, meant: str) -> None:
    assert bias.correct(heard) == meant
    intent = intents.parse(meant)
    assert intent is not None and intent.name is intents.IntentName.ALARM


@pytest.mark.parametrize(
    "heard",
    [
        # told of an alarm, not asking for one
        "the alarm rang at six thirty",
        "i set my alarm for seven",
        "my alarm is set for six am",
        "the alarm went off at six",
        "we set the alarm for six",
        "the meeting is at half past seven",
        "i woke up at six in the morning",
        "i set a timer for ten minutes yesterday",
        "we set a timer for five minutes",
    ],
)
def test_speech_about_an_alarm_or_a_timer_sets_none(bias: CommandBias, heard: str) -> None:
    assert bias.correct(heard) == heard


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        # "due" and "red" sound as "do" and "read": kept words, so one real
        # change ("time was" -> "timers", "minox" -> "my notes") is enough
        ("what time was due i have", "what timers do i have"),
        ("red minox", "read my notes"),
    ],
)
def test_a_respelling_counts_as_a_kept_word(bias: CommandBias, heard: str, meant: str) -> None:
    assert bias.correct(heard) == meant


@pytest.mark.parametrize(
    "heard",
    [
        # respellings ("due", "red") must not let open speech through either
        "what was due on monday",
        "the red fox jumped over the dog",
        "do i have to go to school",
        "what do i have to do today",
    ],
)
def test_respellings_do_not_make_open_speech_a_command(bias: CommandBias, heard: str) -> None:
    assert bias.correct(heard) == heard


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("how much time has left on my timer", "how much time is left on my timer"),
        ("how long has left on the timer", "how long is left on the timer"),
    ],
)
def test_a_dropped_or_added_h_is_a_small_change(bias: CommandBias, heard: str, meant: str) -> None:
    assert bias.correct(heard) == meant


@pytest.mark.parametrize(
    "heard",
    [
        "what plus what",
        "the timer on my oven is broken",
        "calculate the risk of failure",
        "set fire to the rain",
        "what is the square of the hypotenuse",
        "how many hours in a day",
        "what year did the war end",
        "i have been here before",
        "what is a good name for a cat",
        "an hour of my time is worth a lot",
        "it takes ten minutes to walk there",
        "cancel culture is complicated",
        "clear the table for dinner",  # no "take a four timer" from "table for dinner"
        "what is two plus two in binary",  # no number made beside "two"
        "how long is the river nile",
        "are you running",
    ],
)
def test_open_speech_near_command_words_is_left_as_heard(bias: CommandBias, heard: str) -> None:
    assert bias.correct(heard) == heard


def test_similar_phones_are_nearer_than_different_ones() -> None:
    twelve, dwelt, bells = ("T", "W", "EH", "L", "V"), ("D", "W", "EH", "L", "T"), (
        "B", "EH", "L", "Z")
    assert phone_distance(dwelt, twelve) < phone_distance(bells, twelve)
    assert phone_distance(twelve, twelve) == 0.0


class _Heard:
    """A recogniser that has heard fixed words (a fake: the bias is the subject)."""

    sample_rate = 16_000

    def __init__(self, text: str) -> None:
        self.text = text
        self.fed = 0
        self.closed = False

    def accept(self, samples: np.ndarray) -> None:
        self.fed += len(samples)

    def partial(self) -> str:
        return self.text

    def final(self) -> Transcript:
        return Transcript(self.text, 0.9, (), "fake")

    def reset(self) -> None:
        self.fed = 0

    def settled(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def test_biased_recognizer_corrects_partials_and_finals(bias: CommandBias) -> None:
    inner = _Heard("what is said and plus five")
    rec = BiasedRecognizer(inner, bias)
    rec.accept(np.zeros(480, np.int16))
    assert inner.fed == 480
    assert rec.partial() == "what is seven plus five"
    final = rec.final()
    assert final.text == "what is seven plus five"
    assert final.confidence == 0.9 and final.engine == "fake"
    assert rec.settled() is True
    rec.close()
    assert inner.closed


def test_biased_recognizer_passes_other_speech_through(bias: CommandBias) -> None:
    inner = _Heard("who wrote romeo and juliet")
    final = BiasedRecognizer(inner, bias).final()
    assert final == inner.final()
