"""Tools in the voice loop: a timer set by voice is announced by voice when
it fires (flite speech -> pocketsphinx -> rule -> set_timer -> eSpeak NG)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

PARLEY = [sys.executable, "-m", "assistant.cli"]


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )


def seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_a_spoken_timer_is_announced_by_voice(parley_home: Path, tmp_path: Path) -> None:
    raw, clip = tmp_path / "raw.wav", tmp_path / "timer.wav"
    # pocketsphinx hears this phrase reliably from flite's voices; 5 s of
    # silence after it keeps the loop running (real time) while the timer runs.
    subprocess.run(
        ["flite", "-voice", "slt", "-t", "remind me in two seconds", "-o", str(raw)], check=True
    )
    subprocess.run(["sox", str(raw), "-r", "16000", str(clip), "pad", "0.5", "5"], check=True)
    spoken = tmp_path / "spoken.wav"
    out = run(
        ["listen", "--wav", str(clip), "--speak-to", str(spoken), "--json", "--no-llm"], parley_home
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    replies = [e["text"] for e in events if e["type"] == "reply_done"]
    assert replies == ["Timer set for 2 seconds."]
    notices = [e for e in events if e["type"] == "notice" and e["code"] == "timer"]
    assert [n["message"] for n in notices] == ["Your timer for 2 seconds is done."]
    # Both were spoken: the file holds more than the reply alone.
    alone = tmp_path / "alone.wav"
    assert run(["say", "--to", str(alone), "Timer set for 2 seconds."], parley_home).returncode == 0
    assert seconds(spoken) > seconds(alone) + 1.0
