"""`parley toggle`: start or stop listening in the running Parley (bind it to a
key in the desktop's shortcut settings: push-to-talk where global hotkeys are
not allowed, as on Wayland)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from assistant.control import COMMANDS, NotRunning, UnsafeAddress, request


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("toggle", help="start/stop listening in the running Parley")
    p.add_argument(
        "command",
        nargs="?",
        default="toggle",
        choices=[c for c in COMMANDS],
        help="toggle (default), start, stop, show or ping",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        answer = request(args.command)
    except NotRunning:
        print(
            "parley: Parley is not running. Start it with `parley` or `parley listen`.",
            file=sys.stderr,
        )
        return 1
    except UnsafeAddress as e:
        print(f"parley: {e}", file=sys.stderr)
        return 1
    if not answer.ok:
        print(f"parley: {answer.text}", file=sys.stderr)
        return 1
    print(answer.text)
    return 0
