"""Loads the LLM once, on a background thread, at start-up.

Rule answers never wait for it: the dialogue manager asks `get()` only when a
turn needs the model, and by then loading has usually finished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from assistant.llm.engine import LlmEngine, LlmError, LlmOptions
from assistant.llm.templates import Message

log = logging.getLogger(__name__)


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
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.engine: LlmEngine | None = None
        self.error: LlmError | None = None
        self.state = LlmState.DISABLED

    @classmethod
    def ready(cls, engine: LlmEngine) -> LlmProvider:
        """A provider around an engine that is already loaded (tests, bench)."""
        p = cls(lambda: engine.path, LlmOptions())
        p.engine, p.state = engine, LlmState.READY
        p._done.set()
        return p

    def start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._done.is_set():
                return
            self._start_locked()

    def _start_locked(self) -> None:
        self.state = LlmState.LOADING
        self._thread = threading.Thread(target=self._load, name="llm-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            engine = LlmEngine.load(self._resolve(), self._options)
            if self._prefill is not None:
                n = engine.prefill(self._prefill(engine))
                log.info("prefilled %d system-prompt tokens at load", n)
            self.engine, self.state = engine, LlmState.READY
        except LlmError as e:
            self.error, self.state = e, LlmState.FAILED
        except Exception as e:  # never let a loader bug kill the app silently
            log.exception("LLM load failed")
            self.error = LlmError("llm_failed", f"The language model failed to load: {e}")
            self.state = LlmState.FAILED
        finally:
            self._done.set()

    def get(self, timeout: float | None = None) -> LlmEngine | None:
        """The engine, waiting up to `timeout` s for loading; None when it is
        disabled, failed, or still loading after the timeout."""
        if self.state is LlmState.DISABLED:
            return None
        self._done.wait(timeout)
        return self.engine
