"""The whole voice loop on files: natural speech (the Piper voice joe, from
`assistant.bench.voices`) -> VAD -> the default recogniser (Moonshine) ->
rule/LLM -> eSpeak NG -> a WAV file, through `parley listen --wav ... --speak-to ...`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from assistant.bench.voices import render

PARLEY = [sys.executable, "-m", "assistant.cli"]


def speech(text: str, out: Path, voice: str = "joe", pad: tuple[float, float] = (0.5, 1.5)) -> Path:
    """`text` spoken by `voice`, with `pad` seconds of silence before and after."""
    return render(text, voice, out, lead_s=pad[0], pad_s=pad[1])


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("speech")
    time_q = speech("what time is it", d / "time.wav")
    capital = speech("what is the capital of france", d / "capital.wav")
    both = d / "both.wav"
    subprocess.run(["sox", str(time_q), str(capital), str(both)], check=True)
    return {"time": time_q, "capital": capital, "both": both}


def run(args: list[str], home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_two_spoken_turns_through_the_loop(
    parley_home: Path, gguf_path: Path, clips: dict[str, Path], tmp_path: Path
) -> None:
    (parley_home / "config.toml").write_text(f'llm_model = "{gguf_path}"\nmax_tokens = 24\n')
    answer = tmp_path / "answer.wav"
    out = run(
        ["listen", "--wav", str(clips["both"]), "--speak-to", str(answer), "--json"], parley_home
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0]["type"] == "state"  # ready to hear
    heard = [e["text"] for e in events if e["type"] == "user_turn"]
    assert heard == ["what time is it", "what is the capital of france"]
    replies = [e for e in events if e["type"] == "reply_done"]
    assert [r["source"] for r in replies] == ["rule", "llm"]
    assert replies[0]["text"].startswith("It's ")
    assert any(e["type"] == "partial" for e in events)
    latencies = [e for e in events if e["type"] == "latency"]
    assert len(latencies) == 2
    for lat in latencies:
        stages = lat["stages_ms"]
        assert {"endpoint", "stt_final", "first_clause", "tts_ready", "first_sample"} <= set(stages)
        # A reply prepared during the pause is let out when the turn ends, before
        # the recogniser's final (docs/ARCHITECTURE.md, Turn-taking): both follow
        # the end of the turn, in either order.
        assert stages["endpoint"] <= stages["stt_final"]
        assert stages["endpoint"] <= stages["first_sample"]
    # Both replies were spoken into the file.
    assert wav_seconds(answer) > 1.5
    # And stored, with the speech timings, in history.
    hist = json.loads(run(["history", "export", "1", "--format", "json"], parley_home).stdout)
    assert [t["role"] for t in hist["turns"]] == ["user", "assistant"] * 2
    assert "first_sample" in hist["turns"][1]["timings"]


def test_transcribe_command(parley_home: Path, clips: dict[str, Path]) -> None:
    out = run(["transcribe", str(clips["capital"])], parley_home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "what is the capital of france"


def test_say_to_file(parley_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "hello.wav"
    out = run(["say", "Hello there, this is Parley.", "--to", str(target)], parley_home)
    assert out.returncode == 0, out.stderr
    assert 1.0 < wav_seconds(target) < 4.0


def test_missing_wav_is_a_clear_message(parley_home: Path, tmp_path: Path) -> None:
    for cmd in (["listen", "--wav"], ["transcribe"]):
        out = run([*cmd, str(tmp_path / "nope.wav")], parley_home)
        assert out.returncode == 1
        assert "no such file" in out.stderr and "Traceback" not in out.stderr


def test_wake_word_and_follow_up_window(parley_home: Path, tmp_path: Path) -> None:
    (parley_home / "config.toml").write_text("use_llm = false\nfollow_up_s = 4.0\n")
    d = tmp_path
    parts = [
        speech("what is one plus one", d / "a.wav", pad=(0.3, 1.0)),  # no wake: ignored
        speech("hey parley what time is it", d / "b.wav", pad=(0.3, 1.0)),
        # (Moonshine hears joe's "two plus two" as "too plus to" about half the time.)
        speech("what is six plus two", d / "c.wav", pad=(0.3, 6.0)),  # inside follow-up
        speech("what is three plus three", d / "e.wav", pad=(0.3, 1.0)),  # after it
    ]
    session = d / "session.wav"
    subprocess.run(["sox", *map(str, parts), str(session)], check=True)
    out = run(["listen", "--wav", str(session), "--wake", "--no-speak", "--json"], parley_home)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    heard = [e["text"] for e in events if e["type"] == "user_turn"]
    # Two turns: the wake-word one and the follow-up; not the first (no wake
    # phrase) nor the last (after the window). The sum's opening words are not
    # what this tests (Moonshine heard "what a six plus two" once in ~10 runs
    # under load); the operands are.
    assert len(heard) == 2, heard
    assert heard[0] == "what time is it"
    assert heard[1].endswith("six plus two"), heard
    replies = [e["text"] for e in events if e["type"] == "reply_done"]
    assert replies[1] == "6 plus 2 is 8."


def test_clauses_follow_each_other_without_holes(parley_home: Path, tmp_path: Path) -> None:
    """The help answer is spoken as several clauses, the first cut after a few
    words. eSpeak NG ends each clip with ~284 ms of silence; inside a sentence
    only a short pause may remain, after a sentence a natural one."""
    import numpy as np

    question = speech("what can you do", tmp_path / "q.wav")
    answer = tmp_path / "a.wav"
    out = run(["listen", "--open-mic", "--wav", str(question), "--speak-to", str(answer)],
              parley_home)  # fmt: skip
    assert out.returncode == 0, out.stderr
    with wave.open(str(answer)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    sound = np.flatnonzero(np.abs(samples.astype(int)) >= 64)
    holes = np.diff(sound) / rate
    pauses = holes[holes > 0.04]
    assert pauses.size >= 5  # several clauses and sentences were spoken
    assert pauses.max() < 0.27, f"pauses (s): {np.round(pauses, 3)}"
