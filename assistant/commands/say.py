"""`parley say TEXT [--to out.wav]`: the OS voice, through Parley's TTS worker."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("say", help="speak text aloud (or into a WAV file)")
    p.add_argument("text")
    p.add_argument("--to", type=Path, metavar="WAV", help="write the speech to this file")
    p.add_argument("--voice", help="voice id, name or language tag (default: the setting)")
    p.add_argument("--rate", type=int, help="words per minute (default: the setting)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from assistant.config import load_settings
    from assistant.speech.tts import Synthesizer, TtsError

    if args.to is not None and (problem := _unwritable(args.to)):
        print(f"parley: cannot write the speech to {args.to}: {problem}", file=sys.stderr)
        return 1
    s = load_settings().settings
    synth = Synthesizer(
        args.voice if args.voice is not None else s.tts_voice, args.rate or s.tts_rate, s.tts_volume
    )
    try:
        syn = synth.synthesize(args.text)
        if synth.warning:
            print(f"parley: {synth.warning}", file=sys.stderr)
        if args.to:
            return _write(args.to, syn)
        return _play(syn)
    except TtsError as e:
        print(f"parley: {e}", file=sys.stderr)
        return 1
    finally:
        synth.close()


def _unwritable(path: Path) -> str:
    """Why `path` cannot become a new WAV file ("" when it looks fine), checked
    before the voice starts so a typo costs no synthesis."""
    if path.is_dir():
        return "it is a folder"
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist" if not folder.exists() else (
            f"{folder} is not a folder"
        )
    return ""


def _write(path: Path, syn: Any) -> int:
    """Write the speech as a 16-bit mono WAV. The file is opened here rather
    than by `wave.open(name)`, whose half-built writer prints an ignored
    AttributeError traceback when the open fails."""
    import wave

    import numpy as np

    try:
        f = open(path, "wb")  # noqa: SIM115 (closed below, also when writing fails)
    except OSError as e:
        reason = e.strerror or str(e)
        if isinstance(e, PermissionError):
            reason += " (the folder or the file is read-only)"
        elif isinstance(e, FileNotFoundError):  # the folder exists (checked) but refuses
            reason = f"{path.parent} does not accept new files"
        print(f"parley: cannot write the speech to {path}: {reason}", file=sys.stderr)
        return 1
    try:
        with f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(syn.sample_rate)
            w.writeframes(np.ascontiguousarray(syn.samples, dtype="<i2").tobytes())
    except OSError as e:  # a full disk: a half-written WAV is of no use
        if path.is_file():
            path.unlink(missing_ok=True)
        print(f"parley: cannot write the speech to {path}: {e.strerror or e}", file=sys.stderr)
        return 1
    return 0


def _play(syn: Any) -> int:
    from assistant.audio.playback import NoOutputDevice, Player
    from assistant.config import load_settings

    try:
        with Player(load_settings().settings.output_device) as player:
            player.play(syn.samples, syn.sample_rate)
            player.wait_done(timeout=len(syn.samples) / syn.sample_rate + 5)
    except NoOutputDevice as e:
        print(f"parley: {e}", file=sys.stderr)
        return 1
    return 0
