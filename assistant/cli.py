"""`parley`: the command-line entry point.

argparse, not click: subcommands are all we need, and it keeps the start-up
import cost and the dependency list small. Each subcommand lives in
`assistant/commands/<name>.py` with `add_parser(subparsers)`; heavy engines
are imported inside the command that needs them, so `parley history list`
starts fast.

Ending a command: SIGTERM ends any command with exit code 0 (a requested
stop, not a failure); Ctrl-C that ends a command exits with 130 (128 + SIGINT,
the shell's convention). In `parley chat` Ctrl-C stops the reply being written,
not the program. Either way a reply being written is stored, marked
interrupted, and everything is closed before the process ends, even while the
model is still loading (`assistant.shutdown`).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from importlib import import_module
from types import FrameType

from assistant import paths
from assistant.shutdown import Terminated, finish

COMMANDS = (
    "chat", "listen", "transcribe", "say", "devices", "toggle", "history", "doctor", "bench",
    "models",
)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("parley")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley, an offline voice assistant. Run without a command for the app.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    parser.add_argument("--version", action="version", version=f"parley {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        import_module(f"assistant.commands.{name}").add_parser(sub)
    _describe(sub)
    return parser


def _describe(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Each subcommand's help page opens with what it does: its one-line help
    as the description, unless it has its own (and the same for theirs)."""
    for choice in sub._choices_actions:
        page = sub.choices.get(choice.dest)
        if page is None:
            continue
        if not page.description and choice.help:
            page.description = choice.help[0].upper() + choice.help[1:] + "."
        for action in page._actions:
            if isinstance(action, argparse._SubParsersAction):
                _describe(action)


def setup_logging(verbose: bool) -> None:
    """Details go to a log file in the logs folder; stderr gets warnings only,
    unless --verbose (stdout is kept for replies and --json events)."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.INFO if verbose else logging.WARNING)
    err.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(err)
    try:
        logs = paths.ensure_dir(paths.logs_dir())
        fh = logging.FileHandler(logs / "parley.log", encoding="utf-8")
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
    except OSError:
        pass  # an unwritable logs folder is reported by the command that needs it


def robust_stdio() -> None:
    """Output never raises on a character the terminal's encoding lacks (nor on
    a stray surrogate from undecodable input): it is replaced, the line still
    goes out. Typed input is decoded with replacement by `parley chat`."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def start_private() -> None:
    """First thing at every entry point: what Parley writes from here on is the
    user's alone (0600 files, 0700 folders), and an older install is made so."""
    paths.private_umask()
    paths.tighten_existing()  # best effort: it skips what it cannot read or change


def main(argv: list[str] | None = None) -> int:
    start_private()
    robust_stdio()
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        return _gui()
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main else None
    try:
        code = int(func(args) or 0)
    except KeyboardInterrupt:
        code = 130
    except Terminated:
        code = 0
    except BrokenPipeError:  # `parley history show | head`: the reader has what it wanted
        code = 0
        if argv is None:  # the interpreter's last flush must not fail on the pipe again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if argv is None:  # the process's entry point: end it safely (assistant/shutdown.py)
        code = finish(code)
    if on_main:  # main() also runs in-process (tests, the app's entry point)
        signal.signal(signal.SIGTERM, previous)
    return code


def _terminate(_signum: int, frame: FrameType | None) -> None:
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        # The import system's weakref callbacks swallow exceptions ("Exception
        # ignored in ... _get_module_lock"): raised there, the quit was lost and
        # Parley ran on. Say it again in a moment, outside the callback.
        redo = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM))
        redo.daemon = True
        redo.start()
        return
    # Once: the cleanup the exception runs must not be cut short by a second one.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


def _gui() -> int:
    # The core never imports the Qt app (ui/ depends on assistant/, not the
    # reverse): the `parley` script starts in ui.app, which opens the window and
    # hands subcommands to main() here. This is `python -m assistant.cli` alone.
    print(
        "The Parley desktop app starts with `parley` (or `python -m ui.app`).\n"
        "Talk to Parley in the terminal instead:\n"
        "  parley chat            a conversation in the terminal\n"
        "  parley listen          say \"hey parley\", then talk\n"
        "  parley doctor          check what is installed\n"
        "Run `parley --help` for every command.",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
