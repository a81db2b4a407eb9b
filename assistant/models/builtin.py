"""The models that come with Parley: nothing to download, but listed, selectable
and checkable like the others."""

from __future__ import annotations

from importlib import util as importlib_util
from pathlib import Path

# Their ids are the catalog's (below the speech code, which reads two of them).
from assistant.inventory.catalog import EMBEDDED_ID, KO_ID, MOONSHINE_ID, POCKETSPHINX_ID


def builtin_location(model_id: str) -> tuple[bool, Path | None]:
    """(available, path) of a built-in model; path may be None before first use."""
    if model_id == EMBEDDED_ID:
        from assistant.llm.embedded import embedded_path, package_installed

        if not package_installed():
            return False, None

        path = embedded_path()
        return True, path if path.exists() else None
    if model_id == KO_ID:
        from assistant.speech.stt import ko_package_model

        ko = ko_package_model()
        return ko is not None, ko
    if model_id == POCKETSPHINX_ID:
        spec = importlib_util.find_spec("pocketsphinx")
        if spec is None or not spec.submodule_search_locations:
            return False, None
        model = Path(next(iter(spec.submodule_search_locations))) / "model" / "en-us"
        return True, model if model.is_dir() else None
    if model_id == MOONSHINE_ID:
        from assistant.speech import moonshine

        folder = moonshine.model_dir()
        if folder is None:
            return False, None
        return True, folder if folder.is_dir() else None
    return False, None


def verify_builtin(model_id: str) -> tuple[bool, str]:
    """(ok, detail) for `parley models verify` of a built-in model."""
    available, path = builtin_location(model_id)
    if not available:
        return False, "its package is not installed; reinstall Parley"
    if model_id == EMBEDDED_ID:
        if path is None:
            return True, "package installed; the file is prepared on first use"
        from assistant.llm.embedded import verify_embedded

        if verify_embedded(path):
            return True, f"sha256 matches the package's ({path})"
        return False, f"{path} fails its sha256 check: delete it and Parley rebuilds it"
    if path is None:
        return False, "its model folder is missing from the package; reinstall the package"
    if model_id == MOONSHINE_ID:
        return _verify_moonshine(path)
    return True, f"provided by its package ({path}); the package has no hashes to check"


def _verify_moonshine(folder: Path) -> tuple[bool, str]:
    """Moonshine's model files against the sha256 in its wheel's RECORD."""
    from assistant.speech import moonshine

    missing = [name for name in moonshine.MODEL_FILES if not (folder / name).is_file()]
    if missing:
        return False, (f"{folder / missing[0]} is missing: reinstall the "
                       f"{moonshine.DISTRIBUTION} package")
    if not moonshine._recorded_files():
        return True, f"provided by its package ({folder}); the package records no hashes"
    damaged = moonshine._damaged_file(folder, hash_files=True)
    if damaged is not None:
        return False, f"{damaged} is not the file its package installed: " + (
            moonshine._reinstall_hint())
    return True, f"sha256 matches its package's record ({folder})"
