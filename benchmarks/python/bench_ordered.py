"""CSBTree and SkipList micro-benchmarks, runnable against whichever ``kohakuvault`` is importable.

    python3 benchmarks/python/bench_ordered.py                 # this project's package
    /opt/kv110/bin/python benchmarks/python/bench_ordered.py   # kohakuvault 1.1.0
    KV_BENCH=bench_ordered.py benchmarks/python/compare.sh     # both, alternating, with ratios
    ... --json out.json / --only "SkipList" / --runs 5

100k distinct int keys in random order (and 100k str and bytes keys): insert, get, getitem,
contains, remove, 1000 ranges of 100 keys, items, keys, values, iteration; the batch members
where the package has them (1.1.0's ``CSBTree.update`` runs on both); the same workload for
``sortedcontainers.SortedDict`` when it is installed. Each row builds its container untimed,
then times one pass; the table shows the median of the runs. Rows that crashed 1.1.0 (its
SkipList removal) run in a child process, so a crash costs only that row.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time

from _bench_common import arguments, print_versions, write_json

from kohakuvault import CSBTree, SkipList

try:
    from sortedcontainers import SortedDict
except ImportError:  # not installed next to 1.1.0
    SortedDict = None

N = 100_000
RANGES = 1000
RANGE_LEN = 100

_rng = random.Random(42)
INTS = _rng.sample(range(-(10**12), 10**12), N)
STRS = [f"user:{k:013d}" for k in _rng.sample(range(10**13), N)]
BYTES = [s.encode() for s in _rng.sample(STRS, N)]

HAS_BATCH = hasattr(CSBTree, "insert_many")


# ---- the containers, behind one small interface ------------------------------------------------


class Box:
    """How a row fills and queries one kind of container."""

    name = "?"

    def new(self):
        raise NotImplementedError

    def fill(self, c, keys):
        for k in keys:
            c[k] = k


class TreeBox(Box):
    name = "CSBTree"
    new = staticmethod(CSBTree)


class ListBox(Box):
    name = "SkipList"
    new = staticmethod(SkipList)


class SortedBox(Box):
    name = "SortedDict"
    new = staticmethod(lambda: SortedDict())


BOXES = [TreeBox(), ListBox()] + ([SortedBox()] if SortedDict is not None else [])
KEYSETS = {"int": INTS, "str": STRS, "bytes": BYTES}


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _filled(box, keys):
    c = box.new()
    box.fill(c, keys)
    return c


# ---- single keys ----------------------------------------------------------------------------------


def row_insert(box, keys):
    c = box.new()
    if box.name == "SortedDict":

        def run():
            for k in keys:
                c[k] = k

    else:
        insert = c.insert

        def run():
            for k in keys:
                insert(k, k)

    return _timed(run)


def row_setitem(box, keys):
    c = box.new()

    def run():
        for k in keys:
            c[k] = k

    return _timed(run)


def row_get(box, keys):
    c = _filled(box, keys)
    get = c.get
    order = keys[::-1]

    def run():
        for k in order:
            get(k)

    return _timed(run)


def row_getitem(box, keys):
    c = _filled(box, keys)
    order = keys[::-1]

    def run():
        for k in order:
            c[k]

    return _timed(run)


def row_contains(box, keys):
    c = _filled(box, keys)
    order = keys[::-1]

    def run():
        for k in order:
            k in c  # noqa: B015

    return _timed(run)


def row_remove(box, keys):
    c = _filled(box, keys)
    order = keys[::-1]
    if box.name == "SortedDict":
        remove = c.pop
    else:
        remove = c.remove

    def run():
        for k in order:
            remove(k)

    return _timed(run)


# ---- ranges and whole-container reads ------------------------------------------------------------


def _bounds(keys):
    srt = sorted(keys)
    r = random.Random(7)
    out = []
    for _ in range(RANGES):
        i = r.randrange(N - RANGE_LEN)
        out.append((srt[i], srt[i + RANGE_LEN]))
    return out


def row_ranges(box, keys):
    c = _filled(box, keys)
    bounds = _bounds(keys)
    if box.name == "SortedDict":
        items = c.items()

        def run():
            for a, b in bounds:
                items[c.bisect_left(a) : c.bisect_left(b)]

    else:
        rng = c.range

        def run():
            for a, b in bounds:
                rng(a, b)

    return _timed(run)


def _whole(method: str):
    """A row that times one ``c.<method>()`` list of the whole container (SortedDict: its
    view made a list)."""

    def row(box, keys):
        fn = getattr(_filled(box, keys), method)
        if box.name == "SortedDict":
            return _timed(lambda: list(fn()))
        return _timed(fn)

    return row


row_items = _whole("items")
row_keys = _whole("keys")
row_values = _whole("values")


def row_iterate(box, keys):
    c = _filled(box, keys)
    if box.name == "SortedDict":
        c = c.items()

    def run():
        for _kv in c:
            pass

    return _timed(run)


# ---- batches --------------------------------------------------------------------------------------


def row_update(box, keys):
    c = box.new()
    pairs = [(k, k) for k in keys]
    return _timed(lambda: c.update(pairs))


def row_insert_many(box, keys):
    c = box.new()
    pairs = [(k, k) for k in keys]
    return _timed(lambda: c.insert_many(pairs))


def row_get_many(box, keys):
    c = _filled(box, keys)
    order = keys[::-1]
    return _timed(lambda: c.get_many(order))


def row_remove_many(box, keys):
    c = _filled(box, keys)
    order = keys[::-1]
    return _timed(lambda: c.remove_many(order))


def row_irange(box, keys):
    c = _filled(box, keys)

    def run():
        for _kv in c.irange():
            pass

    return _timed(run)


# ---- the table ------------------------------------------------------------------------------------


def _rows():
    """``(name, ops, function() -> seconds, isolate)`` for every workload this package can run."""
    rows = []
    for box in BOXES:
        ours = box.name != "SortedDict"
        for kname, keys in KEYSETS.items():
            prefix = f"{box.name} {N // 1000}k {kname}"
            singles = [("insert", row_insert), ("get", row_get), ("getitem", row_getitem)]
            if kname == "int":
                singles += [("setitem", row_setitem), ("contains", row_contains)]
            singles.append(("remove", row_remove))
            for op, fn in singles:
                # 1.1.0's SkipList removal can crash the interpreter: in a child process.
                isolate = box.name == "SkipList" and op == "remove"
                rows.append((f"{prefix} {op}", N, _bind(fn, box, keys), isolate))
        keys = INTS
        prefix = f"{box.name} {N // 1000}k int"
        rows.append(
            (
                f"{box.name} {RANGES} ranges of {RANGE_LEN} int keys",
                RANGES,
                _bind(row_ranges, box, keys),
                False,
            )
        )
        for op, fn in (
            ("items", row_items),
            ("keys", row_keys),
            ("values", row_values),
            ("iterate", row_iterate),
        ):
            rows.append((f"{prefix} {op}", 0, _bind(fn, box, keys), False))
        if box.name == "CSBTree" or box.name == "SortedDict":
            rows.append((f"{prefix} update(pairs)", 0, _bind(row_update, box, keys), False))
        if ours and HAS_BATCH:
            for op, fn in (
                ("insert_many", row_insert_many),
                ("get_many", row_get_many),
                ("remove_many", row_remove_many),
                ("irange (pages)", row_irange),
            ):
                rows.append((f"{prefix} {op}", 0, _bind(fn, box, keys), False))
    return rows


def _bind(fn, box, keys):
    return lambda: fn(box, keys)


def _child(name: str, runs: int) -> int:
    """Runs one row ``runs`` times and prints the samples (seconds) as JSON."""
    for row_name, _ops, fn, _isolate in _rows():
        if row_name == name:
            print(json.dumps([fn() for _ in range(runs)]))
            return 0
    return 2


def _isolated(name: str, runs: int):
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, "--runs", str(runs)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return None, f"crashed (exit {proc.returncode})"
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def main() -> int:
    parser = arguments(__doc__, 3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child, args.runs)
    print_versions(args.runs)
    print(f"{'workload':<64} {'median':>10}  unit   {'per op':>8}")
    results = {}
    for name, ops, fn, isolate in _rows():
        if args.only and args.only not in name:
            continue
        if isolate:
            samples, failure = _isolated(name, args.runs)
            if failure:
                print(f"{name:<64} {failure:>10}", flush=True)
                continue
        else:
            samples = [fn() for _ in range(args.runs)]
        median = statistics.median(samples) * 1000
        results[name] = {"value": median, "unit": "ms"}
        per_op = f"{median * 1000 / ops:6.2f} µs" if ops else ""
        print(f"{name:<64} {median:>10.1f}  ms     {per_op:>8}", flush=True)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
