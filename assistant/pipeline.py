"""The voice loop: ear -> brain -> mouth, on three threads.

    ear thread    source frames -> Ear (VAD, endpoint, wake word, STT) -> messages
    brain thread  user turns -> DialogueManager (rule or LLM, streaming)
                  -> clause chunker -> Speaker
    mouth thread  Speaker: TTS per clause -> audio output

States: idle (waiting for the wake word) -> listening -> thinking -> speaking
-> follow-up (listening without the wake word for `follow_up_s`) -> idle.

Turn-taking (docs/ARCHITECTURE.md, "Turn-taking"): at each pause the
completeness judge (dialogue/turn_end.py) sets the hangover, short for a
finished request and up to `turn_wait_s` for one still half said. A finished
request that changes nothing outside the conversation is answered during the
hangover: a *tentative* turn runs with its events and its audio held, and is
committed (the first sample written at once) when the turn ends with the same
words, or dropped when the user goes on. Speech that resumes within
`resume_window_s` after a turn ended takes that turn back (the sound stops,
its rows leave the history) and the new words join it as one turn.

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
from assistant.dialogue.manager import DialogueManager, TurnResult
from assistant.dialogue.turn_end import judge_turn, words_of
from assistant.events import (
    Error,
    ErrorCode,
    Event,
    EventSink,
    Latency,
    Notice,
    NoticeCode,
    Partial,
    ReplyDelta,
    ReplyDone,
    State,
    StateChanged,
    TurnRetracted,
)
from assistant.llm.cancel import CancelToken
from assistant.speech.chunking import ClauseChunker
from assistant.speech.ear import (
    RESUME_WINDOW_S,
    Ear,
    EarMessage,
    PartialHeard,
    PauseHeard,
    PauseJudgement,
    SpeechDiscarded,
    SpeechResumed,
    SpeechStarted,
    TurnEnding,
    UtteranceHeard,
    WakeHeard,
)
from assistant.speech.speaker import AudioOut, ReplyTiming, Speaker
from assistant.speech.stt import Transcript
from assistant.speech.tts import Synthesizer

log = logging.getLogger(__name__)

FIRST_CLAUSE_MAX_WORDS = 2
"""The first clause is spoken after at most this many words, punctuation or not:
it bounds the first sound of the reply. Each word more waits for about one more
token (a word is whole only once the next token starts): 3 words gave an LLM
turn's gap a p50 of 345 ms, 2 words 325 ms (`parley bench turn-gap`)."""
SPOKEN_NOTICES = frozenset({"timer", "confirm_timeout"})
"""Notices the voice loop says aloud when they happen: a timer going off, and a
question about a consequential action that got no answer ("No answer, so I didn't…")."""
RULE_HANGOVER_S = 0.12
"""Silence that ends a finished request a rule answers: its reply is ready at once."""
FINISHED_HANGOVER_S = 0.2
"""Silence that ends any other finished request."""
UNSURE_WAIT_SHARE = 0.7
"""Share of `turn_wait_s` that ends a request that does not open the way
requests do (often a misheard fragment, see `TurnVerdict.sure`)."""
POLL_S = 0.004
"""How often the ear loop looks for the recogniser's decode of a pause's last
words between frames (only while it waits for one)."""
DECIDE_TIMEOUT_S = 30.0
"""A tentative turn waits at most this long to be committed or dropped (the
ear always decides far sooner; this only guards against a lost message)."""


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
    turn_wait_s: float = 1.2
    """Silence that ends a request still half said ("set a timer for ...")."""
    resume_window_s: float = RESUME_WINDOW_S
    """Speech this soon after the end of a turn continues that turn."""


# Commands for the ear thread: typed messages, never string sentinels.
@dataclass(frozen=True)
class _Listen:
    on: bool


@dataclass(frozen=True)
class _Stop:
    pass


@dataclass(frozen=True)
class _FollowUp:
    """A reply was heard: listen without the wake phrase until `until` (monotonic)."""

    until: float


@dataclass(frozen=True)
class _ListenAhead:
    """The user is still speaking: evaluate the prompt up to their words so far."""

    text: str


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
    tentative: bool = False
    """Started during the user's pause: its events and audio are held until
    the ear confirms the turn is over with these words (`Pipeline._commit`)."""
    committed: bool = False
    released: bool = False
    """Its audio was let out at the end of the turn, before the final transcript."""
    dropped: bool = False
    """Taken back: the user went on speaking (before or after the end)."""
    retracted: bool = False
    """Undone (brain thread only): a turn taken back while the brain awaited
    its commit reaches `_retract` twice, from `_run_turn` and `_Retract`."""
    decided: threading.Event = field(default_factory=threading.Event)
    """Set when a tentative turn is committed or dropped."""
    held: list[Event] = field(default_factory=list)
    epoch: int = 0
    result: TurnResult | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Guards `committed`, `dropped` and `held` (the ear and brain threads), and
    the writes `_spoken` makes once the reply is heard (mouth thread): a turn
    is dropped either before them or after."""


@dataclass(frozen=True)
class _Retract:
    """Take a turn back on the brain thread (its rows, context and actions)."""

    turn: _Turn


@dataclass(frozen=True)
class EarHooks:
    """What the pipeline gives the ear it is built with (`Pipeline(ear=...)`)."""

    emit: Callable[[EarMessage], None]
    """The ear's messages (`Pipeline.on_ear`), called on the ear thread."""
    judge: Callable[[str], PauseJudgement]
    """The reading of a pause (`judge_pause` with the options' `turn_wait_s`)."""
    speaking: threading.Event | None
    """Set while Parley speaks (None when it does not speak): the cue of a
    self-hearing guard (speech/echo.py)."""


@dataclass(frozen=True)
class SpeakerHooks:
    """What the pipeline gives the speaker it is built with (`Pipeline(speaker=...)`)."""

    on_first_sample: Callable[[float], None]
    """A reply's first sample sounds (audio thread): the state becomes speaking."""
    may_rest: Callable[[], bool]
    """Whether the output may close when quiet (mouth thread)."""


EarFactory = Callable[[EarHooks], Ear]
"""Builds the pipeline's ear around its hooks; called once, in `Pipeline.__init__`."""
SpeakerFactory = Callable[[SpeakerHooks], Speaker]
"""Builds the pipeline's speaker around its hooks; called once, in `Pipeline.__init__`."""


def speaker_for(synth: Synthesizer, out: AudioOut) -> SpeakerFactory:
    """The speaker over `synth` and `out`, for `Pipeline(speaker=...)`: the
    output tells it when a reply's first sample is played."""

    def build(hooks: SpeakerHooks) -> Speaker:
        speaker = Speaker(synth, out, hooks.on_first_sample, hooks.may_rest)
        # The output was built before its speaker; no other thread has it yet.
        if hasattr(out, "on_first_sample"):
            out.on_first_sample = speaker.mark_first_sample
        return speaker

    return build


class Pipeline:
    """The voice loop over a dialogue manager. Every collaborator comes through
    the constructor; the ear and the speaker are built here (`ear`, `speaker`:
    factories) because they call back into the loop. `speaker=None`: text only."""

    def __init__(
        self,
        manager: DialogueManager,
        *,
        source: FrameSource,
        ear: EarFactory,
        sink: EventSink,
        speaker: SpeakerFactory | None = None,
        options: VoiceOptions | None = None,
        on_turn_done: Callable[[TurnResult], None] | None = None,
    ) -> None:
        self.manager = manager
        self.source = source
        self.sink = sink
        self.options = options or VoiceOptions()
        self.on_turn_done = on_turn_done
        """Called with each turn's result once its reply has been heard (on the
        mouth thread; on the brain thread without a speaker)."""
        self._commands: queue.Queue[_Listen | _FollowUp | _Stop] = queue.Queue()
        self._turns: queue.Queue[_Turn | _ListenAhead | _Speculate | _Retract | _Stop] = (
            queue.Queue()
        )
        self._threads: list[threading.Thread] = []
        self._brain: threading.Thread | None = None
        self._turn_sink: EventSink | None = None
        """Brain thread only: where the manager's events of the turn being
        answered go (`_from_manager`)."""
        self._current: _Turn | None = None
        self._lock = threading.Lock()
        self._follow_up_until = 0.0  # owned by the ear thread, like the ear itself
        self._state = State.IDLE
        self._state_lock = threading.Lock()
        """`_state` changes only in `_set_state`, under this lock, which also emits
        its StateChanged (so clients see the changes in order); the ear, brain and
        mouth threads all change it. Never take `_lock` while holding it."""
        self._stopping = threading.Event()
        self.finished = threading.Event()
        """Set when the source ended and the last reply was spoken (file mode)."""
        self._pending_replies = 0
        self._source_done = False
        self._reply_epoch = 0  # the speaker epoch of the reply being given
        # Turn-taking state, owned by the ear thread (on_ear):
        self._tentative: _Turn | None = None  # answering during the pause
        self._last_turn: _Turn | None = None  # the turn speech may still continue
        self._resume_until = 0.0  # monotonic; speech before this continues _last_turn
        self._merge_prefix = ""  # the words of a turn taken back, to join the next
        self._merge_confidence = 1.0  # and how sure the recogniser was of them
        # The mouth before the ear: the ear's self-hearing guard needs its voice.
        self.speaker = (
            speaker(SpeakerHooks(self._first_sample, self._may_rest))
            if speaker is not None
            else None
        )
        speaking = self.speaker.speaking if self.speaker is not None else None
        self.ear = ear(EarHooks(self.on_ear, self._judge, speaking))
        """Owned by the ear thread once `start` runs (its `wake_required` too)."""
        if self.options.open_mic:
            self.ear.wake_required = False  # before the ear thread exists

    # -- public API ----------------------------------------------------------------------

    def start(self) -> None:
        self.source.start()
        self._brain = threading.Thread(target=self._brain_loop, name="brain", daemon=True)
        self._threads = [
            threading.Thread(target=self._ear_loop, name="ear", daemon=True),
            self._brain,
        ]
        if self.speaker is not None:
            self.speaker.start()
        # Every event of the manager comes here from now on: a turn's, and those
        # it emits between turns (a timer going off).
        unheard = self.manager.attach_voice(self._from_manager)
        for t in self._threads:
            t.start()
        # Always announce the first state: it tells clients Parley is ready to hear.
        with self._state_lock:
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
            elif isinstance(cmd, _FollowUp):
                self._apply_follow_up(cmd.until)
            self._expire_follow_up()
            # While the recogniser decodes the last words of a pause, look for
            # its answer every few ms: the turn may end between two frames.
            waiting = self.ear.awaiting_words
            try:
                block = self.source.read(POLL_S if waiting else 0.1)
            except EndOfStream:
                self.ear.end_of_stream()
                with self._lock:
                    self._source_done = True  # from now on _spoken opens follow-ups itself
                self._drain_follow_ups()
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
                self._emit(Notice("The microphone is back.", NoticeCode.INPUT_BACK))
                continue
            if block is not None:
                self.ear.feed(block)
            elif waiting:
                self.ear.poll()

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

    def _apply_follow_up(self, until: float) -> None:
        self.ear.wake_required = False
        self._follow_up_until = until
        with self._lock:
            idle = self._current is None  # (not a turn that began since)
        if idle:
            self._set_state(State.LISTENING)

    def _drain_follow_ups(self) -> None:
        """The ear loop ends: apply a follow-up queued before it did."""
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(cmd, _FollowUp):
                self._apply_follow_up(cmd.until)

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
            if self._resumes_last_turn():
                return
            if self._busy() and not self.ear.wake_required:
                log.info("barge-in")
                self.interrupt("barge-in")
        elif isinstance(msg, WakeHeard):
            self._set_state(State.LISTENING)
            if self._busy():
                self.interrupt("barge-in")
        elif isinstance(msg, PartialHeard):
            self._emit(Partial(msg.text))
            if not self._busy() and self._tentative is None and not self._merge_prefix:
                self._turns.put(_ListenAhead(msg.text))
        elif isinstance(msg, PauseHeard):
            self._on_pause(msg)
        elif isinstance(msg, SpeechResumed):
            self._drop_tentative()  # the user went on: what was prepared is not the answer
        elif isinstance(msg, TurnEnding):
            # The recogniser's final costs tens of ms and nearly always reads
            # like the last partial: a reply prepared for that partial is let
            # out now, and taken back if the final says otherwise.
            tentative = self._tentative
            if tentative is not None and _same_words(tentative.text, msg.text):
                self._release(tentative)
        elif isinstance(msg, UtteranceHeard):
            self._on_utterance(msg)
        elif isinstance(msg, SpeechDiscarded) and self._merge_prefix:
            # What went on was not words (a cough): the request taken back is
            # answered as it was said.
            self._on_utterance(_nothing_heard())

    def _judge(self, text: str) -> PauseJudgement:
        return judge_pause(text, self.options.turn_wait_s)

    def _on_pause(self, msg: PauseHeard) -> None:
        """Answer a finished request during the pause, held until the turn ends."""
        if not msg.settled:
            # The recogniser is still decoding the last words: wait for them.
            # (Generating ahead on the words so far was measured to cost more
            # than it saved: it competes with that decode for the CPU, and the
            # answer, once the words are in, waits for it to yield. Listening
            # ahead has already evaluated the prompt up to them.)
            return
        tentative = self._tentative
        if tentative is not None and _same_words(tentative.text, msg.text) and msg.complete:
            return  # already being prepared
        self._drop_tentative()
        if not msg.complete or not msg.text or self._busy() or self._merge_prefix:
            return
        if not self.manager.can_prepare(msg.text):
            self._turns.put(_Speculate(msg.text))  # warm the model up, change nothing
            return
        turn = _Turn(None, msg.text, 1.0, msg.speech_end or time.monotonic(), tentative=True)
        self._tentative = turn
        self._turns.put(turn)
        log.info("answering during the pause (%d words)", len(msg.text.split()))

    def _on_utterance(self, msg: UtteranceHeard) -> None:
        t = msg.transcript
        text, confidence = t.text, t.confidence
        if self._merge_prefix and msg.continues and text.strip():
            # The ear heard the turn taken back and these words as one clip.
            self._merge_prefix = ""
        elif self._merge_prefix:  # the turn taken back and these words are one request
            text = f"{self._merge_prefix} {text}".strip()
            # No words added (a cough): the request is as sure as it was.
            added = t.confidence if t.text.strip() else 1.0
            confidence = min(self._merge_confidence, added)
            self._merge_prefix = ""
        tentative, self._tentative = self._tentative, None
        if (
            tentative is not None
            and _same_words(tentative.text, text)
            and confidence >= self.manager.settings.min_confidence
            and self._commit(tentative, msg, _ear_timings(msg, tentative.started))
        ):
            turn = tentative
        else:
            if tentative is not None:
                self._drop(tentative)
            turn = _Turn(msg, text, confidence, msg.speech_end)
            turn.timings = _ear_timings(msg, msg.speech_end)
            self._enqueue(turn)
        self._last_turn = turn
        self._resume_until = msg.endpoint + self.options.resume_window_s

    def _commit(self, turn: _Turn, heard: UtteranceHeard, timings: dict[str, float]) -> bool:
        """The turn is over with the words a tentative turn answers: let it be
        heard. Its held events go out in order, then its audio. False when the
        turn was dropped meanwhile."""
        with turn.lock:
            if turn.dropped:
                return False
            turn.heard = heard
            turn.timings.update(timings)
            turn.committed = True
            held, turn.held = turn.held, []
            with self._lock:
                self._pending_replies += 1
            if self.speaker is None or not self.speaker.speaking.is_set():
                self._set_state(State.THINKING)
            for event in held:
                self._emit(event)
        self._release(turn)
        turn.decided.set()
        return True

    def _release(self, turn: _Turn) -> None:
        """Let a tentative turn's audio be heard. Under the turn's lock with the
        brain's `new_reply`: a turn the brain has not started yet gets an
        epoch that is not held at all."""
        with turn.lock:
            turn.released = True
            epoch = turn.epoch
        if self.speaker is not None and epoch:
            self.speaker.release(epoch)

    def _drop_tentative(self) -> None:
        tentative, self._tentative = self._tentative, None
        if tentative is not None:
            self._drop(tentative)

    def _drop(self, turn: _Turn) -> None:
        """A tentative turn that will not be heard: stop it, drop its audio;
        the brain takes its rows back once it has stopped."""
        log.info("the reply prepared during the pause is dropped (released: %s)", turn.released)
        with turn.lock:
            turn.dropped = True
            turn.held.clear()
        turn.cancel.cancel("resumed")
        if self.speaker is not None and turn.epoch:
            if turn.released:
                self.speaker.stop()  # it may be sounding already
            else:
                self.speaker.discard(turn.epoch)
        turn.decided.set()

    def _resumes_last_turn(self) -> bool:
        """Speech began within `resume_window_s` of the end of the last turn:
        the user had not finished. That turn is taken back (its sound stops
        now) and its words join the ones coming (`_on_utterance`)."""
        turn = self._last_turn
        if turn is None or turn.confirm is not None or time.monotonic() > self._resume_until:
            return False
        self._last_turn = None
        with turn.lock:
            turn.dropped = True
        log.info("speech resumed %.0f ms after the end of the turn: taking it back",
                 (time.monotonic() - self._resume_until + self.options.resume_window_s) * 1000)
        turn.cancel.cancel("resumed")
        if self.speaker is not None:
            self.speaker.stop()
        self._merge_prefix = turn.text
        self._merge_confidence = turn.confidence
        self.ear.wake_required = False  # the user is still talking: no wake phrase needed
        self.ear.continue_last()  # hear it all again as one request
        self._turns.put(_Retract(turn))
        return True

    def _busy(self) -> bool:
        speaking = self.speaker is not None and self.speaker.speaking.is_set()
        return speaking or self._current is not None

    # -- brain thread -------------------------------------------------------------------

    def _brain_loop(self) -> None:
        while True:
            turn = self._turns.get()
            if isinstance(turn, _Stop):
                return
            if isinstance(turn, _ListenAhead):
                if self._turns.empty():  # only the newest words are worth it
                    self.manager.listen_ahead(turn.text, self._turn_waiting)
                continue
            if isinstance(turn, _Speculate):
                if self._turns.empty():  # a real turn waiting beats a guess
                    self.manager.speculate(turn.text, self._turn_waiting)
                continue
            if isinstance(turn, _Retract):
                self._retract(turn.turn)
                continue
            try:
                self._run_turn(turn)
            except Exception as e:  # a turn must never kill the loop
                log.exception("turn failed")
                why = f"Something went wrong with that turn: {e}"
                self._emit(Error(ErrorCode.TURN_FAILED, why))
                if not turn.tentative or turn.committed:
                    self._reply_finished()

    def _run_turn(self, turn: _Turn) -> None:
        if turn.dropped and not turn.tentative:
            return  # taken back before it started: `_Retract` has nothing to undo
        with self._lock:
            self._current = turn
        if not turn.tentative:
            self._set_state(State.THINKING)
        chunker = ClauseChunker(
            first_min_words=FIRST_CLAUSE_MAX_WORDS, first_max_words=FIRST_CLAUSE_MAX_WORDS
        )
        speaker = self.speaker
        with turn.lock:  # against `_release` on the ear thread
            hold = turn.tentative and not (turn.released or turn.committed)
            epoch = speaker.new_reply(held=hold) if speaker is not None else 0
            turn.epoch = epoch
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
            with turn.lock:  # a tentative turn's events wait for its commit
                if turn.tentative and not turn.committed:
                    if not turn.dropped:
                        turn.held.append(event)
                    return
            self._emit(event)

        self._turn_sink = sink
        try:
            if turn.confirm is not None:
                result = self.manager.confirm(*turn.confirm)
            else:
                result = self.manager.handle(
                    turn.text, confidence=turn.confidence, cancel=turn.cancel, started=turn.started,
                    typed=turn.heard is None and not turn.tentative,  # the UI's text box
                )
        finally:
            self._turn_sink = None
        turn.result = result
        if speaker is not None:
            for clause in chunker.flush():
                speaker.say(clause, epoch)
        if turn.tentative and not self._await_decision(turn):
            self._retract(turn)
            return
        if speaker is not None:
            speaker.end_reply(epoch, lambda timing: self._spoken(turn, result, timing))
        else:
            self._spoken(turn, result, ReplyTiming())
        self.manager.prepare_next_turn(self._turn_waiting)

    def _await_decision(self, turn: _Turn) -> bool:
        """A tentative turn is ready: wait for the ear to commit it (True) or
        drop it (False)."""
        deadline = time.monotonic() + DECIDE_TIMEOUT_S
        while not turn.decided.wait(0.05):
            if self._stopping.is_set() or time.monotonic() > deadline:
                with turn.lock:
                    if not turn.committed:
                        turn.dropped = True
                break
        with turn.lock:
            return turn.committed and not turn.dropped

    def _retract(self, turn: _Turn) -> None:
        """Take a turn back (brain thread): its rows, its context, its actions.
        A turn the user had already seen is announced as taken back."""
        with self._lock:
            if self._current is turn:
                self._current = None
        result = turn.result
        if result is None or turn.retracted:
            return  # it never ran, or it is undone already
        turn.retracted = True
        self.manager.retract(result)
        if turn.committed or not turn.tentative:  # the user saw it: take it off the screen
            self._emit(TurnRetracted(result.user_turn_id, result.reply_turn_id))

    def _turn_waiting(self) -> bool:
        """A turn (or a click) is queued: background prefills give way to it."""
        return not self._turns.empty()

    def _spoken(self, turn: _Turn, result: TurnResult, timing: ReplyTiming) -> None:
        """The reply has been heard (or cut off): emit its full latency and
        move to the follow-up window."""
        with turn.lock:
            # Against `_resumes_last_turn` (ear thread): once a turn is taken
            # back nothing is written to it; its rows may be gone already, and
            # their ids given to the next turn's.
            dropped = turn.dropped
            if not dropped:
                self._record_heard(turn, result, timing)
        if dropped:  # taken back: `_retract` does the rest
            with self._lock:
                if self._current is turn:
                    self._current = None
            self._reply_finished()
            return
        with self._lock:
            if self._current is turn:
                self._current = None
        if self.on_turn_done is not None:
            self.on_turn_done(result)
        spoken = turn.heard is not None or turn.tentative  # not typed, not a click
        if not self.options.open_mic and not turn.cancel.cancelled and spoken:
            # A spoken turn is answered by voice: the follow-up window lets the
            # user go on without the wake phrase. (Someone who typed or clicked
            # is not talking; a microphone opened for them would say "Listening"
            # for nothing.) Ear is single-threaded: its thread opens the window
            # (wake_required), or this one once the ear loop has ended.
            follow_up = _FollowUp(time.monotonic() + self.options.follow_up_s)
            with self._lock:
                ear_running = not self._source_done
                if ear_running:
                    self._commands.put(follow_up)
            if not ear_running:
                self._apply_follow_up(follow_up.until)
        else:
            self._set_state(State.LISTENING if not self.ear.wake_required else State.IDLE)
        self._reply_finished()

    def _record_heard(self, turn: _Turn, result: TurnResult, timing: ReplyTiming) -> None:
        """The turn's full latency, out and into its history row; a reply the
        user cut short is marked interrupted. Under the turn's lock."""
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
        with self._state_lock:
            if state is not self._state:
                self._state = state
                self._emit(StateChanged(state))

    def _first_sample(self, _t: float) -> None:
        self._set_state(State.SPEAKING)

    def _may_rest(self) -> bool:
        """The output rests only while Parley waits for its wake phrase (the
        phrase itself gives the stream time to open again). Mouth thread: it
        reads the ear's flag, never changes it."""
        return self.ear.wake_required

    def _from_manager(self, event: Event) -> None:
        """The manager's events (attached once, in `start`). On the brain thread
        during a turn they go through that turn's sink (the clause chunker, the
        events a tentative turn holds); from the manager's other threads (a
        timer going off, a question timing out) they go out at once: they are
        no part of the turn being answered, and must not be held or dropped
        with it."""
        if threading.current_thread() is self._brain and self._turn_sink is not None:
            self._turn_sink(event)
        else:
            self._emit(event)

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


def judge_pause(text: str, turn_wait_s: float) -> PauseJudgement:
    """At a pause: how long a silence ends the turn. A finished request a rule
    answers ends after RULE_HANGOVER_S (its reply is ready at once, so waiting
    is pure gap), another finished one after FINISHED_HANGOVER_S, and one still
    half said only after `turn_wait_s`. (`parley transcribe` cuts a file into
    utterances with it too: speech.hearing.)"""
    verdict = judge_turn(text)
    if not verdict.complete:
        return PauseJudgement(turn_wait_s, False)
    if not verdict.sure:  # perhaps a misheard fragment: wait longer, prepare nothing
        return PauseJudgement(turn_wait_s * UNSURE_WAIT_SHARE, False)
    if verdict.dictation:  # "take a note buy milk ... eggs": the list may go on
        return PauseJudgement(turn_wait_s, True)
    return PauseJudgement(RULE_HANGOVER_S if verdict.rule else FINISHED_HANGOVER_S, True)


def _nothing_heard() -> UtteranceHeard:
    """An utterance without words: joined to a turn taken back, it is that turn."""
    now = time.monotonic()
    return UtteranceHeard(Transcript("", 1.0, (), "none"), now, now, now, True)


def _ear_timings(msg: UtteranceHeard, started: float) -> dict[str, float]:
    """The ear's stages, in ms after `started` (the turn's end of speech: for a
    tentative turn the one seen at the pause, so every stage shares its clock)."""
    return {"endpoint": _ms(started, msg.endpoint), "stt_final": _ms(started, msg.stt_final)}


_LIGHT_WORDS = frozenset(["a", "an", "the", "um", "uh", "er", "erm", "hmm", "please"])


def _same_words(a: str, b: str) -> bool:
    """The same request: the same words, but for articles and fillers (the
    recogniser's final often swaps "a" and "the" against its last partial)."""
    def content(text: str) -> list[str]:
        return [w for w in words_of(text) if w not in _LIGHT_WORDS]

    return content(a) == content(b)
