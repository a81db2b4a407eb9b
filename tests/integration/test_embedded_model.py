"""The embedded Gemma GGUF is assembled once into the models folder, verified, reused."""

from __future__ import annotations

import os
import time
from pathlib import Path

from assistant.llm import embedded


def test_assembled_once_verified_and_reused(parley_home: Path) -> None:
    path = embedded.ensure_embedded_model()
    assert path == parley_home / "models" / embedded.FILE_NAME
    assert path.stat().st_size > 200_000_000
    assert embedded.is_verified(path)
    assert not list(path.parent.glob("*.partial"))
    mtime = path.stat().st_mtime_ns
    t0 = time.monotonic()
    assert embedded.ensure_embedded_model() == path  # trusted by its stamp, not rebuilt
    assert time.monotonic() - t0 < 0.5
    assert path.stat().st_mtime_ns == mtime

    # A damaged file fails verification and is rebuilt on next use.
    with path.open("r+b") as f:
        f.seek(10_000_000)
        f.write(b"\0" * 4096)
    os.utime(path)  # the stamp no longer matches
    assert not embedded.is_verified(path)
    assert not embedded.verify_embedded(path)
    rebuilt = embedded.ensure_embedded_model()
    assert embedded.verify_embedded(rebuilt)
