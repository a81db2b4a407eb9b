"""Synthesizer against the real engine, eSpeak NG, in a worker process: driven
directly through libespeak-ng (the Linux default) and through pyttsx3."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from assistant.speech.tts import (
    DRIVER_ENV,
    LIBESPEAK,
    Synthesizer,
    TtsError,
    _read_audio,
    speak_direct,
    write_wav,
)

SHORT = "Sure, here it is."
SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module", params=[LIBESPEAK, "espeak"])
def synth(request: pytest.FixtureRequest) -> Iterator[Synthesizer]:
    s = Synthesizer(driver=request.param)
    s.start()
    yield s
    s.close()


def espeak_native_rate() -> int:
    """The sample rate eSpeak NG itself reports, asked without pyttsx3."""
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "hi"], capture_output=True, check=True, timeout=30
    ).stdout
    # espeak-ng writes a streaming header (unknown length); the rate field is fixed.
    return int.from_bytes(wav[24:28], "little")


def test_synthesize_returns_int16_mono_at_engine_rate(synth: Synthesizer) -> None:
    syn = synth.synthesize(SHORT)
    assert syn.text == SHORT
    assert syn.samples.dtype == np.int16 and syn.samples.ndim == 1
    assert syn.sample_rate == espeak_native_rate()
    assert np.abs(syn.samples.astype(np.int32)).max() > 1000, "audio is silent"
    assert 0 < syn.synth_ms < 10_000


def test_linux_default_is_the_direct_library_driver() -> None:
    with Synthesizer() as s:
        assert s.driver == LIBESPEAK
        assert s.synthesize(SHORT).samples.size > 0


def test_duration_follows_text_length_and_rate(synth: Synthesizer) -> None:
    texts = ["Yes.", SENTENCE, " ".join([SENTENCE] * 3)]
    durations = [synth.synthesize(t).duration_ms for t in texts]
    assert durations[0] < durations[1] < durations[2]
    for text, ms in zip(texts[1:], durations[1:], strict=True):
        expected = len(text.split()) / synth.rate * 60_000  # words per minute
        assert 0.5 * expected < ms < 1.6 * expected, (text, ms, expected)
    with Synthesizer(rate=synth.rate // 2, driver=synth.driver) as slow:
        ratio = slow.synthesize(SENTENCE).duration_ms / durations[1]
    assert 1.6 < ratio < 2.5


def test_many_calls_in_a_row_do_not_hang(synth: Synthesizer) -> None:
    pid = synth.pid
    for i in range(6):
        syn = synth.synthesize(f"Clause number {i}, coming up.", timeout=10)
        assert syn.samples.size > syn.sample_rate // 4
    assert synth.pid == pid, "the worker was restarted: a call hung or failed"


def test_voices_lists_installed_voices(synth: Synthesizer) -> None:
    voices = synth.voices()
    assert voices and all(v.id and v.name for v in voices)
    assert any(lang.startswith("en") for v in voices for lang in v.languages)
    assert synth.voice_in_use in {v.id for v in voices}


def test_voice_by_language_tag_or_name(synth: Synthesizer) -> None:
    us = next(v for v in synth.voices() if "en-us" in v.languages)
    default = synth.synthesize(SENTENCE).samples
    for request in ("en-us", us.name.upper()):
        with Synthesizer(voice=request, driver=synth.driver) as s:
            assert s.voice_in_use == us.id and s.warning == ""
            samples = s.synthesize(SENTENCE).samples
        assert samples.size != default.size or not np.array_equal(samples, default)


def test_unknown_voice_falls_back_with_warning(
    synth: Synthesizer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.speech.tts")
    with Synthesizer(voice="no-such-voice", driver=synth.driver) as s:
        assert "no-such-voice" in s.warning and "default" in s.warning
        assert any("no-such-voice" in r.getMessage() for r in caplog.records)
        assert s.voice_in_use == synth.voice_in_use != ""
        assert s.synthesize(SHORT).samples.size > 0


@pytest.mark.parametrize("via_env", [False, True])
def test_missing_engine_is_a_clear_error(via_env: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if via_env:
        monkeypatch.setenv(DRIVER_ENV, "nosuchdriver")
        s = Synthesizer()
    else:
        s = Synthesizer(driver="nosuchdriver")
    with pytest.raises(TtsError, match=r"No speech engine found.*nosuchdriver"):
        s.start()
    assert not s.alive
    s.close()


def test_close_kills_the_worker_and_a_new_request_restarts_it() -> None:
    s = Synthesizer()
    s.start()
    pid = s.pid
    assert pid is not None and psutil.pid_exists(pid)
    s.close()
    assert not psutil.pid_exists(pid)
    assert not s.alive
    s.close()  # twice is fine
    try:
        assert s.synthesize(SHORT).samples.size > 0
        assert s.pid != pid
    finally:
        s.close()


def test_hung_worker_is_replaced_and_reported() -> None:
    with Synthesizer() as s:
        hung = s.pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)  # the engine stops answering
        t0 = time.monotonic()
        with pytest.raises(TtsError, match="did not answer"):
            s.synthesize(SHORT, timeout=1.0)
        assert time.monotonic() - t0 < 8
        assert not psutil.pid_exists(hung)
        assert s.synthesize(SHORT).samples.size > 0
        assert s.pid != hung


def test_blank_text_is_rejected(synth: Synthesizer) -> None:
    with pytest.raises(ValueError):
        synth.synthesize("  \n")


def test_write_wav_round_trip(synth: Synthesizer, tmp_path: Path) -> None:
    syn = synth.synthesize(SHORT)
    out = tmp_path / "out.wav"
    write_wav(out, syn)
    with wave.open(str(out)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, syn.sample_rate)
        back = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    assert np.array_equal(back, syn.samples)


def test_empty_or_header_only_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.wav"
    with wave.open(str(header_only), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(22050)
    for path in (empty, header_only, tmp_path / "missing.wav"):
        with pytest.raises(TtsError, match="no audio"):
            _read_audio(path)


@pytest.mark.parametrize("sox_type", ["aiff", "aifc"])
def test_aiff_as_macos_writes_it(sox_type: str, synth: Synthesizer, tmp_path: Path) -> None:
    if shutil.which("sox") is None:
        pytest.skip("sox (Debian package sox) is not installed")
    syn = synth.synthesize(SHORT)
    src, dst = tmp_path / "in.wav", tmp_path / f"out.{sox_type}"
    write_wav(src, syn)
    subprocess.run(["sox", str(src), "-t", sox_type, str(dst)], check=True, timeout=30)
    assert dst.read_bytes()[:4] == b"FORM"
    samples, rate = _read_audio(dst)
    assert rate == syn.sample_rate
    assert np.array_equal(samples, syn.samples)


# Direct speech (the fallback path) needs an audio output: a private PulseAudio
# server with a null sink as the speaker.


@pytest.fixture
def pulse(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    missing = [t for t in ("pulseaudio", "pactl", "aplay") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: pulseaudio, alsa-utils)")
    # Short path: a Unix socket path must fit in 108 bytes.
    runtime = Path(tempfile.mkdtemp(prefix="parley-pa-"))
    script = runtime / "default.pa"
    script.write_text(
        "load-module module-native-protocol-unix\n"
        "load-module module-null-sink sink_name=spk\n"
        "set-default-sink spk\n"
    )
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PULSE_SERVER", f"unix:{runtime / 'pulse' / 'native'}")
    pidfile = runtime / "pulse" / "pid"
    try:
        subprocess.run(
            ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "-n", "-F", str(script)],
            check=True,
            timeout=30,
            capture_output=True,
        )
        yield runtime
    finally:
        if pidfile.exists():
            server = psutil.Process(int(pidfile.read_text().split()[0]))
            server.terminate()
            # Not our child, so never reaped here: gone or a zombie is done.
            wait_for(lambda: _finished(server), 5)
        shutil.rmtree(runtime, ignore_errors=True)


def playback_streams() -> int:
    """Playback streams open on the sound server right now."""
    out = subprocess.run(
        ["pactl", "list", "short", "sink-inputs"], capture_output=True, text=True, timeout=10
    )
    return len(out.stdout.splitlines())


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.parametrize("driver", [LIBESPEAK, "espeak"])
def test_speak_direct_plays_on_the_sound_server(pulse: Path, driver: str) -> None:
    # The null sink's monitor is unreliable on loaded machines (streams run
    # slow), so this checks the stream the engine opens while it speaks.
    seen = []
    t = threading.Thread(target=speak_direct, args=("Hello there.",), kwargs={"driver": driver})
    t.start()
    while t.is_alive():
        seen.append(playback_streams())
        time.sleep(0.05)
    assert max(seen) >= 1, "the engine never played to the speaker"
    assert playback_streams() == 0


def test_close_stops_speech_at_once(pulse: Path) -> None:
    s = Synthesizer()
    s.start()
    errors: list[Exception] = []

    def talk() -> None:
        try:
            s.speak(" ".join([SENTENCE] * 20), timeout=60)
        except TtsError as exc:
            errors.append(exc)

    t = threading.Thread(target=talk)
    try:
        t.start()
        assert wait_for(lambda: playback_streams() >= 1, 15), "speech never started"
    finally:
        pid = s.pid
        t0 = time.monotonic()
        s.close()
        t.join(10)
    assert not t.is_alive() and time.monotonic() - t0 < 5
    assert errors and "closed" in str(errors[0])
    assert pid is not None
    leftovers = [p for p in psutil.process_iter() if _alive_in_group(p, pid)]
    assert leftovers == [], "a player outlived the worker"
    assert wait_for(lambda: playback_streams() == 0, 2), "speech went on after close()"


def _finished(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _alive_in_group(p: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False
