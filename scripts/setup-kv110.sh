#!/usr/bin/env bash
# Idempotent: a venv with the published kohakuvault 1.1.0 (from PyPI), for the two-way file
# compatibility tests and the side-by-side benchmarks. Prints its interpreter's path.
#   KV110_VENV (default /opt/kv110)
set -euo pipefail
venv=${KV110_VENV:-/opt/kv110}
py="$venv/bin/python"
if [ -x "$py" ] && "$py" -c 'import kohakuvault, sys; sys.exit(kohakuvault.__version__ != "1.1.0")' 2>/dev/null; then
  echo "$py"; exit 0
fi
python3 -m venv "$venv" >&2
"$py" -m pip install -q --disable-pip-version-check "kohakuvault==1.1.0" numpy msgpack >&2
"$py" -c 'import kohakuvault; assert kohakuvault.__version__ == "1.1.0"'
echo "$py"
