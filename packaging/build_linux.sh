#!/usr/bin/env bash
# Builds the Linux bundle with PyInstaller:
#   dist/parley/                          the app folder (run dist/parley/parley)
#   dist/parley-linux-<arch>.tar.gz       what users download: the folder with
#                                         a .desktop file, icons and install.sh
# Usage: packaging/build_linux.sh [--clean]
#   --clean                 drop PyInstaller's cache first (after dependency changes)
#   PYTHON=path             the Python to build with (default: .venv/bin/python;
#                           PyInstaller and Pillow are installed into it: the
#                           `build` extra)
#   PARLEY_BUNDLE_MODEL=1   put the embedded Gemma 3 270M model in the bundle
# Then: packaging/selftest.sh dist/parley
set -euo pipefail
cd "$(dirname "$0")/.."

clean=()
case "${1:-}" in
  --clean) clean=(--clean) ;;
  "") ;;
  *) echo "usage: $0 [--clean]" >&2; exit 2 ;;
esac

PY=${PYTHON:-.venv/bin/python}
if [ ! -x "$PY" ]; then
  echo "build_linux.sh: $PY not found: run scripts/install.sh first, or set PYTHON" >&2
  exit 1
fi
if ! "$PY" -c "import PyInstaller, PIL" 2>/dev/null; then
  echo "Installing the build tools (PyInstaller, Pillow) into $PY's environment" >&2
  "$PY" -m pip install -q -e ".[build]"
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
