"""`parley` entry point: subcommands go to the CLI; no display gives a clear
message; a second `parley` hands over to the running one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from assistant.control import ControlServer
from ui import app

ROOT = Path(__file__).resolve().parents[2]


def test_subcommands_go_to_the_cli(capsys: Any) -> None:
    assert app.main(["history", "list"]) == 0
    assert app.main(["toggle", "ping"]) == 1  # nothing running: the CLI's own message
    assert "not running" in capsys.readouterr().err


def test_no_display_is_a_clear_message(parley_home: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", "import sys, ui.app; sys.exit(ui.app.main([]))"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2
    assert "no graphical display" in r.stderr
    assert "parley chat" in r.stderr and "parley listen" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_dead_x_display_is_named(monkeypatch: Any) -> None:
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":987")
    monkeypatch.setattr(sys, "platform", "linux")
    assert app.display_missing() == "no X server answers on DISPLAY=:987"


def test_second_parley_raises_the_first_and_exits_0(capsys: Any) -> None:
    got: list[str] = []
    server = ControlServer(lambda cmd: got.append(cmd) or "shown")
    server.start()
    try:
        assert app.main([]) == 0
    finally:
        server.close()
    assert got == ["show"]
    assert "already running" in capsys.readouterr().out


def test_the_running_app_answers_show_and_toggle(qtbot: Any) -> None:
    from PySide6.QtWidgets import QApplication

    from assistant.control import send_command
    from ui.shell import Shell

    shell = Shell(QApplication.instance(), onboarding=False, global_hotkey=False)  # type: ignore[arg-type]
    qtbot.addWidget(shell.window)
    calls: list[str] = []
    shell.controller.toggle = lambda: calls.append("toggle") or "listening"  # type: ignore[method-assign]
    shell.controller.start = lambda: None  # type: ignore[method-assign]
    assert shell.start()
    try:
        shell.window.hide()
        assert send_command("show") == "shown"
        qtbot.waitUntil(shell.window.isVisible, timeout=3000)
        assert send_command("toggle") == "listening"
        assert calls == ["toggle"]
        # A second app in the same home refuses to start twice.
        other = Shell(QApplication.instance(), onboarding=False, global_hotkey=False)  # type: ignore[arg-type]
        qtbot.addWidget(other.window)
        assert not other.start()
        other.bridge.close()
        other.window.stall.stop()
    finally:
        shell.shutdown()
