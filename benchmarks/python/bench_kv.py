"""KVault micro-benchmarks, runnable against whichever ``kohakuvault`` is importable.

    python3 benchmarks/python/bench_kv.py                 # this project's package
    /opt/kv110/bin/python benchmarks/python/bench_kv.py   # kohakuvault 1.1.0, for comparison
    ... --json out.json                                   # also write the medians (compare.sh)

Each workload runs on a fresh file several times; the table shows the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

import kohakuvault
from kohakuvault import KVault

N = 10_000
RAW = bytes(range(256))
STREAM_BYTES = 256 << 20


def small_dict(i: int) -> dict:
    return {"id": i, "name": f"user{i}", "tags": [1, 2, 3], "score": 0.5}


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


def _keys():
    return [f"key:{i:06d}" for i in range(N)]


def _fresh(tmp: str, name: str) -> KVault:
    path = os.path.join(tmp, f"{name}-{time.perf_counter_ns()}.db")
    return KVault(path)


def _filled(tmp: str, name: str, value_of) -> KVault:
    kv = _fresh(tmp, name)
    kv.put_many([(k, value_of(i)) for i, k in enumerate(_keys())])
    return kv


def bench_cached_writes(tmp, value_of):
    kv = _fresh(tmp, "cached")
    keys = _keys()
    values = [value_of(i) for i in range(N)]
    kv.enable_cache()
    t0 = time.perf_counter()
    for k, v in zip(keys, values):
        kv[k] = v
    kv.flush_cache()
    dt = time.perf_counter() - t0
    kv.close()
    return dt


def bench_put_many(tmp, value_of):
    kv = _fresh(tmp, "putmany")
    items = [(k, value_of(i)) for i, k in enumerate(_keys())]
    t0 = time.perf_counter()
    kv.put_many(items)
    dt = time.perf_counter() - t0
    kv.close()
    return dt


def bench_point_gets(tmp, value_of):
    kv = _filled(tmp, "gets", value_of)
    keys = _keys()
    t0 = time.perf_counter()
    for k in keys:
        kv[k]
    dt = time.perf_counter() - t0
    kv.close()
    return dt


def bench_get_many(tmp, value_of):
    kv = _filled(tmp, "getmany", value_of)
    keys = _keys()
    t0 = time.perf_counter()
    out = kv.get_many(keys)
    dt = time.perf_counter() - t0
    assert len(out) == N
    kv.close()
    return dt


def bench_items(tmp, value_of):
    kv = _filled(tmp, "items", value_of)
    t0 = time.perf_counter()
    n = sum(1 for _ in kv.items())
    dt = time.perf_counter() - t0
    assert n == N
    kv.close()
    return dt


def bench_threaded_gets(tmp, value_of):
    kv = _filled(tmp, "threads", value_of)
    keys = _keys()
    barrier = threading.Barrier(5)

    def work():
        barrier.wait()
        for k in keys:
            kv[k]

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    kv.close()
    return dt


def bench_stream_write(tmp):
    kv = _fresh(tmp, "stream")
    t0 = time.perf_counter()
    kv.put_file("blob", _Source(STREAM_BYTES), size=STREAM_BYTES)
    dt = time.perf_counter() - t0
    kv.close()
    return STREAM_BYTES / dt / 1e6


def bench_stream_read(tmp):
    kv = _fresh(tmp, "streamread")
    kv.put_file("blob", _Source(STREAM_BYTES), size=STREAM_BYTES)
    sink = _Sink()
    t0 = time.perf_counter()
    kv.get_to_file("blob", sink)
    dt = time.perf_counter() - t0
    assert sink.n == STREAM_BYTES
    kv.close()
    return STREAM_BYTES / dt / 1e6


def raw_value(i):
    return RAW


WORKLOADS = [
    ("10k x 256 B cached writes + flush", "ms", lambda t: bench_cached_writes(t, raw_value)),
    ("10k x 256 B put_many", "ms", lambda t: bench_put_many(t, raw_value)),
    ("10k point gets (256 B)", "ms", lambda t: bench_point_gets(t, raw_value)),
    ("get_many 10k (256 B)", "ms", lambda t: bench_get_many(t, raw_value)),
    ("items 10k (256 B)", "ms", lambda t: bench_items(t, raw_value)),
    ("4 threads x 10k gets (256 B)", "ms", lambda t: bench_threaded_gets(t, raw_value)),
    ("10k dict cached writes + flush", "ms", lambda t: bench_cached_writes(t, small_dict)),
    ("10k dict put_many", "ms", lambda t: bench_put_many(t, small_dict)),
    ("10k dict point gets", "ms", lambda t: bench_point_gets(t, small_dict)),
    ("get_many 10k dicts", "ms", lambda t: bench_get_many(t, small_dict)),
    ("items 10k dicts", "ms", lambda t: bench_items(t, small_dict)),
    ("4 threads x 10k dict gets", "ms", lambda t: bench_threaded_gets(t, small_dict)),
    ("256 MiB streamed write", "MB/s", bench_stream_write),
    ("256 MiB streamed read", "MB/s", bench_stream_read),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="runs per workload (median)")
    parser.add_argument("--stream-runs", type=int, default=3)
    parser.add_argument("--json", help="write {workload: median} to this file")
    parser.add_argument("--only", help="substring filter on workload names")
    args = parser.parse_args()

    version = getattr(kohakuvault, "__version__", "?")
    print(f"kohakuvault {version} from {os.path.dirname(kohakuvault.__file__)}")
    print(f"python {sys.version.split()[0]}, {args.runs} runs (median)\n")
    results = {}
    print(f"{'workload':<38} {'median':>10}  unit")
    with tempfile.TemporaryDirectory(prefix="kvbench-") as tmp:
        for name, unit, fn in WORKLOADS:
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
            print(f"{name:<38} {median:>10.1f}  {unit}", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"version": version, "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
