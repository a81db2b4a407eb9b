"""`parley devices`: audio inputs and outputs, the defaults marked."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("devices", help="list microphones and speakers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        from assistant.audio.devices import format_devices
    except OSError as e:  # PortAudio missing
        print(f"parley: no audio system: {e}", file=sys.stderr)
        return 1
    print(format_devices())
    return 0
