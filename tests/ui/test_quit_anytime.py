"""A clean quit at any moment: the real app (offscreen Qt, the real embedded
model) and `parley chat` are stopped at random moments of their first seconds
(while the window opens, the model loads, a reply streams) by SIGTERM, by the
Quit action (Ctrl-Q) or by closing the window. Every exit is code 0, never a
signal (llama.cpp's load used to make about half of these die by signal 11),
and no reply is left half written ('streaming') in the history.

A signal that arrives before Python has run the first line of `ui.app.main`
ends the process by the signal itself (no code of ours runs yet), so the
moments start at 0.15 s.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORY = "tell me a long story about a dragon, a knight and a baker"

# The real entry point (ui.app.main), with a typed turn as soon as the core is
# up (so that some quits land during a reply) and, for the window kinds, the
# quit done through the window itself at the chosen moment.
DRIVER = textwrap.dedent(
    """
    import os, signal, sys

    if __name__ == "__main__":
        kind, at = sys.argv[1], float(sys.argv[2])
        from PySide6.QtCore import QTimer
        from PySide6.QtGui import QAction

        import ui.app
        import ui.shell

        start, core_ready = ui.shell.Shell.start, ui.shell.Shell._core_ready

        def typed_turn(self):
            core_ready(self)
            self.window.text.setText(os.environ["DRIVER_SAY"])
            self.window.submit()

        def quit_now(self):
            if kind == "quit-action":  # the Parley > Quit menu item, Ctrl-Q
                action = next(a for a in self.window.findChildren(QAction)
                              if a.text() == "&Quit")
                action.trigger()
            elif kind == "close-window":
                self.window.close()

        def kill_at_first_words(self, event):
            if event.text.strip():
                os.kill(os.getpid(), signal.SIGTERM)

        def start_and_plan(self):
            ok = start(self)
            if kind in ("quit-action", "close-window"):
                QTimer.singleShot(int(at * 1000), lambda: quit_now(self))
            if kind == "sigterm-mid-reply":
                self.bridge.reply_delta.connect(lambda e: kill_at_first_words(self, e))
            return ok

        ui.shell.Shell.start = start_and_plan
        ui.shell.Shell._core_ready = typed_turn
        sys.argv = ["parley"]
        sys.exit(ui.app.main())  # as the `parley` script calls it
    """
)


@dataclass
class Run:
    kind: str
    at: float
    code: int | None
    stderr: str
    lived: float
    statuses: list[tuple[str, str, int]]

    def describe(self) -> str:
        return (
            f"{self.kind} at {self.at:.2f} s -> exit {self.code} after {self.lived:.1f} s; "
            f"rows {self.statuses}; stderr tail {self.stderr[-800:]!r}"
        )


def make_home(base: Path, gguf: Path, name: str) -> Path:
    home = base / name
    home.mkdir()
    (home / "config.toml").write_text(f'llm_model = "{gguf}"\n', encoding="utf-8")
    (home / "onboarded").write_text("done\n", encoding="utf-8")  # no first-run wizard
    return home


def history_rows(home: Path) -> list[tuple[str, str, int]]:
    db = home / "history.sqlite3"
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [
            (str(r), str(s), int(n))
            for r, s, n in conn.execute(
                "SELECT role, status, length(text) FROM turns ORDER BY id"
            ).fetchall()
        ]
    except sqlite3.OperationalError:  # quit before the schema was written
        return []
    finally:
        conn.close()


def run_app(home: Path, driver: Path, kind: str, at: float, timeout: float = 60) -> Run:
    env = {
        **os.environ,
        "PARLEY_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "DRIVER_SAY": STORY,
    }
    if kind == "sigterm-plain":  # exactly what the `parley` script runs
        cmd = [sys.executable, "-m", "ui.app"]
    else:
        cmd = [sys.executable, str(driver), kind, str(at)]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        if kind.startswith("sigterm") and kind != "sigterm-mid-reply":
            time.sleep(max(0.0, at - (time.monotonic() - t0)))
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Run(kind, at, proc.returncode, err, time.monotonic() - t0, history_rows(home))


def check(run: Run) -> None:
    assert run.code == 0, run.describe()  # a negative code is death by that signal
    assert "Traceback" not in run.stderr, run.describe()
    assert "Fatal Python error" not in run.stderr, run.describe()
    # Nothing half written: a reply cut by the quit is stored as interrupted.
    assert all(status != "streaming" for _role, status, _n in run.statuses), run.describe()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("driver") / "quit_driver.py"
    path.write_text(DRIVER, encoding="utf-8")
    return path


KINDS = ("sigterm", "quit-action", "sigterm-plain", "close-window")


def test_twenty_quits_at_random_moments_all_exit_0(
    tmp_path: Path, gguf_path: Path, driver: Path
) -> None:
    rng = random.Random(20261204)
    # Two per second of the first ten: every phase of the start-up is hit.
    moments = [rng.uniform(max(0.15, s / 2), (s + 1) / 2) for s in range(20)]
    rng.shuffle(moments)
    # SIGTERM half the time (plain `python -m ui.app` or with a typed turn),
    # the window's own quit paths the other half.
    plans = [(KINDS[i % len(KINDS)], at) for i, at in enumerate(moments)]
    homes = [make_home(tmp_path, gguf_path, f"home{i}") for i in range(len(plans))]
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:  # 2 cores: two apps at a time
        jobs = [pool.submit(run_app, home, driver, kind, at)
                for (kind, at), home in zip(plans, homes, strict=True)]
        runs = [job.result() for job in jobs]
    wall = time.monotonic() - t0
    failures = [r.describe() for r in runs if r.code != 0]
    assert not failures, "\n".join(failures)
    for run in runs:
        check(run)
    print(f"\n20 quits in {wall:.1f} s:")
    for run in runs:
        print(" ", run.describe()[:160])


def test_sigterm_while_a_reply_streams_keeps_it_as_interrupted(
    tmp_path: Path, gguf_path: Path, driver: Path
) -> None:
    home = make_home(tmp_path, gguf_path, "home")
    run = run_app(home, driver, "sigterm-mid-reply", 0.0)
    check(run)
    assert ("user", "done", len(STORY)) in run.statuses, run.describe()
    replies = [(s, n) for role, s, n in run.statuses if role == "assistant"]
    assert replies and replies[-1][0] == "interrupted" and replies[-1][1] > 0, run.describe()


# -- parley chat -------------------------------------------------------------------------------


def chat_until(
    home: Path, gguf: Path, ready: Callable[[str], bool], then_wait: float, say: str = ""
) -> tuple[int, str, list[tuple[str, str, int]]]:
    """`parley -v chat --json` with its stdin a pipe kept open; SIGTERM
    `then_wait` s after the line (stderr's log, or stdout's events when `say`
    is given) that makes `ready` true."""
    env = {**os.environ, "PARLEY_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", *([] if say else ["-v"]), "chat", "--json",
         "--model", str(gguf)],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    watched = proc.stdout if say else proc.stderr
    try:
        if say:
            proc.stdin.write(say + "\n")
            proc.stdin.flush()
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = watched.readline()
            if not line:
                break
            seen.append(line)
            if ready(line):
                break
        time.sleep(then_wait)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, "".join(seen) + out + err, history_rows(home)


@pytest.mark.parametrize("after", [0.0, 0.2, 0.4, 0.7])
def test_chat_sigterm_while_the_model_loads_exits_0(
    tmp_path: Path, gguf_path: Path, after: float
) -> None:
    # llama.cpp's first log line: the native load is under way.
    code, err, _rows = chat_until(tmp_path, gguf_path, lambda line: "llama.cpp" in line, after)
    assert code == 0, err[-2000:]
    assert "Traceback" not in err and "Fatal Python error" not in err, err[-2000:]


def test_chat_sigterm_mid_reply_stores_it_interrupted(tmp_path: Path, gguf_path: Path) -> None:
    code, err, rows = chat_until(
        tmp_path, gguf_path, lambda line: '"reply_delta"' in line, 0.0,
        say="Write a very long story about a dragon, a knight and a baker, with many details.",
    )  # fmt: skip
    assert code == 0, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert [r for r, _s, _n in rows] == ["user", "assistant"], rows
    assert rows[1][1] == "interrupted" and rows[1][2] > 0, rows


# -- parley listen ----------------------------------------------------------------------------


def catches_sigint(pid: int, timeout: float = 30.0) -> None:
    """Wait until the interpreter in `pid` handles SIGINT (/proc's SigCgt): a
    Ctrl-C before that kills any Python program, whatever it does later."""
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            caught = next(
                int(line.split()[1], 16)
                for line in status.read_text().splitlines()
                if line.startswith("SigCgt:")
            )
        except (OSError, StopIteration):
            return  # gone, or no /proc here: send the signal as planned
        if caught & (1 << (signal.SIGINT - 1)):
            return
        time.sleep(0.005)


@pytest.mark.parametrize(
    ("sig", "after", "code"),
    [(signal.SIGTERM, 0.6, 0), (signal.SIGTERM, 3.0, 0), (signal.SIGINT, 0.6, 130),
     (signal.SIGINT, 3.0, 130)],
)  # fmt: skip
def test_listen_quits_with_the_documented_code(
    tmp_path: Path, gguf_path: Path, sig: signal.Signals, after: float, code: int
) -> None:
    """While the model and the speech recogniser load (0.6 s), and while it
    listens (3 s): SIGTERM 0, Ctrl-C 130, and no traceback from Parley or its
    recogniser's worker process."""
    wav = tmp_path / "silence.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000 * 30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "listen", "--no-speak", "--model", str(gguf_path),
         "--wav", str(wav)],
        cwd=ROOT, env={**os.environ, "PARLEY_HOME": str(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        catches_sigint(proc.pid)  # Python's own start-up is not Parley's to answer for
        time.sleep(after)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
