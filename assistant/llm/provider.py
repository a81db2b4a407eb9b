"""Loads the LLM once, on a background thread, at start-up.

Rule answers never wait for it: the dialogue manager asks `get()` only when a
turn needs the model, and by then loading has usually finished.

Quitting while it loads: llama.cpp's load cannot be interrupted, and a thread
still inside it when the interpreter tears down crashes the process (signal
11). `close()` stops what can be stopped (the system-prompt prefill, in
chunks) and `native_busy()` tells the exit path (`assistant/shutdown.py`)
whether llama.cpp code still runs on some thread.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from assistant.events import ErrorCode
from assistant.llm.engine import LlmEngine, LlmError, LlmOptions
from assistant.llm.templates import Message

log = logging.getLogger(__name__)

LOAD_PREFILL_CHUNK = 128
"""Tokens per llama.cpp call in the prefill at load: a quit waits at most one
chunk for it, and chunks this big cost no speed."""

_providers: weakref.WeakSet[LlmProvider] = weakref.WeakSet()


class LlmState(StrEnum):
    DISABLED = "disabled"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


class LlmProvider:
    """Owns the one `LlmEngine`. `start()` begins loading; `get()` waits for it."""

    def __init__(
        self,
        resolve_path: Callable[[], Path],
        options: LlmOptions,
        prefill: Callable[[LlmEngine], list[Message]] | None = None,
    ) -> None:
        self._resolve = resolve_path
        self._options = options
        self._prefill = prefill
        self._done = threading.Event()
        self._closed = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.engine: LlmEngine | None = None
        self.error: LlmError | None = None
        self.state = LlmState.DISABLED
        _providers.add(self)

    @classmethod
    def ready(cls, engine: LlmEngine) -> LlmProvider:
        """A provider around an engine that is already loaded (tests, bench)."""
        p = cls(lambda: engine.path, LlmOptions())
        p.engine, p.state = engine, LlmState.READY
        p._done.set()
        return p

    def start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._done.is_set() or self._closed.is_set():
                return
            self._start_locked()

    def _start_locked(self) -> None:
        self.state = LlmState.LOADING
        self._thread = threading.Thread(target=self._load, name="llm-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            engine = LlmEngine.load(self._resolve(), self._options)
            if self._prefill is not None and not self._closed.is_set():
                text = engine.render(self._prefill(engine), add_generation_prompt=False)
                n = engine.prefill_text(text, self._closed.is_set, LOAD_PREFILL_CHUNK)
                log.info("prefilled %d system-prompt tokens at load", n)
            self.engine, self.state = engine, LlmState.READY
        except LlmError as e:
            self.error, self.state = e, LlmState.FAILED
        except Exception as e:  # never let a loader bug kill the app silently
            log.exception("LLM load failed")
            self.error = LlmError(ErrorCode.LLM_FAILED, f"The language model failed to load: {e}")
            self.state = LlmState.FAILED
        finally:
            self._done.set()

    def get(
        self, timeout: float | None = None, cancel: Callable[[], bool] | None = None
    ) -> LlmEngine | None:
        """The engine, waiting up to `timeout` s for loading; None when it is
        disabled, failed, still loading after the timeout, or `cancel()` came
        true while waiting (checked every 0.1 s: a quit must not wait for a load)."""
        if self.state is LlmState.DISABLED:
            return None
        if cancel is None:
            self._done.wait(timeout)
            return self.engine
        end = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set() and not cancel():
            left = 0.1 if end is None else min(0.1, end - time.monotonic())
            if left <= 0:
                break
            self._done.wait(left)
        return self.engine

    def close(self) -> None:
        """No more loading: a load not started never starts, the prefill at
        load stops after its current chunk. Returns at once; the llama.cpp
        load itself cannot be stopped (see `native_busy`)."""
        self._closed.set()

    def busy(self) -> bool:
        """Whether llama.cpp code may be running for this provider now: the
        loader thread is alive, or the engine is generating or prefilling."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            return True
        return bool(getattr(self.engine, "busy", False))  # stand-ins in tests have none


def native_busy() -> bool:
    """Whether any provider's model is loading or working on some thread."""
    return any(p.busy() for p in list(_providers))
