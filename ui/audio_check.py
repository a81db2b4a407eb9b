"""Device checks for the settings dialog and the onboarding: a live microphone
level, a test tone and a voice preview. Each runs on its own thread (opening a
device or starting a voice can take a second) and leaves its outcome in plain
attributes the GUI reads on a timer: no Qt call ever happens off the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class MicCheck:
    """Reads the microphone for up to `seconds`; `level_dbfs` follows it."""

    def __init__(
        self, device: str = "", seconds: float = 15.0, opener: Callable[[str], Any] | None = None
    ) -> None:
        self.device = device
        self.seconds = seconds
        self.opener = opener
        """Opens the source for `device`; MicSource unless the app opens its
        microphone another way (the controller's source factory)."""
        self.missing = False
        """No microphone at all (NoInputDevice), as against one that fails."""
        self.level_dbfs = -90.0
        self.peak_dbfs = -90.0
        self.error = ""
        self.device_name = ""
        self.done = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mic-check", daemon=True)

    def start(self) -> MicCheck:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        import time

        from assistant.audio.capture import MicSource, NoInputDevice

        try:
            mic = self.opener(self.device) if self.opener else MicSource(self.device)
            mic.start()
        except Exception as e:  # NoInputDevice and PortAudio errors alike
            self.missing = isinstance(e, NoInputDevice)
            self.error = str(e) or type(e).__name__
            self.done.set()
            return
        self.device_name = str(getattr(mic, "device_name", ""))
        end = time.monotonic() + self.seconds
        try:
            while not self._stop.is_set() and time.monotonic() < end:
                frame = mic.read(0.1)
                if frame is not None:
                    self.level_dbfs = float(mic.level_dbfs)
                    self.peak_dbfs = max(self.peak_dbfs, self.level_dbfs)
        except Exception as e:
            self.error = str(e) or type(e).__name__
        finally:
            mic.stop()
            self.done.set()


def tone(seconds: float = 0.6, hz: float = 660.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.02)  # no clicks
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * t) * fade).astype(np.int16)


class SoundCheck:
    """Plays a test tone, or `text` in the chosen voice, on an output device."""

    def __init__(self, device: str = "", text: str = "", voice: Any = None) -> None:
        self.device = device
        self.text = text
        self.voice = voice  # (tts_voice, tts_rate, tts_volume) for a preview
        self.error = ""
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sound-check", daemon=True)

    def start(self) -> SoundCheck:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            samples, rate = tone(), 16000
            if self.text:
                from assistant.speech.tts import Synthesizer

                name, wpm, volume = self.voice or ("", 180, 1.0)
                with Synthesizer(name, wpm, volume) as synth:
                    s = synth.synthesize(self.text)
                samples, rate = s.samples, s.sample_rate
            from assistant.audio.playback import Player

            with Player(self.device) as player:
                player.play(samples, rate)
                player.wait_done(timeout=15)
        except Exception as e:  # no device, no voice: the dialog shows why
            self.error = str(e) or type(e).__name__
        finally:
            self.done.set()
