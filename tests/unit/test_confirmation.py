"""Confirmations on their own (dialogue/confirmation.py): asking, the answer
heard, a click, the timeout and a late answer, with fakes for what the manager
supplies (running the call, the audit rows, the events) and a clock the test
moves. The same paths through the whole manager are in test_tools_confirm.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from assistant.config import Settings
from assistant.dialogue.confirmation import EXPIRED, Confirmations, Heard
from assistant.dialogue.tools import Plan, ToolOutcome
from assistant.events import Notice, NoticeCode, ToolRequest, ToolResult

PLAN = Plan("delete the note 'buy milk'", {"id": 7})


@dataclass
class Desk:
    """A Confirmations with recording fakes around it."""

    settings: Settings = field(default_factory=Settings)
    now: float = 1000.0
    ran: list[tuple[str, Plan, str]] = field(default_factory=list)
    audits: list[tuple[str, str, dict[str, Any], bool]] = field(default_factory=list)
    events: list[object] = field(default_factory=list)
    timed_out: threading.Event = field(default_factory=threading.Event)
    confirmations: Confirmations = field(init=False)

    def __post_init__(self) -> None:
        self.confirmations = Confirmations(
            settings=lambda: self.settings,
            execute=self.execute,
            audit=self.audit,
            emit=self.emit,
            clock=lambda: self.now,
        )

    def execute(self, tool: str, plan: Plan, request_id: str) -> ToolOutcome:
        self.ran.append((tool, plan, request_id))
        return ToolOutcome(f"Did: {plan.description}.")

    def audit(self, kind: str, text: str, data: dict[str, Any], *, start: bool = True) -> None:
        self.audits.append((kind, text, data, start))

    def emit(self, event: object) -> None:
        self.events.append(event)
        if isinstance(event, Notice) and event.code == NoticeCode.CONFIRM_TIMEOUT:
            self.timed_out.set()

    def decisions(self) -> list[str]:
        return [data["decision"] for kind, _t, data, _s in self.audits if kind == "tool_decision"]

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def desk() -> Iterator[Desk]:
    d = Desk()
    yield d
    d.confirmations.drop()  # no timer thread outlives the test


def test_a_typed_request_is_not_told_to_say_anything(desk: Desk) -> None:
    """A typed request is answered by typing or a click, never by voice."""
    question = desk.confirmations.ask("delete_note", PLAN, typed=True)
    assert question == "I'll delete the note 'buy milk'. Shall I? (yes or no)"
    assert "say" not in question.lower()


def test_asking_parks_the_call_and_says_the_question(desk: Desk) -> None:
    question = desk.confirmations.ask("delete_note", PLAN, typed=False)
    assert question == "I'll delete the note 'buy milk'. Shall I? Say yes or no."
    pending = desk.confirmations.pending
    assert pending is not None
    assert (pending.tool, pending.args, pending.description) == (
        "delete_note",
        {"id": 7},
        PLAN.description,
    )
    assert pending.deadline == desk.now + desk.settings.confirm_timeout_s
    request = desk.of(ToolRequest)[-1]
    assert (request.request_id, request.tool, request.timeout_s) == (
        pending.request_id,
        "delete_note",
        desk.settings.confirm_timeout_s,
    )
    assert desk.decisions() == ["asked"]
    assert desk.ran == []  # asked, not done


def test_a_typed_question_waits_the_typed_timeout(desk: Desk) -> None:
    desk.settings = replace(Settings(), confirm_timeout_s=15.0, typed_confirm_timeout_s=300.0)
    desk.confirmations.ask("delete_note", PLAN, typed=True)
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    assert [r.timeout_s for r in desk.of(ToolRequest)] == [300.0, 15.0]


def test_a_new_question_replaces_the_open_one(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    first = desk.confirmations.pending
    desk.confirmations.ask("delete_all_notes", Plan("delete all 2 of your notes", {}), typed=False)
    second = desk.confirmations.pending
    assert first is not None and second is not None and second is not first
    assert first.timer is not None and first.timer.finished.is_set()  # its timeout cancelled
    desk.confirmations.expire(first.request_id)  # a stale timer firing changes nothing
    assert desk.confirmations.pending is second and desk.of(Notice) == []


@pytest.mark.parametrize(
    ("said", "confidence", "heard"),
    [
        ("yes", 1.0, Heard.YES),
        ("Sure, go ahead.", 1.0, Heard.YES),
        ("No thanks.", 1.0, Heard.NO),
        ("what time is it", 1.0, Heard.OTHER),
        ("yes", 0.1, Heard.OTHER),  # below min_confidence: not an answer
        ("", 1.0, Heard.OTHER),
    ],
)
def test_the_turn_after_the_question_is_read(
    desk: Desk, said: str, confidence: float, heard: Heard
) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending, expired = desk.confirmations.take()
    assert pending is not None and expired is None
    assert desk.confirmations.pending is None  # taken: this turn answers it
    assert desk.confirmations.hear(pending, said, confidence) is heard
    assert pending.timer is not None and pending.timer.finished.is_set()


def test_yes_runs_the_call_with_its_request_id(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending, _ = desk.confirmations.take()
    assert pending is not None
    reply, ok = desk.confirmations.decide(pending, True, "user_turn")
    assert (reply, ok) == ("Did: delete the note 'buy milk'.", True)
    assert desk.ran == [("delete_note", PLAN, pending.request_id)]
    assert desk.audits[-1][1] == "approved (user turn): delete the note 'buy milk'"
    assert desk.confirmations.decided(pending.request_id)


@pytest.mark.parametrize(
    ("by", "told"),
    [
        ("user_turn", "Okay, I won't delete the note 'buy milk'."),
        ("other_turn", "I didn't delete the note 'buy milk': you said something else."),
    ],
)
def test_no_runs_nothing_and_says_so(desk: Desk, by: str, told: str) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending, _ = desk.confirmations.take()
    assert pending is not None
    assert desk.confirmations.decide(pending, False, by) == (told, False)
    assert desk.ran == []
    result = desk.of(ToolResult)[-1]
    assert (result.ok, result.text, result.data) == (False, told, {"reason": "denied"})
    assert desk.decisions() == ["asked", "denied"]


def test_an_answer_after_the_deadline_is_late(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending, _ = desk.confirmations.take()
    assert pending is not None
    desk.now = pending.deadline + 0.5  # the timer thread has not fired yet
    assert desk.confirmations.hear(pending, "yes", 1.0) is Heard.LATE
    assert desk.ran == []
    assert desk.decisions() == ["asked", "timeout"]
    # Answered here, late: the next turn is not told about it again.
    assert desk.confirmations.take() == (None, None)


def test_the_timeout_fires_on_its_own_thread(desk: Desk) -> None:
    desk.settings = replace(Settings(), confirm_timeout_s=1.0)
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    request_id = desk.of(ToolRequest)[-1].request_id
    assert desk.timed_out.wait(10)
    assert desk.confirmations.pending is None
    assert desk.of(Notice)[-1].message == "No answer, so I didn't delete the note 'buy milk'."
    assert desk.of(ToolResult)[-1].data == {"reason": "timeout"}
    assert desk.confirmations.decided(request_id)
    # The next turn learns of it once: a yes to it is late.
    pending, expired = desk.confirmations.take()
    assert pending is None and expired is not None and expired.request_id == request_id
    assert desk.confirmations.take() == (None, None)


def test_a_late_yes_or_no_is_told_the_question_expired(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending = desk.confirmations.pending
    assert pending is not None
    desk.confirmations.expire(pending.request_id)
    _, expired = desk.confirmations.take()
    assert expired is not None
    told = EXPIRED.format("delete the note 'buy milk'")
    assert desk.confirmations.late_reply(expired, "yes", 1.0) == told
    assert desk.confirmations.late_reply(expired, "no", 1.0) == told
    assert desk.confirmations.late_reply(expired, "what time is it", 1.0) is None
    assert desk.confirmations.late_reply(expired, "yes", 0.1) is None
    assert desk.ran == []


def test_a_click_answers_only_its_own_question_and_only_once(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending = desk.confirmations.pending
    assert pending is not None
    assert desk.confirmations.claim("not-the-id") is None
    assert desk.confirmations.pending is pending  # a wrong id leaves it open
    claimed = desk.confirmations.claim(pending.request_id)
    assert claimed is pending and desk.confirmations.pending is None
    assert desk.confirmations.click(claimed, True) == "Did: delete the note 'buy milk'."
    assert desk.audits[-1][1] == "approved (click): delete the note 'buy milk'"
    # A second click: nothing to claim, and known as decided (ignored quietly).
    assert desk.confirmations.claim(pending.request_id) is None
    assert desk.confirmations.decided(pending.request_id)
    assert len(desk.ran) == 1


def test_a_click_after_the_deadline_times_out(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending = desk.confirmations.pending
    assert pending is not None
    desk.now = pending.deadline + 1
    claimed = desk.confirmations.claim(pending.request_id)
    assert claimed is not None
    assert desk.confirmations.click(claimed, True) == (
        "No answer, so I didn't delete the note 'buy milk'."
    )
    assert desk.ran == [] and desk.decisions() == ["asked", "timeout"]


def test_a_question_dropped_with_its_turn_leaves_no_row(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    pending = desk.confirmations.drop()
    assert pending is not None and pending.timer is not None and pending.timer.finished.is_set()
    assert desk.confirmations.pending is None
    assert desk.decisions() == ["asked"]


def test_closing_ends_the_audit_trail_without_opening_a_conversation(desk: Desk) -> None:
    desk.confirmations.ask("delete_note", PLAN, typed=False)
    desk.confirmations.close()
    kind, text, data, start = desk.audits[-1]
    assert (kind, text, data["decision"], start) == (
        "tool_decision",
        "dropped, Parley closed: delete the note 'buy milk'",
        "closed",
        False,
    )
    assert desk.ran == []
    desk.confirmations.close()  # nothing open: nothing more written
    assert len(desk.audits) == 2
