"""Presses the hotkey on a (virtual) X display through XTest and reports what
the GlobalHotkey delivered. Run by test_hotkey_x11.py in its own process, with
DISPLAY pointing at Xvfb."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    from pynput.keyboard import Controller, Key

    from ui.hotkey import GlobalHotkey, HotkeyHandler

    calls: list[str] = []
    threads: set[str] = set()

    class Target:
        def start_listening(self) -> None:
            calls.append("start_listening")

        def stop_listening(self) -> None:
            calls.append("stop_listening")

        def toggle(self) -> str:
            calls.append("toggle")
            return "listening"

    def deliver(fn):  # the app passes Bridge.run_on_gui here
        threads.add(threading.current_thread().name)
        fn()

    mode = sys.argv[1] if len(sys.argv) > 1 else "hold"
    hk = GlobalHotkey("<ctrl>+<alt>+p", HotkeyHandler(Target(), mode), deliver)
    reason = hk.start()
    if reason:
        print(json.dumps({"error": reason}))
        return 1
    kb = Controller()
    time.sleep(0.3)
    for _ in range(2):
        kb.press(Key.ctrl)
        kb.press(Key.alt)
        kb.press("p")
        time.sleep(0.3)
        kb.release("p")
        kb.release(Key.alt)
        kb.release(Key.ctrl)
        time.sleep(0.3)
    hk.stop()
    print(json.dumps({"calls": calls, "threads": sorted(threads)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
