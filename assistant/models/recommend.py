"""Which language model to suggest on this computer: the largest catalog model
that still answers at conversational speed and fits comfortably in memory.

How the speed is known. Generating a token on a CPU reads every weight of the
model once, so decoding is bound by memory bandwidth: tokens a second are
roughly inversely proportional to the bytes of the weights (Q4_K_M files all
hold about 4.8 bits a weight, so bytes stand for parameters). A short check
times a few decoded tokens of a model already on disk (the embedded 270M GGUF),
and every catalog model's speed is that rate scaled by the file sizes. The
scaling ignores the fixed per-token cost (sampling, scheduling), which weighs
less in a larger model, so it errs slow: a safe side for a recommendation.
The check takes a few seconds; its result is kept in the data folder
(`model_speed.json`, 0600) and reused until the processor, the thread setting
or llama.cpp change. Without a check, a guess from the core count stands in
(`PRIOR_BYTES_PER_S_PER_CORE`), and the wording says so.

Why `FLOOR_TOKENS_PER_S` is 8. Parley speaks a reply while it is written: a
voice speaks about 150 words a minute (2.5 words, some 3.3 tokens, a second) and
people read about 4 words a second on screen. At 8 tokens a second (about 6
words) the writing stays well ahead of both, with room for what the estimate
gets wrong, for the prompt's evaluation (which slows down with the model too)
and for the speech recogniser sharing the processor; and the first spoken
clause (about 10 tokens) is ready in about a second, a conversational pause.

Memory: a model needs its weights plus the context's cache and llama.cpp's
buffers, about `MEMORY_FACTOR` times the file plus `MEMORY_OVERHEAD` bytes. It
fits comfortably when that is at most half the computer's memory and most of
what is free now.

No Qt here: the UI calls `recommend` (instant: cached check or the guess) on
the GUI thread and `recommend(measure=True)` on a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from assistant import paths
from assistant.inventory.catalog import EMBEDDED_ID, Catalog, CatalogEntry, load_catalog
from assistant.llm.embedded import FILE_NAME as _EMBEDDED_FILE

log = logging.getLogger(__name__)

FLOOR_TOKENS_PER_S = 8.0
"""The slowest decode that still feels like a conversation (see the module text)."""
WORDS_PER_TOKEN = 0.75
"""English text averages about three words to four tokens."""
MEMORY_FACTOR = 1.2
MEMORY_OVERHEAD = 512_000_000
MEMORY_SHARE_OF_TOTAL = 0.5
MEMORY_SHARE_OF_AVAILABLE = 0.8
PRIOR_BYTES_PER_S_PER_CORE = 2.5e9
"""Without a measurement: bytes of weights one core reads a second while
decoding (a laptop core manages 2.5 to 5 GB/s; the low end, to err slow)."""
PRIOR_MAX_CORES = 8
"""Beyond about 8 cores the memory bus, not the cores, sets the pace."""
CACHE_FILE = "model_speed.json"
CACHE_MAX_AGE_S = 90 * 24 * 3600
BUSY_LEVEL = 0.5
"""A check that began with more than half the processor in use by other
programs reads slow: it is kept for a day only (`BUSY_MAX_AGE_S`)."""
BUSY_MAX_AGE_S = 24 * 3600
CHECK_TOKENS = 16
CHECK_RUNS = 3
CHECK_BUDGET_S = 8.0

_measure_lock = threading.Lock()


@dataclass(frozen=True)
class Machine:
    cores: int
    """Physical cores (what llama.cpp's threads default to)."""
    logical: int
    """Logical processors (hyperthreads counted)."""
    total_memory: int
    available_memory: int
    """Bytes free for a new program now (the OS's 'available', not 'free')."""


@dataclass(frozen=True)
class SpeedCheck:
    """A measured decode rate of one model file on this computer."""

    tokens_per_s: float
    model: str
    """File name of the model measured."""
    model_bytes: int
    threads: int
    """The thread setting it ran with (0 = one per physical core)."""
    gpu_layers: int
    cores: int
    logical: int
    llama_cpp: str
    measured_at: float
    """Unix time."""
    seconds: float = 0.0
    """How long the check took, model load included."""
    busy: float = 0.0
    """Share of the processor other programs used just before the check (0..1)."""

    def matches(self, machine: Machine, threads: int, gpu_layers: int, now: float) -> bool:
        """Still valid: same processor, settings and llama.cpp, and not too old
        (a day old, when the computer was busy during the check)."""
        max_age = BUSY_MAX_AGE_S if self.busy >= BUSY_LEVEL else CACHE_MAX_AGE_S
        return (
            (self.cores, self.logical) == (machine.cores, machine.logical)
            and (self.threads, self.gpu_layers) == (threads, gpu_layers)
            and self.llama_cpp == _llama_version()
            and 0 <= now - self.measured_at < max_age
            and self.tokens_per_s > 0 and self.model_bytes > 0
        )


@dataclass(frozen=True)
class Estimate:
    """One catalog model as the recommender saw it."""

    id: str
    name: str
    size: int
    tokens_per_s: float
    memory_needed: int
    fast_enough: bool
    fits: bool


@dataclass(frozen=True)
class Recommendation:
    id: str
    name: str
    size: int
    """Bytes to download; 0 for the built-in model (nothing to download)."""
    tokens_per_s: float
    """Expected decode speed on this computer."""
    sentence: str
    """What to show: name, size and speed in plain words."""
    why: str
    """How it was decided, in a few plain sentences."""
    builtin: bool
    measured: bool
    """The speed comes from a check on this computer (else from the core count)."""
    license: str = ""
    estimates: tuple[Estimate, ...] = field(default=(), repr=False)

    @property
    def download(self) -> bool:
        return not self.builtin

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens_per_s"] = round(self.tokens_per_s, 1)
        data["words_per_s"] = round(self.tokens_per_s * WORDS_PER_TOKEN, 1)
        data["estimates"] = [
            {**asdict(e), "tokens_per_s": round(e.tokens_per_s, 1)} for e in self.estimates
        ]
        return data


# --------------------------------------------------------------------------- machine


def this_machine() -> Machine:
    from assistant.llm.engine import physical_cores

    logical = os.cpu_count() or 1
    try:
        import psutil

        vm = psutil.virtual_memory()
        total, available = int(vm.total), int(vm.available)
    except Exception:  # psutil missing: POSIX sysconf (no "available": use the total)
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = 0
        available = total
    return Machine(physical_cores(), logical, total, available)


# --------------------------------------------------------------------------- the check


def _llama_version() -> str:
    try:
        import llama_cpp

        return str(llama_cpp.__version__)
    except Exception:
        return ""


def processor_busy(interval: float = 0.3) -> float:
    """Share of the processor in use now (0..1), over `interval` seconds."""
    try:
        import psutil

        return float(psutil.cpu_percent(interval=interval)) / 100
    except Exception:  # no psutil: the load average per processor, where there is one
        try:
            return min(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
        except (OSError, AttributeError):
            return 0.0


def cache_path() -> Path:
    return paths.data_dir() / CACHE_FILE


def load_check(path: Path | None = None) -> SpeedCheck | None:
    """The stored check, or None (none, unreadable or from another version)."""
    try:
        data = json.loads((path or cache_path()).read_text(encoding="utf-8"))
        return SpeedCheck(**data)
    except (OSError, ValueError, TypeError):
        return None


def save_check(check: SpeedCheck, path: Path | None = None) -> Path:
    """Write the check 0600, atomically (a reader never sees half a file)."""
    path = path or cache_path()
    paths.ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".model_speed-", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(check), f, indent=1)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _settings_threads() -> tuple[int, int]:
    from assistant.config import load_settings

    s = load_settings().settings
    return s.n_threads, s.n_gpu_layers


def cached_check(machine: Machine | None = None) -> SpeedCheck | None:
    """The stored check when it still describes this computer and settings."""
    check = load_check()
    if check is None:
        return None
    threads, gpu_layers = _settings_threads()
    if not check.matches(machine or this_machine(), threads, gpu_layers, time.time()):
        return None
    return check


def reference_model(prepare: bool = False) -> Path | None:
    """The model file to time: the embedded GGUF when it is on disk (`prepare`:
    assemble it first, a few seconds), else the smallest installed language model."""
    from assistant.llm import embedded

    if embedded.package_installed():
        path = embedded.embedded_path()
        if path.is_file():
            return path
        if prepare:
            return embedded.ensure_embedded_model()
    from assistant.inventory import store

    files = [i.path for i in store.installed_models().values()
             if i.kind == "llm" and i.path.is_file()]
    return min(files, key=lambda p: p.stat().st_size) if files else None


def measure(
    path: Path,
    *,
    threads: int = 0,
    gpu_layers: int = 0,
    tokens: int = CHECK_TOKENS,
    runs: int = CHECK_RUNS,
    budget_s: float = CHECK_BUDGET_S,
) -> SpeedCheck:
    """Load `path` and time `runs` short decodes of `tokens` tokens (within
    `budget_s`); the fastest run counts: other work on the computer only ever
    slows a run down, so the best one is the nearest to what it can do."""
    from assistant.llm.engine import GenerationStats, LlmEngine, LlmOptions
    from assistant.llm.templates import Message

    busy = processor_busy()
    t0 = time.monotonic()
    engine = LlmEngine.load(path, LlmOptions(n_ctx=256, n_threads=threads,
                                             n_gpu_layers=gpu_layers, seed=1))
    messages = [Message("user", "Tell me about the sea.")]
    try:
        for _ in engine.stream(messages, max_tokens=4, ignore_eos=True):  # warm-up
            pass
        rates: list[float] = []
        start = time.monotonic()
        while len(rates) < runs and (not rates or time.monotonic() - start < budget_s):
            stats = GenerationStats()
            for _ in engine.stream(messages, max_tokens=tokens, stats=stats, ignore_eos=True):
                pass
            rates.append(stats.tokens_per_s)
    finally:
        del engine
    if not rates or max(rates) <= 0:
        raise RuntimeError(f"{path.name} generated too few tokens to time")
    machine = this_machine()
    check = SpeedCheck(
        tokens_per_s=round(max(rates), 2), model=path.name, model_bytes=path.stat().st_size,
        threads=threads, gpu_layers=gpu_layers, cores=machine.cores, logical=machine.logical,
        llama_cpp=_llama_version(), measured_at=time.time(),
        seconds=round(time.monotonic() - t0, 2), busy=round(busy, 2),
    )
    log.info("speed check: %s decodes %.1f tokens/s (runs %s)", path.name, check.tokens_per_s,
             ", ".join(f"{r:.1f}" for r in rates))
    return check


def speed_check(*, remeasure: bool = False, prepare: bool = False) -> SpeedCheck | None:
    """The stored check, else a new one (saved); None when no model is on disk
    to time (and not `prepare`). Blocking: seconds. Raises LlmError, OSError."""
    with _measure_lock:  # the wizard and Settings never time the model at once
        machine = this_machine()
        if not remeasure:
            check = cached_check(machine)
            if check is not None:
                return check
        path = reference_model(prepare)
        if path is None:
            return None
        threads, gpu_layers = _settings_threads()
        check = measure(path, threads=threads, gpu_layers=gpu_layers)
        try:
            save_check(check)
        except OSError as e:  # a read-only data folder: the check still counts now
            log.warning("cannot keep the speed check in %s: %s", cache_path(), e)
        return check


# --------------------------------------------------------------------------- deciding


def expected_speed(size: int, machine: Machine, check: SpeedCheck | None) -> float:
    """Decode tokens a second of a model file of `size` bytes on `machine`."""
    if size <= 0:
        return 0.0
    if check is not None:
        return check.tokens_per_s * check.model_bytes / size
    return min(machine.cores, PRIOR_MAX_CORES) * PRIOR_BYTES_PER_S_PER_CORE / size


def memory_needed(size: int) -> int:
    return int(size * MEMORY_FACTOR + MEMORY_OVERHEAD)


def memory_budget(machine: Machine) -> int:
    """Memory a model may take: half of all of it, and most of what is free."""
    return int(min(machine.total_memory * MEMORY_SHARE_OF_TOTAL,
                   machine.available_memory * MEMORY_SHARE_OF_AVAILABLE))


def fits_language(entry: CatalogEntry, language: str) -> bool:
    lang = (entry.language or "multi").lower()
    want = (language or "").lower().split("-")[0]
    return lang == "multi" or not want or lang.split("-")[0] == want


def decide(
    entries: Iterable[CatalogEntry],
    machine: Machine,
    check: SpeedCheck | None,
    *,
    floor: float = FLOOR_TOKENS_PER_S,
    note: str = "",
) -> Recommendation | None:
    """The recommendation from the catalog's language models, the computer and
    a speed check (None: the core-count guess). Pure: no files, no clock.
    None only when there is no language model at all."""
    llms = [e for e in entries if e.kind == "llm" and e.size > 0]
    builtin = next((e for e in llms if e.id == EMBEDDED_ID),
                   next((e for e in llms if e.builtin), None))
    downloads = sorted((e for e in llms if not e.builtin and e.url), key=lambda e: -e.size)
    budget = memory_budget(machine)
    estimates = tuple(_estimate(e, machine, check, floor, budget) for e in downloads)
    pick = next((x for x in estimates if x.fast_enough and x.fits), None)
    basis = (f"{_basis(machine, check, note)} A reply needs {words_text(floor)} to feel "
             "like a conversation.")
    if pick is not None:
        entry = next(e for e in downloads if e.id == pick.id)
        skipped = [x for x in estimates if x.size > pick.size]
        why = " ".join([basis, *(_why_not(x, budget) for x in skipped),
                        f"{_name(entry)} would write {words_text(pick.tokens_per_s)} and "
                        f"needs about {size_text(pick.memory_needed)} of the "
                        f"{size_text(budget)} of memory Parley may use."])
        if entry.license and entry.license not in _OPEN_LICENSES:
            why += f" Its licence is {entry.license}."
        return Recommendation(
            id=entry.id, name=_name(entry), size=entry.size, tokens_per_s=pick.tokens_per_s,
            sentence=_sentence(_name(entry), entry.size, pick.tokens_per_s, check is not None),
            why=why, builtin=False, measured=check is not None, license=entry.license,
            estimates=estimates,
        )
    if builtin is None:
        return None
    speed = expected_speed(builtin.size, machine, check)
    smallest = estimates[-1] if estimates else None
    if smallest is None:
        reason = "The catalog has no language model to download."
    elif not smallest.fits:
        reason = (f"Even the smallest download, {smallest.name}, needs about "
                  f"{size_text(smallest.memory_needed)} of memory; Parley may use "
                  f"{size_text(budget)} here.")
    else:
        reason = (f"Even the smallest download, {smallest.name}, would write only "
                  f"{words_text(smallest.tokens_per_s)} here.")
    why = f"{basis} {reason} Keep the built-in model: it needs no download."
    return Recommendation(
        id=builtin.id, name=_name(builtin), size=0, tokens_per_s=speed,
        sentence=_sentence(_name(builtin), 0, speed, check is not None),
        why=why, builtin=True, measured=check is not None, license=builtin.license,
        estimates=estimates,
    )


_OPEN_LICENSES = {"Apache-2.0", "MIT", "BSD-2-Clause", "BSD-3-Clause"}


def _estimate(e: CatalogEntry, machine: Machine, check: SpeedCheck | None, floor: float,
              budget: int) -> Estimate:
    speed = expected_speed(e.size, machine, check)
    need = memory_needed(e.size)
    return Estimate(e.id, _name(e), e.size, speed, need, speed >= floor, need <= budget)


def _why_not(x: Estimate, budget: int) -> str:
    if not x.fits:
        return (f"{x.name} needs about {size_text(x.memory_needed)} of memory, more than the "
                f"{size_text(budget)} Parley may use here.")
    return f"{x.name} would write only {words_text(x.tokens_per_s)}."


def _basis(machine: Machine, check: SpeedCheck | None, note: str) -> str:
    hw = (f"{machine.cores} core{'s' if machine.cores != 1 else ''} and "
          f"{size_text(machine.total_memory)} of memory, {size_text(machine.available_memory)} "
          "of it free")
    if check is not None:
        what = "the built-in model" if check.model == _EMBEDDED_FILE else check.model
        text = (f"Measured on this computer ({hw}): {what} wrote "
                f"{words_text(check.tokens_per_s)}, and a model k times its size writes about "
                "k times slower.")
        if check.busy >= BUSY_LEVEL:
            text += (f" Other programs kept the processor {check.busy:.0%} busy during the "
                     "check, so this errs slow; Parley measures again tomorrow.")
        return text
    why = f" ({note})" if note else ""
    return (f"Not measured yet{why}: a first guess from the {hw}. Parley measures it when a "
            "language model is on disk.")


def _name(entry: CatalogEntry) -> str:
    return entry.display_name.replace(" (built in)", "")


def size_text(n: float) -> str:
    """'986 MB', '1.9 GB' (as the wizard's model list writes sizes)."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{max(1.0, n / 1e3):.0f} KB"


def words_text(tokens_per_s: float) -> str:
    words = tokens_per_s * WORDS_PER_TOKEN
    if words < 0.5:
        return "less than one word a second"
    n = round(words)
    return "about one word a second" if n == 1 else f"about {n} words a second"


def _sentence(name: str, size: int, tokens_per_s: float, measured: bool) -> str:
    what = f"{size_text(size)} download" if size else "built in, no download"
    speed = words_text(tokens_per_s)
    if measured:
        return f"{name}: {what}, {speed} on this computer."
    speed = speed.replace("about", "roughly", 1)
    return f"{name}: {what}, {speed} on this computer (a first guess)."


# --------------------------------------------------------------------------- entry point


def recommend(
    kind: str = "llm",
    language: str = "",
    *,
    measure: bool = False,
    remeasure: bool = False,
    prepare: bool = False,
    catalog: Catalog | None = None,
    machine: Machine | None = None,
) -> Recommendation | None:
    """The language model to suggest (None for other kinds: nothing to decide).

    Without `measure` it never blocks for long: a stored check, else the guess
    from the core count (fine on the GUI thread). With `measure` (a worker
    thread, the CLI) it times the model on disk when there is no stored check;
    `remeasure` times it again anyway; `prepare` assembles the embedded model
    first when it is not on disk yet. A failed check falls back to the guess."""
    if kind != "llm":
        return None
    machine = machine or this_machine()
    note = ""
    check = None if remeasure else cached_check(machine)
    if check is None and (measure or remeasure):
        try:
            check = speed_check(remeasure=remeasure, prepare=prepare)
            if check is None:
                note = "no language model on disk to time"
        except Exception as e:  # LlmError, OSError: say so, and guess
            log.warning("speed check failed: %s", e)
            note = f"the check failed: {e}"
    catalog = catalog or load_catalog()
    entries = [e for e in catalog if e.kind == "llm" and fits_language(e, language)]
    return decide(entries, machine, check, note=note)
