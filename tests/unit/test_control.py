"""The control protocol: JSON lines over a private Unix socket, no code in it.

Real sockets and real files throughout. Tests that pretend to be another user
chown a pre-made socket or folder to uid 65534 (nobody), or fork a child that
setuid()s to it; those need root (as CI runs them) and are skipped otherwise.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import paths
from assistant.control import (
    COMMANDS,
    MAX_CONNECTIONS,
    MAX_LINE,
    AlreadyRunning,
    ControlServer,
    NotRunning,
    UnsafeAddress,
    default_address,
    request,
    send_command,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="AF_UNIX and POSIX modes")

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown/setuid need root"
)


class Recorder:
    def __init__(self) -> None:
        self.got: list[str] = []

    def __call__(self, command: str) -> str:
        self.got.append(command)
        return f"did {command}"


@pytest.fixture
def server() -> Iterator[tuple[ControlServer, Recorder]]:
    handler = Recorder()
    s = ControlServer(handler)
    s.start()
    try:
        yield s, handler
    finally:
        s.close()


def raw(payload: bytes, address: str | None = None, *, shut: bool = True,
        wait: float = 5.0) -> bytes | None:
    """Send bytes as they are; return what came back before the server closed
    (b"" for a close with no answer), None when the server reset the connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(wait)
        sock.connect(address or default_address())
        try:
            sock.sendall(payload)
            if shut:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading (too long): what it said may follow
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            return data or None
        return data


def answer_of(data: bytes | None) -> dict | None:
    if not data:
        return None
    assert data.endswith(b"\n") and data.count(b"\n") == 1, data
    obj = json.loads(data)
    assert isinstance(obj, dict)
    return obj


def still_serves(address: str | None = None) -> None:
    assert send_command("ping", address) == "pong"


# -- the protocol -----------------------------------------------------------------------


def test_every_command_round_trips(server: tuple[ControlServer, Recorder]) -> None:
    _s, handler = server
    for command in COMMANDS:
        answer = request(command)
        assert answer.ok
        assert answer.text == ("pong" if command == "ping" else f"did {command}")
    assert handler.got == [c for c in COMMANDS if c != "ping"]  # ping never reaches it
    # On the wire: one JSON object per line.
    assert answer_of(raw(b'{"cmd": "toggle"}\n')) == {"ok": True, "answer": "did toggle"}
    assert answer_of(raw(b'{"cmd": "ping", "extra": [1, 2]}\n')) == {"ok": True, "answer": "pong"}


def test_a_pickle_payload_runs_nothing(server: tuple[ControlServer, Recorder],
                                       tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(marker), "w"))

    payload = pickle.dumps(Evil())
    pickle.loads(payload).close()  # the payload works: unpickling it makes the file
    assert marker.exists()
    marker.unlink()
    framed = struct.pack("!i", len(payload)) + payload  # as multiprocessing.connection sends
    for data in (payload, framed, payload + b"\n", framed + b"\n"):
        reply = answer_of(raw(data))
        assert reply is None or reply["ok"] is False
        assert not marker.exists()
        still_serves()
    assert server[1].got == []


GARBAGE = [
    b"not json\n",
    b"\n",
    b"[1, 2]\n",
    b'"toggle"\n',
    b"null\n",
    b"{}\n",
    b'{"cmd": 5}\n',
    b'{"cmd": null}\n',
    b'{"cmd": "shutdown -h now"}\n',
    b'{"cmd": "TOGGLE"}\n',
    b'{"command": "toggle"}\n',
    b'{"cmd": "toggle"\n',
    b"\xff\xfe\xfd\x00\x01\n",
    b"\x00" * 200 + b"\n",
    b'{"cmd": "\xc3\x28"}\n',
    b"[" * 3000 + b"]" * 3000 + b"\n",  # deep nesting: no RecursionError trace
    b'{"cmd": "toggle"}',  # no newline, then the client half-closes
    b'{"cmd": "' + b"a" * (MAX_LINE + 10) + b'"}\n',  # one line just over the limit
]


@pytest.mark.parametrize("payload", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_gets_an_error_answer_and_the_server_lives(
    server: tuple[ControlServer, Recorder], payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    reply = answer_of(raw(payload))
    assert reply is not None and reply["ok"] is False and reply["error"], reply
    still_serves()
    assert server[1].got == []
    assert not [r for r in caplog.records if r.exc_info]  # no trace: every case is expected


def test_oversized_messages_are_cut_off(server: tuple[ControlServer, Recorder]) -> None:
    big = os.urandom(1 << 20).replace(b"\n", b"x")  # 1 MiB of binary, no newline at all
    for payload in (big, b'{"cmd": "' + b"x" * (1 << 20) + b'"}\n'):
        reply = answer_of(raw(payload, shut=False))
        assert reply is None or reply == {
            "ok": False, "error": f"message longer than {MAX_LINE} bytes"}
        still_serves()


def test_an_unknown_command_names_the_known_ones(server: tuple[ControlServer, Recorder]) -> None:
    answer = request("dance")
    assert not answer.ok
    assert answer.text == "unknown command 'dance' (known: toggle, start, stop, show, ping)"
    assert send_command("dance") == answer.text  # the old API: the reason, as a string


def test_a_silent_client_is_timed_out() -> None:
    s = ControlServer(lambda c: c)
    s.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(default_address())
            t0 = time.monotonic()
            data = sock.recv(4096)  # sends nothing, waits for the server
            waited = time.monotonic() - t0
        assert 1.5 < waited < 5
        assert json.loads(data)["ok"] is False
        still_serves()
    finally:
        s.close()


def test_connections_are_capped_and_the_cap_frees_up() -> None:
    s = ControlServer(lambda c: c)
    s.start()
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(default_address())
            held.append(sock)
        time.sleep(0.3)  # all accepted and waiting for a line
        answer = request("ping")
        assert (answer.ok, answer.text) == (False, "busy; try again")
    finally:
        for sock in held:
            sock.close()
    try:
        deadline = time.monotonic() + 5
        while not request("ping").ok and time.monotonic() < deadline:
            time.sleep(0.1)
        still_serves()
    finally:
        s.close()


def test_a_handler_that_raises_is_an_error_answer() -> None:
    def handler(command: str) -> str:
        raise RuntimeError("the window is gone")

    s = ControlServer(handler)
    s.start()
    try:
        answer = request("show")
        assert (answer.ok, answer.text) == (False, "show failed: the window is gone")
        still_serves()
    finally:
        s.close()


def test_a_closed_server_is_not_running_and_leaves_no_socket() -> None:
    s = ControlServer(lambda c: c)
    s.start()
    s.close()
    assert not Path(default_address()).exists()
    with pytest.raises(NotRunning):
        send_command("toggle")


# -- single instance, stale sockets ---------------------------------------------------------


def test_a_live_server_means_already_running(server: tuple[ControlServer, Recorder]) -> None:
    with pytest.raises(AlreadyRunning):
        ControlServer(lambda c: c).start()
    still_serves()  # the first one is untouched


def test_a_stale_socket_of_ours_is_replaced() -> None:
    address = default_address()
    paths.ensure_private_dir(Path(address).parent)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(address)
    dead.close()  # a crash: the file stays, nobody listens
    with pytest.raises(NotRunning):
        send_command("toggle")
    s = ControlServer(lambda c: "second")
    s.start()
    try:
        assert send_command("toggle") == "second"
    finally:
        s.close()


# -- location, modes, owners ---------------------------------------------------------------


def test_the_socket_is_0600_in_a_0700_folder_even_under_umask_0(parley_home: Path) -> None:
    old = os.umask(0)
    try:
        s = ControlServer(lambda c: c)
        s.start()
        try:
            sock = Path(default_address())
            assert sock.parent == parley_home / "run"
            st = os.lstat(sock)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
            assert st.st_uid == os.geteuid()
            folder = os.lstat(sock.parent)
            assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.geteuid()
            still_serves()
        finally:
            s.close()
        assert os.umask(0) == 0  # restored after the bind
    finally:
        os.umask(old)


def test_a_loose_run_folder_of_ours_is_tightened(parley_home: Path) -> None:
    run = parley_home / "run"
    run.mkdir()
    run.chmod(0o777)
    s = ControlServer(lambda c: c)
    s.start()
    try:
        assert stat.S_IMODE(run.stat().st_mode) == 0o700
    finally:
        s.close()


@pytest.fixture
def short_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Stands in for /tmp as the base of `parley-<uid>` (the real one is shared with
    whatever else runs on this machine, so the tests leave it alone)."""
    base = Path(tempfile.mkdtemp(prefix="pt", dir="/tmp"))
    base.chmod(0o1777)  # like /tmp: everyone may create
    monkeypatch.setattr(paths, "_SHARED_TMP", str(base))
    try:
        yield base
    finally:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_a_deep_home_uses_a_private_per_user_folder(
    short_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_HOME", str(tmp_path / ("h" * 100)))
    address = Path(default_address())
    assert address.parent == short_tmp / f"parley-{os.geteuid()}"
    assert len(address.name) == len("0123456789abcdef.sock")
    s = ControlServer(lambda c: c)
    s.start()
    try:
        assert stat.S_IMODE(os.lstat(address.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(address).st_mode) == 0o600
        still_serves()
    finally:
        s.close()


def test_a_loose_per_user_folder_in_tmp_is_refused(
    short_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_HOME", str(tmp_path / ("h" * 100)))
    folder = short_tmp / f"parley-{os.geteuid()}"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(UnsafeAddress, match="has mode 755, not 700"):
        ControlServer(lambda c: c).start()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755  # refused, not changed


def test_a_symlinked_per_user_folder_is_refused(
    short_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_HOME", str(tmp_path / ("h" * 100)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (short_tmp / f"parley-{os.geteuid()}").symlink_to(elsewhere)
    with pytest.raises(UnsafeAddress, match="is a symbolic link; not using it"):
        ControlServer(lambda c: c).start()
    assert list(elsewhere.iterdir()) == []


@needs_root
def test_a_per_user_folder_owned_by_someone_else_is_refused(
    short_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_HOME", str(tmp_path / ("h" * 100)))
    folder = short_tmp / f"parley-{os.geteuid()}"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)
    with pytest.raises(UnsafeAddress, match=f"owned by another user \\(uid {NOBODY}\\)"):
        ControlServer(lambda c: c).start()


def _foreign_listener(address: str) -> socket.socket:
    """A live socket at `address`, chowned to nobody: another user got there first."""
    Path(address).parent.mkdir(parents=True, exist_ok=True)
    Path(address).parent.chmod(0o700)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(4)
    sock.setblocking(False)
    os.chown(address, NOBODY, NOBODY)
    return sock


def _connections_made(listener: socket.socket) -> int:
    n = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return n
        conn.close()
        n += 1


@needs_root
def test_another_users_socket_is_never_used_or_deleted() -> None:
    address = default_address()
    listener = _foreign_listener(address)
    try:
        with pytest.raises(UnsafeAddress) as caught:
            ControlServer(lambda c: c).start()
        assert str(caught.value) == (
            f"{address} is owned by another user (uid {NOBODY}); not using it."
        )
        with pytest.raises(UnsafeAddress, match="owned by another user"):
            send_command("toggle")
        st = os.lstat(address)  # still there, still theirs
        assert stat.S_ISSOCK(st.st_mode) and st.st_uid == NOBODY
        assert _connections_made(listener) == 0  # never even connected to
        # The CLI says so, with no trace.
        out = subprocess.run([sys.executable, "-m", "assistant.cli", "toggle"],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
        assert out.returncode == 1
        assert out.stderr == f"parley: {caught.value}\n"
        assert _connections_made(listener) == 0
    finally:
        listener.close()


@needs_root
def test_a_plain_file_of_another_user_at_the_address_is_left_alone() -> None:
    address = Path(default_address())
    address.parent.mkdir(parents=True)
    address.write_text("theirs")
    os.chown(address, NOBODY, NOBODY)
    with pytest.raises(UnsafeAddress, match="owned by another user"):
        ControlServer(lambda c: c).start()
    assert address.read_text() == "theirs"


def test_a_client_refuses_a_socket_in_a_folder_others_can_write(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir()
    s = ControlServer(lambda c: c, str(folder / "c.sock"))
    s.start()
    try:
        folder.chmod(0o777)  # someone could now swap the socket
        with pytest.raises(UnsafeAddress, match="can be written by other users"):
            send_command("ping", str(folder / "c.sock"))
    finally:
        folder.chmod(0o700)
        s.close()


# -- a real peer with another uid -------------------------------------------------------------


def _child_ping(address: str, uid: int | None) -> int:
    """Fork; the child (as `uid` when given) sends a ping. Exit code: 0 pong,
    1 closed with no answer, 2 any other answer, 3 could not connect."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 4
        try:
            if uid is not None:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                try:
                    sock.connect(address)
                except OSError:
                    os._exit(3)
                try:
                    sock.sendall(b'{"cmd": "ping"}\n')
                    data = sock.recv(4096)
                except (BrokenPipeError, ConnectionResetError):  # closed on us
                    data = b""
            code = 1 if not data else 0 if json.loads(data).get("answer") == "pong" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@needs_root
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED is Linux's")
def test_a_peer_with_another_uid_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    # Only for this test the folder and socket are opened up (0711 / 0666), so
    # that the uid check is the one thing between nobody and the handler.
    folder = Path(tempfile.mkdtemp(prefix="parley-peer-", dir="/tmp"))
    try:
        address = str(folder / "c.sock")
        handler = Recorder()
        s = ControlServer(handler, address)
        s.start()
        try:
            folder.chmod(0o711)
            os.chmod(address, 0o666)
            assert _child_ping(address, None) == 0  # our own uid: served
            caplog.clear()
            assert _child_ping(address, NOBODY) == 1  # nobody: connected, closed unanswered
            refused = [r.getMessage() for r in caplog.records]
            assert f"control: refused a connection from uid {NOBODY}" in refused
            still_serves(address)
            assert handler.got == []
        finally:
            s.close()
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def test_the_lock_never_leaves_the_umask_changed() -> None:
    # Binds from many threads at once: each one's umask dance is serialised.
    before = os.umask(0o022)
    try:
        servers = [ControlServer(lambda c: c, str(Path(tempfile.mkdtemp()) / "s.sock"))
                   for _ in range(6)]
        threads = [threading.Thread(target=s.start) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            for s in servers:
                assert stat.S_IMODE(os.lstat(s.address).st_mode) == 0o600
                still_serves(s.address)
        finally:
            for s in servers:
                s.close()
        assert os.umask(0o022) == 0o022
    finally:
        os.umask(before)


def test_the_runtime_folder_is_used_only_when_private(
    tmp_path: Path, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PARLEY_HOME")
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert default_address() == str(runtime / "parley" / "parley.sock")
    runtime.chmod(0o755)  # a runtime folder others can enter is not used
    fallback = short_tmp / f"parley-{os.geteuid()}"
    if not Path(f"/run/user/{os.geteuid()}").is_dir():
        assert default_address() == str(fallback / "parley.sock")
    else:
        assert not default_address().startswith(str(runtime))
