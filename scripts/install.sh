#!/usr/bin/env bash
# Installs Parley into ./.venv with what it needs from the system, then starts it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
source scripts/llama-build.sh
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q .
llama_repair .venv/bin/python
echo "Parley is installed: .venv/bin/parley (try: .venv/bin/parley chat)" >&2
exec .venv/bin/parley "$@"
