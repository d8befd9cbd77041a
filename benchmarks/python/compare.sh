#!/usr/bin/env bash
# Run bench_kv.py against kohakuvault 1.1.0 and against this project's package; print ratios.
#   benchmarks/python/compare.sh [bench_kv.py args...]
# KV110_PYTHON: interpreter with kohakuvault 1.1.0 (default /opt/kv110/bin/python)
# KV_PYTHON:    interpreter with this project's package installed (default python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=${KV110_PYTHON:-/opt/kv110/bin/python}
new=${KV_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== kohakuvault 1.1.0 ($old)"
"$old" "$here/bench_kv.py" --json "$tmp/old.json" "$@"
echo
echo "== this project ($new)"
$new "$here/bench_kv.py" --json "$tmp/new.json" "$@"
echo
$new - "$tmp/old.json" "$tmp/new.json" <<'PY'
import json, sys
old = json.load(open(sys.argv[1]))["results"]
new = json.load(open(sys.argv[2]))["results"]
print(f"{'workload':<38} {'1.1.0':>10} {'ours':>10}  unit   speedup")
for name, o in old.items():
    n = new.get(name)
    if n is None:
        continue
    if o["unit"] == "ms":
        ratio = o["value"] / n["value"]  # time: lower is better
    else:
        ratio = n["value"] / o["value"]  # throughput: higher is better
    print(f"{name:<38} {o['value']:>10.1f} {n['value']:>10.1f}  {o['unit']:<5} {ratio:6.2f}x")
PY
