"""The ear: audio frames -> VAD -> endpointing -> wake word -> STT -> user turns.

Fed on the pipeline's ear thread (`Ear.feed`), in 30 ms frames. The
recognisers only see audio inside VAD speech segments (plus a short pre-roll,
so the first syllable is not cut), which keeps idle listening cheap.

The end of the user's turn is decided here by the Endpointer, not by the
recogniser: when the pause begins, the dialogue side's `judge` reads the
partial transcript and sets the hangover (short when it is a finished request,
long when it is still half said; judged again whenever the partial changes
during the pause), then the recogniser is asked for its final result at once.
The pause counts from where the voice stopped (`TailTrim`), not from where the
VAD model let go of it.

When the user goes on just after a turn ended ("what is nine times seven ...
plus two"), the listener may call `continue_last()` as the new speech starts:
the recogniser then hears the last utterance, the silence and the new words
again as one clip, so the request is decoded whole, as if nobody had paused
(a few words on their own are the hardest clip for a recogniser to read).
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from assistant.audio.format import FRAME_SAMPLES, FRAME_SECONDS
from assistant.speech.stt import Recognizer, Transcript
from assistant.speech.tail import TailTrim
from assistant.speech.vad import (
    Endpointer,
    EndpointEventType,
    FrameVad,
    looks_complete,
)

log = logging.getLogger(__name__)

PRE_ROLL_S = 0.3
PARTIAL_EVERY_S = 0.15
RESUME_WINDOW_S = 0.5
"""Speech starting this soon after a turn ended goes on with it (the voice loop
takes the turn back; `continue_last`)."""
KEEP_GAP_S = 2.0
"""Silence after an utterance kept for `continue_last` (more than any window)."""


# -- what the ear tells the pipeline (one frozen type per thing) -----------------


@dataclass(frozen=True)
class SpeechStarted:
    at: float
    """Monotonic time (s) the speech began."""


@dataclass(frozen=True)
class PartialHeard:
    text: str


@dataclass(frozen=True)
class PauseHeard:
    """Silence began after speech; the utterance may or may not be over."""

    text: str
    complete: bool
    """The partial transcript reads as a complete request (short hangover)."""
    speech_end: float = 0.0
    """Monotonic time (s) the voice stopped."""
    settled: bool = True
    """The partial covers all the speech so far. Unsettled, `complete` is only
    the judge's reading of the words decoded yet: worth warming the model up
    for, not worth answering."""


@dataclass(frozen=True)
class PauseJudgement:
    """The dialogue side's reading of a pause (see `Ear.judge`)."""

    hangover_s: float
    """Silence that ends the turn: short when finished, long when half said."""
    complete: bool


@dataclass(frozen=True)
class SpeechResumed:
    pass


@dataclass(frozen=True)
class TurnEnding:
    """The pause ended the turn; the recogniser's final result comes next
    (`UtteranceHeard`). `text` is the partial the pause was judged on: a reply
    prepared for it may be let out now and checked against the final."""

    text: str


@dataclass(frozen=True)
class WakeHeard:
    at: float


@dataclass(frozen=True)
class UtteranceHeard:
    transcript: Transcript
    speech_end: float
    """Monotonic time (s) of the true end of speech, as the VAD heard it."""
    endpoint: float
    """Monotonic time (s) the end of the turn was decided."""
    stt_final: float
    """Monotonic time (s) the recogniser's final result was ready."""
    hinted: bool
    continues: bool = False
    """The transcript is the last utterance and this one heard as one clip
    (`Ear.continue_last`): it holds the words of the turn it goes on with."""


@dataclass(frozen=True)
class SpeechDiscarded:
    """An utterance without the wake word (or empty): ignored."""

    text: str


EarMessage = (
    SpeechStarted
    | PartialHeard
    | PauseHeard
    | SpeechResumed
    | TurnEnding
    | WakeHeard
    | UtteranceHeard
    | SpeechDiscarded
)


class WakeGate:
    """What the ear needs from a wake-word spotter (see speech/wakeword.py)."""

    def accept(self, samples: np.ndarray) -> object | None: ...  # a hit or None
    def reset(self) -> None: ...


class Ear:
    """Turns frames into messages. Not thread-safe: one thread feeds it."""

    def __init__(
        self,
        vad: FrameVad,
        recognizer: Recognizer,
        emit: Callable[[EarMessage], None],
        *,
        endpointer: Endpointer | None = None,
        spotter: WakeGate | None = None,
        clock: Callable[[], float] = time.monotonic,
        judge: Callable[[str], PauseJudgement] | None = None,
        speech_gate: Callable[[np.ndarray, bool], bool] | None = None,
        tail_trim: TailTrim | None = None,
    ) -> None:
        self.vad = vad
        self.recognizer = recognizer
        self.emit = emit
        self.endpointer = endpointer or Endpointer()
        self.spotter = spotter
        self.clock = clock
        self.wake_required = spotter is not None
        """When set, an utterance counts only if the wake word opens it."""
        self.tail_trim = tail_trim
        """Ends speech where the voice stops, not where the VAD model lets go."""
        self.speech_gate = speech_gate
        """Optional second opinion on each speech frame (the self-hearing guard)."""
        self.judge = judge
        """The dialogue side's reading of the partial transcript at a pause:
        the hangover to end the turn with, and whether it reads as finished.
        Without a judge, `looks_complete` picks the Endpointer's own hangovers."""
        self._pre_roll: collections.deque[np.ndarray] = collections.deque(
            maxlen=max(1, round(PRE_ROLL_S / FRAME_SECONDS))
        )
        self._in_speech = False
        self._woke = False
        self._utterance: list[np.ndarray] = []
        self._fed: list[np.ndarray] = []
        """The audio the recogniser heard for the current utterance."""
        self._last_fed: list[np.ndarray] = []
        """The last finished utterance's audio, then the frames after it."""
        self._gap_frames = 0
        self._continuing = False
        """This utterance is the last one going on (`continue_last`)."""
        self.last_end_s = -1.0
        """Stream time (s) the last utterance with words ended (-1: none yet)."""
        self._last_start_s = 0.0
        """Stream time (s) that utterance began, where a continuation starts."""
        self._last_partial_t = 0.0
        self._partial = ""
        self._judged = ""
        """The partial transcript the current pause was judged on."""
        self._judged_settled = True
        self.settle_wait_s = 1.0
        """While the recogniser's partial does not cover all the speech yet
        (Moonshine re-decodes on a cadence), the turn cannot end sooner than
        this: a pause is judged on the words actually said."""
        self._partial_now: str | None = None
        """The partial fetched while handling the current frame, if any."""
        self._pending = np.zeros(0, np.int16)
        self.utterance_start_s = 0.0
        """Stream time (s) of the current utterance's first sample, its pre-roll's."""

    # -- feeding -----------------------------------------------------------------

    def feed(self, block: np.ndarray) -> None:
        """Any number of samples; cut into VAD frames here."""
        data = np.concatenate([self._pending, block]) if self._pending.size else block
        n = len(data) // FRAME_SAMPLES * FRAME_SAMPLES
        for i in range(0, n, FRAME_SAMPLES):
            self._frame(data[i : i + FRAME_SAMPLES])
        self._pending = data[n:].copy()

    def end_of_stream(self) -> None:
        """Input ended (a file, a released push-to-talk): finish the utterance."""
        for ev in self.endpointer.flush():
            if ev.type is EndpointEventType.SPEECH_END:
                self._finish(ev.speech_end_s, ev.complete_hint)

    def reset(self) -> None:
        self.endpointer.reset()
        self.recognizer.reset()
        if self.spotter is not None:
            self.spotter.reset()
        self._in_speech = self._woke = False
        self._utterance.clear()
        self._fed, self._last_fed, self._continuing = [], [], False
        self._partial = ""

    # -- per frame ------------------------------------------------------------------

    def _frame(self, frame: np.ndarray) -> None:
        self._partial_now = None
        speech = self.vad.is_speech(frame)
        if self.tail_trim is not None and self.endpointer.in_speech:
            speech = self.tail_trim(frame, speech)
        if self.speech_gate is not None:
            speech = self.speech_gate(frame, speech)
        events = self.endpointer.process(FRAME_SECONDS, speech)
        if self._in_speech:
            self._hear(frame)
        else:
            self._pre_roll.append(frame)
            if self._last_fed and self._gap_frames < KEEP_GAP_S / FRAME_SECONDS:
                self._last_fed.append(frame)
                self._gap_frames += 1
        for ev in events:
            if ev.type is EndpointEventType.SPEECH_START:
                self._start()
            elif ev.type is EndpointEventType.PAUSE:
                if self._listening:
                    self._judge_pause(self.recognizer.partial(), self._settled())
                else:
                    self._judge_pause("", True)
            elif ev.type is EndpointEventType.RESUME:
                self.emit(SpeechResumed())
            elif ev.type in (EndpointEventType.SPEECH_END, EndpointEventType.TIMEOUT):
                self._finish(ev.speech_end_s, ev.complete_hint)
        if not events and self.endpointer.paused and self._listening:
            # The recogniser's last word often lands a frame or two into the
            # pause: judge again whenever the partial changes. (A partial already
            # fetched for this frame is reused: with a worker process each fetch
            # is a round trip.)
            text = self._partial_now
            if text is None:
                text = self.recognizer.partial()
            settled = self._settled()
            if text != self._judged or settled != self._judged_settled:
                self._judge_pause(text, settled)

    @property
    def awaiting_words(self) -> bool:
        """In a pause whose last words the recogniser is still decoding: the
        caller should `poll()` often, not only when the next frame comes."""
        return (
            self._in_speech
            and self.endpointer.paused
            and self._listening
            and not self._judged_settled
        )

    def poll(self) -> None:
        """Between frames: when the recogniser has just decoded the last words
        (a worker pushes that), judge the pause now instead of at the next
        frame, up to 30 ms later."""
        if self.awaiting_words and self._settled():
            self._judge_pause(self.recognizer.partial(), True)

    def _settled(self) -> bool:
        settled = getattr(self.recognizer, "settled", None)
        return True if settled is None else bool(settled())

    def _judge_pause(self, text: str, settled: bool) -> None:
        self._judged, self._judged_settled = text, settled
        judged = self.judge(text) if self.judge is not None and text else None
        if not settled:
            # The last words are still being decoded: wait for them (up to
            # settle_wait_s); the partial may only warm the model up.
            floor = judged.hangover_s if judged is not None else self.endpointer.hangover_s
            self.endpointer.set_hangover(max(floor, self.settle_wait_s))
            self.endpointer.set_hint(False)
            looks = judged.complete if judged is not None else False
            speech_end = self._monotonic(self.endpointer.last_speech_end_s)
            self.emit(PauseHeard(text, looks, speech_end, settled=False))
        else:
            if judged is None:
                complete = looks_complete(text)
                self.endpointer.set_hangover(None)
            else:
                complete = judged.complete
                self.endpointer.set_hangover(judged.hangover_s)
            self.endpointer.set_hint(complete)
            speech_end = self._monotonic(self.endpointer.last_speech_end_s)
            self.emit(PauseHeard(text, complete, speech_end))
        # A verdict that came late in the pause (the last words took a while to
        # decode) ends the turn now, not a frame later.
        for ev in self.endpointer.overdue():
            self._finish(ev.speech_end_s, ev.complete_hint)

    def _monotonic(self, stream_s: float) -> float:
        """Map a stream time to monotonic time (files may run faster than real time)."""
        return self.clock() - max(0.0, self.endpointer.now_s - stream_s)

    @property
    def _listening(self) -> bool:
        return self._woke or not self.wake_required

    def continue_last(self) -> bool:
        """Called while `SpeechStarted` is handled: this speech goes on with
        the last utterance (the listener took its turn back). The recogniser
        hears that utterance, the silence since and this speech as one clip;
        the transcript (`UtteranceHeard.continues`) holds all their words.
        False when there is no last utterance to go on with."""
        if not self._in_speech or not self._last_fed or self._continuing:
            return False
        self._continuing = True
        return True

    def _start(self) -> None:
        if self.tail_trim is not None:
            self.tail_trim.start_utterance()
        self._in_speech = True
        self._woke = False
        self._continuing = False
        self._judged = ""
        self._judged_settled = True
        frames = list(self._pre_roll)
        self._pre_roll.clear()
        start_s = self.endpointer.now_s - len(frames) * FRAME_SECONDS
        self.recognizer.reset()
        if self.spotter is not None:
            self.spotter.reset()
        self._fed = []
        self.emit(SpeechStarted(self.clock()))
        if self._continuing:
            # The last utterance's audio, then every frame since (they end with
            # this pre-roll), heard again from the start.
            frames = self._last_fed
            self.utterance_start_s = self._last_start_s
        else:
            self.utterance_start_s = start_s
        self._last_fed, self._gap_frames = [], 0
        # Frame by frame, as if live: a wake phrase spotted inside the pre-roll
        # hands the recogniser only the frames after it, once.
        self._utterance = []
        for f in frames:
            self._hear(f)

    def _hear(self, frame: np.ndarray) -> None:
        self._utterance.append(frame)
        self._route(frame)

    def _route(self, frame: np.ndarray) -> None:
        if self._listening:
            self.recognizer.accept(frame)
            self._fed.append(frame)
            now = self.endpointer.now_s  # stream time: files may run faster than real time
            if now - self._last_partial_t >= PARTIAL_EVERY_S:
                self._last_partial_t = now
                text = self.recognizer.partial()
                self._partial_now = text
                if text and text != self._partial:
                    self._partial = text
                    self.emit(PartialHeard(text))
            return
        assert self.spotter is not None
        hit = self.spotter.accept(frame)
        if hit is not None:
            self._woke = True
            self.emit(WakeHeard(self.clock()))
            # The rest of the utterance after the wake phrase is the request.
            audio = np.concatenate(self._utterance)
            end = int(getattr(hit, "end_sample", len(audio)))
            rest = audio[end:]
            self._fed = [rest]
            if rest.size:
                self.recognizer.accept(rest)

    def _finish(self, speech_end_s: float, hinted: bool) -> None:
        if not self._in_speech:
            return
        now = self.clock()
        speech_end = self._monotonic(speech_end_s)
        self._in_speech = False
        woke = self._woke
        if not self._listening:
            self.emit(SpeechDiscarded(self.recognizer.partial()))
            self.reset()
            return
        if self._judged:
            self.emit(TurnEnding(self._judged))
        transcript = self.recognizer.final()
        stt_final = self.clock()
        phrase = str(getattr(self.spotter, "phrase", ""))
        if woke and phrase:  # the recogniser may have caught the wake phrase or its tail
            from assistant.speech.wakeword import request_after_wake

            rest = request_after_wake(transcript.text, phrase)
            if rest != transcript.text:
                transcript = replace(transcript, text=rest)
        self._utterance.clear()
        self._partial = ""
        continues, self._continuing = self._continuing, False
        if transcript.text.strip():
            self._last_fed, self._gap_frames = self._fed, 0
            self._last_start_s = self.utterance_start_s
            self.last_end_s = self.endpointer.now_s
        self._fed = []
        if woke and not transcript.text.strip():
            # "hey parley" alone: the request follows in the next utterance.
            self.wake_required = False
            return
        self.emit(UtteranceHeard(transcript, speech_end, now, stt_final, hinted, continues))
