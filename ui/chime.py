"""A short two-note chime for a finished timer, made with numpy at run time
(no sound file to ship or license). Played on its own thread: opening an
output stream can take a moment, and the window must not wait."""

from __future__ import annotations

import logging
import threading

import numpy as np

log = logging.getLogger(__name__)

RATE = 44100


def chime(rate: int = RATE) -> np.ndarray:
    """Two soft bell notes (E6 then C6), float32 mono in -1..1, about 0.9 s."""
    notes = []
    for freq, length in ((1318.5, 0.35), (1046.5, 0.55)):
        t = np.arange(int(rate * length)) / rate
        tone = np.sin(2 * np.pi * freq * t) + 0.3 * np.sin(2 * np.pi * 2 * freq * t)
        envelope = np.exp(-t * 6.0) * np.minimum(1.0, t / 0.005)  # soft attack, bell decay
        notes.append(tone * envelope)
    return (0.35 * np.concatenate(notes)).astype(np.float32)


def play_chime(device: str = "") -> threading.Thread:
    """Play the chime on `device` (the speaker setting) without blocking.
    No speaker, or no sound library: logged, and the other signs remain."""

    def run() -> None:
        try:
            import sounddevice as sd

            from assistant.audio.devices import find_output

            sd.play(chime(), RATE, device=find_output(device), blocking=True)
        except Exception as e:  # a missing speaker must not break the notification
            log.info("timer chime not played: %s", e)

    thread = threading.Thread(target=run, name="chime", daemon=True)
    thread.start()
    return thread
