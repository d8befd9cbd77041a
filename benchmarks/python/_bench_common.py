"""What the benchmark scripts share: their command line, their header, the median loop of the
scripts whose workloads take a fresh file path, and the --json file read by compare.sh. Plain
Python and the public kohakuvault API only, so that every script still runs against 1.1.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import contextmanager

import kohakuvault

VERSION = getattr(kohakuvault, "__version__", "?")


def arguments(doc: str, runs: int) -> argparse.ArgumentParser:
    """--runs (default ``runs``), --json and --only; a script adds its own."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=runs, help="runs per workload (median)")
    parser.add_argument("--json", help="write {workload: median} to this file")
    parser.add_argument("--only", help="substring filter on workload names")
    return parser


def print_versions(runs: int | None = None) -> None:
    """The package measured (and, given ``runs``, the interpreter and the runs per row)."""
    print(f"kohakuvault {VERSION} from {os.path.dirname(kohakuvault.__file__)}")
    if runs is not None:
        print(f"python {sys.version.split()[0]}, {runs} runs (median)\n")


def write_json(path: str | None, results: dict) -> None:
    """``{"version", "results": {workload: {"value", "unit"}}}`` to ``path`` (if given)."""
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"version": VERSION, "results": results}, fh, indent=1)


def remove_db(path: str) -> None:
    """An SQLite file and its WAL and shared-memory files, where they exist."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


@contextmanager
def second_connection(enabled: bool, reader: str, *args: str):
    """While the block runs (if ``enabled``), a child runs ``reader`` (Python code) with
    ``args``: it opens a second connection on the vault's file, prints "ready" and then reads
    now and then until killed."""
    if not enabled:
        yield
        return
    proc = subprocess.Popen(
        [sys.executable, "-c", reader, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the second connection did not start")
        yield
    finally:
        proc.kill()
        proc.wait()


def run_on_fresh_files(doc: str, prefix: str, workloads, width: int, digits: int) -> int:
    """A script's main(): ``workloads(tmp)`` gives ``(name, unit, ops, fn)`` rows; each run of
    a row calls ``fn(path)`` on a fresh file in ``tmp`` and the median is printed (ms rows with
    ``ops`` also per op) with ``digits`` decimals in a name column ``width`` wide."""
    args = arguments(doc, 3).parse_args()
    print_versions(args.runs)
    print(f"{'workload':<{width}} {'median':>10}  unit    {'per op':>9}")
    results = {}
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        for name, unit, ops, fn in workloads(tmp):
            if args.only and args.only not in name:
                continue
            samples = []
            for r in range(args.runs):
                path = os.path.join(tmp, f"run{r}.db")
                value = fn(path)
                samples.append(value * 1000 if unit == "ms" else value)
                remove_db(path)
            median = statistics.median(samples)
            results[name] = {"value": median, "unit": unit}
            per_op = f"{median * 1000 / ops:7.2f} µs" if ops and unit == "ms" else ""
            print(f"{name:<{width}} {median:>10.{digits}f}  {unit:<6}  {per_op:>9}", flush=True)
    write_json(args.json, results)
    return 0
