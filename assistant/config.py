"""Settings: one flat TOML file (top-level keys named like the `Settings` fields).

A mistake in the file never costs the user the rest of their settings: a TOML
syntax error drops only the offending line, a bad value falls back to its default,
and each is reported as a `ConfigProblem` naming the key and the line. Writing goes
through tomlkit so the user's comments and layout survive; the old file is copied
to `config.toml.bak` first and the new one replaces it atomically. A file we could
not parse is never overwritten.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.toml_document import TOMLDocument

from assistant import paths


class ConfigError(ValueError):
    """A setting was refused, or the file cannot safely be rewritten; the message says why."""


def _setting(
    default: object,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    nonempty: bool = False,
    index_ok: bool = False,
) -> Any:
    """A dataclass field carrying its own help text and validation rules."""
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices,
            "nonempty": nonempty, "index_ok": index_ok}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Every user setting, always valid (the constructor checks each value).

    Frozen because the ear, brain, mouth and UI threads all read it: a frozen
    instance is shared without locks, and a change is a new instance
    (`dataclasses.replace`) swapped in whole, so no thread sees half an update.
    """

    # Language model.
    llm_model: str = _setting(
        "", "language model: a GGUF file or a model id (parley models list); "
        "empty = the embedded default")
    chat_template: str = _setting(
        "", "prompt format; empty = from the GGUF metadata",
        choices=("", "gemma", "chatml", "llama3", "plain"))
    n_ctx: int = _setting(2048, "context window in tokens", minimum=256, maximum=131072)
    n_threads: int = _setting(0, "CPU threads for the LLM; 0 = physical cores",
                              minimum=0, maximum=256)
    n_gpu_layers: int = _setting(0, "layers offloaded to the GPU; -1 = all (Metal)",
                                 minimum=-1, maximum=1000)
    max_tokens: int = _setting(160, "longest reply, in tokens", minimum=1, maximum=4096)
    temperature: float = _setting(
        -1.0, "sampling temperature; 0 = always the likeliest word; below 0 = automatic: "
        "what measured best for the model's kind (0 for base models, 0.7 for instruct)",
        minimum=-1, maximum=2)
    system_prompt: str = _setting(
        "You are Parley, a helpful voice assistant running offline on the user's computer. "
        "Answer in one or two short spoken sentences.",
        "instructions the LLM gets before every conversation")
    use_llm: bool = _setting(True, "false = rule answers only, no language model")

    # Dialogue.
    # 0.3, not 0.5: pocketsphinx's word posteriors run low even for right words
    # ("two plus two" heard right scored 0.36), and wrong hearings scored ~0.2.
    min_confidence: float = _setting(
        0.3, "speech-recognition confidence below which Parley asks instead of guessing",
        minimum=0, maximum=1)
    confirm_timeout_s: float = _setting(
        20.0, "seconds to wait for a yes before a consequential action is dropped",
        minimum=1, maximum=600)
    typed_confirm_timeout_s: float = _setting(
        120.0, "the same when the request was typed: typing an answer takes longer",
        minimum=1, maximum=3600)
    language: str = _setting("en", "language of speech recognition and replies", nonempty=True)

    # Hearing.
    stt_model: str = _setting(
        "", "speech model: a Vosk model folder or a model id (parley models list); "
        "empty = the best installed, else the built-in English one (see stt_engine)")
    stt_engine: str = _setting(
        "auto", "speech recogniser: auto = a Vosk model for the language when installed, "
        "else Moonshine for English (pocketsphinx where Moonshine is not available)",
        choices=("auto", "moonshine", "pocketsphinx", "vosk"))
    input_device: str = _setting("", "microphone name or number; empty = the system default",
                                 index_ok=True)
    output_device: str = _setting("", "speaker name or number; empty = the system default",
                                  index_ok=True)
    wake_word_enabled: bool = _setting(True, "listen for the wake phrase")
    wake_phrase: str = _setting("hey parley", "words that start listening", nonempty=True)
    follow_up_s: float = _setting(
        6.0, "seconds Parley keeps listening after a reply without the wake phrase",
        minimum=0, maximum=60)
    turn_wait_s: float = _setting(
        1.2, "seconds Parley waits through a pause when your request is not finished yet "
        "(\"set a timer for ...\")", minimum=0.3, maximum=5)
    headphones: bool = _setting(
        False, "true = Parley cannot hear itself, so it need not gate its own voice")

    # Voice.
    tts_voice: str = _setting("", "voice name or id; empty = the system default")
    tts_rate: int = _setting(180, "speaking rate in words per minute", minimum=50, maximum=400)
    tts_volume: float = _setting(1.0, "speaking volume, 0 to 1", minimum=0, maximum=1)

    # Desktop.
    hotkey: str = _setting("<ctrl>+<alt>+<space>", "push-to-talk shortcut (pynput syntax)")
    hotkey_mode: str = _setting("hold", "hold = talk while held; toggle = press to start and stop",
                                choices=("hold", "toggle"))
    theme: str = _setting("system", "window colours", choices=("system", "light", "dark"))
    close_to_tray: bool = _setting(False, "closing the window keeps Parley in the tray")
    developer: bool = _setting(False, "show developer tools: reply timings and hard cases")

    def __post_init__(self) -> None:
        for spec in SPECS.values():
            value = getattr(self, spec.name)
            reason = check_value(spec, value)
            if reason:
                raise ConfigError(f"{spec.name}: {reason} (got {_show(value)})")
            # Frozen: normalise (1 -> 1.0 for floats, 3 -> "3" for devices) the only way we can.
            object.__setattr__(self, spec.name, _normalize(spec, value))


@dataclass(frozen=True)
class SettingSpec:
    """What a setting accepts; the settings dialog builds its widgets from these."""

    name: str
    type: type  # str, int, float or bool
    default: Any
    help: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...]  # non-empty: only these strings ("" may be one of them)
    nonempty: bool  # a str that must not be blank
    index_ok: bool  # a str that also accepts a non-negative integer (a device number)


_HINTS = get_type_hints(Settings)
SPECS: dict[str, SettingSpec] = {
    f.name: SettingSpec(name=f.name, type=_HINTS[f.name], default=f.default, **f.metadata)
    for f in fields(Settings)
}


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in the config file, and what Parley did about it."""

    key: str  # the setting concerned; "" when the problem is not about one key
    line: int | None  # 1-based line in the file, when known
    message: str
    file: str = "config.toml"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


@dataclass
class LoadedSettings:
    """The settings in effect, what was wrong in the file, and which file it was."""

    settings: Settings
    problems: list[ConfigProblem]
    path: Path


def validate_value(key: str, value: object) -> str | None:
    """None if `value` is acceptable for setting `key`, else the reason, fit to show."""
    spec = SPECS.get(key)
    return "unknown setting" if spec is None else check_value(spec, value)


def check_value(spec: SettingSpec, value: object) -> str | None:
    """validate_value for a known spec. A bool is never a number, as in TOML."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if spec.type is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if spec.type is int:
        if is_int and _in_range(spec, value):  # type: ignore[arg-type]
            return None
        return f"must be an integer{_range_text(spec)}"
    if spec.type is float:
        number = is_int or isinstance(value, float)
        if number and math.isfinite(value) and _in_range(spec, value):  # type: ignore[arg-type]
            return None
        return f"must be a number{_range_text(spec)}"
    if spec.index_ok and is_int and value >= 0:  # type: ignore[operator]
        return None
    if not isinstance(value, str):
        return "must be text in quotes" + (" or a device number" if spec.index_ok else "")
    if spec.choices and value not in spec.choices:
        named = ", ".join(f'"{c}"' for c in spec.choices if c)
        return f"must be one of {named}" + (' or "" (automatic)' if "" in spec.choices else "")
    if spec.nonempty and not value.strip():
        return "must not be empty"
    return None


def load_settings(path: Path | None = None) -> LoadedSettings:
    """Read the settings file; never raises for anything wrong inside it.

    A missing file gives the defaults and no problems. Every problem found is in
    `problems`, in line order, and every other key in the file still applies.
    """
    path = Path(path) if path is not None else paths.config_file()
    name = path.name
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return LoadedSettings(Settings(), [], path)
    except OSError as exc:
        problem = f"cannot read the file ({exc.strerror or exc}); using the defaults"
        return LoadedSettings(Settings(), [ConfigProblem("", None, problem, name)], path)
    try:
        text = raw.decode("utf-8-sig")  # Windows Notepad may add a BOM
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text (bad byte at offset {exc.start}); using the defaults"
        return LoadedSettings(Settings(), [ConfigProblem("", None, problem, name)], path)

    data, text, problems = _parse_tolerant(text, name)
    values: dict[str, object] = {}
    for key, value in data.items():
        line = _key_line(text, key)
        spec = SPECS.get(key)
        if spec is None:
            problems.append(ConfigProblem(key, line, "unknown setting, ignored", name))
            continue
        reason = check_value(spec, value)
        if reason:
            message = f"{reason} (got {_show(value)}); using {_show(spec.default)}"
            problems.append(ConfigProblem(key, line, message, name))
            continue
        values[key] = value
    problems.sort(key=lambda p: (p.line is None, p.line or 0))  # file-wide ones last
    return LoadedSettings(Settings(**values), problems, path)  # type: ignore[arg-type]


def update_settings(changes: Mapping[str, object], path: Path | None = None) -> Path | None:
    """Write `changes` into the settings file, keeping the user's comments and layout.

    Every change is validated first: one bad value raises ConfigError and nothing is
    written. A file with a TOML syntax error (or unreadable) is refused with
    ConfigError, never overwritten. Returns the backup of the previous file
    (`config.toml.bak`), or None when there was no file or nothing changed.
    Raises paths.PathError when the folder cannot be written.
    """
    path = Path(path) if path is not None else paths.config_file()
    values = {key: _checked(key, value) for key, value in changes.items()}
    doc, raw = _read_document(path)
    return _apply(path, doc, raw, values)


def save_settings(settings: Settings, path: Path | None = None) -> Path | None:
    """Write `settings` to the file; same guarantees and return value as update_settings.

    Writes the settings that differ from their defaults, plus those already in the
    file (so a setting put back to its default is changed there too). Settings left
    at their default stay out of the file, so a better default in a later release
    reaches the user.
    """
    path = Path(path) if path is not None else paths.config_file()
    doc, raw = _read_document(path)
    values = {
        spec.name: getattr(settings, spec.name)
        for spec in SPECS.values()
        if getattr(settings, spec.name) != spec.default or spec.name in doc
    }
    return _apply(path, doc, raw, values)


# --- reading ----------------------------------------------------------------------

_MAX_SYNTAX_ERRORS = 20  # past this the file is not a config file gone slightly wrong
_AT = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)\s*$")
_KEY = r"(?:{k}|\"{k}\"|'{k}')"


def _parse_tolerant(text: str, name: str) -> tuple[dict[str, Any], str, list[ConfigProblem]]:
    """Parse TOML, blanking each line with a syntax error until the rest parses.

    Returns the data, the text as finally parsed, and one problem per dropped line.
    Each round blanks a non-blank line, so the loop ends.
    """
    lines = text.split("\n")
    problems: list[ConfigProblem] = []
    while True:
        try:
            return tomllib.loads("\n".join(lines)), "\n".join(lines), problems
        except tomllib.TOMLDecodeError as exc:
            if len(problems) >= _MAX_SYNTAX_ERRORS:
                message = "too many TOML syntax errors; using the defaults"
                problems.append(ConfigProblem("", None, message, name))
                return {}, "\n".join(lines), problems
            bad = _culprit(lines, exc)
            message = f"TOML syntax error ({_reason(exc)}); this line is ignored"
            problems.append(ConfigProblem(_line_key(lines[bad]), bad + 1, message, name))
            lines[bad] = ""


def _culprit(lines: list[str], exc: tomllib.TOMLDecodeError) -> int:
    """0-based index of the line to blame for `exc`.

    tomllib names the line where parsing failed. If everything before it parses,
    that line is at fault. Otherwise a string or array opened earlier never closed
    (so the error surfaced later, or at the end of the file): blame the line that
    opened it, the one just past the longest prefix that parses.
    """
    match = _AT.search(str(exc))
    failed = int(match.group(1)) - 1 if match and match.group(1) else len(lines)
    failed = min(failed, len(lines))
    end = failed
    while end > 0 and not _parses(lines[:end]):
        end -= 1
    return min(end, len(lines) - 1)


def _parses(lines: list[str]) -> bool:
    try:
        tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError:
        return False
    return True


def _reason(exc: tomllib.TOMLDecodeError) -> str:
    reason = _AT.sub("", str(exc))
    return reason[:1].lower() + reason[1:]


def _line_key(line: str) -> str:
    match = re.match(r"\s*[\"']?([A-Za-z0-9_-]+)[\"']?\s*[=.]", line)
    return match.group(1) if match else ""


def _key_line(text: str, key: str) -> int | None:
    """1-based line where top-level `key` is set (or opened as a table), if found."""
    k = re.escape(key)
    value = re.compile(r"[ \t]*" + _KEY.format(k=k) + r"[ \t]*[=.]")
    table = re.compile(r"[ \t]*\[\[?[ \t]*" + _KEY.format(k=k) + r"[ \t]*[\].]")
    for number, line in enumerate(text.split("\n"), start=1):
        if value.match(line) or table.match(line):
            return number
    return None


def _show(value: object) -> str:
    """A value as the user would write it in TOML, shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _in_range(spec: SettingSpec, value: float) -> bool:
    low = spec.minimum if spec.minimum is not None else -math.inf
    high = spec.maximum if spec.maximum is not None else math.inf
    return low <= value <= high


def _range_text(spec: SettingSpec) -> str:
    if spec.minimum is None or spec.maximum is None:
        return ""
    return f" between {_number(spec.minimum)} and {_number(spec.maximum)}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _normalize(spec: SettingSpec, value: object) -> object:
    if spec.type is float:
        return float(value)  # type: ignore[arg-type]
    if spec.type is str and not isinstance(value, str):
        return str(value)  # a device number
    return value


# --- writing ------------------------------------------------------------------------


def _checked(key: str, value: object) -> object:
    reason = validate_value(key, value)
    if reason:
        raise ConfigError(f"{key}: {reason} (got {_show(value)})")
    return _normalize(SPECS[key], value)


def _read_document(path: Path) -> tuple[TOMLDocument, bytes | None]:
    """The file as a tomlkit document (a fresh one if missing) and its raw bytes."""
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):  # the latter: ensure_dir will explain
        doc = tomlkit.document()
        doc.add(tomlkit.comment("Parley settings. A setting left out uses its default."))
        doc.add(tomlkit.nl())
        return doc, None
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(f"cannot read {path} ({reason}); nothing was changed") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text; fix or delete it. Nothing changed.") from exc
    try:
        tomllib.loads(text)  # the same parser load_settings uses decides what is broken
        return tomlkit.parse(text), raw
    except tomllib.TOMLDecodeError as exc:
        line = _culprit(text.split("\n"), exc) + 1
        raise ConfigError(
            f"{path} line {line} has a TOML syntax error ({_reason(exc)}). Fix or delete "
            "that line, then try again; the file was not changed."
        ) from exc
    except TOMLKitError as exc:  # tomllib accepted it; should not happen, but never guess
        raise ConfigError(f"{path} cannot be edited safely ({exc}); it was not changed.") from exc


def _apply(
    path: Path, doc: TOMLDocument, raw: bytes | None, values: Mapping[str, object]
) -> Path | None:
    """Set `values` in `doc`, then back up the old file and write the new one."""
    for key, value in values.items():
        if key in doc:
            old = doc[key]
            old = old.unwrap() if hasattr(old, "unwrap") else old
            if type(old) is type(value) and old == value:
                continue  # keep the user's spelling of an unchanged value (0x800, 7e-1...)
            doc[key] = value
        else:
            item = tomlkit.item(value)
            item.comment(SPECS[key].help)  # a user opening the file sees what it means
            item.trivia.comment_ws = "  "
            doc.add(key, item)
    text = tomlkit.dumps(doc)
    if raw is not None and text == raw.decode("utf-8-sig"):
        return None
    paths.ensure_dir(path.parent)
    backup = None
    if raw is not None:
        backup = path.with_name(path.name + ".bak")
        _atomic_write(backup, raw, mode_from=path)
    _atomic_write(path, text.encode("utf-8"), mode_from=path)
    return backup


def _atomic_write(target: Path, data: bytes, mode_from: Path) -> None:
    """Replace `target` with `data` so a crash leaves the old file or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode_from.exists():
            shutil.copymode(mode_from, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
