"""The tool registry and the built-in tools, each run for real (SQLite stores,
a real browser stand-in script, real .desktop files launched)."""

from __future__ import annotations

import os
import stat
import sys
import time
import urllib.parse
from datetime import datetime
from pathlib import Path

import pytest

from assistant.dialogue import apps
from assistant.dialogue.builtin_tools import (
    ToolEnv,
    announcement,
    builtin_registry,
    mailto,
    normalise_url,
    parse_clock,
)
from assistant.dialogue.notes import NoteStore
from assistant.dialogue.timers import TimerScheduler, TimerStore
from assistant.dialogue.tools import Plan, Registry, Tool, ToolError, ToolOutcome, validate

NOW = datetime(2026, 11, 30, 15, 5, 0)


def echo_tool(**kw) -> Tool:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 10},
            "word": {"type": "string", "minLength": 1, "maxLength": 5},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "flag": {"type": "boolean"},
            "x": {"type": "number"},
        },
        "required": ["n"],
    }
    return Tool("echo", "echo", schema, lambda a: ToolOutcome(str(a), dict(a)), **kw)


# --- registry and validation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "echo needs the argument 'n'."),
        ({"n": "3"}, "echo: 'n' must be a whole number, not '3'."),
        ({"n": 2.5}, "echo: 'n' must be a whole number, not 2.5."),
        ({"n": True}, "echo: 'n' must be a whole number, not true."),
        ({"n": 0}, "echo: 'n' must be at least 1, not 0."),
        ({"n": 11}, "echo: 'n' must be at most 10, not 11."),
        ({"n": 1, "word": ""}, "echo: 'word' must not be empty."),
        ({"n": 1, "word": "toolong"}, "echo: 'word' is too long (at most 5 characters)."),
        ({"n": 1, "mode": "c"}, "echo: 'mode' must be one of a, b, not 'c'."),
        ({"n": 1, "flag": "yes"}, "echo: 'flag' must be true or false, not 'yes'."),
        ({"n": 1, "x": None}, "echo: 'x' must be a number, not nothing."),
        (
            {"n": 1, "extra": 1},
            "echo has no argument 'extra' (its arguments: n, word, mode, flag, x).",
        ),
        ([1], "The arguments for echo must be an object, not list."),
    ],
)
def test_bad_arguments_are_rejected_with_a_message(args: object, message: str) -> None:
    registry = Registry([echo_tool()])
    outcome = registry.call("echo", args)
    assert not outcome.ok
    assert outcome.text == message
    assert outcome.data["error"] == "bad_arguments"


def test_good_arguments_are_normalised() -> None:
    tool = echo_tool()
    assert validate(tool, {"n": 3.0, "word": " hi ", "x": 2}) == {"n": 3, "word": "hi", "x": 2}


def test_unknown_tool() -> None:
    outcome = Registry([echo_tool()]).call("rm_rf", {})
    assert not outcome.ok and outcome.data["error"] == "unknown_tool"
    assert outcome.text == "There is no tool called 'rm_rf'. The tools are: echo."


def test_a_raising_tool_never_raises_into_the_turn() -> None:
    def boom(_args: dict) -> ToolOutcome:
        raise RuntimeError("disk on fire")

    def refuse(_args: dict) -> ToolOutcome:
        raise ToolError("Not today.")

    schema = {"type": "object", "properties": {}}
    registry = Registry([Tool("boom", "b", schema, boom), Tool("refuse", "r", schema, refuse)])
    out = registry.call("boom", {})
    assert not out.ok and out.text == "Sorry, the boom tool failed: disk on fire"
    out = registry.call("refuse", {})
    assert not out.ok and out.text == "Not today."


def test_a_raising_plan_is_an_outcome_too() -> None:
    def plan(_args: dict) -> Plan:
        raise KeyError("x")

    registry = Registry([echo_tool(plan=plan)])
    out = registry.prepare("echo", {"n": 1})
    assert isinstance(out, ToolOutcome) and not out.ok and "failed" in out.text


def test_schemas_outside_the_subset_are_refused() -> None:
    run = lambda a: ToolOutcome("")  # noqa: E731
    with pytest.raises(ValueError, match="needs maxLength"):
        Tool("t", "t", {"type": "object", "properties": {"s": {"type": "string"}}}, run)
    with pytest.raises(ValueError, match="needs a type"):
        Tool("t", "t", {"type": "object", "properties": {"s": {"type": "array"}}}, run)
    with pytest.raises(ValueError, match="required argument q"):
        Tool("t", "t", {"type": "object", "properties": {}, "required": ["q"]}, run)
    with pytest.raises(ValueError, match="already registered"):
        Registry([echo_tool(), echo_tool()])


def test_signature_is_compact() -> None:
    assert echo_tool().signature() == "echo(n:int,word?:str,mode?:a|b,flag?:bool,x?:num)"


def test_relevant_tools_come_from_the_users_words() -> None:
    registry = builtin_registry(ToolEnv())
    names = [t.name for t in registry.relevant("Email Ann, and set a timer")]
    assert names == ["set_timer", "draft_email"]
    assert [t.name for t in registry.relevant("read my notes")] == ["list_notes"]
    assert registry.relevant("What is the capital of France?") == []


@pytest.mark.parametrize(
    ("text", "offered"),
    [
        # A question about a thing is offered only the tools that read.
        ("Who invented the alarm clock?", ["get_time"]),
        ("what is a countdown", []),
        ("Is it healthy to wake up at five?", []),
        ("Why do people jot things down?", []),
        ("What did I put in my notes?", ["list_notes"]),
        ("does the browser open pages fast", []),
        # Requests, however they are worded, keep the tools that act.
        ("Could you tell me the date and start a countdown?", ["get_time", "set_timer"]),
        ("how about a countdown for the rice", ["set_timer"]),
        ("do a countdown for the rice please", ["set_timer"]),
        ("wake me at six", ["set_alarm"]),
    ],
)
def test_a_question_is_offered_only_tools_that_read(text: str, offered: list[str]) -> None:
    registry = builtin_registry(ToolEnv())
    assert [t.name for t in registry.relevant(text)] == offered


def test_might_need_matches_whole_words() -> None:
    registry = builtin_registry(ToolEnv())
    assert registry.might_need("Could you start a timer for my tea?")
    assert registry.might_need("please delete the note about milk")
    assert registry.might_need("open the website example.com")
    assert not registry.might_need("What is the capital of France?")
    assert not registry.might_need("tell me about notebooks")  # "note" is not in "notebooks"
    # "remind me" before a question asks it; before a task it is a timer
    assert not registry.might_need("Remind me which planet has rings")
    assert not registry.might_need("remind me how tall a giraffe grows")
    assert registry.might_need("remind me to water the plants")


# --- built-in tools ---------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path):
    notes = NoteStore(tmp_path / "history.sqlite3")
    store = TimerStore(tmp_path / "timers.sqlite3", clock=lambda: NOW.timestamp())
    opened: list[str] = []
    e = ToolEnv(
        notes=notes,
        timers=TimerScheduler(store, lambda t, m: None),
        now=lambda: NOW,
        open_url=lambda url: opened.append(url) or True,
    )
    e.opened = opened  # type: ignore[attr-defined]
    yield e
    notes.close()
    store.close()


def test_time_and_calculate(env: ToolEnv) -> None:
    tools = builtin_registry(env)
    out = tools.call("get_time", {})
    assert out.text == "It's 3:05 PM." and out.data["date"] == "Monday, November 30, 2026"
    assert tools.call("calculate", {"expression": "12*7"}).text == "12 times 7 is 84."
    assert tools.call("calculate", {"expression": "twelve times seven"}).text == "12 times 7 is 84."
    assert tools.call("calculate", {"expression": "15% of 80"}).data["value"] == "12"
    zero = tools.call("calculate", {"expression": "7/0"})
    assert not zero.ok and "zero" in zero.text
    bad = tools.call("calculate", {"expression": "__import__('os')"})
    assert not bad.ok and bad.text.startswith("I can't work out")


def test_notes_add_list_delete(env: ToolEnv) -> None:
    tools = builtin_registry(env)
    assert tools.call("add_note", {"text": "buy milk"}).text == "Noted: buy milk."
    tools.call("add_note", {"text": "call the dentist"})
    listed = tools.call("list_notes", {})
    assert listed.text == "You have 2 notes: buy milk; and call the dentist."
    assert [n["text"] for n in listed.data["notes"]] == ["buy milk", "call the dentist"]

    plan = tools.prepare("delete_note", {"text": "Buy Milk"})
    assert isinstance(plan, Plan)
    assert plan.description == "delete the note 'buy milk'"
    assert tools.execute("delete_note", plan.args).text == "Deleted the note 'buy milk'."
    assert tools.execute("delete_note", plan.args).ok is False  # already gone

    missing = tools.prepare("delete_note", {"text": "walk the dog"})
    assert (
        isinstance(missing, ToolOutcome)
        and missing.text == "You have no note that says 'walk the dog'."
    )
    tools.call("add_note", {"text": "call mum"})
    several = tools.prepare("delete_note", {"text": "call"})
    assert isinstance(several, ToolOutcome) and several.text.startswith(
        "Several notes match 'call'"
    )

    plan = tools.prepare("delete_all_notes", {})
    assert isinstance(plan, Plan) and plan.description == "delete all 2 of your notes"
    assert tools.execute("delete_all_notes", plan.args).text == "Deleted 2 notes."
    assert tools.call("list_notes", {}).text == "You have no notes yet."


def test_tools_without_a_store_say_so() -> None:
    tools = builtin_registry(ToolEnv())
    assert tools.call("add_note", {"text": "x"}).text.startswith("Notes are not available")
    assert tools.call("set_timer", {"seconds": 5}).text.startswith("Timers are not available")


def test_timers_and_alarms(env: ToolEnv) -> None:
    tools = builtin_registry(env)
    out = tools.call("set_timer", {"seconds": 300, "label": "tea"})
    assert out.text == "Timer set for 5 minutes: tea."
    assert tools.call("set_alarm", {"time": "7:30 am"}).text == "Alarm set for 7:30 AM tomorrow."
    assert tools.call("set_alarm", {"time": "18:00", "label": "dinner"}).text == (
        "Alarm set for 6:00 PM today: dinner."
    )
    listed = tools.call("list_timers", {})
    assert listed.text == (
        "You have 3: the tea timer, 5 minutes left; the dinner alarm at 6:00 PM; "
        "the alarm at 7:30 AM."
    )
    ambiguous = tools.call("cancel_timer", {})
    assert not ambiguous.ok and ambiguous.text.startswith("You have several")
    assert tools.call("cancel_timer", {"label": "tea"}).text == (
        "Cancelled the tea timer, 5 minutes left."
    )
    assert tools.call("cancel_timer", {"all": True}).text == "Cancelled all 2 alarms."
    assert tools.call("list_timers", {}).text == "You have no timers or alarms."
    assert tools.call("cancel_timer", {}).text == "There are no timers to cancel."
    too_long = tools.call("set_timer", {"seconds": 90000})
    assert not too_long.ok and "at most 86400" in too_long.text
    assert not tools.call("set_alarm", {"time": "25:00"}).ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7:30", (7, 30)),
        ("07.05", (7, 5)),
        ("19:30", (19, 30)),
        ("7 pm", (19, 0)),
        ("12am", (0, 0)),
        ("12:15 p.m.", (12, 15)),
    ],
)
def test_parse_clock(text: str, expected: tuple[int, int]) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["noon-ish", "13 pm", "24:00", "7:75", ""])
def test_parse_clock_rejects(text: str) -> None:
    with pytest.raises(ToolError):
        parse_clock(text)


def test_announcements() -> None:
    from assistant.dialogue.timers import Timer

    t = Timer(1, "timer", "", 300, NOW.timestamp(), 0, "pending")
    assert announcement(t, False, lambda: NOW) == "Your timer for 5 minutes is done."
    assert announcement(t, True, lambda: NOW) == (
        "While Parley was closed, your timer for 5 minutes went off at 3:05 PM."
    )
    alarm = Timer(2, "alarm", "wake up", 0, NOW.timestamp(), 0, "pending")
    assert announcement(alarm, False, lambda: NOW) == "It's 3:05 PM: your wake up alarm!"


# --- the world outside -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("example.com", "https://example.com"),
        ("http://localhost:8000/x", "http://localhost:8000/x"),
        ("https://en.wikipedia.org/wiki/Parley", "https://en.wikipedia.org/wiki/Parley"),
    ],
)
def test_normalise_url(text: str, url: str) -> None:
    assert normalise_url(text) == url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("javascript:alert(1)", "not javascript: links"),
        ("file:///etc/passwd", "not file: links"),
        ("hello", "is not a web address"),
        ("two words.com x", "is not a web address"),
    ],
)
def test_normalise_url_rejects(text: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        normalise_url(text)


def test_open_url_plans_then_opens(env: ToolEnv) -> None:
    tools = builtin_registry(env)
    assert tools.get("open_url").consequential  # type: ignore[union-attr]
    plan = tools.prepare("open_url", {"url": "example.com"})
    assert (
        isinstance(plan, Plan)
        and plan.description == "open https://example.com in your web browser"
    )
    assert env.opened == []  # type: ignore[attr-defined]  # planning never opens anything
    assert tools.execute("open_url", plan.args).text == "Opened https://example.com."
    assert env.opened == ["https://example.com"]  # type: ignore[attr-defined]


def test_no_browser_is_a_clear_failure(env: ToolEnv) -> None:
    env.open_url = lambda url: False
    out = builtin_registry(env).call("open_url", {"url": "example.com"})
    assert not out.ok and out.text == (
        "I couldn't open https://example.com: no browser or mail program was found."
    )


def test_draft_email(env: ToolEnv) -> None:
    tools = builtin_registry(env)
    plan = tools.prepare(
        "draft_email", {"to": "ann@example.org", "subject": "Lunch & more", "body": "See you at 1?"}
    )
    assert isinstance(plan, Plan)
    assert plan.description == (
        "open an email draft to ann@example.org about 'Lunch & more' in your mail program "
        "(you send it)"
    )
    tools.execute("draft_email", plan.args)
    url = env.opened[-1]  # type: ignore[attr-defined]
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "mailto" and parts.path == "ann@example.org"
    query = urllib.parse.parse_qs(parts.query)
    assert query == {"subject": ["Lunch & more"], "body": ["See you at 1?"]}
    bad = tools.prepare("draft_email", {"to": "not an address"})
    assert isinstance(bad, ToolOutcome) and bad.text == "'not an address' is not an email address."
    assert mailto("", "", "") == "mailto:"


def test_webbrowser_honours_BROWSER(tmp_path: Path) -> None:
    """The real default opener: webbrowser with $BROWSER set to a recording script."""
    log = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    code = (
        "from assistant.dialogue.builtin_tools import ToolEnv, builtin_registry\n"
        "print(builtin_registry(ToolEnv()).call('open_url', {'url': 'example.org/a b'}).text)\n"
        "print(builtin_registry(ToolEnv()).call('open_url', {'url': 'example.org/page'}).text)\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BROWSER": str(script)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "'example.org/a b' is not a web address.",
        "Opened https://example.org/page.",
    ]
    assert log.read_text().splitlines() == ["https://example.org/page"]


# --- applications ---------------------------------------------------------------------------


def desktop(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.desktop"
    path.write_text(body)
    return path


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home, system = tmp_path / "home", tmp_path / "system"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.setenv("XDG_DATA_DIRS", str(system))
    marker = tmp_path / "launched.txt"
    desktop(
        home / "applications",
        "org.example.Notes",
        f"[Desktop Entry]\nType=Application\nName=Sticky Notes\n"
        f"Exec=sh -c 'echo notes >> {marker}' %U\n",
    )
    desktop(
        system / "applications",
        "org.example.Notes",
        "[Desktop Entry]\nType=Application\nName=Old Notes\nExec=false\n",
    )  # overridden
    desktop(
        system / "applications",
        "calc",
        f"[Desktop Entry]\nType=Application\nName=Calculator\nExec=sh -c 'echo calc >> {marker}'\n",
    )
    desktop(
        system / "applications",
        "hidden",
        "[Desktop Entry]\nType=Application\nName=Hidden Thing\nExec=true\nNoDisplay=true\n",
    )
    desktop(system / "applications", "link", "[Desktop Entry]\nType=Link\nName=A Link\nURL=x\n")
    desktop(system / "applications", "broken", "this is not a desktop file")
    desktop(
        system / "applications",
        "terminal",
        "[Desktop Entry]\nType=Application\nName=Terminal\nExec=true\n",
    )
    desktop(
        system / "applications",
        "terminal2",
        "[Desktop Entry]\nType=Application\nName=Terminal Emulator\nExec=true\n",
    )
    return marker


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG .desktop files are Linux's")
def test_installed_apps_from_desktop_files(xdg: Path) -> None:
    names = [a.name for a in apps.installed_apps()]
    assert names == ["Calculator", "Sticky Notes", "Terminal", "Terminal Emulator"]
    assert apps.find_app("calculator").name == "Calculator"
    assert apps.find_app("sticky").name == "Sticky Notes"  # prefix
    assert apps.find_app("terminal").name == "Terminal"  # exact beats prefix
    with pytest.raises(ToolError, match="Did you mean Calculator"):
        apps.find_app("calculater")
    with pytest.raises(ToolError, match="no application called 'photoshop' on this computer"):
        apps.find_app("photoshop")
    with pytest.raises(ToolError, match="Several applications match 'term'"):
        apps.find_app("term")


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG .desktop files are Linux's")
def test_open_app_launches_the_real_command(xdg: Path, env: ToolEnv) -> None:
    tools = builtin_registry(env)
    plan = tools.prepare("open_app", {"name": "sticky notes"})
    assert isinstance(plan, Plan) and plan.description == "open the application Sticky Notes"
    assert not xdg.exists()  # asking never launches
    assert tools.execute("open_app", plan.args).text == "Opened Sticky Notes."
    deadline = time.monotonic() + 10
    while not xdg.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert xdg.read_text() == "notes\n"
    unknown = tools.prepare("open_app", {"name": "photoshop"})
    assert isinstance(unknown, ToolOutcome) and not unknown.ok


def test_launch_failure_is_a_message(tmp_path: Path) -> None:
    app = apps.App("Ghost", tmp_path / "ghost.desktop", (str(tmp_path / "no-such-binary"),))
    if sys.platform in ("win32", "darwin"):
        pytest.skip("launch by command line is the XDG path")
    with pytest.raises(ToolError, match="Ghost could not be started"):
        apps.launch(app)
