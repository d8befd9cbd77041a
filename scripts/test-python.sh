#!/usr/bin/env bash
# Build and install the Python package, lint it, run its tests. Non-zero on any failure.
#   scripts/test-python.sh [pytest args...]
# PYTHON: interpreter to use (default python3). KV_SKIP_INSTALL=1 skips the (re)install.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=${PYTHON:-python3}
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== installing test tools"
"$py" -m pip install --quiet pytest numpy msgpack ruff black

if [ "${KV_SKIP_INSTALL:-0}" != 1 ]; then
  echo "== building and installing ./python (maturin, release build)"
  "$py" -m pip install --quiet ./python
fi

echo "== ruff"
"$py" -m ruff check --config python/pyproject.toml python benchmarks/python
echo "== black --check"
"$py" -m black --check --quiet --config python/pyproject.toml python benchmarks/python

echo "== pytest"
# Run from a directory outside python/ so that the installed package (not the source tree,
# which lacks the generated native module) is imported.
cd "$root/python/tests"
"$py" -m pytest -p no:cacheprovider --rootdir "$root/python" -c "$root/python/pyproject.toml" "$@" .
