"""A second listen for near-misses: the utterance's audio decoded again by
pocketsphinx against a grammar of Parley's commands (JSGF), used only when the
free transcript is nearly a command but neither the rules nor the command bias
read it.

Why: much of what the bias could not mend on the robotic voices is what text
alone cannot settle ("go open the town and go" for "open the terminal", "said
a time of all one other" for "set a timer for one hour"). The audio settles
it: a decoder that may only say commands hears those commands right on the
flite voices (29 of 37 commands word for word on awb, where Moonshine got 22).
But a grammar decoder says some command for anything (an open question comes
out as "eight hundred eleven squared"), so its reading is taken only when both
recognisers agree closely:

- the free transcript is a near-miss (`CommandBias.near_miss`): no rule reads
  it, nor does the bias, and a heard word is, or closely sounds like, a word
  only commands use ("timer", "plus", "notes", an app's name);
- the grammar's reading is one of the biased commands, asked for as the bias
  asks (`command_bias._asks`);
- it holds no more units or numbers than were heard (a grammar fills speech it
  cannot hold, "to call mum", with "and twelve minutes"), keeps each number
  heard as a number word (in the bench the grammar made Piper's "ninety"
  "nineteen", and eSpeak's "eight" "three"), ends with what was heard last,
  and is within `MAX_AGREEMENT` of the heard words, phone for phone.

The grammar holds no free text (notes' words, timers' labels): a command with
free text can only come from the free transcript.

Cost: a decode is about 0.08-0.1 s per second of speech on this 2-core machine
(pocketsphinx's JSGF search: 150-250 ms for a command), paid only on
near-misses, after the endpoint; `parley bench stt` reports it per voice.
pocketsphinx's binding holds the GIL while it decodes, so where the recogniser
runs in a worker process (Moonshine, pocketsphinx: `stt_worker`) the decode
runs there, on the audio the worker already holds (`WorkerGrammarPass`): the
parent only tests for a near-miss and checks the reading (a millisecond or
two; the bias's reading of the words is cached from the partials), and its
other threads run on. With Vosk (in-process) the pass decodes in the ear's
thread.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from assistant.dialogue import intents
from assistant.dialogue.numbers import digitize
from assistant.speech import command_bias as cb

log = logging.getLogger(__name__)

MAX_AGREEMENT = 0.35
"""Weighted phone edits between the heard words and the grammar's reading,
over the longer: above it the two recognisers heard different things."""
TAIL_DISTANCE = 0.5
"""The grammar's last word against the heard utterance's last sounds ("hour"
for "other" is 0.5)."""
SAMPLE_RATE = 16_000

_DIGITS = "one | two | three | four | five | six | seven | eight | nine"
_TEENS = (
    "ten | eleven | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen"
    " | nineteen"
)
_TENS = "twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety"


def command_grammar(apps: Iterable[str] = cb.APPS) -> str:
    """Parley's commands without free text, as a JSGF grammar: sums, timers and
    alarms, listing and cancelling them, the note commands that take no text,
    opening an app, time and date; a wake phrase may come first."""
    app_names = sorted({a.lower() for a in apps if a.replace(" ", "").isalpha()})
    return f"""#JSGF V1.0;
grammar parley;
<digit> = {_DIGITS};
<teen> = {_TEENS};
<tens> = {_TENS};
<small> = zero | <digit> | <teen> | <tens> [<digit>];
<num> = <small> | [a | one | <digit>] hundred [and] [<small>] | <small> point <digit>
      | <digit> thousand [<small>];
<unit> = second | seconds | minute | minutes | hour | hours;
<dur> = (<num> | a | an) [and a half] <unit> [and <num> <unit>] | half an hour;
<op> = plus | minus | times | divided by | multiplied by | over | to the power of;
<ask> = what is | how much is | calculate;
<calc> = [<ask>] (<num> <op> <num> | <num> percent of <num> | the square root of <num>
       | <num> (squared | cubed));
<clock> = <digit> [<teen> | <tens> [<digit>] | o'clock] [am | pm] | <teen> [am | pm];
<timer> = (set | start) (a | an) (timer | countdown) (for | in) <dur>
        | remind me in <dur> | wake me up in <dur> | wake me up at <clock>
        | (set | start) an alarm (for | in) <dur> | set an alarm (for | at) <clock>;
<tlist> = what (timers | alarms) do i have | how much time is left
        | (cancel | stop) the (timer | alarm) | (cancel | stop) all my (timers | alarms);
<notes> = (read | list | show) my notes | what notes do i have | delete all my notes;
<app> = {" | ".join(app_names)};
<open> = (open | launch | start) [the] <app>;
<when> = what time is it | what is the (time | date) [today]
       | what (day | year | month) is it [today] | what is today's date;
public <cmd> = [[hey] parley] (<calc> | <timer> | <tlist> | <notes> | <open> | <when>);
"""


MAX_PRONUNCIATIONS = 3


def grammar_words(grammar: str) -> list[str]:
    """The words a JSGF grammar's rules can say."""
    body = re.sub(r"<[^>]+>", " ", grammar.split(";", 2)[2])
    return sorted(set(re.findall(r"[a-z']+", body)) - {"public"})


class GrammarPass:
    """The grammar decoder (pocketsphinx, loaded on first use: ~70 ms and
    ~35 MB) and the agreement check around it."""

    needs_audio = True
    """`reread` decodes the audio it is given (a `WorkerGrammarPass` has it)."""

    def __init__(self, bias: cb.CommandBias) -> None:
        self.bias = bias
        self._decoder: Any = None
        self._lock = threading.Lock()
        self.last_ms = 0.0
        """The last decode's time, for the bench and the log."""

    def _load(self) -> Any:
        """A decoder with no language model and a dictionary of the grammar's
        words alone (from the bias's pronouncing dictionary): 60 ms to load
        and ~40 MB, where pocketsphinx's default dictionary and language
        model took 290 ms and ~120 MB for the same readings."""
        from pocketsphinx import Decoder

        lex = self.bias._lex
        # apps the dictionary cannot say are left out, never a failure
        apps = [a for a in self.bias.apps if all(lex.get(w) for w in a.split())]
        grammar = command_grammar(apps)
        decoder = Decoder(
            loglevel="FATAL", samprate=SAMPLE_RATE, bestpath=False, lm=None, dict=None
        )
        for word in grammar_words(grammar):
            for i, phones in enumerate(lex.get(word, ())[:MAX_PRONUNCIATIONS]):
                decoder.add_word(word if i == 0 else f"{word}({i + 1})", " ".join(phones), False)
        decoder.add_jsgf_string("parley_commands", grammar)
        decoder.activate_search("parley_commands")
        return decoder

    def decode(self, audio: np.ndarray) -> str:
        """The grammar's reading of 16 kHz mono int16 `audio` ("" when none)."""
        started = time.perf_counter()
        with self._lock:
            if self._decoder is None:
                self._decoder = self._load()
            d = self._decoder
            d.start_utt()
            d.process_raw(np.ascontiguousarray(audio, dtype=np.int16).tobytes(), False, True)
            d.end_utt()
            hyp = d.hyp()
        self.last_ms = (time.perf_counter() - started) * 1000
        return hyp.hypstr if hyp is not None else ""

    def reread(self, heard: str, audio: np.ndarray) -> str:
        """`heard`, or the command the grammar heard in `audio` when `heard`
        is a near-miss and the grammar's reading agrees with it. Raises
        PassLost when a worker that decodes it went away."""
        if (self.needs_audio and not audio.size) or not self.bias.near_miss(heard):
            return heard
        fixed = intents.parse(self.bias.correct(heard))
        if fixed is not None and fixed.confidence >= intents.RULE_CONFIDENCE:
            return heard  # the bias reads it ("open the tax editor"): its reading stands
        reading = self.decode(audio)
        if reading and self.accepts(heard, reading):
            # The words stay out of the log: they are the user's.
            log.debug("grammar pass: a near-miss re-read (%.0f ms)", self.last_ms)
            return reading
        return heard

    def accepts(self, heard: str, reading: str) -> bool:
        """The grammar's `reading` is a biased command, asked for, and close to
        the `heard` words."""
        intent = intents.parse(reading)
        if intent is None or intent.confidence < intents.RULE_CONFIDENCE:
            return False
        words = cb.heard_words(heard)
        if intent.name not in cb._BIASED or not cb._asks(intent, words, reading):
            return False
        # a grammar fills speech it cannot hold with what it can ("to call
        # mum" as "and twelve minutes"): no more units than were heard
        # (a heard word the reading keeps is itself, no unit or number)
        kept = set(reading.split())
        # a number heard as a number word stays that number, as in the bias:
        # the grammar hears "nineteen" for "ninety" as often as Moonshine
        # does the other way (Piper's "ninety" read "nineteen")
        if any(w in cb._COUNTS and w not in kept for w in words):
            return False
        units = sum(w in _UNITS for w in reading.split())
        heard_units = sum(
            w in _UNITS or (w not in kept and self.bias.sounds_like(w, _UNITS)) for w in words
        )
        if units > heard_units:
            return False
        # nor more numbers, each heard as one or closely like one: "the speed
        # of sound" is no "fifty point seven", "circle" no "thirty one"
        numbers = len(re.findall(r"\d+(?:\.\d+)?", digitize(reading)))
        heard_numbers = sum(
            w.isdigit() or w in cb._COUNTS
            or (w not in kept and self.bias.sounds_like(w, cb._COUNTS, cb.NEAR_MISS_DISTANCE))
            for w in words
        )
        if numbers > heard_numbers:
            return False
        # the grammar's filler shows at the end ("to call mine" read "and
        # twelve minute"): its last word must be what was heard last
        if not self.bias.ends_alike(heard, reading, TAIL_DISTANCE):
            return False
        return self.bias.agrees(heard, reading, MAX_AGREEMENT)


_UNITS = frozenset({"second", "seconds", "minute", "minutes", "hour", "hours"})


class PassLost(Exception):
    """The worker process decoding the pass went away: the utterance is lost,
    as it is when the worker dies during the final transcript."""


class GrammarReader(Protocol):
    def grammar_reading(self) -> tuple[str, float] | None:
        """The grammar's reading of the last finished utterance and the decode's
        time in ms, or None when the worker went away."""
        ...


class WorkerGrammarPass(GrammarPass):
    """The grammar pass whose decode runs in the recogniser's worker process
    (`stt_worker.RecognizerProcess.grammar_reading`), on the audio of the
    utterance it last finished; the near-miss test and the agreement check run
    here, with this process's bias. The decoder is never loaded here."""

    needs_audio = False

    def __init__(self, bias: cb.CommandBias, reader: GrammarReader) -> None:
        super().__init__(bias)
        self.reader = reader

    def decode(self, audio: np.ndarray) -> str:
        answer = self.reader.grammar_reading()
        if answer is None:
            raise PassLost
        reading, self.last_ms = answer
        return reading
