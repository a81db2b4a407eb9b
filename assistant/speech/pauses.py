"""The silence around each spoken clause.

eSpeak NG ends every clip with about 284 ms of silence and may begin one with
up to ~50 ms. Between two clauses cut mid-sentence (the first clause is cut
after a few words so the reply starts sooner) that made a 300 ms hole in the
middle of a sentence, and the leading silence of a reply's first clause was
pure turn gap. Each clip keeps a pause that suits where its text stops.
"""

from __future__ import annotations

import numpy as np

AUDIBLE = 64
"""|sample| from which a sample is sound (about -54 dBFS; the player's onset threshold)."""
LEAD_KEEP_S = 0.005
TAIL_KEEP_S = {"sentence": 0.25, "clause": 0.12, "cut": 0.03}
"""Silence kept after the last sound: after . ! ? or :, after , or ; and after
a clause cut inside a sentence (the next words follow as if never cut)."""


def ending(text: str) -> str:
    """Which pause the text's last character calls for."""
    last = text.rstrip().rstrip("\"')]»”’")[-1:]
    if last in ".!?:…":
        return "sentence"
    if last in ",;—–-":
        return "clause"
    return "cut"


def fit_pauses(samples: np.ndarray, rate: int, text: str) -> np.ndarray:
    """`samples` with its leading silence cut to LEAD_KEEP_S and its trailing
    silence to the pause its text ends with. A clip with no sound is returned
    unchanged."""
    sound = np.flatnonzero(np.abs(samples.astype(np.int32)) >= AUDIBLE)
    if sound.size == 0:
        return samples
    start = max(0, int(sound[0]) - int(LEAD_KEEP_S * rate))
    end = min(len(samples), int(sound[-1]) + 1 + int(TAIL_KEEP_S[ending(text)] * rate))
    return samples[start:end]
