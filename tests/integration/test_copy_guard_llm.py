"""On the real embedded Gemma 3 270M, through the real DialogueManager: the
copy guard (llm/copy_guard.py) keeps replies from repeating the few-shot
examples. The same questions with the guard off show that the model does copy
them, so the test exercises the guard rather than a lucky model."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.events import Source
from assistant.llm.copy_guard import EXAMPLE_RUN, words
from assistant.llm.engine import LlmEngine
from assistant.llm.provider import LlmProvider
from assistant.llm.templates import BASE_MODEL_EXAMPLES

QUESTIONS = (
    "what is the chemical symbol for gold",
    "how many legs does an insect have",
    "what colour do you get from mixing blue and yellow",
    "which ocean is the biggest",
    "what do bees make",
    "name a fruit that is red",
)
"""Open questions worded unlike `parley bench answers`' cases."""
COPY = EXAMPLE_RUN + 1
"""Words in a row of an example reply that make a copy (the guard allows fewer)."""


def copied_run(reply: str, said: str) -> str:
    """The first run of COPY words that `reply` shares with an example reply
    and the question does not hold ("" for none)."""
    mine, own = words(reply), " ".join(words(said))
    for example in (m.content for m in BASE_MODEL_EXAMPLES if m.role == "assistant"):
        theirs = words(example)
        runs = {" ".join(theirs[i : i + COPY]) for i in range(len(theirs) - COPY + 1)}
        for i in range(len(mine) - COPY + 1):
            run = " ".join(mine[i : i + COPY])
            if run in runs and run not in own:
                return run
    return ""


def _replies(tmp_path: Path, engine: LlmEngine, guard: bool) -> list[tuple[str, str]]:
    engine.guard_copies = guard
    m = DialogueManager(
        Settings(),  # the family's sampling: greedy for the plain format
        sink=lambda e: None,
        history=History(tmp_path / f"h{int(guard)}.sqlite3"),
        llm=LlmProvider.ready(engine),
    )
    out = []
    try:
        for q in QUESTIONS:
            m.open_conversation(new=True)
            r = m.handle(q)
            assert r.source is Source.LLM, (q, r.reply)
            out.append((q, r.reply))
    finally:
        m.close()
        engine.guard_copies = True
    return out


def test_no_reply_copies_an_example_and_without_the_guard_some_do(
    tmp_path: Path, llm_engine: LlmEngine
) -> None:
    unguarded = [(q, r) for q, r in _replies(tmp_path, llm_engine, False) if copied_run(r, q)]
    assert unguarded, "the model copied no example even without the guard: nothing was tested"
    for q, reply in _replies(tmp_path, llm_engine, True):
        assert reply.strip(), q
        assert not copied_run(reply, q), f"{q!r} -> {reply!r}"
