"""The conversation list from history (real core, rules only): new conversation,
switching back to an older one, and going on in it."""

from __future__ import annotations

from typing import Any

from assistant.config import load_settings, update_settings
from assistant.events import ReplyDone, UserTurn


def test_new_switch_and_continue(qtbot: Any) -> None:
    from ui.bridge import Bridge
    from ui.controller import Controller, CoreOptions, SilentSource
    from ui.main_window import MainWindow

    update_settings({"use_llm": False})
    bridge = Bridge()
    options = CoreOptions(speak=False, source_factory=lambda _s: SilentSource())
    controller = Controller(bridge, options)
    window = MainWindow(controller, bridge, load_settings().settings)
    qtbot.addWidget(window)
    controller.on_ready = lambda: bridge.run_on_gui(window.core_ready)
    done: list[ReplyDone] = []
    users: list[UserTurn] = []
    bridge.reply_done.connect(done.append)
    bridge.user_turn.connect(users.append)
    controller.start()

    def say(text: str) -> None:
        n = len(done)
        window.text.setText(text)
        window.send.click()
        qtbot.waitUntil(lambda: len(done) > n, timeout=30000)

    try:
        qtbot.waitUntil(controller.ready.is_set, timeout=60000)
        say("what is two plus two")
        first = users[-1].conversation_id
        window.new_button.click()
        assert window.transcript.bubbles == []
        say("what is three times three")
        second = users[-1].conversation_id
        assert second != first
        qtbot.waitUntil(lambda: window.conversations.count() == 2, timeout=5000)
        titles = [window.conversations.item(i).text() for i in range(2)]
        assert titles == ["what is three times three", "what is two plus two"]

        window._open_item(window.conversations.item(1))  # what a click does
        texts = [b.text() for b in window.transcript.bubbles]
        assert texts[0] == "what is two plus two" and len(texts) == 2
        say("and what is five minus one")
        assert users[-1].conversation_id == first  # the older conversation goes on
        assert len(window.transcript.bubbles) == 4
    finally:
        controller.close()
        bridge.close()
        window.stall.stop()


def test_hard_cases_list_flagged_turns(qtbot: Any) -> None:
    from assistant import paths
    from assistant.dialogue.history import History
    from ui.hard_cases import HardCases

    with History(paths.history_db()) as h:
        cid = h.new_conversation()
        h.add_turn(cid, "user", "mmm hrm", confidence=0.1, flagged="low_confidence")
        h.add_turn(cid, "user", "what time is it")
        turns = h.flagged()
    d = HardCases(turns)
    qtbot.addWidget(d)
    assert d.list.count() == 1
    assert "unsure what was heard" in d.list.item(0).text() and "mmm hrm" in d.list.item(0).text()
    d.list.itemActivated.emit(d.list.item(0))  # double-click / Enter
    assert d.chosen == "mmm hrm"
    empty = HardCases([])
    qtbot.addWidget(empty)
    assert empty.list.count() == 0
