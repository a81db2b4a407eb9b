"""Honest words with the real model (the embedded Gemma 3 270M): a setting
that leaves no room for any message is named as the setting, not blamed on the
user; a reply that claims an action no tool did is replaced before it is said."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from recording import EventRecorder

from assistant.config import Settings
from assistant.dialogue.claims import find_claim
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.events import Error, ReplyDelta, Source, ToolResult
from assistant.llm.engine import LlmEngine
from assistant.llm.provider import LlmProvider
from assistant.llm.templates import Message


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "history.sqlite3")
    yield h
    h.close()


def make(history: History, engine: Any, **overrides: Any) -> tuple[DialogueManager, EventRecorder]:
    events = EventRecorder()
    m = DialogueManager(
        replace(Settings(), **overrides), sink=events, history=history,
        llm=LlmProvider.ready(engine),
    )  # fmt: skip
    m.open_conversation(new=True)
    return m, events


# -- a setting that makes every prompt too long ------------------------------------------------


def test_a_huge_system_prompt_is_named_not_the_users_words(
    history: History, llm_engine: LlmEngine
) -> None:
    huge = "You are a helpful assistant who answers kindly. " * 2100  # 100 KB
    assert len(huge) >= 100_000
    m, events = make(history, llm_engine, system_prompt=huge)
    r = m.handle("tell me a joke")
    assert r.reply.startswith("Your system_prompt setting is too long for this model's context (")
    assert "Settings > Language model" in r.reply and "config.toml" in r.reply
    assert "fewer words" not in r.reply and "That message" not in r.reply
    assert [e.code for e in events.of(Error)] == ["system_prompt_too_long"]
    assert r.flagged is None  # the user's turn is not a hard case: nothing was wrong with it
    assert not any(t.flagged for t in history.turns(m.conversation_id))
    # Every LLM turn says the same; rule answers still work.
    assert m.handle("why is the sky blue").reply == r.reply
    assert m.handle("what is 2 plus 2").reply == "2 plus 2 is 4."


def test_a_context_too_small_for_the_instructions_names_n_ctx(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine, n_ctx=256, max_tokens=200)
    r = m.handle("tell me a joke")
    assert r.reply.startswith("The model's context is too small for Parley's instructions")
    assert "n_ctx 256 minus max_tokens 200" in r.reply
    assert "raise n_ctx or lower max_tokens" in r.reply.lower()
    assert [e.code for e in events.of(Error)] == ["context_too_small"]


def test_a_long_message_is_still_the_users_to_shorten(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine)
    r = m.handle("tell me about this " + "word " * 3000)
    assert r.reply.startswith("That message is too long for the model") and "fewer words" in r.reply
    assert [e.code for e in events.of(Error)] == ["input_too_long"]


# -- a claim no tool backs -----------------------------------------------------------------------


class Spy:
    """The real engine, recording what the model wrote before the gate."""

    def __init__(self, engine: LlmEngine) -> None:
        self._engine = engine
        self.written: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        self.written.append("")
        for delta in self._engine.stream(*args, **kwargs):
            self.written[-1] += delta
            yield delta


# The brief's case: the page was opened once; the user says "yes" again, with
# nothing pending, and the model repeats what the tool said last time. The
# turns are spoken (`m.handle` below is not typed), so the question says "Say".
EARLIER = [
    ("user", "open example.org"),
    ("assistant", "I'll open https://example.org in your web browser. Shall I? Say yes or no."),
    ("user", "yes"),
    ("assistant", "Opened https://example.org in your web browser."),
]


@pytest.mark.parametrize("text", ["yes", "yes open it", "say yes"])
def test_the_real_model_never_says_it_opened_a_page_nothing_opened(
    history: History, llm_engine: LlmEngine, text: str
) -> None:
    spy = Spy(llm_engine)
    m, events = make(history, spy, temperature=0.0)  # greedy: the same words every run
    m.messages = [Message(role, words) for role, words in EARLIER]  # type: ignore[arg-type]
    r = m.handle(text)
    said = "".join(e.text for e in events.of(ReplyDelta))
    assert not events.of(ToolResult)  # no tool ran in this turn
    assert find_claim(said) is None, said  # nothing claimed reached the speaker
    written = spy.written[-1] if spy.written else ""
    if find_claim(written) is not None:  # the model did claim it: the truth replaced it
        assert r.source is Source.LLM
        assert "I haven't opened anything just now" in r.reply, (written, r.reply)
        assert '"open example.org"' in r.reply
        stored = [t for t in history.turns(m.conversation_id) if t.role == "assistant"][-1]
        assert stored.text == r.reply and stored.status == "done"
    else:
        assert r.reply == written.strip()


def test_the_real_model_claim_is_caught_at_least_once(
    history: History, llm_engine: LlmEngine
) -> None:
    """The cases above are only a test if the model does write the claim:
    with these words it does (greedy decoding)."""
    spy = Spy(llm_engine)
    m, _events = make(history, spy, temperature=0.0)
    m.messages = [Message(role, words) for role, words in EARLIER]  # type: ignore[arg-type]
    r = m.handle("yes")
    assert find_claim(spy.written[-1]) is not None, spy.written
    assert r.reply.startswith("I haven't opened anything just now.")
