"""No traceback on odd input: undecodable typed bytes, an undecodable
argument, an output encoding that lacks a character, and `say --to` a
place that cannot be written. Real subprocesses, real files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PARLEY = [sys.executable, "-m", "assistant.cli"]
BAD_BYTES = "Some typed bytes were not valid text and were replaced."


def run(
    args: list[str], home: Path, stdin: bytes | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*PARLEY, *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PARLEY_HOME": str(home), **env},
    )


# Under a C or C.UTF-8 locale Python reads stdin with surrogateescape (the bytes
# pass on and fail later, when stored); with "strict" (e.g. an en_US.UTF-8
# locale) they fail at once. Both must work.
@pytest.mark.parametrize("errors", ["surrogateescape", "strict"])
def test_undecodable_typed_bytes_are_replaced_and_every_line_answered(
    parley_home: Path, errors: str
) -> None:
    typed = b"what is 2 plus 2\n\xff\xfe bad\nwhat is 3 plus 3\n\xc3 also bad\n"
    out = run(["chat", "--no-llm"], parley_home, typed, PYTHONIOENCODING=f"utf-8:{errors}")
    stdout, stderr = out.stdout.decode(), out.stderr.decode()
    assert out.returncode == 0, stderr
    assert "Traceback" not in stderr
    replies = stdout.splitlines()
    assert len(replies) == 4, stdout  # every line got a reply
    assert "4" in replies[0] and "6" in replies[2]
    assert stderr.count(BAD_BYTES) == 1  # said once, not per line
    shown = run(["history", "show", "1"], parley_home).stdout.decode()
    assert "\ufffd\ufffd bad" in shown  # stored with the replacement character


def test_undecodable_argument(parley_home: Path) -> None:
    out = run(["chat", "--no-llm", "--once", os.fsdecode(b"what is 2 plus 2 \xff")], parley_home)
    assert out.returncode == 0, out.stderr
    assert b"4" in out.stdout and b"Traceback" not in out.stderr
    assert BAD_BYTES.encode() in out.stderr


def test_output_encoding_without_the_character(parley_home: Path) -> None:
    # An ASCII-only stdout cannot show the replacement character or "…":
    # it shows "?" instead of failing.
    out = run(
        ["chat", "--no-llm"], parley_home, "what is 2 plus 2\n\u00e9t\u00e9 \u2026\n".encode(),
        PYTHONIOENCODING="ascii",
    )
    assert out.returncode == 0, out.stderr
    assert b"Traceback" not in out.stderr
    assert b"4" in out.stdout.splitlines()[0]
    assert len(out.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/proc/forbidden.wav", "/proc does not accept new files"),
        ("{tmp}/no/such/folder/x.wav", "does not exist"),
        ("{tmp}", "it is a folder"),
        ("{tmp}/file.txt/x.wav", "is not a folder"),
        ("/dev/full", "No space left on device"),
    ],
)
def test_say_to_a_place_that_cannot_be_written(
    parley_home: Path, tmp_path: Path, target: str, reason: str
) -> None:
    (tmp_path / "file.txt").write_text("a file, not a folder")
    path = target.format(tmp=tmp_path)
    if path == "/dev/full" and not Path(path).exists():
        pytest.skip("no /dev/full here")
    out = run(["say", "hello", "--to", path], parley_home)
    stderr = out.stderr.decode()
    assert out.returncode == 1
    assert "Traceback" not in stderr
    assert f"parley: cannot write the speech to {path}: " in stderr and reason in stderr, stderr


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anywhere")
def test_say_into_a_read_only_folder(parley_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        out = run(["say", "hello", "--to", str(folder / "x.wav")], parley_home)
    finally:
        folder.chmod(0o755)
    assert out.returncode == 1 and b"Traceback" not in out.stderr
    assert b"read-only" in out.stderr
    assert not (folder / "x.wav").exists()
