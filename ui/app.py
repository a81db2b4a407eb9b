"""`parley`: with a subcommand, the command line (assistant.cli); without one,
the desktop app.

    parley            open the window (or bring the running one to the front)
    parley chat ...   every subcommand is handed to assistant.cli.main

The core never imports this module: the dependency runs from ui/ to assistant/.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
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
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = [a for a in argv if a not in ("-v", "--verbose")]
    if rest:
        from assistant.cli import main as cli_main

        return cli_main(argv)
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
    try:
        return run_gui()
    except ImportError as e:  # a broken Qt install: say so, no traceback
        print(f"parley: the desktop app cannot start ({e}). Try `parley chat`.", file=sys.stderr)
        return 1


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


def run_gui() -> int:
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
    if not shell.start():
        return 1
    # Ctrl-C / SIGTERM quit cleanly. Python runs signal handlers only between
    # bytecodes, so a slow timer lets the interpreter look while Qt waits.
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    wake = QTimer()
    wake.start(250)
    wake.timeout.connect(lambda: None)
    code = app.exec()
    shell.shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
