#!/usr/bin/env bash
# Consumer check: install ./python into a NEW virtual environment (as a user would, with pip; the
# wheel is built by maturin) and run examples/consumers/python/consumer.py against it, outside the
# source tree. Ends with "consumer-python: 1 passed, 0 failed" (non-zero exit on failure).
# PYTHON: interpreter to create the venv with (default python3). The Rust build reuses the repo's
# target directory (CARGO_TARGET_DIR, default <repo>/target) to stay incremental.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kv-consumer-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== new venv in $tmp/venv"
"$py" -m venv "$tmp/venv"
venv_py="$tmp/venv/bin/python"
echo "== pip install ./python (maturin build)"
"$venv_py" -m pip install --quiet "$root/python"
echo "== consumer"
cd "$tmp"
# -I: isolated mode (no user site-packages, no PYTHON* variables): only the venv's packages.
"$venv_py" -I - "$root/examples/consumers/python/consumer.py" "$tmp/venv" <<'PY'
import os, runpy, sys
script, venv = sys.argv[1], os.path.realpath(sys.argv[2])
import kohakuvault
where = os.path.realpath(kohakuvault.__file__)
if not where.startswith(venv + os.sep):
    print(f"kohakuvault was imported from {where}, not from the new venv")
    print("consumer-python: 0 passed, 1 failed")
    sys.exit(1)
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
PY
