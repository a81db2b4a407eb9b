"""The voice loop: ear -> brain -> mouth, on three threads.

    ear thread    source frames -> Ear (VAD, endpoint, wake word, STT) -> messages
    brain thread  user turns -> DialogueManager (rule or LLM, streaming)
                  -> clause chunker -> Speaker
    mouth thread  Speaker: TTS per clause -> audio output

States: idle (waiting for the wake word) -> listening -> thinking -> speaking
-> follow-up (listening without the wake word for `follow_up_s`) -> idle.

Barge-in: speech while Parley speaks or thinks stops the output, cancels the
generation (the reply stays in history, marked interrupted) and the new
utterance becomes the next turn. Self-hearing: while Parley speaks, the ear's
speech decisions pass an echo gate fed with what is being played (off in
headphones mode).

Nothing starts in `__init__`; `start()` starts the threads, `close()` stops
them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from assistant.audio.capture import DeviceLost, EndOfStream
from assistant.dialogue import intents
from assistant.dialogue.intents import RULE_CONFIDENCE
from assistant.dialogue.manager import DialogueManager, TurnResult
from assistant.events import (
    Error,
    Event,
    EventSink,
    Latency,
    Notice,
    Partial,
    ReplyDelta,
    ReplyDone,
    State,
    StateChanged,
)
from assistant.llm.cancel import CancelToken
from assistant.speech.chunking import ClauseChunker
from assistant.speech.ear import (
    Ear,
    EarMessage,
    PartialHeard,
    PauseHeard,
    SpeechStarted,
    UtteranceHeard,
    WakeHeard,
)
from assistant.speech.speaker import ReplyTiming, Speaker
from assistant.speech.vad import looks_complete

log = logging.getLogger(__name__)

FIRST_CLAUSE_MAX_WORDS = 4
"""The first clause is spoken after at most this many words, punctuation or not:
it bounds the first sound of the reply."""
SPOKEN_NOTICES = frozenset({"timer", "confirm_timeout"})
"""Notices the voice loop says aloud when they happen: a timer going off, and a
question about a consequential action that got no answer ("No answer, so I didn't…")."""
RULE_HANGOVER_S = 0.12
"""Silence that ends a turn a rule will answer (a complete request)."""


class FrameSource(Protocol):
    """Capture: a microphone or a file (audio/capture.py), 16 kHz mono int16.
    `read` returns a frame or None on timeout, and raises EndOfStream or
    DeviceLost."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def read(self, timeout: float | None = None) -> np.ndarray | None: ...


@dataclass
class VoiceOptions:
    open_mic: bool = False
    """Every utterance is a turn (no wake word)."""
    follow_up_s: float = 6.0
    """After a reply, seconds during which the user may speak without the wake word."""
    headphones: bool = False
    """No echo to guard against: barge-in on any speech."""


# Commands for the ear thread: typed messages, never string sentinels.
@dataclass(frozen=True)
class _Listen:
    on: bool


@dataclass(frozen=True)
class _Stop:
    pass


@dataclass(frozen=True)
class _Speculate:
    """The user paused after a complete-looking request: warm the LLM up."""

    text: str


@dataclass
class _Turn:
    heard: UtteranceHeard | None
    text: str
    confidence: float
    started: float
    cancel: CancelToken = field(default_factory=CancelToken)
    timings: dict[str, float] = field(default_factory=dict)
    confirm: tuple[str, bool] | None = None
    """A click on a tool request: (request_id, approved) instead of words."""


class Pipeline:
    def __init__(
        self,
        manager: DialogueManager,
        source: FrameSource,
        ear: Ear,
        speaker: Speaker | None,
        sink: EventSink,
        options: VoiceOptions | None = None,
    ) -> None:
        self.manager = manager
        self.source = source
        self.ear = ear
        self.speaker = speaker
        self.sink = sink
        self.options = options or VoiceOptions()
        self._commands: queue.Queue[_Listen | _Stop] = queue.Queue()
        self._turns: queue.Queue[_Turn | _Speculate | _Stop] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._current: _Turn | None = None
        self._lock = threading.Lock()
        self._follow_up_until = 0.0
        self._state = State.IDLE
        self._stopping = threading.Event()
        self.finished = threading.Event()
        """Set when the source ended and the last reply was spoken (file mode)."""
        self._pending_replies = 0
        self._source_done = False
        self.on_turn_done: Callable[[TurnResult], None] | None = None
        self._reply_epoch = 0  # the speaker epoch of the reply being given
        ear.emit = self.on_ear
        ear.judge = self._judge
        if speaker is not None:
            speaker.on_first_sample = lambda _t: self._set_state(State.SPEAKING)
        if self.options.open_mic:
            ear.wake_required = False

    # -- public API ----------------------------------------------------------------------

    def start(self) -> None:
        self.source.start()
        self._threads = [
            threading.Thread(target=self._ear_loop, name="ear", daemon=True),
            threading.Thread(target=self._brain_loop, name="brain", daemon=True),
        ]
        if self.speaker is not None:
            self.speaker.start()
        # Events the core emits between turns (a timer going off) come here too.
        unheard = self.manager.attach_voice(self._emit)
        for t in self._threads:
            t.start()
        # Always announce the first state: it tells clients Parley is ready to hear.
        self._state = State.LISTENING if not self.ear.wake_required else State.IDLE
        self._emit(StateChanged(self._state))
        for text in unheard:  # timers that went off while Parley was closed
            self._announce(text)

    def start_listening(self) -> None:
        """Push-to-talk pressed (or `parley toggle`): listen without the wake word."""
        self._commands.put(_Listen(True))

    def stop_listening(self) -> None:
        """Push-to-talk released: the utterance so far is the turn."""
        self._commands.put(_Listen(False))

    def toggle(self) -> str:
        if self._state in (State.LISTENING,):
            self.stop_listening()
            return "stopped listening"
        self.start_listening()
        return "listening"

    def interrupt(self, reason: str = "stop") -> None:
        """Stop speaking and generating now (barge-in, the stop button)."""
        with self._lock:
            turn = self._current
        if turn is not None:
            turn.cancel.cancel(reason)
        if self.speaker is not None:
            self.speaker.stop()

    def submit_text(self, text: str) -> None:
        """A typed turn through the same loop (the UI's text box)."""
        if self.speaker is not None:
            self.speaker.warm()
        self._enqueue(_Turn(None, text, 1.0, time.monotonic()))

    def confirm(self, request_id: str, approved: bool) -> None:
        """A click on a tool request's yes / no: decided on the brain thread,
        in turn order, like a typed turn."""
        self._enqueue(_Turn(None, "", 1.0, time.monotonic(), confirm=(request_id, approved)))

    def _enqueue(self, turn: _Turn) -> None:
        with self._lock:
            self._pending_replies += 1
        self._turns.put(turn)

    def close(self) -> None:
        self._stopping.set()
        self._commands.put(_Stop())
        self._turns.put(_Stop())
        self.interrupt("shutdown")
        for t in self._threads:
            t.join(timeout=5)
        self.source.stop()
        if self.speaker is not None:
            self.speaker.close()
        close_recognizer = getattr(self.ear.recognizer, "close", None)
        if close_recognizer is not None:  # a recogniser with a worker process
            close_recognizer()

    @property
    def state(self) -> State:
        return self._state

    # -- ear thread ---------------------------------------------------------------------

    def _ear_loop(self) -> None:
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                cmd = None
            if isinstance(cmd, _Stop):
                return
            if isinstance(cmd, _Listen):
                self._apply_listen(cmd.on)
            self._expire_follow_up()
            try:
                block = self.source.read(0.1)
            except EndOfStream:
                self.ear.end_of_stream()
                with self._lock:
                    self._source_done = True
                self._maybe_finished()
                return
            except DeviceLost as e:
                self.ear.end_of_stream()  # what was heard so far is still a turn
                self._emit(
                    Error(
                        "input_lost",
                        f"The microphone stopped working ({e.reason}). "
                        "Parley will resume when it is back.",
                    )
                )
                if not self._wait_for_input():
                    return
                self._emit(Notice("The microphone is back.", "input_back"))
                continue
            if block is not None:
                self.ear.feed(block)

    def _wait_for_input(self) -> bool:
        """Reopen the microphone, retrying until it is back or the loop stops."""
        reopen = getattr(self.source, "reopen", None)
        if reopen is None:
            return False
        while not self._stopping.is_set():
            if reopen(timeout=2.0, cancel=self._stopping):
                return True
        return False

    def _apply_listen(self, on: bool) -> None:
        if on:
            self.ear.wake_required = False
            self._set_state(State.LISTENING)
        else:
            self.ear.end_of_stream()
            if not self.options.open_mic:
                self.ear.wake_required = True
                self._set_state(State.IDLE)

    def _expire_follow_up(self) -> None:
        if (
            self._follow_up_until
            and time.monotonic() > self._follow_up_until
            and not self.options.open_mic
            and self._state is State.LISTENING
            and not self.ear.endpointer.in_speech
        ):
            self._follow_up_until = 0.0
            self.ear.wake_required = True
            self._set_state(State.IDLE)

    def on_ear(self, msg: EarMessage) -> None:
        """The ear's messages (called on the ear thread)."""
        if isinstance(msg, SpeechStarted):
            self._follow_up_until = 0.0
            if self.speaker is not None:
                self.speaker.warm()  # a resting output opens while the user talks
            if self._busy() and not self.ear.wake_required:
                log.info("barge-in")
                self.interrupt("barge-in")
        elif isinstance(msg, WakeHeard):
            self._set_state(State.LISTENING)
            if self._busy():
                self.interrupt("barge-in")
        elif isinstance(msg, PartialHeard):
            self._emit(Partial(msg.text))
        elif isinstance(msg, PauseHeard):
            if msg.complete and msg.text and self._current is None:
                self._turns.put(_Speculate(msg.text))
        elif isinstance(msg, UtteranceHeard):
            t = msg.transcript
            turn = _Turn(msg, t.text, t.confidence, msg.speech_end)
            turn.timings = {
                "endpoint": _ms(msg.speech_end, msg.endpoint),
                "stt_final": _ms(msg.speech_end, msg.stt_final),
            }
            self._enqueue(turn)

    def _judge(self, text: str) -> float | None:
        """At a pause: a complete request that a rule answers ends the turn after
        RULE_HANGOVER_S of silence; the reply is ready at once, so waiting longer
        is pure gap. Otherwise the Endpointer's own hangovers apply."""
        intent = intents.parse(text)
        if intent is not None and intent.confidence >= RULE_CONFIDENCE and looks_complete(text):
            return RULE_HANGOVER_S
        return None

    def _busy(self) -> bool:
        speaking = self.speaker is not None and self.speaker.speaking.is_set()
        return speaking or self._current is not None

    # -- brain thread -------------------------------------------------------------------

    def _brain_loop(self) -> None:
        while True:
            turn = self._turns.get()
            if isinstance(turn, _Stop):
                return
            if isinstance(turn, _Speculate):
                if self._turns.empty():  # a real turn waiting beats a guess
                    self.manager.speculate(turn.text, self._turn_waiting)
                continue
            try:
                self._run_turn(turn)
            except Exception as e:  # a turn must never kill the loop
                log.exception("turn failed")
                self._emit(Error("turn_failed", f"Something went wrong with that turn: {e}"))
                self._reply_finished()

    def _run_turn(self, turn: _Turn) -> None:
        with self._lock:
            self._current = turn
        self._set_state(State.THINKING)
        chunker = ClauseChunker(first_max_words=FIRST_CLAUSE_MAX_WORDS)
        speaker = self.speaker
        epoch = speaker.new_reply() if speaker is not None else 0
        self._reply_epoch = epoch
        reply_id = 0

        def sink(event: Event) -> None:
            nonlocal reply_id
            if isinstance(event, StateChanged):
                return  # the pipeline owns the state
            if isinstance(event, ReplyDelta):
                reply_id = event.turn_id
                if speaker is not None:
                    for clause in chunker.feed(event.text):
                        speaker.say(clause, epoch)
            if isinstance(event, Latency):
                turn.timings.update(event.stages_ms)
                turn.timings["tokens"] = event.tokens
                turn.timings["evaluated"] = event.prompt_tokens_evaluated
                turn.timings["ahead"] = event.ahead_tokens
                return  # re-emitted with the speech stages once the reply is heard
            self._emit(event)

        self.manager.sink = sink
        try:
            if turn.confirm is not None:
                result = self.manager.confirm(*turn.confirm)
            else:
                result = self.manager.handle(
                    turn.text, confidence=turn.confidence, cancel=turn.cancel, started=turn.started
                )
        finally:
            self.manager.sink = self._emit
        if speaker is not None:
            for clause in chunker.flush():
                speaker.say(clause, epoch)
            speaker.end_reply(epoch, lambda timing: self._spoken(turn, result, timing))
        else:
            self._spoken(turn, result, ReplyTiming())
        self.manager.prepare_next_turn(self._turn_waiting)

    def _turn_waiting(self) -> bool:
        """A turn (or a click) is queued: background prefills give way to it."""
        return not self._turns.empty()

    def _spoken(self, turn: _Turn, result: TurnResult, timing: ReplyTiming) -> None:
        """The reply has been heard (or cut off): emit its full latency and
        move to the follow-up window."""
        for name, t in (
            ("first_clause", timing.first_clause),
            ("tts_ready", timing.tts_ready),
            ("first_sample", timing.first_sample),
        ):
            if t:
                turn.timings[name] = _ms(turn.started, t)
        tokens = int(turn.timings.pop("tokens", 0))
        evaluated = int(turn.timings.pop("evaluated", 0))
        ahead = int(turn.timings.pop("ahead", 0))
        self._emit(Latency(result.reply_turn_id, dict(turn.timings), tokens, evaluated, ahead))
        if result.reply_turn_id and self.manager.history is not None:
            self.manager.update_turn(result.reply_turn_id, timings=dict(turn.timings))
        if turn.cancel.cancelled and not result.interrupted and result.reply_turn_id:
            # Generation had finished, but the user cut the speech short.
            self.manager.update_turn(result.reply_turn_id, status="interrupted")
            self._emit(
                ReplyDone(result.reply, result.source, True, result.reply_turn_id, result.intent)
            )
        with self._lock:
            if self._current is turn:
                self._current = None
        if self.on_turn_done is not None:
            self.on_turn_done(result)
        if not self.options.open_mic and not turn.cancel.cancelled:
            self.ear.wake_required = False
            self._follow_up_until = time.monotonic() + self.options.follow_up_s
        self._set_state(State.LISTENING if not self.ear.wake_required else State.IDLE)
        self._reply_finished()

    def _reply_finished(self) -> None:
        with self._lock:
            self._pending_replies = max(0, self._pending_replies - 1)
        self._maybe_finished()

    def _maybe_finished(self) -> None:
        with self._lock:
            done = self._source_done and self._pending_replies == 0
        if done:
            self.finished.set()

    # -- events ---------------------------------------------------------------------------

    def _set_state(self, state: State) -> None:
        if state is not self._state:
            self._state = state
            self._emit(StateChanged(state))

    def _emit(self, event: Event) -> None:
        if isinstance(event, Notice) and event.code in SPOKEN_NOTICES:
            self._announce(event.message)
        try:
            self.sink(event)
        except Exception:
            log.exception("event sink failed")

    def _announce(self, text: str) -> None:
        """Say a timer's announcement now: inside the reply being spoken (so it
        is not cut off by it), or on its own when Parley is quiet."""
        speaker = self.speaker
        if speaker is None:
            return
        with self._lock:
            busy = self._current is not None
        if busy and self._reply_epoch:
            speaker.say(text, self._reply_epoch)
            return
        epoch = speaker.new_reply()
        speaker.say(text, epoch)
        speaker.end_reply(epoch, lambda _timing: None)


def _ms(t0: float, t: float) -> float:
    return round((t - t0) * 1000, 1)
