"""A typed turn through the real core (embedded Gemma GGUF, real history) in the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.config import update_settings
from assistant.events import ReplyDone, Source


@pytest.mark.slow
def test_typed_turns_through_the_real_core(qtbot: Any, gguf_path: Path) -> None:
    from ui.bridge import Bridge
    from ui.controller import Controller, CoreOptions, SilentSource
    from ui.main_window import MainWindow

    update_settings({"llm_model": str(gguf_path), "n_ctx": 1024, "max_tokens": 24})
    bridge = Bridge()
    options = CoreOptions(speak=False, source_factory=lambda _s: SilentSource())
    controller = Controller(bridge, options)
    controller.on_ready = lambda: bridge.run_on_gui(window.core_ready)
    from assistant.config import load_settings

    window = MainWindow(controller, bridge, load_settings().settings)
    qtbot.addWidget(window)
    window.show()
    done: list[ReplyDone] = []
    bridge.reply_done.connect(done.append)
    controller.start()
    try:
        qtbot.waitUntil(lambda: controller.loop is not None, timeout=60000)
        controller.session.llm.get(timeout=120)  # loaded off the GUI thread
        qtbot.wait(200)
        window.stall.max_ms = 0.0  # the turns, not the start-up

        # A rule turn, then one the language model answers.
        for text, n in (("what is two plus two", 1), ("Tell me something about the sea.", 2)):
            window.text.setText(text)
            window.send.click()
            qtbot.waitUntil(lambda n=n: len(done) == n, timeout=120000)
        rule, llm = done
        assert rule.source is Source.RULE
        assert "4" in rule.text or "four" in rule.text.lower()
        assert llm.source in (Source.LLM, Source.TOOL) and llm.text.strip()
        bubbles = window.transcript.bubbles
        assert [b.role for b in bubbles] == ["user", "assistant", "user", "assistant"]
        assert bubbles[2].text() == "Tell me something about the sea."
        assert bubbles[3].text() == llm.text  # the streamed deltas add up to the reply
        qtbot.waitUntil(lambda: bool(bubbles[3].latency.text()), timeout=10000)
        assert "first token" in bubbles[3].latency.text()
        # Both turns are in the history, in the conversation list.
        window.refresh_conversations()
        assert window.conversations.count() == 1
        print(f"\nGUI stall max during the typed turns: {window.stall.max_ms:.1f} ms "
              f"({window.stall.ticks} heartbeats)")
    finally:
        controller.close()
        bridge.close()
        window.stall.stop()
