"""The dialogue manager: routes one user turn to a rule answer or the LLM,
streams the reply as events, and writes both turns to history as they happen.

Order of a turn: empty / low-confidence input is not guessed at (ask again,
flag); negative sentiment is acknowledged (flag); a confident rule intent
answers at once, even when an LLM is loaded (the fast path); everything else
goes to the LLM with the conversation in context. Without an LLM Parley says
plainly what it can do and how to get a model.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from assistant.config import Settings
from assistant.dialogue import intents, sentiment
from assistant.dialogue.history import History, HistoryError
from assistant.dialogue.intents import RULE_CONFIDENCE, Intent, IntentName
from assistant.dialogue.notes import NoteStore
from assistant.dialogue.replies import RuleContext, rule_reply
from assistant.events import (
    Error,
    EventSink,
    Flagged,
    Latency,
    Notice,
    ReplyDelta,
    ReplyDone,
    Source,
    State,
    StateChanged,
    UserTurn,
)
from assistant.llm.cancel import CancelToken
from assistant.llm.context import ContextOverflow, ContextWindow
from assistant.llm.engine import GenerationStats, LlmEngine, LlmError
from assistant.llm.provider import LlmProvider, LlmState
from assistant.llm.templates import BASE_MODEL_EXAMPLES, Message, PlainFormat

log = logging.getLogger(__name__)

LLM_WAIT_S = 120.0
"""How long a turn waits for a model that is still loading."""
CLAUSE_END = re.compile(r"[.!?;:,](\s|$)|\n")

NO_LLM_HELP = (
    "I can't answer that without a language model. Without one I can tell the time "
    "and date, set timers, do arithmetic and take notes. To add a model, set llm_model "
    "in config.toml to a GGUF file, or start Parley with --model PATH."
)
ASK_AGAIN = "I didn't catch that. Could you say it again, or type it?"


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


def system_messages(settings: Settings, engine: LlmEngine) -> list[Message]:
    """The fixed start of every prompt: prefilled once at load."""
    system = Message("system", settings.system_prompt)
    if isinstance(engine.format, PlainFormat):
        return [system, *BASE_MODEL_EXAMPLES]
    return [system]


class DialogueManager:
    """One conversation at a time. `handle` is called on the brain thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: EventSink,
        history: History | None,
        llm: LlmProvider | None,
        notes: NoteStore | None = None,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.history = history
        self.llm = llm
        self.notes = notes
        self.now = now
        self.conversation_id = 0
        self.messages: list[Message] = []
        self.window = ContextWindow(settings.n_ctx, settings.max_tokens)
        self.last_reply = ""
        self.timers: list[threading.Timer] = []

    # -- conversation --------------------------------------------------------------

    def open_conversation(self, new: bool = False) -> int:
        """Continue the last conversation (its turns become the LLM's context)
        or start a new one."""
        self.messages = []
        self.window.start = 0
        if self.history is None:
            return 0
        last = None if new else self.history.last_conversation()
        if last is None:
            self.conversation_id = self.history.new_conversation()
            return self.conversation_id
        self.conversation_id = last
        for t in self.history.turns(last):
            if t.role in ("user", "assistant") and t.text and not t.flagged:
                self.messages.append(Message(t.role, t.text))  # type: ignore[arg-type]
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
    ) -> TurnResult:
        """Answer one user turn. `started` is the monotonic time the turn began
        (end of speech); latency stages are measured from it."""
        t0 = started if started is not None else time.monotonic()
        cancel = cancel or CancelToken()
        text = " ".join(text.split())
        self._emit(StateChanged(State.THINKING))
        try:
            result = self._route(text, confidence, cancel, t0)
        finally:
            self._emit(StateChanged(State.IDLE))
        return result

    def _route(self, text: str, confidence: float, cancel: CancelToken, t0: float) -> TurnResult:
        if not any(c.isalnum() for c in text):
            return self._clarify(text, confidence, "empty" if not text else "unintelligible", t0)
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

        engine = self._engine()
        if engine is None:
            if intent is not None:  # a weaker rule match beats no answer at all
                return self._answer_rule(intent, user_id, t0, timings)
            self._flag(user_id, "unhandled", text)
            return self._finish_fixed(NO_LLM_HELP, Source.SYSTEM, user_id, t0, flagged="unhandled")
        return self._answer_llm(engine, user_id, cancel, t0, timings)

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
        self._apply_side_effects(intent)
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
            self.messages.append(Message("assistant", reply))
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
        system = system_messages(self.settings, engine)

        def prompt_tokens(kept: Sequence[Message]) -> int:
            return engine.count_tokens(engine.render([*system, *kept]))

        try:
            kept = self.window.fit(self.messages, prompt_tokens)
        except ContextOverflow as e:
            self.messages.pop()
            self._flag(user_id, "too_long", str(e))
            self._emit(Error("input_too_long", str(e)))
            return self._finish_fixed(
                str(e), Source.SYSTEM, user_id, t0, flagged="too_long", remember=False
            )
        prompt = [*system, *kept]
        reply_id = self._add_turn("assistant", "", status="streaming", source=Source.LLM.value)
        stats = GenerationStats()
        parts: list[str] = []
        saved = 0
        try:
            for delta in engine.stream(
                prompt,
                max_tokens=self.settings.max_tokens,
                cancel=cancel,
                temperature=self.settings.temperature,
                stats=stats,
            ):
                if not parts:
                    timings["first_token"] = _ms(t0)
                parts.append(delta)
                self._emit(ReplyDelta(delta, reply_id))
                # Commit the first words and then every clause end: a crash loses at
                # most the clause being written.
                if len(parts) == 1 or CLAUSE_END.search(delta):
                    text_so_far = "".join(parts)
                    if len(text_so_far) > saved:
                        self._update_turn(reply_id, text=text_so_far)
                        saved = len(text_so_far)
        except LlmError as e:
            self._emit(Error(e.code, e.message))
        interrupted = cancel.cancelled
        reply = "".join(parts).strip()
        timings["done"] = _ms(t0)
        if not reply and not interrupted:
            self._update_turn(reply_id, text="", status="done")
            self._flag(user_id, "unhandled", self.messages[-1].content)
            reply = "Sorry, I don't have an answer to that."
            self._delete_placeholder(reply_id)
            return self._finish_fixed(
                reply, Source.SYSTEM, user_id, t0, flagged="unhandled", timings=timings
            )
        status = "interrupted" if interrupted else "done"
        self._update_turn(reply_id, text=reply, status=status, timings=timings)
        self._emit(ReplyDone(reply, Source.LLM, interrupted, reply_id))
        self._emit(Latency(reply_id, timings, stats.generated_tokens, stats.evaluated_tokens))
        if reply:
            self.messages.append(Message("assistant", reply))
            self.last_reply = reply
        return TurnResult(reply, Source.LLM, user_id, reply_id, interrupted, "", None, timings)

    def prepare_next_turn(self) -> int:
        """Evaluate, now, the prompt up to where the user's next words will go:
        the reply just given (rule replies are not in the KV cache yet), its
        end-of-turn markup and the next user-turn opener. Run while the user
        reads or hears the reply, it takes that work off the next turn's hot
        path. Returns the tokens evaluated (0 when no model is loaded)."""
        if not self.messages:
            return 0
        marker = "\x00"
        return self._prefill(marker, lambda text: text[: text.index(marker)].rstrip(" "))

    def speculate(self, text: str) -> int:
        """The user paused after `text`, which may be the whole turn: evaluate
        the prompt it would get now, so if the turn is confirmed the LLM starts
        generating at once (prefix reuse), and if not, nothing is lost but the
        work. No history, no events. Returns the tokens evaluated."""
        text = " ".join(text.split())
        intent = intents.parse(text)
        if not text or (intent is not None and intent.confidence >= RULE_CONFIDENCE):
            return 0  # a rule answers: nothing to warm up
        return self._prefill(text, lambda prompt: prompt)

    def _prefill(self, user_text: str, cut: Callable[[str], str]) -> int:
        """Evaluate into the KV cache `cut(prompt)`, where prompt is the one the
        conversation would send with `user_text` as the next user turn. Only
        with a loaded model: this never starts or waits for loading."""
        if self.llm is None or self.llm.state is not LlmState.READY:
            return 0
        engine = self.llm.get(0)
        if engine is None:
            return 0
        system = system_messages(self.settings, engine)
        kept = [*self.messages[self.window.start :], Message("user", user_text)]
        try:
            return engine.prefill_text(cut(engine.render([*system, *kept])))
        except LlmError as e:
            log.warning("prefill failed: %s", e)
            return 0

    # -- helpers -----------------------------------------------------------------------

    def _engine(self) -> LlmEngine | None:
        if self.llm is None or not self.settings.use_llm:
            return None
        self.llm.start()  # no-op when already loading or loaded
        if self.llm.state is LlmState.LOADING:
            self._emit(Notice("Loading the language model…", "llm_loading"))
        engine = self.llm.get(LLM_WAIT_S)
        if engine is None and self.llm.error is not None:
            self._emit(Error(self.llm.error.code, self.llm.error.message))
        return engine

    def _apply_side_effects(self, intent: Intent) -> None:
        if intent.name is IntentName.NOTE_ADD and self.notes is not None:
            self.notes.add(str(intent.entities.get("text", "")))
        elif intent.name is IntentName.TIMER:
            self._start_timer(
                int(intent.entities.get("seconds", 0)),
                str(intent.entities.get("spoken", "")),
                str(intent.entities.get("label", "")),
            )

    def _start_timer(self, seconds: int, spoken: str, label: str) -> None:
        if seconds <= 0:
            return
        what = f"Your {label} timer" if label else f"Your timer for {spoken or seconds}"

        def ring() -> None:
            self._emit(Notice(f"{what} is done.", "timer_done"))

        t = threading.Timer(seconds, ring)
        t.daemon = True
        t.start()
        self.timers.append(t)

    def _note_texts(self) -> list[str]:
        if self.notes is None:
            return []
        try:
            return [text for _id, text, _at in self.notes.list()]
        except HistoryError as e:
            self._emit(Error("notes_unavailable", str(e)))
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

    def _update_turn(self, turn_id: int, **kw: object) -> None:
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
            self._emit(Error("history_unwritable", str(e)))
            return None

    def _emit(self, event: object) -> None:
        try:
            self.sink(event)  # type: ignore[arg-type]
        except Exception:  # a broken UI callback must not kill the turn
            log.exception("event sink failed")

    def close(self) -> None:
        for t in self.timers:
            t.cancel()


def _ms(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)
