#!/usr/bin/env bash
# Creates the virtual environment from the hashed lock file. Installs uv first if it is missing:
# into a throwaway venv, pinned, so nothing touches the system Python.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
LOCK=${LOCK:-requirements/dev.txt}

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
    "$tools/bin/python" -m pip install --quiet --require-hashes -r requirements/uv.txt
  fi
  uv_bin=$tools/bin/uv
fi

echo "Syncing $VENV from $LOCK"
[ -x "$VENV/bin/python" ] || "$uv_bin" venv --quiet --python "$PYTHON" "$VENV"
"$uv_bin" pip sync --quiet --python "$VENV/bin/python" "$LOCK"
# The project itself, editable, without touching the locked dependencies.
"$uv_bin" pip install --quiet --python "$VENV/bin/python" --no-deps -e .
