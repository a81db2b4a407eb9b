"""Parley never says it did something no tool did (assistant/dialogue/claims.py):
the checker on a table of sentences, the streaming gate on every way a reply
can be cut into tokens, and the manager with a scripted model (the same path
with the real model: tests/integration/test_honest_words.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.dialogue.claims import ClaimGate, correction, find_claim, unbacked_claim
from assistant.dialogue.history import History
from assistant.dialogue.manager import DialogueManager
from assistant.dialogue.tools import ToolOutcome
from assistant.events import Event, ReplyDelta, ReplyDone
from assistant.llm.provider import LlmProvider
from assistant.llm.templates import Message, PlainFormat

CLAIMS = [
    ("Opened https://example.org in your web browser.", "open"),
    ("I've opened example.org for you.", "open"),
    ("I have opened the page in your browser.", "open"),
    ("Sure! I've just launched Firefox for you.", "open"),
    ("Okay, opened Firefox.", "open"),
    ("I'm opening your browser now.", "open"),
    ("Okay I've opened it.", "open"),
    ("I\u2019ve opened it.", "open"),  # a typographic apostrophe
    ("I've deleted your note about milk.", "delete"),
    ("Deleted your note.", "delete"),
    ("All your notes have been deleted.", "delete"),
    ("Timer set for 5 minutes.", "timer"),
    ("I have set an alarm for 7 am.", "timer"),
    ("Your timer has been set.", "timer"),
    ("I'll remind you at five to call mum.", "timer"),
    ("I've started a 10 minute timer.", "timer"),
    ("Reminder set.", "timer"),
    ("Noted.", "note"),
    ("Noted, I'll keep that in mind.", "note"),
    ("I've added milk to your shopping list.", "note"),
    ("I've saved that as a note.", "note"),
    ("I've made a note.", "note"),
    ("Okay, I'll note that down.", "note"),
    ("I've sent the email to Bob.", "send"),
    ("Your email has been sent.", "send"),
    ("Email sent!", "send"),
    ("I've cancelled your timer.", "cancel"),
    ("Deleted the timer.", "cancel"),
    ("The alarm has been turned off.", "cancel"),
    # Actions in the user's world that no tool can do.
    ("I'll buy you a copy of the book tomorrow.", "world"),
    ("I've ordered a curry from the place round the corner.", "world"),
    ("I'm booking two seats at the cinema now.", "world"),
    ("Sure, I will reserve a room at the hotel.", "world"),
    ("I've just paid your phone bill.", "world"),
    ("I'll transfer $20 to your brother.", "world"),
    ("I'm calling your dad right now.", "world"),
    ("Okay, I'll phone Grandma Rose.", "world"),
    ("I've switched on the porch light.", "world"),
    ("I turned the fan off for you.", "world"),
    ("I'm turning the heating up a little.", "world"),
    ("I've dimmed the bedroom lights.", "world"),
    ("I'll lock the garage before bed.", "world"),
    ("I've watered your flowers.", "world"),
    ("I'm going to put on some classical music.", "world"),
    ("I'll start the dishwasher.", "world"),
    ("I have fed the cat.", "world"),
    ("Booked!", "world"),
    ("Done, ordered a taxi for you.", "world"),
    ("Your reservation has been confirmed.", "world"),
    ("Your pizza is on its way.", "world"),
    ("The front door is now locked.", "world"),
    ("I'll bring you a coffee in a minute.", "world"),
    ("I'm getting you a cab.", "world"),
    ("I'll pay them today.", "world"),
    ("I'm heading down to the supermarket now.", "world"),
    ("I went to the post office this morning.", "world"),
    ("I'm driving over to Bristol now.", "world"),
]

NOT_CLAIMS = [
    "I can open web pages if you ask.",
    "Opened in 1850, the bridge was the longest of its kind.",
    "The bridge was opened in 1850.",
    "I haven't opened anything.",
    "I have not set any timer.",
    "Shall I open example.org for you?",
    "Would you like me to set a timer?",
    "The first email was sent in 1971 by Ray Tomlinson.",
    "Once the timer is set, it will ring.",
    "A timer is set by saying set a timer for ten minutes.",
    "I think the answer is 42.",
    "Note that Paris is the capital of France.",
    "Noted physicist Richard Feynman liked bongos.",
    "I've never seen a dragon, but I hear it roars.",
    "I opened my eyes and saw the sea.",
    "Saved by the bell!",
    "I set the table before dinner.",
    "If you say yes, I can open it.",
    "I started to think about the problem.",
    "I've added some details to the story.",
    "Sent from my phone.",
    "You can set a timer by saying set a timer for 5 minutes.",
    "I sent him to the store.",
    "I'll explain how timers work.",
    "Cleared for takeoff, the plane rolled.",
    "I have a note here that says hello.",
    "The email is a way to send messages.",
    # The world family's look-alikes.
    "I can't switch things on or off in your home.",
    "I'd order the soup if I were you.",
    "Should I call your dad?",
    "I will not buy anything for you.",
    "If the lights are on, turn them off at the switch.",
    "She called her sister from the station.",
    "I'll tell you how to lock the door.",
    "I'll explain how booking a flight works.",
    "Let me think about the heating.",
    "I'll call it a night.",
    "I'll pay attention to the details.",
    "I'll turn to your next question.",
    "Called the Windy City, Chicago sits on a lake.",
    "Locked in a long war, the two kingdoms starved.",
    "The telephone call was made in 1876.",
    "I'll play a guessing game with you.",
    "Booking a table early is a good idea.",
    "You can order a pizza online.",
    "I haven't booked anything, and I can't.",
    "I'll give you an example.",
    "I'll get you an answer in a moment.",
    "I'm going to explain it step by step.",
    "I'm coming to the point.",
    "I'm going to answer that.",
    "I'm going to I don't know, maybe later.",
    "I'll go to the next step.",
    "I'll make you a short list of ideas.",
]


@pytest.mark.parametrize(("text", "family"), CLAIMS)
def test_claims_are_found_with_their_family(text: str, family: str) -> None:
    claim = find_claim(text)
    assert claim is not None and claim.family == family, claim


@pytest.mark.parametrize("text", NOT_CLAIMS)
def test_offers_negations_questions_and_history_are_not_claims(text: str) -> None:
    assert find_claim(text) is None


def test_a_claim_is_backed_only_by_a_successful_tool_of_its_family() -> None:
    text = "I've set a timer for 5 minutes."
    ok, failed = ToolOutcome("Timer set.", ok=True), ToolOutcome("No.", ok=False)
    assert unbacked_claim(text, [("set_timer", ok)]) is None
    assert unbacked_claim(text, [("set_timer", failed)]) is not None
    assert unbacked_claim(text, [("add_note", ok)]) is not None  # another family
    assert unbacked_claim("Opened example.org.", [("open_url", ok)]) is None


def test_corrections_are_true_and_say_how() -> None:
    open_claim = find_claim("Opened https://example.org in your web browser.")
    assert open_claim is not None
    words = correction(open_claim)
    assert "haven't opened anything" in words and '"open example.org"' in words
    assert find_claim(words) is None  # the correction itself claims nothing
    world = find_claim("I'll buy you a train ticket.")
    assert world is not None and world.family == "world"
    words = correction(world)
    assert "can't" in words and "timers" in words and "notes" in words and "open" in words
    assert find_claim(words) is None and len(words.split()) <= 30  # short, spoken
    assert unbacked_claim("I'll buy you a train ticket.", [("open_url", ToolOutcome("ok"))])


# -- the gate ---------------------------------------------------------------------------------


def splits(text: str) -> Iterator[list[str]]:
    """The text cut as a tokenizer might: words with their spaces, then
    pieces of 1, 2, 3 and 5 characters."""
    yield re.findall(r"\s*\S+", text)
    for n in (1, 2, 3, 5):
        yield [text[i : i + n] for i in range(0, len(text), n)]


def run_gate(pieces: Sequence[str], actions: Sequence[tuple[str, ToolOutcome]] = ()):  # type: ignore[no-untyped-def]
    gate = ClaimGate(actions)
    out: list[str] = []
    first = None
    for i, piece in enumerate(pieces):
        said = gate.feed(piece)
        if said and first is None:
            first = i
        out.append(said)
        if gate.claim is not None:
            break
    out.append(gate.close())
    return "".join(out), gate.claim, first


@pytest.mark.parametrize("text", NOT_CLAIMS + ["Paris is the capital of France. It is lovely."])
def test_the_gate_lets_every_ordinary_reply_through_unchanged(text: str) -> None:
    for pieces in splits(text):
        out, claim, _first = run_gate(pieces)
        assert claim is None and out == text, pieces


@pytest.mark.parametrize(("text", "family"), CLAIMS)
def test_the_gate_never_lets_a_claim_out(text: str, family: str) -> None:
    for pieces in splits(text):
        out, claim, _first = run_gate(pieces)
        assert claim is not None and claim.family == family
        assert find_claim(out) is None, (pieces, out)


def test_text_before_the_claim_goes_out_and_the_rest_is_stopped() -> None:
    text = "Example.org is reserved for documentation. I've opened it for you. Enjoy!"
    for pieces in splits(text):
        out, claim, _first = run_gate(pieces)
        assert claim is not None
        assert out == "Example.org is reserved for documentation. "


def test_ordinary_replies_start_at_once() -> None:
    words = re.findall(r"\s*\S+", "Paris is the capital of France.")
    _out, _claim, first = run_gate(words)
    assert first == 0  # the first word is said as soon as it is whole
    words = re.findall(r"\s*\S+", "I think it will rain tomorrow.")
    _out, _claim, first = run_gate(words)
    assert first == 1  # "I" waits for one word: "think" can start no claim


def test_a_backed_claim_streams_unchanged() -> None:
    text = "Timer set for 5 minutes, and I've set it for the pasta."
    out, claim, _ = run_gate(re.findall(r"\s*\S+", text), [("set_timer", ToolOutcome("ok"))])
    assert claim is None and out == text


# -- the manager, with a scripted model ----------------------------------------------------------


class ScriptedModel:
    """Writes `reply` token by token, however it is asked (no tool calls)."""

    format = PlainFormat()
    path = Path("scripted.gguf")

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.closed = False

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return self.format.render(messages, add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prefill_text(self, text: str, *_a: object, **_k: object) -> int:
        return 0

    def stream(self, messages, **_kw) -> Iterator[str]:  # type: ignore[no-untyped-def]
        try:
            yield from re.findall(r"\s*\S+", self.reply)
        finally:
            self.closed = True


def manager(tmp_path: Path, reply: str) -> tuple[DialogueManager, list[Event], ScriptedModel]:
    history = History(tmp_path / "history.sqlite3")
    events: list[Event] = []
    model = ScriptedModel(reply)
    m = DialogueManager(
        replace(Settings(), use_llm=True), sink=events.append, history=history,
        llm=LlmProvider.ready(model),  # type: ignore[arg-type]
    )  # fmt: skip
    m.complete_call = lambda *a, **k: 'none"}'
    m.open_conversation(new=True)
    return m, events, model


def streamed(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReplyDelta))


def test_an_unbacked_claim_is_replaced_before_it_is_said(tmp_path: Path) -> None:
    m, events, model = manager(
        tmp_path, "Sure! Opened https://example.org in your web browser. It should load now."
    )
    r = m.handle("say yes")
    fixed = correction(find_claim("Opened example.org"))  # type: ignore[arg-type]
    assert r.reply == "Sure! " + fixed
    assert streamed(events) == "Sure! " + fixed  # "Opened" never reached the speaker
    assert [e.text for e in events if isinstance(e, ReplyDone)] == [r.reply]
    assert model.closed  # the generation was stopped, not read to its end
    assert m.history is not None
    row = [t for t in m.history.turns(m.conversation_id) if t.role == "assistant"][-1]
    assert (row.text, row.status) == (r.reply, "done")
    assert m.messages[-1] == Message("assistant", r.reply)  # the model's context too


def test_an_ordinary_reply_is_untouched(tmp_path: Path) -> None:
    reply = "I can open web pages if you ask. Opened in 1850, the bridge still stands."
    m, events, _ = manager(tmp_path, reply)
    r = m.handle("tell me about the bridge")
    assert r.reply == reply and streamed(events) == reply
