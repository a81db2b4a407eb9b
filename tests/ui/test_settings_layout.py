"""The Settings dialog's layout: each hint sits right under its field."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication, QLabel, QWidget

from assistant.config import Settings


def _below(dialog: Any, key: str) -> int:
    """Pixels between the bottom of `key`'s field and the top of its hint's
    words (a QLabel centres its words in the height it is given)."""
    from ui.settings_dialog import HELP

    field: QWidget = dialog.fields[key].widget
    page = field.parentWidget()
    hint = next(h for h in page.findChildren(QLabel) if h.text() == HELP[key])
    bottom = field.mapTo(page, field.rect().bottomLeft()).y()
    spare = hint.height() - hint.heightForWidth(hint.width())
    return hint.mapTo(page, hint.rect().topLeft()).y() + spare // 2 - bottom


def test_every_hint_sits_under_its_field(qtbot: Any) -> None:
    """The Instructions box (the one field that could grow) used to take a
    row of the free height and leave its hint's words floating ~60 px below it."""
    from ui.settings_dialog import HELP, TABS, SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    for i, (_title, keys) in enumerate(TABS):
        dialog.tabs.setCurrentIndex(i)
        QApplication.processEvents()
        for key in keys:
            if HELP.get(key):
                assert _below(dialog, key) <= 12, key


def test_the_automatic_model_is_named_in_plain_words(qtbot: Any) -> None:
    """The code says "embedded default"; the rest of the app says built in."""
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings())
    qtbot.addWidget(dialog)
    assert dialog.fields["llm_model"].widget.itemText(0) == "Automatic (the built-in model)"
