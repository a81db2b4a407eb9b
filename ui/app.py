"""`parley`: with a subcommand, the command line (assistant.cli); without one,
the desktop app.

    parley            open the window (or bring the running one to the front)
    parley chat ...   every subcommand is handed to assistant.cli.main

Quitting: SIGTERM, Ctrl-C in the terminal, Ctrl-Q and closing the window all
end the app with exit code 0, at any moment (even while the model loads): the
core is closed (a reply being written is stored, marked interrupted), then
`assistant.shutdown.finish` keeps a model load still inside llama.cpp from
crashing the interpreter's teardown. Only a signal that arrives before Python
has run the first line of `main` ends the process by the signal itself.

The core never imports this module: the dependency runs from ui/ to assistant/.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

NO_DISPLAY = (
    "parley: there is no graphical display here ({why}), so the window cannot open.\n"
    "Talk to Parley in the terminal instead:\n"
    "  parley chat      type to Parley\n"
    "  parley listen    talk to Parley by voice\n"
    "Run `parley --help` for every command."
)


def main(argv: list[str] | None = None) -> int:
    from assistant.shutdown import finish

    entry = argv is None  # the process's own entry point, not a call in a test
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = [a for a in argv if a not in ("-v", "--verbose")]
    if rest:
        from assistant.cli import main as cli_main

        code = cli_main(argv)
        return finish(code) if entry else code
    quit_asked = threading.Event()
    # First of all: a quit can come at any moment, and until the window takes
    # the signals over it is remembered, not the default death by signal.
    restore = _catch_quit_signals(lambda *_: quit_asked.set())
    try:
        code = _start(argv, rest, quit_asked)
    except BaseException:
        restore()
        raise
    if code is not None:  # the app does not open (main() also runs in-process)
        restore()
        return code
    try:
        code = run_gui(quit_asked)
    except ImportError as e:  # a broken Qt install: say so, no traceback
        print(f"parley: the desktop app cannot start ({e}). Try `parley chat`.", file=sys.stderr)
        code = 1
    return finish(code) if entry else code


def _catch_quit_signals(handler: Callable[..., None]) -> Callable[[], None]:
    """SIGINT and SIGTERM call `handler`; returns what puts the old ones back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore


def _start(argv: list[str], rest: list[str], quit_asked: threading.Event) -> int | None:
    """Everything before the window: an exit code when the app does not open."""
    from assistant.cli import setup_logging, start_private

    start_private()  # before anything is written: history and notes are private
    setup_logging(verbose=len(rest) != len(argv))
    if hand_over():
        print("Parley is already running; its window is now in front.")
        return 0
    why = display_missing()
    if why:
        print(NO_DISPLAY.format(why=why), file=sys.stderr)
        return 2
    if quit_asked.is_set():
        return 0
    return None


def hand_over() -> bool:
    """True when another Parley answered and raised its window."""
    from assistant.control import NotRunning, UnsafeAddress, send_command

    try:
        send_command("show", timeout=2.0)
    except NotRunning:
        return False
    except UnsafeAddress as e:  # another user's socket: start without the control socket
        print(f"parley: {e}", file=sys.stderr)
        return False
    return True


def display_missing() -> str | None:
    """Why Qt could not open a window here, or None. Checked before Qt starts,
    because Qt aborts the process when its platform plugin cannot connect."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    if wayland:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        sock = Path(wayland) if os.path.isabs(wayland) else Path(runtime) / wayland
        if sock.exists():
            return None
    display = os.environ.get("DISPLAY", "")
    if not display:
        return "neither DISPLAY nor WAYLAND_DISPLAY is set"
    if display.startswith(":"):  # a local X server has a socket we can look for
        number = display[1:].split(".")[0]
        if not Path(f"/tmp/.X11-unix/X{number}").exists():
            return f"no X server answers on DISPLAY={display}"
    return None


def run_gui(quit_asked: threading.Event | None = None) -> int:
    quit_asked = quit_asked if quit_asked is not None else threading.Event()
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from ui.shell import Shell

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication.instance() or QApplication(["parley"])
    app.setApplicationName("Parley")
    app.setApplicationDisplayName("Parley")
    app.setDesktopFileName("parley")
    shell = Shell(app)  # type: ignore[arg-type]

    def on_quit_signal(*_: object) -> None:
        quit_asked.set()
        # Posted, not called: quit() does nothing before exec() runs, and a
        # signal can arrive between here and there.
        QTimer.singleShot(0, app.quit)

    # Ctrl-C / SIGTERM quit cleanly. Python runs signal handlers only between
    # bytecodes, so a slow timer lets the interpreter look while Qt waits.
    signal.signal(signal.SIGINT, on_quit_signal)
    signal.signal(signal.SIGTERM, on_quit_signal)
    if quit_asked.is_set():  # asked while the window was being built
        shell.shutdown()
        return 0
    if not shell.start():
        shell.shutdown()
        return 1
    if quit_asked.is_set():
        QTimer.singleShot(0, app.quit)
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    code = app.exec()
    shell.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
