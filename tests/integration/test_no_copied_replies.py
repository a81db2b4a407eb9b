"""On the real embedded Gemma 3 270M, through the real DialogueManager: an
open question after unrelated LLM replies is answered on its own, never with
a copy of an earlier reply (issue 15: "what is the tallest mountain" -> "I
can't tell you a joke."); a follow-up still sees what it refers to."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.events import Source
from assistant.llm.engine import LlmEngine
from assistant.llm.provider import LlmProvider
from assistant.llm.templates import BASE_MODEL_EXAMPLES

CONVERSATIONS = (
    ("how do airplanes fly", "what is the smallest country", "what is the freezing point of water",
     "suggest a hobby"),
    ("tell me a joke about cats", "how many legs does a spider have", "what colour is a banana"),
    ("describe a forest", "what is ice made of", "suggest a hobby", "what do owls eat"),
)  # fmt: skip
EXAMPLE_REPLIES = [m.content for m in BASE_MODEL_EXAMPLES if m.role == "assistant"]
"""A few-shot example's reply is in every prompt, in a fresh conversation too:
saying it again is a leak of the header (bench answers counts those), not a
copy from the conversation."""


def _manager(tmp_path: Path, engine: LlmEngine) -> DialogueManager:
    m = DialogueManager(
        Settings(),  # the family's sampling: greedy for the plain format
        sink=lambda e: None,
        history=History(tmp_path / "h.sqlite3"),
        llm=LlmProvider.ready(engine),
    )
    m.open_conversation(new=True)
    return m


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def copy_of(reply: str, earlier: list[str]) -> str:
    """The earlier reply `reply` repeats near-verbatim ("" for none)."""
    for e in earlier:
        if e in EXAMPLE_REPLIES:
            continue
        if difflib.SequenceMatcher(None, _words(reply), _words(e)).ratio() >= 0.8:
            return e
    return ""


@pytest.mark.parametrize("questions", CONVERSATIONS, ids=lambda q: q[0])
def test_open_questions_in_a_row_copy_no_earlier_reply(
    tmp_path: Path, llm_engine: LlmEngine, questions: tuple[str, ...]
) -> None:
    m = _manager(tmp_path, llm_engine)
    earlier: list[str] = []
    try:
        for q in questions:
            r = m.handle(q)
            if r.source is not Source.LLM:
                continue  # an empty reply: "Sorry, I don't have an answer to that."
            assert not copy_of(r.reply, earlier), f"{q!r} -> {r.reply!r}, said before: {earlier}"
            earlier.append(r.reply)
        assert len(earlier) >= 2
    finally:
        m.close()


def test_a_question_about_the_user_still_finds_what_they_said(
    tmp_path: Path, llm_engine: LlmEngine
) -> None:
    m = _manager(tmp_path, llm_engine)
    try:
        m.handle("my cat is called Mochi")
        m.handle("what is the largest ocean")
        assert "Mochi" in m.handle("what is my cat called?").reply
    finally:
        m.close()
