"""Alarms by voice, through the whole loop: Piper's natural voice joe ->
the default recogniser -> the rule parser -> the real timer store. The label
is only what was said; cancelling asks which one, and the spoken answer
("the seven thirty one") is understood, not sent to a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from assistant.bench.voices import RATE, speak, write_wav


def test_alarms_set_and_cancelled_by_voice(parley_home: Path, tmp_path: Path) -> None:
    phrases = [
        "set an alarm for seven thirty tomorrow",
        "set an alarm for nine in the evening",
        "cancel my alarm",
        "the seven thirty one",
    ]
    parts = []
    for text in phrases:
        parts += [np.zeros(round(0.5 * RATE), np.int16), speak(text, "joe")]
        parts.append(np.zeros(round(2.5 * RATE), np.int16))
    clip = write_wav(tmp_path / "speech.wav", np.concatenate(parts))
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "listen", "--wav", str(clip), "--no-speak",
         "--json", "--no-llm"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PARLEY_HOME": str(parley_home)},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    heard = [e["text"] for e in events if e["type"] == "user_turn"]
    replies = [e["text"] for e in events if e["type"] == "reply_done"]
    assert len(replies) == 4, (heard, replies)
    assert replies[0] == "Alarm set for 7:30 AM tomorrow.", heard
    assert replies[1].startswith("Alarm set for 9:00 PM ") and ":" not in replies[1][-12:]
    assert replies[2].endswith("Which one should I cancel?"), heard[2]
    assert replies[3] == "Cancelled the alarm at 7:30 AM.", heard[3]
