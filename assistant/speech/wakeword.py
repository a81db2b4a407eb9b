"""Wake phrase spotting: "hey parley" (configurable) starts listening.

Audio contract: 16 kHz mono int16 samples as 1-D ``numpy.int16`` arrays, in
chunks of any size (the capture's 480-sample frames, or larger blocks).

Two spotters behind one interface, ``WakeSpotter``:

- ``VoskGrammarSpotter``: a Vosk recogniser restricted to the phrase's words
  plus a garbage alternative (``[unk]``). Vosk compiles a grammar into a loop
  over its *words*, not a choice of phrases, so the phrase is matched here as
  consecutive words of the hypothesis. Needs a model with a lookahead graph
  (``graph/HCLr.fst`` + ``graph/Gr.fst``: small and ``-lgraph`` models).
- ``KeyphraseSpotter``: pocketsphinx keyphrase search with the English model in
  its wheel: a phone loop competes with the phrase, and the phrase fires when it
  beats the loop by the threshold.

``open_spotter`` picks Vosk when an installed model for the language supports
grammars, else pocketsphinx for English, else raises ``WakeWordError``.

Gating (who does what): a spotter costs CPU for every sample it is fed, so the
caller feeds it speech only: each VAD speech segment plus ``PRE_ROLL_S`` of
audio before it (the VAD decides after the first syllable has begun), and calls
``reset()`` between segments, so ``WakeHit.end_sample`` counts from the start of
the segment's audio. speech/ear.py does this inline; ``GatedSpotter`` packages
it for other callers (``wake_eval``), with ``PreRoll`` as its ring buffer.

``strip_wake_phrase`` is for full transcripts (push-to-talk, or a segment the
STT heard whole): it removes a leading wake phrase, tolerating STT variants.
``request_after_wake`` also drops the phrase's tail heard as a word after an
early hit ("the" for "-ley").
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from assistant.audio.format import SAMPLE_RATE
from assistant.speech.stt import SttError, VoskEngine, find_vosk_model
from assistant.speech.vad import Endpointer, EndpointEventType, FrameVad

log = logging.getLogger(__name__)

DEFAULT_PHRASE = "hey parley"
PRE_ROLL_S = 0.3
"""Seconds of audio before a VAD segment that the spotter also hears."""

DEFAULT_KWS_THRESHOLD = 1e-30
"""pocketsphinx keyphrase threshold for "hey parley" (lower fires more easily).
`wake_eval`'s pick: 14 of 18 flite renderings (clean, and in white noise at 30
and 20 dB SNR), 1e-35 no better, and 1e-40 woke on a LibriVox clip."""
DEFAULT_MIN_CONFIDENCE = 0.5
"""Vosk: every phrase word needs at least this word confidence (0..1)."""
SETTLE_S = 0.15
"""Vosk: seconds of audio after the phrase's last word before a partial hit
counts, so the word's end (and `end_sample`) has stopped moving."""

GARBAGE_TOKENS = ("[unk]", "<unk>")
"""Vosk vocabulary entries that stand for any other speech, where a model has one."""
HANGUL_FILLER_STRIDE = 5
"""Korean models without [unk]: every n-th single-syllable word of the model stands
in for other speech (a syllable loop). Denser fillers swallow the phrase, sparser
ones let other speech through (numbers in `wake_eval`)."""

_WORD = re.compile(r"[\w']+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


class WakeWordError(SttError):
    """The wake phrase cannot be spotted; the message tells the user what to do.

    `code`: bad_word (the phrase has words the model lacks), model_missing (no
    model for the language) or wake_unsupported (the model cannot spot a phrase).
    """

    def __init__(self, message: str, code: str = "wake_unsupported") -> None:
        super().__init__(message, code)


@dataclass(frozen=True)
class WakeHit:
    phrase: str
    """The wake phrase as configured."""
    end_sample: int
    """Samples (16 kHz) from the last `reset()` (or creation) to where the phrase
    ended: audio after it is the start of the command."""
    score: float
    """0..1, higher is surer: pocketsphinx's keyphrase posterior, or the lowest
    Vosk word confidence in the phrase."""


@runtime_checkable
class WakeSpotter(Protocol):
    """Listens for one phrase. One thread only. After a hit it goes on listening
    for the next occurrence; `end_sample` keeps counting from the last reset."""

    phrase: str
    engine: str
    """"vosk" or "pocketsphinx"."""

    def accept(self, samples: np.ndarray) -> WakeHit | None:
        """Feed the next chunk; a hit when the phrase ended in audio fed so far."""
        ...

    def reset(self) -> None:
        """Forget the audio so far (the speech segment ended); sample count restarts at 0."""
        ...


def _pcm(samples: np.ndarray) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise ValueError(
            f"expected 1-D int16 samples at 16 kHz, got {arr.dtype} with shape {arr.shape}"
        )
    return arr


def phrase_words(phrase: str) -> list[str]:
    """The phrase as the recognisers' lower-case words: "Hey, Parley!" -> ["hey", "parley"]."""
    words = _WORD.findall(phrase.lower())
    if not words:
        raise WakeWordError(
            f"The wake phrase {phrase!r} has no words: set one in settings.", "bad_word"
        )
    return words


# --------------------------------------------------------------------------- pocketsphinx


def dictionary_entries(words: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The English dictionary's lines for `words`: word -> [(name, phones)], the
    name "word(2)" for a second pronunciation (what a keyphrase search needs
    of pocketsphinx's CMU dictionary)."""
    from assistant.speech import cmudict

    lex = cmudict.english()
    if lex is None:
        return {}
    return {w: found for w in dict.fromkeys(words) if (found := lex.entries(w))}


class KeyphraseSpotter:
    """pocketsphinx keyphrase search (English). Loads in about 0.06 s."""

    engine = "pocketsphinx"

    def __init__(
        self,
        phrase: str = DEFAULT_PHRASE,
        threshold: float = DEFAULT_KWS_THRESHOLD,
        pronunciations: dict[str, str] | None = None,
    ) -> None:
        """`pronunciations` gives ARPAbet phones for words the dictionary lacks,
        e.g. {"jarvis": "JH AA R V AH S"}."""
        from pocketsphinx import Decoder

        self.phrase = phrase
        self.threshold = threshold
        words = phrase_words(phrase)
        # No language model (lm=None loads in 0.2 s instead of 0.5 s); live CMN
        # because a keyphrase search never sees a whole utterance at once. No
        # dictionary either: the search reads only the phrase's words, and the
        # whole CMU dictionary held 21 MB (docs/ARCHITECTURE.md, Memory).
        decoder = Decoder(
            loglevel="FATAL", samprate=SAMPLE_RATE, lm=None, dict=None, cmn="live",
            kws_threshold=threshold,
        )
        extra = {w.lower(): p.upper() for w, p in (pronunciations or {}).items()}
        known = dictionary_entries(words)
        missing = []
        for word in dict.fromkeys(words):
            entries = known.get(word) or ([(word, extra[word])] if word in extra else [])
            if not entries:
                missing.append(word)
                continue
            try:
                for name, phones in entries:  # "parley", then "parley(2)"...
                    decoder.add_word(name, phones, False)
            except RuntimeError as exc:
                raise WakeWordError(
                    f"Cannot add '{word}' with phones '{phones}': use the English "
                    "model's ARPAbet phones, e.g. 'P AA R L IY'.",
                    "bad_word",
                ) from exc
        if missing:
            # add_keyphrase would accept them silently and never fire.
            raise WakeWordError(
                f"The English speech model does not know {', '.join(map(repr, missing))} "
                f"in the wake phrase {phrase!r}: choose another phrase or give the "
                "word's phones.",
                "bad_word",
            )
        decoder.add_keyphrase("wake", " ".join(words))
        decoder.activate_search("wake")
        self._decoder = decoder
        self._frame_samples = SAMPLE_RATE // int(decoder.config["frate"])
        self._fed = 0  # samples since the last reset
        self._utt_start = 0  # where the decoder's current utterance began
        self._in_utt = False

    def accept(self, samples: np.ndarray) -> WakeHit | None:
        pcm = _pcm(samples)
        if not self._in_utt:
            self._decoder.start_utt()
            self._utt_start = self._fed
            self._in_utt = True
        self._decoder.process_raw(pcm.tobytes(), False, False)
        self._fed += len(pcm)
        if self._decoder.hyp() is None:
            return None
        segments = list(self._decoder.seg())
        self._decoder.end_utt()  # a new utterance forgets this detection
        self._in_utt = False
        if not segments:
            return None
        seg = segments[-1]
        end = self._utt_start + (seg.end_frame + 1) * self._frame_samples
        return WakeHit(self.phrase, min(end, self._fed), min(1.0, max(0.0, float(seg.prob))))

    def reset(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()  # the live CMN carries over to the next utterance
        self._in_utt = False
        self._fed = 0


# --------------------------------------------------------------------------- Vosk


def supports_grammar(model_dir: Path) -> bool:
    """True when a Vosk model can be restricted to a grammar: it has a lookahead
    graph. Big models ship only HCLG.fst, and Vosk ignores grammars there."""
    graph = Path(model_dir) / "graph"
    return (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()


def default_fillers(model: Any, words: list[str]) -> list[str]:
    """Garbage words for a grammar: the model's [unk], else for Hangul phrases a
    sparse set of single-syllable words; empty when the model offers neither."""
    known = [t for t in GARBAGE_TOKENS if model.vosk_model_find_word(t) >= 0]
    if known:
        return known[:1]
    if any(_HANGUL.search(w) for w in words):
        syllables = (chr(c) for c in range(0xAC00, 0xD7A4, HANGUL_FILLER_STRIDE))
        return [s for s in syllables if s not in words and model.vosk_model_find_word(s) >= 0]
    return []


class VoskGrammarSpotter:
    """A Vosk recogniser that knows only the phrase's words and garbage.

    Share the engine's model with the STT; the recogniser is this spotter's own.
    """

    engine = "vosk"

    def __init__(
        self,
        engine: VoskEngine,
        phrase: str = DEFAULT_PHRASE,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        fillers: list[str] | None = None,
    ) -> None:
        import vosk

        if not supports_grammar(engine.model_dir):
            raise WakeWordError(
                f"The Vosk model at {engine.model_dir} has no lookahead graph "
                "(graph/HCLr.fst, graph/Gr.fst), so it cannot listen for just the wake "
                "phrase: use a small or '-lgraph' Vosk model."
            )
        model = engine.model
        self.phrase = phrase
        self.min_confidence = min_confidence
        self._words = phrase_words(phrase)
        missing = [w for w in dict.fromkeys(self._words) if model.vosk_model_find_word(w) < 0]
        if missing:
            raise WakeWordError(
                f"The speech model at {engine.model_dir} does not know "
                f"{', '.join(map(repr, missing))} in the wake phrase {phrase!r}: "
                "choose a phrase in the model's language and vocabulary.",
                "bad_word",
            )
        if fillers is None:
            fillers = default_fillers(model, self._words)
        else:  # Vosk warns about each unknown word; drop them quietly instead
            fillers = [f for f in fillers if model.vosk_model_find_word(f) >= 0]
        if not fillers:
            raise WakeWordError(
                f"The Vosk model at {engine.model_dir} has no '[unk]' word, so any speech "
                "would be heard as the wake phrase: use a model that has one."
            )
        self.fillers = tuple(fillers)
        grammar = json.dumps([" ".join(self._words), *fillers], ensure_ascii=False)
        self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE, grammar)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)  # word times and confidences in partials
        # The recogniser is never Reset(): that would also drop its speaker
        # adaptation (i-vector), and the first words after it are heard worse.
        # reset() ends its segment instead (FinalResult): silence alone does not
        # end a grammar segment, and one that ran on through minutes of other
        # speech never matched the phrase again (measured: after two LibriVox
        # clips, 0 of 3 renderings; with the segment ended, 3 of 3).
        # Its word times count from creation; we keep our own origin instead.
        self._total = 0  # samples fed since creation
        self._origin = 0  # `_total` at the last reset(): end_sample counts from here
        self._after = 0  # a match must start here or later (the last reset or hit)

    def accept(self, samples: np.ndarray) -> WakeHit | None:
        pcm = _pcm(samples)
        self._total += len(pcm)
        if self._rec.AcceptWaveform(pcm.tobytes()):
            # Vosk's own endpoint closed a segment: its words are final.
            return self._match(json.loads(self._rec.Result()).get("result", []), settled=True)
        return self._match(json.loads(self._rec.PartialResult()).get("partial_result", []))

    def reset(self) -> None:
        if self._total > self._origin:
            self._rec.FinalResult()  # end the segment; adaptation is kept
        self._origin = self._after = self._total

    def _match(self, words: list[dict[str, Any]], settled: bool = False) -> WakeHit | None:
        n = len(self._words)
        texts = [w.get("word", "") for w in words]
        for i in range(len(words) - n, -1, -1):  # latest occurrence first
            if texts[i : i + n] != self._words:
                continue
            span = words[i : i + n]
            start = round(float(span[0]["start"]) * SAMPLE_RATE)
            end = round(float(span[-1]["end"]) * SAMPLE_RATE)
            score = min(float(w.get("conf", 1.0)) for w in span)
            if start < self._after or score < self.min_confidence:
                continue
            if not settled and end > self._total - SETTLE_S * SAMPLE_RATE:
                return None  # the last word may still be growing; wait for more audio
            self._after = end
            return WakeHit(self.phrase, end - self._origin, min(1.0, score))
        return None


# --------------------------------------------------------------------------- choosing


def open_spotter(
    phrase: str = DEFAULT_PHRASE,
    language: str = "en",
    model_dir: str = "",
    engine: VoskEngine | None = None,
) -> WakeSpotter:
    """The spotter for `phrase` in `language`: Vosk with a grammar when the Vosk
    model (`engine`'s, else the one at `model_dir`, else an installed one for the
    language) supports grammars; else pocketsphinx keyphrase search for English.
    Pass the STT's `engine` to share its loaded model. Raises WakeWordError."""
    lang = language.strip().lower().replace("_", "-").split("-")[0]
    path: Path | None
    if engine is not None:
        path = engine.model_dir
    elif model_dir:
        path = Path(model_dir).expanduser()
    else:
        path = find_vosk_model(language)
    if path is not None and supports_grammar(path):
        try:
            return VoskGrammarSpotter(engine or VoskEngine(path), phrase)
        except WakeWordError as exc:
            if lang != "en":
                raise
            log.warning("%s Using pocketsphinx for the wake phrase instead.", exc)
    elif path is not None:
        log.info("Vosk model %s has no lookahead graph; it cannot spot the wake phrase", path)
    if lang == "en":
        return KeyphraseSpotter(phrase)
    if path is not None:
        raise WakeWordError(
            f"The Vosk model at {path} cannot listen for just the wake phrase (it has no "
            "lookahead graph): install a small Vosk model for "
            f"'{language}', or use push-to-talk."
        )
    raise WakeWordError(
        f"No wake word model for '{language}': pocketsphinx only knows English, and no "
        f"Vosk model for '{language}' is installed. Pull a small Vosk model for it "
        "(`parley models`), or use push-to-talk.",
        "model_missing",
    )


# --------------------------------------------------------------------------- gating


class PreRoll:
    """Ring buffer of the most recent audio, so a segment's start is not lost
    while the VAD makes up its mind."""

    def __init__(self, seconds: float = PRE_ROLL_S) -> None:
        self.max_samples = round(seconds * SAMPLE_RATE)
        self._chunks: deque[np.ndarray] = deque()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, samples: np.ndarray) -> None:
        self._chunks.append(samples)
        self._size += len(samples)
        while self._chunks and self._size - len(self._chunks[0]) >= self.max_samples:
            self._size -= len(self._chunks.popleft())
        if self._size > self.max_samples:  # trim inside the oldest chunk
            cut = self._size - self.max_samples
            self._chunks[0] = self._chunks[0][cut:]
            self._size -= cut

    def drain(self) -> np.ndarray:
        """The buffered audio, oldest first; the buffer is empty afterwards."""
        out = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks.clear()
        self._size = 0
        return out


@dataclass(frozen=True)
class GatedWake:
    hit: WakeHit
    """`end_sample` counts samples of the whole stream fed to the gate."""
    remainder: np.ndarray
    """int16 audio after the phrase that the gate has already consumed: give it to
    the STT first, then the frames that follow."""


class GatedSpotter:
    """VAD-gated spotting: feed it every capture frame.

    The spotter hears only speech segments (the `Endpointer`'s SPEECH_START to
    SPEECH_END, hangover included) and the pre-roll before each; while idle the
    cost is the VAD's. After a hit the gate starts over on the next frame.
    """

    def __init__(
        self,
        spotter: WakeSpotter,
        vad: FrameVad,
        endpointer: Endpointer | None = None,
        pre_roll_s: float = PRE_ROLL_S,
    ) -> None:
        self.spotter = spotter
        self.vad = vad
        self.endpointer = endpointer or Endpointer()
        self._pre_roll = PreRoll(pre_roll_s)
        self._segment: list[np.ndarray] = []  # audio fed to the spotter since its reset
        self._segment_start = 0  # stream sample where that audio begins
        self.stream_samples = 0
        """Samples fed to the gate so far."""
        self.spotted_samples = 0
        """Samples the spotter was fed: the gate's saving is 1 - spotted / stream."""

    @property
    def active(self) -> bool:
        return bool(self._segment)

    def process(self, frame: np.ndarray) -> GatedWake | None:
        speech = self.vad.is_speech(frame)
        events = {e.type for e in self.endpointer.process(len(frame) / SAMPLE_RATE, speech)}
        self.stream_samples += len(frame)
        if not self.active:
            self._pre_roll.push(frame)
            if EndpointEventType.SPEECH_START not in events:
                return None
            audio = self._pre_roll.drain()
            self._segment_start = self.stream_samples - len(audio)
        else:
            audio = frame
        self._segment.append(audio)
        self.spotted_samples += len(audio)
        hit = self.spotter.accept(audio)
        if hit is not None:
            heard = np.concatenate(self._segment)
            self._end_segment()
            self.endpointer.reset()
            return GatedWake(
                WakeHit(hit.phrase, self._segment_start + hit.end_sample, hit.score),
                heard[hit.end_sample :],
            )
        if events & {EndpointEventType.SPEECH_END, EndpointEventType.TIMEOUT}:
            self._end_segment()
        return None

    def _end_segment(self) -> None:
        self.spotter.reset()
        self._segment = []


# --------------------------------------------------------------------------- transcripts

_GREETINGS = frozenset(("hey", "hay", "hi", "he", "hei", "a", "eh", "ay", "okay", "ok"))
"""What STT makes of a leading "hey"."""
_MATCH_RATIO = 0.8
"""Letter similarity (difflib ratio) for a heard word to count as a phrase word:
parly, pearly, parlay, barley pass for "parley"; party, charlie do not."""
_EDGE = " \t\n,.;:!?-\u2014\u2013\"'"


def _similar(heard: str, want: str) -> bool:
    if heard == want:
        return True
    if want in _GREETINGS and len(want) <= 3:
        return heard in _GREETINGS
    return difflib.SequenceMatcher(None, heard, want).ratio() >= _MATCH_RATIO


def strip_wake_phrase(text: str, phrase: str = DEFAULT_PHRASE) -> str | None:
    """The rest of `text` after a leading wake phrase, or None when it does not
    start with one. Tolerates STT variants: a misheard or missing greeting ("a
    parley", "parley"), near spellings ("hey parly", "hey pearly"), a word split
    in two ("hey par lee"). The remainder keeps its case and inner punctuation;
    "" when the phrase is all there is."""
    want = phrase_words(phrase)
    tokens = list(_WORD.finditer(text))
    heard = [t.group().lower() for t in tokens]
    starts = [0]
    if len(want) >= 2 and want[0] in _GREETINGS:
        starts.append(1)  # STT often drops a short greeting
    for first in starts:
        end = _match_from(heard, want[first:])
        if end is not None:
            rest = text[tokens[end - 1].end() :] if end else text
            return rest.lstrip(_EDGE)
    return None


TAIL_DISTANCE = 0.5
"""Phone distance (`command_bias.phone_distance`) within which a heard word is
the end of the wake phrase's last word: "the" (DH IY) for "-ley" (L IY)."""
_TAIL_LETTERS = 0.67
"""Letter similarity within which a heard word is that ending ("lee", "ly")."""


def request_after_wake(text: str, phrase: str = DEFAULT_PHRASE) -> str:
    """The request in a transcript heard after a wake hit: without a leading wake
    phrase (`strip_wake_phrase`), or else without a first word that is the tail
    of the phrase. The spotter may fire before the phrase ends ("hey par|ley"),
    and the recogniser then hears the rest of it as a short word ("the set a
    timer ..."). Only a short word that sounds like an ending of the phrase's
    last word goes, and only when words follow it."""
    rest = strip_wake_phrase(text, phrase)
    if rest is not None:
        return rest
    tokens = list(_WORD.finditer(text))
    if len(tokens) < 2 or not _is_phrase_tail(tokens[0].group().lower(), phrase_words(phrase)[-1]):
        return text
    return text[tokens[0].end() :].lstrip(_EDGE)


def _is_phrase_tail(word: str, last: str) -> bool:
    if len(word) > 4 or word == last:
        return False
    for k in range(2, len(last)):
        if difflib.SequenceMatcher(None, word, last[-k:]).ratio() >= _TAIL_LETTERS:
            return True
    from assistant.speech import cmudict
    from assistant.speech.command_bias import phone_distance

    lex = cmudict.english()
    if lex is None:
        return False
    for heard in lex.get(word, ())[:2]:
        if len(heard) > 2:
            continue
        for whole in lex.get(last, ())[:2]:
            for k in range(2, len(whole)):
                if phone_distance(heard, whole[-k:], TAIL_DISTANCE) <= TAIL_DISTANCE:
                    return True
    return False


def _match_from(heard: list[str], want: list[str]) -> int | None:
    """Tokens consumed when `heard` starts with `want` (a word may be heard as two)."""
    i = 0
    for word in want:
        if i < len(heard) and _similar(heard[i], word):
            i += 1
        elif (
            i + 1 < len(heard)
            and max(len(heard[i]), len(heard[i + 1])) < len(word)  # pieces of the word
            and _similar(heard[i] + heard[i + 1], word)
        ):
            i += 2
        else:
            return None
    return i
