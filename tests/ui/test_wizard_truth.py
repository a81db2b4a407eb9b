"""The first-run wizard says only what is true of this installation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assistant.config import Settings


def _lines(page: Any) -> list[str]:
    return [page.list.item(i).text().strip() for i in range(page.list.count())]


def test_a_switched_off_language_model_is_not_in_use(qtbot: Any) -> None:
    """With the language model off (Settings), set-up again listed the built-in
    one as "in use": nothing answers with it."""
    from ui.onboarding import ModelsPage

    page = ModelsPage(replace(Settings(), use_llm=False))
    qtbot.addWidget(page)
    page.refresh()
    lines = _lines(page)
    answering = lines[lines.index("Answering: language model") + 1 :]
    chosen = [t for t in answering if "chosen, but turned off" in t]
    assert len(chosen) == 1, answering
    assert not any("in use" in t for t in answering), answering
    hearing = lines[: lines.index("Answering: language model")]
    assert any("in use" in t for t in hearing), hearing  # hearing is on: its model is in use


def test_a_switched_on_language_model_is_in_use(qtbot: Any) -> None:
    from ui.onboarding import ModelsPage

    page = ModelsPage(Settings())
    qtbot.addWidget(page)
    page.refresh()
    lines = _lines(page)
    answering = lines[lines.index("Answering: language model") + 1 :]
    assert sum("in use" in t for t in answering) == 1, answering


def test_the_welcome_page_does_not_promise_a_turned_off_language_model(qtbot: Any) -> None:
    """The welcome page said open questions go to a language model even when
    the user had turned it off."""
    from ui.onboarding import WelcomePage

    off = WelcomePage(llm_on=False)
    on = WelcomePage(llm_on=True)
    qtbot.addWidget(off)
    qtbot.addWidget(on)
    assert "go to a small language model" in on.text.text()
    assert "go to a small language model" not in off.text.text()
    assert "turned off" in off.text.text()
