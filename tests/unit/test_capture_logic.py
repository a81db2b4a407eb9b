"""Pure logic of the audio package: framing, resampling, the reference ring buffer,
device matching, WAV decoding and the two PortAudio callbacks fed by hand."""

from __future__ import annotations

import queue
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.audio.capture import (
    MicSource,
    Reframer,
    StreamResampler,
    resample_to_16k,
)
from assistant.audio.devices import DeviceInfo, format_devices, match_device
from assistant.audio.format import FRAME_SAMPLES, read_wav
from assistant.audio.playback import Player, RingBuffer, onset, resample_clip


def sine(hz: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def peak_hz(x: np.ndarray, rate: int) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(x.astype(np.float64))))) * rate / len(x)


# --------------------------------------------------------------------------- framing


def test_reframer_cuts_any_chunks_into_exact_frames() -> None:
    rng = np.random.default_rng(0)
    signal = rng.integers(-32768, 32767, 10_000, dtype=np.int16)
    r = Reframer()
    frames, pos = [], 0
    while pos < len(signal):
        n = int(rng.integers(0, 1500))
        r.push(signal[pos : pos + n])
        pos += n
        while (f := r.pop()) is not None:
            frames.append(f)
    assert all(len(f) == FRAME_SAMPLES for f in frames)
    assert len(frames) == len(signal) // FRAME_SAMPLES
    assert r.pending == len(signal) % FRAME_SAMPLES
    assert np.array_equal(np.concatenate(frames), signal[: len(frames) * FRAME_SAMPLES])


@pytest.mark.parametrize("rate", [44_100, 48_000, 22_050, 8_000])
def test_stream_resampler_keeps_time_and_pitch(rate: int) -> None:
    block = rate * 30 // 1000  # what MicSource asks the device for
    signal = sine(1000 if rate > 8000 else 600, 1.5, rate)
    rs = StreamResampler(rate)
    sizes = [len(rs.process(signal[i : i + block])) for i in range(0, len(signal), block)]
    total = sum(sizes) + len(rs.flush())
    assert abs(total - 1.5 * 16_000) <= 2
    # Output arrives in uneven chunks but never runs ahead of the input.
    assert sum(sizes) <= 1.5 * 16_000
    rs2 = StreamResampler(rate)
    out = np.concatenate([rs2.process(signal[i : i + block]) for i in range(0, len(signal), block)])
    assert abs(peak_hz(out[1000:], 16_000) - (1000 if rate > 8000 else 600)) < 3


def test_stream_resampler_is_identity_at_16k() -> None:
    x = sine(440, 0.1, 16_000)
    rs = StreamResampler(16_000)
    assert rs.process(x) is x
    assert len(rs.flush()) == 0


# --------------------------------------------------------------------------- WAV input


def write(path: Path, data: bytes, width: int, channels: int, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return path


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_read_wav_decodes_every_pcm_width(tmp_path: Path, width: int) -> None:
    x = sine(300, 0.05, 8000)  # int16 reference
    as32 = x.astype(np.int32) << 16
    if width == 1:
        data = ((x.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()
    elif width == 2:
        data = x.astype("<i2").tobytes()
    elif width == 3:
        b = as32.astype("<i4").view(np.uint8).reshape(-1, 4)[:, 1:]
        data = b.tobytes()
    else:
        data = as32.astype("<i4").tobytes()
    got, rate = read_wav(write(tmp_path / "x.wav", data, width, 1, 8000))
    assert rate == 8000 and got.dtype == np.int16
    tolerance = 256 if width == 1 else 0
    assert np.abs(got.astype(np.int32) - x).max() <= tolerance


def test_resample_to_16k_downmixes_and_converts(tmp_path: Path) -> None:
    left, right = sine(500, 0.5, 44_100), np.zeros(22_050, np.int16)
    path = write(tmp_path / "s.wav", np.stack([left, right], 1).astype("<i2").tobytes(), 2, 2,
                 44_100)  # fmt: skip
    samples, rate = read_wav(path)
    assert samples.shape == (22_050, 2)
    mono = resample_to_16k(samples, rate)
    assert mono.dtype == np.int16 and len(mono) == 8000
    assert abs(peak_hz(mono, 16_000) - 500) < 3
    assert abs(np.abs(mono).max() - 0.25 * 32767) < 300  # averaged with a silent channel
    x = sine(440, 0.1, 16_000)
    assert resample_to_16k(x, 16_000) is x  # nothing to do: untouched


# --------------------------------------------------------------------------- device matching


def dev(index: int, name: str, ins: int = 2, outs: int = 2, **kw: bool) -> DeviceInfo:
    return DeviceInfo(index, name, "ALSA", ins, outs, 44_100.0, **kw)


DEVICES = [
    dev(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", is_default_input=True),
    dev(1, "HDA Intel PCH: HDMI 0 (hw:0,3)", ins=0),
    dev(2, "USB Audio Device: - (hw:1,0)", outs=0),
    dev(3, "pulse"),
    dev(4, "default", is_default_output=True),
]


def test_the_default_prefers_the_sound_server_on_linux() -> None:
    assert match_device(DEVICES, "", "input", platform="linux") == 3
    assert match_device(DEVICES, "  ", "output", platform="linux") == 3
    with_pipewire = [*DEVICES, dev(5, "pipewire")]
    assert match_device(with_pipewire, "", "input", platform="linux") == 5


def test_the_default_elsewhere_is_portaudios_then_the_first() -> None:
    assert match_device(DEVICES, "", "input", platform="darwin") == 0
    assert match_device(DEVICES, "", "output", platform="win32") == 4
    plain = [dev(7, "Mic", outs=0), dev(8, "Speakers", ins=0)]
    assert match_device(plain, "", "input", platform="win32") == 7
    assert match_device(plain, "", "output", platform="win32") == 8


def test_matching_by_number_and_name() -> None:
    assert match_device(DEVICES, "2", "input") == 2
    assert match_device(DEVICES, "2", "output") is None  # a microphone only
    assert match_device(DEVICES, "1", "input") is None  # HDMI has no input
    assert match_device(DEVICES, "99", "input") is None
    assert match_device(DEVICES, "usb", "input") == 2
    assert match_device(DEVICES, "usb", "output") is None
    assert match_device(DEVICES, "PULSE", "input") == 3
    assert match_device(DEVICES, "hdmi", "output") == 1
    # An exact name wins over an earlier device that merely contains it.
    named = [dev(0, "default mic array"), dev(1, "Default")]
    assert match_device(named, "default", "input") == 1
    assert match_device(DEVICES, "bluetooth", "input") is None
    assert match_device([], "", "input") is None


def test_format_devices_marks_the_default() -> None:
    text = format_devices(DEVICES)
    inputs, outputs = text.split("Speakers (output):")
    assert "*   3  pulse" in inputs and "HDMI" not in inputs
    assert "*   3  pulse" in outputs and "USB" not in outputs
    assert inputs.count("*") == 1
    assert "(none found)" in format_devices([dev(0, "Speakers", ins=0)])


# --------------------------------------------------------------------------- mic callback


def flags(overflow: bool = False) -> SimpleNamespace:
    return SimpleNamespace(input_overflow=overflow)


def test_mic_callback_copies_counts_and_drops_the_oldest() -> None:
    mic = MicSource(queue_blocks=3)
    block = np.zeros((480, 1), np.int16)
    for i in range(5):
        block[:] = i
        mic._callback(block, 480, None, flags(overflow=i == 1))
    assert mic.overflows == 1
    assert mic.dropped == 2
    kept = []
    while True:
        try:
            kept.append(int(mic._queue.get_nowait()[1][0, 0]))
        except queue.Empty:
            break
    assert kept == [2, 3, 4]  # copies, not views of the reused buffer; newest kept


# --------------------------------------------------------------------------- playback logic


def test_ring_buffer_keeps_the_latest_samples() -> None:
    ring = RingBuffer(10)
    assert len(ring.latest(5)) == 0
    ring.write(np.arange(4, dtype=np.int16))
    assert ring.latest(10).tolist() == [0, 1, 2, 3]
    ring.write(np.arange(4, 12, dtype=np.int16))  # wraps
    assert ring.latest(10).tolist() == list(range(2, 12))
    assert ring.latest(3).tolist() == [9, 10, 11]
    ring.write(np.arange(100, 125, dtype=np.int16))  # longer than the buffer
    assert ring.latest(10).tolist() == list(range(115, 125))
    assert ring.written == 37
    ring.write(np.arange(200, 210, dtype=np.int16))  # exactly the capacity
    assert ring.latest(10).tolist() == list(range(200, 210))
    assert ring.latest(4).tolist() == [206, 207, 208, 209]


def test_onset_and_clip_resampling() -> None:
    clip = np.concatenate([np.zeros(100, np.int16), np.full(5, 20, np.int16), sine(440, 0.1, 8000)])
    assert onset(clip) == 105 + 1  # sin(0) = 0, the next sample is loud
    assert onset(np.zeros(50, np.int16)) == 0
    up = resample_clip(sine(440, 0.5, 22_050), 22_050, 48_000)
    assert up.dtype == np.int16 and abs(len(up) - 24_000) <= 1
    assert abs(peak_hz(up, 48_000) - 440) < 3
    floats = resample_clip(np.full(10, 2.0, np.float32), 16_000, 16_000)
    assert floats.tolist() == [32767] * 10  # clipped, not wrapped


def fed_player(rate: int = 1000) -> Player:
    """A Player whose callback is driven by hand (no stream)."""
    p = Player()
    p.rate, p.stream_latency = rate, 0.05
    p.reference = RingBuffer(rate * 2)
    return p


def run_callback(p: Player, frames: int, dac_ahead: float = 0.1) -> np.ndarray:
    out = np.full((frames, 1), 999, np.int16)
    info = SimpleNamespace(currentTime=10.0, outputBufferDacTime=10.0 + dac_ahead)
    p._callback(out, frames, info, SimpleNamespace(output_underflow=False))
    return out[:, 0].copy()


def test_player_callback_plays_clips_in_order_then_silence() -> None:
    p = fed_player()
    a, b = np.arange(1, 31, dtype=np.int16), np.arange(101, 111, dtype=np.int16)
    for clip in (a, b):
        p._pending.append(_clip(p, clip))
    assert p.playing
    first = run_callback(p, 25)
    second = run_callback(p, 25)
    assert first.tolist() == list(range(1, 26))
    assert second.tolist() == [26, 27, 28, 29, 30, *range(101, 111), *[0] * 10]
    assert p.reference.latest(50).tolist() == [*first, *second]


def test_player_stop_drops_the_current_clip_at_the_next_block() -> None:
    p = fed_player()
    p._pending.append(_clip(p, np.full(100, 500, np.int16)))
    assert (run_callback(p, 20) == 500).all()
    p.stop()
    assert not p.playing
    assert (run_callback(p, 20) == 0).all()
    p._pending.append(_clip(p, np.full(10, 7, np.int16)))  # play() after stop() still plays
    assert run_callback(p, 20).tolist() == [7] * 10 + [0] * 10


def test_player_reports_the_first_loud_sample_time() -> None:
    p = fed_player(rate=1000)
    clip = np.concatenate([np.zeros(30, np.int16), np.full(10, 1000, np.int16)])
    p._pending.append(_clip(p, clip))
    run_callback(p, 20, dac_ahead=0.1)  # silence only: nothing reported yet
    assert p._events.empty()
    before = time.monotonic()
    run_callback(p, 20, dac_ahead=0.1)
    after = time.monotonic()
    event = p._events.get_nowait()
    # The loud sample is 10 samples (10 ms) into a block that plays 100 ms later.
    assert event.clip_id == 1
    assert before + 0.110 <= event.t <= after + 0.110
    run_callback(p, 20)
    assert p._events.empty()  # one report per clip

    p._pending.append(_clip(p, np.full(5, 1000, np.int16)))
    before = time.monotonic()
    run_callback(p, 20, dac_ahead=0.0)  # no timing from the host API: its latency is used
    after = time.monotonic()
    event = p._events.get_nowait()
    assert event.clip_id == 2
    assert before + p.stream_latency <= event.t <= after + p.stream_latency


def _clip(p: Player, samples: np.ndarray):  # type: ignore[no-untyped-def]
    from assistant.audio.playback import _Clip

    p._next_id += 1
    return _Clip(p._next_id - 1, samples, p._generation, onset(samples))
