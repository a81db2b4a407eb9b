"""Runs the core for the app, off the GUI thread.

`Controller.start()` opens the session, starts the LLM loading and assembles
the voice loop on a background thread (model and speech-engine loading never
block the window), exactly as `parley listen` does. Every call the window
makes (`submit_text`, `start_listening`, `interrupt`...) only puts a message on
one of the core's queues, so it returns at once.

When the microphone is missing the loop still runs on a silent source (typed
turns work, Parley says why it cannot hear); when no speech recogniser exists
at all, a small text-only loop answers typed turns.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.events import Error, ErrorCode, EventSink, Notice, NoticeCode, State, StateChanged
from assistant.llm.cancel import CancelToken

log = logging.getLogger(__name__)


class SilentSource:
    """A FrameSource that never hears anything (no microphone, or tests)."""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        time.sleep(min(timeout or 0.1, 0.1))
        return None


class MeteredSource:
    """Wraps a FrameSource and keeps the level of the last frame for the UI's
    meter. The GUI reads `level_dbfs` on a timer: a float written on the ear
    thread and read on the GUI thread needs no lock and no Qt call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.level_dbfs = -90.0

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def read(self, timeout: float | None = None) -> np.ndarray | None:
        frame = self.inner.read(timeout)
        if frame is not None and len(frame):
            rms = float(np.sqrt(np.mean(np.square(frame.astype(np.float32) / 32768.0))))
            self.level_dbfs = max(-90.0, 20 * np.log10(rms + 1e-9))
        return frame

    def go_silent(self) -> None:
        """No microphone: hear silence from now on, so the loop still runs
        (typed turns). Before the loop starts: the ear thread reads `inner`."""
        self.inner = SilentSource()

    def reopen(self, timeout: float = 2.0, cancel: threading.Event | None = None) -> bool:
        reopen = getattr(self.inner, "reopen", None)
        return bool(reopen(timeout=timeout, cancel=cancel)) if reopen else False


class TextLoop:
    """The Pipeline's text half, for when no speech recogniser can run."""

    def __init__(self, manager: Any, sink: EventSink) -> None:
        self.manager = manager
        self.sink = sink
        self._turns: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._cancel: CancelToken | None = None
        self.state = State.IDLE

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="brain", daemon=True)
        self._thread.start()
        self.sink(StateChanged(State.IDLE))

    def _loop(self) -> None:
        while (text := self._turns.get()) is not None:
            self._cancel = CancelToken()
            try:
                # Every turn here was typed: its questions wait typed_confirm_timeout_s.
                self.manager.handle(text, cancel=self._cancel, typed=True)
                self.manager.prepare_next_turn()
            except Exception as e:
                log.exception("turn failed")
                self.sink(Error(ErrorCode.TURN_FAILED, f"Something went wrong with that turn: {e}"))

    def submit_text(self, text: str) -> None:
        self._turns.put(text)

    def interrupt(self, reason: str = "stop") -> None:
        if self._cancel is not None:
            self._cancel.cancel(reason)

    def start_listening(self) -> None:
        why = "Parley cannot listen: no speech recogniser is installed."
        self.sink(Notice(why, NoticeCode.NO_STT))

    stop_listening = start_listening

    def toggle(self) -> str:
        self.start_listening()
        return "cannot listen"

    def close(self) -> None:
        self.interrupt("shutdown")
        self._turns.put(None)
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class CoreOptions:
    speak: bool = True
    """Speak replies (False: text only, as in tests)."""
    source_factory: Callable[[Any], Any] | None = None
    """settings -> FrameSource; None = the microphone from the settings."""
    new_conversation: bool = False
    open_mic: bool = False
    """Every utterance is a turn (no wake word); used with file sources."""


class Controller:
    """Owns the session and the voice loop. Methods are safe on the GUI thread."""

    def __init__(self, sink: EventSink, options: CoreOptions | None = None) -> None:
        self.sink = sink
        self.options = options or CoreOptions()
        self.session: Any = None
        self.parts: Any = None
        self.loop: Any = None  # Pipeline or TextLoop
        self.source: MeteredSource | None = None
        self.ready = threading.Event()
        self.closed = False
        self._thread: threading.Thread | None = None
        self.on_ready: Callable[[], None] | None = None
        """Called on the start-up thread when the loop runs (hand it to the GUI thread)."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._start, name="core-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            self._open()
        except Exception as e:  # the window must say why, not die
            log.exception("core start-up failed")
            why = f"Parley could not start its engine: {e}"
            self.sink(Error(ErrorCode.STARTUP_FAILED, why, True))
        finally:
            self.ready.set()
            if self.on_ready is not None:
                self.on_ready()

    def _open(self) -> None:
        from assistant.audio.capture import MicSource, NoInputDevice
        from assistant.session import Session
        from assistant.voice import VoiceUnavailable, build_voice

        self.session = Session.open(self.sink, new_conversation=self.options.new_conversation)
        if self.closed:  # quit while the history opened: load nothing (close() ends it)
            return
        self.session.start_llm()  # loads on its own thread; rule answers never wait
        settings = self.session.settings
        factory = self.options.source_factory
        inner = factory(settings) if factory else MicSource(settings.input_device)
        self.source = MeteredSource(inner)
        try:
            self.parts = build_voice(
                self.session,
                self.sink,
                self.source,
                open_mic=self.options.open_mic,
                speak=self.options.speak,
            )
        except VoiceUnavailable as e:
            self.sink(Error(ErrorCode.STT_UNAVAILABLE, f"{e} You can still type to Parley."))
            self.loop = TextLoop(self.session.manager, self.sink)
            self.loop.start()
            return
        if self.closed:
            return
        self.loop = self.parts.pipeline
        try:
            self.loop.start()
        except NoInputDevice as e:
            self.sink(Error(ErrorCode.NO_MICROPHONE, str(e)))
            self.source.go_silent()
            self.loop.start()

    def close(self) -> None:
        """Stop the core: a reply being written ends and is stored (interrupted),
        then the loop, the voice and the session close. A model load still
        running is left to `assistant.shutdown.finish`."""
        self.closed = True
        if self.session is not None and self.session.llm is not None:
            self.session.llm.close()  # the start-up below may wait on it otherwise
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.loop is not None:
            self.loop.close()
        elif self.parts is not None:  # built, never started: its recogniser may run
            self.parts.pipeline.close()
        if self.parts is not None:
            if self.parts.synth is not None:
                self.parts.synth.close()
            close = getattr(self.parts.out, "close", None)
            if close is not None:
                close()
        if self.session is not None:
            self.session.close()

    # -- commands (GUI thread; each only queues work for the core) ---------------------

    def submit_text(self, text: str) -> bool:
        if self.loop is None:
            return False
        self.loop.submit_text(text)
        return True

    def start_listening(self) -> None:
        if self.loop is not None:
            self.loop.start_listening()

    def stop_listening(self) -> None:
        if self.loop is not None:
            self.loop.stop_listening()

    def toggle(self) -> str:
        return self.loop.toggle() if self.loop is not None else "not ready"

    def interrupt(self) -> None:
        if self.loop is not None:
            self.loop.interrupt("stop")

    def confirm(self, request_id: str, approved: bool) -> bool:
        """Answer a ToolRequest. False when this core has no confirmation yet."""
        for target in (self.loop, self.session and self.session.manager):
            fn = getattr(target, "confirm", None)
            if fn is not None:
                fn(request_id, approved)
                return True
        log.warning("no confirm() in the core; request %s dropped", request_id)
        return False

    @property
    def state(self) -> State:
        return getattr(self.loop, "state", State.IDLE)

    @property
    def level_dbfs(self) -> float:
        return self.source.level_dbfs if self.source is not None else -90.0

    # -- timers ------------------------------------------------------------------------------

    def _timers(self) -> Any:
        manager = self.session.manager if self.session is not None else None
        return getattr(manager, "timers", None)

    def pending_timers(self) -> list[Any]:
        """The running timers and alarms, soonest first (a quick read of the store)."""
        timers = self._timers()
        return list(timers.store.pending()) if timers is not None else []

    def cancel_timer(self, timer_id: int) -> bool:
        timers = self._timers()
        return bool(timers.cancel(timer_id)) if timers is not None else False

    # -- history -----------------------------------------------------------------------------

    @property
    def history(self) -> Any:
        return self.session.history if self.session is not None else None

    def conversation_id(self) -> int:
        return self.session.manager.conversation_id if self.session is not None else 0

    def conversations(self) -> list[Any]:
        h = self.history
        return h.conversations(limit=200) if h is not None else []

    def turns(self, conversation_id: int) -> list[Any]:
        h = self.history
        return h.turns(conversation_id) if h is not None else []

    def new_conversation(self) -> int:
        if self.session is None:
            return 0
        self.interrupt()
        return self.session.manager.open_conversation(new=True)

    def open_conversation(self, conversation_id: int) -> None:
        """Continue an older conversation: its turns become the LLM's context."""
        if self.session is None:
            return
        self.interrupt()
        self.session.manager.open_conversation(conversation_id=conversation_id)
