#!/usr/bin/env bash
# Run a benchmark script against kohakuvault 1.1.0 and against this project's package,
# alternating in rounds (so slow drifts of the machine hit both alike); print each workload's
# median over the rounds and the ratio (rows that 1.1.0 cannot run show ours alone).
#   benchmarks/python/compare.sh [script args...]
# KV110_PYTHON: interpreter with kohakuvault 1.1.0 (default /opt/kv110/bin/python)
# KV_PYTHON:    interpreter with this project's package installed (default python3)
# KV_ROUNDS:    alternating rounds (default 3)
# KV_BENCH:     the script: kv (default), col (ColumnVault), vec (VectorKVault), or a file name
#               in this folder such as bench_col.py
# KV_INTERLEAVE: workload-name substrings separated by ';': each round then runs, for each
#               substring in turn, 1.1.0 and ours back to back on those rows only (seconds apart
#               instead of minutes: fairer for noisy rows such as point gets)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${KV_BENCH:-kv}
case "$bench" in
  kv | col | vec) bench="bench_$bench.py" ;;
esac
old=${KV110_PYTHON:-/opt/kv110/bin/python}
new=${KV_PYTHON:-python3}
rounds=${KV_ROUNDS:-3}
# numpy's OpenBLAS threads spin on idle cores; both packages import numpy.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -n "${KV_INTERLEAVE:-}" ]]; then
  IFS=';' read -ra parts <<< "$KV_INTERLEAVE"
  for r in $(seq 1 "$rounds"); do
    i=0
    for part in "${parts[@]}"; do
      i=$((i + 1))
      echo "== round $r/$rounds, rows \"$part\": 1.1.0, then ours"
      "$old" "$here/$bench" --json "$tmp/old.$r.$i.json" --only "$part" "$@" > /dev/null
      $new "$here/$bench" --json "$tmp/new.$r.$i.json" --only "$part" "$@" > /dev/null
    done
  done
else
  for r in $(seq 1 "$rounds"); do
    echo "== round $r/$rounds: kohakuvault 1.1.0 ($old)"
    "$old" "$here/$bench" --json "$tmp/old.$r.1.json" "$@"
    echo
    echo "== round $r/$rounds: this project ($new)"
    $new "$here/$bench" --json "$tmp/new.$r.1.json" "$@"
    echo
  done
fi
$new - "$tmp" "$rounds" <<'PY'
import glob, json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
def load(side):
    runs = []
    for r in range(1, rounds + 1):
        merged = {}
        for path in sorted(glob.glob(f"{tmp}/{side}.{r}.*.json")):
            merged.update(json.load(open(path))["results"])
        runs.append(merged)
    return {name: (statistics.median(run[name]["value"] for run in runs), runs[0][name]["unit"])
            for name in runs[0]}
old, new = load("old"), load("new")
print(f"medians over {rounds} alternating rounds; speedup = 1.1.0 time / ours, or ours / 1.1.0")
print("for rates (> 1: faster); '-' where 1.1.0 cannot run the workload")
print(f"{'workload':<64} {'1.1.0':>10} {'ours':>10}  unit    speedup")
for name, (n, unit) in new.items():
    if name not in old:
        print(f"{name:<64} {'-':>10} {n:>10.1f}  {unit:<6}")
        continue
    o = old[name][0]
    ratio = o / n if unit == "ms" else n / o
    print(f"{name:<64} {o:>10.1f} {n:>10.1f}  {unit:<6} {ratio:6.2f}x")
PY
