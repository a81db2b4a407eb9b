"""Tool confirmation: yes, no, and no answer before the timeout (= no)."""

from __future__ import annotations

from typing import Any

from assistant.events import ToolRequest, ToolResult


def _req(rid: str = "r1", timeout: float = 20.0) -> ToolRequest:
    return ToolRequest(rid, "open_app", {"name": "firefox"}, "Open the app Firefox.", timeout)


def test_yes(qtbot: Any, window: Any, fake: Any) -> None:
    window.bridge(_req())
    qtbot.waitUntil(lambda: window.confirm.isVisible(), timeout=3000)
    assert window.confirm.title.text() == "Open the app Firefox?"
    assert "means no" in window.confirm.countdown.text()
    window.confirm.yes.click()
    assert fake.calls == [("confirm", ("r1", True))]
    assert not window.confirm.isVisible()


def test_no(qtbot: Any, window: Any, fake: Any) -> None:
    window.bridge(_req())
    qtbot.waitUntil(lambda: window.confirm.isVisible(), timeout=3000)
    assert window.confirm.no.hasFocus()  # Enter means no: the safe default
    window.confirm.no.click()
    assert fake.calls == [("confirm", ("r1", False))]


def test_no_answer_means_no(qtbot: Any, window: Any, fake: Any) -> None:
    window.bridge(_req(timeout=0.4))
    qtbot.waitUntil(lambda: window.confirm.isVisible(), timeout=3000)
    with qtbot.waitSignal(window.confirm.answered, timeout=5000) as sig:
        pass
    assert sig.args == ["r1", False]
    assert fake.calls == [("confirm", ("r1", False))]
    assert not window.confirm.isVisible()


def test_requests_wait_their_turn_and_a_spoken_answer_closes_one(
    qtbot: Any, window: Any, fake: Any
) -> None:
    window.bridge(_req("a"))
    window.bridge(_req("b"))
    qtbot.waitUntil(lambda: window.confirm.current is not None, timeout=3000)
    assert window.confirm.current.request_id == "a"
    # "a" was answered by voice: its result closes the panel without a second answer.
    window.bridge(ToolResult("a", "open_app", True, "Opened Firefox."))
    qtbot.waitUntil(lambda: window.confirm.current.request_id == "b", timeout=3000)
    assert fake.calls == []
    window.confirm.yes.click()
    assert fake.calls == [("confirm", ("b", True))]
    assert not any(b.role == "tool" for b in window.transcript.bubbles)  # the reply tells it


def test_the_question_is_in_plain_words() -> None:
    from ui.words import confirmation_question

    assert (
        confirmation_question("delete_note", {"id": 3, "text": "buy milk"},
                              "delete the note 'buy milk'")
        == "Delete the note 'buy milk'?"
    )
    # A tool without its own description: built from its name and arguments, never "use X".
    asked = confirmation_question("send_message", {"to": "Ann", "text": "hi"},
                                  "run send_message with to 'Ann', text 'hi'")
    assert asked == "Send message to 'Ann', text 'hi'?"
    assert confirmation_question("shut_down", {}, "") == "Shut down?"


def test_controller_confirm_without_core_support_reports_false() -> None:
    from ui.controller import Controller

    c = Controller(lambda _e: None)
    assert c.confirm("x", True) is False  # no loop yet, nothing to answer


def test_controller_confirm_reaches_the_pipeline() -> None:
    from ui.controller import Controller

    got = []

    class Loop:
        def confirm(self, rid: str, ok: bool) -> None:
            got.append((rid, ok))

    c = Controller(lambda _e: None)
    c.loop = Loop()
    assert c.confirm("x", True) is True
    assert got == [("x", True)]


def test_a_consequential_request_from_the_real_core(
    qtbot: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """The rule core asks before opening an app; No is clicked; nothing runs and
    the core's answer shows as a tool action."""
    apps = tmp_path / "xdg" / "applications"
    apps.mkdir(parents=True)
    ran = tmp_path / "ran"
    (apps / "calculator.desktop").write_text(
        f"[Desktop Entry]\nType=Application\nName=Calculator\nExec=touch {ran}\n"
    )
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "none"))
    from assistant.config import load_settings, update_settings
    from ui.bridge import Bridge
    from ui.controller import Controller, CoreOptions, SilentSource
    from ui.main_window import MainWindow

    update_settings({"use_llm": False})
    bridge = Bridge()
    controller = Controller(
        bridge, CoreOptions(speak=False, source_factory=lambda _s: SilentSource())
    )
    window = MainWindow(controller, bridge, load_settings().settings)
    qtbot.addWidget(window)
    requests: list[ToolRequest] = []
    results: list[ToolResult] = []
    bridge.tool_request.connect(requests.append)
    bridge.tool_result.connect(results.append)
    controller.start()
    try:
        qtbot.waitUntil(controller.ready.is_set, timeout=60000)
        window.text.setText("open calculator")
        window.send.click()
        qtbot.waitUntil(lambda: bool(requests), timeout=30000)
        assert window.confirm.current is not None
        assert window.confirm.title.text().lower() == requests[0].description.lower() + "?"
        window.confirm.no.click()
        qtbot.waitUntil(lambda: bool(results), timeout=30000)
        assert results[0].request_id == requests[0].request_id and not results[0].ok
        qtbot.waitUntil(  # the refusal is Parley's reply, with the tool's icon
            lambda: any(b.tag.text() for b in window.transcript.bubbles), timeout=5000
        )
        assert not window.confirm.isVisible()
        assert not ran.exists()  # No means nothing ran
    finally:
        controller.close()
        bridge.close()
        window.stall.stop()


def test_a_tool_action_is_one_reply_with_its_icon(qtbot: Any, window: Any) -> None:
    from assistant.events import Notice, ReplyDone, Source, UserTurn

    for e in (
        UserTurn("take a note buy milk", 1),
        ToolResult("", "add_note", True, "Noted: buy milk."),
        ReplyDone("Noted: buy milk.", Source.TOOL, False, 2, "note_add"),
        UserTurn("hello", 3),
        ReplyDone("Hello!", Source.RULE, False, 4, "greeting"),
    ):
        window.bridge(e)
    bubbles = window.transcript.bubbles
    qtbot.waitUntil(lambda: len(bubbles) == 4, timeout=3000)
    assert [b.role for b in bubbles] == ["user", "assistant", "user", "assistant"]
    assert bubbles[1].tag.text() == "✎ Notes" and bubbles[1].text() == "Noted: buy milk."
    assert bubbles[3].tag.isHidden()  # the next reply is not the tool's
    # An unanswered question has no reply: its outcome is said once, as Parley's words.
    text = "No answer, so I did not delete the note."
    window.bridge(ToolResult("r9", "delete_note", False, text, {"reason": "timeout"}))
    window.bridge(Notice(text, "confirm_timeout"))
    qtbot.waitUntil(lambda: len(bubbles) == 5, timeout=3000)
    qtbot.wait(50)
    assert len(bubbles) == 5 and bubbles[4].text() == text and bubbles[4].role == "assistant"
