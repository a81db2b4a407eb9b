"""`parley bench startup`: how long Parley takes to be usable, and what it
holds in memory at rest.

- **window**: from spawning the desktop app (`python -m ui.app -v`, Qt's
  offscreen platform) to its "window shown" log line (`ui/shell.py`).
- **ready to listen**: from spawning `parley listen --open-mic` to its
  "Listening" line, on a virtual PulseAudio microphone (assistant/audio/virtual.py).
- **memory**: the resident set of each process (the app or the command, the
  speech worker, the TTS worker), `settle_s` after it was ready.

Every run shares one PARLEY_HOME in a temporary folder (onboarding marked
done, so the first-run wizard does not open); the first run of each kind is a
warm-up (the built-in model is assembled into it, caches fill) and is not
counted. Medians over `runs`. Wall-clock numbers: other work on the machine
shows in them, which is why this is a bench and not a test.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

WINDOW_LINE = "window shown"
READY_LINE = "Listening."
_SPEECH_LIBS = ("moonshine", "pocketsphinx", "vosk", "onnxruntime")
_TTS_LIBS = ("espeak", "pyttsx3")


@dataclass
class Run:
    seconds: float
    """Spawn to the line that says it is ready; -1 when it never came."""
    memory_mb: dict[str, float] = field(default_factory=dict)
    """Resident memory per process, by role, at rest."""
    private_mb: dict[str, float] = field(default_factory=dict)
    """Of it, the pages that process alone holds (USS: not the shared
    libraries, nor a model file other processes map too)."""


@dataclass
class StartupReport:
    window: list[Run]
    listen: list[Run]
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "window_s": _median([r.seconds for r in self.window]),
            "ready_to_listen_s": _median([r.seconds for r in self.listen]),
            "memory_mb": {
                "app": _median_memory(self.window),
                "listen": _median_memory(self.listen),
            },
            "private_mb": {
                "app": _median_memory(self.window, private=True),
                "listen": _median_memory(self.listen, private=True),
            },
            "runs": {"window": [asdict(r) for r in self.window],
                     "listen": [asdict(r) for r in self.listen]},
            "problems": self.problems,
        }

    def table(self) -> str:
        d = self.to_dict()
        lines = [
            f"window shown          median {_fmt(d['window_s'])}  "
            f"runs {', '.join(_fmt(r.seconds) for r in self.window)}  (goal <= 0.8 s)",
            f"ready to listen       median {_fmt(d['ready_to_listen_s'])}  "
            f"runs {', '.join(_fmt(r.seconds) for r in self.listen)}  (goal <= 2 s)",
            "resident memory at rest (median MB):",
        ]
        memory, private = d["memory_mb"], d["private_mb"]
        assert isinstance(memory, dict) and isinstance(private, dict)
        for what, roles in memory.items():
            shown = ", ".join(
                f"{role} {mb:.0f} (own {private[what].get(role, 0):.0f})"
                for role, mb in roles.items()
            )
            lines.append(f"  {what:<8} {shown or 'n/a'}")
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _fmt(seconds: object) -> str:
    return f"{seconds:.2f} s" if isinstance(seconds, float) and seconds >= 0 else "n/a"


def _median(values: list[float]) -> float:
    good = [v for v in values if v >= 0]
    return round(statistics.median(good), 3) if good else -1.0


def _median_memory(runs: list[Run], private: bool = False) -> dict[str, float]:
    per_run = [r.private_mb if private else r.memory_mb for r in runs]
    roles = sorted({role for m in per_run for role in m})
    return {
        role: round(statistics.median([m[role] for m in per_run if role in m]), 1)
        for role in roles
    }


def role_of(proc: psutil.Process) -> str:
    """What a Parley child process is, from the libraries it has mapped."""
    try:
        cmdline = " ".join(proc.cmdline())
        if "resource_tracker" in cmdline:
            return "resource tracker"
        maps = Path(f"/proc/{proc.pid}/maps").read_text(errors="replace").lower()
    except (OSError, psutil.Error):
        return "child"
    if any(lib in maps for lib in _SPEECH_LIBS):
        return "speech worker"
    if any(lib in maps for lib in _TTS_LIBS):
        return "tts worker"
    return "child"


def resident_mb(root: int, main_role: str, private: bool = False) -> dict[str, float]:
    """Resident memory of `root` and its descendants, in MB, by role; with
    `private`, only the pages each holds alone (USS)."""
    out: dict[str, float] = {}
    try:
        top = psutil.Process(root)
        procs = [(main_role, top)] + [(role_of(c), c) for c in top.children(recursive=True)]
        for role, proc in procs:
            info = proc.memory_full_info() if private else proc.memory_info()
            size = info.uss if private else info.rss
            out[role] = out.get(role, 0.0) + size / 2**20
    except psutil.Error:
        pass
    return {k: round(v, 1) for k, v in out.items()}


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[tuple[float, str]]:
    """The child's stderr, line by line with the time each arrived."""
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put((time.monotonic(), line))
        lines.put((time.monotonic(), ""))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def measure(
    cmd: list[str], env: dict[str, str], marker: str, role: str,
    *, timeout_s: float, settle_s: float,
) -> tuple[Run, str]:
    """Spawn `cmd`, time the first stderr line containing `marker`, then (after
    `settle_s`) the memory; end it with SIGTERM. Returns the run and, when the
    marker never came, the last lines it wrote."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, errors="replace",
    )
    lines = _lines(proc)
    seen: list[str] = []
    seconds = -1.0
    try:
        deadline = t0 + timeout_s
        while time.monotonic() < deadline:
            try:
                at, line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if not line:  # it ended
                break
            seen.append(line.rstrip())
            if marker in line:
                seconds = at - t0
                break
        memory: dict[str, float] = {}
        private: dict[str, float] = {}
        if seconds >= 0:
            time.sleep(settle_s)
            memory = resident_mb(proc.pid, role)
            private = resident_mb(proc.pid, role, private=True)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    run = Run(round(seconds, 3), memory, private)
    return run, "" if seconds >= 0 else "\n".join(seen[-5:])


def run_startup(
    runs: int = 5,
    *,
    settle_s: float = 5.0,
    timeout_s: float = 120.0,
    model: str = "",
    log: Callable[[str], None] = lambda _s: None,
) -> StartupReport:
    from assistant.audio.virtual import PulseError, PulseServer

    home = Path(tempfile.mkdtemp(prefix="parley-bench-startup-"))
    report = StartupReport([], [])
    pulse = None
    try:
        (home / "config.toml").write_text(f'llm_model = "{model}"\n' if model else "")
        env = {**os.environ, "PARLEY_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
        _mark_onboarded(env)
        try:  # a microphone and a speaker for both, so every worker starts as it would
            pulse = PulseServer().start()
            env.update(pulse.env())
        except PulseError as e:
            report.problems.append(f"no virtual microphone for `parley listen`: {e}")
        app = [sys.executable, "-m", "ui.app", "-v"]
        listen = [sys.executable, "-m", "assistant.cli", "listen", "--open-mic"]
        kinds = [("window", app, WINDOW_LINE, "app", report.window)]
        if pulse is not None:
            kinds.append(("listen", listen, READY_LINE, "listen", report.listen))
        for name, cmd, marker, role, runs_of in kinds:
            for i in range(runs + 1):
                run, why = measure(cmd, env, marker, role, timeout_s=timeout_s,
                                   settle_s=settle_s)
                log(f"{name} run {i}: {_fmt(run.seconds)} {run.memory_mb}")
                if why:
                    report.problems.append(f"{' '.join(cmd[2:])} did not get ready: {why}")
                    break
                if i:  # the first run warms up
                    runs_of.append(run)
    finally:
        if pulse is not None:
            pulse.stop()
        shutil.rmtree(home, ignore_errors=True)
    return report


def _mark_onboarded(env: dict[str, str]) -> None:
    """The first-run wizard would open over the window: mark it done, in the
    data folder the app will use (its path rules, under this PARLEY_HOME)."""
    code = (
        "from assistant import paths; d = paths.ensure_dir(paths.data_dir()); "
        "(d / 'onboarded').write_text('bench\\n')"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
