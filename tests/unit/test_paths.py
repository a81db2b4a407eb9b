"""File locations: PARLEY_HOME layout, call-time lookup, and ensure_dir's errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from assistant import paths

REPO = Path(__file__).resolve().parents[2]

ALL = [
    paths.config_file,
    paths.config_dir,
    paths.data_dir,
    paths.models_dir,
    paths.logs_dir,
    paths.history_db,
    paths.runtime_socket,
]


def test_parley_home_holds_everything(parley_home: Path) -> None:
    assert paths.config_dir() == parley_home
    assert paths.config_file() == parley_home / "config.toml"
    assert paths.data_dir() == parley_home
    assert paths.models_dir() == parley_home / "models"
    assert paths.logs_dir() == parley_home / "logs"
    assert paths.history_db() == parley_home / "history.sqlite3"
    assert paths.runtime_socket() == parley_home / "run" / "parley.sock"


def test_parley_home_is_read_at_call_time(
    tmp_path: Path, parley_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    monkeypatch.setenv("PARLEY_HOME", str(other))
    for fn in ALL:
        assert fn().is_relative_to(other), fn.__name__

    monkeypatch.delenv("PARLEY_HOME")
    for fn in ALL:
        assert not fn().is_relative_to(other), fn.__name__
        assert not fn().is_relative_to(parley_home), fn.__name__
    assert paths.config_file().name == "config.toml"
    assert paths.models_dir().parent == paths.data_dir()
    assert paths.history_db().parent == paths.data_dir()
    assert "parley" in paths.data_dir().parts
    assert "parley" in paths.logs_dir().parts


def test_empty_parley_home_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_HOME", "")
    assert paths.home_override() is None
    assert paths.data_dir().is_absolute()
    assert "parley" in paths.data_dir().parts


def test_relative_parley_home_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARLEY_HOME", "portable")
    assert paths.data_dir() == tmp_path / "portable"
    assert paths.config_file() == tmp_path / "portable" / "config.toml"


def test_lookups_create_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh"
    monkeypatch.setenv("PARLEY_HOME", str(home))
    for fn in ALL:
        fn()
    assert not home.exists()


def test_socket_path_stays_short_enough_for_af_unix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("PARLEY_HOME", str(deep))
    first = paths.runtime_socket()
    assert len(os.fsencode(first)) <= 103
    assert first == paths.runtime_socket()  # the client must find the server's socket
    monkeypatch.setenv("PARLEY_HOME", str(deep) + "2")
    assert paths.runtime_socket() != first  # two deep homes never share a socket


@pytest.mark.skipif(sys.platform == "win32", reason="needs an AF_UNIX socket (POSIX)")
def test_socket_path_is_bindable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("PARLEY_HOME", str(tmp_path / ("x" * 90)))
    path = paths.runtime_socket()
    assert path.parent == paths.shared_runtime_dir()  # per-user, never straight in /tmp
    paths.ensure_private_dir(path.parent, strict=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        try:
            assert path.exists()
        finally:
            path.unlink()


def test_ensure_dir_creates_parents_and_is_idempotent(parley_home: Path) -> None:
    target = parley_home / "a" / "b" / "models"
    assert paths.ensure_dir(target) == target
    assert target.is_dir()
    assert paths.ensure_dir(target) == target
    assert list(target.iterdir()) == []  # the write check leaves nothing behind


def test_ensure_dir_under_a_regular_file_raises_a_clear_error(parley_home: Path) -> None:
    blocker = parley_home / "not-a-folder"
    blocker.write_text("x")
    target = blocker / "models"
    with pytest.raises(paths.PathError) as caught:
        paths.ensure_dir(target)
    message = str(caught.value)
    assert message.startswith(f"Parley cannot write to {target}: ")
    assert message.endswith(". Set PARLEY_HOME to a writable folder.")
    assert isinstance(caught.value, OSError)
    assert caught.value.path == target
    assert caught.value.errno is not None


def test_ensure_dir_on_an_existing_file_raises(parley_home: Path) -> None:
    blocker = parley_home / "logs"
    blocker.write_text("x")
    with pytest.raises(paths.PathError, match="Parley cannot write to"):
        paths.ensure_dir(blocker)


_CHILD = """
import os, sys
from pathlib import Path
from assistant import paths
if os.geteuid() == 0:  # root writes anywhere: drop to nobody once everything is imported
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
for target in (Path(sys.argv[1]), Path(sys.argv[1]) / "sub"):
    try:
        paths.ensure_dir(target)
        print("ok", target)
    except paths.PathError as exc:
        print(exc)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX permission bits")
def test_ensure_dir_refuses_a_read_only_folder() -> None:
    # Root may write anywhere, so the check runs in a child that drops to `nobody`
    # when it is root; the folder lives outside pytest's tmp_path (mode 700, root's).
    base = Path(tempfile.mkdtemp(prefix="parley-ro-"))
    read_only = base / "ro"
    try:
        base.chmod(0o755)
        read_only.mkdir()
        read_only.chmod(0o555)
        result = subprocess.run(
            [sys.executable, "-c", _CHILD, str(read_only)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines == [
            f"Parley cannot write to {read_only}: Permission denied. "
            "Set PARLEY_HOME to a writable folder.",
            f"Parley cannot write to {read_only / 'sub'}: Permission denied. "
            "Set PARLEY_HOME to a writable folder.",
        ]
        assert list(read_only.iterdir()) == []
    finally:
        if read_only.exists():
            read_only.chmod(0o755)
        shutil.rmtree(base)
