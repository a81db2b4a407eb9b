"""A scripted conversation in the real app window, then a screenshot.

Run by test_xvfb_screenshot.py on a virtual X screen (it needs its own process:
the test process's Qt is already offscreen). Prints one JSON line with what
happened and the longest GUI-thread stall.

    python tests/ui/xvfb_demo.py --out shot.png [--gguf model.gguf] [--wav question.wav]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--gguf", type=Path)
    ap.add_argument("--wav", type=Path, help="a spoken question fed as the microphone")
    ap.add_argument("--theme", default="system")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(relativeCreated)6.0f %(message)s")
    logging.getLogger("ui.stall").setLevel(logging.INFO)  # stalls over 50 ms, on stderr

    from PySide6.QtWidgets import QApplication

    from assistant.config import update_settings
    from assistant.events import ReplyDone, UserTurn
    from ui.controller import CoreOptions, SilentSource
    from ui.shell import Shell

    changes: dict[str, object] = {"theme": args.theme, "max_tokens": 40, "n_ctx": 1024}
    if args.gguf:
        changes["llm_model"] = str(args.gguf)
    else:
        changes["use_llm"] = False
    update_settings(changes)

    gate = threading.Event()

    class GatedWav:
        """Silence until `gate` is set, then the WAV in real time: the question
        is asked once the app is ready, so its turn is measured on its own."""

        def __init__(self, path: Path) -> None:
            self.path, self.inner = path, None

        def start(self) -> None:
            pass

        def stop(self) -> None:
            if self.inner is not None:
                self.inner.stop()

        def read(self, timeout: float | None = None) -> object:
            if not gate.is_set():
                time.sleep(min(timeout or 0.1, 0.1))
                return None
            if self.inner is None:
                from assistant.audio.capture import WavSource

                self.inner = WavSource(self.path, realtime=True)
                self.inner.start()
            return self.inner.read(timeout)

    def source(_settings: object) -> object:
        return GatedWav(args.wav) if args.wav else SilentSource()

    app = QApplication(["parley"])
    options = CoreOptions(speak=False, source_factory=source, open_mic=bool(args.wav))
    shell = Shell(app, options, control=False, onboarding=False, global_hotkey=False)
    done: list[ReplyDone] = []
    users: list[UserTurn] = []
    shell.bridge.reply_done.connect(done.append)
    shell.bridge.user_turn.connect(users.append)
    assert shell.start()
    w = shell.window
    w.resize(1000, 700)

    def wait(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.01)
        return False

    wait(shell.controller.ready.is_set, 120)
    wait(lambda: False, 0.2)  # the ready callback runs on the GUI thread
    llm = shell.controller.session.llm
    if llm is not None:  # wait for the model without blocking the GUI thread
        from assistant.llm.provider import LlmState

        wait(lambda: llm.state not in (LlmState.LOADING, LlmState.DISABLED), 180)
    wait(lambda: False, 0.1)  # let a late heartbeat land before measuring
    # Baseline: the same 2 s with nothing to do. A stall here is the machine
    # (other processes on the cores), not the app.
    w.stall.max_ms = 0.0
    wait(lambda: False, 2.0)
    stall_idle = w.stall.max_ms
    spoken = None
    w.stall.max_ms = 0.0
    if args.wav:
        # The question arrives through the microphone path: VAD, STT, endpoint.
        gate.set()
        wait(lambda: len(done) >= 1, 60)
        spoken = users[0].text if users else None
    stall_spoken = w.stall.max_ms if args.wav else None
    w.stall.max_ms = 0.0  # the typed turns on their own
    script = ["what is two plus two", "what time is it",
              "Write one short sentence about the moon."]
    for text in script:
        n = len(done)
        w.text.setText(text)
        w.send.click()
        wait(lambda n=n: len(done) > n, 180)
    w.set_latency_visible(True)
    w.text.setText("and what about the sun?")
    wait(lambda: False, 0.5)  # let the layout settle and scroll
    screen = app.primaryScreen()
    shot = screen.grabWindow(w.winId())
    if shot.isNull() or shot.width() < 10:
        shot = w.grab()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok = shot.save(str(args.out), "PNG")
    print(json.dumps({
        "saved": ok,
        "size": [shot.width(), shot.height()],
        "dpr": shot.devicePixelRatio(),
        "replies": [d.text for d in done],
        "sources": [str(d.source) for d in done],
        "spoken": spoken,
        "stall_idle_ms": round(stall_idle, 1),
        "stall_spoken_ms": stall_spoken and round(stall_spoken, 1),
        "stall_typed_ms": round(w.stall.max_ms, 1),
        "heartbeats": w.stall.ticks,
        "bubbles": len(w.transcript.bubbles),
    }))
    shell.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
