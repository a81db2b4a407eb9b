"""Tools in the voice loop: a timer set by voice is announced by voice when
it fires (natural speech from `assistant.bench.voices` -> the default recogniser
-> rule -> set_timer -> eSpeak NG), and a spoken yes or no decides a
consequential request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.bench.voices import RATE, speak, write_wav

PARLEY = [sys.executable, "-m", "assistant.cli"]


def run(
    args: list[str], home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PARLEY_HOME": str(home), **(env or {})},
    )


def speech(tmp_path: Path, *phrases: str, after_s: float = 2.5) -> Path:
    """The natural voice joe saying each phrase, after 0.5 s of silence and
    followed by `after_s` of it."""
    parts = []
    for text in phrases:
        parts += [np.zeros(round(0.5 * RATE), np.int16), speak(text, "joe")]
        parts.append(np.zeros(round(after_s * RATE), np.int16))
    return write_wav(tmp_path / "speech.wav", np.concatenate(parts))


def seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_a_spoken_timer_is_announced_by_voice(parley_home: Path, tmp_path: Path) -> None:
    # 5 s of silence after the request keeps the loop running (real time)
    # while the timer runs.
    clip = speech(tmp_path, "remind me in two seconds", after_s=5.0)
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


@pytest.mark.parametrize(("answer", "runs"), [("yes please", True), ("no thank you", False)])
def test_a_spoken_yes_or_no_decides(
    parley_home: Path, tmp_path: Path, answer: str, runs: bool
) -> None:
    ran = tmp_path / "ran"
    apps = tmp_path / "xdg" / "applications"
    apps.mkdir(parents=True)
    (apps / "calculator.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Calculator\nExec=touch {ran}\n"
    )
    # "open", not "launch": Moonshine hears joe's "launch the" as "launched the".
    clip = speech(tmp_path, "open the calculator", answer)
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_DATA_DIRS": str(tmp_path / "none")}
    out = run(["listen", "--wav", str(clip), "--no-speak", "--json", "--no-llm"], parley_home, env)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    heard = [e["text"] for e in events if e["type"] == "user_turn"]
    assert heard[1] == answer, heard
    requests = [e for e in events if e["type"] == "tool_request"]
    assert [r["description"] for r in requests] == ["open the application Calculator"]
    replies = [e["text"] for e in events if e["type"] == "reply_done"]
    assert replies[0] == "I'll open the application Calculator. Shall I? Say yes or no."
    if runs:
        assert replies[1] == "Opened Calculator."
        deadline = time.monotonic() + 10
        while not ran.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ran.exists()
    else:
        assert replies[1] == "Okay, I won't open the application Calculator."
        time.sleep(0.5)
        assert not ran.exists()


def test_no_answer_to_a_question_is_said_aloud(parley_home: Path, tmp_path: Path) -> None:
    (parley_home / "config.toml").write_text("confirm_timeout_s = 1.0\n")
    apps = tmp_path / "xdg" / "applications"
    apps.mkdir(parents=True)
    (apps / "calculator.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Calculator\nExec=touch {tmp_path / 'ran'}\n"
    )
    clip = speech(tmp_path, "open the calculator")  # then 2.5 s of silence: no answer
    spoken = tmp_path / "spoken.wav"
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "XDG_DATA_DIRS": str(tmp_path / "none")}
    out = run(
        ["listen", "--wav", str(clip), "--speak-to", str(spoken), "--json", "--no-llm"],
        parley_home, env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    (question,) = [e["text"] for e in events if e["type"] == "reply_done"]
    (timeout,) = [e for e in events if e["type"] == "notice" and e["code"] == "confirm_timeout"]
    assert timeout["message"].startswith("No answer, so I didn't")
    assert not (tmp_path / "ran").exists()
    alone = tmp_path / "alone.wav"
    assert run(["say", "--to", str(alone), question], parley_home).returncode == 0
    assert seconds(spoken) > seconds(alone) + 1.0  # the question and the "no answer"


def test_a_timer_missed_while_closed_is_said_when_the_voice_loop_starts(
    parley_home: Path, tmp_path: Path
) -> None:
    assert run(["chat", "--once", "set a timer for 1 second"], parley_home).returncode == 0
    time.sleep(1.5)  # it goes off while no Parley runs
    quiet = tmp_path / "quiet.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(quiet),
                    "trim", "0", "4"], check=True)  # fmt: skip
    spoken = tmp_path / "spoken.wav"
    out = run(
        ["listen", "--wav", str(quiet), "--speak-to", str(spoken), "--json", "--no-llm"],
        parley_home,
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert not [e for e in events if e["type"] == "user_turn"]  # only silence was heard
    notices = [e["message"] for e in events if e["type"] == "notice" and e["code"] == "timer"]
    announced = [m for m in notices if m.startswith("While Parley was closed")]
    # Shown (on stdout here, or stderr when it came before the loop) and heard.
    assert announced or "While Parley was closed" in out.stderr
    assert spoken.exists() and seconds(spoken) > 1.5
