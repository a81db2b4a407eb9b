"""The global hotkey on a real X server (Xvfb): key presses injected through
XTest reach the hotkey handler via pynput, in hold and in toggle mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).with_name("hotkey_probe.py")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("hold", ["start_listening", "stop_listening"] * 2),
        ("toggle", ["toggle", "toggle"]),
    ],
)
def test_global_hotkey_on_x11(xvfb: str, mode: str, expected: list[str], tmp_path: Any) -> None:
    env = dict(os.environ, DISPLAY=xvfb)
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("XDG_SESSION_TYPE", None)
    r = subprocess.run([sys.executable, str(PROBE), mode], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    assert report["calls"] == expected
