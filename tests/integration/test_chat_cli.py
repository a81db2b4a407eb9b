"""`parley chat` and friends as a user runs them: real subprocesses, the real
model, a real history database under PARLEY_HOME."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARLEY = [sys.executable, "-m", "assistant.cli"]


def run(
    args: list[str],
    home: Path,
    stdin: str | None = None,
    timeout: float = 180,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PARLEY_HOME": str(home), **(env or {})},
    )


def configure(home: Path, gguf: Path, **extra: object) -> None:
    lines = [f'llm_model = "{gguf}"', "temperature = 0.2"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def export(home: Path, conversation: int = 1) -> dict:
    out = run(["history", "export", str(conversation), "--format", "json"], home)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_once_rule_answer_needs_no_model(parley_home: Path) -> None:
    out = run(["chat", "--once", "what is 15 percent of 80"], parley_home)
    assert out.returncode == 0
    assert out.stdout.strip() == "15 percent of 80 is 12."
    assert not (parley_home / "models").exists()  # nothing was assembled for a rule turn


def test_json_stdout_has_only_events(parley_home: Path, gguf_path: Path) -> None:
    configure(parley_home, gguf_path, max_tokens=12)
    out = run(["chat", "--json", "--once", "Say hello to me."], parley_home)
    assert out.returncode == 0, out.stderr
    evs = events(out.stdout)  # every line parses, nothing else on stdout
    types = [e["type"] for e in evs]
    assert types[0] == "state" and types[-1] == "state"
    assert "user_turn" in types and "reply_done" in types and "latency" in types
    done = next(e for e in evs if e["type"] == "reply_done")
    assert done["source"] == "llm"
    assert done["text"] == "".join(e["text"] for e in evs if e["type"] == "reply_delta").strip()


def test_piped_repl_remembers_the_conversation(parley_home: Path, gguf_path: Path) -> None:
    configure(parley_home, gguf_path, max_tokens=16)
    out = run(
        ["chat", "--json"],
        parley_home,
        stdin="take a note buy milk\nWhat is the capital of Japan?\nread my notes\n",
    )
    assert out.returncode == 0, out.stderr
    replies = [e for e in events(out.stdout) if e["type"] == "reply_done"]
    assert [r["source"] for r in replies] == ["rule", "llm", "rule"]
    assert "buy milk" in replies[2]["text"]
    # --continue joins the last conversation; a bare --once starts a fresh one.
    run(["chat", "--continue", "--once", "what is 2 plus 2"], parley_home)
    turns = export(parley_home)["turns"]
    assert len([t for t in turns if t["role"] != "tool"]) == 8
    # The note was taken by the add_note tool: its request and result are in the transcript.
    assert [t["intent"] for t in turns if t["role"] == "tool"] == ["tool_request", "tool_result"]
    run(["chat", "--once", "hello"], parley_home)
    listed = run(["history", "list", "--json"], parley_home).stdout.splitlines()
    assert len(listed) == 2


def _start_chat(home: Path, gguf: Path) -> subprocess.Popen[str]:
    configure(home, gguf, max_tokens=400)
    return subprocess.Popen(
        [*PARLEY, "chat", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PARLEY_HOME": str(home)},
    )


def _wait_for(
    proc: subprocess.Popen[str], kind: str, count: int = 1, timeout: float = 120
) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if sum(e["type"] == kind for e in seen) >= count:
            return seen
    raise AssertionError(f"no {count} x {kind} in {seen}")


STORY = "Write a very long story about a dragon, a knight and a baker, with many details.\n"


def test_ctrl_c_stops_the_reply_not_the_program(parley_home: Path, gguf_path: Path) -> None:
    proc = _start_chat(parley_home, gguf_path)
    try:
        assert proc.stdin is not None
        proc.stdin.write("what is 3 plus 4\n" + STORY)
        proc.stdin.flush()
        _wait_for(proc, "reply_delta", count=3)  # the rule reply, then two LLM deltas
        proc.send_signal(signal.SIGINT)
        rest = _wait_for(proc, "reply_done")
        done = [e for e in rest if e["type"] == "reply_done"][-1]
        assert done["interrupted"] is True
        proc.stdin.write("what is 5 plus 5\n")
        proc.stdin.close()
        tail = [json.loads(x) for x in proc.stdout.read().splitlines()]  # type: ignore[union-attr]
        assert proc.wait(60) == 0  # still alive after Ctrl-C, exits at EOF
        assert any(e["type"] == "reply_done" and e["text"] == "5 plus 5 is 10." for e in tail)
    finally:
        proc.kill()
    turns = export(parley_home)["turns"]
    statuses = [(t["role"], t["status"]) for t in turns]
    assert ("assistant", "interrupted") in statuses
    assert turns[-1]["text"] == "5 plus 5 is 10."


def test_kill_9_mid_reply_loses_nothing(parley_home: Path, gguf_path: Path) -> None:
    proc = _start_chat(parley_home, gguf_path)
    try:
        assert proc.stdin is not None
        proc.stdin.write("take a note water the plants\n" + STORY)
        proc.stdin.flush()
        seen = _wait_for(proc, "reply_delta", count=4)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    streamed = "".join(
        e["text"]
        for e in seen
        if e["type"] == "reply_delta" and e["turn_id"] == seen[-1]["turn_id"]
    )
    # Restart: the crashed reply is recovered as interrupted, earlier turns intact.
    again = run(["chat", "--once", "read my notes"], parley_home)
    assert again.returncode == 0, again.stderr
    assert "water the plants" in again.stdout
    turns = [t for t in export(parley_home)["turns"] if t["role"] != "tool"]
    assert [t["text"] for t in turns[:2]] == [
        "take a note water the plants",
        "Noted: water the plants.",
    ]
    assert turns[2]["text"] == STORY.strip()
    partial = turns[3]
    assert partial["status"] == "interrupted" and partial["source"] == "llm"
    assert partial["text"] and streamed.strip().startswith(partial["text"].strip()[:10])


def test_malformed_config_is_reported_with_line_and_rest_applies(parley_home: Path) -> None:
    (parley_home / "config.toml").write_text('use_llm = false\nn_ctx = "lots"\nthis is not toml\n')
    out = run(["chat", "--once", "tell me a joke"], parley_home)
    assert out.returncode == 0
    assert "line 2: n_ctx" in out.stderr and "line 3" in out.stderr
    assert "Traceback" not in out.stderr
    # use_llm = false on line 1 still applied: no model, a clear no-LLM answer.
    assert "language model turned off" in out.stdout


@pytest.mark.parametrize("kind", ["missing", "random", "truncated"])
def test_bad_model_file_is_one_clear_message(parley_home: Path, gguf_path: Path, kind: str) -> None:
    model = parley_home / "bad.gguf"
    if kind == "random":
        model.write_bytes(os.urandom(50_000))
    elif kind == "truncated":
        model.write_bytes(gguf_path.read_bytes()[:3_000_000])
    out = run(["chat", "--model", str(model), "--once", "why is the sky blue"], parley_home)
    assert "Traceback" not in out.stderr
    if kind == "missing":  # a wrong path is refused before anything starts, by name
        assert out.returncode == 2 and str(model) in out.stderr
        return
    assert out.returncode == 1  # the model the user chose is broken: a failed command
    expected = {"random": "not a GGUF", "truncated": "damaged"}[kind]
    assert expected in out.stderr
    assert "could not be loaded" in out.stdout  # and Parley still answers
    # Rules keep working with a broken model.
    rule = run(["chat", "--model", str(model), "--once", "what is 2 plus 2"], parley_home)
    assert (rule.returncode, rule.stdout.strip()) == (0, "2 plus 2 is 4.")


def test_unwritable_data_dir_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    home = blocker / "parley"  # cannot be created: its parent is a file
    out = run(["chat", "--once", "what is 6 times 7"], home)
    assert out.returncode == 0
    assert out.stdout.strip() == "6 times 7 is 42."
    assert "cannot" in out.stderr.lower() and "PARLEY_HOME" in out.stderr
    assert "Traceback" not in out.stderr
    doctor = run(["doctor"], home)
    assert doctor.returncode == 1
    assert "FAIL" in doctor.stdout


def test_empty_input_asks_again(parley_home: Path) -> None:
    out = run(["chat", "--once", "   "], parley_home)
    assert out.returncode == 0
    assert "didn't catch that" in out.stdout
    flagged = run(["history", "flagged", "--json"], parley_home).stdout.splitlines()
    assert json.loads(flagged[0])["reason"] == "empty"


def test_doctor_reports_and_exits_zero_when_healthy(parley_home: Path, gguf_path: Path) -> None:
    configure(parley_home, gguf_path)
    out = run(["doctor", "--json"], parley_home)
    checks = {c["name"]: c for c in map(json.loads, out.stdout.splitlines())}
    # Not ready (exit 1) only for a missing microphone on this machine.
    no_mic = checks.get("microphone", {}).get("status") == "fail"
    assert out.returncode == (1 if no_mic else 0), out.stdout
    assert checks["history"]["status"] == "ok"
    assert checks["language model"]["status"] == "ok"
    assert checks["llm runtime"]["status"] == "ok"
    # Audio devices are "ok" only when there is at least one of each kind.
    audio = checks["audio"]
    inputs, outputs = map(int, re.findall(r"(\d+) input and (\d+) output", audio["detail"])[0])
    assert (audio["status"] == "ok") == (inputs > 0 and outputs > 0), audio


def test_gui_entry_without_app_is_helpful(parley_home: Path) -> None:
    out = run([], parley_home)
    assert out.returncode == 0
    assert "parley chat" in out.stderr or "parley chat" in out.stdout


# --- tools: confirmation takes the next line, timers, the browser ----------------------


def test_confirmation_takes_the_next_line(parley_home: Path) -> None:
    lines = [
        "take a note buy milk",
        "delete the note buy milk",
        "no",
        "read my notes",
        "delete the note buy milk",
        "yes",
        "read my notes",
    ]
    out = run(["chat", "--json", "--no-llm"], parley_home, stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    evs = events(out.stdout)
    replies = [e["text"] for e in evs if e["type"] == "reply_done"]
    assert replies == [
        "Noted: buy milk.",
        "I'll delete the note 'buy milk'. Shall I? (yes or no)",
        "Okay, I won't delete the note 'buy milk'.",
        "You have one note: buy milk.",
        "I'll delete the note 'buy milk'. Shall I? (yes or no)",
        "Deleted the note 'buy milk'.",
        "You have no notes yet.",
    ]
    requests = [e for e in evs if e["type"] == "tool_request"]
    assert [r["description"] for r in requests] == ["delete the note 'buy milk'"] * 2
    results = [(e["tool"], e["ok"]) for e in evs if e["type"] == "tool_result"]
    assert results == [("add_note", True), ("delete_note", False), ("delete_note", True)]
    # The audit trail: each request, decision and result, in `parley history show --details`.
    shown = run(["history", "show", "1", "--details"], parley_home).stdout
    assert "Tool (tool, tool_decision): denied (user turn): delete the note 'buy milk'" in shown
    assert "Tool (tool, tool_decision): approved (user turn): delete the note 'buy milk'" in shown
    assert "Tool (tool, tool_result): Deleted the note 'buy milk'." in shown
    assert '"request_id": "' + requests[1]["request_id"] + '"' in shown
    exported = export(parley_home)
    decisions = [t["data"]["decision"] for t in exported["turns"] if t["intent"] == "tool_decision"]
    assert decisions == ["asked", "denied", "asked", "approved"]


def test_human_chat_shows_the_question_and_waits(parley_home: Path) -> None:
    out = run(
        ["chat", "--no-llm"], parley_home, stdin="take a note buy milk\ndelete my notes\nsure\n"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "Noted: buy milk.",
        "I'll delete your one note. Shall I? (yes or no)",
        "Deleted 1 note.",
    ]
    assert "(waiting 120 s for yes or no: delete your one note)" in out.stderr  # typed


def test_open_url_goes_through_BROWSER_only_after_yes(parley_home: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> "{opened}"\n')
    browser.chmod(0o755)
    out = run(
        ["chat", "--no-llm"],
        parley_home,
        stdin="open example.com\nno\nopen https://example.org/page\nyes\n"
        "open javascript:alert(1)\n",
        env={"BROWSER": str(browser)},
    )
    assert out.returncode == 0, out.stderr
    assert opened.read_text().splitlines() == ["https://example.org/page"]
    said = out.stdout.splitlines()
    assert said[0] == "I'll open https://example.com in your web browser. Shall I? (yes or no)"
    assert said[1] == "Okay, I won't open https://example.com in your web browser."
    assert said[3] == "Opened https://example.org/page."


def test_a_timer_fires_in_a_running_chat(parley_home: Path) -> None:
    proc = subprocess.Popen(
        [*PARLEY, "chat", "--json", "--no-llm"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PARLEY_HOME": str(parley_home)},
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write("set a timer for 1 second\n")
        proc.stdin.flush()
        seen = _wait_for(proc, "notice", timeout=30)
        notice = [e for e in seen if e["type"] == "notice"][-1]
        assert (notice["code"], notice["message"]) == ("timer", "Your timer for 1 second is done.")
        proc.stdin.write("what is 2 plus 2\n")
        proc.stdin.close()
        assert proc.wait(60) == 0
    finally:
        proc.kill()


def test_a_timer_due_while_closed_is_announced_as_missed(parley_home: Path) -> None:
    assert run(["chat", "--once", "set a timer for 1 second"], parley_home).returncode == 0
    time.sleep(1.5)
    out = run(["chat", "--once", "what is 2 plus 2"], parley_home)
    assert out.stdout.strip() == "2 plus 2 is 4."
    assert "(While Parley was closed, your timer for 1 second went off at " in out.stderr
    again = run(["chat", "--once", "what is 2 plus 2"], parley_home)
    assert "While Parley was closed" not in again.stderr  # announced once


def test_version(parley_home: Path) -> None:
    out = run(["--version"], parley_home, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(r"parley \d+\.\d+\.\d+\n", out.stdout), out.stdout
