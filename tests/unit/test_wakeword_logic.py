"""Wake word logic without engines: transcript stripping, the pre-roll buffer, the
VAD gate (scripted VAD decisions and a scripted spotter), grammar support checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.speech.vad import FRAME_SAMPLES
from assistant.speech.wake_eval import format_table
from assistant.speech.wakeword import (
    GatedSpotter,
    PreRoll,
    WakeHit,
    WakeWordError,
    phrase_words,
    strip_wake_phrase,
    supports_grammar,
)


@pytest.mark.parametrize(
    ("text", "phrase", "expected"),
    [
        ("hey parley what time is it", "hey parley", "what time is it"),
        ("Hey, Parley! What time is it?", "hey parley", "What time is it?"),
        ("hey parly set a timer", "hey parley", "set a timer"),
        ("a parley set a timer", "hey parley", "set a timer"),
        ("hey pearly open notes", "hey parley", "open notes"),
        ("hey parlay stop", "hey parley", "stop"),
        ("hay barley, stop", "hey parley", "stop"),
        ("hey par lee what's up", "hey parley", "what's up"),
        ("parley what time is it", "hey parley", "what time is it"),
        ("hey parley", "hey parley", ""),
        ("Hey parley.", "hey parley", ""),
        ("hey charlie what time is it", "hey parley", None),
        ("hey party tonight", "hey parley", None),
        ("what time is it", "hey parley", None),
        ("hey what time is it", "hey parley", None),
        ("the parley began at noon", "hey parley", None),
        ("", "hey parley", None),
        ("computer lights off", "computer", "lights off"),
        ("오케이 파리 지금 몇 시야", "오케이 파리", "지금 몇 시야"),
        ("안녕하세요 파리", "오케이 파리", None),
    ],
)
def test_strip_wake_phrase(text: str, phrase: str, expected: str | None) -> None:
    assert strip_wake_phrase(text, phrase) == expected


def test_phrase_words_normalises_and_rejects_empty() -> None:
    assert phrase_words("Hey, Parley!") == ["hey", "parley"]
    with pytest.raises(WakeWordError, match="no words"):
        phrase_words(" ?! ")


def test_pre_roll_keeps_the_latest_samples_in_order() -> None:
    pre = PreRoll(seconds=0.1)  # 1600 samples
    for i in range(10):
        pre.push(np.full(480, i, np.int16))
    assert len(pre) == 1600
    out = pre.drain()
    assert len(out) == 1600
    # 1600 = the last three frames whole and 160 samples of the one before.
    assert out[0] == 6 and (out[:160] == 6).all() and (out[-480:] == 9).all()
    assert np.all(np.diff(out) >= 0)
    assert len(pre) == 0 and len(pre.drain()) == 0


class _ScriptedVad:
    frame_samples = FRAME_SAMPLES

    def __init__(self, decisions: list[bool]) -> None:
        self.decisions = iter(decisions)

    def is_speech(self, frame: np.ndarray) -> bool:
        return next(self.decisions)

    def reset(self) -> None:
        pass


class _ScriptedSpotter:
    """Records what it hears; fires once it has heard `fire_after` samples."""

    phrase = "hey parley"
    engine = "fake"

    def __init__(self, fire_after: int | None = None, end_sample: int = 0) -> None:
        self.fire_after = fire_after
        self.end_sample = end_sample
        self.heard: list[np.ndarray] = []  # since the last reset
        self.ever_heard: list[np.ndarray] = []
        self.resets = 0

    def accept(self, samples: np.ndarray) -> WakeHit | None:
        self.heard.append(samples)
        self.ever_heard.append(samples)
        fed = sum(len(s) for s in self.heard)
        if self.fire_after is not None and fed >= self.fire_after:
            self.fire_after = None
            return WakeHit(self.phrase, self.end_sample, 0.9)
        return None

    def reset(self) -> None:
        self.heard = []
        self.resets += 1


def _stream(n_frames: int) -> list[np.ndarray]:
    # Frame i holds the value i, so what the spotter heard tells which frames it got.
    return [np.full(FRAME_SAMPLES, i, np.int16) for i in range(n_frames)]


def test_gate_feeds_only_pre_roll_and_speech_then_resets() -> None:
    speech = [False] * 20 + [True] * 10 + [False] * 30
    spotter = _ScriptedSpotter()
    gate = GatedSpotter(spotter, _ScriptedVad(speech), pre_roll_s=0.09)  # 3 frames
    for frame in _stream(len(speech)):
        assert gate.process(frame) is None
    frames = np.unique(np.concatenate(spotter.ever_heard))
    # SPEECH_START comes on the 2nd speech frame (start_s 0.06): frames 19..21 are
    # the pre-roll, then every frame up to SPEECH_END, which the 20th frame of
    # silence (the 0.6 s hangover) brings: frame 49.
    assert np.array_equal(frames, np.arange(19, 50))
    assert spotter.resets == 1 and not gate.active
    assert gate.spotted_samples == len(frames) * FRAME_SAMPLES < gate.stream_samples


def test_gate_maps_a_hit_to_stream_samples_and_returns_the_remainder() -> None:
    speech = [False] * 10 + [True] * 40
    # Fires after pre-roll (3 frames) + 5 frames; the phrase ended 4 frames into what it heard.
    spotter = _ScriptedSpotter(fire_after=8 * FRAME_SAMPLES, end_sample=4 * FRAME_SAMPLES)
    gate = GatedSpotter(spotter, _ScriptedVad(speech), pre_roll_s=0.09)
    frames = iter(_stream(len(speech)))
    wake = next(w for f in frames if (w := gate.process(f)) is not None)
    first_heard = 11 - 2  # SPEECH_START on frame 11; pre-roll frames 9, 10, 11
    assert wake.hit.end_sample == (first_heard + 4) * FRAME_SAMPLES
    assert wake.hit.phrase == "hey parley" and wake.hit.score == 0.9
    # The remainder is what the gate had fed after the phrase: frames 13..16.
    assert np.array_equal(np.unique(wake.remainder), [13, 14, 15, 16])
    assert len(wake.remainder) == 4 * FRAME_SAMPLES
    assert spotter.resets == 1 and not gate.active
    # The gate starts over: speech goes on, so a new segment opens two frames later.
    assert [gate.process(f) for f in [next(frames), next(frames)]] == [None, None]
    assert gate.active and spotter.heard


def test_supports_grammar_needs_a_lookahead_graph(tmp_path: Path) -> None:
    model = tmp_path / "vosk-model-small-xx"
    (model / "graph").mkdir(parents=True)
    (model / "graph/HCLG.fst").write_bytes(b"")
    assert not supports_grammar(model)
    for name in ("HCLr.fst", "Gr.fst"):
        (model / "graph" / name).write_bytes(b"")
    assert supports_grammar(model)


def test_format_table_lists_every_threshold_and_the_best() -> None:
    result = {
        "phrase": "hey parley",
        "language": "en",
        "engine": "pocketsphinx",
        "model": "pocketsphinx en-us",
        "vad": "auto",
        "clips": {"positive": 4, "librivox": 5},
        "stream_seconds": 40.0,
        "rows": [
            {
                "threshold": t,
                "sets": {
                    "positive": {"clips": 4, "woke": d, "hits": d + extra},
                    "librivox": {"clips": 5, "woke": f, "hits": f},
                },
                "false_wakes": f,
                "detected": d,
                "end_error_ms": {"median": -20.0, "min": -40.0, "max": 10.0} if d else None,
            }
            for t, d, f, extra in ((1e-20, 2, 0, 0), (1e-40, 4, 1, 1))
        ],
        "best": 1e-20,
        "cpu": {
            "vad_s_per_audio_s": 0.01,
            "spotter_s_per_speech_s": 0.04,
            "gated_spotter_s_per_audio_s": 0.02,
        },
    }
    table = format_table(result)
    assert "1e-20" in table and "1e-40" in table
    assert "4/4  +1" in table.replace("   ", "  ")
    assert "best threshold (no false wake, most detections): 1e-20" in table
    assert "-20 (-40..+10)" in table
