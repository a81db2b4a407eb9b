"""`parley transcribe clip.wav`: speech to text only, heard as the voice loop
hears it (`parley listen --wav clip.wav` gives the same words; speech/hearing.py)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("transcribe", help="speech-to-text of a WAV file")
    p.add_argument("wav", type=Path)
    p.add_argument("--language", help="language tag (default: the setting)")
    p.add_argument("--json", action="store_true", help="words with times and confidences")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from assistant.config import load_settings
    from assistant.pipeline import judge_pause
    from assistant.speech import hearing
    from assistant.speech.stt import SttError, open_engine, read_wav

    settings = load_settings().settings
    language = args.language or settings.language
    try:
        # The file first: a file that is not audio is refused before the
        # speech model takes seconds to load.
        audio = read_wav(args.wav)
        engine = open_engine(language, settings.stt_model, kind=settings.stt_engine)
        # Heard as `parley listen --wav` hears it: the same recogniser, ear,
        # command bias and ends of turns, so the same words (speech/hearing.py).
        result = hearing.transcribe(
            audio, engine, language, lambda text: judge_pause(text, settings.turn_wait_s)
        )
    except SttError as e:
        print(f"parley: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(asdict(result), ensure_ascii=False))
    else:
        print(result.text)
        if not result.text:  # an empty line alone reads like a failure
            print(f"parley: no speech was recognised in {args.wav}", file=sys.stderr)
    return 0
