"""Parley's files are the user's alone (history and notes are personal), and its
log holds no user content.

The CLI runs as a real subprocess under a permissive umask (0o022, the usual
default), so what is checked is what a user's install would get.
"""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from assistant import paths

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")

REPO = Path(__file__).resolve().parents[2]
NOTE = "my bank pin is 4821"
NOBODY = 65534


def parley(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PARLEY_HOME": str(home)},
        preexec_fn=lambda: os.umask(0o022),
    )


def modes(root: Path) -> dict[str, int]:
    """Every entry under `root` (itself included) -> its permission bits."""
    found = {".": stat.S_IMODE(os.lstat(root).st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            found[str(p.relative_to(root))] = stat.S_IMODE(os.lstat(p).st_mode)
    return found


def test_a_fresh_install_is_private_and_its_log_has_no_note(parley_home: Path) -> None:
    parley_home.chmod(0o755)  # as a launcher might have made it
    out = parley(parley_home, "chat", "--no-llm", "--once", f"take a note {NOTE}")
    assert out.returncode == 0, out.stderr
    assert NOTE in out.stdout  # the note was really taken...
    db = parley_home / "history.sqlite3"
    assert NOTE.encode() in db.read_bytes()  # ...and stored
    found = modes(parley_home)
    assert {"history.sqlite3", "logs", "logs/parley.log"} <= found.keys()
    for rel, mode in found.items():
        is_dir = (parley_home / rel).is_dir()
        assert mode == (0o700 if is_dir else 0o600), f"{rel}: {mode:o}"
    log_text = (parley_home / "logs" / "parley.log").read_text()
    assert "4821" not in log_text and "bank pin" not in log_text


def test_an_existing_install_is_tightened_at_start_up(parley_home: Path, tmp_path: Path) -> None:
    # An install made before: 0755 folders, 0644 files, a Vosk model folder.
    parley_home.chmod(0o755)
    files = [
        "history.sqlite3", "history.sqlite3-wal", "history.sqlite3-shm", "timers.sqlite3",
        "config.toml", "config.toml.bak", "logs/parley.log",
        "models/vosk-model-small-en-us-0.15/am/final.mdl",
        "models/vosk-model-small-en-us-0.15/conf/model.conf",
        "models/gemma.gguf",
    ]
    for rel in files:
        p = parley_home / rel
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        p.write_text("x")
        p.chmod(0o644)
    for folder in {(parley_home / rel).parent for rel in files}:
        folder.chmod(0o755)
    # Not Parley's to change: a symlink out of the folder and its target...
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's")
    outside.chmod(0o644)
    (parley_home / "link.txt").symlink_to(outside)
    # ...and a file another user owns (root can chown to stand in for them).
    theirs = parley_home / "theirs.txt"
    theirs.write_text("theirs")
    theirs.chmod(0o644)
    chowned = os.geteuid() == 0
    if chowned:
        os.chown(theirs, NOBODY, NOBODY)

    # Any command does it at start-up; this one opens no database (a text file
    # named history.sqlite3 would be set aside as damaged).
    out = parley(parley_home, "toggle", "ping")
    assert out.returncode == 1 and "not running" in out.stderr, out.stderr

    for rel in files:
        assert stat.S_IMODE((parley_home / rel).stat().st_mode) == 0o600, rel
    for folder in ["", "logs", "models", "models/vosk-model-small-en-us-0.15",
                   "models/vosk-model-small-en-us-0.15/am"]:
        assert stat.S_IMODE((parley_home / folder).stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # not followed
    if chowned:
        assert stat.S_IMODE(theirs.stat().st_mode) == 0o644  # not ours: left alone


def test_ensure_dir_makes_0700_and_tightens_only_parleys_folders(
    parley_home: Path, tmp_path: Path
) -> None:
    old = os.umask(0o022)
    try:
        new = paths.ensure_dir(parley_home / "exports")
        assert stat.S_IMODE(new.stat().st_mode) == 0o700
        loose = parley_home / "logs"
        loose.mkdir(mode=0o755)
        loose.chmod(0o755)
        paths.ensure_dir(loose)
        assert stat.S_IMODE(loose.stat().st_mode) == 0o700
        # A folder outside Parley's (a config saved elsewhere) is used as it is.
        elsewhere = tmp_path / "documents"
        elsewhere.mkdir(mode=0o755)
        elsewhere.chmod(0o755)
        paths.ensure_dir(elsewhere)
        assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o755
    finally:
        os.umask(old)


# -- the log, through the LLM's tool-call path (a scripted model writes the calls) --------


class ScriptedModel:
    """Stands in for the LLM: `calls` are what it writes after '{"tool":"'."""

    def __init__(self, calls: Sequence[str]) -> None:
        from assistant.llm.templates import PlainFormat

        self.format = PlainFormat()
        self.path = Path("scripted.gguf")
        self.calls = list(calls)

    def render(self, messages, add_generation_prompt: bool = True) -> str:  # type: ignore[no-untyped-def]
        return self.format.render(messages, add_generation_prompt)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prefill_text(self, text: str) -> int:
        return 0

    def complete(self, engine, prompt, gbnf, *, cancel=None, stats=None) -> str:  # type: ignore[no-untyped-def]
        return self.calls.pop(0) if self.calls else 'none"}'

    def stream(self, messages, *, max_tokens, cancel=None, **_kw) -> Iterator[str]:  # type: ignore[no-untyped-def]
        yield "Okay."


@pytest.mark.parametrize(
    "calls",
    [
        [f'add_note","args":{{"text":"{NOTE}"}}}}', 'none"}'],  # a call that runs
        [f'add_note","args":{{"text":"{NOTE}'],  # one cut off: the parse error quotes it
    ],
    ids=["complete", "cut-off"],
)
def test_tool_calls_are_logged_without_their_arguments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, calls: list[str]
) -> None:
    from dataclasses import replace

    from assistant.config import Settings
    from assistant.dialogue.history import History
    from assistant.dialogue.manager import DialogueManager
    from assistant.dialogue.notes import NoteStore
    from assistant.llm.provider import LlmProvider

    history = History(tmp_path / "history.sqlite3")
    model = ScriptedModel(calls)
    notes = NoteStore(history)
    m = DialogueManager(
        replace(Settings()), sink=lambda e: None, history=history,
        llm=LlmProvider.ready(model), notes=notes,  # type: ignore[arg-type]
    )
    m.complete_call = model.complete  # type: ignore[method-assign]
    m.open_conversation(new=True)
    try:
        with caplog.at_level(logging.DEBUG):
            m.handle(f"I need notes about the meeting, {NOTE}")
    finally:
        m.close()
        history.close()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "tool call" in logged  # the call was logged (by name), so the check means something
    assert "4821" not in logged and "bank pin" not in logged
    if calls[0].endswith("}"):
        assert "add_note, 1 argument(s)" in logged  # the call with the note was made
    else:
        assert "tool call step 0 failed: CallError" in logged
