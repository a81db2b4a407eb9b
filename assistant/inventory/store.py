"""Installed models on disk.

Layout under `paths.models_dir()`:

    <id>/                     one folder per installed model
        .parley-model.json    its manifest (what it is, where it came from, file hashes)
        ...                   a Vosk model's files, or the one GGUF file
    .downloads/               work area: <id>.partial, <id>.lock, unpack and staging folders

A folder without a manifest (a model unpacked by hand, the embedded Gemma file)
is left alone: the speech code still finds hand-unpacked Vosk folders by name.
The manifest records each file's sha256 at install time (`models.download.hash_files`),
so `verify` can tell a damaged model from a good one without the download.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from assistant import paths

MANIFEST = ".parley-model.json"
WORK_DIR = ".downloads"


@dataclass(frozen=True)
class Installed:
    """What the manifest of one installed model says."""

    id: str
    kind: str
    language: str
    folder: Path
    payload: str
    """Relative to `folder`: "." for a folder model (Vosk), else the file name (GGUF)."""
    source: str
    """"catalog" (pulled) or "import"."""
    verified: str
    """"sha256": matched the catalog's sha256; "unverified": the catalog had none;
    "loaded": imported, proven by loading it."""
    sha256: str = ""
    """Of the download (or of the imported GGUF)."""
    files: dict[str, str] = field(default_factory=dict)
    """Relative path -> sha256 of every file, as installed."""
    size: int = 0
    """Bytes on disk."""
    installed_at: str = ""
    url: str = ""
    name: str = ""
    description: str = ""
    license: str = ""
    chat_template: str = ""
    context: int = 0

    @property
    def path(self) -> Path:
        """What the engine loads: the model folder (Vosk) or the GGUF file."""
        return self.folder if self.payload == "." else self.folder / self.payload

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        return data


def models_root() -> Path:
    return paths.models_dir()


def work_dir() -> Path:
    return models_root() / WORK_DIR


def model_folder(model_id: str) -> Path:
    return models_root() / model_id


def partial_path(model_id: str) -> Path:
    return work_dir() / f"{model_id}.partial"


def lock_path(model_id: str) -> Path:
    return work_dir() / f"{model_id}.lock"


def read_manifest(folder: Path) -> Installed | None:
    """The manifest in `folder`, or None if there is none or it is unreadable."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        known = {f.name for f in fields(Installed)} - {"folder"}
        # Keys a newer Parley added are ignored, so a downgrade still sees the model.
        return Installed(folder=folder, **{k: v for k, v in data.items() if k in known})
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def installed_models() -> dict[str, Installed]:
    """Every model folder with a readable manifest, by id."""
    root = models_root()
    found: dict[str, Installed] = {}
    if not root.is_dir():
        return found
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            inst = read_manifest(child)
            if inst is not None and inst.id == child.name:
                found[inst.id] = inst
    return found


def find_by_path(path: Path) -> Installed | None:
    """The installed model whose folder or file is `path`."""
    try:
        target = Path(path).expanduser().resolve()
    except OSError:
        return None
    for inst in installed_models().values():
        if inst.path.resolve() == target or inst.folder.resolve() == target:
            return inst
    return None


def manifest_language(folder: Path) -> str:
    """The language a manifest records for `folder` ("" when none)."""
    inst = read_manifest(Path(folder))
    return inst.language if inst is not None else ""


def tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def write_manifest(folder: Path, inst: Installed) -> None:
    """Write the manifest atomically (a crash leaves the old one or the new one)."""
    data = json.dumps(inst.to_json(), indent=2, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".manifest-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(data)
    os.replace(tmp, folder / MANIFEST)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
