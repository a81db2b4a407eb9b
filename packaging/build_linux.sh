#!/usr/bin/env bash
# Builds the Linux bundle with PyInstaller:
#   dist/parley/                          the app folder (run dist/parley/parley)
#   dist/parley-linux-<arch>.tar.gz       what users download: the folder with
#                                         a .desktop file, icons and install.sh
# Usage: packaging/build_linux.sh [--clean]
#   --clean                 drop PyInstaller's cache first (after dependency changes)
#   PARLEY_BUNDLE_MODEL=1   put the embedded Gemma 3 270M model in the bundle
#   PYTHON=path             build with this Python's packages instead of build/venv
# Then: packaging/selftest.sh dist/parley --gui
#
# The bundle copies llama.cpp's libraries from the build environment, so they
# must be portable: compiled with GGML_NATIVE=OFF (AVX2 baseline), not for the
# build machine's CPU as a plain `pip install` does. A native build crashes
# (illegal instruction) on CPUs without the same extensions, and even on some
# machines that report them (AMX in a VM). So by default this script builds
# from its own environment, build/venv, made once (compiling llama.cpp takes
# 15-20 minutes on 2 cores) with the app, PyInstaller and Pillow (the `build`
# extra) installed from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

clean=()
case "${1:-}" in
  --clean) clean=(--clean) ;;
  "") ;;
  *) echo "usage: $0 [--clean]" >&2; exit 2 ;;
esac

if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
else
  PY=build/venv/bin/python
  if [ ! -x "$PY" ]; then
    echo "Making the build environment build/venv (llama.cpp is compiled once)" >&2
    python3 -m venv build/venv
    # --no-cache-dir: pip would otherwise reuse a natively compiled wheel.
    CMAKE_ARGS="-DGGML_NATIVE=OFF ${CMAKE_ARGS:-}" "$PY" -m pip install -q --no-cache-dir \
      "llama-cpp-python$(.venv/bin/python -c 'import importlib.metadata as m; print("==" + m.version("llama-cpp-python"))' 2>/dev/null || true)"
  fi
fi
if ! "$PY" -c "import importlib.metadata as m, PyInstaller, PIL; m.version('parley')" 2>/dev/null; then
  echo "Installing Parley and the build tools (PyInstaller, Pillow) into $PY's environment" >&2
  "$PY" -m pip install -q -e ".[build]"
fi
# Refuse a llama.cpp compiled for this CPU: the bundle would not run elsewhere.
cpu=$("$PY" -c "import llama_cpp; print(llama_cpp.llama_print_system_info().decode())")
if grep -Eq "AVX512 = 1|AMX_INT8 = 1" <<<"$cpu"; then
  echo "build_linux.sh: $PY's llama.cpp was compiled for this machine's CPU (AVX-512/AMX):" >&2
  echo "  reinstall it with CMAKE_ARGS=-DGGML_NATIVE=OFF pip install --no-cache-dir llama-cpp-python" >&2
  echo "  (or unset PYTHON to use build/venv)" >&2
  exit 1
fi

arch=$(uname -m)
name=parley-linux-$arch
start=$(date +%s)

"$PY" packaging/render_icons.py build/icons
"$PY" -m PyInstaller --noconfirm "${clean[@]}" --log-level WARN \
  --distpath dist --workpath build/pyinstaller packaging/parley.spec

app=dist/parley
# A Python built from source (pyenv) keeps ~20 MB of debug info in libpython
# and its extension modules; the wheels' libraries are left alone (strip can
# break libraries that auditwheel patched).
if command -v strip >/dev/null; then
  find "$app/_internal" \( -name "libpython3*.so*" -o -path "*/lib-dynload/*.so" \) -type f \
    -exec strip --strip-debug {} +
fi
# The menu entry and icon are the app's own (assets/), so the window and the
# menu show the same; install.sh puts them in place.
cp assets/parley.desktop assets/parley.svg packaging/linux/install.sh "$app/"
cp build/icons/parley-256.png "$app/parley.png"
version=$("$PY" -c "import sys; sys.path.insert(0, 'packaging'); import bundle_contents as b, pathlib; print(b.read_version(pathlib.Path('.')))")
{
  echo "Parley $version for Linux ($arch)"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "embedded model bundled: ${PARLEY_BUNDLE_MODEL:-0}"
  echo
  echo "Run ./parley (the app) or ./parley --help (the commands)."
  echo "./install.sh adds Parley to your applications menu and ~/.local/bin;"
  echo "./install.sh --uninstall removes it again (your settings and history stay)."
  echo "Speech output and audio use the system's libraries: on Debian/Ubuntu"
  echo "  sudo apt install libespeak-ng1 libportaudio2 libxcb-cursor0"
} >"$app/parley-bundle.txt"

rm -f "dist/$name.tar.gz"
# The archive unpacks to one folder named for the platform.
tar -C dist --transform "s,^parley,$name," -czf "dist/$name.tar.gz" parley

echo "bundle:  $app ($(du -sh "$app" | cut -f1))"
echo "archive: dist/$name.tar.gz ($(du -sh "dist/$name.tar.gz" | cut -f1))"
echo "built in $(($(date +%s) - start)) s"
