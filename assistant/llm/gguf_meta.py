"""The key-value metadata at the start of a GGUF file, read without llama.cpp
and without touching the weights (`parley doctor` looks at a model's chat
template this way in a fraction of a second).

Values come back as text, the way llama-cpp-python's `Llama.metadata` gives
them (so the same code judges both): numbers as written by `str`, floats with
six decimals, booleans as "true"/"false". Arrays (the vocabulary, merges,
scores) are skipped, as llama-cpp-python skips them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
MAX_STRING = 64 << 20
"""Longest string accepted (a chat template is a few kB): a larger length is a damaged file."""
MAX_KEYS = 1 << 20

# GGUF value types (ggml's gguf.h).
_SCALARS: dict[int, str] = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_STRING = 8
_ARRAY = 9


class GgufError(ValueError):
    """The file is not GGUF, or its metadata is damaged; the message says which."""


def read_metadata(path: Path) -> dict[str, str]:
    """The scalar and string metadata of the GGUF at `path`; GgufError when it
    cannot be read as GGUF (OSError for a missing or unreadable file)."""
    with Path(path).open("rb") as f:
        return _read(f, Path(path).name)


def _read(f: BinaryIO, name: str) -> dict[str, str]:
    if f.read(4) != MAGIC:
        raise GgufError(f"{name} is not a GGUF file")
    (version,) = _unpack(f, "<I", name)
    if version < 2:
        raise GgufError(f"{name} is GGUF version {version}, too old to read")
    _tensors, count = _unpack(f, "<QQ", name)
    if count > MAX_KEYS:
        raise GgufError(f"{name}: damaged metadata ({count} keys)")
    out: dict[str, str] = {}
    for _ in range(count):
        key = _string(f, name)
        (kind,) = _unpack(f, "<I", name)
        if kind == _ARRAY:
            _skip_array(f, name)
            continue
        out[key] = _value(f, kind, name)
    return out


def _unpack(f: BinaryIO, fmt: str, name: str) -> tuple:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise GgufError(f"{name}: the metadata ends early (truncated file)")
    return struct.unpack(fmt, data)


def _string(f: BinaryIO, name: str) -> str:
    (n,) = _unpack(f, "<Q", name)
    if n > MAX_STRING:
        raise GgufError(f"{name}: damaged metadata (a string of {n} bytes)")
    data = f.read(n)
    if len(data) != n:
        raise GgufError(f"{name}: the metadata ends early (truncated file)")
    return data.decode("utf-8", "replace")


def _value(f: BinaryIO, kind: int, name: str) -> str:
    if kind == _STRING:
        return _string(f, name)
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise GgufError(f"{name}: damaged metadata (value type {kind})")
    (v,) = _unpack(f, fmt, name)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:f}"
    return str(v)


def _skip_array(f: BinaryIO, name: str) -> None:
    kind, n = _unpack(f, "<IQ", name)
    if kind == _STRING:
        for _ in range(n):
            (length,) = _unpack(f, "<Q", name)
            if length > MAX_STRING:
                raise GgufError(f"{name}: damaged metadata (a string of {length} bytes)")
            f.seek(length, 1)
        return
    if kind == _ARRAY:  # nested arrays: GGUF allows them, no model uses them
        for _ in range(n):
            _skip_array(f, name)
        return
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise GgufError(f"{name}: damaged metadata (array of type {kind})")
    f.seek(n * struct.calcsize(fmt), 1)
