"""KVault micro-benchmarks, runnable against whichever ``kohakuvault`` is importable.

    python3 benchmarks/python/bench_kv.py                 # this project's package
    /opt/kv110/bin/python benchmarks/python/bench_kv.py   # kohakuvault 1.1.0, for comparison
    ... --json out.json                                   # also write the medians (compare.sh)
    ... --only "pack=off"                                 # only rows whose name contains this

Every mode a user can choose is measured with 20k keys x 256 B values: auto-pack on/off,
headers on/off, write-back cache on/off, each alone and with a second connection open on the
file (a child process holding a sqlite3 connection that reads now and then; never sqlite3 in
this process, whose second SQLite library would break the vault's POSIX locks). Then dict
values and streams in the default mode. Each workload runs on a fresh file several times; the
table shows the median, one row per workload. Only the kohakuvault 1.1.0 API is used, so the
same script runs against both packages.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager

from _bench_common import arguments, print_versions, second_connection, write_json

from kohakuvault import KVault

N = 20_000
THREADS = 4
RAW = bytes(range(256))
STREAM_BYTES = 256 << 20

# A second connection on the vault's file: opens it, reads one row now and then until killed.
_READER = r"""
import random, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=5)
n = int(sys.argv[2])
sql = 'SELECT value FROM "kv" WHERE key >= ? LIMIT 1'
con.execute(sql, (b"",)).fetchall()
print("ready", flush=True)
while True:
    time.sleep(0.01)
    con.execute(sql, (b"key:%06d" % random.randrange(n),)).fetchall()
"""


class Mode:
    def __init__(self, auto_pack: bool, headers: bool, cache: bool, conn2: bool):
        self.auto_pack, self.headers, self.cache, self.conn2 = auto_pack, headers, cache, conn2

    @property
    def label(self) -> str:
        on = {True: "on", False: "off"}
        return (
            f"pack={on[self.auto_pack]} hdr={on[self.headers]} cache={on[self.cache]}"
            f"{' +conn2' if self.conn2 else ''}"
        )

    def apply(self, kv: KVault) -> None:
        # enable_auto_pack forces headers on, so auto-pack is set first.
        if not self.auto_pack:
            kv.disable_auto_pack()
        if not self.headers:
            kv.disable_headers()
        if self.cache:
            kv.enable_cache()


DEFAULT = Mode(True, True, False, False)
MODES = [
    Mode(p, h, c, s)
    for s, p, h, c in itertools.product((False, True), (True, False), (True, False), (False, True))
]


def small_dict(i: int) -> dict:
    return {"id": i, "name": f"user{i}", "tags": [1, 2, 3], "score": 0.5}


def raw_value(i: int) -> bytes:
    return RAW


class _Source:
    """A reader producing ``size`` bytes without holding them all."""

    def __init__(self, size: int):
        self.left = size
        self.block = os.urandom(1 << 20)

    def read(self, n: int = -1) -> bytes:
        n = min(n if n >= 0 else self.left, self.left, len(self.block))
        self.left -= n
        return self.block[:n]


class _Sink:
    def __init__(self) -> None:
        self.n = 0

    def write(self, b) -> int:
        self.n += len(b)
        return len(b)


_KEYS = [f"key:{i:06d}" for i in range(N)]


def _second_connection(path: str, enabled: bool):
    return second_connection(enabled, _READER, path, str(N))


@contextmanager
def _vault(tmp: str, mode: Mode, value_of=None):
    """A fresh vault in ``mode`` (filled with N values when ``value_of`` is given)."""
    path = os.path.join(tmp, f"bench-{time.perf_counter_ns()}.db")
    kv = KVault(path)
    try:
        mode.apply(kv)
        if value_of is not None:
            kv.put_many([(k, value_of(i)) for i, k in enumerate(_KEYS)])
        with _second_connection(path, mode.conn2):
            yield kv
    finally:
        kv.close()


def bench_writes(tmp, mode, value_of):
    """``kv[k] = v`` for every key (through the cache when it is on), then a flush."""
    values = [value_of(i) for i in range(N)]
    with _vault(tmp, mode) as kv:
        t0 = time.perf_counter()
        for k, v in zip(_KEYS, values):
            kv[k] = v
        if mode.cache:
            kv.flush_cache()
        return time.perf_counter() - t0


def bench_put_many(tmp, mode, value_of):
    items = [(k, value_of(i)) for i, k in enumerate(_KEYS)]
    with _vault(tmp, mode) as kv:
        t0 = time.perf_counter()
        kv.put_many(items)
        return time.perf_counter() - t0


def bench_point_gets(tmp, mode, value_of):
    with _vault(tmp, mode, value_of) as kv:
        t0 = time.perf_counter()
        for k in _KEYS:
            kv[k]
        return time.perf_counter() - t0


def bench_get_many(tmp, mode, value_of):
    with _vault(tmp, mode, value_of) as kv:
        t0 = time.perf_counter()
        out = kv.get_many(_KEYS)
        dt = time.perf_counter() - t0
        assert len(out) == N
        return dt


def bench_items(tmp, mode, value_of):
    with _vault(tmp, mode, value_of) as kv:
        t0 = time.perf_counter()
        n = sum(1 for _ in kv.items())
        dt = time.perf_counter() - t0
        assert n == N
        return dt


def bench_values(tmp, mode, value_of):
    with _vault(tmp, mode, value_of) as kv:
        t0 = time.perf_counter()
        n = sum(1 for _ in kv.values())
        dt = time.perf_counter() - t0
        assert n == N
        return dt


def bench_threaded_gets(tmp, mode, value_of):
    with _vault(tmp, mode, value_of) as kv:
        barrier = threading.Barrier(THREADS + 1)

        def work():
            barrier.wait()
            for k in _KEYS:
                kv[k]

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        return time.perf_counter() - t0


def bench_stream_write(tmp, mode):
    with _vault(tmp, mode) as kv:
        t0 = time.perf_counter()
        kv.put_file("blob", _Source(STREAM_BYTES), size=STREAM_BYTES)
        return STREAM_BYTES / (time.perf_counter() - t0) / 1e6


def bench_stream_read(tmp, mode, checkpoint=False):
    """``get_to_file`` of the blob written just before; with ``checkpoint``, once it is in the
    database file (``checkpoint()`` first): without, our package (checkpoints off the commit
    path) still finds it in the WAL and reads it page by page."""
    with _vault(tmp, mode) as kv:
        kv.put_file("blob", _Source(STREAM_BYTES), size=STREAM_BYTES)
        if checkpoint:
            kv.checkpoint()
        sink = _Sink()
        t0 = time.perf_counter()
        kv.get_to_file("blob", sink)
        dt = time.perf_counter() - t0
        assert sink.n == STREAM_BYTES
        return STREAM_BYTES / dt / 1e6


# (name, operations per run or 0, function(tmp, mode, value_of))
MODE_WORKLOADS = [
    ("20k point gets", N, bench_point_gets),
    ("get_many 20k", N, bench_get_many),
    ("items 20k", N, bench_items),
    ("values 20k", N, bench_values),
    ("put_many 20k", N, bench_put_many),
    ("20k kv[k]=v (+flush)", N, bench_writes),
    (f"{THREADS} threads x 20k gets", THREADS * N, bench_threaded_gets),
]


def _workloads():
    """(row name, unit, operations per run, function(tmp))."""
    rows = []
    for mode in MODES:
        for name, ops, fn in MODE_WORKLOADS:
            rows.append(
                (
                    f"{name} 256 B [{mode.label}]",
                    "ms",
                    ops,
                    lambda t, m=mode, f=fn: f(t, m, raw_value),
                )
            )
    for name, ops, fn in MODE_WORKLOADS:
        rows.append(
            (
                f"{name} dicts [{DEFAULT.label}]",
                "ms",
                ops,
                lambda t, f=fn: f(t, DEFAULT, small_dict),
            )
        )
    rows.append(("256 MiB streamed write", "MB/s", 0, lambda t: bench_stream_write(t, DEFAULT)))
    rows.append(("256 MiB streamed read", "MB/s", 0, lambda t: bench_stream_read(t, DEFAULT)))
    rows.append(
        (
            "256 MiB streamed read, checkpointed",
            "MB/s",
            0,
            lambda t: bench_stream_read(t, DEFAULT, checkpoint=True),
        )
    )
    return rows


def main() -> int:
    parser = arguments(__doc__, 5)
    parser.add_argument("--stream-runs", type=int, default=3)
    args = parser.parse_args()

    print_versions(args.runs)
    results = {}
    print(f"{'workload':<64} {'median':>10}  unit   {'per op':>8}")
    with tempfile.TemporaryDirectory(prefix="kvbench-") as tmp:
        for name, unit, ops, fn in _workloads():
            if args.only and args.only not in name:
                continue
            runs = args.stream_runs if unit == "MB/s" else args.runs
            samples = []
            for _ in range(runs):
                value = fn(tmp)
                samples.append(value * 1000 if unit == "ms" else value)
                for entry in os.listdir(tmp):
                    os.remove(os.path.join(tmp, entry))
            median = statistics.median(samples)
            results[name] = {"value": median, "unit": unit}
            per_op = f"{median * 1000 / ops:6.2f} µs" if ops and unit == "ms" else ""
            print(f"{name:<64} {median:>10.1f}  {unit:<5}  {per_op:>8}", flush=True)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
