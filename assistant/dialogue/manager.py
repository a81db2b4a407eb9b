"""The dialogue manager: routes one user turn to a rule answer or the LLM,
streams the reply as events, and writes both turns to history as they happen.

Order of a turn: empty / low-confidence input is not guessed at (ask again,
flag); negative sentiment is acknowledged (flag); a confident rule intent
answers at once, even when an LLM is loaded (the fast path); everything else
goes to the LLM with the conversation in context. Without an LLM Parley says
plainly what it can do and how to get a model.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.config import Settings
from assistant.dialogue import claims, intents, sentiment
from assistant.dialogue.builtin_tools import (
    ToolEnv,
    announcement,
    builtin_registry,
    matching_timers,
)
from assistant.dialogue.confirmation import NO_PENDING, Confirmations, Heard, PendingRequest
from assistant.dialogue.history import History, HistoryError
from assistant.dialogue.intents import RULE_CONFIDENCE, Intent, IntentName
from assistant.dialogue.notes import NoteStore
from assistant.dialogue.replies import RuleContext, rule_reply
from assistant.dialogue.timers import Timer, TimerScheduler, TimerStore
from assistant.dialogue.tool_loop import CompleteCall, ToolLoop
from assistant.dialogue.tools import Plan, Registry, Tool, ToolOutcome
from assistant.dialogue.turn_end import Missing, continuation_question, judge_turn
from assistant.dialogue.work_ahead import WorkAhead
from assistant.events import (
    Error,
    ErrorCode,
    EventSink,
    Flagged,
    Latency,
    Notice,
    NoticeCode,
    ReplyDelta,
    ReplyDone,
    Source,
    State,
    StateChanged,
    ToolResult,
    UserTurn,
)
from assistant.llm import grammar as tool_grammar
from assistant.llm.cancel import CancelToken
from assistant.llm.context import MIN_MESSAGE_ROOM, ContextOverflow, ContextWindow
from assistant.llm.engine import GenerationStats, LlmEngine, LlmError
from assistant.llm.prompt import LONG_REPLY_TOKENS, min_reply_tokens, turn_messages, wants_long
from assistant.llm.provider import LlmProvider, LlmState
from assistant.llm.templates import BASE_MODEL_EXAMPLES, Message, PlainFormat

log = logging.getLogger(__name__)

LLM_WAIT_S = 120.0
"""How long a turn waits for a model that is still loading."""
CLAUSE_END = re.compile(r"[.!?;:,](\s|$)|\n")

NO_LLM_HELP = (
    "I can't answer that without a language model. Without one I can tell the time "
    "and date, set timers, do arithmetic and take notes. To add a model, choose one in "
    "Settings, or run `parley models list` and `parley models pull`."
)
LLM_OFF_HELP = (
    "I can't answer that with the language model turned off. Without it I can tell the "
    "time and date, set timers and alarms, do arithmetic and take notes."
)
LLM_BROKEN_HELP = (
    "I can't answer that: the language model could not be loaded (the message above says "
    "why). Until it can, I can tell the time and date, set timers, do arithmetic and take "
    "notes."
)
ASK_AGAIN = "I didn't catch that. Could you say it again, or type it?"

# The rule intents that act through a tool: intent -> (tool, arguments).
_RULE_TOOLS: dict[IntentName, Callable[[dict[str, Any]], tuple[str, dict[str, Any]] | None]] = {
    IntentName.TIME: lambda e: ("get_time", {}),
    IntentName.CALCULATE: lambda e: ("calculate", {"expression": e["expression"]})
    if "expression" in e and "error" not in e
    else None,
    IntentName.TIMER: lambda e: (
        "set_timer",
        {
            "seconds": int(e["seconds"]),
            **({"label": str(e["label"])[:40]} if e.get("label") else {}),
        },
    )
    if e.get("seconds")
    else None,
    IntentName.NOTE_ADD: lambda e: ("add_note", {"text": str(e["text"])[:200]}),
    IntentName.NOTE_LIST: lambda e: ("list_notes", {}),
    IntentName.NOTE_DELETE: lambda e: ("delete_note", {"text": str(e["text"])[:200]}),
    IntentName.NOTE_CLEAR: lambda e: ("delete_all_notes", {}),
    IntentName.TIMER_LIST: lambda e: ("list_timers", {}),
    IntentName.TIMER_CANCEL: lambda e: (
        "cancel_timer",
        {k: e[k] for k in ("label", "time", "kind", "seconds", "ordinal", "all") if e.get(k)},
    ),
    IntentName.ALARM: lambda e: (
        "set_alarm",
        {k: str(e[k])[:40] for k in ("time", "day", "label") if e.get(k)},
    )
    if "time" in e
    else None,
    IntentName.OPEN: lambda e: ("open_url", {"url": e["url"]})
    if "url" in e
    else ("open_app", {"name": str(e["app"])[:60]}),
}


@dataclass
class TurnResult:
    reply: str
    source: Source
    user_turn_id: int = 0
    reply_turn_id: int = 0
    interrupted: bool = False
    intent: str = ""
    flagged: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    messages_from: int = -1
    """Length of the LLM context before this turn (`retract` cuts it back)."""
    actions: list[tuple[str, ToolOutcome]] = field(default_factory=list)
    """The tools this turn ran, in order (`retract` undoes them)."""


def system_messages(
    settings: Settings, engine: LlmEngine, tools: Sequence[Tool] | None = None
) -> list[Message]:
    """The fixed start of every prompt: prefilled once at load. The tool list
    is part of it, so a turn that calls a tool pays no prefill for the list
    (default: the built-in tools, whose descriptions need no stores)."""
    tools = _builtin_tools() if tools is None else tools
    text = settings.system_prompt + (tool_grammar.tool_instructions(tools) if tools else "")
    system = Message("system", text)
    if isinstance(engine.format, PlainFormat):
        return [system, *BASE_MODEL_EXAMPLES]
    return [system]


def fixed_part_too_long(
    settings: Settings, engine: LlmEngine, e: ContextOverflow
) -> tuple[str, str]:
    """(error code, words) naming the setting that leaves no room for any
    message: the system prompt when the rest would fit without it, else the
    context length and the reply reserve. Never the user's words."""
    own = engine.count_tokens(settings.system_prompt) if settings.system_prompt.strip() else 0
    rule_only = "Until then I can answer only by rule: the time, timers, sums and notes."
    if own and e.fixed - own + MIN_MESSAGE_ROOM <= e.available:
        return "system_prompt_too_long", (
            f"Your system_prompt setting is too long for this model's context ({own} tokens "
            f"of the {e.available} a prompt may use): shorten it in Settings > Language "
            f"model or in config.toml. {rule_only}"
        )
    mine = f", {own} of them your system_prompt setting" if own >= MIN_MESSAGE_ROOM else ""
    return "context_too_small", (
        f"The model's context is too small for Parley's instructions: they take {e.fixed} "
        f"tokens{mine}, and n_ctx {settings.n_ctx} minus max_tokens {settings.max_tokens} "
        f"kept for the reply leaves {max(0, e.available)}. Raise n_ctx or lower max_tokens "
        f"in Settings > Language model or in config.toml. {rule_only}"
    )


@lru_cache(maxsize=1)
def _builtin_tools() -> tuple[Tool, ...]:
    return tuple(builtin_registry(ToolEnv()))


class DialogueManager:
    """One conversation at a time. `handle` is called on the brain thread.

    Three collaborators hold parts of a turn: `confirmations` (the question
    before a consequential call, confirmation.py), the LLM's tool calls
    (tool_loop.py) and the model work done before a turn (work_ahead.py).
    The manager keeps the turn itself: routing, history rows, events and the
    LLM context."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: EventSink,
        history: History | None,
        llm: LlmProvider | None,
        notes: NoteStore | None = None,
        now: Callable[[], datetime] = datetime.now,
        tools: Registry | None = None,
        timers: TimerScheduler | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        # Missed timers are announced as soon as the timers start, often before
        # a voice loop exists: they are kept until one attaches (`attach_voice`).
        self._voice_lock = threading.Lock()
        self._voice = False
        self._unheard: list[str] = []
        self.history = history
        self.llm = llm
        self.notes = notes
        self.now = now
        self.conversation_id = 0
        self.messages: list[Message] = []
        self.window = ContextWindow(settings.n_ctx, settings.max_tokens)
        self.last_reply = ""
        self._streaming_id = 0  # the reply row being written, closed by close()
        self.timers = timers if timers is not None else self._make_timers()
        self.tools = tools if tools is not None else builtin_registry(
            ToolEnv(notes=notes, timers=self.timers, now=now)
        )
        self._started = False
        self._format_told: object = None
        """The engine whose chat-format warnings were shown (once per model)."""
        # Bound methods and getters, never copies: tests and the pipeline
        # replace `settings`, `sink` and `tools` on a live manager.
        self.confirmations = Confirmations(
            settings=lambda: self.settings,
            execute=self._execute,
            audit=self._audit,
            emit=self._emit,
        )
        self._tool_loop = ToolLoop(
            complete=tool_grammar.complete,
            prepare=self._prepare,
            execute=self._execute,
            ask=self._ask,
            audit=self._audit,
            emit=self._emit,
        )
        self._ahead = WorkAhead(
            llm=llm,
            prompt=self._next_prompt,
            settings=lambda: self.settings,
            might_call_tool=self._might_call_tool,
        )
        self._actions: list[tuple[str, ToolOutcome]] = []
        self._continuation = ""
        """A request Parley asked the rest of ("set a timer" -> "For how long?"):
        the next turn completes it."""
        self._choice: dict[str, Any] | None = None
        """A cancel_timer call that asked "Which one?": the next turn's answer
        ("the second one") completes it."""
        self._typed = True
        """The turn being answered was typed (its questions wait longer)."""

    @property
    def complete_call(self) -> CompleteCall:
        """Writes one grammar-constrained tool call (replaceable in logic tests)."""
        return self._tool_loop.complete

    @complete_call.setter
    def complete_call(self, complete: CompleteCall) -> None:
        self._tool_loop.complete = complete

    def _make_timers(self) -> TimerScheduler | None:
        """Timers live beside the history (so they survive a restart); when
        that folder cannot be written they last for this run only."""
        folder = self.history.path.parent if self.history is not None else paths.data_dir()
        try:
            store = TimerStore(Path(folder) / "timers.sqlite3")
        except HistoryError as e:
            self._emit(Notice(f"{e} Timers will not survive a restart.", NoticeCode.TIMERS_UNSAVED))
            try:
                store = TimerStore(":memory:")
            except HistoryError:
                return None
        return TimerScheduler(store, self._timer_due)

    def start(self) -> None:
        """Start the timer thread: timers that came due while Parley was closed
        are announced now, as missed. Called by `open_conversation`."""
        if self._started:
            return
        self._started = True
        if self.timers is not None:
            self.timers.start()

    # -- conversation --------------------------------------------------------------

    def open_conversation(self, new: bool = False, conversation_id: int | None = None) -> int:
        """Continue the last conversation, or `conversation_id` (its turns become
        the LLM's context), or start a new one. Starts the timers (see `start`)
        once. HistoryError when `conversation_id` does not exist (nothing changes).
        Call it between turns, on the thread that runs them."""
        if conversation_id is not None and self.history is not None:
            self.history.conversation(conversation_id)  # raises before anything is reset
        self.messages = []
        # A half-said request or a "Which one?" belongs to the conversation left.
        self._continuation = ""
        self._choice = None
        try:
            return self._open_conversation(new, conversation_id)
        finally:
            self.start()

    def _open_conversation(self, new: bool, chosen: int | None) -> int:
        self.window.start = 0
        if self.history is None:
            return 0
        last = chosen if chosen is not None else None if new else self.history.last_conversation()
        if last is None:
            self.conversation_id = self.history.new_conversation()
            return self.conversation_id
        self.conversation_id = last
        for t in self.history.turns(last):
            if t.role in ("user", "assistant") and t.text and not t.flagged:
                origin = t.source if t.role == "assistant" else ""
                self.messages.append(Message(t.role, t.text, origin))  # type: ignore[arg-type]
            if t.role == "assistant" and t.text:
                self.last_reply = t.text
        return self.conversation_id

    # -- a turn --------------------------------------------------------------------

    def handle(
        self,
        text: str,
        *,
        confidence: float = 1.0,
        cancel: CancelToken | None = None,
        started: float | None = None,
        typed: bool = False,
    ) -> TurnResult:
        """Answer one user turn. `started` is the monotonic time the turn began
        (end of speech); latency stages are measured from it. `typed`: the turn
        was typed, so a question it asks waits `typed_confirm_timeout_s`
        instead of `confirm_timeout_s`."""
        t0 = started if started is not None else time.monotonic()
        cancel = cancel or CancelToken()
        text = " ".join(text.split())
        mark = len(self.messages)
        continuation, self._continuation = self._continuation, ""
        self._typed = typed
        self._actions = []
        self._emit(StateChanged(State.THINKING))
        try:
            result = self._route(text, confidence, cancel, t0, continuation)
        finally:
            self._emit(StateChanged(State.IDLE))
        result.messages_from = mark
        result.actions = self._actions
        return result

    def can_prepare(self, text: str) -> bool:
        """Whether `text` may be answered before the user's turn is confirmed
        over (during the pause): only when answering changes nothing outside
        the conversation (a read-only rule, or an LLM reply with no tool), so
        taking it back (`retract`) loses nothing. Pure; any thread."""
        text = " ".join(text.split())
        busy = self.confirmations.pending is not None or self._continuation or self._choice
        if not text or busy:
            return False
        intent = intents.parse(text)
        if intent is not None and intent.confidence >= RULE_CONFIDENCE:
            to_tool = _RULE_TOOLS.get(intent.name)
            call = to_tool(intent.entities) if to_tool is not None else None
            if call is None:
                return intent.name not in (IntentName.STOP, IntentName.REPEAT)
            tool = self.tools.get(call[0])
            return tool is not None and tool.read_only
        return not self._might_call_tool(text)

    def retract(self, result: TurnResult) -> None:
        """Take a turn back: Parley ended it too early and the user went on
        speaking. Its rows leave the history, its messages the LLM context,
        and what its tools did is undone, so the whole request is one turn."""
        if result.user_turn_id and self.history is not None and self.conversation_id:
            self._safely(self.history.retract_turns, self.conversation_id, result.user_turn_id)
        if result.messages_from >= 0:
            del self.messages[result.messages_from :]
        self.last_reply = next(
            (m.content for m in reversed(self.messages) if m.role == "assistant"), ""
        )
        self._continuation = ""
        self._choice = None
        self.confirmations.drop()
        for name, outcome in reversed(result.actions):
            tool = self.tools.get(name)
            if tool is not None and tool.undo is not None and outcome.ok:
                try:
                    tool.undo(outcome)
                except Exception:  # undoing is best effort; the turn is gone either way
                    log.exception("undoing %s failed", name)

    def _route(
        self, text: str, confidence: float, cancel: CancelToken, t0: float, continuation: str
    ) -> TurnResult:
        pending, expired = self.confirmations.take()
        choice, self._choice = self._choice, None
        if pending is not None:
            answered = self._answer_pending(pending, text, confidence, t0)
            if answered is not None:
                return answered
        elif expired is not None and (late := self._late_answer(expired, text, confidence, t0)):
            return late
        if choice is not None and (chosen := self._chosen(choice, text, confidence, t0)):
            return chosen
        if not any(c.isalnum() for c in text):
            return self._clarify(text, confidence, "empty" if not text else "unintelligible", t0)
        if continuation:
            text = _continue(continuation, text)
        verdict = judge_turn(text)
        if verdict.asks:
            # Half said ("set a timer", "what is nine plus"): ask for the rest
            # rather than answer a fragment; the next turn completes it.
            user_id = self._user_turn(text, confidence)
            self._continuation = text
            question = continuation_question(text, verdict)
            return self._finish_fixed(question, Source.SYSTEM, user_id, t0, intent="continue")
        if confidence < self.settings.min_confidence:
            return self._clarify(text, confidence, "low_confidence", t0)

        user_id = self._add_turn("user", text, confidence=confidence)
        self._emit(UserTurn(text, user_id, confidence, self.conversation_id))
        self.messages.append(Message("user", text))

        if sentiment.is_negative(text):
            self._flag(user_id, "negative_sentiment", text)
            reply = sentiment.acknowledgement(text)
            return self._finish_fixed(reply, Source.SYSTEM, user_id, t0, flagged=None)

        intent = intents.parse(text)
        timings = {"intent": _ms(t0)}
        if intent is not None and intent.confidence >= RULE_CONFIDENCE:
            return self._answer_rule(intent, user_id, t0, timings)

        engine = self._engine(cancel)
        if engine is None and cancel.cancelled:  # stopped (or quit) while the model loaded
            self._emit(ReplyDone("", Source.LLM, True, 0))
            return TurnResult("", Source.LLM, user_id, interrupted=True, timings=timings)
        if engine is None:
            if intent is not None:  # a weaker rule match beats no answer at all
                return self._answer_rule(intent, user_id, t0, timings)
            self._flag(user_id, "unhandled", text)
            return self._finish_fixed(
                self._no_llm_help(), Source.SYSTEM, user_id, t0, flagged="unhandled"
            )
        return self._answer_llm(engine, user_id, cancel, t0, timings)

    def _no_llm_help(self) -> str:
        """Why there is no model, in the user's terms: turned off on purpose,
        configured but broken, or none yet."""
        if not self.settings.use_llm:
            return LLM_OFF_HELP
        if self.settings.llm_model and self.llm is not None and self.llm.error is not None:
            return LLM_BROKEN_HELP  # the user's chosen model: the error names the cause
        return NO_LLM_HELP

    def _clarify(self, text: str, confidence: float, reason: str, t0: float) -> TurnResult:
        user_id = self._add_turn("user", text, confidence=confidence, flagged=reason)
        self._emit(UserTurn(text, user_id, confidence, self.conversation_id))
        self._emit(Flagged(user_id, reason, text))
        reply = ASK_AGAIN
        if reason == "low_confidence" and text:
            reply = (
                f'I\'m not sure I heard that right. Did you say "{text}"? '
                "Please say it again, or type it."
            )
        return self._finish_fixed(reply, Source.SYSTEM, user_id, t0, flagged=reason, remember=False)

    def _answer_rule(
        self, intent: Intent, user_id: int, t0: float, timings: dict[str, float]
    ) -> TurnResult:
        """A rule intent: the tools act ("set a timer", "delete the note ..."),
        the rules word the rest. A consequential tool asks first."""
        to_tool = _RULE_TOOLS.get(intent.name)
        call = to_tool(intent.entities) if to_tool is not None else None
        if call is not None and call[0] in self.tools:
            name, args = call
            tool = self.tools.get(name)
            assert tool is not None
            audit = not tool.read_only
            plan = self._prepare(name, args, audit=audit, origin="rule")
            if isinstance(plan, Plan) and tool.consequential:
                reply = self._ask(name, plan)
                return self._finish_fixed(
                    reply, Source.TOOL, user_id, t0, intent=intent.name.value, timings=timings
                )
            if isinstance(plan, ToolOutcome):
                outcome = plan
            else:
                outcome = self._execute(name, plan, audit=audit)
            return self._finish_fixed(
                outcome.text,
                Source.RULE,
                user_id,
                t0,
                intent=intent.name.value,
                timings=timings,
            )
        ctx = RuleContext(now=self.now(), last_reply=self.last_reply, notes=self._note_texts())
        reply = rule_reply(intent, ctx)
        remember = intent.name is not IntentName.REPEAT
        return self._finish_fixed(
            reply,
            Source.RULE,
            user_id,
            t0,
            intent=intent.name.value,
            timings=timings,
            remember=remember,
        )

    def _finish_fixed(
        self,
        reply: str,
        source: Source,
        user_id: int,
        t0: float,
        *,
        flagged: str | None = None,
        intent: str = "",
        timings: dict[str, float] | None = None,
        remember: bool = True,
    ) -> TurnResult:
        """Deliver a reply that is complete at once (rule or Parley's own words)."""
        timings = dict(timings or {})
        timings["first_token"] = timings["done"] = _ms(t0)
        reply_id = self._add_turn(
            "assistant", reply, source=source.value, intent=intent, timings=timings
        )
        self._emit(ReplyDelta(reply, reply_id))
        self._emit(ReplyDone(reply, source, False, reply_id, intent))
        self._emit(Latency(reply_id, timings))
        if remember:
            self.messages.append(Message("assistant", reply, source.value))
            self.last_reply = reply
        return TurnResult(reply, source, user_id, reply_id, False, intent, flagged, timings)

    def _answer_llm(
        self,
        engine: LlmEngine,
        user_id: int,
        cancel: CancelToken,
        t0: float,
        timings: dict[str, float],
    ) -> TurnResult:
        system = system_messages(self.settings, engine, list(self.tools))

        def prompt_tokens(kept: Sequence[Message]) -> int:
            return engine.count_tokens(engine.render([*system, *self._turn_view(engine, kept)]))

        try:
            kept = self.window.fit(self.messages, prompt_tokens)
        except ContextOverflow as e:
            self.messages.pop()
            if e.fixed_part:  # no message at all would fit: a setting is the cause
                code, text = fixed_part_too_long(self.settings, engine, e)
                self._emit(Error(code, text))
                return self._finish_fixed(text, Source.SYSTEM, user_id, t0, remember=False)
            self._flag(user_id, "too_long", str(e))
            self._emit(Error(ErrorCode.INPUT_TOO_LONG, str(e)))
            return self._finish_fixed(
                str(e), Source.SYSTEM, user_id, t0, flagged="too_long", remember=False
            )
        prompt = [*system, *self._turn_view(engine, kept)]
        if self._might_call_tool(self.messages[-1].content):
            done = self._answer_with_tools(engine, prompt, user_id, cancel, t0, timings)
            if done is not None:
                return done
        reply_id = self._add_turn("assistant", "", status="streaming", source=Source.LLM.value)
        self._streaming_id = reply_id
        stats = GenerationStats()
        parts: list[str] = []
        saved = 0

        def say(delta: str) -> None:
            nonlocal saved
            if not delta:
                return
            if not parts:
                timings["first_token"] = _ms(t0)
            parts.append(delta)
            self._emit(ReplyDelta(delta, reply_id))
            # Commit the first words and then every clause end: a crash loses at
            # most the clause being written.
            if len(parts) == 1 or CLAUSE_END.search(delta):
                text_so_far = "".join(parts)
                if len(text_so_far) > saved:
                    self.update_turn(reply_id, text=text_so_far)
                    saved = len(text_so_far)

        # A clause claiming an action no tool of this turn did ("Opened …") is
        # held back, checked and replaced by the truth (dialogue/claims.py).
        gate = claims.ClaimGate(self._actions)
        long = wants_long(self.messages[-1].content)
        stream = engine.stream(
            prompt,
            max_tokens=max(self.settings.max_tokens, LONG_REPLY_TOKENS if long else 0),
            min_tokens=min_reply_tokens(self.messages[-1].content),
            cancel=cancel,
            temperature=self.settings.temperature,
            stats=stats,
            paragraphs=long,
        )
        try:
            for delta in stream:
                say(gate.feed(delta))
                if gate.claim is not None:
                    break  # what follows a false claim builds on it
        except LlmError as e:
            self._emit(Error(e.code, e.message))
        finally:
            stream.close()
        if not cancel.cancelled:
            say(gate.close())
        if gate.claim is not None and not cancel.cancelled:
            log.info("an LLM reply claimed a %s action no tool did: corrected", gate.claim.family)
            gap = " " if parts and not parts[-1][-1:].isspace() else ""
            say(gap + claims.correction(gate.claim))
        interrupted = cancel.cancelled
        reply = "".join(parts).strip()
        timings["done"] = _ms(t0)
        if not reply and not interrupted:
            self.update_turn(reply_id, text="", status="done")
            self._flag(user_id, "unhandled", self.messages[-1].content)
            reply = "Sorry, I don't have an answer to that."
            self._delete_placeholder(reply_id)
            self._streaming_id = 0
            return self._finish_fixed(
                reply, Source.SYSTEM, user_id, t0, flagged="unhandled", timings=timings
            )
        status = "interrupted" if interrupted else "done"
        self.update_turn(reply_id, text=reply, status=status, timings=timings)
        self._streaming_id = 0
        self._emit(ReplyDone(reply, Source.LLM, interrupted, reply_id))
        self._emit(
            Latency(
                reply_id, timings, stats.generated_tokens, stats.evaluated_tokens,
                stats.ahead_tokens,
            )
        )  # fmt: skip
        if reply:
            self.messages.append(Message("assistant", reply))
            self.last_reply = reply
        return TurnResult(reply, Source.LLM, user_id, reply_id, interrupted, "", None, timings)

    # -- work ahead of a turn (work_ahead.py) ---------------------------------------------

    def prepare_next_turn(self, should_stop: Callable[[], bool] | None = None) -> int:
        """Evaluate, now, the prompt up to where the user's next words will go:
        the reply just given (rule replies are not in the KV cache yet), its
        end-of-turn markup and the next user-turn opener. Run while the user
        reads or hears the reply, it takes that work off the next turn's hot
        path. `should_stop`: checked between chunks; True (a turn is waiting)
        ends the work early. Returns the tokens evaluated (0 when no model)."""
        if not self.messages:
            return 0  # nothing said yet: the system part was prefilled at load
        return self._ahead.prepare_next_turn(should_stop)

    def listen_ahead(self, words: str, should_stop: Callable[[], bool] | None = None) -> int:
        """The user is still speaking and has said `words` so far: evaluate the
        prompt up to them, so that when the turn ends only its last words and
        the reply's opener are left to evaluate. Cheap (a few new tokens per
        partial transcript); nothing when a rule will answer or no model is
        loaded. Returns the tokens evaluated."""
        return self._ahead.listen_ahead(words, should_stop)

    def speculate(self, text: str, should_stop: Callable[[], bool] | None = None) -> int:
        """The user paused after `text`, which may be the whole turn: start the
        reply now. An ordinary reply is generated ahead (`generate_ahead`, up
        to work_ahead.SPECULATE_TOKENS, about the first clause, or until `should_stop`):
        if the turn is confirmed with these words, its first words are ready at
        once; if not, only the work is lost. A turn that may call a tool has its
        prompt evaluated only. No history, no events. Returns the tokens made
        or evaluated (0 when a rule will answer or no model is loaded)."""
        return self._ahead.speculate(text, should_stop)

    def _next_prompt(self, engine: LlmEngine, user_text: str) -> list[Message]:
        """The prompt the conversation would send with `user_text` as the next
        user turn, from the context window's current start (the turn itself
        fits the window again)."""
        system = system_messages(self.settings, engine, list(self.tools))
        kept = [*self.messages[self.window.start :], Message("user", user_text)]
        return [*system, *self._turn_view(engine, kept)]

    def _might_call_tool(self, text: str) -> bool:
        """Whether `text` mentions something a tool does (only then is the
        model offered tools)."""
        return bool(len(self.tools) and self.tools.might_need(text))

    def _turn_view(self, engine: LlmEngine, kept: Sequence[Message]) -> list[Message]:
        """The conversation as the model sees it (llm/prompt.py): Parley's own
        rule and tool replies kept from being copied, the clock's facts last."""
        return turn_messages(kept, self.now(), isinstance(engine.format, PlainFormat))

    # -- tools -------------------------------------------------------------------------

    def _prepare(
        self, name: str, args: Any, *, audit: bool = True, origin: str = "llm"
    ) -> Plan | ToolOutcome:
        """Validate and resolve a call; the request row goes into the transcript."""
        plan = self.tools.prepare(name, args)
        tool = self.tools.get(name)
        if audit:
            data = {
                "tool": name,
                "arguments": args,
                "origin": origin,
                "consequential": bool(tool and tool.consequential),
            }
            call = f"{name} {json.dumps(args, ensure_ascii=False, default=str)}"
            if isinstance(plan, ToolOutcome):
                self._audit("tool_request", f"{call}: rejected: {plan.text}", {**data, "ok": False})
                self._emit(ToolResult("", name, False, plan.text, dict(plan.data)))
            elif tool is not None and tool.consequential:
                self._audit("tool_request", f"{call}: {plan.description}", data)
            else:
                self._audit("tool_request", call, data)
        return plan

    def _execute(
        self, name: str, plan: Plan, request_id: str = "", *, audit: bool = True
    ) -> ToolOutcome:
        """Run a prepared call as one of this turn's actions (`retract` undoes
        them); `request_id`: the question it answers, if it was asked."""
        outcome = self.tools.execute(name, plan.args)
        self._actions.append((name, outcome))
        if outcome.data.get("choices"):  # "Which one?": the next turn may answer
            self._choice = dict(plan.args)
        if audit:
            data = {"tool": name, "request_id": request_id, "ok": outcome.ok, "data": outcome.data}
            self._audit("tool_result", outcome.text, data)
            self._emit(ToolResult(request_id, name, outcome.ok, outcome.text, dict(outcome.data)))
        return outcome

    # -- confirmation (confirmation.py) ---------------------------------------------------

    def _ask(self, name: str, plan: Plan) -> str:
        """Park a consequential call until the user answers; returns the question."""
        return self.confirmations.ask(name, plan, typed=self._typed)

    def _answer_pending(
        self, pending: PendingRequest, text: str, confidence: float, t0: float
    ) -> TurnResult | None:
        """The turn after a question: a yes runs the call, a no (or anything
        else) does not. Returns None when the turn still needs its own answer
        (the user said something else, which is then handled as usual)."""
        heard = self.confirmations.hear(pending, text, confidence)
        if heard is Heard.LATE:
            return self._late_answer(pending, text, confidence, t0)
        if heard is Heard.OTHER:
            reply, _ = self.confirmations.decide(pending, False, "other_turn")
            self._emit(Notice(reply, NoticeCode.TOOL_DENIED))
            return None
        # The user's row first: the decision and the call's result follow it.
        user_id = self._user_turn(text, confidence)
        reply, _ = self.confirmations.decide(pending, heard is Heard.YES, "user_turn")
        return self._finish_fixed(reply, Source.TOOL, user_id, t0, intent="confirm")

    def _late_answer(
        self, expired: PendingRequest, text: str, confidence: float, t0: float
    ) -> TurnResult | None:
        """A yes or no to a question that timed out is told so. None otherwise."""
        reply = self.confirmations.late_reply(expired, text, confidence)
        if reply is None:
            return None
        user_id = self._user_turn(text, confidence)
        return self._finish_fixed(reply, Source.SYSTEM, user_id, t0, intent="confirm")

    def _chosen(
        self, asked: dict[str, Any], text: str, confidence: float, t0: float
    ) -> TurnResult | None:
        """The answer to "Which one should I cancel?" ("the 7 am one", "the
        second one", "the pasta one"): the asked call with the choice added.
        None when `text` does not pick one (it is then a turn of its own)."""
        picked = intents.parse_choice(text) if confidence >= self.settings.min_confidence else None
        if picked is None:
            return None
        which = {k: v for k, v in asked.items() if k not in ("ordinal", "all")}
        if picked.pop("weak", False) and (  # a bare word picks only a timer it names
            self.timers is None
            or not matching_timers(
                self.timers.store.pending(), {**which, **picked}, self.now().tzinfo
            )
        ):
            return None
        if picked.get("kind") and which.get("kind") not in (None, picked["kind"]):
            return None
        intent = Intent(IntentName.TIMER_CANCEL, 1.0, {**which, **picked})
        user_id = self._user_turn(text, confidence)
        return self._answer_rule(intent, user_id, t0, {"intent": _ms(t0)})

    def confirm(self, request_id: str, approved: bool) -> TurnResult:
        """The user's click on a request (the UI's yes / no buttons). Call on
        the brain thread (`Pipeline.confirm` queues it there)."""
        t0 = time.monotonic()
        pending = self.confirmations.claim(request_id)
        if pending is None and self.confirmations.decided(request_id):
            return TurnResult("", Source.SYSTEM, intent="confirm")  # a late second click
        self._emit(StateChanged(State.THINKING))
        try:
            if pending is None:
                return self._finish_fixed(NO_PENDING, Source.SYSTEM, 0, t0, remember=False)
            reply = self.confirmations.click(pending, approved)
            return self._finish_fixed(reply, Source.TOOL, 0, t0, intent="confirm")
        finally:
            self._emit(StateChanged(State.IDLE))

    @property
    def pending_request(self) -> PendingRequest | None:
        return self.confirmations.pending

    def attach_voice(self, sink: EventSink) -> list[str]:
        """A voice loop takes the events from now on. Returns the missed-timer
        announcements made before it was there (shown, but not yet heard)."""
        with self._voice_lock:
            self.sink, self._voice = sink, True
            unheard, self._unheard = self._unheard, []
        return unheard

    def _timer_due(self, timer: Timer, missed: bool) -> None:
        """A timer is due (on the timer thread): announce it, even mid-turn."""
        text = announcement(timer, missed, self.now)
        self._audit(
            "timer", text, {"timer_id": timer.id, "kind": timer.kind, "missed": missed}, start=False
        )
        with self._voice_lock:  # never both kept for later and spoken now
            if not self._voice:
                self._unheard.append(text)
            self._emit(Notice(text, NoticeCode.TIMER))

    def _audit(self, kind: str, text: str, data: dict[str, Any], *, start: bool = True) -> None:
        """A tool row in the transcript: each request, decision and result."""
        if self.history is None:
            return
        if not self.conversation_id:
            if not start:  # a timer thread must not open conversations
                return
            self.open_conversation(new=False)
        self._safely(
            self.history.add_turn,
            self.conversation_id,
            "tool",
            text,
            source=Source.TOOL.value,
            intent=kind,
            data=data,
        )

    def _user_turn(self, text: str, confidence: float) -> int:
        user_id = self._add_turn("user", text, confidence=confidence)
        self._emit(UserTurn(text, user_id, confidence, self.conversation_id))
        self.messages.append(Message("user", text))
        return user_id

    def _answer_with_tools(
        self,
        engine: LlmEngine,
        prompt: list[Message],
        user_id: int,
        cancel: CancelToken,
        t0: float,
        timings: dict[str, float],
    ) -> TurnResult | None:
        """Let the LLM call tools (tool_loop.py); what they said is the reply.
        None when it chose to answer in words, or wrote nothing usable: the
        turn then streams an ordinary reply."""
        request = self.messages[-1].content
        said = self._tool_loop.run(engine, prompt, request, self.tools, cancel, timings)
        if not said:
            return None
        timings["tools"] = _ms(t0)
        return self._finish_fixed(" ".join(said), Source.TOOL, user_id, t0, timings=timings)

    # -- helpers -----------------------------------------------------------------------

    def _engine(self, cancel: CancelToken | None = None) -> LlmEngine | None:
        if self.llm is None or not self.settings.use_llm:
            return None
        self.llm.start()  # no-op when already loading or loaded
        if self.llm.state is LlmState.LOADING:
            self._emit(Notice("Loading the language model…", NoticeCode.LLM_LOADING))
        stop = (lambda: cancel.cancelled) if cancel is not None else None
        engine = self.llm.get(LLM_WAIT_S, cancel=stop)
        if engine is None and self.llm.error is not None:
            self._emit(Error(self.llm.error.code, self.llm.error.message))
        if engine is not None and engine is not self._format_told:
            self._format_told = engine
            for warning in getattr(engine, "format_warnings", ()):  # stand-ins have none
                self._emit(Notice(str(warning), NoticeCode.CHAT_FORMAT))
        return engine

    def _note_texts(self) -> list[str]:
        if self.notes is None:
            return []
        try:
            return [text for _id, text, _at in self.notes.list()]
        except HistoryError as e:
            self._emit(Error(ErrorCode.NOTES_UNAVAILABLE, str(e)))
            return []

    def _flag(self, turn_id: int, reason: str, text: str) -> None:
        if self.history is not None and turn_id:
            self._safely(self.history.update_turn, turn_id, flagged=reason)
        self._emit(Flagged(turn_id, reason, text))

    def _add_turn(self, role: str, text: str, **kw: object) -> int:
        if self.history is None:
            return 0
        if not self.conversation_id:
            self.open_conversation(new=False)
        result = self._safely(self.history.add_turn, self.conversation_id, role, text, **kw)
        return int(result or 0)

    def update_turn(self, turn_id: int, **kw: object) -> None:
        """Change a history row of this conversation (a failure is logged, never raised)."""
        if self.history is not None and turn_id:
            self._safely(self.history.update_turn, turn_id, **kw)

    def _delete_placeholder(self, turn_id: int) -> None:
        # An empty streaming row left by a reply that produced nothing is noise.
        if self.history is not None and turn_id and hasattr(self.history, "delete_turn"):
            self._safely(self.history.delete_turn, turn_id)

    def _safely(self, fn: Callable[..., object], *args: object, **kw: object) -> object:
        """History failures are reported, never fatal: the conversation goes on."""
        try:
            return fn(*args, **kw)
        except HistoryError as e:
            self._emit(Error(ErrorCode.HISTORY_UNWRITABLE, str(e)))
            return None

    def _emit(self, event: object) -> None:
        try:
            self.sink(event)  # type: ignore[arg-type]
        except Exception:  # a broken UI callback must not kill the turn
            log.exception("event sink failed")

    def close(self) -> None:
        # A reply still being written when the app quits (the turn thread was
        # not joined in time: a long prompt evaluation under load) is stored as
        # interrupted now, with the words saved so far, not left 'streaming'.
        if self._streaming_id:
            self.update_turn(self._streaming_id, status="interrupted")
            self._streaming_id = 0
        self.confirmations.close()  # an open question ends in the audit trail
        if self.timers is not None:
            self.timers.close()
            self.timers.store.close()


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


def _continue(asked: str, answer: str) -> str:
    """The request a reply to a continuation question makes: "set a timer" +
    "ten minutes" is "set a timer for ten minutes". A reply that is a whole
    request of its own ("what time is it") starts over instead."""
    alone = intents.parse(answer)
    if alone is not None and alone.confidence >= RULE_CONFIDENCE and judge_turn(answer).complete:
        return answer
    missing = judge_turn(asked).missing
    if missing in (Missing.DURATION, Missing.CLOCK_TIME) and not asked.endswith(
        (" for", " in", " at")
    ):
        joiner = "at" if missing is Missing.CLOCK_TIME else "for"
        with_joiner = f"{asked} {joiner} {answer}"
        if intents.parse(with_joiner) is not None:
            return with_joiner
    return f"{asked} {answer}"
