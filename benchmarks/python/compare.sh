#!/usr/bin/env bash
# Run bench_kv.py against kohakuvault 1.1.0 and against this project's package, alternating in
# rounds (so slow drifts of the machine hit both alike); print each workload's median over the
# rounds and the ratio.
#   benchmarks/python/compare.sh [bench_kv.py args...]
# KV110_PYTHON: interpreter with kohakuvault 1.1.0 (default /opt/kv110/bin/python)
# KV_PYTHON:    interpreter with this project's package installed (default python3)
# KV_ROUNDS:    alternating rounds (default 3)
# KV_BENCH:     the script (default bench_kv.py; bench_col.py for ColumnVault)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=${KV110_PYTHON:-/opt/kv110/bin/python}
new=${KV_PYTHON:-python3}
rounds=${KV_ROUNDS:-3}
# numpy's OpenBLAS threads spin on idle cores; both packages import numpy.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$rounds"); do
  echo "== round $r/$rounds: kohakuvault 1.1.0 ($old)"
  "$old" "$here/${KV_BENCH:-bench_kv.py}" --json "$tmp/old.$r.json" "$@"
  echo
  echo "== round $r/$rounds: this project ($new)"
  $new "$here/${KV_BENCH:-bench_kv.py}" --json "$tmp/new.$r.json" "$@"
  echo
done
$new - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def load(side):
    runs = [json.load(open(f"{tmp}/{side}.{r}.json"))["results"] for r in range(1, rounds + 1)]
    return {name: (statistics.median(run[name]["value"] for run in runs), runs[0][name]["unit"])
            for name in runs[0]}
old, new = load("old"), load("new")
print(f"medians over {rounds} alternating rounds; speedup = 1.1.0 time / ours (> 1: faster)")
print(f"{'workload':<64} {'1.1.0':>10} {'ours':>10}  unit   speedup")
for name, (o, unit) in old.items():
    if name not in new:
        continue
    n = new[name][0]
    ratio = o / n if unit == "ms" else n / o
    print(f"{name:<64} {o:>10.1f} {n:>10.1f}  {unit:<5} {ratio:6.2f}x")
PY
