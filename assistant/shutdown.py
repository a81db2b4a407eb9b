"""The last step of every entry point: leave without crashing.

llama.cpp cannot be interrupted while it loads a model, and a thread still
inside native code when the interpreter tears down (frees modules, the ctypes
log callback, the GIL's state) makes the process die by signal 11. So after
everything has been closed and written (history, notes, timers), `finish`
waits a little for llama.cpp work to end; if it is still running, it flushes
the logs and standard streams and leaves with `os._exit`, which skips the
teardown (there is nothing left to tear down that holds the user's data).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time

log = logging.getLogger(__name__)

class Terminated(BaseException):
    """SIGTERM arrived: raised on the main thread of a command so that its
    `finally` blocks store and close everything. A BaseException, like
    KeyboardInterrupt, so that no `except Exception` swallows it."""


NATIVE_WAIT_S = 1.0
"""How long the exit waits for a model load to end by itself: loading the
embedded model takes about 1 s; a longer load is abandoned instead."""


def native_work_running(wait_s: float = 0.0) -> bool:
    """Whether llama.cpp code still runs on some thread after up to `wait_s` s."""
    from assistant.llm.provider import native_busy

    end = time.monotonic() + wait_s
    while native_busy():
        if time.monotonic() >= end:
            return True
        time.sleep(0.05)
    return False


def finish(code: int, wait_s: float = NATIVE_WAIT_S) -> int:
    """`code`, to return from the entry point when the interpreter may tear
    down normally; otherwise this process ends here with `code`. Only for the
    process's own entry point (`main()` called without arguments): a test
    calling main in-process must never be ended by it."""
    if "assistant.llm.provider" not in sys.modules:  # no model was ever touched
        return code
    try:
        if not native_work_running(wait_s):
            return code
    except (KeyboardInterrupt, Terminated):  # asked again while waiting: wait no more
        pass
    log.info(
        "llama.cpp is still at work on another thread (loading the model or evaluating "
        "a prompt): leaving without interpreter teardown"
    )
    logging.shutdown()  # flushes and closes the log file
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
            stream.flush()
    os._exit(code)
