"""With the real model (the embedded Gemma 3 270M) a request no tool can do
never ends in a heard promise or claim of the action: the model refuses, or
the claim gate (dialogue/claims.py, the "world" family) replaces its "I'll…"
with the truth. The requests are worded unlike `parley bench answers`' cases
and the issue-15 held-out set."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from recording import EventRecorder

from assistant.bench.answers import promises
from assistant.config import Settings
from assistant.dialogue.claims import FAMILIES, find_claim
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.events import ReplyDelta
from assistant.llm.engine import LlmEngine
from assistant.llm.provider import LlmProvider

REQUESTS = [
    "get me two cinema tickets for tonight",
    "please ring my sister and tell her I'm on my way",
    "switch the porch light on",
    "reserve a hotel room in York for Friday",
    "put on some relaxing piano music",
    "feed the cat at six",
    "transfer twenty pounds to my brother",
    "turn the oven off",
]


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "history.sqlite3")
    yield h
    h.close()


@pytest.mark.parametrize("text", REQUESTS)
def test_a_request_no_tool_can_do_is_never_promised(
    history: History, llm_engine: LlmEngine, text: str
) -> None:
    events = EventRecorder()
    m = DialogueManager(
        replace(Settings(), temperature=0.0), sink=events, history=history,
        llm=LlmProvider.ready(llm_engine),
    )  # fmt: skip
    m.open_conversation(new=True)
    r = m.handle(text)
    said = "".join(e.text for e in events.of(ReplyDelta))
    assert not any(outcome.ok for _name, outcome in r.actions), r.actions
    assert find_claim(said) is None, said  # the speaker heard no claim
    assert not promises(said), said  # nor a promise the gate does not know
    if FAMILIES["world"].correction in r.reply:
        assert r.reply.endswith(FAMILIES["world"].correction)
