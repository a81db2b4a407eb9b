"""`parley chat`'s printer: tool questions and timers in a terminal and a pipe."""

from __future__ import annotations

import io

from assistant.commands.chat import Printer
from assistant.events import Notice, ReplyDelta, ReplyDone, Source, ToolRequest, ToolResult


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


def test_a_notice_mid_reply_waits_for_the_line_to_end() -> None:
    p, out, err = make("> ")
    p(ReplyDelta("The capital of France is", 1))
    p(Notice("Your timer for 2 minutes is done.", "timer"))
    assert err.getvalue() == ""  # not inside the sentence
    p(ReplyDelta(" Paris.", 1))
    p(ReplyDone("The capital of France is Paris.", Source.LLM, False, 1))
    assert out.getvalue() == "The capital of France is Paris.\n"
    assert err.getvalue() == "(Your timer for 2 minutes is done.)\n"


def test_a_notice_while_typing_redraws_the_prompt_with_the_typed_text() -> None:
    p, _out, err = make("> ")
    p.at_prompt = True
    p.typed = lambda: "what is 2 pl"
    p(Notice("Your tea timer is done.", "timer"))
    assert err.getvalue() == "\n(Your tea timer is done.)\n> what is 2 pl"


def test_voice_states_never_split_a_reply() -> None:
    from assistant.commands.listen import VoicePrinter
    from assistant.events import State, StateChanged

    out, err = io.StringIO(), io.StringIO()
    p = VoicePrinter(False, out, err)
    p(ReplyDelta("It is a long", 1))
    p(StateChanged(State.SPEAKING))
    p(ReplyDelta(" sentence.", 1))
    p(ReplyDone("It is a long sentence.", Source.LLM, False, 1))
    assert out.getvalue() == "It is a long sentence.\n"
    assert err.getvalue() == "(speaking)\n"


def test_once_has_no_countdown_line() -> None:
    p, _out, err = make()
    p.once = True
    p(ToolRequest("r1", "open_url", {"url": "https://a.example"}, "open a page", 120.0))
    assert err.getvalue() == ""


def test_tool_request_says_how_long_results_stay_quiet() -> None:
    p, out, err = make()
    p(ToolRequest("r1", "delete_note", {"id": 1}, "delete the note 'milk'", 20.0))
    p(ToolResult("r1", "delete_note", True, "Deleted the note 'milk'."))
    assert err.getvalue() == "(waiting 20 s for yes or no: delete the note 'milk')\n"
    assert out.getvalue() == ""  # the reply says the outcome; no duplicate line


def test_a_reply_taken_back_mid_line_lets_the_waiting_lines_out() -> None:
    from assistant.commands.listen import VoicePrinter
    from assistant.events import State, StateChanged, TurnRetracted

    out, err = io.StringIO(), io.StringIO()
    p = VoicePrinter(False, out, err)
    p(ReplyDelta("It is", 1))
    p(StateChanged(State.SPEAKING))
    p(TurnRetracted(1, 2))
    assert out.getvalue() == "It is\n"
    assert err.getvalue() == (
        "(speaking)\n(you went on: that turn and its reply are taken back)\n"
    )
    p(StateChanged(State.LISTENING))  # and later lines are not held
    assert err.getvalue().endswith("(listening)\n")


def test_the_models_closing_newline_leaves_no_blank_line() -> None:
    p, out, _err = make()
    for text in ("Paris", ".", "\n"):
        p(ReplyDelta(text, 1))
    p(ReplyDone("Paris.", Source.LLM, False, 1))
    assert out.getvalue() == "Paris.\n"


def test_line_breaks_inside_a_reply_are_kept() -> None:
    p, out, _err = make()
    for text in ("Once upon a time.\n", "\n", "The end.\n"):
        p(ReplyDelta(text, 1))
    p(ReplyDone("Once upon a time.\n\nThe end.", Source.LLM, False, 1))
    assert out.getvalue() == "Once upon a time.\n\nThe end.\n"
