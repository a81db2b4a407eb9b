"""`parley history` against a real history database under PARLEY_HOME."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from assistant import paths
from assistant.commands import history as history_command
from assistant.dialogue.history import History

REPO = Path(__file__).resolve().parents[2]


def parley(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Parse and run like the `parley` entry point does: (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser(prog="parley")
    history_command.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled() -> dict[str, int]:
    """Two conversations in the real history file: an old one and a recent one."""
    with History(paths.history_db()) as h:
        old = h.new_conversation()
        h.add_turn(old, "user", "what time is it", confidence=0.95)
        h.add_turn(old, "assistant", "It's four o'clock.", source="rule", intent="time")
        new = h.new_conversation()
        h.add_turn(
            new, "user", "frobnicate the wibble", confidence=0.4, flagged="nothing could handle it"
        )
        h.add_turn(new, "assistant", "Sorry, I can't do that.", source="system")
        h.add_turn(new, "user", "tell me a story")
        cut = h.add_turn(new, "assistant", "Once upon a", status="streaming", source="llm")
        h.update_turn(cut, status="interrupted")
    return {"old": old, "new": new}


def test_list(filled: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = parley(["history", "list"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].split()[0] == str(filled["new"]) and "frobnicate the wibble" in lines[0]
    assert "4 messages" in lines[0]
    assert lines[1].split()[0] == str(filled["old"]) and "what time is it" in lines[1]

    code, out, _ = parley(["history", "list", "--json"], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["id"] for r in rows] == [filled["new"], filled["old"]]
    assert all(set(r) == {"id", "title", "created_at", "updated_at", "turn_count"} for r in rows)
    assert [r["turn_count"] for r in rows] == [4, 2]


def test_show(filled: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = parley(["history", "show", str(filled["new"]), "--details"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"Conversation {filled['new']}: frobnicate the wibble\n")
    said = [line for line in out.splitlines() if line.startswith("[")]
    assert [re.match(r"\[\d\d:\d\d:\d\d\] (\w+)", s)[1] for s in said] == [
        "You",
        "Parley",
        "You",
        "Parley",
    ]
    assert said[0].endswith("(confidence 0.40): frobnicate the wibble")
    assert said[1].endswith("(system): Sorry, I can't do that.")
    assert said[3].endswith("(llm, INTERRUPTED): Once upon a")
    assert "    FLAGGED: nothing could handle it" in out.splitlines()


def test_export(filled: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = parley(["history", "export", str(filled["old"]), "--format", "json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["id"] == filled["old"]
    assert [(t["role"], t["text"], t["intent"]) for t in data["turns"]] == [
        ("user", "what time is it", ""),
        ("assistant", "It's four o'clock.", "time"),
    ]
    code, out, _ = parley(
        ["history", "export", str(filled["new"]), "--format", "md", "--details"], capsys
    )
    assert code == 0
    assert out.startswith("# frobnicate the wibble\n")
    assert "Once upon a *(interrupted)*" in out
    assert "> **Flagged:** nothing could handle it" in out


def test_flagged(filled: dict[str, int], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = parley(["history", "flagged"], capsys)
    assert code == 0
    [line] = out.splitlines()
    assert f"conversation {filled['new']}" in line
    assert "'frobnicate the wibble'" in line and line.endswith("flagged: nothing could handle it")

    code, out, _ = parley(["history", "flagged", "--json"], capsys)
    [row] = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert row["conversation_id"] == filled["new"]
    assert (row["text"], row["reason"], row["role"]) == (
        "frobnicate the wibble",
        "nothing could handle it",
        "user",
    )
    assert row["created_at"]


@pytest.mark.parametrize("command", [["show", "999"], ["export", "999", "--format", "json"]])
def test_unknown_id(
    filled: dict[str, int], command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = parley(["history", *command], capsys)
    assert code == 1
    assert out == ""
    assert err == "parley history: There is no conversation 999 in the history.\n"


def test_broken_database_file(capsys: pytest.CaptureFixture[str]) -> None:
    db = paths.history_db()
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"not sqlite at all " * 100)
    code, out, err = parley(["history", "list"], capsys)
    assert (code, out) == (0, "")  # set aside; the new history is empty
    assert err.startswith(f"parley history: The history file {db} is damaged")
    assert "Traceback" not in err
    (aside,) = db.parent.glob(db.name + ".damaged-*[0-9]")
    assert aside.read_bytes() == b"not sqlite at all " * 100


def test_empty_history(capsys: pytest.CaptureFixture[str]) -> None:
    assert parley(["history", "list"], capsys) == (0, "", "")
    assert parley(["history", "flagged", "--json"], capsys) == (0, "", "")


def test_through_the_parley_entry_point(filled: dict[str, int]) -> None:
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "assistant.cli", "history", *argv],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["id"] for line in listed.stdout.splitlines()] == [
        filled["new"],
        filled["old"],
    ]
    missing = cli("show", "999")
    assert missing.returncode == 1
    assert "There is no conversation 999" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    """`parley history show N | head -1`: the pipe closes under a long
    conversation, and Parley ends quietly, exit 0."""
    with History(paths.history_db()) as h:
        long = h.new_conversation()
        for i in range(2000):
            h.add_turn(long, "user", f"what is {i} plus {i}")
            h.add_turn(long, "assistant", f"{i} plus {i} is {2 * i}.", source="rule")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "history", "show", str(long)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(f"Conversation {long}")
    proc.stdout.close()  # what `head -1` does
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err
