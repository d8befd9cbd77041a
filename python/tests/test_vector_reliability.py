"""VectorKVault reliability.

* A child inserting (insert_many batches and single inserts) is killed with SIGKILL at random
  moments, 24 times. Afterwards every acknowledged id is there with its exact vector and value,
  a search for its own vector finds it first at distance 0, a batch in flight is there whole or
  not at all, the file passes PRAGMA integrity_check, and count() equals the rows present.
* A reader process searching while a writer process inserts sees only committed batches, and
  its counts never go backwards.
* Four threads searching one handle while a fifth inserts through it get consistent results.
* A long insert_many (200k rows) does not hold up searches from another thread meanwhile.
"""

import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

from conftest import check_batch_in_flight, kill_writer
from kohakuvault import VectorKVault

DIMS = 16
TABLE = "vrel"
BATCH = 50  # rows per insert_many of the steady writer

# The vector of sequence number s (the value stored with it): cheap to recompute in bulk and
# distinct for distinct s, so the nearest stored vector to vec_of(s) is s's own (distance 0).
VEC_OF = """
def vec_of(seqs, dims):
    seqs = np.asarray(seqs, dtype=np.float64).reshape(-1, 1)
    j = np.arange(dims, dtype=np.float64)
    return np.sin(seqs * (0.7548776662 + 0.1 * j) + 1.3 * j).astype(np.float32)
"""
np_globals = {"np": np}
exec(VEC_OF, np_globals)
vec_of = np_globals["vec_of"]

# Crash writer: random batches and single inserts, each announced ("I", before the call) and
# acknowledged ("B" / "S", after it returns) on stdout, one unbuffered write per line.
CRASH_WRITER = textwrap.dedent("""
    import os, random, sys, time
    import numpy as np
    from kohakuvault import VectorKVault
    {vec_of}
    path, table, dims, seq, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    rng = random.Random(seed)
    vk = VectorKVault(path, table=table, dimensions=dims, metric="l2")
    def say(line):
        os.write(1, (line + "\\n").encode())
    while True:
        if rng.random() < 0.3:
            say(f"I {{seq}} 1")
            i = vk.insert(vec_of([seq], dims)[0], seq, metadata={{"seq": seq}})
            say(f"S {{i}} {{seq}}")
            seq += 1
        else:
            n = rng.randint(2, 60)
            seqs = list(range(seq, seq + n))
            meta = [{{"seq": s}} for s in seqs] if rng.random() < 0.5 else None
            say(f"I {{seq}} {{n}}")
            ids = vk.insert_many(vec_of(seqs, dims), seqs, metadata=meta)
            if ids != list(range(ids[0], ids[0] + n)):
                say("X ids of one batch are not consecutive: " + repr(ids))
                sys.exit(3)
            say(f"B {{ids[0]}} {{ids[-1]}} {{seq}}")
            seq += n
        time.sleep(rng.random() * 0.002)  # keeps the table small enough to check fully
""").format(vec_of=VEC_OF)

# Steady writer: insert_many batches of exactly BATCH rows, seq = id - 1, until killed.
STEADY_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from kohakuvault import VectorKVault
    {vec_of}
    path, table, dims, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    vk = VectorKVault(path, table=table, dimensions=dims, metric="l2")
    seq = vk.count()
    while True:
        seqs = list(range(seq, seq + batch))
        vk.insert_many(vec_of(seqs, dims), seqs)
        seq += batch
        time.sleep(0.002)
""").format(vec_of=VEC_OF)


def _integrity_ok(path):
    # sqlite3 of this process is a second SQLite library: only while no vault has the file open.
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def _check_rows(vk, ids, expect_seq=None):
    """Every id has vec_of(its value) and is the top hit, at distance 0, of that vector."""
    seqs = []
    for i in ids:
        vector, value = vk.get_by_id(i)
        assert isinstance(value, int), (i, value)
        if expect_seq is not None and i in expect_seq:
            assert value == expect_seq[i], (i, value, expect_seq[i])
        assert np.array_equal(vector, vec_of([value], DIMS)[0]), i
        seqs.append(value)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        hits = vk.search_many(vec_of(seqs[start : start + 500], DIMS), k=1)
        for i, seq, h in zip(chunk, seqs[start : start + 500], hits):
            assert len(h) == 1 and h[0][0] == i and h[0][2] == seq, (i, h)
            assert h[0][1] <= 1e-6, (i, h)
    return dict(zip(ids, seqs))


def test_sigkill_keeps_every_acknowledged_insert(tmp_path):
    path = str(tmp_path / "crash.db")
    rng = random.Random(11)
    verified = {}  # id -> seq of every row checked so far (acknowledged or not)
    all_acked = {}
    kills = 0
    for rnd in range(24):
        log = tmp_path / f"ack{rnd}"
        acked, pending = kill_writer(
            [
                sys.executable,
                "-c",
                CRASH_WRITER,
                path,
                TABLE,
                str(DIMS),
                str(rnd * 10**6),
                str(rnd),
            ],
            log,
            rnd,
            rng,
        )
        kills += 1
        all_acked.update(acked)
        if not os.path.exists(path):
            assert not acked
            continue
        assert _integrity_ok(path)
        with VectorKVault(path, table=TABLE, dimensions=DIMS, metric="l2") as vk:
            present = vk.ids()
            assert vk.count() == len(present)
            assert present == sorted(set(present))
            present_set = set(present)
            missing = [i for i in all_acked if i not in present_set]
            assert not missing, f"acknowledged ids lost: {missing[:10]}"
            assert set(verified) <= present_set, "a row that was there is gone"
            new = [i for i in present if i not in verified]
            seqs = _check_rows(vk, new, acked)
            # The batch in flight at the kill is there whole or not at all; entries not
            # acknowledged may only be that batch.
            check_batch_in_flight(seqs, acked, pending)
            # Metadata of single inserts survives with them (a sample).
            for i in [i for i in new if i in acked][:5]:
                md = vk.get_metadata(i)
                if md is not None:
                    assert md == {"seq": seqs[i]}
            verified.update(seqs)
    assert kills == 24
    assert len(all_acked) > 500, f"only {len(all_acked)} acknowledged rows: kills came too early"
    # Final pass over everything ever acknowledged.
    assert _integrity_ok(path)
    with VectorKVault(path, table=TABLE, dimensions=DIMS, metric="l2", read_only=True) as vk:
        assert vk.count() == len(verified)
        assert all(vk.exists(i) for i in all_acked)
        for i in random.Random(5).sample(sorted(all_acked), min(300, len(all_acked))):
            vector, value = vk.get_by_id(i)
            assert value == all_acked[i]
            assert np.array_equal(vector, vec_of([value], DIMS)[0])


def test_reader_process_sees_only_committed_batches(tmp_path):
    path = str(tmp_path / "rw.db")
    with VectorKVault(path, table=TABLE, dimensions=DIMS, metric="l2") as vk:
        seqs = list(range(BATCH))
        vk.insert_many(vec_of(seqs, DIMS), seqs)
    writer = subprocess.Popen(
        [sys.executable, "-c", STEADY_WRITER, path, TABLE, str(DIMS), str(BATCH)]
    )
    rng = np.random.default_rng(3)
    try:
        last_count, last_ids, searches = 0, 0, 0
        deadline = time.time() + 2.5
        with VectorKVault(path, table=TABLE, dimensions=DIMS, metric="l2", read_only=True) as ro:
            while time.time() < deadline:
                n = ro.count()
                assert n % BATCH == 0, f"count {n}: part of a batch is visible"
                assert n >= last_count, f"count went back from {last_count} to {n}"
                last_count = n
                ids = ro.ids()
                assert len(ids) % BATCH == 0 and len(ids) >= last_ids
                assert ids == list(range(1, len(ids) + 1))
                last_ids = len(ids)
                q = rng.standard_normal(DIMS).astype(np.float32)
                hits = ro.search(q, k=10)
                assert len(hits) == 10
                dists = [h[1] for h in hits]
                assert dists == sorted(dists)
                for i, dist, seq in hits:
                    assert i == seq + 1  # the writer's rows: seq = id - 1
                    assert abs(dist - np.linalg.norm(q - vec_of([seq], DIMS)[0])) < 1e-4
                # The newest visible row is whole: found by its own vector.
                top = ro.search(vec_of([last_ids - 1], DIMS)[0], k=1)
                assert top[0][0] == last_ids and top[0][1] <= 1e-6
                searches += 1
    finally:
        writer.kill()
        writer.wait()
    assert searches > 20
    assert last_count > 4 * BATCH, "the writer made no progress while the reader searched"


def test_threads_search_one_handle_while_it_inserts(tmp_path):
    path = str(tmp_path / "threads.db")
    vk = VectorKVault(path, table=TABLE, dimensions=DIMS, metric="l2")
    base = list(range(2000))
    base_ids = vk.insert_many(vec_of(base, DIMS), base)
    id_of = dict(zip(base, base_ids))
    stop = threading.Event()
    errors = []
    done = [0] * 4

    def searcher(t):
        rng = random.Random(t)
        try:
            while not stop.is_set():
                s = rng.choice(base)
                q = vec_of([s], DIMS)[0]
                if rng.random() < 0.2:
                    results = vk.search_many(np.stack([q, q]), k=5)
                    assert results[0] == results[1]
                    hits = results[0]
                else:
                    hits = vk.search(q, k=5)
                assert len(hits) == 5
                assert hits[0][0] == id_of[s] and hits[0][1] <= 1e-6 and hits[0][2] == s
                dists = [h[1] for h in hits]
                assert dists == sorted(dists)
                for i, dist, seq in hits:
                    assert abs(dist - np.linalg.norm(q - vec_of([seq], DIMS)[0])) < 1e-4
                    assert seq >= 100_000 or i == id_of[seq], (i, seq)
                done[t] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            stop.set()

    inserted = {}

    def writer():
        seq = 100_000
        try:
            while not stop.is_set():
                seqs = list(range(seq, seq + 20))
                inserted.update(zip(vk.insert_many(vec_of(seqs, DIMS), seqs), seqs))
                inserted[vk.insert(vec_of([seq + 20], DIMS)[0], seq + 20)] = seq + 20
                seq += 21
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=searcher, args=(t,)) for t in range(4)]
    threads.append(threading.Thread(target=writer))
    for t in threads:
        t.start()
    time.sleep(2.0)
    stop.set()
    for t in threads:
        t.join(30)
    try:
        assert not errors, errors[0]
        assert min(done) > 10, done
        assert len(inserted) > 100
        assert vk.count() == 2000 + len(inserted)
        _check_rows(vk, random.Random(1).sample(sorted(inserted), 200), inserted)
    finally:
        vk.close()


def test_long_insert_many_does_not_block_searches(tmp_path):
    path = str(tmp_path / "long.db")
    dims = 8
    vk = VectorKVault(path, table=TABLE, dimensions=dims, metric="l2")
    base = list(range(1000))
    vk.insert_many(vec_of(base, dims), base)
    big_seqs = list(range(10**6, 10**6 + 200_000))
    big = vec_of(big_seqs, dims)
    window = {}

    def writer():
        window["start"] = time.perf_counter()
        window["ids"] = vk.insert_many(big, big_seqs)
        window["end"] = time.perf_counter()

    stamps, counts, errors = [], set(), []
    w = threading.Thread(target=writer)
    w.start()
    try:
        q = vec_of([7], dims)[0]
        while w.is_alive():
            hits = vk.search(q, k=3)
            if hits[0][2] != 7 or hits[0][1] > 1e-6:
                errors.append(hits)
            counts.add(vk.count())
            stamps.append(time.perf_counter())
    finally:
        w.join()
    try:
        assert not errors, errors[:3]
        assert len(window["ids"]) == 200_000
        assert counts <= {1000, 201_000}, f"a partial insert was visible: {sorted(counts)[:5]}"
        start, end = window["start"], window["end"]
        duration = end - start
        inside = [t for t in stamps if start <= t <= end]
        edges = [start] + inside + [end]
        gap = max(b - a for a, b in zip(edges, edges[1:]))
        assert len(inside) >= 10, f"{len(inside)} searches during a {duration:.2f} s insert"
        # Blocked searches would leave one gap as long as the insert; allow the GIL's share.
        assert gap < max(0.25, duration / 3), f"searches stalled {gap:.2f} s of {duration:.2f} s"
        assert vk.count() == 201_000
    finally:
        vk.close()
