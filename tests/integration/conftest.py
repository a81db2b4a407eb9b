"""Fixtures for integration tests that need real audio devices."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from typing import Any

import pytest

from assistant.audio.virtual import PulseServer, missing_tools


@pytest.fixture(autouse=True)
def _same_kaldi_dither() -> None:
    """Kaldi (inside Vosk) dithers audio with libc's rand(): without a fixed seed
    a marginal decision (a wake phrase at an odd pitch) depends on how much
    audio the process decoded before, i.e. on which tests ran first."""
    ctypes.CDLL(None).srand(0)


@pytest.fixture(scope="session")
def pulse_server() -> Iterator[PulseServer]:
    """A PulseAudio server with a virtual speaker ``spk`` (record it with
    `record_speaker`) and microphone ``mic`` (feed it with `play_into_mic`),
    started once per session and stopped at the end.

    While it runs, this process's environment points at it (PULSE_SERVER,
    PULSE_SINK, PULSE_SOURCE, XDG_RUNTIME_DIR) and PortAudio has re-scanned its
    devices, so sounddevice sees the ``pulse`` device and child processes inherit
    the server.
    """
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (Debian: pulseaudio, pulseaudio-utils)")
    server = PulseServer()
    saved: dict[str, str | None] = {}
    try:
        server.start()
        for key, value in server.env().items():
            saved[key] = os.environ.get(key)
            os.environ[key] = value
        _rescan()
        yield server
    finally:
        server.stop()
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        _rescan()


def _rescan() -> None:
    from assistant.audio import devices

    devices.refresh()


@pytest.fixture(scope="session")
def synth() -> Iterator[Any]:
    """The real TTS worker (eSpeak NG on Linux), started once per session."""
    from assistant.speech.tts import Synthesizer, TtsError

    s = Synthesizer()
    try:
        s.start()
    except TtsError as e:
        pytest.skip(f"no TTS engine here: {e}")
    yield s
    s.close()
