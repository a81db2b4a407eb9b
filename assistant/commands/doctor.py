"""`parley doctor`: what is installed and where, what works, and for each
problem the fix. Exit 1 when something essential is broken (Parley could not
hold a conversation or keep its history)."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from assistant import paths


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    """ok | warn | fail (fail = essential and broken)"""
    detail: str
    fix: str = ""


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("doctor", help="check the installation and say how to fix problems")
    p.add_argument("--json", action="store_true", help="one JSON object per check")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = [c for probe in PROBES for c in _safe(probe)]
    for c in checks:
        if args.json:
            print(json.dumps(asdict(c)))
        else:
            mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[c.status]
            print(f"[{mark}] {c.name}: {c.detail}")
            if c.fix:
                print(f"       fix: {c.fix}")
    failed = [c for c in checks if c.status == "fail"]
    if not args.json:
        names = ", ".join(dict.fromkeys(c.name for c in failed))
        print(
            "\nReady: everything essential works."
            if not failed
            else f"\nNot ready: {_count(len(failed), 'problem')} to fix first ({names})."
        )
    return 1 if failed else 0


def _count(n: int, noun: str) -> str:
    """'1 problem', '2 problems': people read this, not a parser."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _safe(probe: Callable[[], list[Check]]) -> list[Check]:
    try:
        return probe()
    except Exception as e:  # a probe bug must not hide the other checks
        return [Check(probe.__name__.removeprefix("_"), "warn", f"check failed: {e}")]


def _python() -> list[Check]:
    ok = sys.version_info >= (3, 11)
    v = ".".join(map(str, sys.version_info[:3]))
    return [
        Check(
            "python",
            "ok" if ok else "fail",
            f"Python {v} at {sys.executable}",
            "" if ok else "Install Python 3.11 or newer.",
        )
    ]


def _config() -> list[Check]:
    from assistant.config import load_settings

    loaded = load_settings()
    where = str(loaded.path) + ("" if loaded.path.exists() else " (not created yet: defaults)")
    out = [Check("config", "ok" if not loaded.problems else "warn", where)]
    out += [Check("config", "warn", str(p), f"Edit {loaded.path}.") for p in loaded.problems]
    return out


def _data_dir() -> list[Check]:
    folder = paths.data_dir()
    try:
        paths.ensure_dir(folder)
    except OSError as e:
        return [Check("data folder", "fail", str(e), "Set PARLEY_HOME to a writable folder.")]
    return [Check("data folder", "ok", str(folder))]


def _history() -> list[Check]:
    from assistant.dialogue import dbfile
    from assistant.dialogue.history import History, HistoryError

    db = paths.history_db()
    # Checked without opening: opening would set the file aside, and the doctor
    # only looks.
    reason = dbfile.damage_reason(db)
    if reason is not None:
        return [Check("history", "warn", f"{db} is damaged ({reason})", _SET_ASIDE_AT_START)]
    try:
        with History(db) as h:
            n = len(h.conversations())
    except (HistoryError, OSError) as e:
        return [
            Check(
                "history",
                "fail",
                str(e),
                f"Move {db} aside (Parley starts a new one) or set PARLEY_HOME.",
            )
        ]
    return [Check("history", "ok", f"{db} ({n} conversations)")]


_SET_ASIDE_AT_START = (
    "Start Parley (or run `parley chat`): it sets the file aside and starts a new one."
)


def _timers() -> list[Check]:
    from assistant.dialogue import dbfile

    db = paths.data_dir() / "timers.sqlite3"
    if not db.exists():
        return [Check("timers", "ok", f"{db} (not created yet)")]
    reason = dbfile.damage_reason(db)
    if reason is not None:
        return [Check("timers", "warn", f"{db} is damaged ({reason})", _SET_ASIDE_AT_START)]
    return [Check("timers", "ok", str(db))]


def _damaged() -> list[Check]:
    """Damaged files Parley set aside (kept for the user to recover or delete),
    and files found damaged mid-session that the next start sets aside."""
    from datetime import datetime

    from assistant.dialogue import dbfile

    out = []
    for p in dbfile.damaged_files(paths.data_dir()):
        if p.name.endswith(dbfile.MARKER_SUFFIX):
            original = p.with_name(p.name.removesuffix(dbfile.MARKER_SUFFIX))
            out.append(
                Check(
                    "damaged file",
                    "warn",
                    f"{original} was found damaged while Parley was running",
                    _SET_ASIDE_AT_START,
                )
            )
            continue
        when = datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        out.append(
            Check(
                "damaged file",
                "warn",
                f"{p} ({p.stat().st_size} bytes, last written {when}): Parley found it "
                "damaged, set it aside and started a new one",
                f"To get its rows back try `sqlite3 '{p}' .recover > recovered.sql`; "
                "delete the file once you no longer need it.",
            )
        )
    return out


def _llm() -> list[Check]:
    from assistant.config import load_settings
    from assistant.llm import embedded
    from assistant.llm.engine import LlmError, check_gguf

    try:
        import llama_cpp
    except ImportError as e:
        return [
            Check(
                "llm runtime",
                "fail",
                f"llama-cpp-python missing: {e}",
                "pip install llama-cpp-python",
            )
        ]
    out = [Check("llm runtime", "ok", f"llama-cpp-python {llama_cpp.__version__}")]
    settings = load_settings().settings
    if settings.llm_model:
        try:
            from assistant.models.resolve import llm_model_path  # a path or a model id

            check_gguf(llm_model_path(settings.llm_model))
            out.append(Check("language model", "ok", settings.llm_model))
        except LlmError as e:  # the user chose this model: broken is not ready
            out.append(
                Check(
                    "language model",
                    "fail",
                    e.message,
                    "Fix llm_model in the config, or remove it to use the built-in model.",
                )
            )
        return out
    target = embedded.embedded_path()
    if not target.exists() and not embedded.package_installed():
        out.append(
            Check(
                "language model",
                "warn",
                "no language model: this install has no built-in model and none is chosen; "
                "Parley answers only simple requests (time, timers, sums, notes)",
                "parley models list, then parley models pull ID and parley models use ID",
            )
        )
    elif not target.exists():
        out.append(
            Check(
                "language model",
                "ok",
                f"built-in Gemma 3 270M, prepared on first use into {target}",
            )
        )
    elif embedded.verify_embedded(target):
        out.append(Check("language model", "ok", f"built-in Gemma 3 270M at {target} (sha256 ok)"))
    else:
        out.append(
            Check(
                "language model",
                "warn",
                f"{target} fails its sha256 check",
                f"Delete {target}; Parley rebuilds it on next use.",
            )
        )
    return out


def _chat_format() -> list[Check]:
    """How Parley will lay out prompts for the model in use, read from the
    GGUF's metadata (no load): a chat template setting that does not fit the
    model (`plain` for an instruct model, a chat format for a base model), a
    template in the file that cannot be used, an instruct model without one."""
    from assistant.config import load_settings
    from assistant.llm import embedded
    from assistant.llm.engine import LlmError
    from assistant.llm.gguf_meta import GgufError, read_metadata
    from assistant.llm.templates import select_format
    from assistant.session import catalog_template

    settings = load_settings().settings
    if not settings.use_llm:
        return []
    try:
        if settings.llm_model:
            from assistant.models.resolve import llm_model_path

            path = llm_model_path(settings.llm_model)
        else:
            path = embedded.embedded_path()
        metadata = read_metadata(path)
    except (LlmError, GgufError, OSError):
        return []  # no model to read: the language model check says why
    choice = select_format(
        metadata,
        settings.chat_template,
        fallback=catalog_template(settings.llm_model),
        filename=path.name,
    )
    if not choice.warnings:
        return [Check("chat format", "ok", f"{path.name}: {choice.reason}")]
    return [Check("chat format", "warn", w.problem, w.fix) for w in choice.warnings]


def _module(name: str, what: str, fix: str) -> Check:
    try:
        mod = importlib.import_module(name)
    except Exception as e:
        return Check(what, "warn", f"{name} unavailable: {e}", fix)
    return Check(what, "ok", f"{name} {getattr(mod, '__version__', '')}".strip())


def _speech() -> list[Check]:
    out = [
        _module("vosk", "speech recognition (Vosk)", "pip install vosk"),
        _module(
            "pocketsphinx", "speech recognition (built-in English)", "pip install pocketsphinx"
        ),
        _module("pyttsx3", "speech output", "pip install pyttsx3"),
    ]
    if sys.platform.startswith("linux") and not shutil.which("espeak-ng"):
        out.append(
            Check(
                "speech output",
                "warn",
                "espeak-ng not found",
                "sudo apt install espeak-ng (Debian/Ubuntu)",
            )
        )
    return out


_ENGINE_NAMES = {
    "vosk": "Vosk",
    "moonshine": "Moonshine tiny English",
    "pocketsphinx": "pocketsphinx (built-in English)",
}


def _hearing() -> list[Check]:
    """Which speech recogniser the settings select, and why; Moonshine is loaded
    to prove its model files (a fraction of a second)."""
    from assistant.config import load_settings
    from assistant.speech import moonshine
    from assistant.speech.stt import SttError, choose_engine

    s = load_settings().settings
    name = "speech recogniser"
    try:
        choice = choose_engine(s.language, s.stt_model, s.stt_engine)
    except SttError as e:
        fix = "Or set stt_engine = auto." if s.stt_engine == "vosk" else ""
        return [Check(name, "warn", str(e), fix or "Until then, type to Parley: parley chat.")]
    what = _ENGINE_NAMES[choice.kind]
    if choice.kind == "vosk":
        return [Check(name, "ok", f"{what} {choice.model_dir}: {choice.reason}")]
    if choice.kind == "pocketsphinx":
        if not choice.fallback:
            return [Check(name, "ok", f"{what}: {choice.reason}")]
        fix = f"pip install moonshine-voice==0.1.0 (wheels: {moonshine.WHEEL_PLATFORMS})"
        if moonshine.package_dir() is not None:  # installed but incomplete
            fix = "pip install --force-reinstall moonshine-voice==0.1.0"
        elif s.stt_engine == "auto":
            fix = ""  # nothing is broken: this platform has no Moonshine
        return [Check(name, "warn" if fix else "ok", f"{what}: {choice.reason}", fix)]
    from importlib import metadata

    try:
        engine = moonshine.MoonshineEngine()
    except SttError as e:
        instead = " Parley hears with pocketsphinx instead." if s.stt_engine == "auto" else ""
        return [Check(name, "warn", f"{what}: {e}{instead}", "Or set stt_engine = pocketsphinx.")]
    version = metadata.version(moonshine.DISTRIBUTION)
    engine.close()
    return [
        Check(
            name,
            "ok",
            f"{what} (moonshine-voice {version}, loaded in {engine.load_seconds:.2f} s): "
            f"{choice.reason}",
        )
    ]


def _audio() -> list[Check]:
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        return [
            Check(
                "audio",
                "warn",
                f"PortAudio unavailable: {e}",
                "sudo apt install libportaudio2 (Debian/Ubuntu)",
            )
        ]
    except ImportError as e:
        return [Check("audio", "warn", str(e), "pip install sounddevice")]
    devices = sd.query_devices()
    inputs = [d for d in devices if d["max_input_channels"] > 0]
    outputs = [d for d in devices if d["max_output_channels"] > 0]
    found = f"{len(inputs)} input and {_count(len(outputs), 'output device')}"
    if not inputs or not outputs:  # no device at all is not "ok": say what is missing
        missing = " and ".join(
            f"no {what}" for what, devs in (("microphone", inputs), ("speaker", outputs))
            if not devs
        )
        out = [Check("audio", "warn", f"{found}: {missing}")]
    else:
        out = [Check("audio", "ok", found)]
    if not inputs:  # Parley is a voice assistant: without a microphone it is not ready
        out.append(
            Check(
                "microphone",
                "fail",
                "no input device found",
                "Plug in a microphone; until then Parley works by typing (parley chat).",
            )
        )
    out += _chosen_devices(bool(inputs), bool(outputs))
    if outputs:
        out.append(_output_latency())
    return out


def _chosen_devices(inputs: bool, outputs: bool) -> list[Check]:
    """A microphone or speaker named in the settings that is not here: the
    user's configuration is broken, so Parley is not ready."""
    from assistant.audio.devices import find_input, find_output
    from assistant.config import load_settings

    settings = load_settings().settings
    out = []
    for what, spec, found, present in (
        ("microphone", settings.input_device, find_input, inputs),
        ("speaker", settings.output_device, find_output, outputs),
    ):
        if spec and present and found(spec) is None:
            setting = "input_device" if what == "microphone" else "output_device"
            out.append(
                Check(
                    what, "fail", f"{setting} = {spec!r} matches no {what} here",
                    f"Choose one from `parley devices`, or clear {setting} for the default.",
                )
            )
    return out


def _output_latency() -> Check:
    """Open the speaker Parley would use and report PortAudio's real output
    latency: it is part of every reply's first sound."""
    from assistant.audio.playback import NoOutputDevice, Player
    from assistant.config import load_settings

    player = Player(device=load_settings().settings.output_device)
    try:
        player.start()
    except (NoOutputDevice, OSError) as e:
        return Check("speaker", "warn", f"the speaker would not open: {e}")
    try:
        ms = player.stream_latency * 1000
        block = player.block_ms
        return Check(
            "speaker",
            "ok",
            f"{player.device_name}: output latency {ms:.0f} ms (PortAudio) + {block} ms blocks",
        )
    finally:
        player.close()


def _models() -> list[Check]:
    """Installed models, the ones in use, and downloads waiting to resume."""
    from assistant.models import list_models, load_catalog

    catalog = load_catalog()
    out = [Check("model catalog", "warn", p, "Fix or remove that catalog entry.")
           for p in catalog.problems]
    infos = list_models(catalog=catalog)
    installed = [i for i in infos if i.installed and not i.builtin]
    names = ", ".join(f"{i.id}{' (in use)' if i.in_use else ''}" for i in installed)
    detail = f": {names}" if names else " (`parley models list` shows what you can pull)"
    out.append(Check("models", "ok", f"{len(installed)} installed in {paths.models_dir()}{detail}"))
    for i in infos:
        if i.partial:
            out.append(Check("models", "warn", f"{i.id}: an interrupted download "
                             f"({i.partial} bytes) waits", f"parley models pull {i.id}"))
    return out


def _qt() -> list[Check]:
    return [_module("PySide6", "desktop app (Qt)", "pip install PySide6-Essentials")]


PROBES: list[Callable[[], list[Check]]] = [
    _python,
    _config,
    _data_dir,
    _history,
    _timers,
    _damaged,
    _llm,
    _chat_format,
    _models,
    _speech,
    _hearing,
    _audio,
    _qt,
]
