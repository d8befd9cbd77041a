"""TextVault reliability.

* A child inserting documents (insert_many batches and single inserts) is killed with SIGKILL at
  random moments, 22 times. Afterwards every acknowledged document is there with its exact texts
  and value and is found by a search for its own word (and by its title in the title column), a
  batch in flight is there whole or not at all, the file passes PRAGMA integrity_check and FTS5's
  own integrity-check (the index matches the content), and count() equals the documents present.
* A reader process searching while a writer process inserts batches sees only committed
  batches, and its counts never go backwards.
"""

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time

from conftest import check_batch_in_flight, kill_writer
from kohakuvault import TextVault

TABLE = "trel"
COLUMNS = ["title", "body"]
BATCH = 40  # documents per insert_many of the steady writer

# The texts of sequence number s (the value stored with it): a word of its own in each column.
TEXT_OF = """
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
def text_of(s):
    return {"title": f"doc s{s} {WORDS[s % 8]}", "body": f"tok{s} common words {WORDS[(s * 3) % 8]}"}
"""
_ns: dict = {}
exec(TEXT_OF, _ns)
text_of = _ns["text_of"]

# Crash writer: random batches and single inserts, each announced ("I", before the call) and
# acknowledged ("B" / "S", after it returns) on stdout, one unbuffered write per line.
CRASH_WRITER = textwrap.dedent("""
    import os, random, sys, time
    from kohakuvault import TextVault
    {text_of}
    path, table, seq, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    tv = TextVault(path, table=table, columns=["title", "body"])
    def say(line):
        os.write(1, (line + "\\n").encode())
    while True:
        if rng.random() < 0.3:
            say(f"I {{seq}} 1")
            i = tv.insert(text_of(seq), seq)
            say(f"S {{i}} {{seq}}")
            seq += 1
        else:
            n = rng.randint(2, 60)
            say(f"I {{seq}} {{n}}")
            ids = tv.insert_many([(text_of(s), s) for s in range(seq, seq + n)])
            if ids != list(range(ids[0], ids[0] + n)):
                say("X ids of one batch are not consecutive: " + repr(ids))
                sys.exit(3)
            say(f"B {{ids[0]}} {{ids[-1]}} {{seq}}")
            seq += n
        time.sleep(rng.random() * 0.002)  # keeps the table small enough to check fully
""").format(text_of=TEXT_OF)

# Steady writer: insert_many batches of exactly BATCH documents (batch b holds the word
# "batch{b}"; the value is the sequence number, = id - 1), until killed.
STEADY_WRITER = textwrap.dedent("""
    import sys, time
    from kohakuvault import TextVault
    path, table, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tv = TextVault(path, table=table, columns=["title", "body"])
    seq = tv.count()
    while True:
        b = seq // batch
        tv.insert_many([({"title": f"batch{b}", "body": f"common item{s}"}, s)
                        for s in range(seq, seq + batch)])
        seq += batch
        time.sleep(0.002)
""")


def _integrity_ok(path, scratch):
    """PRAGMA integrity_check and FTS5's integrity-check (index = content), on a copy of the
    file and its WAL: this process's sqlite3 is a second SQLite library, which must never open
    a file a vault of this process has open."""
    os.makedirs(scratch, exist_ok=True)
    copy = os.path.join(scratch, "copy.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(copy + suffix):
            os.remove(copy + suffix)
    shutil.copyfile(path, copy)
    if os.path.exists(path + "-wal"):
        shutil.copyfile(path + "-wal", copy + "-wal")
    con = sqlite3.connect(copy)
    try:
        if con.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            return False
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_schema")}
        if TABLE in names:  # (a writer killed at start-up may not have created it yet)
            con.execute(f"INSERT INTO {TABLE}({TABLE}) VALUES ('integrity-check')")
        return True
    finally:
        con.close()


def _check_docs(tv, ids, expect_seq=None):
    """Every id has text_of(its value) and is the only hit of its own words."""
    seqs = {}
    for i in ids:
        texts, value = tv.get_by_id(i)
        assert isinstance(value, int), (i, value)
        if expect_seq is not None and i in expect_seq:
            assert value == expect_seq[i], (i, value, expect_seq[i])
        assert texts == text_of(value), (i, texts)
        hits = tv.search(f"tok{value}")
        assert [(h[0], h[2]) for h in hits] == [(i, value)], (i, hits)
        assert [h[0] for h in tv.search(f"s{value}", column="title")] == [i]
        seqs[i] = value
    return seqs


def test_sigkill_keeps_every_acknowledged_document(tmp_path):
    path = str(tmp_path / "crash.db")
    scratch = str(tmp_path / "scratch")
    rng = random.Random(11)
    verified = {}  # id -> seq of every document checked so far (acknowledged or not)
    all_acked = {}
    kills = 0
    for rnd in range(22):
        log = tmp_path / f"ack{rnd}"
        acked, pending = kill_writer(
            [sys.executable, "-c", CRASH_WRITER, path, TABLE, str(rnd * 10**6), str(rnd)],
            log,
            rnd,
            rng,
        )
        kills += 1
        all_acked.update(acked)
        if not os.path.exists(path):
            assert not acked
            continue
        assert _integrity_ok(path, scratch)
        with TextVault(path, table=TABLE, columns=COLUMNS) as tv:
            present = tv.keys(None)
            assert tv.count() == len(present) == tv.count_matches("common")
            assert present == sorted(set(present))
            present_set = set(present)
            missing = [i for i in all_acked if i not in present_set]
            assert not missing, f"acknowledged documents lost: {missing[:10]}"
            assert set(verified) <= present_set, "a document that was there is gone"
            new = [i for i in present if i not in verified]
            seqs = _check_docs(tv, new, acked)
            # The batch in flight at the kill is there whole or not at all; entries not
            # acknowledged may only be that batch.
            check_batch_in_flight(seqs, acked, pending)
            verified.update(seqs)
    assert kills == 22
    assert len(all_acked) > 500, f"only {len(all_acked)} acknowledged documents: kills came early"
    assert _integrity_ok(path, scratch)
    with TextVault(path, table=TABLE, columns=COLUMNS, read_only=True) as tv:
        assert tv.count() == len(verified)
        assert all(tv.exists(i) for i in all_acked)
        for i in random.Random(5).sample(sorted(all_acked), min(300, len(all_acked))):
            assert tv.get_by_id(i) == (text_of(all_acked[i]), all_acked[i])
            assert [h[0] for h in tv.search(f"tok{all_acked[i]}")] == [i]


def test_reader_process_sees_only_committed_batches(tmp_path):
    path = str(tmp_path / "rw.db")
    with TextVault(path, table=TABLE, columns=COLUMNS) as tv:
        tv.insert_many([({"title": "batch0", "body": f"common item{s}"}, s) for s in range(BATCH)])
    writer = subprocess.Popen([sys.executable, "-c", STEADY_WRITER, path, TABLE, str(BATCH)])
    try:
        last, searches = 0, 0
        deadline = time.time() + 3.0
        with TextVault(path, table=TABLE, columns=COLUMNS, read_only=True) as ro:
            while time.time() < deadline:
                hits = ro.search("common", k=10**6)  # one snapshot
                n = len(hits)
                assert n % BATCH == 0, f"{n} documents: part of a batch is visible"
                assert n >= last, f"the document count went back from {last} to {n}"
                assert sorted(h[0] for h in hits) == list(range(1, n + 1))
                assert all(h[2] == h[0] - 1 for h in hits)
                count = ro.count()
                assert count % BATCH == 0 and count >= n
                keys = ro.keys(None)
                assert len(keys) % BATCH == 0 and keys == list(range(1, len(keys) + 1))
                # The newest visible batch is whole: all of its documents, texts and values.
                b = len(keys) // BATCH - 1
                batch = ro.search(f"batch{b}", k=1000, column="title")
                assert sorted(h[2] for h in batch) == list(range(b * BATCH, (b + 1) * BATCH))
                texts, value = ro.get_by_id(keys[-1])
                assert texts == {"title": f"batch{b}", "body": f"common item{value}"}
                last = max(n, len(keys))
                searches += 1
    finally:
        writer.kill()
        writer.wait()
    assert searches > 20
    assert last > 4 * BATCH, "the writer made no progress while the reader searched"
