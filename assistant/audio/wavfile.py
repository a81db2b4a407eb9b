"""Reading any WAV file a user hands Parley, or saying in words why not.

One reader for every command that takes a WAV (`parley transcribe`, `parley
listen --wav`, the STT and capture helpers); the code reads WAVs through
`audio.format`, which calls it. The RIFF chunks are parsed here with `struct`
rather than by the stdlib `wave` module, which rejects IEEE-float WAVs, trusts
header sizes, and fails with bare `wave.Error`s.

Accepted: PCM 8/16/24/32-bit integer and 32/64-bit float (also inside
WAVE_FORMAT_EXTENSIBLE), any number of channels (averaged), any sample rate
from `MIN_RATE` to `MAX_RATE` (resampled with soxr). A data chunk that claims
more bytes than the file has (a cut-off recording, a streaming writer's
0xFFFFFFFF) is read as far as it goes. Refused within milliseconds, with a
`WavError` that says what is wrong: not a RIFF/WAVE file (naming what it starts
with), empty, cut off inside the header, an unsupported codec (naming its
format tag), an impossible rate or channel count, more than `MAX_SECONDS` of
audio, or no samples at all.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

log = logging.getLogger(__name__)

MIN_RATE = 1_000
MAX_RATE = 384_000
"""Sample rates outside these are a damaged header, not audio."""
MAX_CHANNELS = 64
MAX_SECONDS = 3600.0
"""Longer files are refused: transcribing hours in one utterance is never meant."""
MAX_CHUNKS = 10_000
"""Chunks scanned for 'fmt ' and 'data': a file of tiny chunks must not spin."""
BLOCK_FRAMES = 1 << 20
"""Frames decoded and resampled at a time, so memory follows the output size."""

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
# Format tags people meet, so the message can name the codec.
_CODECS = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "µ-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG audio",
    0x0055: "MP3",
    0x0161: "Windows Media Audio",
    0x1610: "AAC",
    0xF1AC: "FLAC",
}
# What a file that is not a WAV starts with, to say what it is instead.
_MAGIC = (
    (b"ID3", "an MP3 file"),
    (b"\xff\xfb", "an MP3 file"),
    (b"\xff\xf3", "an MP3 file"),
    (b"\xff\xf2", "an MP3 file"),
    (b"OggS", "an Ogg file"),
    (b"fLaC", "a FLAC file"),
    (b"FORM", "an AIFF file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"GGUF", "a GGUF model"),
    (b"\x7fELF", "a program"),
)


class WavError(ValueError):
    """The file cannot be read as audio; the message says why, for people."""


@dataclass(frozen=True)
class WavInfo:
    path: Path
    encoding: str
    """'PCM' (integers) or 'float'."""
    bits: int
    """Bits per sample as stored (the container: 24 for 20-bit audio in 3 bytes)."""
    channels: int
    rate: int
    frames: int
    """Frames actually in the file (less than the header says when cut off)."""
    data_offset: int
    cut_off: bool
    """The data chunk claims more bytes than the file holds."""

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def read_header(path: Path | str) -> WavInfo:
    """Parse and check the header of the WAV file at `path`; WavError if it
    cannot be read as audio. Reads only the chunk headers."""
    path = Path(path)
    if path.is_dir():
        raise WavError(f"{path} is a folder, not a WAV file.")
    try:
        with path.open("rb") as f:
            size = _size(f)
            return _parse(path, f, size)
    except FileNotFoundError:
        raise WavError(f"There is no such file: {path}.") from None
    except OSError as e:
        raise WavError(f"Cannot read {path}: {e.strerror or e}.") from e


def read_pcm16(path: Path | str) -> tuple[np.ndarray, int]:
    """The file's samples as int16 at its own rate: shape (n,) for mono,
    (n, channels) otherwise. Integer PCM keeps its top 16 bits; float is scaled
    and clipped. WavError when it cannot be read as audio."""
    info = read_header(path)
    with _open(info) as f:
        x = _decode(info, f.read(info.frames * _frame_bytes(info)))
    return (x[:, 0] if info.channels == 1 else x), info.rate


def read_mono(path: Path | str, rate: int) -> np.ndarray:
    """The file as mono int16 at `rate` Hz (`format.read_wav_16k` gives 16 kHz):
    channels averaged, resampled with soxr, a block at a time. WavError when it
    cannot be read as audio."""
    info = read_header(path)
    out: list[np.ndarray] = []
    stream = None
    if info.rate != rate:
        import soxr

        stream = soxr.ResampleStream(info.rate, rate, 1, dtype="float32")
    frame_bytes = _frame_bytes(info)
    with _open(info) as f:
        left = info.frames
        while left > 0:
            n = min(left, BLOCK_FRAMES)
            block = _decode(info, f.read(n * frame_bytes))
            left -= n
            mono = block.astype(np.float32).mean(axis=1) / 32768.0
            out.append(mono if stream is None else stream.resample_chunk(mono, last=left <= 0))
    audio = np.concatenate(out) if out else np.zeros(0, np.float32)
    return (np.clip(audio, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)


# --------------------------------------------------------------------------- parsing


def _size(f: BinaryIO) -> int:
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    return size


def _parse(path: Path, f: BinaryIO, size: int) -> WavInfo:
    if size == 0:
        raise WavError(f"{path} is empty (0 bytes), not a WAV file.")
    head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        if len(head) < 12 and b"RIFF".startswith(head[:4]):
            raise WavError(f"{path} is cut off inside its header: it is only {size} bytes long.")
        raise WavError(f"{path} is not a WAV file (it starts with {describe_start(head)}).")
    fmt: tuple[int, int, int, int] | None = None  # (tag, channels, rate, bits)
    data: tuple[int, int] | None = None  # (offset, claimed length)
    pos, chunks = 12, 0
    while pos + 8 <= size and (fmt is None or data is None):
        chunks += 1
        if chunks > MAX_CHUNKS:
            raise WavError(f"{path} has over {MAX_CHUNKS} chunks: it is not a usable WAV file.")
        f.seek(pos)
        chunk_id, length = struct.unpack("<4sI", f.read(8))
        body = pos + 8
        if chunk_id == b"fmt ":
            if length < 16 or body + 16 > size:
                raise WavError(
                    f"{path} is cut off inside its header: its format chunk is incomplete."
                )
            fmt = _format(path, f.read(min(length, 40)))
        elif chunk_id == b"data":
            data = (body, length)
            if body + length >= size:
                break  # the data runs to the end of the file: nothing follows
        pos = body + length + (length & 1)  # chunks are padded to an even size
    ends_mid_chunk_header = pos < size < pos + 8
    if (fmt is None or data is None) and ends_mid_chunk_header:
        raise WavError(f"{path} is cut off inside its header ({size} bytes).")
    if fmt is None:
        raise WavError(f"{path} is damaged: it has no format ('fmt ') chunk.")
    if data is None:
        raise WavError(f"{path} has no audio data: there is no 'data' chunk.")
    tag, channels, rate, bits = fmt
    encoding = "float" if tag == _FLOAT else "PCM"
    info = WavInfo(path, encoding, bits, channels, rate, 0, data[0], False)
    frame_bytes = _frame_bytes(info)
    available = max(0, size - data[0])
    claimed = data[1]
    cut_off = claimed > available
    frames = min(claimed, available) // frame_bytes
    if cut_off:
        log.info("%s: data chunk claims %d bytes, %d are there", path, claimed, available)
    if frames == 0 and cut_off:
        raise WavError(f"{path} is cut off before its first sample ({size} bytes).")
    if frames == 0:
        raise WavError(f"{path} holds no audio: its data chunk is empty.")
    seconds = frames / rate
    if seconds > MAX_SECONDS:
        raise WavError(
            f"{path} holds {_duration(seconds)} of audio; Parley reads at most "
            f"{_duration(MAX_SECONDS)} from a file."
        )
    return WavInfo(path, encoding, bits, channels, rate, frames, data[0], cut_off)


def _format(path: Path, raw: bytes) -> tuple[int, int, int, int]:
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", raw[:16])
    if tag == _EXTENSIBLE:
        if len(raw) < 40:
            raise WavError(f"{path} is damaged: its extensible format chunk is cut short.")
        tag = struct.unpack("<H", raw[24:26])[0]  # the first two bytes of SubFormat
    if tag not in (_PCM, _FLOAT):
        codec = _CODECS.get(tag, "a codec")
        raise WavError(
            f"{path} is encoded as {codec} (WAV format tag 0x{tag:04X}), which Parley cannot "
            "decode: convert it to PCM, e.g. `ffmpeg -i IN -c:a pcm_s16le OUT.wav`."
        )
    if rate == 0 or not MIN_RATE <= rate <= MAX_RATE:
        raise WavError(
            f"{path} claims a sample rate of {rate} Hz; audio is {MIN_RATE}-{MAX_RATE} Hz, "
            "so its header is damaged."
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise WavError(f"{path} claims {channels} channels, so its header is damaged.")
    width = (bits + 7) // 8
    if (tag == _PCM and width not in (1, 2, 3, 4)) or (tag == _FLOAT and bits not in (32, 64)):
        kind = "PCM" if tag == _PCM else "float"
        raise WavError(
            f"{path} has {bits}-bit {kind} samples; Parley reads 8, 16, 24 and 32-bit PCM "
            "and 32 or 64-bit float."
        )
    return tag, channels, rate, (width * 8 if tag == _PCM else bits)


def _frame_bytes(info: WavInfo) -> int:
    return info.channels * info.bits // 8


class _open:
    """The file positioned at its first sample."""

    def __init__(self, info: WavInfo) -> None:
        self.info = info

    def __enter__(self) -> BinaryIO:
        try:
            self.f = self.info.path.open("rb")
        except OSError as e:  # gone or locked since `read_header`
            raise WavError(f"Cannot read {self.info.path}: {e.strerror or e}.") from e
        self.f.seek(self.info.data_offset)
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def _decode(info: WavInfo, raw: bytes) -> np.ndarray:
    """Raw sample bytes -> int16 (frames, channels)."""
    usable = len(raw) - len(raw) % _frame_bytes(info)
    raw = raw[:usable]
    if info.encoding == "float":
        x = np.frombuffer(raw, "<f4" if info.bits == 32 else "<f8")
        # Garbage bytes decode to NaN and huge values: silence and full scale.
        x = np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
        y = (np.clip(x, -1.0, 32767 / 32768) * 32768.0).astype(np.int16)
    elif info.bits == 8:
        y = ((np.frombuffer(raw, np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif info.bits == 16:
        y = np.frombuffer(raw, "<i2").astype(np.int16)
    elif info.bits == 24:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        y = ((b[:, 2].astype(np.int8).astype(np.int16) << 8) | b[:, 1].astype(np.int16)).astype(
            np.int16
        )
    else:
        y = (np.frombuffer(raw, "<i4") >> 16).astype(np.int16)
    return y.reshape(-1, info.channels)


def describe_start(head: bytes) -> str:
    """What a file starts with, in a few words: its first bytes, and what kind
    of file that makes it when known (for "X is not a ... (it starts with ...)")."""
    if not head:
        return "nothing"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"{_shown(head)}: it looks like {what}"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return f"{_shown(head)}: it looks like a WAV audio file"
    if head.startswith(b"RIFF"):
        return f"{_shown(head)}: a RIFF file of type {_shown(head[8:12])}, not WAVE"
    return _shown(head)


def _shown(head: bytes) -> str:
    text = head.decode("latin-1")
    if all(c.isprintable() or c in "\t\r\n" for c in text):
        return '"' + text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'
    return "bytes " + " ".join(f"{b:02x}" for b in head[:8])


def _duration(seconds: float) -> str:
    hours = seconds / 3600
    if hours >= 1:
        return "1 hour" if round(hours, 1) == 1 else f"{hours:.1f} hours"
    return f"{seconds / 60:.0f} minutes"
