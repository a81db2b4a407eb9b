"""SIGTERM's handler in the CLI: a quit that lands inside the import system's
weakref callbacks (which swallow exceptions) is said again outside them."""

from __future__ import annotations

import signal
import threading
from types import SimpleNamespace

import pytest

from assistant import cli
from assistant.shutdown import Terminated


def frame_in(filename: str) -> object:
    return SimpleNamespace(f_code=SimpleNamespace(co_filename=filename))


def test_a_quit_inside_an_import_callback_comes_again_outside_it() -> None:
    again = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: again.set())
    try:
        cli._terminate(signal.SIGTERM, frame_in("<frozen importlib._bootstrap>"))  # type: ignore[arg-type]
        # Not raised there (it would be swallowed): sent once more, soon.
        assert again.wait(5)
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_quit_anywhere_else_ends_parley_at_once() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(Terminated):
            cli._terminate(signal.SIGTERM, frame_in(cli.__file__))  # type: ignore[arg-type]
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # once
    finally:
        signal.signal(signal.SIGTERM, previous)
