"""The pause each clause ends with, and the silence cut from its start."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.speech.pauses import TAIL_KEEP_S, ending, fit_pauses

RATE = 22050


def clip(lead_s: float, sound_s: float, tail_s: float) -> np.ndarray:
    n = int(sound_s * RATE)
    sound = (3000 * np.sin(np.arange(n) * 2 * np.pi * 200 / RATE)).astype(np.int16)
    sound[0] = sound[-1] = 3000  # sound right up to both edges
    return np.concatenate(
        [np.zeros(int(lead_s * RATE), np.int16), sound, np.zeros(int(tail_s * RATE), np.int16)]
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("The capital of France is Paris.", "sentence"),
        ("Really?", "sentence"),
        ('He said "stop."', "sentence"),
        ("Here is the plan:", "sentence"),
        ("First of all,", "clause"),
        ("The capital of", "cut"),
        ("It is 3.5", "cut"),
    ],
)
def test_the_pause_follows_the_text(text: str, kind: str) -> None:
    assert ending(text) == kind


def test_a_cut_clause_keeps_almost_no_tail_and_a_sentence_keeps_a_pause() -> None:
    raw = clip(0.05, 1.0, 0.284)  # what eSpeak NG hands back
    cut = fit_pauses(raw, RATE, "The capital of")
    sentence = fit_pauses(raw, RATE, "The capital of France is Paris.")
    assert len(cut) / RATE == pytest.approx(0.005 + 1.0 + TAIL_KEEP_S["cut"], abs=0.002)
    assert len(sentence) / RATE == pytest.approx(0.005 + 1.0 + TAIL_KEEP_S["sentence"], abs=0.002)
    # Nothing audible is lost.
    assert np.abs(cut.astype(int)).sum() == np.abs(raw.astype(int)).sum()


def test_quiet_but_audible_edges_are_kept() -> None:
    raw = clip(0.0, 0.5, 0.0)
    raw = np.concatenate([np.full(100, 80, np.int16), raw, np.full(100, -70, np.int16)])
    out = fit_pauses(raw, RATE, "Hello.")
    assert out[0] == 80 and out[-1] == -70 and len(out) == len(raw)


def test_a_silent_clip_is_left_alone() -> None:
    raw = np.zeros(1000, np.int16)
    assert fit_pauses(raw, RATE, "Hmm.") is raw
