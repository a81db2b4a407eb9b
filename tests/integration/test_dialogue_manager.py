"""The dialogue manager with the real LLM engine and real SQLite history."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from recording import EventRecorder

from assistant.config import Settings
from assistant.dialogue.history import History, HistoryError
from assistant.dialogue.manager import ASK_AGAIN, NO_LLM_HELP, DialogueManager
from assistant.dialogue.notes import NoteStore
from assistant.events import Error, Event, Flagged, Latency, ReplyDelta, ReplyDone, Source
from assistant.llm.cancel import CancelToken
from assistant.llm.engine import LlmEngine
from assistant.llm.provider import LlmProvider


@pytest.fixture
def history(tmp_path: Path):
    h = History(tmp_path / "history.sqlite3")
    yield h
    h.close()


def make(
    history: History | None, engine: LlmEngine | None, **overrides
) -> tuple[DialogueManager, EventRecorder]:
    settings = replace(Settings(), temperature=0.2, **overrides)
    events = EventRecorder()
    llm = LlmProvider.ready(engine) if engine is not None else None
    notes = NoteStore(history) if history is not None else None
    m = DialogueManager(settings, sink=events, history=history, llm=llm, notes=notes)
    m.open_conversation(new=True)
    return m, events


def test_rule_answers_fast_path_even_with_llm(history: History, llm_engine: LlmEngine) -> None:
    m, events = make(history, llm_engine)
    r = m.handle("what is 12 times 7")
    assert r.source is Source.RULE
    assert r.reply == "12 times 7 is 84."
    lat = events.of(Latency)[-1]
    assert lat.tokens == 0  # the LLM was not asked
    turns = history.turns(m.conversation_id)
    assert [(t.role, t.source) for t in turns] == [("user", ""), ("assistant", "rule")]
    assert turns[1].intent == "calculate"


def test_llm_reply_streams_and_is_stored(history: History, llm_engine: LlmEngine) -> None:
    m, events = make(history, llm_engine, max_tokens=24)
    r = m.handle("What is the capital of France?")
    assert r.source is Source.LLM
    deltas = events.of(ReplyDelta)
    assert deltas and "".join(d.text for d in deltas).strip() == r.reply
    done = events.of(ReplyDone)[-1]
    assert done.source is Source.LLM and not done.interrupted
    stored = history.turns(m.conversation_id)[-1]
    assert (stored.status, stored.source, stored.text) == ("done", "llm", r.reply)
    assert "first_token" in stored.timings


def test_second_turn_remembers_and_reuses_prefix(history: History, llm_engine: LlmEngine) -> None:
    m, events = make(history, llm_engine, max_tokens=16)
    m.handle("My name is Alice.")
    first = events.of(Latency)[-1]
    m.handle("What is my name?")
    second = events.of(Latency)[-1]
    # The conversation is in the prompt, but only the new turn is evaluated.
    assert len(m.messages) == 4
    assert second.prompt_tokens_evaluated < 30
    assert first.prompt_tokens_evaluated < 40  # system prompt already prefilled/cached


def test_cancel_keeps_partial_reply_marked_interrupted(
    history: History, llm_engine: LlmEngine
) -> None:
    cancel = CancelToken()
    seen: list[Event] = []

    def sink(e: Event) -> None:
        seen.append(e)
        if isinstance(e, ReplyDelta) and len(seen) > 0:
            cancel.cancel()  # like Ctrl-C after the first words

    settings = replace(Settings(), max_tokens=200)
    m = DialogueManager(settings, sink=sink, history=history, llm=LlmProvider.ready(llm_engine))
    m.open_conversation(new=True)
    r = m.handle("Tell me a very long story about a brave little fox.", cancel=cancel)
    assert r.interrupted
    done = [e for e in seen if isinstance(e, ReplyDone)][-1]
    assert done.interrupted
    stored = history.turns(m.conversation_id)[-1]
    assert stored.status == "interrupted"
    assert stored.text == r.reply and r.reply


def test_closing_while_a_reply_streams_stores_it_as_interrupted(
    history: History, llm_engine: LlmEngine
) -> None:
    """The app quits while the turn thread is still inside the model (it is
    not joined in time): the reply row is closed as interrupted by close(),
    never left 'streaming'."""
    cancel = CancelToken()
    statuses: list[str] = []

    def sink(e: Event) -> None:
        if isinstance(e, ReplyDelta) and not statuses:
            m.close()  # what Session.close does on quit, the turn still running
            statuses.append(history.turns(m.conversation_id)[-1].status)
            cancel.cancel()

    m = DialogueManager(
        replace(Settings(), max_tokens=200), sink=sink, history=history,
        llm=LlmProvider.ready(llm_engine),
    )  # fmt: skip
    m.open_conversation(new=True)
    m.handle("Tell me a very long story about a brave little fox.", cancel=cancel)
    assert statuses == ["interrupted"]
    assert history.turns(m.conversation_id)[-1].status == "interrupted"


def test_no_llm_says_what_it_can_do_and_flags(history: History) -> None:
    m, events = make(history, None)
    r = m.handle("Why is the sky blue?")
    assert r.reply == NO_LLM_HELP and r.source is Source.SYSTEM
    assert events.of(Flagged)[-1].reason == "unhandled"
    assert [t.text for t in history.flagged()] == ["Why is the sky blue?"]


@pytest.mark.parametrize(
    ("text", "confidence", "reason"),
    [
        ("", 1.0, "empty"),
        ("  ?!  ", 1.0, "unintelligible"),
        ("what time is it", 0.2, "low_confidence"),
    ],
)
def test_bad_input_is_not_guessed_at(
    history: History, text: str, confidence: float, reason: str
) -> None:
    m, events = make(history, None)
    r = m.handle(text, confidence=confidence)
    assert r.flagged == reason
    assert events.of(Flagged)[-1].reason == reason
    assert r.reply == ASK_AGAIN or "not sure I heard" in r.reply
    assert history.flagged()[0].flagged == reason


def test_frustration_is_acknowledged_and_flagged(history: History, llm_engine: LlmEngine) -> None:
    m, events = make(history, llm_engine)
    r = m.handle("no, that's wrong, you're not listening")
    assert events.of(Flagged)[-1].reason == "negative_sentiment"
    assert "sorry" in r.reply.lower()
    assert r.source is Source.SYSTEM


def test_notes_and_repeat_by_rule(history: History) -> None:
    m, _ = make(history, None)
    m.handle("take a note buy milk")
    assert "buy milk" in m.handle("read my notes").reply
    last = m.last_reply
    assert m.handle("repeat that").reply == last


def test_input_longer_than_context_is_refused_clearly(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine, n_ctx=2048)
    r = m.handle("tell me about this " + "word " * 3000)
    assert "too long" in r.reply
    assert any(e.code == "input_too_long" for e in events.of(Error))
    # The conversation goes on afterwards.
    assert m.handle("what is 2 plus 2").reply == "2 plus 2 is 4."


def test_continue_last_conversation(tmp_path: Path, history: History) -> None:
    m, _ = make(history, None)
    m.handle("take a note call mum")
    again = DialogueManager(Settings(), sink=EventRecorder(), history=history, llm=None)
    assert again.open_conversation(new=False) == m.conversation_id
    assert [x.content for x in again.messages][:1] == ["take a note call mum"]
    assert again.open_conversation(new=True) != m.conversation_id


def test_reopen_an_older_conversation_by_id(history: History) -> None:
    m, _ = make(history, None)
    m.handle("take a note call mum")
    first = m.conversation_id
    m.open_conversation(new=True)
    m.handle("what is two plus two")
    assert m.open_conversation(conversation_id=first) == first
    assert [x.content for x in m.messages][:1] == ["take a note call mum"]
    with pytest.raises(HistoryError):
        m.open_conversation(conversation_id=9999)
    assert m.conversation_id == first and m.messages  # a bad id changes nothing
    m.handle("what time is it")
    assert [t.text for t in history.turns(first) if t.role == "user"][-1] == "what time is it"


@pytest.mark.slow
def test_two_hundred_turns_never_overflow(history: History, llm_engine: LlmEngine) -> None:
    # A small window and short replies: the budget must drop old turns, never fail.
    # Each question refers to the one before ("and ..."), so every earlier turn
    # would be in a base model's prompt (a question of its own is sent alone).
    m, events = make(history, llm_engine, n_ctx=2048, max_tokens=3)
    m.window.n_ctx = 400  # the engine keeps its 2048; the budget is what is tested
    for i in range(200):
        r = m.handle(f"And question number {i}: tell me something about the number {i}.")
        assert r.source in (Source.LLM, Source.SYSTEM)
    assert not [e for e in events.of(Error)]
    assert m.window.start > 150
    assert len(history.turns(m.conversation_id)) == 400


def test_prepare_next_turn_leaves_only_the_users_words(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine, max_tokens=8)
    m.handle("Hello there, my friend.")
    m.handle("what is 9 times 9")  # a rule turn: a base model's prompt leaves it out
    assert m.prepare_next_turn() >= 1  # the next user opener (llm/prompt.py)
    question = "Which planet is the largest?"
    m.handle(question)
    evaluated = events.of(Latency)[-1].prompt_tokens_evaluated
    own = llm_engine.count_tokens(" " + question + "\nParley:") - 1  # minus BOS
    assert evaluated <= own + 1


def test_a_waiting_turn_stops_the_next_turn_prefill(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine, max_tokens=8)
    m.handle("Hello there, my friend.")
    m.handle("what is 9 times 9")
    assert m.prepare_next_turn(should_stop=lambda: True) == 0  # a turn is already queued
    question = "Which planet is the largest?"
    m.handle(question)  # the turn evaluates what the prefill left undone: the opener
    evaluated = events.of(Latency)[-1].prompt_tokens_evaluated
    own = llm_engine.count_tokens(" " + question + "\nParley:") - 1
    assert evaluated > own


def test_listening_ahead_leaves_only_the_last_words_to_evaluate(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine, max_tokens=8)
    m.handle("Hello there, my friend.")
    m.prepare_next_turn()
    m.handle("which planet in the solar system is the largest")  # nothing heard ahead
    unaided = events.of(Latency)[-1].prompt_tokens_evaluated
    m.prepare_next_turn()
    assert m.listen_ahead("what time is it") == 0  # a rule will answer: nothing to do
    partial = "which moon in the solar system"
    assert m.listen_ahead(partial) > 3  # while the user speaks
    assert m.listen_ahead(partial) <= 1  # nothing new (the last token is re-read at most)
    m.handle("which moon in the solar system is the largest")
    aided = events.of(Latency)[-1].prompt_tokens_evaluated
    ahead = llm_engine.count_tokens(" " + partial) - 1  # minus BOS
    assert aided <= unaided - ahead + 2  # the words heard ahead are not evaluated again


def test_speculation_at_a_pause_leaves_almost_nothing_to_evaluate(
    history: History, llm_engine: LlmEngine
) -> None:
    m, events = make(history, llm_engine, max_tokens=20)
    m.handle("Hello!")
    question = "what is the biggest animal in the ocean"
    assert m.speculate("what time is it") == 0  # a rule will answer: nothing to warm
    made = m.speculate(question)  # the pause: the reply starts now
    assert 0 < made <= 12
    r = m.handle(question)  # the end of the turn is confirmed with the same words
    lat = events.of(Latency)[-1]
    assert lat.ahead_tokens == made and lat.prompt_tokens_evaluated <= 1
    assert lat.tokens > 0 and r.reply  # the reply is the tokens made ahead (it may end in them)
    # Other words at the end of the turn: the guess is dropped, not spoken.
    m.speculate("tell me about the moon")
    m.handle("tell me about the sun")
    assert events.of(Latency)[-1].ahead_tokens == 0
