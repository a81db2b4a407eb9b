"""Text to speech in a dedicated worker process: eSpeak NG's C library on
Linux, pyttsx3 (SAPI5 / NSSpeechSynthesizer) on Windows and macOS.

Why a process: pyttsx3's engines must be created and driven on one thread,
`stop()` works once, and on some versions and platforms a second
`runAndWait()` hangs. A process fed through a pipe keeps the engine on its own
main thread, and killing it is a stop that always works (its process group is
killed too, so an `aplay` started by `speak()` goes with it). A request that
does not answer within its timeout kills the worker; a new one is spawned at
once and warms up while the caller handles the error.

The worker is warm: the engine is created once and every request reuses it.
Request to samples in the parent, median of 10 (pyttsx3 2.99, eSpeak NG 1.51,
2 shared cores):

    clause                          libespeak-ng   pyttsx3 "espeak"   espeak-ng CLI
    "Sure, here it is." (4 words)   1.2-2.8 ms     11-13 ms           ~17 ms
    a 20-word sentence              6.5-12 ms      12-22 ms           ~28 ms
    worker start (spawn + engine)   210-320 ms     180-260 ms         -

pyttsx3's eSpeak driver did not hang on repeated `runAndWait()` here, but it
runs the library asynchronously: `runAndWait()` returns after one 10 ms poll
sleep, before a long text's file is even written, and in a 60-call run without
waiting for its finished-utterance notification one file came out empty. We
wait for that notification; `_LibEspeak` avoids the issue altogether by
running the same library in synchronous mode through ctypes, samples straight
through the pipe. It is the default on Linux; pyttsx3 serves the other
platforms (save_to_file + runAndWait, the file read back; macOS writes AIFF)
and stays selectable with driver="espeak".

The caller's main module must be import-safe (the usual `if __name__ ==
"__main__"` guard): the 'spawn' start method imports it in the worker. A frozen
app must call `multiprocessing.freeze_support()` first thing.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.speech.worker_process import (
    WorkerError,
    WorkerGone,
    WorkerNotReady,
    WorkerProcess,
    WorkerTimeout,
)

if TYPE_CHECKING:
    # numpy only where the parent handles samples: the worker, which imports
    # this module, never needs it (without it the worker's anonymous memory
    # went from 19 to 13 MB; docs/ARCHITECTURE.md, Memory).
    import numpy as np

log = logging.getLogger(__name__)

DRIVER_ENV = "PARLEY_TTS_DRIVER"
"""Environment variable naming the driver: libespeak-ng, or a pyttsx3 driver
(espeak, sapi5, nsss, avspeech); empty means the platform default."""

LIBESPEAK = "libespeak-ng"
"""eSpeak NG's C library driven directly: the default on Linux."""


class TtsError(Exception):
    """Speech synthesis failed; the message is one sentence a user can act on."""


@dataclass(frozen=True)
class Voice:
    id: str
    """Engine-specific identifier, e.g. "gmw/en-us" for eSpeak NG."""
    name: str
    """Human name, e.g. "English (America)"."""
    languages: list[str]
    """Language tags, e.g. ["en-us"]."""


@dataclass(frozen=True)
class Synthesis:
    samples: np.ndarray
    """Mono int16 PCM."""
    sample_rate: int
    """Hz."""
    text: str
    """The text that was synthesised."""
    synth_ms: float
    """Wall time of `synthesize()` from request to samples in hand, ms."""

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.samples) / self.sample_rate


# Messages between the parent and the worker (picklable, one type per thing).


@dataclass(frozen=True)
class _SynthReq:
    text: str
    path: str


@dataclass(frozen=True)
class _SayReq:
    text: str


@dataclass(frozen=True)
class _VoicesReq:
    pass


@dataclass(frozen=True)
class _Ready:
    driver: str
    voice: str
    """The voice in use (engine id), empty when the engine does not say."""
    warning: str
    """Why the requested voice is not used, or empty."""


@dataclass(frozen=True)
class _Done:
    value: Any = None


@dataclass(frozen=True)
class _Failed:
    message: str


class Synthesizer:
    """Synthesises clauses to int16 samples in a warm worker process.

    A requested voice that is not installed falls back to the engine's default
    voice: the assistant keeps talking and `warning` says why (also logged).
    Not meant for concurrent callers: requests are serialised.
    """

    def __init__(
        self,
        voice: str = "",
        rate: int = 180,
        volume: float = 1.0,
        driver: str | None = None,
        *,
        engine: Callable[[str], Any] | None = None,
    ) -> None:
        """`voice`: an id, a name or a language tag ("en-us"); empty for the default.
        `rate`: words per minute. `volume`: 0..1. `driver`: "libespeak-ng" or a
        pyttsx3 driver name; None reads $PARLEY_TTS_DRIVER, empty means the
        platform default (libespeak-ng on Linux, falling back to pyttsx3).
        `engine(driver)` opens the engine in the worker instead of the real ones
        (for tests: it must be picklable, e.g. a module-level class)."""
        self.voice = voice
        self.rate = rate
        self.volume = volume
        self.driver = driver if driver is not None else os.environ.get(DRIVER_ENV, "")
        self.warning = ""
        """Why the requested voice is not in use (empty when it is)."""
        self.voice_in_use = ""
        """The engine's id of the voice speaking, known after `start()`."""
        self._engine = engine
        self._worker = WorkerProcess(_worker_main, name="parley-tts", ready=_Ready, own_group=True)
        self._lock = threading.Lock()
        self._tmpdir: Path | None = None
        self._count = 0
        self._voices: list[Voice] | None = None
        self._closed = False

    # Lifecycle

    def start(self, timeout: float = 30.0) -> None:
        """Start the worker and its engine; raises TtsError if there is no engine."""
        with self._lock:
            self._ensure_started(timeout)

    def close(self) -> None:
        """Kill the worker (and anything it is playing). Safe to call twice;
        a later request starts a new worker."""
        self._closed = True
        # Kill it (and its process group: an aplay it started goes too) first,
        # so a pending request returns at once; the pipe closes under the lock.
        self._worker.kill()
        with self._lock:
            self._worker.close()
            if self._tmpdir is not None:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None

    def __enter__(self) -> Synthesizer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self._worker.alive

    @property
    def pid(self) -> int | None:
        return self._worker.pid

    # Requests

    def synthesize(self, text: str, timeout: float = 10.0) -> Synthesis:
        """Synthesise `text` to samples. Raises TtsError when the engine fails,
        writes nothing, or does not answer within `timeout` seconds (the worker
        is then replaced)."""
        if not text.strip():
            raise ValueError("nothing to synthesise: text is blank")
        t0 = time.perf_counter()
        with self._lock:
            tmpdir = self._ensure_started()
            self._count += 1
            # macOS writes AIFF whatever the name says; the reader looks at the bytes.
            path = tmpdir / f"clause-{self._count}.wav"
            try:
                reply = self._request(_SynthReq(text, str(path)), timeout)
                if isinstance(reply, _Pcm):
                    import numpy as np

                    samples, rate = np.frombuffer(reply.data, dtype=np.int16).copy(), reply.rate
                else:
                    try:
                        samples, rate = _read_audio(path)
                    except TtsError as e:
                        # pyttsx3's file drivers now and then finish without
                        # writing (a known pyttsx3 failure): ask once more rather
                        # than drop the clause.
                        log.info(
                            "TTS wrote nothing for a %d-character clause (%s); asking again",
                            len(text), e,
                        )
                        self._request(_SynthReq(text, str(path)), timeout)
                        samples, rate = _read_audio(path)
            finally:
                path.unlink(missing_ok=True)
        if samples.size == 0:
            raise TtsError("The speech engine produced no audio for this text.")
        return Synthesis(samples, rate, text, (time.perf_counter() - t0) * 1000.0)

    def speak(self, text: str, timeout: float = 60.0) -> None:
        """Fallback output: the engine speaks `text` itself (say + runAndWait).
        Blocks until done; `close()` from another thread stops it."""
        if not text.strip():
            return
        with self._lock:
            self._ensure_started()
            self._request(_SayReq(text), timeout)

    def voices(self, timeout: float = 10.0) -> list[Voice]:
        """The voices the engine offers."""
        with self._lock:
            if self._voices is None:
                self._ensure_started()
                self._voices = self._request(_VoicesReq(), timeout)
            return list(self._voices)

    # Internals (called with the lock held)

    def _spawn(self) -> None:
        self._worker.start(self.driver, self.voice, self.rate, self.volume, self._engine)

    def _await_ready(self, timeout: float) -> None:
        if self._worker.ready:
            return
        try:
            reply = self._worker.wait_ready(timeout)
        except WorkerNotReady as exc:
            self._worker.close()
            assert isinstance(exc.reply, _Failed)
            raise TtsError(exc.reply.message) from None
        except WorkerError as exc:
            raise self._failure(exc, "starting the speech engine") from exc
        self.voice_in_use = reply.voice
        self.driver = self.driver or reply.driver
        if reply.warning and reply.warning != self.warning:
            log.warning("%s", reply.warning)
        self.warning = reply.warning
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="parley-tts-"))

    def _ensure_started(self, timeout: float = 30.0) -> Path:
        self._closed = False
        if not self._worker.alive:
            self._spawn()  # closing what is left of the last one
        self._await_ready(timeout)
        assert self._tmpdir is not None
        return self._tmpdir

    def _request(self, req: object, timeout: float) -> Any:
        try:
            self._worker.send(req)
        except WorkerGone as exc:
            self._restart()
            raise TtsError(
                "The speech engine stopped unexpectedly; it has been restarted."
            ) from exc
        doing = "speaking" if isinstance(req, _SayReq) else "synthesising"
        try:
            reply = self._worker.receive(timeout)
        except WorkerError as exc:
            raise self._failure(exc, doing) from exc
        if isinstance(reply, _Failed):
            raise TtsError(reply.message)
        assert isinstance(reply, _Done)
        return reply.value

    def _failure(self, exc: WorkerError, doing: str) -> TtsError:
        """The error for a worker that died or went silent while `doing`; it is
        replaced first, unless `close()` ended it."""
        if isinstance(exc, WorkerGone) and self._closed:
            return TtsError(f"The speech engine was closed while {doing}.")
        self._restart()
        if isinstance(exc, WorkerTimeout):
            return TtsError(
                f"The speech engine did not answer within {exc.timeout:g} s while {doing}; "
                "it has been restarted."
            )
        return TtsError(f"The speech engine stopped while {doing}; it has been restarted.")

    def _restart(self) -> None:
        """Replace a hung or dead worker. The new one warms up in the background;
        the next request waits for it."""
        self._worker.restart(self.driver, self.voice, self.rate, self.volume, self._engine)


def speak_direct(
    text: str,
    voice: str = "",
    rate: int = 180,
    volume: float = 1.0,
    timeout: float = 60.0,
    driver: str | None = None,
) -> None:
    """Fallback output: let the engine speak `text` itself (engine.say +
    runAndWait in a worker). No barge-in, no first-sample timing."""
    with Synthesizer(voice, rate, volume, driver=driver) as syn:
        syn.speak(text, timeout)


def write_wav(path: Path, syn: Synthesis) -> None:
    """Write a synthesis as a 16-bit mono WAV file."""
    from assistant.audio import format as audio_format

    audio_format.write_wav(path, syn.samples, syn.sample_rate)


# Reading what the engine wrote


def _read_audio(path: Path) -> tuple[np.ndarray, int]:
    """(mono int16 samples, Hz) from the WAV or AIFF file an engine wrote."""
    import numpy as np

    from assistant.audio import format as audio_format

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = b""
    if len(data) <= 44:
        # A known pyttsx3 failure: runAndWait returns but nothing was written.
        raise TtsError("The speech engine produced no audio for this text.")
    try:
        if data[:4] == b"FORM":
            samples, rate, channels = _read_aiff(data)
        else:
            samples, rate = audio_format.read_wav(path)
            channels = 1 if samples.ndim == 1 else samples.shape[1]
    except (wave.Error, EOFError, struct.error, ValueError) as exc:
        raise TtsError(f"The speech engine wrote audio Parley cannot read ({exc}).") from exc
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    if samples.size == 0:
        raise TtsError("The speech engine produced no audio for this text.")
    return samples, rate


def _read_aiff(data: bytes) -> tuple[np.ndarray, int, int]:
    """AIFF / AIFF-C (uncompressed) reader: what NSSpeechSynthesizer writes.
    The stdlib's aifc module is deprecated and gone in Python 3.13."""
    import numpy as np

    kind = data[8:12]
    if kind not in (b"AIFF", b"AIFC"):
        raise ValueError("not an AIFF file")
    pos, channels, rate, width, order, raw = 12, 0, 0, 0, ">", b""
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack(">I", data[pos + 4 : pos + 8])[0]
        body = data[pos + 8 : pos + 8 + size]
        if cid == b"COMM":
            channels, _frames, bits = struct.unpack(">hIh", body[:8])
            exp, mant = struct.unpack(">HQ", body[8:18])  # 80-bit extended float
            rate = round(mant * 2.0 ** ((exp & 0x7FFF) - 16383 - 63))
            width = (bits + 7) // 8
            if kind == b"AIFC":
                comp = body[18:22]
                if comp == b"sowt":
                    order = "<"
                elif comp not in (b"NONE", b"twos"):
                    raise ValueError(f"compressed AIFF-C ({comp.decode(errors='replace')})")
        elif cid == b"SSND":
            offset = struct.unpack(">I", body[:4])[0]
            raw = body[8 + offset :]
        pos += 8 + size + (size & 1)
    if width != 2 or not rate or not channels:
        raise ValueError("unsupported AIFF layout")
    raw = raw[: len(raw) - len(raw) % (2 * channels)]
    return np.frombuffer(raw, dtype=f"{order}i2").astype(np.int16), rate, channels


# The worker process


def _worker_main(
    conn: Connection,
    driver: str,
    voice: str,
    rate: int,
    volume: float,
    open_engine: Callable[[str], Any] | None = None,
) -> None:
    # It leads a process group of its own (WorkerProcess own_group), so the
    # parent kills it together with an aplay it started.
    # pyttsx3's eSpeak driver prints a line per saved file.
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    try:
        engine = (open_engine or _open_engine)(driver)
    except Exception as exc:
        conn.send(_Failed(_no_engine_message(driver, exc)))
        return
    voices = engine.voices
    chosen, warning = _resolve_voice(voice, voices)
    try:
        engine.configure(chosen, rate, volume)
    except Exception as exc:
        conn.send(_Failed(f"The speech engine rejected its settings: {exc}"))
        return
    conn.send(_Ready(driver=engine.name, voice=chosen or engine.default_voice, warning=warning))

    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        try:
            if isinstance(req, _SynthReq):
                reply: Any = engine.synthesize(req.text, req.path)
            elif isinstance(req, _SayReq):
                engine.say(req.text)
                reply = None
            elif isinstance(req, _VoicesReq):
                reply = voices
            else:
                raise TypeError(f"unknown request {req!r}")
            conn.send(_Done(reply))
        except Exception as exc:  # report, keep serving
            conn.send(_Failed(f"The speech engine failed: {exc}"))


def _default_driver() -> str:
    return LIBESPEAK if sys.platform.startswith("linux") else ""


def _open_engine(driver: str) -> _LibEspeak | _Pyttsx3:
    if driver == LIBESPEAK:
        return _LibEspeak()
    if not driver and sys.platform.startswith("linux"):
        try:
            return _LibEspeak()
        except OSError:
            pass  # no libespeak-ng: let pyttsx3 try whatever the platform has
    return _Pyttsx3(driver)


def _play_wav(pcm: bytes, rate: int) -> None:
    """Play through aplay, as pyttsx3's eSpeak driver does on Linux. It runs in
    the worker's process group, so killing the worker silences it."""
    player = shutil.which("aplay")
    if player is None:
        raise RuntimeError("speaking directly needs aplay: install alsa-utils")
    with tempfile.NamedTemporaryFile(suffix=".wav", delete=False) as tmp, wave.open(tmp, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm)
    try:
        subprocess.run([player, "-q", tmp.name], check=True)
    finally:
        os.unlink(tmp.name)


@dataclass(frozen=True)
class _Pcm:
    """Samples sent back through the pipe (no file in between)."""

    data: bytes
    """Mono int16, native byte order."""
    rate: int
    """Hz."""


class _LibEspeak:
    """eSpeak NG through its C library in synchronous mode: `espeak_Synth`
    returns when the audio is complete (see the module docstring for why not
    pyttsx3's eSpeak driver)."""

    name = LIBESPEAK

    def __init__(self) -> None:
        lib = _load_libespeak()
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT)
        if rate <= 0:
            raise RuntimeError("espeak_Initialize failed (is espeak-ng-data installed?)")
        self._lib, self._rate = lib, rate
        self._chunks: list[bytes] = []

        def collect(wav: Any, n: int, _events: Any) -> int:
            if n > 0 and wav:
                self._chunks.append(ctypes.string_at(wav, n * 2))
            return 0  # 0 = go on

        self._callback = _SYNTH_CALLBACK(collect)  # kept alive while the library holds it
        lib.espeak_SetSynthCallback(self._callback)
        self.voices = self._list_voices()
        self.default_voice = ""

    def configure(self, voice: str, rate: int, volume: float) -> None:
        # Nothing is loaded until a voice is set; English is the default.
        if self._lib.espeak_SetVoiceByName((voice or "en").encode()) != 0:
            raise RuntimeError(f"eSpeak NG could not load voice {voice or 'en'!r}")
        current = self._lib.espeak_GetCurrentVoice()
        ident = current.contents.identifier if current else None
        self.default_voice = ident.decode(errors="replace") if ident else ""
        self._lib.espeak_SetParameter(_ESPEAK_RATE, int(rate), 0)
        self._lib.espeak_SetParameter(_ESPEAK_VOLUME, round(volume * 100), 0)

    def synthesize(self, text: str, _path: str) -> _Pcm:
        self._chunks = []
        data = text.encode("utf-8") + b"\0"
        err = self._lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
        )
        if err != 0:
            raise RuntimeError(f"espeak_Synth returned error {err}")
        return _Pcm(b"".join(self._chunks), self._rate)

    def say(self, text: str) -> None:
        pcm = self.synthesize(text, "")
        _play_wav(pcm.data, pcm.rate)

    def _list_voices(self) -> list[Voice]:
        out = []
        array = self._lib.espeak_ListVoices(None)
        i = 0
        while array and array[i]:
            v = array[i].contents
            out.append(
                Voice(
                    id=(v.identifier or b"").decode(errors="replace"),
                    name=(v.name or b"").decode(errors="replace"),
                    languages=_espeak_languages(v.languages),
                )
            )
            i += 1
        return out


class _Pyttsx3:
    """The OS voice through pyttsx3: SAPI5 on Windows, NSSpeechSynthesizer on
    macOS, or pyttsx3's own eSpeak driver when asked for."""

    def __init__(self, driver: str) -> None:
        import pyttsx3

        self._engine = pyttsx3.init(driver or None)
        self.name = str(self._engine)
        self._finished = threading.Event()
        self._engine.connect("finished-utterance", lambda **_: self._finished.set())
        self.voices = _pyttsx3_voices(self._engine)
        self.default_voice = ""
        with contextlib.suppress(Exception):
            self.default_voice = str(self._engine.getProperty("voice") or "")

    def configure(self, voice: str, rate: int, volume: float) -> None:
        if voice:
            self._engine.setProperty("voice", voice)
        self._engine.setProperty("rate", rate)
        self._engine.setProperty("volume", volume)

    def synthesize(self, text: str, path: str) -> None:
        self._run(lambda: self._engine.save_to_file(text, path))

    def say(self, text: str) -> None:
        if self.name == "espeak" and sys.platform.startswith("linux") and not shutil.which("aplay"):
            raise RuntimeError("eSpeak plays through aplay, which is missing: install alsa-utils")
        # pyttsx3 2.99's eSpeak driver keeps the last save_to_file path and
        # would write this utterance there instead of playing it.
        driver = getattr(getattr(self._engine, "proxy", None), "_driver", None)
        if getattr(driver, "_save_file", None):
            driver._save_file = None
        self._run(lambda: self._engine.say(text))

    def _run(self, queue_utterance: Any) -> None:
        self._finished.clear()
        queue_utterance()
        self._engine.runAndWait()
        if self.name == "espeak":
            # 2.99's eSpeak driver returns before the audio is done; its
            # notification is not early. The parent's timeout guards the wait.
            self._finished.wait()


def _pyttsx3_voices(engine: Any) -> list[Voice]:
    out = []
    for v in engine.getProperty("voices") or []:
        langs = [
            lang.decode(errors="replace") if isinstance(lang, bytes) else str(lang)
            for lang in (getattr(v, "languages", None) or [])
        ]
        out.append(Voice(id=str(v.id), name=str(v.name or v.id), languages=langs))
    return out


# libespeak-ng through ctypes (speak_lib.h)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_ESPEAK_RATE = 1
_ESPEAK_VOLUME = 2
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _EspeakVoice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, tag, NUL)*, then NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


def _load_libespeak() -> ctypes.CDLL:
    names = ["libespeak-ng.so.1", ctypes.util.find_library("espeak-ng")]
    if sys.platform == "darwin":
        names += ["/opt/homebrew/lib/libespeak-ng.1.dylib", "/usr/local/lib/libespeak-ng.1.dylib"]
    errors = []
    for name in filter(None, names):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as exc:
            errors.append(str(exc))
    else:
        raise OSError("libespeak-ng not found: " + "; ".join(errors))
    voice_p = ctypes.POINTER(_EspeakVoice)
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_ListVoices.argtypes = [voice_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(voice_p)
    lib.espeak_GetCurrentVoice.restype = voice_p
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    return lib


def _espeak_languages(ptr: int | None) -> list[str]:
    out: list[str] = []
    while ptr and ctypes.string_at(ptr, 1) != b"\0":
        tag = ctypes.string_at(ptr + 1)  # skip the priority byte
        out.append(tag.decode(errors="replace"))
        ptr += len(tag) + 2
    return out


def _resolve_voice(requested: str, voices: list[Voice]) -> tuple[str, str]:
    """(engine voice id or "" for the default, warning or "").

    Matches, in order: the id, the name, the id's last path part ("en-us" for
    "gmw/en-us"), a language tag; all case-insensitive."""
    want = requested.strip().lower().replace("_", "-")
    if not want:
        return "", ""
    tests = (
        lambda v: v.id.lower() == want,
        lambda v: v.name.lower() == want,
        lambda v: v.id.lower().replace("\\", "/").rsplit("/", 1)[-1] == want,
        lambda v: want in (lang.lower().replace("_", "-") for lang in v.languages),
    )
    for test in tests:
        for v in voices:
            if test(v):
                return v.id, ""
    return "", f"Voice '{requested}' is not installed; using the default voice instead."


def _no_engine_message(driver: str, exc: BaseException) -> str:
    name = driver or "the default"
    if isinstance(exc, ImportError) and driver and f"drivers.{driver}" in str(exc):
        return (
            f"No speech engine found: pyttsx3 has no driver '{driver}' "
            f"(check ${DRIVER_ENV}; known: {LIBESPEAK}, espeak, sapi5, nsss, avspeech)."
        )
    if sys.platform == "darwin":
        hint = "macOS speech needs pyobjc: pip install pyobjc"
    elif sys.platform == "win32":
        hint = "Windows speech needs comtypes and pywin32: pip install comtypes pywin32"
    else:
        hint = "install espeak-ng (Linux: sudo apt install espeak-ng)"
    return f"No speech engine found ({name} driver failed: {exc}): {hint}."
