"""The model catalog (shipped file, user catalogs, PARLEY_CATALOG), archive entry
checks and the pull progress line: pure logic, no network, no engines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from assistant.commands.models import format_eta, human_size, render
from assistant.inventory import catalog as cat
from assistant.inventory.catalog import BUILTIN_IDS
from assistant.models.archive import check_archive, member_parts
from assistant.models.download import Progress
from assistant.models.errors import UnsafeArchive

REPO = Path(__file__).resolve().parents[2]

GOOD = """
[[model]]
id = "good-one"
kind = "stt"
language = "de"
url = "https://example.org/good-one.zip"
sha256 = "{sha}"
size = 10
archive = "zip"
license = "MIT"
description = "fine"
"""


def entry(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "x", "kind": "llm", "language": "en", "url": "https://example.org/x.gguf",
        "sha256": "a" * 64, "size": 5, "license": "MIT", "description": "d",
    }
    base.update(fields)
    lines = ["[[model]]"]
    for k, v in base.items():
        if v is None:
            continue
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int):
            lines.append(f"{k} = {v}")
        else:
            lines.append(f'{k} = "{v}"')
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- shipped


def test_shipped_catalog_is_clean_and_complete() -> None:
    entries, problems = cat.parse_catalog(cat.shipped_catalog_path().read_text(), "shipped")
    assert problems == []
    by_id = {e.id: e for e in entries}
    small = by_id["vosk-model-small-en-us-0.15"]
    assert small.sha256 == "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
    assert small.archive == "zip" and small.kind == "stt" and small.language == "en-us"
    downloadable = [e for e in entries if not e.builtin]
    english_stt = [e for e in downloadable if e.kind == "stt" and e.language.startswith("en")]
    assert len(english_stt) >= 2 and max(e.size for e in english_stt) > small.size
    other_langs = {e.language for e in downloadable if e.kind == "stt"} - {"en-us"}
    assert len(other_langs) >= 3
    llms = [e for e in downloadable if e.kind == "llm"]
    assert len(llms) >= 3
    for e in llms:
        assert e.chat_template and e.context >= 2048 and e.file.endswith(".gguf")
        assert "q4_k_m" in e.id
    for e in downloadable:  # every downloadable model can be proven intact
        assert len(e.sha256) == 64 and e.size > 0 and e.url.startswith("https://")
    assert {e.id for e in entries if e.builtin} == set(BUILTIN_IDS)


def test_packaged_copy_is_identical_to_the_repo_catalog() -> None:
    # Wheels and app bundles read the packaged copy: it must not drift.
    repo_copy = REPO / "models" / "catalog.toml"
    assert cat.packaged_catalog_path().read_bytes() == repo_copy.read_bytes()
    assert cat.shipped_catalog_path() == repo_copy


def test_pyproject_ships_toml_package_data() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]
    assert any("*.toml" in v for v in patterns.values())


def test_installed_layout_finds_the_packaged_catalog(tmp_path: Path) -> None:
    """Without the repo's models/ folder (a wheel, a bundle), the copy beside the
    package is read."""
    shutil.copytree(REPO / "assistant", tmp_path / "assistant",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "models").mkdir()  # another package's top-level models/ in site-packages
    (tmp_path / "models" / "catalog.toml").write_text("not = [a catalog")
    code = (
        "from assistant.inventory import catalog as c; p = c.shipped_catalog_path(); "
        "k = c.load_catalog(); print(p); print(len(k.entries), len(k.problems))"
    )
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop(cat.CATALOG_ENV, None)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert Path(out[0]) == tmp_path / "assistant" / "inventory" / "catalog.toml"
    count, problems = map(int, out[1].split())
    assert count >= 12 and problems == 0


def test_app_bundle_layout_reads_the_bundled_models_folder(tmp_path: Path) -> None:
    """PyInstaller puts models/catalog.toml beside the assistant package (the
    spec mirrors the checkout); a frozen app reads that one."""
    shutil.copytree(REPO / "assistant", tmp_path / "assistant",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "models").mkdir()
    shutil.copy(REPO / "models" / "catalog.toml", tmp_path / "models" / "catalog.toml")
    code = ("import sys; sys.frozen = True; from assistant.inventory import catalog as c; "
            "print(c.shipped_catalog_path())")
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == tmp_path / "models" / "catalog.toml"


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": "../evil"}, "letters, digits"),
        ({"id": "a/b"}, "letters, digits"),
        ({"kind": "tts"}, "kind must be one of"),
        ({"sha256": "abc"}, "64 hex digits"),
        ({"sha256": "G" * 64}, "64 hex digits"),
        ({"url": "ftp://example.org/x"}, "https://"),
        ({"url": "file:///etc/passwd"}, "https://"),
        ({"archive": "tar"}, "archive must be"),
        ({"chat_template": "vicuna"}, "chat_template must be one of"),
        ({"size": -1}, "whole number"),
        ({"size": "big"}, "whole number"),
        ({"language": "English!"}, "language tag"),
        ({"description": None}, "missing description"),
        ({"colour": "red"}, "unknown key"),
        ({"builtin": "yes"}, "true or false"),
        ({"file": "../x.gguf"}, "plain file name"),
    ],
)
def test_bad_entry_is_skipped_with_a_reason(fields: dict, reason: str) -> None:
    text = entry(**fields) + GOOD.format(sha="b" * 64)
    entries, problems = cat.parse_catalog(text, "user.toml")
    assert [e.id for e in entries] == ["good-one"]  # the rest of the file still applies
    assert len(problems) == 1
    assert "user.toml" in problems[0] and reason in problems[0] and "skipped" in problems[0]


def test_duplicate_id_keeps_the_first() -> None:
    text = entry(id="dup", description="first") + entry(id="dup", description="second")
    entries, problems = cat.parse_catalog(text, "c.toml")
    assert [e.description for e in entries] == ["first"]
    assert "twice" in problems[0]


def test_syntax_error_ignores_the_file_with_a_message() -> None:
    entries, problems = cat.parse_catalog("[[model]]\nid = \n", "broken.toml")
    assert entries == [] and "TOML syntax error" in problems[0] and "broken.toml" in problems[0]


def test_defaults_derived_from_the_url() -> None:
    (e,), _ = cat.parse_catalog(
        entry(url="https://h.example/org/resolve/main/My%20Model-Q4_K_M.gguf", file=None), "c"
    )
    assert e.file == "My-Model-Q4_K_M.gguf"
    (e,), problems = cat.parse_catalog(entry(url="https://h.example/a/Model-Q4.gguf"), "c")
    assert e.file == "Model-Q4.gguf" and problems == []
    assert e.display_name == "x"


def test_no_sha256_is_accepted_as_unpublished() -> None:
    (e,), problems = cat.parse_catalog(entry(sha256=""), "c")
    assert e.sha256 == "" and problems == []


def test_builtin_needs_no_url() -> None:
    (e,), problems = cat.parse_catalog(entry(url="", builtin=True, sha256=""), "c")
    assert e.builtin and problems == []


# --------------------------------------------------------------------------- sources


def test_parley_catalog_replaces_the_shipped_one(tmp_path: Path, monkeypatch) -> None:
    own = tmp_path / "own.toml"
    own.write_text(GOOD.format(sha="c" * 64))
    monkeypatch.setenv(cat.CATALOG_ENV, str(own))
    loaded = cat.load_catalog()
    assert list(loaded.entries) == ["good-one"] and loaded.problems == []
    assert loaded.files == [own]


def test_parley_catalog_naming_nothing_is_reported(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(cat.CATALOG_ENV, str(tmp_path / "missing.toml"))
    loaded = cat.load_catalog()
    assert loaded.entries == {} and "not a file" in loaded.problems[0]


def test_user_catalog_adds_and_overrides(parley_home: Path, monkeypatch) -> None:
    monkeypatch.delenv(cat.CATALOG_ENV, raising=False)
    (parley_home / "catalog.toml").write_text(
        entry(id="vosk-model-small-en-us-0.15", kind="stt", language="en-us",
              description="my mirror", url="https://mirror.example/en.zip", archive="zip")
        + GOOD.format(sha="d" * 64)
        + entry(id="broken", kind="nope")
    )
    loaded = cat.load_catalog()
    assert loaded.entries["vosk-model-small-en-us-0.15"].description == "my mirror"
    assert "good-one" in loaded.entries and "qwen2.5-0.5b-instruct-q4_k_m" in loaded.entries
    assert len(loaded.problems) == 1 and "broken" in loaded.problems[0]


# --------------------------------------------------------------------------- archives


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/win.ini", "..\\evil.txt",
             "a\\..\\..\\evil"],
)
def test_escaping_member_names_are_refused(name: str) -> None:
    with pytest.raises(UnsafeArchive):
        member_parts(name)


@pytest.mark.parametrize(
    ("name", "parts"),
    [("model/am/final.mdl", ["model", "am", "final.mdl"]), ("./a//b", ["a", "b"]),
     ("dir/", ["dir"]), ("a..b/c", ["a..b", "c"])],
)
def test_ordinary_member_names(name: str, parts: list[str]) -> None:
    assert member_parts(name) == parts


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("model/README", "ok")
        link = zipfile.ZipInfo("model/link")
        link.external_attr = (0o120777 << 16)  # S_IFLNK
        zf.writestr(link, "/etc/passwd")
    with zipfile.ZipFile(path) as zf, pytest.raises(UnsafeArchive, match="symbolic link"):
        check_archive(zf)


def test_macos_resource_forks_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "mac.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("vosk-model-x/am/final.mdl", "m")
        zf.writestr("__MACOSX/vosk-model-x/am/._final.mdl", "fork")
    with zipfile.ZipFile(path) as zf:
        assert [parts for _, parts in check_archive(zf)] == [["vosk-model-x", "am", "final.mdl"]]


# --------------------------------------------------------------------------- progress


def test_progress_line_shows_size_speed_and_eta() -> None:
    line = render(Progress("m", "download", 20_500_000, 41_000_000, 2_050_000.0, 10.0))
    assert "50%" in line and "20.5 MB / 41.0 MB" in line and "2.0 MB/s" in line
    assert "ETA 0:10" in line and "[############------------]" in line
    unknown = render(Progress("m", "download", 1000, None))
    assert "1.0 KB" in unknown and "ETA --:--" in unknown
    assert "unpacking 50%" in render(Progress("m", "unpack", 5, 10))


def test_size_and_eta_formats() -> None:
    assert human_size(0) == "-" and human_size(999) == "999 B"
    assert human_size(1_930_000_000) == "1.9 GB"
    assert format_eta(None) == "--:--" and format_eta(65) == "1:05"
    assert format_eta(3725) == "1:02:05"


def test_progress_bar_on_a_pipe_logs_each_phase_and_how_it_ended() -> None:
    import io

    from assistant.commands.models import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(out)
    for done in (0, 500, 1000):
        bar(Progress("m", "download", done, 1000, 100.0, 1.0))
    bar(Progress("m", "unpack", 10, 20))
    bar(Progress("m", "unpack", 20, 20))
    bar.finish()
    lines = out.getvalue().splitlines()
    assert "0 B / 1.0 KB" in lines[0] and "0%" in lines[0]
    assert "100%" in lines[1] and "1.0 KB / 1.0 KB" in lines[1]  # the download's last state
    assert lines[2:] == ["m: unpacking 50%", "m: unpacking 100%"]


def test_manifest_from_a_newer_parley_still_reads(tmp_path: Path) -> None:
    import json

    from assistant.inventory.store import MANIFEST, read_manifest

    folder = tmp_path / "m"
    folder.mkdir()
    data = {"id": "m", "kind": "llm", "language": "multi", "payload": "m.gguf",
            "source": "catalog", "verified": "sha256", "added_later": {"x": 1}}
    (folder / MANIFEST).write_text(json.dumps(data))
    inst = read_manifest(folder)
    assert inst is not None and inst.path == folder / "m.gguf"
    (folder / MANIFEST).write_text("[1, 2]")  # damaged: the folder is just not a model
    assert read_manifest(folder) is None
