"""Asking before a consequential call: the one question Parley may have open,
the user's answer to it (spoken, typed or a click) and its expiry.

A tool marked `consequential` never runs on the model's word or a rule's: its
call is parked here as a `PendingRequest` until the user says yes. Anything
other than a confident yes is a no: a no, something else, silence until the
timeout, Parley closing. Every step leaves an audit row ("tool_decision").
The turn around it (history rows, the reply's events) stays the manager's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from assistant.config import Settings
from assistant.dialogue import intents
from assistant.dialogue.tools import Plan, ToolOutcome
from assistant.events import Notice, NoticeCode, ToolRequest, ToolResult

NO_PENDING = "There is no request waiting for your answer now."
EXPIRED = "That question has expired, so I didn't {}. Ask again if you still want it."


def question(description: str, *, typed: bool) -> str:
    """The question for a parked call. A typed request is answered by typing or
    with the window's Yes/No buttons, so it is not told to *say* anything."""
    if typed:
        return f"I'll {description}. Shall I? (yes or no)"
    return f"I'll {description}. Shall I? Say yes or no."


class Audit(Protocol):
    """Writes a tool row into the transcript (`DialogueManager._audit`).
    `start=False`: never opens a conversation (a thread outside the turns)."""

    def __call__(
        self, kind: str, text: str, data: dict[str, Any], *, start: bool = True
    ) -> None: ...


@dataclass
class PendingRequest:
    """A consequential call waiting for the user's yes."""

    request_id: str
    tool: str
    args: dict[str, Any]
    description: str
    deadline: float
    """The clock's time (time.monotonic) after which no answer means no."""
    timer: threading.Timer | None = None


class Heard(Enum):
    """What the turn after a question says to it."""

    YES = "yes"
    NO = "no"
    OTHER = "other"
    """Something else: the question is denied and the turn is answered as itself."""
    LATE = "late"
    """The deadline passed before the turn came: the question timed out."""


class Confirmations:
    """The question waiting for the user's yes, at most one at a time.

    Threads: the brain thread (the one that runs turns) asks and answers:
    `ask`, `take`, `hear`, `late_reply`, `decide`, `claim`, `click`, `drop`.
    The question's timeout calls `expire` on its own timer thread, so the brain
    thread never waits for an answer. `pending` may be read on any thread;
    `close` runs on the thread that closes Parley. `_lock` guards `_pending`
    and `_expired`, the fields the timer thread writes.
    """

    def __init__(
        self,
        *,
        settings: Callable[[], Settings],
        execute: Callable[[str, Plan, str], ToolOutcome],
        audit: Audit,
        emit: Callable[[object], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A getter: the manager's settings may be replaced between turns.
        self._settings = settings
        self._execute = execute
        """Runs an approved call: (tool, plan, request id) -> outcome."""
        self._audit = audit
        self._emit = emit
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: PendingRequest | None = None
        self._expired: PendingRequest | None = None
        """A question that timed out since the last turn: a late yes is told so."""
        # Requests already answered or timed out: a late click on one (the UI's
        # own countdown ends with the core's) is ignored, not answered again.
        self._decided: deque[str] = deque(maxlen=64)

    @property
    def pending(self) -> PendingRequest | None:
        return self._pending

    def timeout_s(self, typed: bool) -> float:
        """How long a question waits: longer for a typed request, whose user
        reads the question and types the answer."""
        s = self._settings()
        return float(s.typed_confirm_timeout_s if typed else s.confirm_timeout_s)

    def ask(self, tool: str, plan: Plan, *, typed: bool) -> str:
        """Park a consequential call until the user answers (an older question
        is replaced); returns the question to say."""
        request_id = uuid.uuid4().hex[:12]
        timeout = self.timeout_s(typed)
        pending = PendingRequest(
            request_id, tool, dict(plan.args), plan.description, self._clock() + timeout
        )
        pending.timer = threading.Timer(timeout, self.expire, (request_id,))
        pending.timer.daemon = True
        with self._lock:
            old, self._pending = self._pending, pending
        if old is not None and old.timer is not None:
            old.timer.cancel()
        self._audit(
            "tool_decision",
            f"waiting for the user's yes or no: {plan.description}",
            {"request_id": request_id, "tool": tool, "arguments": plan.args, "decision": "asked"},
        )
        self._emit(ToolRequest(request_id, tool, dict(plan.args), plan.description, timeout))
        pending.timer.start()
        return question(plan.description, typed=typed)

    def take(self) -> tuple[PendingRequest | None, PendingRequest | None]:
        """At the start of a turn: the open question and the one that timed
        out since the last turn. Both are cleared: this turn answers them, or
        they are over."""
        with self._lock:
            pending, self._pending = self._pending, None
            expired, self._expired = self._expired, None
        return pending, expired

    def hear(self, pending: PendingRequest, text: str, confidence: float) -> Heard:
        """Read the turn after the question. Only a confident yes or no counts
        as an answer. A question whose deadline passed (its timer had not fired
        yet) times out here: audited and told, and `Heard.LATE`."""
        if pending.timer is not None:
            pending.timer.cancel()
        if self._clock() > pending.deadline:
            self.timed_out(pending)
            with self._lock:
                self._expired = None  # answered here, late
            return Heard.LATE
        if confidence < self._settings().min_confidence:
            return Heard.OTHER
        if intents.is_yes(text):
            return Heard.YES
        if intents.is_no(text):
            return Heard.NO
        return Heard.OTHER

    def late_reply(self, expired: PendingRequest, text: str, confidence: float) -> str | None:
        """The reply to a yes or no to a question that timed out: said so, never
        passed on (the model would take "yes" as a request of its own). None
        when `text` is neither, or not heard confidently."""
        if confidence < self._settings().min_confidence:
            return None
        if not (intents.is_yes(text) or intents.is_no(text)):
            return None
        return EXPIRED.format(expired.description)

    def decide(self, pending: PendingRequest, approved: bool, by: str) -> tuple[str, bool]:
        """Record the decision (`by`: "user_turn", "other_turn", "click"); run
        the call on a yes. Returns the reply and whether the call succeeded."""
        self._decided.append(pending.request_id)
        decision = "approved" if approved else "denied"
        self._audit(
            "tool_decision",
            f"{decision} ({by.replace('_', ' ')}): {pending.description}",
            {
                "request_id": pending.request_id,
                "tool": pending.tool,
                "decision": decision,
                "by": by,
            },
        )
        if not approved:
            text = f"Okay, I won't {pending.description}."
            if by == "other_turn":
                text = f"I didn't {pending.description}: you said something else."
            self._emit(
                ToolResult(pending.request_id, pending.tool, False, text, {"reason": decision})
            )
            return text, False
        plan = Plan(pending.description, pending.args)
        outcome = self._execute(pending.tool, plan, pending.request_id)
        return outcome.text, outcome.ok

    def claim(self, request_id: str) -> PendingRequest | None:
        """The open question if it is `request_id` (a click on it), taken so
        that nothing else answers it; None otherwise."""
        with self._lock:
            pending = self._pending
            if pending is None or pending.request_id != request_id:
                return None
            self._pending = None
        return pending

    def decided(self, request_id: str) -> bool:
        """Whether `request_id` was answered or timed out (recently)."""
        return request_id in self._decided

    def click(self, pending: PendingRequest, approved: bool) -> str:
        """The reply to a click on a claimed question: its decision, or that it
        timed out when the click came after the deadline."""
        if pending.timer is not None:
            pending.timer.cancel()
        if self._clock() > pending.deadline:
            return self.timed_out(pending)
        reply, _ = self.decide(pending, approved, "click")
        return reply

    def expire(self, request_id: str) -> None:
        """The question's timeout (on its timer thread): no answer means no."""
        with self._lock:
            pending = self._pending
            if pending is None or pending.request_id != request_id:
                return
            self._pending = None
        self.timed_out(pending)

    def timed_out(self, pending: PendingRequest) -> str:
        """Record that `pending` got no answer in time; returns what is told."""
        self._decided.append(pending.request_id)
        with self._lock:
            self._expired = pending
        text = f"No answer, so I didn't {pending.description}."
        self._audit(
            "tool_decision",
            f"timed out: {pending.description}",
            {"request_id": pending.request_id, "tool": pending.tool, "decision": "timeout"},
        )
        self._emit(ToolResult(pending.request_id, pending.tool, False, text, {"reason": "timeout"}))
        self._emit(Notice(text, NoticeCode.CONFIRM_TIMEOUT))
        return text

    def drop(self) -> PendingRequest | None:
        """Forget the open question without a word (its turn was taken back);
        returns it."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()
        return pending

    def close(self) -> None:
        """Parley closes: an open question is dropped, and the audit trail says
        so (it ends every request). Never opens a conversation to say it."""
        pending = self.drop()
        if pending is not None:
            self._audit(
                "tool_decision",
                f"dropped, Parley closed: {pending.description}",
                {"request_id": pending.request_id, "tool": pending.tool, "decision": "closed"},
                start=False,
            )
