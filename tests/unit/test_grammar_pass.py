"""The grammar pass's logic, with the decoder's reading given (no audio):
which transcripts are near-misses, which grammar readings agree with what was
heard, the recogniser wrapper that keeps an utterance's audio for it, and the
pass of a recogniser in a worker process, which decodes there."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.speech.command_bias import (
    BiasedRecognizer,
    CommandBias,
    biased,
    default_bias,
    read_final,
    say_number,
)
from assistant.speech.grammar_pass import (
    GrammarPass,
    WorkerGrammarPass,
    command_grammar,
    grammar_words,
)
from assistant.speech.stt import Transcript

AUDIO = np.ones(1600, np.int16)


@pytest.fixture(scope="module")
def bias() -> CommandBias:
    b = CommandBias()
    if not b._lex:
        pytest.skip("no pronouncing dictionary (pocketsphinx)")
    return b


class _Given(GrammarPass):
    """A grammar pass whose decoder 'hears' a given reading."""

    def __init__(self, bias: CommandBias, reading: str) -> None:
        super().__init__(bias)
        self.reading = reading
        self.decodes = 0

    def decode(self, audio: np.ndarray) -> str:
        self.decodes += 1
        return self.reading


def test_say_number() -> None:
    assert say_number(7) == ["seven"]
    assert say_number(47) == ["forty", "seven"]
    assert say_number(420) == ["four", "hundred", "twenty"]
    assert say_number(2005) == ["two", "thousand", "five"]


def test_the_grammar_holds_commands_and_the_apps() -> None:
    g = command_grammar(["calculator", "text editor"])
    assert g.startswith("#JSGF")
    assert "text editor" in g and "public <cmd>" in g
    assert "ninety" in g and "to the power of" in g


@pytest.mark.parametrize(
    "heard",
    ["said in alarm in nineteen minutes", "blanche at our minnow", "what day is a today",
     "how much is when defy bliss seventeen"],
)
def test_near_misses(bias: CommandBias, heard: str) -> None:
    assert bias.near_miss(heard)


@pytest.mark.parametrize(
    "heard",
    ["set a timer for ten minutes",  # the rules read it
     "why is this sky blue", "tell me a joke about cats", "what is the capital of spain",
     "who painted the mona lisa", "timer"],
)
def test_not_near_misses(bias: CommandBias, heard: str) -> None:
    assert not bias.near_miss(heard)


@pytest.mark.parametrize(
    ("heard", "reading"),
    [
        ("how much is when defy bliss seventeen", "how much is twenty five plus seventeen"),
        ("said a time of all one other", "set a timer for one hour"),
        ("set a time of horrified minutes", "set a timer for five minutes"),
        ("go open the town and go", "open the terminal"),
    ],
)
def test_an_agreeing_reading_is_taken(bias: CommandBias, heard: str, reading: str) -> None:
    second = _Given(bias, reading)
    assert second.reread(heard, AUDIO) == reading
    assert read_final(heard, bias, second, AUDIO) == reading


@pytest.mark.parametrize(
    ("heard", "reading"),
    [
        # more numbers than were heard
        ("what is five times the speed of sound", "what is five times fifty point seven"),
        ("what is the square of the circle", "what is the square root of thirty one"),
        # the grammar's filler at the end
        ("bring mine me in fifteen minutes to call mine",
         "remind me in fifteen minutes and twelve minute"),
        # too far from what was heard
        ("what is the time zone of tokyo", "what is the time today"),
        # a subject first: telling of an alarm, not asking for one
        ("i said an alarm in ninety minutes", "set an alarm in ninety minutes"),
        # a number heard as a number word stays that number
        ("said in alarm in nineteen minutes", "set an alarm in ninety minutes"),
        ("what is it plus thirty", "what is eight plus thirteen"),
    ],
)
def test_a_disagreeing_reading_is_not(bias: CommandBias, heard: str, reading: str) -> None:
    assert _Given(bias, reading).reread(heard, AUDIO) == heard


def test_no_decode_unless_a_near_miss(bias: CommandBias) -> None:
    second = _Given(bias, "what time is it")
    for heard in ("tell me a joke about cats", "what is seven plus five", ""):
        assert second.reread(heard, AUDIO) == heard
    assert second.reread("go open the town and go", np.zeros(0, np.int16)) != "what time is it"
    assert second.decodes == 0


def test_what_the_bias_reads_is_left_to_it(bias: CommandBias) -> None:
    for heard, reading, fixed in [
        # free text the grammar cannot hold
        ("set a time of or twenty minutes for the pasta",
         "set a timer for twenty minutes and eight hours",
         "set a timer for twenty minutes for the pasta"),
        ("open the tax editor", "open the editor", "open the text editor"),
    ]:
        second = _Given(bias, reading)
        assert read_final(heard, bias, second, AUDIO) == fixed
        assert second.decodes == 0


class _Heard:
    sample_rate = 16_000

    def __init__(self, text: str) -> None:
        self.text = text

    def accept(self, samples: np.ndarray) -> None:
        pass

    def partial(self) -> str:
        return self.text

    def final(self) -> Transcript:
        return Transcript(self.text, 0.9, (), "fake")

    def reset(self) -> None:
        pass


def test_the_recognizer_keeps_the_utterance_audio_for_the_pass(bias: CommandBias) -> None:
    seen: list[int] = []

    class _Seen(_Given):
        def decode(self, audio: np.ndarray) -> str:
            seen.append(len(audio))
            return super().decode(audio)

    rec = BiasedRecognizer(
        _Heard("go open the town and go"), bias, _Seen(bias, "open the terminal"),
    )
    rec.accept(np.ones(480, np.int16))
    rec.reset()  # a new utterance: the audio before it is dropped
    rec.accept(np.ones(480, np.int16))
    rec.accept(np.ones(480, np.int16))
    t = rec.final()
    assert t.text == "open the terminal" and t.engine == "fake"
    assert seen == [960]
    rec.accept(np.ones(480, np.int16))
    rec.final()
    assert seen == [960, 480]  # each final hears its own utterance only


def test_grammar_words_are_the_rules_words_only() -> None:
    words = grammar_words(command_grammar(["firefox"]))
    assert {"firefox", "ninety", "timer", "o'clock", "parley"} <= set(words)
    assert not {"public", "cmd", "num", "grammar", "jsgf"} & set(words)


class _Worker(_Heard):
    """A recogniser whose worker process holds the audio and decodes the pass
    (`stt_worker.RecognizerProcess`), 'hearing' a given reading."""

    def __init__(self, text: str, reading: tuple[str, float] | None) -> None:
        super().__init__(text)
        self.reading = reading
        self.asked = 0
        self.apps: list[str] = []

    def reread_near_misses(self, apps: list[str]) -> None:
        self.apps = apps

    def grammar_reading(self) -> tuple[str, float] | None:
        self.asked += 1
        return self.reading


def test_a_worker_recognizer_decodes_the_pass_itself(
    bias: CommandBias, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoder_here(self: GrammarPass) -> None:
        raise AssertionError("the grammar decoder loaded in the parent")

    monkeypatch.setattr(GrammarPass, "_load", no_decoder_here)
    inner = _Worker("go open the town and go", ("open the terminal", 180.0))
    rec = biased(inner, "en")
    assert isinstance(rec, BiasedRecognizer) and isinstance(rec.second, WorkerGrammarPass)
    assert "terminal" in inner.apps and sorted(default_bias().apps) == inner.apps
    rec.accept(np.ones(480, np.int16))
    assert rec._audio == []  # the worker keeps the audio, not this process
    t = rec.final()
    assert t.text == "open the terminal" and inner.asked == 1
    assert rec.second.last_ms == 180.0
    inner.text = "what is seven plus five"  # no near-miss: the worker is not asked
    assert rec.final().text == "what is seven plus five" and inner.asked == 1


def test_a_reading_that_disagrees_leaves_the_words_to_the_bias(bias: CommandBias) -> None:
    inner = _Worker("go open the town and go", ("what is eight hundred eleven squared", 150.0))
    rec = BiasedRecognizer(inner, bias, WorkerGrammarPass(bias, inner))
    assert rec.final().text == bias.correct("go open the town and go")
    inner.reading = ("", 0.0)  # the worker has no grammar pass (no pocketsphinx there)
    assert rec.final().text == bias.correct("go open the town and go")


def test_a_worker_lost_in_the_pass_loses_the_utterance(bias: CommandBias) -> None:
    inner = _Worker("go open the town and go", None)
    rec = BiasedRecognizer(inner, bias, WorkerGrammarPass(bias, inner))
    t = rec.final()
    assert t.text == "" and t.confidence == 0.0 and t.engine == "fake"
