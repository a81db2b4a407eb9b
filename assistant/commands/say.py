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
    from assistant.speech.tts import Synthesizer, TtsError, write_wav

    s = load_settings().settings
    synth = Synthesizer(
        args.voice if args.voice is not None else s.tts_voice, args.rate or s.tts_rate, s.tts_volume
    )
    try:
        syn = synth.synthesize(args.text)
        if synth.warning:
            print(f"parley: {synth.warning}", file=sys.stderr)
        if args.to:
            write_wav(args.to, syn)
            return 0
        return _play(syn)
    except TtsError as e:
        print(f"parley: {e}", file=sys.stderr)
        return 1
    finally:
        synth.close()


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
