#!/usr/bin/env bash
# Installs Parley into ./.venv with what it needs from the system, then starts it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q .
echo "Parley is installed: .venv/bin/parley (try: .venv/bin/parley chat)" >&2
exec .venv/bin/parley "$@"
