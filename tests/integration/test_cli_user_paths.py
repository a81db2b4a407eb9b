"""The command line as a user meets it (issue 16): real `parley` subprocesses
with PARLEY_HOME in a temp folder. A request that needs a yes under --once,
--yes for scripts, a wrong --model path, --no-llm's words, every subcommand's
help page, doctor's verdict on a broken configuration, alarms by typing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.commands.chat import NEEDS_YES

PARLEY = [sys.executable, "-m", "assistant.cli"]


def run(args: list[str], home: Path, env: dict[str, str] | None = None, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run(
        [*PARLEY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PARLEY_HOME": str(home), **(env or {})},
    )


def browser(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A BROWSER that only writes down what it was asked to open."""
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> "{opened}"\n')
    script.chmod(0o755)
    return {"BROWSER": str(script)}, opened


def test_once_with_a_consequential_request_says_how_to_answer(
    parley_home: Path, tmp_path: Path
) -> None:
    env, opened = browser(tmp_path)
    out = run(["chat", "--no-llm", "--once", "open the page example.net"], parley_home, env)
    assert out.returncode == NEEDS_YES, out.stderr
    assert "--yes" in out.stderr and "parley chat" in out.stderr
    assert "waiting" not in out.stderr  # no countdown nobody can answer
    assert not opened.exists()  # nothing was opened


def test_yes_approves_for_a_script(parley_home: Path, tmp_path: Path) -> None:
    env, opened = browser(tmp_path)
    args = ["chat", "--no-llm", "--yes", "--once", "open https://example.net/page"]
    out = run(args, parley_home, env)
    assert out.returncode == 0, out.stderr
    assert opened.read_text().splitlines() == ["https://example.net/page"]
    assert out.stdout.splitlines()[-1] == "Opened https://example.net/page."


def test_a_typed_question_waits_the_typed_timeout(parley_home: Path) -> None:
    (parley_home / "config.toml").write_text("typed_confirm_timeout_s = 75\n")
    out = run(["chat", "--no-llm"], parley_home, stdin="take a note tea\ndelete my notes\nno\n")
    assert out.returncode == 0, out.stderr
    assert "(waiting 75 s for yes or no: delete your one note)" in out.stderr


@pytest.mark.parametrize("command", ["chat", "listen"])
def test_a_wrong_model_path_is_named_and_fails(parley_home: Path, command: str) -> None:
    args = [command, "--model", "no/such/model.gguf"]
    out = run([*args, "--once", "hello"] if command == "chat" else args, parley_home)
    assert out.returncode != 0
    assert str(Path("no/such/model.gguf").resolve()) in out.stderr
    assert "Traceback" not in out.stderr


def test_no_llm_does_not_send_the_user_to_settings(parley_home: Path) -> None:
    out = run(["chat", "--no-llm", "--once", "who wrote hamlet"], parley_home)
    assert out.returncode == 0, out.stderr
    assert "turned off" in out.stdout
    assert "Settings" not in out.stdout and "models pull" not in out.stdout


def test_every_subcommand_help_has_a_description(parley_home: Path) -> None:
    from assistant.cli import COMMANDS

    pages = [[c] for c in COMMANDS] + [["history", "list"], ["models", "pull"], ["bench", "llm"]]
    for page in pages:
        out = run([*page, "--help"], parley_home)
        assert out.returncode == 0, (page, out.stderr)
        # usage, then a blank line, then the description (before "options:").
        body = out.stdout.split("\n\n")
        assert len(body) > 2 and not body[1].startswith(("options:", "positional")), page


def test_doctor_is_not_ready_when_the_configured_model_is_missing(parley_home: Path) -> None:
    (parley_home / "config.toml").write_text('llm_model = "/nowhere/mine.gguf"\n')
    out = run(["doctor"], parley_home)
    assert out.returncode == 1, out.stdout
    assert "Not ready" in out.stdout and "Everything essential works" not in out.stdout
    as_json = run(["doctor", "--json"], parley_home)
    checks = {c["name"]: c for c in map(json.loads, as_json.stdout.splitlines())}
    assert checks["language model"]["status"] == "fail"
    assert "/nowhere/mine.gguf" in checks["language model"]["detail"]


def test_alarms_by_typing(parley_home: Path) -> None:
    lines = [
        "set an alarm for 6:15 am",
        "wake me up at a quarter to eight tomorrow for the dentist",
        "cancel my alarm",
        "the second one",
        "what alarms do I have",
    ]
    out = run(["chat", "--no-llm"], parley_home, stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    said = out.stdout.splitlines()
    assert said[0].startswith("Alarm set for 6:15 AM ") and ":" not in said[0].split("AM")[1]
    assert said[1] == "Alarm set for 7:45 AM tomorrow: dentist."
    assert said[2].endswith("Which one should I cancel?")
    assert said[3] == "Cancelled the dentist alarm at 7:45 AM."
    assert said[4] == "You have one: the alarm at 6:15 AM."


def test_bench_startup_times_the_real_app_and_listen(parley_home: Path) -> None:
    from assistant.audio.virtual import missing_tools

    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())} for the virtual microphone")
    out = run(["bench", "startup", "--runs", "1", "--settle", "0.5", "--json"], parley_home)
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["problems"] == []
    assert report["window_s"] > 0 and report["ready_to_listen_s"] > 0
    assert report["memory_mb"]["app"]["app"] > 0
    assert report["memory_mb"]["listen"]["speech worker"] > 0
    if not report["notes"]:  # a test voice asked the question: memory after the exchange too
        after = report["memory"]["listen"]["exchange"]
        assert after["listen"]["anon"] > 0 and after["listen"]["models"] > 0


def test_doctor_is_not_ready_when_the_chosen_microphone_is_gone(parley_home: Path) -> None:
    from assistant.audio.virtual import PulseServer, missing_tools

    if missing_tools():
        pytest.skip(f"needs {', '.join(missing_tools())} for a virtual microphone")
    (parley_home / "config.toml").write_text('input_device = "no such microphone"\n')
    with PulseServer() as pulse:
        out = run(["doctor", "--json"], parley_home, env=pulse.env())
    checks = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 1, out.stdout
    mic = [c for c in checks if c["name"] == "microphone" and c["status"] == "fail"]
    assert mic and "no such microphone" in mic[0]["detail"]


def test_a_timer_while_typing_redraws_the_prompt_with_the_typed_text(parley_home: Path) -> None:
    """In a real terminal (a pty): the announcement takes the prompt's line,
    and the prompt comes back below it with what the user had typed, which
    the next Enter still sends."""
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: parley chat on the pty
        os.environ["PARLEY_HOME"] = str(parley_home)
        os.execv(sys.executable, [*PARLEY, "chat", "--no-llm"])
    seen = b""

    def read_until(needle: bytes, timeout: float = 60) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while needle not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        assert needle in seen, seen.decode(errors="replace")
        return seen

    try:
        read_until(b"> ")
        os.write(fd, b"remind me in 2 seconds\r")
        read_until(b"Timer set for 2 seconds.")
        read_until(b"> ", timeout=10)
        os.write(fd, b"what is 2 pl")
        after = read_until(b"is done.)")
        read_until(b"> what is 2 pl", timeout=10)
        tail = seen[after.index(b"is done.)"):]
        assert b"> what is 2 pl" in tail
        os.write(fd, b"us 2\r")
        read_until(b"2 plus 2 is 4.")
    finally:
        os.kill(pid, 15)
        os.waitpid(pid, 0)
        os.close(fd)
