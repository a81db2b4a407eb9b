"""`parley chat`'s printer: tool questions and timers in a terminal and a pipe."""

from __future__ import annotations

import io

from assistant.commands.chat import Printer
from assistant.events import Notice, ReplyDelta, ToolRequest, ToolResult


def make(prompt: str = "") -> tuple[Printer, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    p = Printer(False, out, err)
    p.prompt = prompt
    return p, out, err


def test_a_timer_while_typing_shows_the_prompt_again() -> None:
    p, out, err = make("> ")
    p.at_prompt = True
    p(Notice("Your timer for 5 minutes is done.", "timer"))
    assert err.getvalue() == "\n(Your timer for 5 minutes is done.)\n> "
    assert out.getvalue() == ""


def test_in_a_pipe_a_notice_is_one_line() -> None:
    p, _out, err = make("")
    p.at_prompt = True
    p(Notice("Your timer for 5 minutes is done.", "timer"))
    assert err.getvalue() == "(Your timer for 5 minutes is done.)\n"


def test_a_notice_mid_reply_starts_a_new_line() -> None:
    p, out, err = make("> ")
    p(ReplyDelta("Once upon", 1))
    p(Notice("Your tea timer is done.", "timer"))
    assert out.getvalue() == "Once upon"
    assert err.getvalue() == "\n(Your tea timer is done.)\n"


def test_tool_request_says_how_long_results_stay_quiet() -> None:
    p, out, err = make()
    p(ToolRequest("r1", "delete_note", {"id": 1}, "delete the note 'milk'", 20.0))
    p(ToolResult("r1", "delete_note", True, "Deleted the note 'milk'."))
    assert err.getvalue() == "(waiting 20 s for yes or no: delete the note 'milk')\n"
    assert out.getvalue() == ""  # the reply says the outcome; no duplicate line
