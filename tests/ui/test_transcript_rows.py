"""The pane shows only the conversation it holds: bubbles of a conversation
left behind are gone from the screen at once, not at the next event loop."""

from __future__ import annotations

from typing import Any


def _stale(transcript: Any) -> list[str]:
    """Bubbles still on screen that the pane no longer holds."""
    from ui.transcript import Bubble

    return [
        b.text() for b in transcript.findChildren(Bubble)
        if not b.isHidden() and b not in transcript.bubbles
    ]


def test_cleared_and_retracted_bubbles_are_not_painted(qtbot: Any) -> None:
    from PySide6.QtWidgets import QApplication

    from ui.transcript import Transcript

    t = Transcript()
    qtbot.addWidget(t)
    t.resize(500, 400)
    t.show()
    t.add_user("what is 2 plus 2", 1)
    t.finish_reply("2 plus 2 is 4.", 2, False)
    QApplication.processEvents()  # the bubbles are on screen
    assert len(_stale(t)) == 0 and all(not b.isHidden() for b in t.bubbles)
    t.clear()  # another conversation is opened: no event loop runs in between
    t.add_user("what time is it", 3)
    assert _stale(t) == []
    t.finish_reply("It's noon.", 4, False)
    QApplication.processEvents()
    t.remove_turn(3, 4)  # the user went on: the turn is taken back
    assert _stale(t) == []
