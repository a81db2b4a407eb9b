"""The one WAV reader: real files written byte by byte (and by the stdlib
`wave` module), decoded, converted, or refused quickly with a reason."""

from __future__ import annotations

import struct
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.format import WavError, read_wav, read_wav_16k
from assistant.audio.wavfile import MAX_SECONDS, read_header


def riff(data: bytes, *, rate: int = 16_000, channels: int = 1, bits: int = 16, tag: int = 1,
         data_len: int | None = None, extensible: bool = False,
         before_data: bytes = b"") -> bytes:  # fmt: skip
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate,
                      (rate * block) & 0xFFFFFFFF, block, bits)  # fmt: skip
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes(14)
    length = len(data) if data_len is None else data_len
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + before_data
    body += b"data" + struct.pack("<I", length) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone(hz: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * hz * t)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64)))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum))])


def test_float32_and_float64_are_read(tmp_path: Path) -> None:
    x = tone(440, 0.5, 16_000)
    for bits, dtype in ((32, "<f4"), (64, "<f8")):
        path = tmp_path / f"f{bits}.wav"
        path.write_bytes(riff(x.astype(dtype).tobytes(), bits=bits, tag=3))
        samples, rate = read_wav(path)
        assert rate == 16_000 and samples.dtype == np.int16
        assert np.abs(samples / 32768.0 - x).max() < 1e-4


def test_extensible_24_bit_stereo_44k_becomes_16k_mono(tmp_path: Path) -> None:
    left = (tone(500, 1.0, 44_100) * 2**23).astype(np.int32)
    both = np.stack([left, np.zeros_like(left)], axis=1).astype("<i4")
    data = both.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()  # little-endian low 3 bytes
    path = tmp_path / "x.wav"
    path.write_bytes(riff(data, rate=44_100, channels=2, bits=24, extensible=True))
    info = read_header(path)
    assert (info.encoding, info.bits, info.channels, info.rate) == ("PCM", 24, 2, 44_100)
    mono = read_wav_16k(path)
    assert mono.dtype == np.int16 and abs(len(mono) - 16_000) <= 2
    assert abs(peak_hz(mono, 16_000) - 500) < 3
    assert abs(np.abs(mono).max() - 0.25 * 32768) < 300  # averaged with a silent channel


def test_matches_the_stdlib_for_what_it_reads(tmp_path: Path) -> None:
    x = (tone(300, 0.2, 8000) * 32767).astype(np.int16)
    path = tmp_path / "w.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(x.tobytes())
    samples, rate = read_wav(path)
    assert rate == 8000 and np.array_equal(samples, x)
    assert len(read_wav_16k(path)) == pytest.approx(2 * len(x), abs=2)


def test_cut_off_data_is_read_as_far_as_it_goes(tmp_path: Path) -> None:
    x = (tone(300, 1.0, 16_000) * 32767).astype("<i2")
    path = tmp_path / "cut.wav"
    whole = riff(x.tobytes())
    path.write_bytes(whole[: len(whole) - 10_001])  # mid-sample, too
    info = read_header(path)
    assert info.cut_off and info.frames == (len(x) * 2 - 10_001) // 2
    assert np.array_equal(read_wav_16k(path), x[: info.frames])
    path.write_bytes(riff(x.tobytes(), data_len=0xFFFFFFFF))  # a streaming writer's size
    assert len(read_wav_16k(path)) == len(x)


def test_chunks_before_data_are_skipped(tmp_path: Path) -> None:
    x = (tone(300, 0.1, 16_000) * 32767).astype("<i2")
    path = tmp_path / "list.wav"
    path.write_bytes(riff(x.tobytes(), before_data=b"LIST" + struct.pack("<I", 5) + b"abcde\0"))
    assert np.array_equal(read_wav_16k(path), x)


def test_garbage_float_samples_are_clipped_not_nan(tmp_path: Path) -> None:
    junk = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.5], "<f4")
    path = tmp_path / "junk.wav"
    path.write_bytes(riff(junk.tobytes(), bits=32, tag=3))
    samples, _ = read_wav(path)
    assert samples.tolist() == [0, 32767, -32768, 32767, -32768, 16384]


BAD = {
    "empty": (b"", "is empty (0 bytes)"),
    "text": (b"hello, world\n" * 10, 'is not a WAV file (it starts with "hello, world'),
    "mp3": (b"ID3\x04\x00" + bytes(100), "it looks like an MP3 file"),
    "riff_avi": (b"RIFF\x20\x00\x00\x00AVI LIST" + bytes(40), 'type "AVI ", not WAVE'),
    "short": (b"RIF", "cut off inside its header"),
    "rate_0": (riff(bytes(2000), rate=0), "sample rate of 0 Hz"),
    "rate_1": (riff(bytes(2000), rate=1), "sample rate of 1 Hz"),
    "rate_999": (riff(bytes(2000), rate=999), "sample rate of 999 Hz"),
    "rate_huge": (riff(bytes(2000), rate=1_000_000), "sample rate of 1000000 Hz"),
    "channels_0": (riff(bytes(2000), channels=0), "claims 0 channels"),
    "mp3_codec": (riff(bytes(2000), tag=0x55), "MP3 (WAV format tag 0x0055)"),
    "unknown_codec": (riff(bytes(2000), tag=0x1234), "a codec (WAV format tag 0x1234)"),
    "float16": (riff(bytes(2000), bits=16, tag=3), "16-bit float samples"),
    "pcm40": (riff(bytes(2000), bits=40), "40-bit PCM samples"),
    "no_data": (riff(b"")[:-8], "no 'data' chunk"),
    "empty_data": (riff(b""), "its data chunk is empty"),
    "cut_at_data": (riff(b"", data_len=1000), "cut off before its first sample"),
    "cut_in_fmt": (riff(bytes(100))[:28], "cut off inside its header"),
    "too_long": (riff(bytes(int(MAX_SECONDS) * 1000 + 2000), rate=1000, bits=8), "at most 1 hour"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_refused_fast_with_a_reason(tmp_path: Path, name: str) -> None:
    content, reason = BAD[name]
    path = tmp_path / f"{name}.wav"
    path.write_bytes(content)
    t0 = time.monotonic()
    with pytest.raises(WavError) as err:
        read_wav_16k(path)
    assert time.monotonic() - t0 < 1.0
    assert str(path) in str(err.value) and reason in str(err.value), str(err.value)


def test_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WavError, match="is a folder"):
        read_wav_16k(tmp_path)
    with pytest.raises(WavError, match="There is no such file"):
        read_wav(tmp_path / "nope.wav")


def test_a_huge_claimed_size_costs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "claims.wav"
    path.write_bytes(riff(bytes(3200), data_len=0xFFFFFFF0))  # claims 37 hours at 16 kHz
    t0 = time.monotonic()
    assert len(read_wav_16k(path)) == 1600
    assert time.monotonic() - t0 < 1.0
