"""`parley listen`: the voice loop in a terminal.

    parley listen                  say "hey parley", then talk
    parley listen --open-mic       every utterance is a turn
    parley listen --wav q.wav --speak-to a.wav --json   a file through the whole loop

With --json, stdout carries the core's events one per line, starting with a
`state` event once Parley is ready to hear. Ctrl-C quits with exit code 130,
SIGTERM with 0 (assistant/cli.py), at any moment, even while models load.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from assistant.commands.chat import Printer
from assistant.events import (
    Error,
    ErrorCode,
    Event,
    Notice,
    NoticeCode,
    StateChanged,
    TurnRetracted,
    UserTurn,
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("listen", help="talk to Parley by voice")
    p.add_argument("--open-mic", action="store_true", help="no wake word: every utterance")
    p.add_argument("--wav", type=Path, metavar="FILE", help="listen to a WAV file instead")
    p.add_argument(
        "--wake",
        action="store_true",
        help="with --wav: require the wake word (files are open-mic by default)",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="with --wav: feed the file as fast as possible, not in real time",
    )
    p.add_argument("--speak-to", type=Path, metavar="FILE", help="write the spoken replies here")
    p.add_argument("--no-speak", action="store_true", help="text replies only")
    p.add_argument("--json", action="store_true", help="print every event as one JSON line")
    p.add_argument("--no-llm", action="store_true", help="answer by rules only")
    p.add_argument("--model", metavar="PATH", help="GGUF model file for this run")
    p.add_argument("--new", action="store_true", help="start a new conversation")
    p.set_defaults(func=run)


class VoicePrinter(Printer):
    """Like chat's printer, plus what a voice session needs: the user's words
    (they were not typed) and the state."""

    def _human(self, event: Event) -> None:
        if isinstance(event, UserTurn):
            self._line(f"you: {event.text}")
        elif isinstance(event, StateChanged):
            self._line(f"({event.state.value})")
        elif isinstance(event, TurnRetracted):
            self.end_reply_line()  # its reply may have begun: no ReplyDone follows
            self._line("(you went on: that turn and its reply are taken back)")
        else:
            super()._human(event)


def run(args: argparse.Namespace) -> int:
    from assistant.audio.format import SAMPLE_RATE, WavError, read_wav_16k

    samples = None
    if args.wav is not None:
        try:  # before anything loads: a file that is not audio is refused at once
            samples = read_wav_16k(args.wav)
        except WavError as e:
            print(f"parley: {e}", file=sys.stderr)
            return 1

    from assistant.audio.capture import MicSource, NoInputDevice, WavSource
    from assistant.control import AlreadyRunning, ControlServer
    from assistant.session import Session, model_problem

    if args.model and not args.no_llm and (problem := model_problem(args.model)):
        print(f"parley: {problem}", file=sys.stderr)
        return 2
    from assistant.voice import VoiceUnavailable, build_voice

    printer = VoicePrinter(args.json)
    session = Session.open(
        printer, model=args.model, use_llm=not args.no_llm, new_conversation=args.new
    )
    session.start_llm()
    parts = None
    control = None
    try:
        source = (
            WavSource.from_samples(samples, SAMPLE_RATE, realtime=not args.fast)
            if samples is not None
            else MicSource(session.settings.input_device)
        )
        try:
            parts = build_voice(
                session,
                printer,
                source,
                open_mic=args.open_mic or (bool(args.wav) and not args.wake),
                speak_to=args.speak_to,
                speak=not args.no_speak,
            )
        except VoiceUnavailable as e:
            printer(Error(ErrorCode.STT_UNAVAILABLE, str(e)))
            return 1
        pipeline = parts.pipeline
        if args.wav is None:
            control = ControlServer(lambda cmd: _control(pipeline, cmd))
            try:
                control.start()
            except AlreadyRunning:
                printer(
                    Error(
                        "already_running",
                        "Parley is already running here; use `parley toggle` to talk to it.",
                    )
                )
                control = None
                return 1
            except OSError as e:  # no socket (another user's?): the voice loop still works
                print(f"parley: {e} `parley toggle` cannot reach this Parley.", file=sys.stderr)
                control = None
        # From a microphone Parley listens at once: the model goes on loading
        # in the background, rule requests are answered meanwhile and a
        # question for the model waits for it ("Loading the language model…").
        # A file plays at once, so its turns are timed with the model loaded.
        if session.llm is not None and args.wav is not None:
            session.llm.get(timeout=300)
        try:
            pipeline.start()
        except NoInputDevice as e:
            printer(Error(ErrorCode.NO_MICROPHONE, f"{e} To type in this terminal: parley chat"))
            return 1
        if not args.json and args.wav is None:
            printer(Notice("Listening. Ctrl-C quits.", NoticeCode.READY))
        return _wait(pipeline, args.wav is not None)
    finally:
        if parts is not None:
            parts.pipeline.close()
            if parts.synth is not None:
                parts.synth.close()
            close = getattr(parts.out, "close", None)
            if close is not None:
                close()
        if control is not None:
            control.close()
        session.close()


def _control(pipeline: Any, command: str) -> str:
    if command == "toggle":
        return pipeline.toggle()
    if command == "start":
        pipeline.start_listening()
        return "listening"
    if command == "stop":
        pipeline.stop_listening()
        return "stopped listening"
    return "ok"


def _wait(pipeline: Any, file_mode: bool) -> int:
    """Until the file has been answered (0), SIGTERM (0) or Ctrl-C (130)."""
    stop = threading.Event()
    code = [0]

    def on_signal(signum: int, _frame: object) -> None:
        code[0] = 130 if signum == signal.SIGINT else 0
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
    while not stop.is_set():
        if file_mode and pipeline.finished.wait(0.1):
            return 0
        stop.wait(0.1)
    return code[0]
