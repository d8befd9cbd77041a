"""TextVault workloads, runnable unchanged against kohakuvault 1.1.0 and this package.

    python3 benchmarks/python/bench_text.py                  # this package
    /opt/kv110/bin/python benchmarks/python/bench_text.py    # kohakuvault 1.1.0
    ... --json out.json                                      # medians for compare.sh
    ... --only "p50"                                         # only rows whose name has this
    KV_BENCH=bench_text.py benchmarks/python/compare.sh      # both, alternating rounds

Rows (one line each; the median over --runs):
* insert_many of 100k short documents (documents per second), into a fresh file.
* 2k single inserts (one transaction each in this package; two autocommit statements in 1.1.0),
  also with auto-pack off (raw bytes values), headers off, and a second connection open on the
  file ("+conn2": a child process reading it now and then).
* insert_many with auto-pack off and with headers off.
* top-10 search latency, p50 and p99 over 300 one-word queries, on 100k documents.
* top-10 search_with_snippets latency, p50 and p99, on 100k documents.
* top-10 search from 4 threads sharing one vault (queries per second), and p50 with +conn2.
* hybrid_search latency (BM25 + exact 384-d cosine, fused by RRF), p50 and p99, on 100k
  documents with one vector each (this package only: 1.1.0 has no hybrid search).

Documents are 8-16 words drawn from a Zipf-distributed vocabulary of 20k made-up words (the
same for both packages); queries are words drawn from the same distribution, so some are common
(long posting lists) and most are rare. Latency rows are ms per query (the "per op" column in
µs); each 100k table is filled once and its queries run on it --runs times.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager

import numpy as np
from _bench_common import run_on_fresh_files, second_connection

from kohakuvault import TextVault

BIG_N = 100_000
DIMS = 384
INSERTS = 2_000
QUERIES = 300
VOCAB = 20_000
HAS_HYBRID = hasattr(TextVault, "hybrid_search")
HAS_CLOSE = hasattr(TextVault, "close")


def _word(i: int) -> str:
    """A made-up word per index ("qa", "qb", …): letters only, distinct for distinct i."""
    out = ""
    i += 26
    while i:
        i, r = divmod(i, 26)
        out = "bcdfghjklmnpqrstvwxzaeiouy"[r] + out
    return out


WORDS = [_word(i) for i in range(VOCAB)]


def _zipf(rng, n: int) -> np.ndarray:
    ranks = rng.zipf(1.2, n)
    return np.where(ranks <= VOCAB, ranks - 1, rng.integers(0, VOCAB, n))


def _docs(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, 17, n)
    words = _zipf(rng, int(lengths.sum()))
    out, pos = [], 0
    for length in lengths:
        out.append(" ".join(WORDS[w] for w in words[pos : pos + length]))
        pos += length
    return out


def _queries(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [WORDS[w] for w in _zipf(rng, n)]


def _close(tv) -> None:
    if HAS_CLOSE:
        tv.close()


def _percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) of per-call times."""
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), q[98]


# ---- writes --------------------------------------------------------------------------------------


_READER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=5)
con.execute("SELECT count(*) FROM sqlite_master").fetchall()
print("ready", flush=True)
while True:
    time.sleep(0.01)
    con.execute("SELECT count(*) FROM sqlite_master").fetchall()
"""


def _opened(path: str, mode: str):
    """A vault in ``mode``: "" (defaults), "raw" (auto-pack off) or "noheaders"."""
    tv = TextVault(path, table="t")
    if mode == "raw":
        tv.disable_auto_pack()
    elif mode == "noheaders":
        tv.disable_headers()
    return tv


def _value(i: int, mode: str):
    return str(i).encode() if mode == "raw" else i


def insert_many_rate(path, mode=""):
    docs = _docs(BIG_N, 1)
    items = [(d, _value(i, mode)) for i, d in enumerate(docs)]
    tv = _opened(path, mode)
    t = time.perf_counter()
    tv.insert_many(items)
    dt = time.perf_counter() - t
    assert tv.count() == BIG_N
    _close(tv)
    return BIG_N / dt


def single_inserts(path, mode="", conn2=False):
    docs = _docs(INSERTS, 2)
    values = [_value(i, mode) for i in range(INSERTS)]
    tv = _opened(path, mode)
    with second_connection(conn2, _READER, path):
        t = time.perf_counter()
        for d, v in zip(docs, values):
            tv.insert(d, v)
        dt = time.perf_counter() - t
    assert tv.count() == INSERTS
    _close(tv)
    return dt


# ---- reads on 100k documents ---------------------------------------------------------------------


class BigTables:
    """One filled 100k-document file (and, for this package, one with 384-d vectors)."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.paths: dict[bool, str] = {}

    def path(self, vectors: bool) -> str:
        if vectors not in self.paths:
            path = os.path.join(self.tmp, f"big-{int(vectors)}.db")
            docs = _docs(BIG_N, 3)
            items = [(d, f"doc {i}") for i, d in enumerate(docs)]
            if vectors:
                rows = np.random.default_rng(4).standard_normal((BIG_N, DIMS), dtype=np.float32)
                tv = TextVault(path, table="t", dimensions=DIMS)
                for s in range(0, BIG_N, 20_000):
                    tv.insert_many(items[s : s + 20_000], vectors=rows[s : s + 20_000])
            else:
                tv = TextVault(path, table="t")
                tv.insert_many(items)
            _close(tv)
            self.paths[vectors] = path
        return self.paths[vectors]

    @contextmanager
    def open(self, vectors: bool = False):
        path = self.path(vectors)
        kwargs = {"dimensions": DIMS} if vectors else {}
        tv = TextVault(path, table="t", **kwargs)
        try:
            tv.search(WORDS[0], 10)  # warm (both packages)
            yield tv
        finally:
            _close(tv)


def _latency(big, fn, vectors=False, warm=20, conn2=False):
    queries = _queries(QUERIES, 5)
    with big.open(vectors) as tv, second_connection(conn2, _READER, big.path(vectors)):
        for q in queries[:warm]:
            fn(tv, q, 0)
        samples = []
        for j, q in enumerate(queries):
            t = time.perf_counter()
            hits = fn(tv, q, j)
            samples.append(time.perf_counter() - t)
            assert len(hits) <= 10
    return _percentiles(samples)


def threaded_search_rate(big, threads=4):
    """Queries per second from ``threads`` threads sharing one vault."""
    import threading

    queries = _queries(QUERIES * 4, 7)
    with big.open() as tv:
        chunks = [queries[i::threads] for i in range(threads)]

        def work(qs):
            for q in qs:
                tv.search(q, 10)

        workers = [threading.Thread(target=work, args=(c,)) for c in chunks]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return len(queries) / (time.perf_counter() - t)


def _search(tv, q, _j):
    return tv.search(q, 10)


def _snippets(tv, q, _j):
    return tv.search_with_snippets(q, 10)


_HYBRID_VECTORS = np.random.default_rng(6).standard_normal((QUERIES, DIMS), dtype=np.float32)


def _hybrid(tv, q, j):
    return tv.hybrid_search(q, _HYBRID_VECTORS[j], k=10)


def _workloads(big: BigTables):
    """(row name, unit, operations per run, function(path) -> seconds or a rate)."""

    def pct(fn, which, vectors=False, conn2=False):
        return lambda path: _latency(big, fn, vectors, conn2=conn2)[which]

    k = f"{INSERTS // 1000}k single inserts"
    big_docs = f"{BIG_N // 1000}k docs"
    rows = [
        (f"insert_many {BIG_N // 1000}k short docs", "docs/s", 0, insert_many_rate),
        (
            f"insert_many {BIG_N // 1000}k short docs, auto-pack off",
            "docs/s",
            0,
            lambda p: insert_many_rate(p, "raw"),
        ),
        (
            f"insert_many {BIG_N // 1000}k short docs, headers off",
            "docs/s",
            0,
            lambda p: insert_many_rate(p, "noheaders"),
        ),
        (k, "ms", INSERTS, single_inserts),
        (f"{k}, auto-pack off", "ms", INSERTS, lambda p: single_inserts(p, "raw")),
        (f"{k}, headers off", "ms", INSERTS, lambda p: single_inserts(p, "noheaders")),
        (f"{k} +conn2", "ms", INSERTS, lambda p: single_inserts(p, conn2=True)),
        (f"top-10 search p50, {big_docs}", "ms", 1, pct(_search, 0)),
        (f"top-10 search p99, {big_docs}", "ms", 1, pct(_search, 1)),
        (f"top-10 search p50, {big_docs} +conn2", "ms", 1, pct(_search, 0, conn2=True)),
        (
            f"top-10 search, {big_docs}, 4 threads",
            "q/s",
            0,
            lambda p: threaded_search_rate(big),
        ),
        (f"top-10 snippets p50, {BIG_N // 1000}k docs", "ms", 1, pct(_snippets, 0)),
        (f"top-10 snippets p99, {BIG_N // 1000}k docs", "ms", 1, pct(_snippets, 1)),
    ]
    if HAS_HYBRID:
        name = f"top-10 hybrid {{}}, {BIG_N // 1000}k docs x {DIMS}-d"
        rows += [
            (name.format("p50"), "ms", 1, pct(_hybrid, 0, True)),
            (name.format("p99"), "ms", 1, pct(_hybrid, 1, True)),
        ]
    return rows


def main() -> int:
    return run_on_fresh_files(__doc__, "textbench-", lambda tmp: _workloads(BigTables(tmp)), 52, 3)


if __name__ == "__main__":
    sys.exit(main())
