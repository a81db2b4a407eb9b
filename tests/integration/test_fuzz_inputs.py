"""Every command that takes a file survives any file: fixed-seed bad inputs
(random bytes, cut-off WAVs, damaged headers, text, empty, a folder) through
`parley transcribe`, `parley listen --wav` and `parley models import`, as
real subprocesses; and odd but valid WAVs (float, 24-bit extensible, 8 kHz,
44.1 kHz stereo) made from real flite speech are transcribed word for word.

About 40 subprocesses; each rejection costs the interpreter's start (~0.2 s),
each accepted file loads pocketsphinx (~0.5-1 s)."""

from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

PARLEY = [sys.executable, "-m", "assistant.cli"]
SEED = 20261204
LIMIT_S = 8.0
"""Each run, bad file or good, ends well within this (rejections in well under 1 s
of their own work; the rest is Python's start and, for audio, the model load)."""


def run(args: list[str], home: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    out = subprocess.run(
        [*PARLEY, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )
    return out, time.monotonic() - t0


def riff(
    data: bytes,
    *,
    rate: int = 16_000,
    channels: int = 1,
    bits: int = 16,
    tag: int = 1,
    data_len: int | None = None,
    extensible: bool = False,
) -> bytes:
    """A RIFF/WAVE file with any header values, true or not."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate,
                      (rate * block) & 0xFFFFFFFF, block, bits)  # fmt: skip
    if extensible:  # cbSize, valid bits, channel mask, SubFormat GUID (tag first)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes(14)
    length = len(data) if data_len is None else data_len
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", length) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


SAID = "what time is it"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, int]:
    """Real speech: flite saying a sentence (mono int16). flite, not eSpeak NG:
    pocketsphinx hears flite's voice reliably ("what time is it" -> "i" with
    eSpeak NG), so the odd formats can be held to the exact words."""
    if shutil.which("flite") is None:
        pytest.skip("needs flite")
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", SAID, "-o", str(path)], check=True)
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").copy(), w.getframerate()


def plain_wav(samples: np.ndarray, rate: int) -> bytes:
    return riff(samples.astype("<i2").tobytes(), rate=rate)


@pytest.fixture(scope="module")
def bad_inputs(
    tmp_path_factory: pytest.TempPathFactory, speech: tuple[np.ndarray, int]
) -> dict[str, tuple[Path, bool]]:
    """name -> (path, is it audio?). Audio means a valid WAV whose samples are
    whatever they are (noise, a cut-off recording): transcribe and listen take
    it; everything else must be refused with a message."""
    rng = random.Random(SEED)
    d = tmp_path_factory.mktemp("fuzz")
    real = plain_wav(*speech)
    cases: dict[str, tuple[bytes | None, bool]] = {
        "random_bytes": (rng.randbytes(4096), False),
        "cut_in_riff_header": (real[:10], False),
        "cut_in_fmt_chunk": (real[:30], False),
        "cut_before_data": (real[:40], False),
        "cut_mid_data": (real[: len(real) // 2 + 1], True),  # an odd byte too
        "garbage_samples": (riff(rng.randbytes(32_000)), True),
        "rate_0": (riff(rng.randbytes(2000), rate=0), False),
        "rate_1hz": (riff(rng.randbytes(2000), rate=1), False),
        "data_claims_4gb": (riff(rng.randbytes(2000), data_len=0xFFFFFFF0), True),
        "two_hours": (riff(b"\x80" * 7_200_000, rate=1000, bits=8), False),
        "alaw_codec": (riff(rng.randbytes(2000), rate=8000, bits=8, tag=6), False),
        "no_channels": (riff(rng.randbytes(2000), channels=0), False),
        "text_file": (b"Dear diary, today I recorded nothing.\n" * 20, False),
        "empty_file": (b"", False),
        "folder": (None, False),
    }
    out: dict[str, tuple[Path, bool]] = {}
    for name, (content, audio) in cases.items():
        path = d / f"{name}.wav"
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        out[name] = (path, audio)
    return out


def assert_clean(out: subprocess.CompletedProcess[str], took: float, what: str) -> None:
    assert "Traceback" not in out.stderr + out.stdout, what
    assert took < LIMIT_S, f"{what}: {took:.1f} s"


def assert_refused(out: subprocess.CompletedProcess[str], took: float, what: str) -> None:
    assert_clean(out, took, what)
    assert out.returncode != 0, what
    assert out.stderr.strip().splitlines()[-1].startswith("parley"), (what, out.stderr)


def test_transcribe_any_file(parley_home: Path, bad_inputs: dict[str, tuple[Path, bool]]) -> None:
    for name, (path, audio) in bad_inputs.items():
        out, took = run(["transcribe", str(path)], parley_home)
        if audio:
            assert_clean(out, took, name)
            assert out.returncode == 0, (name, out.stderr)
            # Text, or the note that none was heard.
            assert out.stdout.strip() or "no speech was recognised" in out.stderr, name
        else:
            assert_refused(out, took, name)
            assert str(path) in out.stderr, name  # the message names the file


def test_listen_any_file(parley_home: Path, bad_inputs: dict[str, tuple[Path, bool]]) -> None:
    for name, (path, audio) in bad_inputs.items():
        args = ["listen", "--wav", str(path), "--json", "--no-llm", "--no-speak", "--fast"]
        out, took = run(args, parley_home)
        if audio:
            assert_clean(out, took, name)
            assert out.returncode == 0, (name, out.stderr)
        else:
            assert_refused(out, took, name)
            assert out.stdout == "", name  # refused before any event
            assert str(path) in out.stderr, name


def test_models_import_any_file(
    parley_home: Path, bad_inputs: dict[str, tuple[Path, bool]]
) -> None:
    for name, (path, _audio) in bad_inputs.items():
        out, took = run(["models", "import", str(path)], parley_home)
        assert_refused(out, took, name)  # none of them is a model
    assert not (parley_home / "models").exists() or not any(
        p.is_dir() and not p.name.startswith(".") for p in (parley_home / "models").iterdir()
    )


def test_messages_say_what_is_wrong(
    parley_home: Path, bad_inputs: dict[str, tuple[Path, bool]]
) -> None:
    expected = {
        "rate_0": "sample rate of 0 Hz",
        "rate_1hz": "sample rate of 1 Hz",
        "two_hours": "2.0 hours of audio",
        "alaw_codec": "A-law (WAV format tag 0x0006)",
        "no_channels": "0 channels",
        "text_file": 'is not a WAV file (it starts with "Dear diary, ")',
        "empty_file": "is empty (0 bytes)",
        "folder": "is a folder",
        "cut_in_riff_header": "cut off inside its header",
        "cut_in_fmt_chunk": "cut off inside its header",
        "cut_before_data": "cut off inside its header",
        "random_bytes": "is not a WAV file (it starts with bytes ",
    }
    for name, words in expected.items():
        out, _took = run(["transcribe", str(bad_inputs[name][0])], parley_home)
        assert words in out.stderr, (name, out.stderr)


# --- odd but valid: the same speech in other formats is heard


def float_wav(samples: np.ndarray, rate: int) -> bytes:
    return riff((samples / 32768.0).astype("<f4").tobytes(), rate=rate, bits=32, tag=3)


def pcm24_extensible(samples: np.ndarray, rate: int) -> bytes:
    as32 = samples.astype(np.int32) << 16
    data = as32.astype("<i4").view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()
    return riff(data, rate=rate, bits=24, extensible=True)


def at_8k(samples: np.ndarray, rate: int) -> bytes:
    import soxr

    y = soxr.resample(samples.astype(np.float32) / 32768.0, rate, 8000)
    return plain_wav((np.clip(y, -1, 1) * 32767).astype(np.int16), 8000)


def stereo_44k(samples: np.ndarray, rate: int) -> bytes:
    import soxr

    y = soxr.resample(samples.astype(np.float32) / 32768.0, rate, 44_100)
    mono = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    both = np.stack([mono, (mono // 2).astype(np.int16)], axis=1)  # channels differ
    return riff(both.astype("<i2").tobytes(), rate=44_100, channels=2)


def words(text: str) -> str:
    """The words alone: the transcript may be cased and punctuated."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


@pytest.mark.parametrize("make", [float_wav, pcm24_extensible, at_8k, stereo_44k])
def test_odd_valid_wavs_are_transcribed(
    parley_home: Path, tmp_path: Path, speech: tuple[np.ndarray, int], make
) -> None:
    reference = tmp_path / "reference.wav"
    reference.write_bytes(plain_wav(*speech))
    odd = tmp_path / f"{make.__name__}.wav"
    odd.write_bytes(make(*speech))
    want, _ = run(["transcribe", str(reference)], parley_home)
    assert words(want.stdout) == SAID, want.stderr  # the recogniser hears the original
    got, took = run(["transcribe", str(odd)], parley_home)
    assert_clean(got, took, make.__name__)
    assert got.returncode == 0, got.stderr
    if make is at_8k:
        # 8 kHz audio has nothing above 4 kHz, so the 16 kHz model may mishear
        # ("what kind of a"): the file is read whole, and something is heard.
        from assistant.audio.format import read_wav_16k

        assert len(read_wav_16k(odd)) == pytest.approx(len(read_wav_16k(reference)), abs=4)
        assert got.stdout.strip(), got.stderr
    else:
        assert words(got.stdout) == SAID, got.stderr
