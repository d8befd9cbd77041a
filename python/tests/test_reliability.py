"""Reliability: crashes at random moments, concurrent readers, hostile input.

(a) A child writes batches (put_many, and cached puts + flush_cache) and is SIGKILLed at random
    moments; every acknowledged batch must be present and whole, none partial, and the file must
    pass PRAGMA integrity_check.
(b) One writer and four reader processes: readers never see a torn batch and never go backwards.
(c) Bad input gives a typed error, changes nothing and never crashes.
"""

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import run_python
from kohakuvault import InvalidArgument, KohakuVaultError, KVault

BATCH = 40

WRITER = textwrap.dedent("""
    import os, sys, zlib
    from kohakuvault import KVault
    path, run, ackpath = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ack = os.open(ackpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    kv = KVault(path)
    BATCH = %d

    def items(b):
        out = []
        for j in range(BATCH):
            body = f"run={run} batch={b} item={j} ".encode() * (1 + (j %% 7))
            out.append((f"r{run:02d}b{b:05d}i{j:03d}", body + zlib.crc32(body).to_bytes(4, "little")))
        return out

    os.write(1, b"ready\\n")
    b = 0
    while True:
        if b %% 2 == 0:
            kv.put_many(items(b))
        else:
            kv.enable_cache(cap_bytes=64 << 20, flush_threshold=32 << 20)
            for k, v in items(b):
                kv[k] = v
            kv.flush_cache()
            kv.disable_cache()
        os.write(ack, f"{run} {b}\\n".encode())
        os.fsync(ack)
        b += 1
    """ % BATCH)


def _check_crash_db(path, acked):
    import zlib

    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = con.execute("SELECT key, value FROM kv").fetchall()
    finally:
        con.close()
    batches = {}
    for key, value in rows:
        key = bytes(key).decode()
        value = bytes(value)
        body, crc = value[:-4], value[-4:]
        assert zlib.crc32(body).to_bytes(4, "little") == crc, f"torn value under {key}"
        batches.setdefault(key[:9], set()).add(key)
    for name, keys in batches.items():
        assert len(keys) == BATCH, f"partial batch {name}: {len(keys)} of {BATCH}"
    for run, b in acked:
        assert f"r{run:02d}b{b:05d}" in batches, f"acknowledged batch {run}/{b} lost"
    return len(batches)


def test_sigkill_at_random_moments(tmp_path):
    path = str(tmp_path / "crash.db")
    ackpath = str(tmp_path / "acks.txt")
    rng = random.Random(1234)
    runs = 22
    for run in range(runs):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, path, str(run), ackpath],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line = proc.stdout.readline()
        assert line == b"ready\n", proc.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.35))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        acked = []
        if os.path.exists(ackpath):
            with open(ackpath) as fh:
                acked = [tuple(map(int, line.split())) for line in fh if line.strip()]
        _check_crash_db(path, acked)
    assert len(acked) >= 20, f"only {len(acked)} batches were acknowledged in {runs} runs"
    with KVault(path) as kv:  # the file opens normally afterwards
        assert len(kv) % BATCH == 0
        assert len(kv) >= len(acked) * BATCH


SWMR_WRITER = textwrap.dedent("""
    import sys, time
    from kohakuvault import KVault
    path, seconds = sys.argv[1], float(sys.argv[2])
    kv = KVault(path)
    SLOTS = 64
    gen = 1
    end = time.time() + seconds
    while time.time() < end:
        if gen % 3:
            kv.put_many([(f"slot{j:02d}", gen) for j in range(SLOTS)] + [("gen", gen)])
        else:
            kv.enable_cache()
            for j in range(SLOTS):
                kv[f"slot{j:02d}"] = gen
            kv["gen"] = gen
            kv.flush_cache()
            kv.disable_cache()
        gen += 1
    kv.close()
    print("generations", gen - 1)
    """)

SWMR_READER = textwrap.dedent("""
    import sys, time
    from kohakuvault import KVault
    path, seconds = sys.argv[1], float(sys.argv[2])
    kv = KVault(path, read_only=True)
    keys = [f"slot{j:02d}" for j in range(64)] + ["gen"]
    last = 0
    reads = torn = backwards = 0
    end = time.time() + seconds
    while time.time() < end:
        values = kv.get_many(keys)
        reads += 1
        if len(set(values)) != 1:
            torn += 1
        g = max(values)
        if g < last:
            backwards += 1
        last = g
        one = kv["gen"]
        if one < last:
            backwards += 1
        last = max(last, one)
    print("reads", reads, "torn", torn, "backwards", backwards, "last", last)
    """)


def test_one_writer_four_readers(tmp_path):
    path = str(tmp_path / "swmr.db")
    with KVault(path) as kv:
        kv.put_many([(f"slot{j:02d}", 0) for j in range(64)] + [("gen", 0)])
    seconds = "3"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SWMR_WRITER, path, seconds], stdout=subprocess.PIPE, text=True
        )
    ]
    procs += [
        subprocess.Popen(
            [sys.executable, "-c", SWMR_READER, path, seconds], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    generations = int(outputs[0].split()[1])
    assert generations > 10
    for out in outputs[1:]:
        fields = out.split()
        stats = dict(zip(fields[::2], map(int, fields[1::2])))
        assert stats["reads"] > 10, out
        assert stats["torn"] == 0, out
        assert stats["backwards"] == 0, out


# ---- (c) hostile input ---------------------------------------------------------------------------


def snapshot(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = con.execute("SELECT name, sql FROM sqlite_schema ORDER BY name").fetchall()
        rows = con.execute("SELECT key, value FROM kv ORDER BY key").fetchall()
        meta = con.execute("SELECT * FROM kohakuvault_meta ORDER BY key").fetchall()
    finally:
        con.close()
    return tables, rows, meta


@pytest.fixture
def seeded(tmp_path):
    path = str(tmp_path / "seeded.db")
    with KVault(path) as kv:
        kv.put_many([(f"k{i}", {"i": i}) for i in range(20)])
        kv["raw"] = b"raw"
    return path


def test_bad_calls_change_nothing(seeded):
    before = snapshot(seeded)
    kv = KVault(seeded)
    bad_calls = [
        lambda: kv.put(1, b"x"),
        lambda: kv.put(None, b"x"),
        lambda: kv.put(b"k" * ((1 << 20) + 1), b"x"),
        lambda: kv.put_many([("ok", b"1"), (1, b"2")]),
        lambda: kv.put_many([("ok", b"1"), ("bad", lambda: 1)]),
        lambda: kv.put_many("not a list"),
        lambda: kv.get_many("ab"),
        lambda: kv.put_file("x", io_short(), size=10),
        lambda: kv.put_file("x", object()),
        lambda: kv.update([("ok", b"1"), ("bad",)]),
        lambda: kv.setdefault(5, 1),
        lambda: kv.delete(3.5),
        lambda: kv.pop(None),
        lambda: kv.enable_cache(cap_bytes="big"),
        lambda: next(kv.keys(prefix=7)),
    ]
    for call in bad_calls:
        with pytest.raises((KohakuVaultError, ValueError, TypeError)):
            call()
    kv.close()
    for call in bad_calls[:3]:
        with pytest.raises(ValueError, match="closed"):
            call()
    after = snapshot(seeded)
    assert after[0] == before[0]
    # update() commits chunks atomically: the bad pair is in the first chunk, nothing lands
    assert after[1] == before[1]


def io_short():
    import io

    return io.BytesIO(b"abc")


@pytest.mark.parametrize(
    "table", ["bad name", "kv; DROP TABLE kv", "sqlite_master", "", "x" * 200, "a-b", "ä"]
)
def test_hostile_table_names(seeded, table):
    before = snapshot(seeded)
    with pytest.raises(KohakuVaultError):
        KVault(seeded, table=table)
    assert snapshot(seeded) == before


def test_wrong_schema_table(seeded):
    con = sqlite3.connect(seeded)
    con.execute("CREATE TABLE other (a INTEGER, b TEXT)")
    con.commit()
    con.close()
    before = snapshot(seeded)
    with pytest.raises(KohakuVaultError):
        KVault(seeded, table="other")
    assert snapshot(seeded) == before


def test_non_sqlite_and_damaged_files(tmp_path, seeded):
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(70000))
    content = junk.read_bytes()
    with pytest.raises(KohakuVaultError):
        KVault(str(junk))
    with pytest.raises(KohakuVaultError):
        KVault(str(junk), read_only=True)
    assert junk.read_bytes() == content
    empty_dir = tmp_path / "adir.db"
    empty_dir.mkdir()
    with pytest.raises(KohakuVaultError):
        KVault(str(empty_dir))
    # a real vault with garbage over its data pages: typed errors, no crash
    damaged = tmp_path / "damaged.db"
    shutil.copyfile(seeded, damaged)
    con = sqlite3.connect(damaged)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = bytearray(damaged.read_bytes())
    for offset in range(page, len(data), page):
        data[offset : offset + page] = os.urandom(page)
    damaged.write_bytes(bytes(data))
    try:
        kv = KVault(str(damaged))
    except KohakuVaultError:
        return
    try:
        with pytest.raises(KohakuVaultError):
            list(kv.items())
            kv.get_many([f"k{i}" for i in range(20)])
            raise KohakuVaultError("no error surfaced")  # pragma: no cover
    finally:
        try:
            kv.close()
        except KohakuVaultError:
            pass


def test_corrupt_headers_are_typed(seeded):
    con = sqlite3.connect(seeded)
    con.execute(
        "INSERT INTO kv VALUES (?, ?)", (b"corrupt", bytes.fromhex("894B014000000000564B41"))
    )
    con.commit()
    con.close()
    before = snapshot(seeded)
    with KVault(seeded) as kv:
        with pytest.raises(InvalidArgument):
            kv["corrupt"]
        with pytest.raises(InvalidArgument):
            kv.pop("corrupt")
        assert kv["k1"] == {"i": 1}
    assert snapshot(seeded)[1] == before[1]


def test_crash_in_child_does_not_hang(tmp_path):
    # a child that exits abruptly (os._exit) with a cache pending: the file stays usable
    path = str(tmp_path / "exit.db")
    code = textwrap.dedent("""
        import os, sys
        from kohakuvault import KVault
        kv = KVault(sys.argv[1])
        kv["committed"] = b"1"
        kv.enable_cache()
        kv["pending"] = b"2"
        os._exit(0)
        """)
    run_python(code, path)
    with KVault(path) as kv:
        assert kv["committed"] == b"1"
        assert "pending" not in kv
