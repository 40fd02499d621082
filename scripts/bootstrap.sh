#!/usr/bin/env bash
# Creates the virtual environment from the hashed lock file. Installs uv first if it is missing:
# into a throwaway venv, pinned, so nothing touches the system Python.
# Runs in the current directory (the venv goes there) but installs the kit this script belongs
# to: the same whether called by `make` in the kit or by actions/setup in another repository.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
KIT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCK=${LOCK:-requirements/dev.txt}
case $LOCK in /*) ;; *) LOCK=$KIT_DIR/$LOCK ;; esac

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Python >= 3.11 is needed; '$PYTHON' is $("$PYTHON" --version 2>&1)." >&2
  echo "       Run 'make PYTHON=python3.12 ...' to choose another interpreter." >&2
  exit 1
fi

uv_bin=$(command -v uv || true)
if [ -z "$uv_bin" ]; then
  tools=.cache/uv-bootstrap
  if [ ! -x "$tools/bin/uv" ]; then
    echo "uv not found: installing the pinned uv into $tools"
    "$PYTHON" -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --require-hashes -r "$KIT_DIR/requirements/uv.txt"
  fi
  uv_bin=$tools/bin/uv
fi

echo "Syncing $VENV from $LOCK"
[ -x "$VENV/bin/python" ] || "$uv_bin" venv --quiet --python "$PYTHON" "$VENV"
"$uv_bin" pip sync --quiet --python "$VENV/bin/python" "$LOCK"
# The project itself, editable, without touching the locked dependencies.
"$uv_bin" pip install --quiet --python "$VENV/bin/python" --no-deps -e "$KIT_DIR"

# In a GitHub Actions job: later steps find the venv's python, ml and dvc first on PATH.
if [ -n "${GITHUB_PATH:-}" ]; then
  bin=$(cd "$VENV/bin" && pwd)
  echo "$bin" >>"$GITHUB_PATH"
  echo "python=$bin/python" >>"${GITHUB_OUTPUT:-/dev/null}"
fi
