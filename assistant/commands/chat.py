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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from assistant.events import (
    Error,
    Event,
    Flagged,
    Notice,
    NoticeCode,
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
    p.add_argument(
        "--continue", dest="continue_", action="store_true",
        help="with --once: continue the last conversation (default: a fresh one)",
    )
    p.add_argument(
        "--yes", action="store_true",
        help="approve actions that need a yes (open a page, delete a note): for scripts",
    )
    p.set_defaults(func=run)


NEEDS_YES = 3
"""Exit code of `chat --once` when the request needs a yes it did not get."""


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
        self.typed: Callable[[], str] = lambda: ""
        """What the user has typed on the prompt line so far (redrawn with it)."""
        self.once = False
        """`--once`: there is no next line to answer a question with."""
        self._deferred: list[str] = []
        """Lines (a finished timer, a state) that came while a reply streamed:
        they wait for the reply's line to end, never split it."""
        self._held_breaks = ""
        """Line breaks at the end of the text streamed so far: written only
        when more text follows (the model's closing newline left a blank line)."""

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self.json_mode:
                self.out.write(event.to_json() + "\n")
                self.out.flush()
                return
            self._human(event)

    def _human(self, event: Event) -> None:
        if isinstance(event, ReplyDelta):
            text = event.text.rstrip("\n")
            if text:
                self.out.write(self._held_breaks + text)
                self.out.flush()
                self._held_breaks = ""
            self._held_breaks += event.text[len(text):]
            self._streaming = True
        elif isinstance(event, ReplyDone):
            self.end_reply_line(" [interrupted]" if event.interrupted else "")
        elif isinstance(event, Error):
            self._line(f"parley: {event.message}")
        elif isinstance(event, Notice):
            self._line(f"({event.message})")
        elif isinstance(event, Flagged) and event.reason == "negative_sentiment":
            pass  # the reply itself acknowledges it
        elif isinstance(event, ToolRequest):
            if not self.once:  # --once says what to do instead, after the reply
                # The reply asks the question; this says how long the answer may take.
                self._line(f"(waiting {event.timeout_s:g} s for yes or no: {event.description})")
        elif isinstance(event, ToolResult):
            pass  # its text is in the reply, or in a notice

    def end_reply_line(self, tail: str = "") -> None:
        """The streamed reply's line ends: then the lines that waited for it."""
        if self._streaming or tail:
            self.out.write(tail + "\n")
            self.out.flush()
        self._streaming = False
        self._held_breaks = ""
        deferred, self._deferred = self._deferred, []
        for text in deferred:
            self._line(text)

    def _line(self, text: str) -> None:
        if self._streaming:
            self._deferred.append(text)
            return
        if self.at_prompt and self.prompt:
            # The user is typing: the line replaces the prompt line, which is
            # drawn again below it with what was typed so far.
            self.err.write("\r\033[K" if self.err.isatty() else "\n")
            self.err.write(text + "\n" + self.prompt + self.typed())
        else:
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
        self.editing = False
        """A terminal: lines come through readline, so a notice can redraw
        the prompt with what was typed so far (`Printer.typed`)."""

    def edit_lines(self) -> None:
        """Read a terminal's lines through readline (where the platform has it)."""
        try:
            import readline
        except ImportError:
            return
        reconfigure = getattr(self.stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")  # bad bytes become U+FFFD, told once below
        self.editing = True
        self.printer.typed = readline.get_line_buffer

    def _edited_line(self) -> str:
        try:
            line = input()
        except EOFError:
            return ""
        if "\ufffd" in line:
            self.bad_bytes()
        return line + "\n"

    def readline(self) -> str:
        if self.editing:
            return self._edited_line()
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
            self.printer(Notice(BAD_BYTES, NoticeCode.BAD_INPUT))


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
    from assistant.session import Session, model_problem

    if args.model and not args.no_llm and (problem := model_problem(args.model)):
        print(f"parley: {problem}", file=sys.stderr)
        return 2
    printer = Printer(args.json)
    # A one-off question (a script's) must not inherit an earlier conversation.
    fresh = args.new or (args.once is not None and not getattr(args, "continue_", False))
    session = Session.open(
        printer, model=args.model, use_llm=not args.no_llm, new_conversation=fresh
    )
    try:
        if args.once is not None:
            once = clean_text(args.once)
            if once != args.once:
                printer(Notice(BAD_BYTES, NoticeCode.BAD_INPUT))
            printer.once = True
            result = _turn(session, once)
            if result is None:
                return 1
            llm = session.llm
            if result.flagged == "unhandled" and session.settings.llm_model and llm and llm.error:
                return 1  # the model the user chose is broken: the error above says why
            return _answer_once(session, args.yes)
        session.start_llm()  # load in the background while the user types
        return _repl(session, printer, args.yes)
    finally:
        session.close()


def _answer_once(session: Any, yes: bool) -> int:
    """After `--once`: a request that waits for a yes gets it from --yes, or
    is dropped with a word on how to give one (exit NEEDS_YES)."""
    pending = session.manager.pending_request
    if pending is None:
        return 0
    if yes:
        session.manager.confirm(pending.request_id, True)
        return 0
    print(
        f"parley: nothing was done: this request needs your yes ({pending.description}).\n"
        "  Add --yes to approve it from a script, or run `parley chat` and answer yes.",
        file=sys.stderr,
    )
    return NEEDS_YES


def _turn(session: Any, text: str, *, prepare_next: bool = False, yes: bool = False) -> Any:
    cancel = CancelToken()
    with ctrl_c_cancels(cancel):
        result = session.manager.handle(text, cancel=cancel, typed=True)
        pending = session.manager.pending_request
        if yes and pending is not None:  # --yes: the script said yes in advance
            result = session.manager.confirm(pending.request_id, True)
        if prepare_next:  # while the user reads the reply
            session.manager.prepare_next_turn(lambda: cancel.cancelled)
    return result


def _repl(session: Any, printer: Printer, yes: bool = False) -> int:
    from assistant.dialogue.intents import IntentName  # the rules load with the session

    interactive = sys.stdin.isatty()
    if interactive and not printer.json_mode:
        print(
            "Parley is ready. Type a message; Ctrl-C stops a reply, Ctrl-D quits.",
            file=sys.stderr,
        )
    prompt = "> " if interactive and not printer.json_mode else ""
    printer.prompt = prompt
    reader = LineReader(sys.stdin, printer)
    if prompt:
        reader.edit_lines()
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
        result = _turn(session, text, prepare_next=True, yes=yes)
        if result is not None and result.intent == IntentName.GOODBYE.value:
            return 0
