"""Tool confirmation: yes, no, and no answer before the timeout (= no)."""

from __future__ import annotations

from typing import Any

from assistant.events import ToolRequest, ToolResult


def _req(rid: str = "r1", timeout: float = 20.0) -> ToolRequest:
    return ToolRequest(rid, "open_app", {"name": "firefox"}, "Open the app Firefox.", timeout)


def test_yes(qtbot: Any, window: Any, fake: Any) -> None:
    window.bridge(_req())
    qtbot.waitUntil(lambda: window.confirm.isVisible(), timeout=3000)
    assert window.confirm.description.text() == "Open the app Firefox."
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
    assert window.transcript.bubbles[0].role == "tool"


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
