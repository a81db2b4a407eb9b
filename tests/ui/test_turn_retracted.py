"""A turn Parley ended too early is taken off the screen when the user goes on
(TurnRetracted), and the whole request shows as one turn."""

from __future__ import annotations

from typing import Any

from assistant.events import ReplyDelta, ReplyDone, Source, TurnRetracted, UserTurn


def say(window: Any, user: str, user_id: int, reply: str, reply_id: int) -> None:
    window.bridge(UserTurn(user, user_id))
    window.bridge(ReplyDelta(reply, reply_id))
    window.bridge(ReplyDone(reply, Source.RULE, False, reply_id, "calculate"))


def texts(window: Any) -> list[str]:
    return [b.text() for b in window.transcript.bubbles]


def test_a_retracted_turn_leaves_the_transcript(qtbot: Any, window: Any) -> None:
    say(window, "what is two plus two", 1, "2 plus 2 is 4.", 2)
    say(window, "what is nine times seven", 3, "9 times 7 is 63.", 4)
    qtbot.waitUntil(lambda: len(window.transcript.bubbles) == 4, timeout=3000)
    window.bridge(TurnRetracted(3, 4))
    # history ids are reused once rows are deleted: the merged turn may take them
    say(window, "what is nine times seven plus two", 3, "9 times 7 plus 2 is 65.", 4)
    qtbot.waitUntil(lambda: texts(window)[-1] == "9 times 7 plus 2 is 65.", timeout=3000)
    assert texts(window) == [
        "what is two plus two",
        "2 plus 2 is 4.",
        "what is nine times seven plus two",
        "9 times 7 plus 2 is 65.",
    ]
    layout_rows = window.transcript._column.count() - 1  # less the stretch
    assert layout_rows == 4


def test_retracting_an_unknown_turn_changes_nothing(qtbot: Any, window: Any) -> None:
    say(window, "what time is it", 1, "It's noon.", 2)
    qtbot.waitUntil(lambda: len(window.transcript.bubbles) == 2, timeout=3000)
    window.bridge(TurnRetracted(7, 8))
    qtbot.wait(50)
    assert texts(window) == ["what time is it", "It's noon."]
