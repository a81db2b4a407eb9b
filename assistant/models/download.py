"""One HTTP download into a `.partial` file: resumed with a Range request, hashed
while it streams, stopped by a cancel token, reported through a progress callback.

The standard library's urllib, not requests: one streaming GET with a Range
header is all this needs, urllib follows the redirects Hugging Face uses (and
keeps the Range header across them), honours the proxy environment variables,
and adds nothing to the install or the app bundle (requests would bring urllib3,
certifi, idna and charset-normalizer along).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import re
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from assistant.inventory.store import MANIFEST
from assistant.llm.cancel import CancelToken
from assistant.models.errors import DownloadError, NotEnoughSpace, PullCancelled

CHUNK = 1 << 16
"""Bytes per read: small enough that a cancel is noticed within milliseconds."""
PROGRESS_INTERVAL_S = 0.1
"""At most this often the progress callback is called (plus first and last)."""
SPACE_MARGIN = 64 << 20
"""Bytes left free beyond what a download needs: a full disk breaks everything else."""
USER_AGENT = "Parley-model-manager/1"

Opener = Callable[..., Any]
FreeSpace = Callable[[Path], int]


def disk_free(path: Path) -> int:
    """Free bytes on the file system holding `path` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


@dataclass(frozen=True)
class Progress:
    """A snapshot of a pull, passed to the caller's progress callback."""

    model_id: str
    phase: str
    """"download", "verify" (hashing), "unpack" or "done"."""
    done: int
    """Bytes of this phase done so far (for "download": bytes in the .partial)."""
    total: int | None
    """Bytes this phase will take in all; None when the server did not say."""
    speed: float = 0.0
    """Bytes per second over the last few seconds (download phase)."""
    eta_s: float | None = None
    """Seconds left at the current speed; None when unknown."""
    resumed_from: int = 0
    """Bytes that were already in the .partial when this download started."""

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressFn = Callable[[Progress], None]


class _Meter:
    """Speed over a sliding window, and throttled progress calls."""

    WINDOW_S = 3.0

    def __init__(self, model_id: str, total: int | None, start: int, fn: ProgressFn | None):
        self.model_id, self.total, self.start, self.fn = model_id, total, start, fn
        self.samples: deque[tuple[float, int]] = deque()
        self.last_call = 0.0

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        self.samples.append((now, done))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.WINDOW_S:
            self.samples.popleft()
        if self.fn is None or (not force and now - self.last_call < PROGRESS_INTERVAL_S):
            return
        self.last_call = now
        t0, d0 = self.samples[0]
        speed = (done - d0) / (now - t0) if now > t0 else 0.0
        eta = (self.total - done) / speed if self.total and speed > 0 else None
        self.fn(Progress(self.model_id, "download", done, self.total, speed, eta, self.start))


def fetch(
    url: str,
    partial: Path,
    *,
    model_id: str,
    expected_size: int = 0,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    opener: Opener | None = None,
    free_space: FreeSpace = disk_free,
    timeout: float = 30.0,
) -> str:
    """Download `url` into `partial`, continuing it if it already holds bytes.

    Returns the sha256 (hex) of the whole file. Raises DownloadError (the partial
    is kept: call again to resume), NotEnoughSpace, or PullCancelled (kept too).
    """
    opener = opener or _urlopen
    partial.parent.mkdir(parents=True, exist_ok=True)
    have = partial.stat().st_size if partial.exists() else 0
    if expected_size and have > expected_size:
        partial.unlink()  # longer than the file can be: not a prefix of it
        have = 0
    check_space(partial.parent, max(0, expected_size - have), free_space, model_id)

    digest = hashlib.sha256()
    if have:
        _hash_into(digest, partial, cancel)
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    )
    if have:
        request.add_header("Range", f"bytes={have}-")
    host = urlparse(url).hostname or url
    try:
        response = opener(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have and have == expected_size:
            return digest.hexdigest()  # the partial already holds the whole file
        if e.code == 416:
            partial.unlink(missing_ok=True)  # our partial does not fit the file: start over
        raise DownloadError(_http_message(e.code, e.reason, url), retry=e.code >= 500 or
                            e.code in (408, 416, 429)) from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", None) or e
        raise DownloadError(
            f"Cannot reach {host} ({reason}). Check the internet connection and pull "
            "again; the download resumes where it stopped.",
            retry=True,
        ) from e

    with response:
        status = getattr(response, "status", 200)
        length = _int(response.headers.get("Content-Length"))
        if have and status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                partial.unlink(missing_ok=True)
                raise DownloadError(
                    f"{host} sent a different part of the file than asked; the partial "
                    "download was discarded. Pull again to start over.",
                    retry=True,
                )
            total = total or (have + length if length is not None else None)
            mode = "ab"
        else:
            if have:  # the server ignored the Range header: it sends the whole file
                digest = hashlib.sha256()
                have = 0
            total = length if length is not None else (expected_size or None)
            mode = "wb"
        if total:
            check_space(partial.parent, max(0, total - have), free_space, model_id)

        done = have
        meter = _Meter(model_id, total, have, progress)
        meter.update(done, force=True)
        with partial.open(mode) as out:
            while True:
                if cancel is not None and cancel.cancelled:
                    raise PullCancelled(
                        f"Download of {model_id} stopped at {_mb(done)}. Pull it again to resume."
                    )
                try:
                    block = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as e:
                    raise _broke_off(host, model_id, done, total) from e
                if not block:
                    break
                try:
                    out.write(block)
                except OSError as e:
                    if e.errno == errno.ENOSPC:
                        raise NotEnoughSpace(
                            f"The disk filled up while downloading {model_id} "
                            f"({_mb(done)} fetched). Free some space and pull again to resume."
                        ) from e
                    raise
                digest.update(block)
                done += len(block)
                meter.update(done)
        meter.update(done, force=True)
        if total is not None and done < total:
            raise _broke_off(host, model_id, done, total)
    return digest.hexdigest()


def _urlopen(request: urllib.request.Request, timeout: float) -> Any:
    return urllib.request.urlopen(request, timeout=timeout, context=_ssl_context())


def _ssl_context() -> ssl.SSLContext:
    """The system's CA certificates; certifi's when the system offers none (a
    python.org build on macOS before "Install Certificates", some app bundles)."""
    context = ssl.create_default_context()
    if not context.cert_store_stats().get("x509_ca"):
        try:
            import certifi

            context.load_verify_locations(certifi.where())
        except (ImportError, OSError):
            pass  # the TLS error will then say what is wrong
    return context


def check_space(folder: Path, need: int, free_space: FreeSpace, model_id: str) -> None:
    """Refuse to start when `need` bytes (plus a margin) do not fit."""
    if need <= 0:
        return
    free = free_space(folder)
    if free < need + SPACE_MARGIN:
        raise NotEnoughSpace(
            f"Not enough disk space for {model_id}: it needs {_mb(need)} (plus "
            f"{_mb(SPACE_MARGIN)} to spare) in {folder}, and {_mb(free)} is free. "
            "Free some space and try again."
        )


def hash_files(folder: Path, cancel: CancelToken | None = None) -> dict[str, str]:
    """sha256 of every file under `folder` (the manifest itself excluded)."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            out[path.relative_to(folder).as_posix()] = sha256_file(path, cancel)
    return out


def sha256_file(path: Path, cancel: CancelToken | None = None) -> str:
    digest = hashlib.sha256()
    _hash_into(digest, path, cancel)
    return digest.hexdigest()


def _hash_into(digest: Any, path: Path, cancel: CancelToken | None) -> None:
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            if cancel is not None and cancel.cancelled:
                raise PullCancelled("Stopped while checking the file. Nothing was lost.")
            digest.update(block)


def _broke_off(host: str, model_id: str, done: int, total: int | None) -> DownloadError:
    of = f" of {_mb(total)}" if total else ""
    return DownloadError(
        f"The connection to {host} broke off after {_mb(done)}{of} of {model_id}. "
        "What was fetched is kept: pull again to resume.",
        retry=True,
    )


def _http_message(code: int, reason: object, url: str) -> str:
    if code == 404:
        return (f"The server has no file at {url} (HTTP 404). The catalog entry may be "
                "out of date; check for a newer Parley or fix the url in your catalog.")
    if code in (401, 403):
        return (f"The server refused the download of {url} (HTTP {code} {reason}). The "
                "file may need a login on its website; download it there and use "
                "`parley models import`.")
    return f"The server answered HTTP {code} {reason} for {url}. Try again later."


_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _content_range(value: str) -> tuple[int, int | None]:
    m = _RANGE.match(value.strip())
    if not m:
        return -1, None
    return int(m.group(1)), (int(m.group(3)) if m.group(3) != "*" else None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"
