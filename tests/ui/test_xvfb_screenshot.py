"""The real app on a virtual X screen: a scripted conversation, then a
screenshot of the main window saved as a test artifact (in the test's tmp
folder, and in $PARLEY_ARTIFACTS when that is set)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(__file__).with_name("xvfb_demo.py")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.slow
def test_scripted_conversation_screenshot(
    xvfb: str, tmp_path: Path, parley_home: Path, gguf_path: Path
) -> None:
    out = tmp_path / "screenshot-main.png"
    cmd = [sys.executable, str(DEMO), "--out", str(out), "--gguf", str(gguf_path)]
    from assistant.bench import voices

    spoken = "joe" in voices.available_voices()
    if spoken:  # a spoken question first, through the microphone path (VAD, STT, endpoint)
        wav = voices.render("what time is it", "joe", tmp_path / "question.wav",
                            lead_s=0.2, pad_s=0.5)
        cmd += ["--wav", str(wav)]
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", PARLEY_HOME=str(parley_home))
    env.pop("WAYLAND_DISPLAY", None)
    r = subprocess.run(
        cmd,
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"\nxvfb demo: {report}")
    assert report["saved"]
    typed = report["replies"][-3:]
    assert len(typed) == 3 and all(t.strip() for t in typed)
    # Rules (or their tools) answer the first two; the model writes the third.
    assert all(src in ("rule", "tool") for src in report["sources"][-3:-1])
    assert report["sources"][-1] in ("llm", "tool")
    if spoken:
        assert "time" in (report["spoken"] or "")
        assert len(report["replies"]) == 4
    assert report["bubbles"] == 2 * len(report["replies"])
    width, height = _png_size(out.read_bytes())
    assert (width, height) == tuple(report["size"]) and width >= 900 and height >= 600

    from PySide6.QtGui import QImage

    img = QImage(str(out))
    colours = {img.pixel(x, y) for x in range(0, width, 23) for y in range(0, height, 23)}
    assert len(colours) > 8  # a drawn window, not a blank frame
    artifacts = os.environ.get("PARLEY_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(artifacts) / out.name)
