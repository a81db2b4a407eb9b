"""`parley chat`: talk to Parley by typing.

Reads lines from a terminal or a pipe. Replies stream to stdout. Ctrl-C stops
the reply being written (it is kept, marked interrupted), not the program;
Ctrl-D, `exit` or `quit` leave. SIGTERM leaves with exit code 0 at any moment:
a reply being written is stopped and kept (interrupted) first. With --json,
stdout carries only events, one JSON object per line; everything for humans
goes to stderr.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from assistant.dialogue.intents import IntentName
from assistant.events import (
    Error,
    Event,
    Flagged,
    Notice,
    ReplyDelta,
    ReplyDone,
    ToolRequest,
    ToolResult,
)
from assistant.llm.cancel import CancelToken
from assistant.shutdown import Terminated

QUIT_WORDS = {"exit", "quit", "/exit", "/quit"}


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("chat", help="talk to Parley by typing")
    p.add_argument("--once", metavar="TEXT", help="answer one message and exit")
    p.add_argument("--json", action="store_true", help="print every event as one JSON line")
    p.add_argument("--no-llm", action="store_true", help="answer by rules only, load no model")
    p.add_argument("--model", metavar="PATH", help="GGUF model file to use for this run")
    p.add_argument("--new", action="store_true", help="start a new conversation")
    p.set_defaults(func=run)


class Printer:
    """Turns core events into terminal output (or JSON lines). Called from the
    brain thread and from timer threads, hence the lock."""

    def __init__(self, json_mode: bool, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> None:
        self.json_mode = json_mode
        self.out, self.err = out, err
        self._lock = threading.Lock()
        self._streaming = False
        self.prompt = ""
        """Shown again after a notice that arrives while the user is typing."""
        self.at_prompt = False

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.json_mode:
                self.out.write(event.to_json() + "\n")
                self.out.flush()
                return
            self._human(event)

    def _human(self, event: Event) -> None:
        if isinstance(event, ReplyDelta):
            self.out.write(event.text)
            self.out.flush()
            self._streaming = True
        elif isinstance(event, ReplyDone):
            if event.interrupted:
                self.out.write(" [interrupted]")
            self.out.write("\n")
            self.out.flush()
            self._streaming = False
        elif isinstance(event, Error):
            self._line(f"parley: {event.message}")
        elif isinstance(event, Notice):
            self._line(f"({event.message})")
            if self.at_prompt and self.prompt:  # a timer went off while the user types
                self.err.write(self.prompt)
                self.err.flush()
        elif isinstance(event, Flagged) and event.reason == "negative_sentiment":
            pass  # the reply itself acknowledges it
        elif isinstance(event, ToolRequest):
            # The reply asks the question; this says how long the answer may take.
            self._line(f"(waiting {event.timeout_s:g} s for yes or no: {event.description})")
        elif isinstance(event, ToolResult):
            pass  # its text is in the reply, or in a notice

    def _line(self, text: str) -> None:
        if self._streaming or (self.at_prompt and self.prompt):
            self.err.write("\n")
        self.err.write(text + "\n")
        self.err.flush()


@contextmanager
def ctrl_c_cancels(cancel: CancelToken) -> Iterator[None]:
    """While a reply is written, Ctrl-C cancels it instead of raising. SIGTERM
    cancels it too, and once the turn has stored it, raises Terminated (the
    program ends): raised mid-turn it would leave the reply half written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    terminated: list[bool] = []

    def on_term(*_: object) -> None:
        terminated.append(True)
        cancel.cancel("quit")

    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel("ctrl-c"))
    previous_term = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    if terminated:
        raise Terminated()


BAD_BYTES = "Some typed bytes were not valid text and were replaced."


class LineReader:
    """Lines from stdin as text, whatever bytes arrive: bytes that are not valid
    in the input's encoding become U+FFFD, and the user is told once. (Text
    mode would raise UnicodeDecodeError, or under a C locale pass surrogates
    on that fail later, when the turn is stored or printed.)"""

    def __init__(self, stream: TextIO, printer: Printer) -> None:
        self.stream = stream
        self.printer = printer
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self.warned = False

    def readline(self) -> str:
        raw = getattr(self.stream, "buffer", None)
        if raw is None:  # a text-only stream (tests, embedding): already text
            return clean_text(self.stream.readline(), self)
        data = raw.readline()
        try:
            return data.decode(self.encoding)
        except (UnicodeDecodeError, LookupError):
            self.bad_bytes()
            return data.decode(self.encoding if _known(self.encoding) else "utf-8", "replace")

    def bad_bytes(self) -> None:
        if not self.warned:
            self.warned = True
            self.printer(Notice(BAD_BYTES, "bad_input"))


def _known(encoding: str) -> bool:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        return False
    return True


def clean_text(text: str, reader: LineReader | None = None) -> str:
    """`text` with lone surrogates (undecodable bytes smuggled in by the C
    locale's surrogateescape, e.g. in argv) replaced by U+FFFD."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    if reader is not None:
        reader.bad_bytes()
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)


def run(args: argparse.Namespace) -> int:
    from assistant.session import Session

    printer = Printer(args.json)
    session = Session.open(
        printer, model=args.model, use_llm=not args.no_llm, new_conversation=args.new
    )
    try:
        if args.once is not None:
            once = clean_text(args.once)
            if once != args.once:
                printer(Notice(BAD_BYTES, "bad_input"))
            result = _turn(session, once)
            return 0 if result is not None else 1
        session.start_llm()  # load in the background while the user types
        return _repl(session, printer)
    finally:
        session.close()


def _turn(session: Any, text: str, *, prepare_next: bool = False) -> Any:
    cancel = CancelToken()
    with ctrl_c_cancels(cancel):
        result = session.manager.handle(text, cancel=cancel)
        if prepare_next:  # while the user reads the reply
            session.manager.prepare_next_turn(lambda: cancel.cancelled)
    return result


def _repl(session: Any, printer: Printer) -> int:
    interactive = sys.stdin.isatty()
    if interactive and not printer.json_mode:
        print(
            "Parley is listening. Type a message; Ctrl-C stops a reply, Ctrl-D quits.",
            file=sys.stderr,
        )
    prompt = "> " if interactive and not printer.json_mode else ""
    printer.prompt = prompt
    reader = LineReader(sys.stdin, printer)
    while True:
        try:
            if prompt:
                sys.stderr.write(prompt)
                sys.stderr.flush()
            printer.at_prompt = True
            line = reader.readline()
        except KeyboardInterrupt:
            print("\n(Ctrl-D or 'exit' to quit)", file=sys.stderr)
            continue
        finally:
            printer.at_prompt = False
        if not line:  # EOF
            return 0
        text = line.strip()
        if not text:
            continue  # a bare Enter is not a turn
        if text.lower() in QUIT_WORDS:
            return 0
        result = _turn(session, text, prepare_next=True)
        if result is not None and result.intent == IntentName.GOODBYE.value:
            return 0
