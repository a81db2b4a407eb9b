"""Help menu windows: "What can I say?" and About.

The examples are checked against the rule grammar when the window opens
(`assistant.dialogue.intents.parse`): only sentences the rules really answer
are listed as such, so the list cannot drift from what Parley understands.
Tool examples are listed by the tools the core has.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

RULE_EXAMPLES: list[tuple[str, list[str]]] = [
    ("Time and date", ["what time is it", "what's the date today", "is it Monday"]),
    ("Timers and alarms", ["set a timer for 5 minutes", "set an alarm for 7 am",
                           "what timers do I have", "cancel the timer"]),
    ("Sums", ["what is 12 times 7", "what is the square root of 81"]),
    ("Notes", ["take a note buy milk", "read my notes", "delete the note buy milk"]),
    ("Opening things", ["open wikipedia.org"]),
    ("Talking to Parley", ["stop", "say that again", "what can you do", "thank you"]),
]

MODEL_EXAMPLES = [
    "why is the sky blue",
    "give me an idea for dinner",
    "write a short email to ann@example.com about Friday",
]

LICENCES = [
    ("Parley", "MIT"),
    ("Gemma 3 270M (built-in language model)", "Gemma Terms of Use"),
    ("Moonshine (speech recognition)", "MIT"),
    ("Vosk and its models", "Apache-2.0"),
    ("PocketSphinx", "BSD-2-Clause"),
    ("eSpeak NG (voice)", "GPL-3.0"),
    ("llama.cpp / llama-cpp-python", "MIT"),
    ("Qt / PySide6", "LGPL-3.0"),
]


def understood_examples() -> list[tuple[str, list[str]]]:
    """RULE_EXAMPLES, each sentence kept only when the rule grammar takes it."""
    from assistant.dialogue.intents import parse

    kept = []
    for title, sentences in RULE_EXAMPLES:
        ok = [s for s in sentences if parse(s) is not None]
        if ok:
            kept.append((title, ok))
    return kept


def tool_lines() -> list[str]:
    """What the core's tools do, from their own descriptions; the ones that
    change something say that Parley asks first."""
    try:
        from assistant.dialogue.builtin_tools import ToolEnv, builtin_registry

        tools = list(builtin_registry(ToolEnv()))
    except Exception:  # the list is help, not a condition for showing it
        return []
    return [
        t.description[:1].upper() + t.description[1:]
        + (" (Parley asks you first)" if t.consequential else "")
        for t in tools
    ]


def examples_html(model_on: bool, wake_phrase: str = "hey parley") -> str:
    parts = [f"<p>Say “{wake_phrase}” first, or hold Talk, or type it.</p>"]
    for title, sentences in understood_examples():
        items = "".join(f"<li>“{s}”</li>" for s in sentences)
        parts.append(f"<p><b>{title}</b></p><ul>{items}</ul>")
    tools = "".join(f"<li>{line}</li>" for line in tool_lines())
    if tools:
        parts.append(f"<p><b>Everything Parley can do for you</b></p><ul>{tools}</ul>")
    items = "".join(f"<li>“{s}”</li>" for s in MODEL_EXAMPLES)
    if model_on:
        parts.append(f"<p><b>Anything else</b> goes to the language model:</p><ul>{items}</ul>")
    else:
        parts.append("<p>With the language model turned on (Settings), you can also ask "
                     "questions and chat.</p>")
    return "".join(parts)


def version() -> str:
    try:
        return metadata.version("parley")
    except metadata.PackageNotFoundError:
        return "development copy"


def model_names(settings: Any) -> list[str]:
    """What the user runs, by the names people read (the catalog's), not ids:
    the models the settings select, explicitly or as the automatic choice."""
    in_use: dict[str, str] = {}
    try:
        from assistant.models import list_models

        for m in list_models():
            if m.in_use:
                in_use.setdefault(m.kind, m.name)
    except Exception:  # no model manager, or an unreadable catalog
        pass
    llm = in_use.get("llm", getattr(settings, "llm_model", "") or "the built-in model")
    if not getattr(settings, "use_llm", True):
        llm = "turned off"
    stt = in_use.get("stt", getattr(settings, "stt_model", "") or "the best installed")
    voice = getattr(settings, "tts_voice", "") or "the system voice (eSpeak NG)"
    return [f"Language model: {llm}", f"Speech recognition: {stt}", f"Voice: {voice}"]


def about_html(settings: Any) -> str:
    models = "".join(f"<li>{m}</li>" for m in model_names(settings))
    licences = "".join(f"<li>{n}: {lic}</li>" for n, lic in LICENCES)
    return (
        f"<h3>Parley {version()}</h3>"
        "<p>An offline voice assistant: everything you say stays on this computer.</p>"
        f"<p><b>Models in use</b></p><ul>{models}</ul>"
        f"<p><b>Licences</b></p><ul>{licences}</ul>"
    )


class TextWindow(QDialog):
    def __init__(self, title: str, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.body = QLabel(html, self)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setContentsMargins(4, 4, 12, 4)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        scroll = QScrollArea(self)
        scroll.setWidget(self.body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        box = QVBoxLayout(self)
        box.addWidget(scroll, 1)
        box.addWidget(buttons)
        # As tall as the text, up to a size that fits any screen (then it scrolls).
        self.resize(520, min(self.body.sizeHint().height() + 70, 600))
