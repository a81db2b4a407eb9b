"""How Parley hears: the recogniser and the ear the voice loop uses, shared by
`parley transcribe`, so a file gives the same words whichever way it arrives.

`parley transcribe F` once fed the whole file to a bare recogniser while
`parley listen --wav F` heard it through the ear (VAD, pre-roll, endpointing)
and the command bias, and a quarter of a set of spoken commands came out with
other words. Moonshine reads each utterance as one clip, and its words change
when the clip moves by a few milliseconds, so the only way to the same words
is the same clips: both paths build their recogniser (`recognizer`) and their
ear (`make_ear`) here, and a file is cut into utterances as the loop cuts it
(`transcribe`).

What still differs, on purpose:
- with a wake word (`listen --wake`) the loop hears only what follows the
  wake phrase, and strips the phrase from the transcript;
- the loop's follow-up questions ("set a timer" -> "for how long?") join the
  next turn's words to the first's (`dialogue.manager`); a file's utterances
  are only joined with a space. (Speech that goes on within the resume window
  of a turn's end is heard again with it as one clip on both paths:
  `Ear.continue_last`.)
- the loop hears nothing while it cannot (the echo gate while Parley speaks
  aloud on loudspeakers, a microphone that is lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from assistant.audio.format import FRAME_SAMPLES
from assistant.speech.command_bias import biased
from assistant.speech.ear import (
    RESUME_WINDOW_S,
    Ear,
    EarMessage,
    PauseJudgement,
    SpeechStarted,
    UtteranceHeard,
    WakeGate,
)
from assistant.speech.moonshine import MoonshineEngine
from assistant.speech.stt import PocketsphinxEngine, Recognizer, Transcript, VoskEngine
from assistant.speech.tail import TailTrim
from assistant.speech.vad import Endpointer, make_listening_vad

Engine = VoskEngine | PocketsphinxEngine | MoonshineEngine


def recognizer(engine: Engine, *, worker: bool) -> Recognizer:
    """The recogniser for `engine`, decoding as the voice loop decodes.

    `worker`: in a worker process (the loop: pocketsphinx holds the GIL while it
    decodes, and Moonshine's re-decodes of the growing utterance keep a core
    busy, so the window and the audio callbacks never wait for them; Vosk
    releases the GIL and stays here), else in this process (a file). Either
    way the same decoding: pocketsphinx in one live pass (its second pass over
    the whole utterance matches its offline accuracy but costs ~0.45 s per
    second of speech at the end of every turn; the live decode is one word
    worse in 71 on LibriVox: the loop takes speed), Moonshine re-decoding the
    utterance as it grows (in this process only at pauses: nobody reads a
    file's partials, and the final's words are the same)."""
    if worker and isinstance(engine, PocketsphinxEngine | MoonshineEngine):
        from assistant.speech.stt_worker import RecognizerProcess

        if isinstance(engine, MoonshineEngine):
            return RecognizerProcess(engine="moonshine")
        return RecognizerProcess(engine.extra_words, two_pass=False)
    if isinstance(engine, PocketsphinxEngine):
        return engine.recognizer(two_pass=False)
    if isinstance(engine, MoonshineEngine):
        return engine.recognizer(partials=False)
    return engine.recognizer()


def make_ear(
    rec: Recognizer,
    language: str,
    emit: Callable[[EarMessage], None] = lambda _m: None,
    *,
    spotter: WakeGate | None = None,
    judge: Callable[[str], PauseJudgement] | None = None,
    speech_gate: Callable[[np.ndarray, bool], bool] | None = None,
) -> Ear:
    """The ear around `rec`: the listening VAD, the endpointer, the tail trim,
    and the command bias when Parley hears English (speech/command_bias.py);
    `judge` and `speech_gate` as `Ear` takes them."""
    return Ear(
        make_listening_vad(),
        biased(rec, language),
        emit,
        endpointer=Endpointer(),
        spotter=spotter,
        judge=judge,
        speech_gate=speech_gate,
        tail_trim=TailTrim(),
    )


def utterances(
    audio: np.ndarray,
    engine: Engine,
    language: str,
    judge: Callable[[str], PauseJudgement] | None = None,
) -> list[tuple[float, Transcript]]:
    """16 kHz mono int16 `audio` heard as the voice loop hears it in open mic:
    `engine`'s recogniser (`recognizer`) in the loop's ear (`make_ear`), cut
    into utterances where the loop ends its turns (`judge`: the loop's reading
    of a pause, `pipeline.judge_pause`); speech that starts within
    RESUME_WINDOW_S of the end of an utterance goes on with it, as the loop
    takes a turn back. Each utterance with words, as (its start in s, its
    final transcript): the loop's user turns."""
    heard: list[tuple[float, Transcript]] = []

    def on_message(msg: EarMessage) -> None:
        if isinstance(msg, SpeechStarted):
            if heard and ear.endpointer.now_s - ear.last_end_s <= RESUME_WINDOW_S:
                ear.continue_last()
        elif isinstance(msg, UtteranceHeard) and msg.transcript.text.strip():
            if msg.continues:
                heard.pop()
            heard.append((ear.utterance_start_s, msg.transcript))

    ear = make_ear(recognizer(engine, worker=False), language, on_message, judge=judge)
    # The loop's sources pad the last frame with silence (audio.capture.WavSource).
    ear.feed(np.concatenate([audio, np.zeros(-len(audio) % FRAME_SAMPLES, np.int16)]))
    ear.end_of_stream()
    return heard


def transcribe(
    audio: np.ndarray,
    engine: Engine,
    language: str,
    judge: Callable[[str], PauseJudgement] | None = None,
) -> Transcript:
    """`utterances` as one transcript: their words joined by a space (as the
    loop joins a turn taken back to the words that follow it), the lowest
    utterance's confidence, word times in seconds from the start of `audio`."""
    heard = utterances(audio, engine, language, judge)
    if not heard:
        return Transcript("", 0.0, (), engine.name)
    words = tuple(
        replace(w, start_s=at + w.start_s, end_s=at + w.end_s) for at, t in heard for w in t.words
    )
    return Transcript(
        text=" ".join(t.text for _, t in heard),
        confidence=min(t.confidence for _, t in heard),
        words=words,
        engine=heard[0][1].engine,
    )
