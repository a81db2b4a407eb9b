"""Giving freed memory back to the system.

glibc's malloc keeps what a thread frees in that thread's arena for reuse, so
after a model loads, or a decode's buffers are freed, a process stays as big
as it ever was though nothing uses the memory. `trim_heap` hands the free
pages back (malloc_trim: 1-3 ms). Elsewhere (macOS, Windows, musl) it does
nothing. Numbers: docs/ARCHITECTURE.md, Memory.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import lru_cache


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the process runs on
    except (OSError, AttributeError):  # musl has no malloc_trim
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def trim_heap() -> bool:
    """Return malloc's free pages to the system; False where it cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
