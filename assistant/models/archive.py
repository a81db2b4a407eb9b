"""Unpacking a downloaded zip safely, and moving a finished model into place.

Every entry is checked before anything is written: an absolute path, a drive
letter, a `..` component or a symbolic link refuses the whole archive (a zip from
a mirror or a user's catalog must not write outside its folder: the zip-slip
family of bugs). The sum of the sizes the archive declares is checked against
the free disk space first, so a zip bomb fails before it fills the disk.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from assistant.llm.cancel import CancelToken
from assistant.models.download import FreeSpace, Progress, ProgressFn, check_space, disk_free
from assistant.models.errors import InvalidModel, PullCancelled, UnsafeArchive

_DRIVE = re.compile(r"^[A-Za-z]:")


def member_parts(name: str) -> list[str]:
    """The path components of a zip entry; raises UnsafeArchive for one that could
    land outside the folder it is unpacked into."""
    normal = name.replace("\\", "/")
    if normal.startswith("/") or _DRIVE.match(normal):
        raise UnsafeArchive(f"has an absolute path entry ({name!r})")
    parts = [p for p in normal.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchive(f"has an entry that climbs out of its folder ({name!r})")
    if any("\x00" in p for p in parts):
        raise UnsafeArchive(f"has an entry with a NUL in its name ({name!r})")
    return parts


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_archive(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, list[str]]]:
    """Every entry with its path parts; UnsafeArchive if any one is unsafe."""
    checked = []
    for info in zf.infolist():
        if _is_link(info):
            raise UnsafeArchive(f"has a symbolic link ({info.filename!r})")
        parts = member_parts(info.filename)
        if parts and parts[0] != "__MACOSX":  # Finder's resource forks: not the model
            checked.append((info, parts))
    return checked


def unpack_zip(
    archive: Path,
    work_dir: Path,
    *,
    model_id: str,
    cancel: CancelToken | None = None,
    progress: ProgressFn | None = None,
    free_space: FreeSpace = disk_free,
) -> Path:
    """Unpack `archive` into a new folder inside `work_dir`; return the model's root
    (the archive's single top folder when it has one). The caller moves it into
    place. On any failure nothing is left behind."""
    staging = Path(tempfile.mkdtemp(prefix=f"{model_id}.unpack-", dir=work_dir))
    try:
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as e:
            raise InvalidModel(
                f"The download of {model_id} is not a valid zip archive ({e}). Nothing was "
                "installed."
            ) from e
        with zf:
            try:
                entries = check_archive(zf)
            except UnsafeArchive as e:
                raise UnsafeArchive(
                    f"The archive for {model_id} {e.message}: it was refused and nothing "
                    "was installed."
                ) from None
            total = sum(info.file_size for info, _ in entries)
            check_space(work_dir, total, free_space, model_id)
            done = 0
            for info, parts in entries:
                if cancel is not None and cancel.cancelled:
                    raise PullCancelled(f"Unpacking {model_id} stopped; nothing was installed.")
                target = staging.joinpath(*parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with zf.open(info) as src, target.open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                except (zipfile.BadZipFile, OSError, EOFError) as e:
                    raise InvalidModel(
                        f"The archive for {model_id} is damaged ({info.filename}: {e}). "
                        "Nothing was installed."
                    ) from e
                done += info.file_size
                if progress is not None:
                    progress(Progress(model_id, "unpack", done, total))
        children = list(staging.iterdir())
        if len(children) == 1 and children[0].is_dir():
            return children[0]
        return staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def move_into_place(source: Path, target: Path, trash_dir: Path) -> None:
    """Make `source` (a folder) appear at `target` in one rename.

    `source` must be on the same file system (it is built inside the models folder).
    A model already at `target` is renamed aside first and deleted after, so the
    folder is never half old, half new.
    """
    old: Path | None = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f"{target.name}.old-", dir=trash_dir))
        os.replace(target, old / target.name)
    try:
        os.replace(source, target)
    except OSError:
        if old is not None:  # put the previous model back
            os.replace(old / target.name, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
