"""Assembles the voice loop from settings: source, ear (VAD, wake word, STT),
speaker (TTS + output) and the pipeline around a session's dialogue manager.

Every engine that can be missing degrades to something useful with one clear
message: no TTS engine -> text only; no wake-word support -> open mic with a
notice; no speech model for the language -> an error that says how to get one;
Moonshine unavailable -> pocketsphinx for English, with a notice when it was
installed but would not load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from assistant.events import Error, ErrorCode, EventSink, Notice, NoticeCode
from assistant.pipeline import EarHooks, FrameSource, Pipeline, VoiceOptions, speaker_for
from assistant.session import Session
from assistant.speech import hearing
from assistant.speech.ear import Ear
from assistant.speech.speaker import AudioOut, WavOut
from assistant.speech.stt import SttError, VoskEngine, open_engine
from assistant.speech.stt_worker import RecognizerProcess
from assistant.speech.tts import Synthesizer, TtsError

log = logging.getLogger(__name__)


class VoiceUnavailable(Exception):
    """The voice loop cannot run at all (no speech recogniser)."""


@dataclass
class VoiceParts:
    pipeline: Pipeline
    synth: Synthesizer | None
    out: AudioOut | None


def build_voice(
    session: Session,
    sink: EventSink,
    source: FrameSource,
    *,
    open_mic: bool = False,
    speak_to: Path | None = None,
    speak: bool = True,
) -> VoiceParts:
    s = session.settings
    try:
        engine = open_engine(s.language, s.stt_model, load=False, kind=s.stt_engine)
        recognizer = hearing.recognizer(engine, worker=True)
    except SttError as e:
        raise VoiceUnavailable(str(e)) from e

    spotter = None
    wake = s.wake_word_enabled and not open_mic
    if wake:
        try:
            from assistant.speech.wakeword import open_spotter

            shared = engine if isinstance(engine, VoskEngine) else None  # one model in memory
            # The STT setting may be a model id: hand the spotter the folder it resolved to.
            wake_dir = str(engine.model_dir) if isinstance(engine, VoskEngine) else ""
            spotter = open_spotter(s.wake_phrase, s.language, wake_dir, engine=shared)
        except Exception as e:  # no spotter for this language/model
            why = f"Wake word unavailable ({e}); every utterance is a turn."
            sink(Notice(why, NoticeCode.NO_WAKE))
            open_mic = True

    from assistant.audio.playback import NoOutputDevice

    synth: Synthesizer | None = None
    out: AudioOut | None = None
    speaker_parts: tuple[Synthesizer, AudioOut] | None = None  # the pipeline builds the Speaker
    if speak:
        synth = Synthesizer(s.tts_voice, s.tts_rate, s.tts_volume)
        try:
            synth.start()
            if synth.warning:
                sink(Notice(synth.warning, NoticeCode.TTS_VOICE))
            out = _output(speak_to, s.output_device)
            speaker_parts = (synth, out)
        except TtsError as e:
            sink(Error(ErrorCode.TTS_UNAVAILABLE, f"{e} Parley will answer in text only."))
            synth.close()
            synth = None
        except (NoOutputDevice, OSError) as e:
            if isinstance(e, NoOutputDevice):
                text = str(e)  # says already that replies are shown as text
            else:
                text = f"No sound output ({e}). Parley answers in text only."
            sink(Error(ErrorCode.OUTPUT_UNAVAILABLE, text))
            synth.close()
            synth = None

    if isinstance(recognizer, RecognizerProcess):
        try:  # the worker loaded its model while the rest started
            recognizer = _ready_or_fallback(recognizer, s.stt_engine, sink)
        except SttError as e:
            if synth is not None:
                synth.close()
            if out is not None and hasattr(out, "close"):
                out.close()
            raise VoiceUnavailable(str(e)) from e
    options = VoiceOptions(
        open_mic=open_mic,
        follow_up_s=s.follow_up_s,
        headphones=s.headphones,
        turn_wait_s=s.turn_wait_s,
    )

    def make_ear(hooks: EarHooks) -> Ear:
        gate = None
        if hooks.speaking is not None and not options.headphones and hasattr(out, "recent_output"):
            from assistant.speech.echo import EchoGate

            gate = EchoGate(out, hooks.speaking)  # type: ignore[arg-type]
        # The same ear `parley transcribe` hears a file with (speech/hearing.py).
        return hearing.make_ear(
            recognizer, s.language, hooks.emit, spotter=spotter, judge=hooks.judge,
            speech_gate=gate,
        )  # fmt: skip

    pipeline = Pipeline(
        session.manager,
        source=source,
        ear=make_ear,
        sink=sink,
        speaker=speaker_for(*speaker_parts) if speaker_parts else None,
        options=options,
    )
    return VoiceParts(pipeline, synth, out)


def _ready_or_fallback(rec: RecognizerProcess, kind: str, sink: EventSink) -> RecognizerProcess:
    """`rec` once its worker has loaded; when Moonshine was only the automatic
    choice and cannot load here, pocketsphinx instead, with a notice. Raises
    SttError when nothing loads."""
    try:
        rec.ready()
        return rec
    except SttError as e:
        if rec.engine != "moonshine" or kind != "auto":
            raise
        rec.close()
        log.warning("Moonshine could not start (%s); pocketsphinx hears instead", e)
        sink(Notice(f"{e} Parley hears with pocketsphinx instead, which is less accurate.",
                    "stt_fallback"))
    fallback = RecognizerProcess(two_pass=False)
    fallback.ready()
    return fallback


def _output(speak_to: Path | None, device: str) -> AudioOut:
    if speak_to is not None:
        return WavOut(speak_to)
    from assistant.audio.playback import Player

    player = Player(device=device)
    player.start()
    return player
