"""Entry script of the frozen Parley app (PyInstaller runs this file as __main__).

It is `ui.app:main`, the `parley` console script: no arguments open the
window, a subcommand runs the command line (assistant.cli).

`freeze_support()` must run before anything else: the TTS worker and the
speech recogniser's worker (pocketsphinx or Moonshine, assistant/speech/
stt_worker.py) are multiprocessing 'spawn' children, and in a frozen app a
child is this same executable started with multiprocessing's arguments.
Without the call every child would start another Parley instead of the worker
(PyInstaller's multiprocessing runtime hook makes it work on Linux and macOS
too).
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    from ui.app import main as parley_main

    return parley_main()


if __name__ == "__main__":
    sys.exit(main())
