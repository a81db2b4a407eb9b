"""Typed events the core emits: the contract with the UI and with `--json` output.

Every event is a frozen dataclass. `to_dict()` gives one flat JSON object whose
first key is `"type"` (an `EventType` value); the remaining keys are the
dataclass fields, documented on each class with their units. Times are
milliseconds (ms) unless a field says otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class EventType(StrEnum):
    STATE = "state"
    PARTIAL = "partial"
    USER_TURN = "user_turn"
    REPLY_DELTA = "reply_delta"
    REPLY_DONE = "reply_done"
    TOOL_REQUEST = "tool_request"
    TOOL_RESULT = "tool_result"
    LATENCY = "latency"
    FLAGGED = "flagged"
    ERROR = "error"
    NOTICE = "notice"
    TURN_RETRACTED = "turn_retracted"


class State(StrEnum):
    """What the assistant is doing, as the UI's indicator shows it."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"


class Source(StrEnum):
    """Who wrote a reply."""

    RULE = "rule"  # the rule NLU answered, no LLM involved
    LLM = "llm"  # the language model wrote it
    TOOL = "tool"  # the outcome of a tool call
    SYSTEM = "system"  # Parley's own words: a clarification, a no-model notice


class FlagReason(StrEnum):
    """Why a turn is listed as a hard case (`Flagged.reason`, the history's
    `flagged` column: the stored text is the value)."""

    EMPTY = "empty"
    UNINTELLIGIBLE = "unintelligible"
    LOW_CONFIDENCE = "low_confidence"
    NEGATIVE_SENTIMENT = "negative_sentiment"
    UNHANDLED = "unhandled"
    TOO_LONG = "too_long"


class ErrorCode(StrEnum):
    """`Error.code`: stable, for programs (the UI branches on them, `--json`
    prints them). LlmError and SttError carry theirs from the engines."""

    # input and hearing
    NO_MICROPHONE = "no_microphone"
    INPUT_LOST = "input_lost"
    STT_UNAVAILABLE = "stt_unavailable"
    WORKER_FAILED = "worker_failed"
    BAD_AUDIO = "bad_audio"
    BAD_SETTING = "bad_setting"
    BAD_WORD = "bad_word"
    # models
    MODEL_MISSING = "model_missing"
    MODEL_CORRUPT = "model_corrupt"
    MODEL_BROKEN = "model_broken"
    MODEL_UNREADABLE = "model_unreadable"
    LLM_FAILED = "llm_failed"
    LLM_UNAVAILABLE = "llm_unavailable"
    GRAMMAR_INVALID = "grammar_invalid"
    CONTEXT_FULL = "context_full"
    CONTEXT_TOO_SMALL = "context_too_small"
    SYSTEM_PROMPT_TOO_LONG = "system_prompt_too_long"
    INPUT_TOO_LONG = "input_too_long"
    # speaking
    TTS_UNAVAILABLE = "tts_unavailable"
    OUTPUT_UNAVAILABLE = "output_unavailable"
    # storage
    HISTORY_DAMAGED = "history_damaged"
    HISTORY_UNWRITABLE = "history_unwritable"
    NOTES_UNAVAILABLE = "notes_unavailable"
    TIMERS_DAMAGED = "timers_damaged"
    # the app
    TURN_FAILED = "turn_failed"
    STARTUP_FAILED = "startup_failed"
    ALREADY_RUNNING = "already_running"


class NoticeCode(StrEnum):
    """`Notice.code`: what a notice is about."""

    NONE = ""
    READY = "ready"
    LLM_LOADING = "llm_loading"
    CONFIG_PROBLEM = "config_problem"
    BAD_INPUT = "bad_input"
    INPUT_BACK = "input_back"
    NO_STT = "no_stt"
    STT_FALLBACK = "stt_fallback"
    NO_WAKE = "no_wake"
    TTS_VOICE = "tts_voice"
    TIMER = "timer"
    """A timer or alarm went off, or went off while Parley was closed: the voice loop speaks it."""
    TIMERS_UNSAVED = "timers_unsaved"
    CONFIRM_TIMEOUT = "confirm_timeout"
    """No answer to a tool request, so it was not run."""
    TOOL_DENIED = "tool_denied"
    """The user said something else instead of yes."""
    CHAT_FORMAT = "chat_format"
    """The model's chat format does not fit it (a wrong chat template setting,
    a template in the GGUF that cannot be used): what and the fix."""


@dataclass(frozen=True)
class Event:
    """Base of all events. Subclasses set `type`."""

    type: ClassVar[EventType]

    def to_dict(self) -> dict[str, Any]:
        return {"type": str(self.type), **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class StateChanged(Event):
    """The assistant changed state."""

    type: ClassVar[EventType] = EventType.STATE
    state: State
    """One of idle, listening, thinking, speaking."""


@dataclass(frozen=True)
class Partial(Event):
    """A partial (not yet final) transcript while the user speaks."""

    type: ClassVar[EventType] = EventType.PARTIAL
    text: str


@dataclass(frozen=True)
class UserTurn(Event):
    """A final user utterance (typed or transcribed), committed to history."""

    type: ClassVar[EventType] = EventType.USER_TURN
    text: str
    turn_id: int
    """History row id of the turn (0 when history is unavailable)."""
    confidence: float = 1.0
    """Recogniser confidence 0..1; typed text is 1.0."""
    conversation_id: int = 0


@dataclass(frozen=True)
class ReplyDelta(Event):
    """A piece of the reply as it streams."""

    type: ClassVar[EventType] = EventType.REPLY_DELTA
    text: str
    """Text to append to the reply shown so far."""
    turn_id: int = 0
    """History row id of the reply being written."""


@dataclass(frozen=True)
class ReplyDone(Event):
    """The reply is complete (or was cut short)."""

    type: ClassVar[EventType] = EventType.REPLY_DONE
    text: str
    """The whole reply text as stored."""
    source: Source
    interrupted: bool = False
    """True when the user stopped the reply before it finished."""
    turn_id: int = 0
    intent: str = ""
    """Rule intent name when source is rule, else empty."""


@dataclass(frozen=True)
class ToolRequest(Event):
    """A consequential tool call awaiting the user's yes or no."""

    type: ClassVar[EventType] = EventType.TOOL_REQUEST
    request_id: str
    tool: str
    arguments: dict[str, Any]
    description: str
    """Exactly what will happen, in words, as it is shown and spoken."""
    timeout_s: float = 20.0
    """Seconds until no answer counts as no."""


@dataclass(frozen=True)
class ToolResult(Event):
    """The outcome of a tool call (run, denied or failed)."""

    type: ClassVar[EventType] = EventType.TOOL_RESULT
    request_id: str
    tool: str
    ok: bool
    text: str
    """Outcome in words, suitable for speech."""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Latency(Event):
    """Per-turn timings. Each stage is ms from the turn's start (the end of the
    user's speech, or the moment a typed line was received); absent stages
    are omitted from `stages_ms`."""

    type: ClassVar[EventType] = EventType.LATENCY
    turn_id: int
    stages_ms: dict[str, float]
    """Stage name -> ms since turn start. Stage names: endpoint, stt_final,
    intent, first_token, first_clause, tts_ready, first_sample, done."""
    tokens: int = 0
    """Tokens generated for the reply (0 for rule replies)."""
    prompt_tokens_evaluated: int = 0
    """Prompt tokens the LLM actually evaluated this turn (prefix reuse makes
    this close to the new tokens only)."""
    ahead_tokens: int = 0
    """Reply tokens generated ahead, while the user paused, and used."""


@dataclass(frozen=True)
class Flagged(Event):
    """A turn Parley could not handle well, listed as a hard case."""

    type: ClassVar[EventType] = EventType.FLAGGED
    turn_id: int
    reason: FlagReason
    text: str = ""


@dataclass(frozen=True)
class Error(Event):
    """Something went wrong; `message` is for humans, `code` for programs."""

    type: ClassVar[EventType] = EventType.ERROR
    code: ErrorCode
    message: str
    """One clear sentence a user can act on."""
    fatal: bool = False


@dataclass(frozen=True)
class Notice(Event):
    """Information for the user that is not part of the conversation
    (model loading, config problems)."""

    type: ClassVar[EventType] = EventType.NOTICE
    message: str
    code: NoticeCode = NoticeCode.NONE


@dataclass(frozen=True)
class TurnRetracted(Event):
    """Parley ended a turn too early and the user went on speaking: the turn
    and its reply are taken back (gone from history); the whole request
    follows as one new turn. Clients remove both from the transcript."""

    type: ClassVar[EventType] = EventType.TURN_RETRACTED
    user_turn_id: int
    reply_turn_id: int = 0


EventSink = Callable[[Event], None]
"""Where the core sends events. Called on the core's own thread."""
