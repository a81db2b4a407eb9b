"""`parley history` reads like the conversation: no tool rows, sources or
confidences unless --details asks (issue 16: "History and exports read like a
conversation, with tool details only in --json and in a details view")."""

from __future__ import annotations

import argparse

import pytest

from assistant import paths
from assistant.commands import history as history_command
from assistant.dialogue.history import History


def parley(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    parser = argparse.ArgumentParser(prog="parley")
    history_command.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.func(args) == 0
    return capsys.readouterr().out


@pytest.fixture
def noted() -> int:
    with History(paths.history_db()) as h:
        c = h.new_conversation()
        h.add_turn(c, "user", "take a note buy milk", confidence=1.0)
        h.add_turn(c, "tool", 'add_note {"text": "buy milk"}', source="tool",
                   intent="tool_request", data={"tool": "add_note"})
        h.add_turn(c, "tool", "Noted: buy milk.", source="tool", intent="tool_result",
                   data={"tool": "add_note", "ok": True})
        h.add_turn(c, "assistant", "Noted: buy milk.", source="rule", intent="note_add")
        h.add_turn(c, "tool", "Your timer for 3 seconds is done.", source="tool", intent="timer")
    return c


def test_show_and_export_read_like_the_conversation(
    noted: int, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["show", str(noted)], ["export", str(noted)]):
        out = parley(["history", *argv], capsys)
        for internal in ("Tool", "add_note", "confidence", "rule", "tool_re"):
            assert internal not in out, (argv, internal, out)
        assert out.count("Noted: buy milk.") == 1  # the tool's outcome, said once
        assert "Your timer for 3 seconds is done." in out  # a timer going off is Parley's
    assert "3 messages" in parley(["history", "list"], capsys)  # tool rows are not messages


def test_details_keep_the_tool_rows(noted: int, capsys: pytest.CaptureFixture[str]) -> None:
    out = parley(["history", "show", str(noted), "--details"], capsys)
    assert "add_note" in out and "confidence 1.00" in out
    assert "Tool" in parley(["history", "export", str(noted), "--details"], capsys)
