"""`parley bench startup`: how long Parley takes to be usable, and what each of
its processes holds in memory at rest.

- **window**: from spawning the desktop app (`python -m ui.app -v`, Qt's
  offscreen platform) to its "window shown" log line (`ui/shell.py`).
- **ready to listen**: from spawning `parley listen` (the wake phrase on, as
  users run it) to its "Listening" line, on a virtual PulseAudio microphone
  (assistant/audio/virtual.py).
- **memory**, per process (the app or the command, the speech worker, the TTS
  worker, multiprocessing's resource tracker), twice: once the process tree is
  at rest after it got ready (the model loaded, its prompt prefilled), and at
  rest again after one spoken exchange (push-to-talk through the control
  socket, a question for the model played into the microphone, its reply
  spoken). Read from /proc/<pid>/smaps_rollup: RSS; PSS (shared pages split
  between the processes that map them: the sum over processes is what the tree
  costs); USS (the pages it alone holds); anonymous (heap and buffers: only
  swap can take them) and file-backed (code and mapped model files, which the
  kernel can drop and read again), with the model files' part of it.

Every run shares one PARLEY_HOME (`home`, else a temporary folder; onboarding
marked done, so the first-run wizard does not open); the first run of each
kind is a warm-up (the built-in model is assembled into it, caches fill) and
is not counted. Medians over `runs`. Wall-clock numbers: other work on the
machine shows in them, which is why this is a bench and not a test.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import psutil

WINDOW_LINE = "window shown"
READY_LINE = "Listening."
QUESTION = "What is the capital of France?"
"""Asked in the exchange: a question for the model, so its generation buffers
are touched and the reply is synthesised and played."""
PHASES = ("ready", "exchange")
_SPEECH_LIBS = ("moonshine", "pocketsphinx", "vosk", "onnxruntime")
_TTS_LIBS = ("espeak", "pyttsx3")
_MODEL_SUFFIXES = (".gguf", ".ort", ".onnx", ".fst", ".mdl")
"""Mapped files counted as models (llama.cpp maps its GGUF, ONNX Runtime the
Moonshine model, Vosk its graphs)."""
SETTLE_S = 10.0
"""Seconds after getting ready, and after the reply, before memory is read:
past the 8 s of quiet after which the voice trims the heap
(speech/speaker.py REST_AFTER_S), so the numbers are those of Parley at rest."""
IDLE_CPU = 0.1
"""The tree is at rest when it uses less than this share of one core..."""
IDLE_FOR_S = 2.0
"""...for this long (the ear's VAD and the wake spotter run on every frame)."""


@dataclass(frozen=True)
class Memory:
    """One process's memory in MB (see the module doc)."""

    rss: float
    pss: float
    uss: float
    anon: float
    file: float
    """Resident pages of mapped files (code, data files, models: RssFile)."""
    models: float
    """Of `file`, the model files (`_MODEL_SUFFIXES`)."""

    def __add__(self, other: Memory) -> Memory:
        return Memory(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


ZERO = Memory(0, 0, 0, 0, 0, 0)


@dataclass
class Run:
    seconds: float
    """Spawn to the line that says it is ready; -1 when it never came."""
    memory: dict[str, dict[str, Memory]] = field(default_factory=dict)
    """Phase ("ready", "exchange") -> role -> memory at rest."""


@dataclass
class StartupReport:
    window: list[Run]
    listen: list[Run]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def memory(self) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
        """Kind ("app", "listen") -> phase -> role -> medians by measure."""
        return {
            kind: {
                phase: _median_memory([r.memory.get(phase, {}) for r in runs])
                for phase in PHASES
                if any(phase in r.memory for r in runs)
            }
            for kind, runs in (("app", self.window), ("listen", self.listen))
        }

    def to_dict(self) -> dict[str, object]:
        memory = self.memory()
        return {
            "window_s": _median([r.seconds for r in self.window]),
            "ready_to_listen_s": _median([r.seconds for r in self.listen]),
            "memory_mb": {  # RSS at rest once ready, as before the details were added
                kind: {role: m["rss"] for role, m in phases.get("ready", {}).items()}
                for kind, phases in memory.items()
            },
            "memory": memory,
            "runs": {"window": [asdict(r) for r in self.window],
                     "listen": [asdict(r) for r in self.listen]},
            "problems": self.problems,
            "notes": self.notes,
        }

    def table(self) -> str:
        d = self.to_dict()
        lines = [
            f"window shown          median {_fmt(d['window_s'])}  "
            f"runs {', '.join(_fmt(r.seconds) for r in self.window)}  (goal <= 0.8 s)",
            f"ready to listen       median {_fmt(d['ready_to_listen_s'])}  "
            f"runs {', '.join(_fmt(r.seconds) for r in self.listen)}  (goal <= 2 s)",
            "memory at rest, median MB (pss: shared pages split, its sum is the tree's "
            "cost; uss: its own; anon: heap and buffers; file: code and mapped models, "
            "which the kernel can drop)",
        ]
        names = [f.name for f in fields(Memory)]
        for kind, phases in self.memory().items():
            for phase, roles in phases.items():
                when = "once ready" if phase == "ready" else "after one exchange"
                lines.append(f"  {kind + ' ' + when:<28}" + "".join(f"{n:>8}" for n in names))
                total = dict.fromkeys(names, 0.0)
                for role, m in roles.items():
                    lines.append(f"    {role:<26}" + "".join(f"{m[n]:8.0f}" for n in names))
                    total = {n: total[n] + m[n] for n in names}
                lines.append(f"    {'all':<26}" + "".join(f"{total[n]:8.0f}" for n in names))
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def _fmt(seconds: object) -> str:
    return f"{seconds:.2f} s" if isinstance(seconds, float) and seconds >= 0 else "n/a"


def _median(values: list[float]) -> float:
    good = [v for v in values if v >= 0]
    return round(statistics.median(good), 3) if good else -1.0


def _median_memory(per_run: list[dict[str, Memory]]) -> dict[str, dict[str, float]]:
    roles = sorted({role for m in per_run for role in m})
    return {
        role: {
            f.name: round(statistics.median(
                [getattr(m[role], f.name) for m in per_run if role in m]
            ), 1)
            for f in fields(Memory)
        }
        for role in roles
    }


# -- measuring ----------------------------------------------------------------------------


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


def process_memory(pid: int) -> Memory:
    """`pid`'s memory in MB; off Linux only RSS and USS (psutil)."""
    try:
        rollup = _kb_fields(Path(f"/proc/{pid}/smaps_rollup").read_text())
        status = _kb_fields(Path(f"/proc/{pid}/status").read_text())
        models = _model_kb(Path(f"/proc/{pid}/smaps").read_text(errors="replace"))
    except OSError:
        info = psutil.Process(pid).memory_full_info()
        return Memory(info.rss / 2**20, 0.0, info.uss / 2**20, 0.0, 0.0, 0.0)
    uss = rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)
    kb = (rollup.get("Rss", 0), rollup.get("Pss", 0), uss, status.get("RssAnon", 0),
          status.get("RssFile", 0), models)
    return Memory(*(round(v / 1024, 1) for v in kb))


def _kb_fields(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[key] = out.get(key, 0) + int(parts[0])
    return out


def _model_kb(smaps: str) -> int:
    """Resident kB of mappings of model files, from /proc/<pid>/smaps."""
    total, counting = 0, False
    for line in smaps.splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and not head[0].endswith(":"):  # a mapping
            counting = len(head) == 6 and head[5].strip().lower().endswith(_MODEL_SUFFIXES)
        elif counting and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def tree(root: int) -> list[psutil.Process]:
    try:
        top = psutil.Process(root)
        return [top, *top.children(recursive=True)]
    except psutil.Error:
        return []


def memory_by_role(root: int, main_role: str) -> dict[str, Memory]:
    """Memory of `root` and its descendants, by role (processes of one role summed)."""
    out: dict[str, Memory] = {}
    for i, proc in enumerate(tree(root)):
        role = main_role if i == 0 else role_of(proc)
        try:
            out[role] = out.get(role, ZERO) + process_memory(proc.pid)
        except (psutil.Error, OSError):
            continue  # it ended meanwhile
    return out


def wait_idle(root: int, *, timeout_s: float, idle_cpu: float = IDLE_CPU,
              idle_for_s: float = IDLE_FOR_S) -> bool:
    """Wait until the process tree uses less than `idle_cpu` of a core for
    `idle_for_s`; False when it did not within `timeout_s`."""

    def cpu() -> float:
        total = 0.0
        for p in tree(root):
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total

    deadline = time.monotonic() + timeout_s
    last, since = cpu(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(idle_for_s / 4)
        now_cpu, now = cpu(), time.monotonic()
        if now - since >= idle_for_s:
            if (now_cpu - last) / (now - since) < idle_cpu:
                return True
            last, since = now_cpu, now
    return False


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


Exchange = Callable[[], str]
"""One exchange with the running Parley: "" when it was answered, else why not."""


def measure(
    cmd: list[str], env: dict[str, str], marker: str, role: str,
    *, timeout_s: float, settle_s: float, exchange: Exchange | None = None,
) -> tuple[Run, str]:
    """Spawn `cmd`, time the first stderr line containing `marker`; after
    `settle_s` and once the tree is at rest, read its memory; with `exchange`,
    run it and read the memory at rest again. End it with SIGTERM. Returns the
    run and, when something failed, what (the last lines it wrote)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, errors="replace",
    )
    lines = _lines(proc)
    seen: list[str] = []
    seconds = -1.0
    run = Run(-1.0)
    why = ""
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
        run.seconds = round(seconds, 3)
        if seconds < 0:
            return run, "\n".join(seen[-5:])
        time.sleep(settle_s)
        wait_idle(proc.pid, timeout_s=timeout_s)
        run.memory["ready"] = memory_by_role(proc.pid, role)
        if exchange is not None:
            why = exchange()
            if not why:
                time.sleep(settle_s)
                wait_idle(proc.pid, timeout_s=timeout_s)
                run.memory["exchange"] = memory_by_role(proc.pid, role)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return run, why


# -- the exchange -------------------------------------------------------------------------


def replies(db: Path) -> int:
    """Finished assistant turns in the history database (0 before it exists)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM turns WHERE role = 'assistant' AND status != 'streaming'"
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def spoken_exchange(
    env: dict[str, str], db: Path, play: Callable[[], None], *, timeout_s: float
) -> Exchange:
    """Push-to-talk through the control socket (`parley toggle start`), the
    question played into the microphone, release; answered when a new reply
    is in the history."""

    def toggle(command: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "assistant.cli", "toggle", command],
            env=env, capture_output=True, text=True, timeout=30,
        )
        return "" if out.returncode == 0 else (out.stderr or out.stdout).strip()

    def exchange() -> str:
        before = replies(db)
        why = toggle("start")
        if why:
            return f"push-to-talk did not start: {why}"
        play()
        time.sleep(0.8)  # the pause after the question: the turn ends by itself or here
        why = toggle("stop")
        if why:
            return f"push-to-talk did not stop: {why}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if replies(db) > before:
                return ""
            time.sleep(0.25)
        return f"no reply to {QUESTION!r} within {timeout_s:g} s"

    return exchange


def question_wav(folder: Path) -> Path | None:
    """QUESTION spoken by the natural test voice (else eSpeak), or None when
    no test voice speaks here."""
    from assistant.bench.voices import VoiceMissing, available_voices, speak, write_wav

    voices = [v for v in ("joe", "espeak") if v in available_voices()]
    if not voices:
        return None
    try:
        return write_wav(folder / "question.wav", speak(QUESTION, voices[0]))
    except (VoiceMissing, OSError, subprocess.CalledProcessError):
        return None


# -- the bench ----------------------------------------------------------------------------


def run_startup(
    runs: int = 5,
    *,
    settle_s: float = SETTLE_S,
    timeout_s: float = 120.0,
    model: str = "",
    home: Path | None = None,
    exchange: bool = True,
    log: Callable[[str], None] = lambda _s: None,
) -> StartupReport:
    """`home`: the PARLEY_HOME for every run (its config.toml is replaced; the
    folder is kept), else a temporary one. `exchange`: also measure after one
    spoken exchange."""
    from assistant.audio.virtual import PulseError, PulseServer

    temporary = home is None
    home = Path(tempfile.mkdtemp(prefix="parley-bench-startup-")) if home is None else home
    home.mkdir(parents=True, exist_ok=True)
    report = StartupReport([], [])
    pulse = None
    try:
        (home / "config.toml").write_text(f'llm_model = "{model}"\n' if model else "")
        env = {**os.environ, "PARLEY_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
        db = _prepare_home(env)
        try:  # a microphone and a speaker for both, so every worker starts as it would
            pulse = PulseServer().start()
            env.update(pulse.env())
        except PulseError as e:
            report.problems.append(f"no virtual microphone for `parley listen`: {e}")
        talk: Exchange | None = None
        if exchange and pulse is not None:
            wav = question_wav(home)
            if wav is None:
                report.notes.append("no test voice (piper-tts or espeak-ng): no exchange")
            else:
                server = pulse
                talk = spoken_exchange(
                    env, db, lambda: server.play_into_mic(wav, wait=True), timeout_s=timeout_s
                )
        app = [sys.executable, "-m", "ui.app", "-v"]
        listen = [sys.executable, "-m", "assistant.cli", "listen"]
        kinds = [("window", app, WINDOW_LINE, "app", report.window)]
        if pulse is not None:
            kinds.append(("listen", listen, READY_LINE, "listen", report.listen))
        for name, cmd, marker, role, runs_of in kinds:
            for i in range(runs + 1):
                run, why = measure(cmd, env, marker, role, timeout_s=timeout_s,
                                   settle_s=settle_s, exchange=talk)
                log(f"{name} run {i}: {_fmt(run.seconds)} "
                    + "; ".join(f"{phase}: " + ", ".join(
                        f"{r} {m.rss:.0f}" for r, m in roles.items())
                        for phase, roles in run.memory.items()))
                if why:
                    what = "did not get ready" if run.seconds < 0 else "exchange failed"
                    report.problems.append(f"{' '.join(cmd[2:])} {what}: {why}")
                    break
                if i:  # the first run warms up
                    runs_of.append(run)
    finally:
        if pulse is not None:
            pulse.stop()
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    return report


def _prepare_home(env: dict[str, str]) -> Path:
    """Mark onboarding done (the first-run wizard would open over the window),
    in the data folder the app will use (its path rules, under this
    PARLEY_HOME); returns the history database's path."""
    code = (
        "from assistant import paths; d = paths.ensure_dir(paths.data_dir()); "
        "(d / 'onboarded').write_text('bench\\n'); print(paths.history_db())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60,
                         capture_output=True, text=True)
    return Path(out.stdout.strip())
