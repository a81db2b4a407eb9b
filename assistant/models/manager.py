"""The model manager's operations: list, pull, verify, remove, import, use.

Every function is safe to call from a worker thread (the UI does) and from
several processes at once: a pull holds the model's lock file, installs happen by
renaming a finished folder into place, and nothing here touches Qt or the network
except `pull`.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from assistant import paths
from assistant.config import ConfigError, Settings, load_settings, update_settings
from assistant.inventory import store
from assistant.inventory.catalog import (
    BUILTIN_IDS,
    CHAT_TEMPLATES,
    EMBEDDED_ID,
    ID_PATTERN,
    MOONSHINE_ID,
    POCKETSPHINX_ID,
    Catalog,
    CatalogEntry,
    load_catalog,
)
from assistant.llm.cancel import CancelToken
from assistant.models.archive import move_into_place, unpack_zip
from assistant.models.builtin import builtin_location, verify_builtin
from assistant.models.download import (
    FreeSpace,
    Opener,
    Progress,
    ProgressFn,
    check_space,
    disk_free,
    fetch,
    hash_files,
)
from assistant.models.errors import (
    ChecksumMismatch,
    DownloadError,
    InvalidModel,
    ModelError,
    ModelInUse,
    NotInstalled,
    PullCancelled,
    UnknownModel,
    UnsafeArchive,
)
from assistant.models.importer import validate
from assistant.models.lock import ModelLock

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ModelInfo:
    """One model as `list_models` shows it: catalog facts plus what is on disk."""

    id: str
    kind: str
    """stt | llm | wake"""
    language: str
    name: str
    description: str
    license: str
    size: int
    """Bytes of the download (catalog); for an imported model, bytes on disk."""
    url: str
    sha256: str
    builtin: bool
    installed: bool
    in_use: bool
    """The settings select this model (explicitly, or as the automatic choice)."""
    path: Path | None
    """What the engine loads (folder or file), when installed."""
    disk_size: int = 0
    """Bytes on disk when installed."""
    partial: int = 0
    """Bytes of an interrupted download waiting to be resumed."""
    verified: str = ""
    """"sha256", "unverified", "loaded" (imported) or "" (not installed / built in)."""
    source: str = ""
    """"catalog", "import" or "builtin"."""
    chat_template: str = ""
    context: int = 0
    """Recommended context window (tokens); 0 = unspecified."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path) if self.path else None
        return data


@dataclass(frozen=True)
class VerifyResult:
    id: str
    ok: bool
    detail: str


def _errors_fit_to_show(func: F) -> F:
    """The public operations raise only ModelError: a file-system failure (a models
    folder that cannot be written, a file that vanished) becomes one with a message
    a user can act on, so the UI catches one exception type."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except paths.PathError as e:
            raise ModelError(str(e)) from e
        except OSError as e:
            where = f" ({e.filename})" if e.filename else ""
            raise ModelError(
                f"Parley could not read or write a model file{where}: {e.strerror or e}. "
                f"Check the models folder {store.models_root()}."
            ) from e

    return wrapper  # type: ignore[return-value]


# --------------------------------------------------------------------------- list


def list_models(kind: str | None = None, catalog: Catalog | None = None) -> list[ModelInfo]:
    """Catalog models and installed ones (imported included), catalog order first.
    Reads only local files: works offline."""
    catalog = catalog or load_catalog()
    installed = store.installed_models()
    settings = load_settings().settings
    llm_id, stt_id = models_in_use(settings, installed)
    infos = [_info(e, installed.get(e.id), {llm_id, stt_id}) for e in catalog]
    for inst in installed.values():
        if inst.id not in catalog.entries:
            infos.append(_info(None, inst, {llm_id, stt_id}))
    return [i for i in infos if kind is None or i.kind == kind]


def get_model(model_id: str, catalog: Catalog | None = None) -> ModelInfo:
    """One model by id; UnknownModel (with a suggestion) when there is none."""
    for info in list_models(catalog=catalog):
        if info.id == model_id:
            return info
    raise _unknown(model_id, catalog or load_catalog())


def _info(entry: CatalogEntry | None, inst: store.Installed | None, using: set) -> ModelInfo:
    if entry is not None and entry.builtin:
        available, path = builtin_location(entry.id)
        return ModelInfo(
            id=entry.id, kind=entry.kind, language=entry.language, name=entry.display_name,
            description=entry.description, license=entry.license, size=entry.size,
            url="", sha256=entry.sha256, builtin=True, installed=available,
            in_use=entry.id in using, path=path,
            disk_size=path.stat().st_size if path and path.is_file() else 0,
            source="builtin", chat_template=entry.chat_template, context=entry.context,
        )
    src: CatalogEntry | store.Installed = entry if entry is not None else inst  # type: ignore[assignment]
    partial = store.partial_path(src.id)
    base = ModelInfo(
        id=src.id, kind=src.kind, language=src.language, name=src.name or src.id,
        description=src.description, license=src.license, size=src.size, url=src.url,
        sha256=src.sha256, builtin=False, installed=inst is not None, in_use=src.id in using,
        path=inst.path if inst else None,
        partial=partial.stat().st_size if partial.is_file() else 0,
        chat_template=src.chat_template, context=src.context,
        source="catalog" if entry else "import",
    )
    if inst is not None:
        base = replace(base, disk_size=inst.size, verified=inst.verified, source=inst.source)
    return base


def models_in_use(
    settings: Settings, installed: dict[str, store.Installed] | None = None
) -> tuple[str | None, str | None]:
    """(llm id, stt id) the settings select, when they name a known model."""
    installed = installed if installed is not None else store.installed_models()
    llm = EMBEDDED_ID if not settings.llm_model else _id_for(settings.llm_model, installed)
    return llm, _stt_in_use(settings, installed)


def _id_for(setting: str, installed: dict[str, store.Installed]) -> str | None:
    if setting in installed or setting in BUILTIN_IDS:
        return setting
    try:
        target = Path(setting).expanduser().resolve()
    except OSError:
        return None
    for inst in installed.values():
        if target in (inst.path.resolve(), inst.folder.resolve()):
            return inst.id
    for model_id in BUILTIN_IDS:
        _, path = builtin_location(model_id)
        if path is not None and path.resolve() == target:
            return model_id
    return None


def _stt_in_use(settings: Settings, installed: dict[str, store.Installed]) -> str | None:
    """The speech model Parley hears with: what `choose_engine` picks from
    `stt_engine`, `stt_model` and `language` (Moonshine for English unless a Vosk
    model is installed or chosen), as a model id; None when no known model."""
    from assistant.speech.stt import SttError, choose_engine

    try:
        choice = choose_engine(settings.language, settings.stt_model, settings.stt_engine)
    except SttError:  # no model for the language, or the chosen one is not installed
        return None
    if choice.kind == "moonshine":
        return MOONSHINE_ID
    if choice.kind == "pocketsphinx":
        return POCKETSPHINX_ID
    return _id_for(str(choice.model_dir), installed) if choice.model_dir else None


def _unknown(model_id: str, catalog: Catalog) -> UnknownModel:
    known = list(catalog.entries) + list(store.installed_models())
    close = difflib.get_close_matches(model_id, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]}?" if close else ""
    return UnknownModel(
        f"No model called {model_id!r}.{hint} `parley models list` shows every model."
    )


# --------------------------------------------------------------------------- pull


@_errors_fit_to_show
def pull(
    model_id: str,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    *,
    allow_unverified: bool = False,
    retries: int = 2,
    retry_wait_s: float = 1.0,
    opener: Opener | None = None,
    free_space: FreeSpace = disk_free,
) -> ModelInfo:
    """Download, check and install a catalog model; return it as installed.

    Resumes an earlier `.partial`; retries a dropped connection `retries` times
    (resuming each time). Raises a ModelError subclass with a message to show:
    UnknownModel, ModelBusy (another pull holds the lock), NotEnoughSpace,
    DownloadError (partial kept), ChecksumMismatch (nothing installed),
    UnsafeArchive, PullCancelled (partial kept), InvalidModel.
    """
    catalog = load_catalog()
    entry = catalog.get(model_id)
    if entry is None:
        raise _unknown(model_id, catalog)
    if entry.builtin:
        return get_model(model_id, catalog)  # nothing to download
    if not entry.sha256 and not allow_unverified:
        raise ModelError(
            f"The catalog has no sha256 for {model_id}, so Parley cannot prove the download "
            "is intact. Pull it anyway with --allow-unverified (it is then marked unverified)."
        )
    current = store.installed_models().get(model_id)
    if current is not None and (current.sha256 == entry.sha256 or not entry.sha256):
        return get_model(model_id, catalog)  # already installed (and the same file)
    cancel = cancel or CancelToken()
    paths.ensure_dir(store.models_root())
    work = paths.ensure_dir(store.work_dir())

    with ModelLock(store.lock_path(model_id), model_id):
        partial = store.partial_path(model_id)
        digest = _fetch_with_retries(
            entry, partial, progress, cancel, retries, retry_wait_s, opener, free_space
        )
        if entry.sha256 and digest != entry.sha256:
            partial.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"The download of {model_id} is not the file the catalog describes (sha256 "
                f"{digest[:12]}…, expected {entry.sha256[:12]}…). It was deleted and nothing "
                "was installed. Pull again to download it afresh; if that fails the same way, "
                "the catalog entry or the server is wrong."
            )
        if progress:
            size = partial.stat().st_size
            progress(Progress(model_id, "verify", size, size))
        try:
            _install_download(entry, partial, digest, work, progress, cancel, free_space)
        except (InvalidModel, UnsafeArchive):
            partial.unlink(missing_ok=True)  # a bad file: resuming it cannot help
            raise
        partial.unlink(missing_ok=True)
    info = get_model(model_id)
    if progress:
        progress(Progress(model_id, "done", info.disk_size, info.disk_size))
    return info


def _fetch_with_retries(
    entry: CatalogEntry,
    partial: Path,
    progress: ProgressFn | None,
    cancel: CancelToken,
    retries: int,
    retry_wait_s: float,
    opener: Opener | None,
    free_space: FreeSpace,
) -> str:
    for attempt in range(retries + 1):
        try:
            return fetch(
                entry.url, partial, model_id=entry.id, expected_size=entry.size,
                progress=progress, cancel=cancel, opener=opener, free_space=free_space,
            )
        except DownloadError as e:
            if not e.retry or attempt == retries:
                raise
            # info, not warning: a warning line would break the progress bar on stderr.
            log.info("%s: download interrupted (%s); retry %d of %d",
                     entry.id, e, attempt + 1, retries)
            if cancel.wait(retry_wait_s * (attempt + 1)):
                raise PullCancelled(
                    f"Download of {entry.id} stopped. Pull it again to resume."
                ) from e
    raise AssertionError("unreachable")


def _install_download(
    entry: CatalogEntry,
    partial: Path,
    digest: str,
    work: Path,
    progress: ProgressFn | None,
    cancel: CancelToken,
    free_space: FreeSpace,
) -> None:
    if entry.archive == "zip":
        root = unpack_zip(partial, work, model_id=entry.id, cancel=cancel,
                          progress=progress, free_space=free_space)
        payload = "."
    else:
        root = Path(tempfile.mkdtemp(prefix=f"{entry.id}.stage-", dir=work))
        os.replace(partial, root / entry.file)
        payload = entry.file
    staging = root if root.parent == work else root.parent
    try:
        if not entry.sha256:
            # Nothing proves this file is what the catalog meant: at least prove it loads.
            validate(root if payload == "." else root / payload)
        inst = store.Installed(
            id=entry.id, kind=entry.kind, language=entry.language,
            folder=root, payload=payload, source="catalog",
            verified="sha256" if entry.sha256 else "unverified",
            sha256=digest, files=hash_files(root, cancel), size=store.tree_size(root),
            installed_at=store.now_iso(), url=entry.url, name=entry.name,
            description=entry.description, license=entry.license,
            chat_template=entry.chat_template, context=entry.context,
        )
        store.write_manifest(root, inst)
        move_into_place(root, store.model_folder(entry.id), work)
    except BaseException:
        if payload != "." and (root / payload).exists():
            os.replace(root / payload, partial)  # keep the verified bytes for a retry
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- verify


@_errors_fit_to_show
def verify(model_id: str | None = None) -> list[VerifyResult]:
    """Re-hash installed models (one, or all installed and built-in ones)."""
    catalog = load_catalog()
    installed = store.installed_models()
    if model_id is not None:
        if model_id in BUILTIN_IDS:
            return [VerifyResult(model_id, *verify_builtin(model_id))]
        inst = installed.get(model_id)
        if inst is None:
            if model_id in catalog.entries:
                raise NotInstalled(f"{model_id} is not installed, so there is nothing to verify.")
            raise _unknown(model_id, catalog)
        return [_verify_installed(inst, catalog.get(model_id))]
    results = [_verify_installed(i, catalog.get(i.id)) for i in installed.values()]
    for builtin_id in BUILTIN_IDS:
        if builtin_location(builtin_id)[0]:
            results.append(VerifyResult(builtin_id, *verify_builtin(builtin_id)))
    return results


def _verify_installed(inst: store.Installed, entry: CatalogEntry | None) -> VerifyResult:
    current = hash_files(inst.folder)
    missing = sorted(set(inst.files) - set(current))
    changed = sorted(k for k in inst.files if k in current and current[k] != inst.files[k])
    if missing or changed:
        bits = []
        if missing:
            bits.append(f"{len(missing)} file(s) missing ({', '.join(missing[:3])})")
        if changed:
            bits.append(f"{len(changed)} file(s) changed ({', '.join(changed[:3])})")
        return VerifyResult(
            inst.id, False,
            "; ".join(bits) + f". Remove it and pull it again: parley models remove {inst.id}",
        )
    if (inst.payload != "." and entry is not None and entry.sha256
            and current.get(inst.payload) != entry.sha256):
        return VerifyResult(inst.id, False, "the file is not the one the catalog describes")
    how = {
        "sha256": "matches the catalog's sha256",
        "unverified": "unchanged since install, but the catalog published no sha256 for it",
        "loaded": "unchanged since it was imported",
    }.get(inst.verified, "unchanged since install")
    return VerifyResult(inst.id, True, f"{len(current)} file(s) {how}")


# --------------------------------------------------------------------------- remove


@_errors_fit_to_show
def remove(model_id: str, force: bool = False) -> None:
    """Delete an installed model (and any partial download of it)."""
    if model_id in BUILTIN_IDS:
        raise ModelError(
            f"{model_id} is built into Parley and cannot be removed. To stop using it, "
            "choose another model with `parley models use ID`."
        )
    catalog = load_catalog()
    installed = store.installed_models()
    inst = installed.get(model_id)
    partial = store.partial_path(model_id)
    if inst is None:
        if partial.exists():
            with ModelLock(store.lock_path(model_id), model_id):
                partial.unlink(missing_ok=True)
            return
        if model_id in catalog.entries:
            raise NotInstalled(f"{model_id} is not installed.")
        raise _unknown(model_id, catalog)
    settings = load_settings().settings
    explicit = {"llm_model": settings.llm_model, "stt_model": settings.stt_model}
    for key, value in explicit.items():
        if value and _id_for(value, installed) == model_id and not force:
            raise ModelInUse(
                f"{model_id} is the model in use ({key} in the settings). Choose another "
                "first with `parley models use ID`, or remove it anyway with --force."
            )
    with ModelLock(store.lock_path(model_id), model_id):
        work = paths.ensure_dir(store.work_dir())
        trash = Path(tempfile.mkdtemp(prefix=f"{model_id}.remove-", dir=work))
        os.replace(inst.folder, trash / model_id)  # gone from the list at once
        shutil.rmtree(trash, ignore_errors=True)
        partial.unlink(missing_ok=True)


# --------------------------------------------------------------------------- import

_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")


@_errors_fit_to_show
def import_model(
    path: str | Path,
    *,
    model_id: str | None = None,
    language: str | None = None,
    cancel: CancelToken | None = None,
    free_space: FreeSpace = disk_free,
) -> ModelInfo:
    """Copy a user's GGUF file or Vosk model folder into the models folder, after
    proving it loads. A file identical to a catalog model (same sha256) is
    installed as that model."""
    from assistant.models.download import sha256_file

    source = Path(path).expanduser().absolute()
    checked = validate(source)  # InvalidModel before anything is copied
    catalog = load_catalog()
    entry: CatalogEntry | None = None
    digest = ""
    if source.is_file():
        digest = sha256_file(source, cancel)
        entry = next((e for e in catalog if e.sha256 == digest and not e.archive), None)
    if model_id is None:
        model_id = entry.id if entry else _NOT_ID.sub("-", source.stem if source.is_file()
                                                        else source.name).strip("-.")
    if not ID_PATTERN.match(model_id or ""):
        raise ModelError(
            f"{model_id!r} cannot be a model id: use letters, digits, '.', '_' and '-'."
        )
    if model_id in BUILTIN_IDS or model_id in store.installed_models():
        raise ModelError(
            f"A model called {model_id} is already installed. Remove it first, or import "
            "under another name with --id."
        )
    lang = (language or (entry.language if entry else "") or checked.language or
            ("multi" if checked.kind == "llm" else "")).lower()
    cancel = cancel or CancelToken()
    work = paths.ensure_dir(store.work_dir())
    size = source.stat().st_size if source.is_file() else store.tree_size(source)
    check_space(work, size, free_space, model_id)
    with ModelLock(store.lock_path(model_id), model_id):
        stage = Path(tempfile.mkdtemp(prefix=f"{model_id}.import-", dir=work))
        try:
            if source.is_file():
                payload = source.name
                _copy_file(source, stage / payload, cancel)
            else:
                payload = "."
                _copy_tree(source, stage, cancel)
            files = hash_files(stage, cancel)
            template = entry.chat_template if entry else checked.chat_template
            inst = store.Installed(
                id=model_id, kind=checked.kind, language=lang, folder=stage, payload=payload,
                source="import" if entry is None else "catalog",
                verified="sha256" if entry is not None else "loaded",
                sha256=digest, files=files, size=store.tree_size(stage),
                installed_at=store.now_iso(), url=entry.url if entry else "",
                name=entry.name if entry else "",
                description=entry.description if entry else f"Imported from {source}",
                license=entry.license if entry else "",
                chat_template=template if template in CHAT_TEMPLATES else "",
                context=entry.context if entry else 0,
            )
            store.write_manifest(stage, inst)
            move_into_place(stage, store.model_folder(model_id), work)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return get_model(model_id)


def _copy_file(src: Path, dst: Path, cancel: CancelToken) -> None:
    with src.open("rb") as fin, dst.open("wb") as fout:
        while block := fin.read(1 << 20):
            if cancel.cancelled:
                raise PullCancelled("Import stopped; nothing was installed.")
            fout.write(block)


def _copy_tree(src: Path, dst: Path, cancel: CancelToken) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_symlink():
            continue  # a link could point anywhere; models have none
        if path.is_dir():
            (dst / rel).mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            _copy_file(path, dst / rel, cancel)


# --------------------------------------------------------------------------- use


@_errors_fit_to_show
def use(model_id: str) -> dict[str, object]:
    """Select an installed (or built-in) model in the settings; returns the settings
    changed. Choosing a speech model for another language switches `language` too."""
    info = get_model(model_id)
    if not info.installed:
        raise NotInstalled(
            f"{model_id} is not installed. Get it first: parley models pull {model_id}"
        )
    changes: dict[str, object]
    if info.kind == "llm":
        changes = {"llm_model": "" if model_id == EMBEDDED_ID else model_id}
    elif info.kind == "stt":
        settings = load_settings().settings
        if model_id == MOONSHINE_ID:  # an engine of its own, not a model folder
            changes = {"stt_engine": "moonshine"}
        else:
            changes = {"stt_model": model_id}
            if settings.stt_engine in ("moonshine", "pocketsphinx"):
                changes["stt_engine"] = "auto"  # else the engine setting overrides the model
        current = settings.language
        primary = info.language.split("-")[0]
        if info.language and info.language != "multi" and current.split("-")[0] != primary:
            changes["language"] = primary
    else:
        raise ModelError(f"{model_id} is a {info.kind} model; it cannot be chosen here yet.")
    try:
        update_settings(changes)
    except ConfigError as e:
        raise ModelError(str(e)) from e
    return changes


# Re-exported for callers that want one import.
__all__ = [
    "ModelInfo", "VerifyResult", "Progress", "CancelToken", "list_models", "get_model",
    "pull", "verify", "remove", "import_model", "use", "models_in_use",
]
