#!/usr/bin/env bash
# Sets up everything the tests need (system packages, ./.venv with the test
# extra) and runs the whole suite against the real engines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh --test
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
source scripts/llama-build.sh
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
llama_repair .venv/bin/python
.venv/bin/ruff check .
set +e
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$status"
