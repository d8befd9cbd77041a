"""VectorKVault workloads, runnable unchanged against kohakuvault 1.1.0 and this package.

    python3 benchmarks/python/bench_vec.py                  # this package
    /opt/kv110/bin/python benchmarks/python/bench_vec.py    # kohakuvault 1.1.0
    ... --json out.json                                     # medians for compare.sh
    ... --only "l2"                                         # only rows whose name has this
    KV_BENCH=vec benchmarks/python/compare.sh               # both, alternating rounds

Rows (one line each; the median over --runs):
* 2k x 128-d, cosine and l2: 2k inserts one by one, get_by_id of all, 200 top-10 searches,
  4 threads x 200 top-10 searches on one handle.
* 100k x 384-d exact search throughput (million vectors scanned per second, top-10), for every
  metric and type (f32 cosine / l2 / l1, int8 l2 / l1, bit hamming), alone and with a second
  connection open on the file (a child process holding a sqlite3 connection that reads a
  value now and then; never sqlite3 in this process, whose second SQLite library would break
  the vault's POSIX locks).
* insert_many of 10k x 384-d rows per type (1.1.0 has no insert_many: a loop of insert).
* search_many of 100 queries over 100k x 384-d (1.1.0: a loop of search).
* filtered top-10 searches (by ids, by metadata) over 100k x 384-d (not in 1.1.0).

What a package cannot do is skipped (1.1.0 stores only f32 vectors and has no metadata
filters); each 100k table is filled once and its searches run on it --runs times.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
from _bench_common import run_on_fresh_files, second_connection

from kohakuvault import VectorKVault

SMALL_N, SMALL_D = 2_000, 128
BIG_N, BIG_D = 100_000, 384
THREADS = 4
SEARCHES = 200
TPUT_QUERIES = 20
MANY_ROWS = 10_000
MANY_QUERIES = 50
FILTER_QUERIES = 50
# (metric, vector_type) of the throughput rows.
KINDS = [
    ("cosine", "f32"),
    ("l2", "f32"),
    ("l1", "f32"),
    ("l2", "int8"),
    ("l1", "int8"),
    ("hamming", "bit"),
]

HAS_INSERT_MANY = hasattr(VectorKVault, "insert_many")
HAS_SEARCH_MANY = hasattr(VectorKVault, "search_many")

# A second connection on the vault's file: reads one value now and then until killed.
_READER = r"""
import random, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=5)
sql = 'SELECT value FROM "%s_values" WHERE id = ?' % sys.argv[2]
n = int(sys.argv[3])
con.execute(sql, (1,)).fetchall()
print("ready", flush=True)
while True:
    time.sleep(0.01)
    con.execute(sql, (random.randrange(1, n + 1),)).fetchall()
"""


def _second_connection(path: str, table: str, n: int, enabled: bool):
    return second_connection(enabled, _READER, path, table, str(n))


def _vectors(n: int, dims: int, vector_type: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if vector_type == "int8":
        return rng.integers(-128, 128, (n, dims), dtype=np.int8)
    if vector_type == "bit":
        return np.packbits(rng.integers(0, 2, (n, dims), dtype=np.uint8), axis=1)
    return rng.standard_normal((n, dims), dtype=np.float32)


def _supported(tmp: str, metric: str, vector_type: str) -> bool:
    """Whether this package can store and search (metric, vector_type) vectors at all."""
    path = os.path.join(tmp, f"probe-{metric}-{vector_type}.db")
    try:
        vk = VectorKVault(
            path, table="probe", dimensions=16, metric=metric, vector_type=vector_type
        )
        try:
            v = _vectors(1, 16, vector_type, 0)[0]
            vk.insert(v, "x")
            return len(vk.search(v, k=1)) == 1
        finally:
            vk.close()
    except Exception:
        return False
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


def _fill(vk: VectorKVault, vectors: np.ndarray, metadata=None) -> None:
    values = [f"doc {i}" for i in range(len(vectors))]
    if HAS_INSERT_MANY:
        for s in range(0, len(vectors), 20_000):
            meta = None if metadata is None else metadata[s : s + 20_000]
            vk.insert_many(vectors[s : s + 20_000], values[s : s + 20_000], metadata=meta)
    else:
        for v, val in zip(vectors, values):
            vk.insert(v, val)


# ---- 2k x 128-d ------------------------------------------------------------------------------


def small_inserts(path, metric):
    data = _vectors(SMALL_N, SMALL_D, "f32", 1)
    vk = VectorKVault(path, table="v", dimensions=SMALL_D, metric=metric)
    t = time.perf_counter()
    for i, v in enumerate(data):
        vk.insert(v, f"doc {i}")
    dt = time.perf_counter() - t
    assert vk.count() == SMALL_N
    vk.close()
    return dt


@contextmanager
def _small_vault(path, metric):
    vk = VectorKVault(path, table="v", dimensions=SMALL_D, metric=metric)
    try:
        _fill(vk, _vectors(SMALL_N, SMALL_D, "f32", 1))
        vk.search(_vectors(1, SMALL_D, "f32", 9)[0], k=10)  # warm (both packages)
        yield vk
    finally:
        vk.close()


def small_get_by_id(path, metric):
    with _small_vault(path, metric) as vk:
        t = time.perf_counter()
        for i in range(1, SMALL_N + 1):
            vk.get_by_id(i)
        return time.perf_counter() - t


def small_searches(path, metric):
    queries = _vectors(SEARCHES, SMALL_D, "f32", 2)
    with _small_vault(path, metric) as vk:
        t = time.perf_counter()
        for q in queries:
            hits = vk.search(q, k=10)
        dt = time.perf_counter() - t
        assert len(hits) == 10
        return dt


def small_threaded_searches(path, metric):
    queries = _vectors(SEARCHES, SMALL_D, "f32", 3)
    with _small_vault(path, metric) as vk:
        barrier = threading.Barrier(THREADS + 1)
        errors = []

        def work():
            barrier.wait()
            try:
                for q in queries:
                    vk.search(q, k=10)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for th in threads:
            th.start()
        barrier.wait()
        t = time.perf_counter()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
        if errors:
            raise errors[0]
        return dt


# ---- 100k x 384-d ----------------------------------------------------------------------------


class BigTables:
    """One filled 100k x 384-d file per (metric, type), kept for all its rows and runs."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.paths = {}

    def path(self, metric, vector_type, metadata=False):
        key = (metric, vector_type, metadata)
        if key not in self.paths:
            path = os.path.join(self.tmp, f"big-{metric}-{vector_type}-{int(metadata)}.db")
            vk = VectorKVault(
                path, table="v", dimensions=BIG_D, metric=metric, vector_type=vector_type
            )
            meta = [{"group": i % 10, "even": i % 2 == 0} for i in range(BIG_N)]
            _fill(vk, _vectors(BIG_N, BIG_D, vector_type, 4), meta if metadata else None)
            vk.close()
            self.paths[key] = path
        return self.paths[key]

    @contextmanager
    def open(self, metric, vector_type, conn2=False, metadata=False):
        path = self.path(metric, vector_type, metadata)
        vk = VectorKVault(path, table="v", dimensions=BIG_D, metric=metric, vector_type=vector_type)
        try:
            with _second_connection(path, "v", BIG_N, conn2):
                vk.search(_vectors(1, BIG_D, vector_type, 9)[0], k=10)  # warm
                yield vk
        finally:
            vk.close()


def big_throughput(big, metric, vector_type, conn2):
    queries = _vectors(TPUT_QUERIES, BIG_D, vector_type, 5)
    with big.open(metric, vector_type, conn2) as vk:
        t = time.perf_counter()
        for q in queries:
            hits = vk.search(q, k=10)
        dt = time.perf_counter() - t
        assert len(hits) == 10
    return TPUT_QUERIES * BIG_N / dt / 1e6


def big_search_many(big, metric, vector_type):
    queries = _vectors(MANY_QUERIES, BIG_D, vector_type, 6)
    with big.open(metric, vector_type) as vk:
        t = time.perf_counter()
        if HAS_SEARCH_MANY:
            out = vk.search_many(queries, k=10)
        else:
            out = [vk.search(q, k=10) for q in queries]
        dt = time.perf_counter() - t
        assert len(out) == MANY_QUERIES and len(out[-1]) == 10
    return dt


def big_filtered(big, how):
    queries = _vectors(FILTER_QUERIES, BIG_D, "f32", 7)
    some_ids = list(range(1, BIG_N + 1, 100))  # 1% of the rows
    with big.open("cosine", "f32", metadata=True) as vk:
        t = time.perf_counter()
        for q in queries:
            if how == "ids":
                hits = vk.search(q, k=10, ids=some_ids)
            else:
                hits = vk.search(q, k=10, metadata_equals={"group": 3})
        dt = time.perf_counter() - t
        assert len(hits) == 10
    return dt


def insert_many_rows(path, metric, vector_type):
    data = _vectors(MANY_ROWS, BIG_D, vector_type, 8)
    values = [f"doc {i}" for i in range(MANY_ROWS)]
    vk = VectorKVault(path, table="v", dimensions=BIG_D, metric=metric, vector_type=vector_type)
    t = time.perf_counter()
    if HAS_INSERT_MANY:
        vk.insert_many(data, values)
    else:
        for v, val in zip(data, values):
            vk.insert(v, val)
    dt = time.perf_counter() - t
    assert vk.count() == MANY_ROWS
    vk.close()
    return dt


def _workloads(tmp: str, big: BigTables):
    """(row name, unit, operations per run, function(path) -> seconds or a rate, fresh file)."""
    supported = {kind: _supported(tmp, *kind) for kind in KINDS}
    rows = []
    for metric in ("cosine", "l2"):
        tag = f"[{metric}]"
        rows += [
            (
                f"{SMALL_N // 1000}k x {SMALL_D} inserts one by one {tag}",
                "ms",
                SMALL_N,
                lambda p, m=metric: small_inserts(p, m),
            ),
            (
                f"get_by_id {SMALL_N // 1000}k {tag}",
                "ms",
                SMALL_N,
                lambda p, m=metric: small_get_by_id(p, m),
            ),
            (
                f"{SEARCHES} top-10 searches, {SMALL_N // 1000}k x {SMALL_D} {tag}",
                "ms",
                SEARCHES,
                lambda p, m=metric: small_searches(p, m),
            ),
            (
                f"{THREADS} threads x {SEARCHES} searches, {SMALL_N // 1000}k x {SMALL_D}, one handle {tag}",
                "ms",
                THREADS * SEARCHES,
                lambda p, m=metric: small_threaded_searches(p, m),
            ),
        ]
    for (metric, vtype), ok in supported.items():
        if not ok:
            continue
        for conn2 in (False, True):
            rows.append(
                (
                    f"search 100k x {BIG_D} {vtype} {metric}{' +conn2' if conn2 else ''}",
                    "Mvec/s",
                    0,
                    lambda p, m=metric, v=vtype, c=conn2: big_throughput(big, m, v, c),
                )
            )
    for (metric, vtype), ok in supported.items():
        if ok and (metric, vtype) != ("l1", "f32") and (metric, vtype) != ("l1", "int8"):
            rows.append(
                (
                    f"insert_many {MANY_ROWS // 1000}k x {BIG_D} {vtype} {metric}",
                    "ms",
                    MANY_ROWS,
                    lambda p, m=metric, v=vtype: insert_many_rows(p, m, v),
                )
            )
    for metric, vtype in (("cosine", "f32"), ("l2", "f32")):
        if supported[(metric, vtype)]:
            rows.append(
                (
                    f"search_many {MANY_QUERIES} queries, 100k x {BIG_D} {vtype} {metric}",
                    "ms",
                    MANY_QUERIES,
                    lambda p, m=metric, v=vtype: big_search_many(big, m, v),
                )
            )
    try:
        import inspect

        filters = "metadata_equals" in inspect.signature(VectorKVault.search).parameters
    except (TypeError, ValueError):
        filters = False
    if filters:
        rows.append(
            (
                f"{FILTER_QUERIES} searches filtered by ids (1%), 100k x {BIG_D}",
                "ms",
                FILTER_QUERIES,
                lambda p: big_filtered(big, "ids"),
            )
        )
        rows.append(
            (
                f"{FILTER_QUERIES} searches filtered by metadata (10%), 100k x {BIG_D}",
                "ms",
                FILTER_QUERIES,
                lambda p: big_filtered(big, "meta"),
            )
        )
    return rows


def main() -> int:
    return run_on_fresh_files(
        __doc__, "vecbench-", lambda tmp: _workloads(tmp, BigTables(tmp)), 64, 1
    )


if __name__ == "__main__":
    sys.exit(main())
