"""Notices: one line per condition, replaced when it changes, gone when it
ends, dismissible, and never a sentence said twice."""

from __future__ import annotations

from typing import Any


def test_one_line_per_condition(qtbot: Any) -> None:
    from ui.notices import NoticeBar

    bar = NoticeBar()
    qtbot.addWidget(bar)
    bar.show_notice("no_microphone", "No microphone found.", error=True)
    bar.show_notice("no_microphone", "No microphone found.", error=True)
    assert bar.texts() == ["No microphone found."]
    assert not bar.lines["input"].property("error")  # Parley works around it: amber
    bar.show_notice("input_lost", "The microphone was unplugged.", error=True)
    assert bar.texts() == ["The microphone was unplugged."]  # replaced, not added
    bar.show_notice("input_back", "The microphone is back.")
    assert bar.texts() == [] and bar.isHidden()  # the condition ended
    bar.show_notice("history_unwritable", "Parley cannot write its history.", error=True)
    assert bar.lines["history"].property("error")
    bar.lines["history"].close_button.click()
    assert bar.texts() == []
    bar.show_notice("history_unwritable", "Parley cannot write its history.", error=True)
    assert bar.texts() == []  # dismissed: the same notice does not come back
    bar.show_notice("no_microphone", "No microphone found.", error=True)
    bar.lines["input"].close_button.click()
    bar.show_notice("input_back", "The microphone is back.")
    bar.show_notice("no_microphone", "No microphone found.", error=True)
    assert bar.texts() == ["No microphone found."]  # lost again: said again
    bar.clear("input")
    bar.show_notice("output_unavailable", "No speaker found. Plug one in; replies are shown "
                    "as text.", error=True)
    bar.show_notice("output_unavailable", "No speaker found. Plug one in; replies are shown "
                    "as text.", error=True)
    assert bar.texts() == ["No speaker found. Plug one in; replies are shown as text."]  # once


def test_a_wrong_model_path_is_named_as_such(tmp_path: Any) -> None:
    from ui.notices import model_cause

    missing = str(tmp_path / "models" / "mistral.gguf")
    said = model_cause("Model file not found. Run parley models pull.", missing)
    assert missing in said and "does not exist" in said and "models pull" not in said
    # A model id (not a path) keeps the core's own words.
    assert model_cause("Model not installed.", "qwen2.5-0.5b-instruct-q4_k_m") == (
        "Model not installed.")
