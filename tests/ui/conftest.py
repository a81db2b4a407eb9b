"""Qt tests run offscreen unless a display is chosen explicitly."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class FakeController:
    """Records the commands the window sends to the core (unit tests of the
    window's logic; the real core is tested in test_typed_turn.py)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.threads: list[int] = []
        self.level_dbfs = -90.0
        self.state = None
        self.accept_text = True

    def _rec(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        self.threads.append(threading.get_ident())

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]

    def submit_text(self, text: str) -> bool:
        self._rec("submit_text", text)
        return self.accept_text

    def start_listening(self) -> None:
        self._rec("start_listening")

    def stop_listening(self) -> None:
        self._rec("stop_listening")

    def toggle(self) -> str:
        self._rec("toggle")
        return "listening"

    def interrupt(self) -> None:
        self._rec("interrupt")

    def confirm(self, request_id: str, approved: bool) -> bool:
        self._rec("confirm", (request_id, approved))
        return True

    def conversations(self) -> list[Any]:
        return []

    def conversation_id(self) -> int:
        return 0

    def turns(self, _cid: int) -> list[Any]:
        return []

    def new_conversation(self) -> int:
        self._rec("new_conversation")
        return 1

    def open_conversation(self, cid: int) -> None:
        self._rec("open_conversation", cid)


@pytest.fixture
def fake() -> FakeController:
    return FakeController()


@pytest.fixture
def window(qtbot: Any, fake: FakeController) -> Any:
    from assistant.config import Settings
    from ui.bridge import Bridge
    from ui.main_window import MainWindow

    bridge = Bridge()
    w = MainWindow(fake, bridge, Settings())
    qtbot.addWidget(w)
    w.show()
    return w


def _free_display() -> int:
    for n in range(91, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb() -> Iterator[str]:
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("needs Xvfb (Debian package xvfb; scripts/system-packages.sh --test)")
    n = _free_display()
    proc = subprocess.Popen([exe, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        end = time.monotonic() + 15
        while not Path(f"/tmp/.X11-unix/X{n}").exists():
            if proc.poll() is not None or time.monotonic() > end:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"Xvfb did not start: {err[-500:]}")
            time.sleep(0.05)
        yield f":{n}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
