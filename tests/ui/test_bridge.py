"""Core events sent from a real non-GUI thread reach the widgets, on the GUI thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from assistant.events import (
    Error,
    Flagged,
    Latency,
    Partial,
    ReplyDelta,
    ReplyDone,
    Source,
    State,
    StateChanged,
    ToolResult,
    UserTurn,
)


def _from_thread(events: list[Any], sink: Any) -> None:
    t = threading.Thread(target=lambda: [sink(e) for e in events], name="core-like")
    t.start()
    t.join()


def test_events_from_a_core_thread_update_the_window(qtbot: Any, window: Any) -> None:
    gui = threading.get_ident()
    seen_on: set[int] = set()
    window.bridge.event.connect(lambda _e: seen_on.add(threading.get_ident()))

    _from_thread([StateChanged(State.LISTENING), Partial("what is two")], window.bridge)
    qtbot.waitUntil(lambda: window.partial.isVisible(), timeout=3000)
    assert "what is two" in window.partial.text()
    assert "Listening" in window.state_label.text()

    _from_thread(
        [
            UserTurn("what is two plus two", 7, 0.9, 1),
            StateChanged(State.THINKING),
            ReplyDelta("Two plus ", 8),
            ReplyDelta("two is **four**.", 8),
        ],
        window.bridge,
    )
    qtbot.waitUntil(lambda: len(window.transcript.bubbles) == 2, timeout=3000)
    user, reply = window.transcript.bubbles
    assert user.role == "user" and user.text() == "what is two plus two"
    assert reply.role == "assistant" and reply.text() == "Two plus two is **four**."
    assert not window.partial.isVisible()  # thinking hides the partial line
    assert window.stop.isEnabled()

    _from_thread(
        [
            ReplyDone("Two plus two is four.", Source.RULE, False, 8, "calculate"),
            Latency(8, {"intent": 2.0, "first_token": 3.5, "done": 4.0}),
            StateChanged(State.IDLE),
            Flagged(7, "low_confidence", "what is two plus two"),
            ToolResult("r1", "set_timer", True, "Timer set for 5 minutes."),
            Error("history_unwritable", "Parley cannot write its history."),
        ],
        window.bridge,
    )
    qtbot.waitUntil(lambda: bool(window.notices.texts()), timeout=3000)
    assert reply.text() == "Two plus two is four."
    assert "first token 4 ms" in reply.latency.text() or "first token 3 ms" in reply.latency.text()
    assert "UI stall" not in reply.latency.text()  # a developer's number, not a user's
    assert not reply.latency.isVisible()
    assert not window.latency_toggle.isVisible()  # timings are behind the developer setting
    window.set_latency_visible(True)
    assert reply.latency.isVisible()
    assert not user.tag.isVisible()  # no mark on the user's own words
    # The tool's outcome is not a card of its own: the reply that follows tells it.
    assert [b.role for b in window.transcript.bubbles] == ["user", "assistant"]
    assert window.notices.texts() == ["Parley cannot write its history."]
    assert "Idle" in window.state_label.text()
    assert not window.stop.isEnabled()
    assert seen_on == {gui}


def test_interrupted_reply_is_marked(qtbot: Any, window: Any) -> None:
    _from_thread(
        [ReplyDelta("Once upon", 3), ReplyDone("Once upon", Source.LLM, True, 3)], window.bridge
    )
    qtbot.waitUntil(lambda: bool(window.transcript.bubbles), timeout=3000)
    qtbot.waitUntil(lambda: window.transcript.bubbles[0].tag.isVisible(), timeout=3000)
    assert "interrupted" in window.transcript.bubbles[0].tag.text()


@pytest.mark.qt_no_exception_capture  # the handler's error is the point of this test
def test_a_failing_handler_does_not_stop_delivery(qtbot: Any, window: Any) -> None:
    def boom(_e: Any) -> None:
        raise RuntimeError("handler bug")

    window.bridge.partial.connect(boom)
    _from_thread([Partial("hello"), UserTurn("hello", 1)], window.bridge)
    qtbot.waitUntil(lambda: len(window.transcript.bubbles) == 1, timeout=3000)


def test_typed_text_goes_to_the_core_and_empty_text_is_refused(
    qtbot: Any, window: Any, fake: Any
) -> None:
    window.text.setText("   ")
    window.send.click()
    assert fake.names() == []
    assert "Type a message first" in window.statusBar().currentMessage()

    fake.accept_text = False  # the core is still starting: the text is kept
    window.text.setText("hello there")
    window.send.click()
    assert window.text.text() == "hello there"
    assert "still starting" in window.statusBar().currentMessage()

    fake.accept_text = True
    qtbot.keyClick(window.text, "\r")
    assert fake.calls[-1] == ("submit_text", "hello there")
    assert window.text.text() == ""


def test_stop_button_interrupts(qtbot: Any, window: Any, fake: Any) -> None:
    window.set_state(State.SPEAKING)
    window.stop.click()
    assert fake.names() == ["interrupt"]


def test_no_event_is_lost_under_concurrent_senders(qtbot: Any) -> None:
    """Bursts from several threads, each followed by a lone event after a quiet
    moment: a lost wake-up would leave that lone event stuck in the queue."""
    import time

    from ui.bridge import Bridge

    bridge = Bridge()
    got: list[str] = []
    bridge.partial.connect(lambda e: got.append(e.text))
    expected = 0
    for cycle in range(60):
        threads = [
            threading.Thread(target=lambda k=k: [bridge(Partial(f"{k}")) for _ in range(50)])
            for k in range(3)
        ]
        for t in threads:
            t.start()
        # Drain while the senders are still running, as the GUI thread would.
        while any(t.is_alive() for t in threads):
            qtbot.wait(1)
        for t in threads:
            t.join()
        expected += 150
        qtbot.waitUntil(lambda n=expected: len(got) == n, timeout=5000)
        time.sleep(0.002)
        lone = threading.Thread(target=lambda c=cycle: bridge(Partial(f"lone {c}")))
        lone.start()
        lone.join()
        expected += 1
        qtbot.waitUntil(lambda n=expected: len(got) == n, timeout=5000)
        assert got[-1] == f"lone {cycle}"
    bridge.close()


def test_signal_emit_keeps_reference_counts(qtbot: Any) -> None:
    """PySide6 6.12.0 dropped a reference to True on every emit() from Python
    (the app aborted after a few hundred events); pyproject excludes it."""
    import sys

    from ui.bridge import Bridge

    bridge = Bridge()
    bridge.partial.connect(lambda _e: None)
    before = sys.getrefcount(True)
    for _ in range(50):
        bridge.partial.emit(Partial("x"))
    assert sys.getrefcount(True) - before > -25
    bridge.close()
