"""The CMU pronouncing dictionary that ships with pocketsphinx, looked up in
place.

The file (134,860 lines, 3.5 MB) is sorted by word, so a word's lines are
found by a binary search over its bytes (about 20 µs, then cached). The
process holds the mapped file, pages the kernel can share and drop, instead
of a dict of its 126,052 words: that held 60 MB of anonymous memory in every
process that heard English (docs/ARCHITECTURE.md, Memory).

Lines are "word PH O NES", a second pronunciation "word(2) PH O NES".
"""

from __future__ import annotations

import mmap
import sys
from functools import lru_cache
from pathlib import Path

Pronunciation = tuple[str, ...]


def default_path() -> Path | None:
    """pocketsphinx's English dictionary, or None without pocketsphinx."""
    try:
        import pocketsphinx
    except ImportError:
        return None
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    return path if path.is_file() else None


class Pronunciations:
    """Word -> its pronunciations (ARPAbet phones, as in the file), read from
    a dictionary file sorted by word. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self.path.open("rb") as f:
            try:
                self._data: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                self._data = b""
        self.get = lru_cache(maxsize=8192)(self._get)  # the same words come back

    def __bool__(self) -> bool:
        return len(self._data) > 0

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and bool(self.get(word))

    def entries(self, word: str) -> list[tuple[str, str]]:
        """The file's lines for `word`: [(name, phones)], a second
        pronunciation named "word(2)"."""
        key = word.encode("utf-8")
        data = self._data
        at = self._first_at_or_after(key)
        out = []
        while at < len(data):
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            name, _, phones = data[at:end].rstrip(b"\r").partition(b" ")
            if _word(name) != key:
                break
            out.append((name.decode("utf-8", "replace"), phones.decode("utf-8", "replace").strip()))
            at = end + 1
        return out

    def _get(
        self, word: str, default: tuple[Pronunciation, ...] = ()
    ) -> tuple[Pronunciation, ...]:
        """Like dict.get: the word's pronunciations, or `default`."""
        found = tuple(
            tuple(sys.intern(p) for p in phones.split()) for _name, phones in self.entries(word)
        )
        return found or default

    def _first_at_or_after(self, key: bytes) -> int:
        """Where the first line whose word is not below `key` starts."""
        data = self._data
        lo, hi = 0, len(data)
        while lo < hi:  # lo and hi are line starts; the answer is in [lo, hi]
            mid = (lo + hi) // 2
            start = data.rfind(b"\n", lo, mid) + 1 or lo  # the line holding mid
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            space = data.find(b" ", start, end)
            if _word(data[start : space if space >= 0 else end]) < key:
                lo = end + 1
            else:
                hi = start
        return lo


def _word(name: bytes) -> bytes:
    """The word a line's first field names ("read(2)" -> "read")."""
    return name.split(b"(", 1)[0]


@lru_cache(maxsize=1)
def english() -> Pronunciations | None:
    """The dictionary from pocketsphinx, opened once per process; None
    without pocketsphinx."""
    path = default_path()
    return None if path is None else Pronunciations(path)
