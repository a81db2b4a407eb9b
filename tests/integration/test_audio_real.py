"""Audio I/O against a real PulseAudio server with null sinks (see conftest.pulse_server):
the virtual microphone is fed with paplay, the virtual speaker recorded with parec."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.audio import devices
from assistant.audio.capture import DeviceLost, EndOfStream, MicSource, WavSource
from assistant.audio.format import FRAME_SAMPLES, SAMPLE_RATE, read_wav, write_wav
from assistant.audio.playback import SILENCE, Player
from assistant.audio.virtual import PulseServer, missing_tools

REPO = Path(__file__).resolve().parents[2]
SPEECH = Path("/usr/share/pocketsphinx/test/data/cards/001.wav")  # 1.1 s, 16 kHz mono


# --------------------------------------------------------------------------- helpers


def tone(hz: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * 32767 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def loud_span(x: np.ndarray, rate: int, threshold: int = 3000) -> float:
    """Seconds from the first to the last sample above `threshold`."""
    idx = np.flatnonzero(np.abs(x.astype(np.int32)) > threshold)
    return float(idx[-1] - idx[0]) / rate if idx.size else 0.0


def loud_part(x: np.ndarray, threshold: int = 3000) -> np.ndarray:
    """From the first to the last sample above `threshold`."""
    idx = np.flatnonzero(np.abs(x.astype(np.int32)) > threshold)
    return x[idx[0] : idx[-1] + 1] if idx.size else x[:0]


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def capture(mic: MicSource, seconds: float, during: Callable[[], object] | None = None) -> list:
    """Frames read for `seconds`, or while `during` runs on another thread (started
    after 0.2 s, so the stream is surely flowing) and 0.3 s after it returned."""

    def delayed() -> None:
        time.sleep(0.2)
        assert during is not None
        during()

    worker = threading.Thread(target=delayed) if during else None
    if worker:
        worker.start()
    frames = []
    end = time.monotonic() + seconds
    while time.monotonic() < end or (worker and worker.is_alive()):
        if worker and not worker.is_alive():
            end = min(end, time.monotonic() + 0.3)
        frame = mic.read(timeout=0.1)
        if frame is not None:
            frames.append(frame)
    return frames


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    """0.5 s of 1 kHz at 44.1 kHz stereo (the server converts it for micfeed)."""
    mono = tone(1000, 0.5, 44_100)
    return write_wav(tmp_path / "tone.wav", np.stack([mono, mono], axis=1), 44_100)


# --------------------------------------------------------------------------- devices


def test_the_pulse_device_is_listed_and_preferred(pulse_server: PulseServer) -> None:
    names = [d.name for d in devices.list_devices()]
    assert "pulse" in names, names
    index = devices.find_input("")
    assert index is not None and devices.device_name(index) == "pulse"
    assert devices.find_input("PULS") == index  # substring, any case
    assert devices.find_output("") == devices.find_output("pulse")
    assert devices.find_input("no such microphone") is None
    text = devices.format_devices()
    assert f"*   {index}  pulse" in text


def test_refresh_rescans_the_device_list(
    pulse_server: PulseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PULSE_SERVER", "unix:/nonexistent")
    try:
        devices.refresh()
        assert "pulse" not in [d.name for d in devices.list_devices()]
    finally:
        monkeypatch.undo()
        devices.refresh()
    assert "pulse" in [d.name for d in devices.list_devices()]


def test_no_sound_server_means_no_input_device(tmp_path: Path) -> None:
    # A fresh process that reaches no sound server and whose ALSA knows no device
    # (not even hw: cards, should the machine have any).
    conf = tmp_path / "asound.conf"
    conf.write_text("pcm.!default { type hw card 99 }\n")
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent", "ALSA_CONFIG_PATH": str(conf)}
    code = (
        "from assistant.audio.capture import MicSource, NoInputDevice\n"
        "from assistant.audio.devices import format_devices\n"
        "print(format_devices())\n"
        "try:\n"
        "    MicSource().start()\n"
        "except NoInputDevice as e:\n"
        "    print('ERROR:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("(none found)") == 2
    assert (
        "ERROR: No microphone found. Plug one in or choose one in settings; "
        "until then you can type." in out.stdout
    )


# --------------------------------------------------------------------------- capture


@pytest.mark.parametrize("rate", [None, 44_100], ids=["16k", "resampled-44k"])
def test_mic_hears_a_tone(pulse_server: PulseServer, tone_wav: Path, rate: int | None) -> None:
    with MicSource(rate=rate) as mic:
        assert mic.device_rate == (rate or SAMPLE_RATE)
        frames = capture(mic, 1.2, lambda: pulse_server.play_into_mic(tone_wav))
        assert mic.overflows == 0 and mic.dropped == 0
    assert all(f.shape == (FRAME_SAMPLES,) and f.dtype == np.int16 for f in frames)
    audio = np.concatenate(frames)
    assert abs(loud_span(audio, SAMPLE_RATE) - 0.5) < 0.03
    assert abs(dominant_hz(loud_part(audio), SAMPLE_RATE) - 1000) < 5
    # Silence before the tone is real digital silence: nothing invented.
    assert np.abs(audio[:FRAME_SAMPLES]).max() < 100


@pytest.mark.skipif(not SPEECH.exists(), reason="needs pocketsphinx-testdata (Debian package)")
def test_mic_hears_speech_faithfully(pulse_server: PulseServer) -> None:
    original = read_wav(SPEECH)[0].astype(np.float64)
    with MicSource() as mic:
        frames = capture(mic, 1.6, lambda: pulse_server.play_into_mic(SPEECH))
    got = np.concatenate(frames).astype(np.float64)
    # The server resamples 16 -> 44.1 -> 16 kHz; the waveform must survive.
    n = len(got) + len(original)
    corr = np.fft.irfft(np.fft.rfft(got, n) * np.conj(np.fft.rfft(original, n)), n)
    corr = corr[: len(got) - len(original) + 1]  # lags where the original fits
    lag = int(np.argmax(np.abs(corr)))
    segment = got[lag : lag + len(original)]
    similarity = abs(corr[lag]) / (np.linalg.norm(segment) * np.linalg.norm(original))
    assert similarity > 0.9  # about 0.97 here; unrelated audio scores near 0


def test_a_stalled_microphone_is_reported_and_reopened(pulse_server: PulseServer) -> None:
    with MicSource() as mic:
        assert len(capture(mic, 0.3)) >= 5
        pulse_server.pactl("suspend-source", "mic", "1")  # callbacks stop, stream stays open
        try:
            start = time.monotonic()
            with pytest.raises(DeviceLost) as lost:
                capture(mic, 3.0)
            waited = time.monotonic() - start
        finally:
            pulse_server.pactl("suspend-source", "mic", "0")
        assert "no audio" in lost.value.reason
        assert 0.9 < waited < 1.6
        with pytest.raises(DeviceLost):  # stays lost until reopened
            mic.read(timeout=0.1)
        assert mic.reopen(timeout=3)
        assert len(capture(mic, 0.3)) >= 5


@pytest.fixture
def private_pulse(monkeypatch: pytest.MonkeyPatch) -> Iterator[PulseServer]:
    """A server of this test's own, which it may kill; this process points at it."""
    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())} (Debian: pulseaudio, pulseaudio-utils)")
    runtime = Path(tempfile.mkdtemp(prefix="parley-lost-"))  # short: socket paths are limited
    server = PulseServer(runtime, reuse=False)
    try:
        server.start()
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        devices.refresh()
        yield server
    finally:
        server.stop()
        monkeypatch.undo()
        devices.refresh()
        shutil.rmtree(runtime, ignore_errors=True)


def test_losing_the_server_keeps_captured_audio_then_reopens(
    private_pulse: PulseServer, tone_wav: Path
) -> None:
    mic = MicSource()
    mic.start()
    try:
        time.sleep(0.3)  # the stream is flowing
        private_pulse.play_into_mic(tone_wav)  # captured but not read yet
        time.sleep(0.2)
        private_pulse.stop()
        frames: list[np.ndarray] = []
        with pytest.raises(DeviceLost) as lost:
            while True:
                frame = mic.read(timeout=0.5)
                if frame is not None:
                    frames.append(frame)
        assert lost.value.device == "pulse"
        before = np.concatenate(frames)
        assert abs(loud_span(before, SAMPLE_RATE) - 0.5) < 0.03, "queued audio was lost"

        start = time.monotonic()
        assert not mic.reopen(timeout=0.5, poll_s=0.2)  # the server is still down
        assert not mic.wait_for_device(timeout=0.3, poll_s=0.1)
        assert time.monotonic() - start < 2.0

        private_pulse.start()
        assert mic.wait_for_device(timeout=3, poll_s=0.1)
        assert mic.reopen(timeout=5, poll_s=0.2)
        after = np.concatenate(capture(mic, 0.9, lambda: private_pulse.play_into_mic(tone_wav)))
        assert abs(loud_span(after, SAMPLE_RATE) - 0.5) < 0.03
    finally:
        mic.stop()
    with pytest.raises(EndOfStream):
        while True:
            mic.read(timeout=0.5)


def test_turn_gap_layout_puts_question_and_reply_on_one_clock(
    private_pulse: PulseServer, tmp_path: Path
) -> None:
    rate = 16_000
    question = write_wav(tmp_path / "q.wav", tone(1000, 0.3, rate), rate)
    private_pulse.setup_turn_gap()
    rec = private_pulse.record_speaker(tmp_path / "both.wav", channels=2)
    with MicSource() as mic, Player() as player:
        heard = np.concatenate(capture(mic, 0.6, lambda: private_pulse.play_question(question)))
        player.play(tone(440, 0.3, rate), rate)  # the "reply"
        assert player.wait_done(timeout=3)
        time.sleep(0.1)
    stereo = rec.samples()
    left, right = stereo[:, 0], stereo[:, 1]
    # The microphone hears the question (from the left channel).
    assert abs(loud_span(heard, SAMPLE_RATE) - 0.3) < 0.03
    assert abs(dominant_hz(loud_part(heard), SAMPLE_RATE) - 1000) < 5
    # The right channel holds only the reply; the left one the question, then the reply.
    assert abs(loud_span(right, rate) - 0.3) < 0.03
    assert abs(dominant_hz(loud_part(right), rate) - 440) < 5
    q_start = int(np.flatnonzero(np.abs(left) > 3000)[0])
    r_start = int(np.flatnonzero(np.abs(right) > 3000)[0])
    assert abs(dominant_hz(left[q_start : q_start + int(0.3 * rate)], rate) - 1000) < 5
    gap = (r_start - q_start) / rate - 0.3  # question end -> reply start, one clock
    assert 0 < gap < 1.0


# --------------------------------------------------------------------------- playback


def test_player_plays_through_the_speaker(pulse_server: PulseServer, tmp_path: Path) -> None:
    firsts: list[float] = []
    rate = 22_050
    clip = np.concatenate([np.zeros(rate // 10, np.int16), tone(880, 0.4, rate)])
    with Player(on_first_sample=firsts.append) as player:
        rec = pulse_server.record_speaker(tmp_path / "spk.wav")
        time.sleep(0.2)  # parec connects
        clip_id = player.play(clip, rate)
        assert player.playing
        assert player.wait_done(timeout=5)
        assert not player.playing
        time.sleep(0.1)
        heard = rec.samples()
        reference = player.recent_output(1.0)
        assert player.first_sample_time(clip_id) == firsts[0]
    assert len(firsts) == 1
    assert abs(loud_span(heard, 16_000) - 0.4) < 0.03
    assert abs(dominant_hz(loud_part(heard), 16_000) - 880) < 10
    # The reference ring holds what was played, at the stream's rate.
    assert abs(loud_span(reference, player.rate) - 0.4) < 0.01
    assert abs(dominant_hz(loud_part(reference), player.rate) - 880) < 5


@pytest.mark.parametrize("flush", [True, False], ids=["flush", "no-flush"])
def test_player_stop_silences_within_one_block(
    pulse_server: PulseServer, tmp_path: Path, flush: bool
) -> None:
    firsts: list[float] = []
    rate = 16_000
    with Player(on_first_sample=firsts.append) as player:
        rec = pulse_server.record_speaker(tmp_path / "spk.wav")
        time.sleep(0.2)
        player.play(tone(440, 3.0, rate), rate)
        deadline = time.monotonic() + 3
        while not firsts and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(max(firsts[0] - time.monotonic(), 0) + 0.3)
        written = player.reference.written
        stopped_at = time.monotonic()
        player.stop(flush=flush)
        assert not player.playing
        time.sleep(0.3)
        after = player.reference.latest(player.reference.written - written)
        heard = rec.samples()
        block = player.rate * player.block_ms // 1000
        latency = player.stream_latency
    # In the callback: at most the block being filled when stop() came was tone.
    assert np.count_nonzero(np.abs(after) >= SILENCE) <= block
    # At the speaker: the tone lasted from its reported first sample until stop(),
    # plus what PortAudio and the server still held (unless flushed).
    tail = loud_span(heard, 16_000) - (stopped_at - firsts[0])
    print(f"stop(flush={flush}) tail at the speaker: {tail * 1000:.0f} ms "
          f"(block {player.block_ms} ms, output latency {latency * 1000:.0f} ms)")
    assert tail > -0.02  # the first-sample report was not early (a late one lengthens it)
    if flush:
        assert tail < player.block_ms / 1000 + 0.03
    else:
        assert tail < player.block_ms / 1000 + latency + 0.06


def test_player_survives_a_device_rescan(pulse_server: PulseServer) -> None:
    with Player() as player:
        player.play(tone(440, 0.1, 16_000), 16_000)
        assert player.wait_done(timeout=3)
        devices.refresh()  # closes the stream; the next play() reopens it
        player.play(tone(440, 0.1, 16_000), 16_000)
        assert player.wait_done(timeout=3)


def test_player_rests_only_when_quiet_and_plays_after(
    pulse_server: PulseServer, tmp_path: Path
) -> None:
    rate = 16_000
    with Player() as player:
        player.play(tone(660, 0.6, rate), rate)
        assert not player.rest()  # playing: the stream stays open
        assert player.wait_done(timeout=5)
        assert player.rest()
        assert player._stream is None and not player.rest()
        rec = pulse_server.record_speaker(tmp_path / "spk.wav")
        time.sleep(0.2)
        player.play(tone(880, 0.4, rate), rate)  # reopens the resting stream
        assert player.wait_done(timeout=5)
        time.sleep(0.1)
        heard = rec.samples()
    assert abs(loud_span(heard, 16_000) - 0.4) < 0.03
    assert abs(dominant_hz(loud_part(heard), 16_000) - 880) < 10


# --------------------------------------------------------------------------- WAV source


def test_wav_source_paces_in_real_time_or_runs_fast(tmp_path: Path) -> None:
    mono = tone(500, 0.6, 44_100)
    path = write_wav(tmp_path / "in.wav", np.stack([mono, mono // 2], axis=1), 44_100)

    def drain(src: WavSource) -> tuple[list[np.ndarray], float]:
        frames = []
        src.start()
        start = time.monotonic()
        with pytest.raises(EndOfStream):
            while True:
                frame = src.read()
                assert frame is not None
                frames.append(frame)
        return frames, time.monotonic() - start

    paced, paced_s = drain(WavSource(path, realtime=True))
    fast, fast_s = drain(WavSource(path, realtime=False))
    assert len(paced) == len(fast) == 20  # ceil(0.6 s / 30 ms)
    assert all(np.array_equal(a, b) for a, b in zip(paced, fast, strict=True))
    assert 0.58 < paced_s < 0.8
    assert fast_s < 0.1
    audio = np.concatenate(fast)
    assert abs(dominant_hz(audio, SAMPLE_RATE) - 500) < 5
    assert abs(np.abs(audio).max() - 0.75 * 0.5 * 32767) < 400  # channels averaged

    src = WavSource(path, realtime=True)
    src.start()
    assert src.read(timeout=0.001) is None  # the first frame is not due for 30 ms
    assert src.read(timeout=0.1) is not None


def test_player_starts_with_small_blocks_and_grows_them_after_underflows(
    pulse_server: PulseServer, tmp_path: Path
) -> None:
    """10 ms blocks (first sample ~35 ms after play on PulseAudio); clicks on a
    loaded machine make the block grow, never while a clip plays."""
    rate = 16_000
    with Player() as player:
        assert player.block_ms == 10
        small = player.stream_latency
        player.play(tone(440, 0.3, rate), rate)
        player.underflows += Player.UNDERFLOWS_TO_GROW  # as the callback counts them
        player.play(tone(440, 0.1, rate), rate)  # a clip is playing: no reopen now
        assert player.block_ms == 10
        assert player.wait_done(timeout=5)
        rec = pulse_server.record_speaker(tmp_path / "spk.wav")
        time.sleep(0.2)
        player.play(tone(880, 0.4, rate), rate)  # quiet: the stream reopens with 20 ms
        assert player.block_ms == 20 and player.stream_latency > small
        assert player.wait_done(timeout=5)
        time.sleep(0.1)
        heard = rec.samples()
    assert abs(loud_span(heard, 16_000) - 0.4) < 0.03  # the clip played whole
