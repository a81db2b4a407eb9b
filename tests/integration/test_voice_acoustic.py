"""The voice loop through real sound devices: a PulseAudio server with a virtual
microphone and speaker, `parley listen` as a separate process, speech played
into the microphone and Parley's voice recorded from the speaker."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.audio.virtual import PulseServer, Recording
from assistant.bench.voices import render, render_parts

PARLEY = [sys.executable, "-m", "assistant.cli"]
LOUD = 300


def speech(text: str, out: Path) -> Path:
    """`text` in the natural voice joe, 0.3 s of silence after it."""
    return render(text, "joe", out, pad_s=0.3)


class Listener:
    """`parley listen --json` in the background, its events on a queue."""

    def __init__(self, home: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [*PARLEY, "listen", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "PARLEY_HOME": str(home)},
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait_for(self, pred: Any, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.events.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, self.proc.stderr.read()  # type: ignore[union-attr]
                continue
            self.seen.append(e)
            if pred(e):
                return e
        raise AssertionError(f"timed out; saw {self.seen}")

    def watch(self, seconds: float) -> list[dict[str, Any]]:
        """Every event of the next `seconds`: a window in which something must
        not happen (nothing says it will not), its events kept in `seen`."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                e = self.events.get(timeout=min(left, 0.2))
            except queue.Empty:
                assert self.proc.poll() is None, self.proc.stderr.read()  # type: ignore[union-attr]
                continue
            self.seen.append(e)
            got.append(e)
        return got

    def close(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `cond` every 50 ms until it holds; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _channel(rec: Recording, channel: int) -> np.ndarray:
    audio = rec.so_far()
    return np.abs((audio if audio.ndim == 1 else audio[:, channel]).astype(int))


def wait_until_heard_out(rec: Recording, channel: int = 0, quiet_s: float = 0.3) -> None:
    """Wait until Parley's last sound is in the recording: `quiet_s` more
    recorded from now, silent at its end. The event that says a reply was
    played comes before the sound server's buffers have drained."""
    need = round(quiet_s * rec.rate)
    start = len(rec.so_far())

    def over() -> bool:
        audio = _channel(rec, channel)
        return len(audio) - start >= need and not (audio[-need:] > LOUD).any()

    until(over, "Parley's voice to end in the recording")


def wait_until_talking(rec: Recording, seconds: float, channel: int = 0) -> None:
    """Wait until the recording holds `seconds` since Parley's first sound."""

    def talked() -> bool:
        audio = _channel(rec, channel)
        loud = np.flatnonzero(audio > LOUD)
        return loud.size > 0 and len(audio) - int(loud[0]) >= seconds * rec.rate

    until(talked, f"{seconds} s of Parley's voice in the recording")


def samples(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return data, w.getframerate()


@pytest.fixture
def voice_home(parley_home: Path, gguf_path: Path) -> Path:
    (parley_home / "config.toml").write_text(
        f'llm_model = "{gguf_path}"\nmax_tokens = 120\ntemperature = 0.7\nfollow_up_s = 0.0\n'
    )
    return parley_home


def test_a_spoken_turn_end_to_end(
    pulse_server: PulseServer, voice_home: Path, tmp_path: Path
) -> None:
    question = speech("what is twelve times seven", tmp_path / "q.wav")
    parley = Listener(voice_home, pulse_server.child_env(), "--open-mic")
    try:
        parley.wait_for(lambda e: e["type"] == "state")  # ready to hear
        rec = pulse_server.record_speaker(tmp_path / "spk.wav")
        rec.wait_started()
        pulse_server.play_into_mic(question)
        turn = parley.wait_for(lambda e: e["type"] == "user_turn")
        done = parley.wait_for(lambda e: e["type"] == "reply_done")
        lat = parley.wait_for(lambda e: e["type"] == "latency")
        wait_until_heard_out(rec)
        rec.stop()
    finally:
        parley.close()
    assert turn["text"] == "what is twelve times seven"
    assert done["text"] == "12 times 7 is 84." and done["source"] == "rule"
    assert "first_sample" in lat["stages_ms"]
    audio, rate = samples(tmp_path / "spk.wav")
    loud = np.flatnonzero(np.abs(audio[:, 0].astype(int)) > LOUD)
    assert loud.size, "nothing was heard from the speaker"
    spoken = (loud[-1] - loud[0]) / rate
    assert 0.8 < spoken < 4.0  # "12 times 7 is 84." at 180 words per minute


def test_barge_in_stops_speech_and_becomes_the_next_turn(
    pulse_server: PulseServer, voice_home: Path, tmp_path: Path
) -> None:
    pulse_server.setup_turn_gap()  # question and reply on one clock (left = both, right = reply)
    # The help answer is long and deterministic (an LLM story may end after two words).
    story = speech("what can you do", tmp_path / "s.wav")
    # Not "two plus two": Moonshine hears joe's as "too plus to" about half the time.
    stop = speech("what is six plus two", tmp_path / "b.wav")
    parley = Listener(voice_home, pulse_server.child_env(), "--open-mic")
    try:
        parley.wait_for(lambda e: e["type"] == "state")
        pulse_server.play_question(story)
        parley.wait_for(lambda e: e["type"] == "state" and e["state"] == "speaking")
        rec = pulse_server.record_speaker(tmp_path / "both.wav", channels=2)
        rec.wait_started()
        wait_until_talking(rec, 0.6, channel=1)  # the user cuts in 0.6 s into the reply
        pulse_server.play_question(stop)
        interrupted = parley.wait_for(lambda e: e["type"] == "reply_done" and e["interrupted"])
        nxt = parley.wait_for(lambda e: e["type"] == "user_turn")
        answer = parley.wait_for(lambda e: e["type"] == "reply_done" and not e["interrupted"])
        parley.wait_for(lambda e: e["type"] == "latency" and e["turn_id"] == answer["turn_id"])
        wait_until_heard_out(rec, channel=1)  # the answer to the barge-in, recorded whole
        rec.stop()
    finally:
        parley.close()
    assert interrupted["source"] == "rule" and interrupted["text"].startswith("I can tell")
    assert nxt["text"] == "what is six plus two"
    hist = subprocess.run(
        [*PARLEY, "history", "export", "1", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PARLEY_HOME": str(voice_home)},
    )
    statuses = [(t["text"][:11], t["status"]) for t in json.loads(hist.stdout)["turns"]]
    assert ("I can tell ", "interrupted") in statuses
    # Left = the user's speech + Parley's reply, right = the reply only: the
    # user's speech is their difference.
    audio, rate = samples(tmp_path / "both.wav")
    user = np.abs(audio[:, 0].astype(int) - audio[:, 1].astype(int)) > LOUD
    reply = np.abs(audio[:, 1].astype(int)) > LOUD
    barge = int(np.flatnonzero(user)[0])
    # The reply's sound in runs split by silences > 200 ms; the interrupted one
    # is the last run that began before the user did. The two channels reach the
    # recording by different paths, so under load the user's onset can be
    # recorded a little after Parley already went quiet: a negative stop time.
    talking = np.flatnonzero(reply)
    breaks = np.flatnonzero(np.diff(talking) > rate // 5)
    starts = talking[np.r_[0, breaks + 1]]
    ends = talking[np.r_[breaks, talking.size - 1]]
    run = int(np.flatnonzero(starts < barge)[-1])
    stop_ms = (int(ends[run]) - barge) * 1000 / rate
    print(f"barge-in: reply silenced {stop_ms:.0f} ms after the user started speaking")
    assert -300 < stop_ms < 600  # it was still talking just before, and stopped soon
    assert run + 1 < starts.size  # the answer to the barge-in was heard after it


@pytest.mark.parametrize("headphones", [False, True], ids=["guard", "headphones-no-guard"])
def test_own_voice_is_not_a_turn(
    pulse_server: PulseServer, voice_home: Path, tmp_path: Path, headphones: bool
) -> None:
    if headphones:  # the control: without the guard the same echo does interrupt
        with (voice_home / "config.toml").open("a") as f:
            f.write("headphones = true\n")
    # The speaker is looped into the microphone, like laptop speakers and mic.
    loop = pulse_server.pactl(
        "load-module", "module-loopback", "source=spk.monitor", "sink=micfeed", "latency_msec=30"
    ).strip()
    question = speech("what can you do", tmp_path / "q.wav")  # a long, fixed answer
    parley = Listener(voice_home, pulse_server.child_env(), "--open-mic")
    try:
        parley.wait_for(lambda e: e["type"] == "state")
        pulse_server.play_into_mic(question)
        done = parley.wait_for(lambda e: e["type"] == "reply_done", timeout=120)
        # The answer was heard to its end (latency), or its own echo, heard as
        # the user going on, took the turn back (then no latency ever comes:
        # each answer is taken back by the echo of the one before).
        parley.wait_for(lambda e: e["type"] in ("latency", "turn_retracted"))
        parley.watch(1.5)  # any echo-triggered turn would start here
    finally:
        pulse_server.pactl("unload-module", loop)
        parley.close()
    while not parley.events.empty():
        parley.seen.append(parley.events.get())
    turns = [e for e in parley.seen if e["type"] == "user_turn"]
    cut = [e for e in parley.seen if e["type"] == "reply_done" and e["interrupted"]]
    taken_back = [e for e in parley.seen if e["type"] == "turn_retracted"]
    if headphones:
        assert cut or taken_back or len(turns) > 1, (
            "without the guard the echo should have been heard"
        )
        return
    assert not done["interrupted"]
    assert not cut, "Parley interrupted itself"
    assert not taken_back, f"its own voice took the turn back: {parley.seen}"
    assert len(turns) == 1, f"its own voice became a turn: {turns}"


def test_no_audio_server_is_a_clear_message(parley_home: Path, tmp_path: Path) -> None:
    conf = tmp_path / "asound.conf"
    conf.write_text("pcm.!default { type hw card 99 }\n")  # no ALSA device either
    env = {
        **os.environ,
        "PULSE_SERVER": "unix:/nonexistent",
        "ALSA_CONFIG_PATH": str(conf),
        "PARLEY_HOME": str(parley_home),
    }
    (parley_home / "config.toml").write_text("use_llm = false\n")
    out = subprocess.run([*PARLEY, "listen"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert "No microphone found" in out.stderr
    assert "Traceback" not in out.stderr


def test_parley_toggle_is_push_to_talk(
    pulse_server: PulseServer, voice_home: Path, tmp_path: Path
) -> None:
    """Wake-word mode; `parley toggle` (a desktop shortcut) opens the microphone."""
    question = speech("what is three plus four", tmp_path / "q.wav")
    env = pulse_server.child_env()
    parley = Listener(voice_home, env)  # the wake word is required
    toggle = [*PARLEY, "toggle"]
    try:
        parley.wait_for(lambda e: e["type"] == "state" and e["state"] == "idle")
        pulse_server.play_into_mic(question)  # no wake word: ignored
        # A turn would come within a second of the end of speech.
        assert not [e for e in parley.watch(1.0) if e["type"] == "user_turn"]
        out = subprocess.run(
            toggle,
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "PARLEY_HOME": str(voice_home)},
        )
        assert out.returncode == 0 and "listening" in out.stdout
        parley.wait_for(lambda e: e["type"] == "state" and e["state"] == "listening")
        pulse_server.play_into_mic(question)
        turn = parley.wait_for(lambda e: e["type"] == "user_turn")
        done = parley.wait_for(lambda e: e["type"] == "reply_done")
    finally:
        parley.close()
    assert turn["text"] == "what is three plus four"
    assert done["text"] == "3 plus 4 is 7."


def test_without_a_speech_engine_replies_are_text(parley_home: Path, tmp_path: Path) -> None:
    question = speech("what is three plus four", tmp_path / "q.wav")
    (parley_home / "config.toml").write_text("use_llm = false\n")
    env = {**os.environ, "PARLEY_HOME": str(parley_home), "PARLEY_TTS_DRIVER": "no-such-engine"}
    out = subprocess.run(
        [*PARLEY, "listen", "--wav", str(question), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    errors = [e for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["tts_unavailable"]  # said once, clearly
    assert "text only" in errors[0]["message"]
    assert [e["text"] for e in events if e["type"] == "reply_done"] == ["3 plus 4 is 7."]


def test_microphone_unplugged_mid_sentence_keeps_what_was_heard_and_resumes(
    pulse_server: PulseServer, voice_home: Path, tmp_path: Path
) -> None:
    # About 3.7 s of speech; in the middle of the sentence the microphone is
    # pulled out: the source disappears and the server ends Parley's
    # recording stream, as when a USB microphone is unplugged.
    long = speech(
        "please tell me what is twelve times seven and then what time it is in berlin",
        tmp_path / "long.wav",
    )
    # Said 1.5 s into the clip: a pause after Parley's reply, beyond the echo
    # guard's 1.2 s tail (it has barely heard the microphone since it came back).
    after = render("what is six plus two", "joe", tmp_path / "after.wav", lead_s=1.5)
    parley = Listener(voice_home, pulse_server.child_env(), "--open-mic", "--no-llm")
    try:
        parley.wait_for(lambda e: e["type"] == "state")
        playing = pulse_server.play_into_mic(long, wait=False)
        # Pulled out once Parley has heard five words ("please tell me what
        # is"), some two seconds before "berlin".
        parley.wait_for(lambda e: e["type"] == "partial" and len(e["text"].split()) >= 5)
        pulse_server.unplug_mic()
        try:
            lost = parley.wait_for(lambda e: e["type"] == "error", timeout=30)
            heard = parley.wait_for(lambda e: e["type"] == "user_turn", timeout=30)
            parley.wait_for(lambda e: e["type"] == "reply_done", timeout=30)
            playing.wait(timeout=30)
            # Not a wait for anything: the microphone stays out 1.5 s more,
            # and Parley's tries to open it again fail meanwhile.
            time.sleep(1.5)
        finally:
            pulse_server.plug_mic()
        # The notice comes once the microphone's stream is open again: what
        # is played from then on is heard. The reply may still be playing.
        back = parley.wait_for(lambda e: e["type"] == "notice", timeout=30)
        if not [e for e in parley.seen if e["type"] == "latency"]:
            parley.wait_for(lambda e: e["type"] == "latency", timeout=60)  # reply heard out
        pulse_server.play_into_mic(after)
        nxt = parley.wait_for(lambda e: e["type"] == "user_turn")
        reply = parley.wait_for(lambda e: e["type"] == "reply_done")
    finally:
        parley.close()
    assert lost["code"] == "input_lost" and "microphone" in lost["message"]
    assert back["code"] == "input_back"
    # The words before the plug was pulled became the turn: not nothing, not all of it.
    words = heard["text"].split()
    assert "berlin" not in words and {"tell", "twelve", "times"} & set(words), heard
    assert nxt["text"] == "what is six plus two" and reply["text"] == "6 plus 2 is 8."


# -- turn-taking -------------------------------------------------------------------------
# A hesitant request is one turn and is never answered before its end; speech
# that resumes just after Parley decided the turn was over takes that turn back
# and joins it. Recorded with PulseServer.setup_turn_gap: the left channel is
# the user's speech plus Parley's, the right Parley's alone.


def history_turns(home: Path) -> list[dict]:
    out = subprocess.run(
        [*PARLEY, "history", "export", "1", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["turns"]


def user_and_reply(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Boolean sound masks: the user's speech (left minus right) and Parley's (right)."""
    audio, rate = samples(path)
    user = np.abs(audio[:, 0].astype(int) - audio[:, 1].astype(int)) > LOUD
    reply = np.abs(audio[:, 1].astype(int)) > LOUD
    return user, reply, rate


def quiet_until_answered(parley: Listener, settle_s: float = 2.0) -> None:
    """Wait for a reply to be heard, then watch `settle_s` for anything after
    it (a turn taken back, another turn): its events count too."""
    parley.wait_for(lambda e: e["type"] == "latency")
    parley.watch(settle_s)


@pytest.fixture
def rules_home(parley_home: Path) -> Path:
    (parley_home / "config.toml").write_text("follow_up_s = 0.0\n")
    return parley_home


@pytest.mark.parametrize(
    ("parts", "voice", "pause_s", "expect"),
    [
        (("set a timer for", "forty minutes"), "joe", 0.7, "40 minutes"),
        (("what is twenty", "plus nine"), "joe", 0.6, "29"),
        (("take a note", "call the plumber"), "joe", 0.5, "plumber"),
    ],
    ids=["timer-0.7s", "sum-0.6s", "note-0.5s"],
)
def test_a_hesitant_request_is_one_turn_answered_after_its_end(
    pulse_server: PulseServer,
    rules_home: Path,
    tmp_path: Path,
    parts: tuple[str, str],
    voice: str,
    pause_s: float,
    expect: str,
) -> None:
    pulse_server.setup_turn_gap()
    question = render_parts(parts, voice, tmp_path / "q.wav", pause_s=pause_s)
    parley = Listener(rules_home, pulse_server.child_env(), "--open-mic", "--no-llm")
    try:
        parley.wait_for(lambda e: e["type"] == "state")
        rec = pulse_server.record_speaker(tmp_path / "both.wav", channels=2)
        rec.wait_started()
        pulse_server.play_question(question)
        quiet_until_answered(parley)
        rec.stop()
    finally:
        parley.close()
    turns = [e for e in parley.seen if e["type"] == "user_turn"]
    taken_back = [e for e in parley.seen if e["type"] == "turn_retracted"]
    replies = [e for e in parley.seen if e["type"] == "reply_done"]
    assert len(turns) - len(taken_back) == 1, turns
    assert expect in replies[-1]["text"], replies[-1]  # needs the words after the pause
    user, reply, rate = user_and_reply(tmp_path / "both.wav")
    speech_end = int(np.flatnonzero(user)[-1])
    first_reply = int(np.flatnonzero(reply)[0])
    gap_ms = (first_reply - speech_end) * 1000 / rate
    print(f"{parts}: first reply sound {gap_ms:.0f} ms after the true end of speech")
    assert gap_ms > 0, "Parley spoke before the user had finished"
    stored = [t["text"] for t in history_turns(rules_home) if t["role"] == "user"]
    assert stored == [turns[-1]["text"]]


def test_speech_resuming_after_the_end_takes_the_turn_back_and_joins_it(
    pulse_server: PulseServer, rules_home: Path, tmp_path: Path
) -> None:
    """A finished-looking request, then more words ~150-250 ms after Parley
    decided the turn was over (a 0.4 s pause: the VAD's ~30 ms, the decode of
    the last words, the 120 ms hangover of a rule request, then the rest; a
    shorter pause on a loaded machine could end no turn to take back)."""
    pulse_server.setup_turn_gap()
    # One exchange first: the self-hearing guard learns how much of Parley's
    # voice reaches the microphone while it talks (here: none); before that it
    # takes any speech over Parley's first reply for its echo.
    warm_up = render_parts(("what time is it",), "joe", tmp_path / "w.wav", pause_s=0)
    question = render_parts(
        ("what is nine times seven", "plus two"), "joe", tmp_path / "q.wav", pause_s=0.4
    )
    parley = Listener(rules_home, pulse_server.child_env(), "--open-mic", "--no-llm")
    try:
        parley.wait_for(lambda e: e["type"] == "state")
        pulse_server.play_question(warm_up)
        parley.wait_for(lambda e: e["type"] == "latency")  # its answer was heard
        parley.seen.clear()
        rec = pulse_server.record_speaker(tmp_path / "both.wav", channels=2)
        rec.wait_started()
        # The request comes after a pause, as in a conversation: 1.5 s of
        # silence since the answer (beyond the echo guard's 1.2 s tail).
        wait_until_heard_out(rec, channel=1, quiet_s=1.5)
        pulse_server.play_question(question)
        parley.wait_for(lambda e: e["type"] == "reply_done" and "65" in e["text"], timeout=60)
        quiet_until_answered(parley, settle_s=1.0)
        rec.stop()
    finally:
        parley.close()
    kinds = [e["type"] for e in parley.seen]
    assert "turn_retracted" in kinds, parley.seen  # the first answer was taken back
    turns = [e for e in parley.seen if e["type"] == "user_turn"]
    assert turns[-1]["text"] == "what is nine times seven plus two"
    # History holds one user turn with the whole text, and its one answer.
    stored = history_turns(rules_home)
    assert [t["text"] for t in stored if t["role"] == "user"] == [
        "what time is it",
        "what is nine times seven plus two",
    ]
    replies = [t["text"] for t in stored if t["role"] == "assistant"]
    assert len(replies) == 2 and replies[-1] == "9 times 7 plus 2 is 65."
    # Any reply sound that began before the user went on stopped soon after
    # (from the request's start: the recording may open on the warm-up's last sound).
    user, reply, rate = user_and_reply(tmp_path / "both.wav")
    talking = np.flatnonzero(user)
    gaps = np.flatnonzero(np.diff(talking) > rate // 5)  # the pause inside the request
    resumed = int(talking[gaps[0] + 1]) if gaps.size else int(talking[0])
    early = int(talking[0]) + np.flatnonzero(reply[talking[0] : resumed])
    if early.size:
        sound = np.flatnonzero(reply)
        run_end = sound[np.searchsorted(sound, early[0]) :]
        breaks = np.flatnonzero(np.diff(run_end) > rate // 10)
        stopped = int(run_end[breaks[0]] if breaks.size else run_end[-1])
        stop_ms = (stopped - resumed) * 1000 / rate
        print(f"resumed speech: the early reply went quiet {stop_ms:.0f} ms after its onset")
        # 60 ms of speech starts an utterance, ~30 ms of VAD and one 20 ms
        # output block follow: ~110 ms from the onset, ~20 ms from the decision.
        assert stop_ms < 250
