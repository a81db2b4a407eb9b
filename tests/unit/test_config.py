"""Settings: defaults, validation, tolerant loading, and safe comment-keeping writes."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import pytest

from assistant import config, paths
from assistant.config import (
    ConfigError,
    ConfigProblem,
    Settings,
    load_settings,
    save_settings,
    update_settings,
    validate_value,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cfg(parley_home: Path) -> Path:
    return parley_home / "config.toml"


# --- defaults and the spec table ----------------------------------------------------


def test_missing_file_gives_defaults_and_no_problems(cfg: Path) -> None:
    loaded = load_settings()
    assert loaded.settings == Settings()
    assert loaded.problems == []
    assert loaded.path == cfg == paths.config_file()
    assert not cfg.exists()


def test_defaults_are_the_documented_ones() -> None:
    s = Settings()
    assert (s.n_ctx, s.n_threads, s.n_gpu_layers, s.max_tokens) == (2048, 0, 0, 160)
    # temperature -1: automatic, the model family's (measured: llm/engine.py FAMILY_SAMPLING)
    assert (s.temperature, s.min_confidence, s.confirm_timeout_s) == (-1.0, 0.3, 20.0)
    assert (s.wake_phrase, s.hotkey, s.hotkey_mode, s.theme) == (
        "hey parley", "<ctrl>+<alt>+<space>", "hold", "system")
    assert (s.use_llm, s.wake_word_enabled, s.headphones, s.close_to_tray) == (
        True, True, False, False)
    assert s.system_prompt.startswith("You are Parley, a helpful voice assistant")


def test_every_default_passes_its_own_validation() -> None:
    assert set(config.SPECS) == {f.name for f in dataclasses.fields(Settings)}
    for spec in config.SPECS.values():
        assert validate_value(spec.name, spec.default) is None, spec.name
        assert spec.help, spec.name
        assert spec.type in (str, int, float, bool), spec.name


# --- loading valid files ------------------------------------------------------------


def test_values_in_the_file_apply(cfg: Path) -> None:
    write(cfg, '''# mine
n_ctx = 4096
temperature = 1          # an int is fine for a float
use_llm = false
theme = "dark"
input_device = 3         # a device number
system_prompt = """Be brief.
Very brief."""
''')
    loaded = load_settings()
    assert loaded.problems == []
    s = loaded.settings
    assert s.n_ctx == 4096
    assert s.temperature == 1.0 and isinstance(s.temperature, float)
    assert s.use_llm is False
    assert s.theme == "dark"
    assert s.input_device == "3"
    assert s.system_prompt == "Be brief.\nVery brief."
    assert s.hotkey == Settings().hotkey  # untouched keys keep their defaults


def test_a_utf8_bom_is_accepted(cfg: Path) -> None:
    cfg.write_bytes(b'\xef\xbb\xbfn_ctx = 4096\n')
    loaded = load_settings()
    assert loaded.problems == []
    assert loaded.settings.n_ctx == 4096


def test_explicit_path_is_used(tmp_path: Path) -> None:
    other = write(tmp_path / "elsewhere.toml", "max_tokens = 99\n")
    loaded = load_settings(other)
    assert loaded.settings.max_tokens == 99
    assert loaded.path == other


# --- bad values ---------------------------------------------------------------------

BAD_VALUES = [
    # (key, TOML value, the reason the problem must give)
    ("n_ctx", '"abc"', "must be an integer between 256 and 131072"),
    ("n_ctx", "100", "must be an integer between 256 and 131072"),
    ("n_ctx", "2048.0", "must be an integer between 256 and 131072"),
    ("n_gpu_layers", "-2", "must be an integer between -1 and 1000"),
    ("temperature", "2.5", "must be a number between -1 and 2"),
    ("temperature", "true", "must be a number between -1 and 2"),
    ("temperature", "nan", "must be a number between -1 and 2"),
    ("min_confidence", "-0.1", "must be a number between 0 and 1"),
    ("use_llm", "1", "must be true or false"),
    ("use_llm", '"yes"', "must be true or false"),
    ("theme", '"blue"', 'must be one of "system", "light", "dark"'),
    ("hotkey_mode", "3", "must be text in quotes"),
    ("chat_template", '"vicuna"', 'must be one of "gemma", "chatml", "llama3", "plain" or ""'),
    ("wake_phrase", '"   "', "must not be empty"),
    ("input_device", "-1", "must be text in quotes or a device number"),
    ("tts_rate", "[180]", "must be an integer between 50 and 400"),
]


@pytest.mark.parametrize(("key", "toml_value", "reason"), BAD_VALUES)
def test_a_bad_value_falls_back_to_its_default_and_names_key_and_line(
    cfg: Path, key: str, toml_value: str, reason: str
) -> None:
    write(cfg, f'# settings\nmax_tokens = 99\n\n{key} = {toml_value}\ntts_volume = 0.25\n')
    loaded = load_settings()
    assert getattr(loaded.settings, key) == config.SPECS[key].default
    assert loaded.settings.max_tokens == 99  # the rest still applies
    assert loaded.settings.tts_volume == 0.25
    [problem] = loaded.problems
    assert (problem.key, problem.line) == (key, 4)
    assert problem.message.startswith(reason)
    assert "(got " in problem.message and "; using " in problem.message


def test_problem_text_reads_like_the_file(cfg: Path) -> None:
    write(cfg, 'theme = "dark"\n\nn_ctx = "abc"\n')
    [problem] = load_settings().problems
    assert str(problem) == (
        "config.toml line 3: n_ctx: must be an integer between 256 and 131072 "
        "(got 'abc'); using 2048"
    )


def test_unknown_keys_are_reported_and_ignored(cfg: Path) -> None:
    write(cfg, 'n_ctx = 4096\nvolume = 3\n[llm]\nmodel = "x.gguf"\n')
    loaded = load_settings()
    assert loaded.settings.n_ctx == 4096
    assert [(p.key, p.line, p.message) for p in loaded.problems] == [
        ("volume", 2, "unknown setting, ignored"),
        ("llm", 3, "unknown setting, ignored"),
    ]


# --- syntax errors ------------------------------------------------------------------

SYNTAX_ERRORS = [
    # (name, the broken line (line 3 of the file), key named in the problem)
    ("double equals", "temperature = = 0.3", "temperature"),
    ("bare word value", "theme = dark", "theme"),
    ("unterminated string", 'wake_phrase = "hey you', "wake_phrase"),
    ("no equals sign", "headphones", ""),
    ("duplicate key", "n_ctx = 512", "n_ctx"),
    ("unclosed array", "hotkey = [1, 2", "hotkey"),
    ("unclosed multi-line string", 'system_prompt = """Be brief.', "system_prompt"),
]


@pytest.mark.parametrize(
    ("broken", "key"), [c[1:] for c in SYNTAX_ERRORS], ids=[c[0] for c in SYNTAX_ERRORS]
)
def test_a_syntax_error_drops_only_its_line(cfg: Path, broken: str, key: str) -> None:
    write(cfg, f'# my settings\nn_ctx = 4096\n{broken}\nmax_tokens = 99\ntheme = "light"\n')
    loaded = load_settings()
    assert loaded.settings.n_ctx == 4096
    assert loaded.settings.max_tokens == 99
    assert loaded.settings.theme == "light"
    [problem] = loaded.problems
    assert (problem.key, problem.line) == (key, 3)
    assert problem.message.startswith("TOML syntax error (")
    assert problem.message.endswith("); this line is ignored")
    assert str(problem).startswith("config.toml line 3: ")


def test_several_syntax_errors_and_a_bad_value_are_all_reported_in_line_order(
    cfg: Path,
) -> None:
    write(cfg, 'n_ctx = "abc"\ntheme = dark\nmax_tokens = 99\n= 3\ntts_rate = 200\n')
    loaded = load_settings()
    assert [(p.key, p.line) for p in loaded.problems] == [("n_ctx", 1), ("theme", 2), ("", 4)]
    assert (loaded.settings.max_tokens, loaded.settings.tts_rate) == (99, 200)


def test_a_garbage_file_gives_defaults_quickly(cfg: Path) -> None:
    write(cfg, "".join(f"this is not toml {i}\n" for i in range(300)))
    started = time.monotonic()
    loaded = load_settings()
    assert time.monotonic() - started < 2.0
    assert loaded.settings == Settings()
    assert loaded.problems[-1].message == "too many TOML syntax errors; using the defaults"


def test_a_file_that_is_not_utf8_gives_defaults_and_says_so(cfg: Path) -> None:
    cfg.write_bytes(b"n_ctx = 4096\ntheme = \"\xff\"\n")
    loaded = load_settings()
    assert loaded.settings == Settings()
    [problem] = loaded.problems
    assert "not UTF-8" in problem.message


# --- validate_value and the Settings constructor -----------------------------------


def test_validate_value_accepts_and_refuses_in_place() -> None:
    assert validate_value("n_ctx", 8192) is None
    assert validate_value("temperature", 0) is None
    assert validate_value("output_device", "pulse") is None
    assert validate_value("output_device", 2) is None
    assert validate_value("chat_template", "") is None
    assert validate_value("n_ctx", 131073) == "must be an integer between 256 and 131072"
    assert validate_value("close_to_tray", "no") == "must be true or false"
    assert validate_value("volume", 1) == "unknown setting"


def test_settings_are_always_valid() -> None:
    with pytest.raises(ConfigError, match=r"n_ctx: must be an integer between 256 and 131072"):
        Settings(n_ctx=5)
    with pytest.raises(ConfigError, match="theme"):
        dataclasses.replace(Settings(), theme="pink")
    s = Settings(tts_volume=1, output_device=2)  # type: ignore[arg-type]
    assert s.tts_volume == 1.0 and isinstance(s.tts_volume, float)
    assert s.output_device == "2"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.n_ctx = 4096  # type: ignore[misc]


# --- writing ------------------------------------------------------------------------

USER_FILE = """\
# Parley, tuned by hand
n_ctx = 4096   # long chats

# the voice
tts_rate = 150
mystery = "kept"
temperature = 7e-1
"""


def test_update_creates_the_file_when_missing(cfg: Path) -> None:
    assert update_settings({"theme": "dark", "n_ctx": 8192}) is None
    loaded = load_settings()
    assert loaded.problems == []
    assert (loaded.settings.theme, loaded.settings.n_ctx) == ("dark", 8192)
    assert not cfg.with_name("config.toml.bak").exists()
    assert "context window in tokens" in cfg.read_text()  # new keys explain themselves


def test_update_keeps_comments_and_layout_and_backs_up(cfg: Path) -> None:
    write(cfg, USER_FILE)
    backup = update_settings({"n_ctx": 8192, "theme": "light"})
    assert backup == cfg.with_name("config.toml.bak")
    assert backup.read_text() == USER_FILE
    new = cfg.read_text()
    old_lines = USER_FILE.splitlines()
    new_lines = new.splitlines()
    # Every line but the changed one is byte for byte the same, then the new key follows.
    assert new_lines[: len(old_lines)] == [
        "n_ctx = 8192   # long chats" if line.startswith("n_ctx") else line
        for line in old_lines
    ]
    assert new_lines[len(old_lines)].startswith('theme = "light"')
    loaded = load_settings()
    assert (loaded.settings.n_ctx, loaded.settings.theme) == (8192, "light")
    assert [p.key for p in loaded.problems] == ["mystery"]  # an unknown key stays in the file


def test_each_update_backs_up_the_previous_version(cfg: Path) -> None:
    write(cfg, "n_ctx = 1024\n")
    update_settings({"n_ctx": 2048})
    update_settings({"n_ctx": 4096})
    assert cfg.with_name("config.toml.bak").read_text() == "n_ctx = 2048\n"
    assert load_settings().settings.n_ctx == 4096


def test_update_leaves_no_temporary_files(cfg: Path, parley_home: Path) -> None:
    write(cfg, "n_ctx = 1024\n")
    update_settings({"n_ctx": 4096})
    assert sorted(p.name for p in parley_home.iterdir()) == ["config.toml", "config.toml.bak"]


def test_an_update_that_changes_nothing_writes_nothing(cfg: Path) -> None:
    write(cfg, USER_FILE)
    assert update_settings({"temperature": 0.7, "tts_rate": 150}) is None
    assert cfg.read_text() == USER_FILE  # 7e-1 keeps the user's spelling
    assert not cfg.with_name("config.toml.bak").exists()


def test_update_refusing_a_bad_value_writes_nothing(cfg: Path) -> None:
    write(cfg, USER_FILE)
    with pytest.raises(ConfigError) as caught:
        update_settings({"theme": "dark", "n_ctx": "big"})
    assert str(caught.value) == (
        "n_ctx: must be an integer between 256 and 131072 (got 'big')")
    with pytest.raises(ConfigError, match="volume: unknown setting"):
        update_settings({"volume": 3})
    assert cfg.read_text() == USER_FILE
    assert not cfg.with_name("config.toml.bak").exists()


def test_update_refuses_a_malformed_file(cfg: Path) -> None:
    broken = 'n_ctx = 4096\ntheme = "dark"\ntemperature = = 0.3\n'
    write(cfg, broken)
    with pytest.raises(ConfigError) as caught:
        update_settings({"n_ctx": 8192})
    message = str(caught.value)
    assert f"{cfg} line 3 has a TOML syntax error" in message
    assert "Fix or delete that line" in message
    assert cfg.read_text() == broken
    assert not cfg.with_name("config.toml.bak").exists()
    with pytest.raises(ConfigError, match="line 3"):
        save_settings(Settings())
    assert cfg.read_text() == broken


def test_update_points_at_where_an_unclosed_string_opens(cfg: Path) -> None:
    write(cfg, 'n_ctx = 4096\nsystem_prompt = """Be brief.\ntheme = "dark"\n')
    with pytest.raises(ConfigError, match="line 2 has a TOML syntax error"):
        update_settings({"theme": "light"})


def test_a_new_key_lands_at_top_level_even_after_a_table(cfg: Path) -> None:
    write(cfg, 'n_ctx = 4096\n\n[notes]\nshopping = "milk"\n')
    update_settings({"theme": "dark"})
    loaded = load_settings()
    assert loaded.settings.theme == "dark"
    assert [p.key for p in loaded.problems] == ["notes"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX permission bits")
def test_update_keeps_the_file_mode(cfg: Path) -> None:
    write(cfg, "n_ctx = 1024\n")
    cfg.chmod(0o640)
    update_settings({"n_ctx": 4096})
    assert cfg.stat().st_mode & 0o777 == 0o640
    assert cfg.with_name("config.toml.bak").stat().st_mode & 0o777 == 0o640


def test_update_into_an_unwritable_place_raises_path_error(parley_home: Path) -> None:
    blocker = write(parley_home / "file", "x")
    with pytest.raises(paths.PathError, match="Set PARLEY_HOME to a writable folder"):
        update_settings({"n_ctx": 4096}, blocker / "config.toml")


def test_save_writes_only_what_differs_and_round_trips(cfg: Path) -> None:
    wanted = dataclasses.replace(Settings(), n_ctx=8192, headphones=True, tts_volume=0.5)
    assert save_settings(wanted) is None
    assert load_settings().settings == wanted
    keys = {line.split("=")[0].strip() for line in cfg.read_text().splitlines()
            if "=" in line and not line.startswith("#")}
    assert keys == {"n_ctx", "headphones", "tts_volume"}


def test_save_puts_a_setting_back_to_its_default_in_the_file(cfg: Path) -> None:
    write(cfg, "# mine\nn_ctx = 4096\ntheme = \"dark\"\n")
    save_settings(dataclasses.replace(Settings(), theme="dark"))  # n_ctx back to 2048
    assert load_settings().settings == dataclasses.replace(Settings(), theme="dark")
    assert cfg.read_text().startswith("# mine\nn_ctx = 2048\n")


def test_problem_str_without_line_or_key() -> None:
    assert str(ConfigProblem("", None, "cannot read the file")) == (
        "config.toml: cannot read the file")
    assert str(ConfigProblem("n_ctx", None, "odd")) == "config.toml: n_ctx: odd"


def test_an_unreadable_config_path_gives_defaults_and_refuses_updates(cfg: Path) -> None:
    cfg.mkdir()  # unreadable as a file for any user, root included
    (cfg / "keep").write_text("x")
    loaded = load_settings()
    assert loaded.settings == Settings()
    [problem] = loaded.problems
    assert problem.message.startswith("cannot read the file (")
    assert problem.message.endswith("); using the defaults")
    with pytest.raises(ConfigError, match="cannot read"):
        update_settings({"n_ctx": 8192})
    assert (cfg / "keep").read_text() == "x"
