"""Where a talker's voice really stops.

Silero's recurrent state keeps saying "speech" for a while after the voice has
stopped: on the flite questions of the turn-gap bench its last speech frame
ends 85-140 ms after the true end of speech. Every turn waited that long before
its hangover even began. `TailTrim` overrules the model on frames far quieter
than the current utterance's own speech level, so the hangover counts from the
real end.

The reference is the utterance's own level (the 75th percentile of its speech
frames), never a level carried over from earlier speech: a quieter talker, or
one further from the microphone, starts an utterance exactly as before.
"""

from __future__ import annotations

import numpy as np

from assistant.audio.format import dbfs


class TailTrim:
    """`drop_db`: how far below the utterance's speech level a frame counts as
    silence. `min_frames`: speech frames needed before the level is trusted."""

    def __init__(self, drop_db: float = 25.0, min_frames: int = 5, history: int = 100) -> None:
        self.drop_db = drop_db
        self.min_frames = min_frames
        self.history = history
        self._levels: list[float] = []
        self._reference = 0.0
        self.trimmed = 0
        """Frames the model called speech that were counted as silence."""

    def start_utterance(self) -> None:
        self._levels.clear()

    def __call__(self, frame: np.ndarray, is_speech: bool) -> bool:
        if not is_speech:
            return False
        level = dbfs(frame)
        if len(self._levels) >= self.min_frames and level < self._reference - self.drop_db:
            self.trimmed += 1
            return False
        self._levels.append(level)
        if len(self._levels) > self.history:
            del self._levels[0]
        if len(self._levels) >= self.min_frames:
            self._reference = float(np.percentile(self._levels, 75))
        return True
