"""ColumnVault reliability: a child appending (direct and cached) is killed with SIGKILL at random
moments, 24 times; every acknowledged append is present and whole afterwards, each column is a
clean prefix of what was written, the file passes PRAGMA integrity_check, and a reader never sees
a column shorter than before. Bad input changes nothing."""

import os
import random
import signal
import sqlite3
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from kohakuvault import ColumnVault

WRITER = textwrap.dedent("""
    import os, sys
    import numpy as np
    from kohakuvault import ColumnVault
    path, ackpath, cached = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    ack = os.open(ackpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    cv = ColumnVault(path, block_bytes=4096)
    ids = cv.ensure("ids", "i64")
    names = cv.ensure("names", "str")
    if cached:
        cv.enable_cache(cap_bytes=1 << 16, flush_threshold=1 << 14)
    n = len(ids)
    while True:
        batch = np.arange(n, n + 97, dtype=np.int64)
        ids.append_array(batch)
        names.extend([f"name {i}" for i in range(n, n + 97)])
        n += 97
        if cached:
            cv.flush_cache()  # acknowledged only once flushed
        os.write(ack, b"%d\\n" % n)
""")


def _acked(ackpath):
    if not os.path.exists(ackpath):
        return 0
    lines = open(ackpath).read().split()
    return int(lines[-1]) if lines else 0


def _await_ack(ackpath, before, child, timeout=60.0):
    """Waits until the child acknowledged more rows than ``before`` (or exited)."""
    deadline = time.time() + timeout
    while _acked(ackpath) <= before and child.poll() is None and time.time() < deadline:
        time.sleep(0.01)


def _check(path, acked, previous):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    with ColumnVault(path, read_only=True) as cv:
        ids = cv["ids"].read_array()
        names = cv["names"][:]
    n = len(ids)
    assert n >= acked, f"acknowledged {acked} rows, found {n}"
    assert min(n, len(names)) >= previous, "a column got shorter"
    assert np.array_equal(ids, np.arange(n, dtype=np.int64)), "ids are not a clean prefix"
    # The two columns commit in separate transactions: at most the batch in flight differs.
    assert abs(len(names) - n) <= 97 and len(names) >= acked
    assert names == [f"name {i}" for i in range(len(names))]
    return min(n, len(names))


@pytest.mark.parametrize("cached", [False, True], ids=["direct", "cached"])
def test_sigkill_keeps_every_acknowledged_append(tmp_path, cached):
    path = str(tmp_path / "crash.db")
    ackpath = str(tmp_path / "ack")
    rng = random.Random(7 + cached)
    previous = 0
    for _ in range(12):
        before = _acked(ackpath)
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, path, ackpath, "1" if cached else "0"]
        )
        # Kill it at a random moment while it appends: once it acknowledged its first batch
        # (starting Python and numpy alone can take longer than the window on a slow machine).
        _await_ack(ackpath, before, child)
        time.sleep(rng.random() * 0.4)
        child.send_signal(signal.SIGKILL)
        child.wait()
        acked = _acked(ackpath)
        previous = _check(path, acked, previous)
        # The next child continues from whatever the previous left (names may trail: align).
        with ColumnVault(path) as cv:
            ids, names = cv["ids"], cv["names"]
            while len(names) < len(ids):
                names.append(f"name {len(names)}")
            while len(ids) < len(names):
                ids.append(len(ids))
    assert previous > 0


def test_reader_never_sees_a_shorter_column(tmp_path):
    path = str(tmp_path / "rw.db")
    with ColumnVault(path) as cv:
        cv.create_column("ids", "i64")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, path, str(tmp_path / "ack2"), "0"])
    try:
        last = 0
        deadline = time.time() + 2.0
        with ColumnVault(path, read_only=True) as ro:
            col = ro["ids"]
            while time.time() < deadline:
                n = len(col)
                assert n >= last
                if n:
                    arr = col.read_array(0, n)
                    assert arr[-1] == n - 1 and arr[0] == 0
                last = n
    finally:
        writer.kill()
        writer.wait()
    assert last > 0


def test_bad_input_gets_a_typed_error_and_changes_nothing(tmp_path):
    with ColumnVault(str(tmp_path / "bad.db")) as cv:
        ids = cv.create_column("ids", "i64")
        ids.extend([1, 2, 3])
        for bad in (lambda: ids.append("x"), lambda: ids.extend([1, None])):
            with pytest.raises((TypeError, ValueError, struct.error)):  # struct.error as 1.1.0
                bad()
        with pytest.raises(ValueError):
            cv.create_column('x"; DROP TABLE kvault_col_columns; --', "nope")
        cv.create_column('x"; DROP TABLE kvault_col_columns; --', "i64").append(5)
        with pytest.raises(ValueError):
            cv.create_column("t", "vec:f32:4").append_array(np.zeros((2, 3), dtype=np.float32))
        assert ids.read() == [1, 2, 3]
        assert [c[0] for c in cv.list_columns()][:1] == ["ids"]


def test_a_long_append_does_not_block_readers_or_other_threads(tmp_path):
    """One 20M-row append_array is one long writer transaction; meanwhile another thread keeps
    reading the column (length and rows) and another column of the same vault: none of it waits
    for the writer, and no reader ever sees part of the append."""
    import threading

    cv = ColumnVault(str(tmp_path / "long.db"))
    col = cv.create_column("big", "i64")
    other = cv.create_column("other", "f64")
    col.append_array(np.arange(1000, dtype=np.int64))
    other.append_array(np.arange(10, dtype=np.float64))
    big = np.arange(1000, 1000 + 20_000_000, dtype=np.int64)
    window = {}

    def writer():
        window["start"] = time.perf_counter()
        col.append_array(big)
        window["end"] = time.perf_counter()

    stamps, lengths, bad = [], set(), []
    w = threading.Thread(target=writer)
    w.start()
    try:
        while w.is_alive():
            lengths.add(len(col))
            head = col[0:5]
            if head != [0, 1, 2, 3, 4] or other.read_array()[-1] != 9.0:
                bad.append(head)
            stamps.append(time.perf_counter())
    finally:
        w.join()
    assert not bad, bad[:3]
    assert lengths <= {1000, 20_001_000}, f"a partial append was visible: {sorted(lengths)[:5]}"
    start, end = window["start"], window["end"]
    duration = end - start
    inside = [t for t in stamps if start <= t <= end]
    edges = [start] + inside + [end]
    gap = max(b - a for a, b in zip(edges, edges[1:]))
    assert len(inside) >= 5, f"{len(inside)} reads during a {duration:.2f} s append"
    # Blocked readers would leave one gap as long as the append; allow the GIL's share.
    assert gap < max(0.25, duration / 3), f"readers stalled {gap:.2f} s of {duration:.2f} s"
    assert len(col) == 20_001_000
    cv.close()
