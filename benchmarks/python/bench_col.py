"""ColumnVault workloads, runnable unchanged against kohakuvault 1.1.0 and this package.

    python3 benchmarks/python/bench_col.py                  # this package
    /opt/kv110/bin/python benchmarks/python/bench_col.py    # kohakuvault 1.1.0
    ... --json out.json                                     # medians for compare.sh
    KV_BENCH=bench_col.py benchmarks/python/compare.sh      # both, alternating rounds

Each workload times only the operation (the file and its data are prepared before the clock
starts); the figure is the median over --runs fresh files. Modes a user can choose are covered:
direct and cached appends, lists and numpy arrays, fixed and variable width, text; each row also
runs with a second connection open on the file ("+conn2": a child process holding an sqlite3
connection that reads the column catalog now and then).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

import numpy as np
from _bench_common import arguments, print_versions, second_connection, write_json

from kohakuvault import ColumnVault

N = 1_000_000

# A second connection on the file (a child process; never sqlite3 in this process, whose second
# SQLite library would break the vault's POSIX locks): reads the catalog until killed.
_READER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=5)
con.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("ready", flush=True)
while True:
    time.sleep(0.01)
    con.execute("SELECT count(*) FROM sqlite_master").fetchall()
"""


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _filled(path, n=N):
    cv = ColumnVault(path)
    col = cv.create_column("x", "i64")
    col.append_array(np.arange(n, dtype=np.int64))
    return cv, col


def append_array(path):
    cv = ColumnVault(path)
    col = cv.create_column("x", "i64")
    data = np.arange(N, dtype=np.int64)
    dt = _timed(lambda: col.append_array(data))
    cv.close()
    return dt


def read_array(path):
    cv, col = _filled(path)
    col.read_array(0, 10)  # warm
    dt = _timed(lambda: col.read_array())
    cv.close()
    return dt


def list_extend(path):
    cv = ColumnVault(path)
    col = cv.create_column("x", "i64")
    data = list(range(N))
    dt = _timed(lambda: col.extend(data))
    cv.close()
    return dt


def list_read(path):
    cv, col = _filled(path)
    dt = _timed(lambda: col[:])
    cv.close()
    return dt


def slices(path):
    cv, col = _filled(path, 100_000)
    starts = list(range(0, 100_000 - 64, 97))[:1000]

    def run():
        for s in starts:
            col[s : s + 64]

    dt = _timed(run)
    cv.close()
    return dt


def cached_scalar_appends(path):
    cv = ColumnVault(path)
    col = cv.create_column("x", "i64")

    def run():
        with col.cache():
            for i in range(20_000):
                col.append(i)

    dt = _timed(run)
    assert len(col) == 20_000
    cv.close()
    return dt


def direct_scalar_appends(path):
    cv = ColumnVault(path)
    col = cv.create_column("x", "i64")

    def run():
        for i in range(2_000):
            col.append(i)

    dt = _timed(run)
    cv.close()
    return dt


RECS = [bytes([i % 251]) * 64 for i in range(10_000)]


def var_append(path):
    cv = ColumnVault(path)
    col = cv.create_column("b", "bytes")
    dt = _timed(lambda: col.extend(RECS))
    cv.close()
    return dt


def var_list_read(path):
    cv = ColumnVault(path)
    col = cv.create_column("b", "bytes")
    col.extend(RECS)
    dt = _timed(lambda: col[:])
    cv.close()
    return dt


def var_read_buffers(path):
    cv = ColumnVault(path)
    col = cv.create_column("b", "bytes")
    col.extend(RECS)
    dt = _timed(lambda: col.read_buffers())
    cv.close()
    return dt


def str_append(path):
    cv = ColumnVault(path)
    col = cv.create_column("s", "str")
    texts = [f"record number {i}" for i in range(10_000)]
    dt = _timed(lambda: col.extend(texts))
    cv.close()
    return dt


TENSORS = None


def _tensors():
    global TENSORS
    if TENSORS is None:
        TENSORS = np.random.default_rng(0).random((100_000, 384), dtype=np.float32)
    return TENSORS


def tensor_append(path):
    data = _tensors()
    cv = ColumnVault(path)
    col = cv.create_column("e", "vec:f32:384")
    dt = _timed(lambda: col.append_array(data))
    cv.close()
    return dt


def tensor_read(path):
    data = _tensors()
    cv = ColumnVault(path)
    col = cv.create_column("e", "vec:f32:384")
    col.append_array(data)
    dt = _timed(lambda: col.read_array())
    cv.close()
    return dt


WORKLOADS = [
    ("1M i64 append_array", append_array, N),
    ("1M i64 read_array", read_array, N),
    ("1M list extend", list_extend, N),
    ("1M col[:]", list_read, N),
    ("1000 slices of 64 rows", slices, 1000),
    ("20k cached scalar appends", cached_scalar_appends, 20_000),
    ("2k direct scalar appends (committed each)", direct_scalar_appends, 2_000),
    ("10k x 64 B variable extend", var_append, 10_000),
    ("10k x 64 B variable col[:]", var_list_read, 10_000),
    ("10k x 64 B read_buffers", var_read_buffers, 10_000),
    ("10k str extend", str_append, 10_000),
    ("100k x 384 f32 append_array", tensor_append, 100_000),
    ("100k x 384 f32 read_array", tensor_read, 100_000),
]


def main() -> int:
    args = arguments(__doc__, 5).parse_args()
    print_versions()
    print(f"{'workload':<50} {'median':>9}  unit  {'per op':>9}   GB/s")
    results = {}
    with tempfile.TemporaryDirectory(prefix="colbench-") as tmp:
        rows = [(n + m, fn, ops, m != "") for n, fn, ops in WORKLOADS for m in ("", " +conn2")]
        for name, fn, ops, conn2 in rows:
            if args.only and args.only not in name:
                continue
            samples = []
            for r in range(args.runs):
                path = os.path.join(tmp, f"b{r}.db")
                if conn2:
                    ColumnVault(path).close()  # the file exists before the reader opens it
                with second_connection(conn2, _READER, path):
                    samples.append(fn(path) * 1000)
                for e in os.listdir(tmp):
                    os.remove(os.path.join(tmp, e))
            med = statistics.median(samples)
            results[name] = {"value": med, "unit": "ms"}
            gbs = ""
            if "read_array" in name or "append_array" in name:
                nbytes = ops * (384 * 4 if "384" in name else 8)
                gbs = f"{nbytes / (med / 1000) / 1e9:6.2f}"
            print(f"{name:<50} {med:>9.2f}  ms   {med * 1000 / ops:>7.3f} µs  {gbs}", flush=True)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
