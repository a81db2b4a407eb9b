"""Single instance and `parley toggle` over the real local socket."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.control import (
    AlreadyRunning,
    ControlServer,
    NotRunning,
    default_address,
    send_command,
)


def test_commands_reach_the_running_instance(parley_home: Path) -> None:
    got: list[str] = []
    server = ControlServer(lambda c: got.append(c) or f"ok {c}")
    server.start()
    try:
        assert send_command("ping") == "pong"
        assert send_command("toggle") == "ok toggle"
        assert "unknown command" in send_command("dance")
        assert got == ["toggle"]
        with pytest.raises(AlreadyRunning):
            ControlServer(lambda c: c).start()
        # The CLI client, as a desktop shortcut would run it.
        out = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "toggle"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0 and "ok toggle" in out.stdout
    finally:
        server.close()
    with pytest.raises(NotRunning):
        send_command("toggle")


def test_stale_socket_is_replaced(parley_home: Path) -> None:
    # A crashed Parley leaves its socket file behind, with nobody listening.
    address = default_address()
    Path(address).parent.mkdir(parents=True, exist_ok=True)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(address)
    dead.close()
    assert Path(address).exists()
    with pytest.raises(NotRunning):
        send_command("toggle")
    second = ControlServer(lambda c: "second")
    second.start()
    try:
        assert send_command("toggle") == "second"
    finally:
        second.close()


def test_toggle_without_parley_is_a_clear_message(parley_home: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "toggle"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "not running" in out.stderr
    assert "Traceback" not in out.stderr
