"""Write-back cache semantics through the facade (kohakuvault 1.1.0 behaviour; unclosed vaults
keep their writes, docs/COMPATIBILITY.md §4)."""

import io
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from conftest import run_python, stored_bytes
from kohakuvault import DatabaseBusy, InvalidArgument, KohakuVaultError, KVault


def sql_in_child(path, sql):
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()"
    )
    subprocess.run([sys.executable, "-c", code, path, sql], check=True, timeout=60)


def committed_keys(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {bytes(r[0]) for r in con.execute("SELECT key FROM kv")}
    finally:
        con.close()


def test_read_your_writes(kv, db_path):
    kv["base"] = b"0"
    kv.enable_cache()
    for i in range(1500):  # crosses the combiner's batch size several times
        kv[f"k{i:04d}"] = {"i": i}
    kv["k0001"] = "replaced"
    assert kv["k0000"] == {"i": 0}
    assert kv["k0001"] == "replaced"
    assert kv.get("k1499") == {"i": 1499}
    assert kv.get_many(["k0002", "nope", "base"]) == [{"i": 2}, None, b"0"]
    assert "k1000" in kv and kv.exists("k1000")
    assert len(kv) == 1501
    assert list(kv.keys(prefix="k000")) == [f"k{i:04d}".encode() for i in range(10)]
    assert dict(kv.items(prefix="k0003")) == {b"k0003": {"i": 3}}
    assert len(committed_keys(db_path)) < 1501  # not everything is committed yet
    assert kv.flush_cache() > 0
    assert kv.flush_cache() == 0
    assert len(committed_keys(db_path)) == 1501
    assert stored_bytes(db_path, "k0001") is not None


def test_flush_count_and_duplicates(kv):
    kv.enable_cache()
    kv.put("c", b"1")
    kv.put("c", b"2")
    kv.put("d", b"2")
    kv.put("c", b"3")
    assert kv.flush_cache() == 2
    assert kv["c"] == b"3"


def test_threshold_flushes_without_explicit_flush(kv, db_path):
    kv.enable_cache(cap_bytes=1 << 20, flush_threshold=4096)
    for i in range(200):
        kv[f"k{i:03d}"] = b"x" * 100
    kv.get("k000")  # any operation hands the combiner to the core
    assert len(committed_keys(db_path)) >= 150


def test_delete_of_pending_is_not_resurrected(kv):
    kv.enable_cache()
    kv["a"] = b"1"
    assert kv.delete("a") is True
    assert kv.flush_cache() == 0
    assert "a" not in kv
    kv["b"] = b"2"
    assert kv.pop("b") == b"2"
    kv.flush_cache()
    assert "b" not in kv


def test_put_many_supersedes_pending(kv):
    kv.enable_cache()
    kv["a"] = b"cached"
    kv.put_many([("a", b"batch")])
    kv.flush_cache()
    assert kv["a"] == b"batch"


def test_enable_cache_validation(kv):
    for kwargs in (dict(cap_bytes=0), dict(flush_threshold=0), dict(cap_bytes=-1)):
        with pytest.raises(InvalidArgument, match="cache sizes must be positive"):
            kv.enable_cache(**kwargs)
    for interval in (0, -1, float("nan"), float("inf")):
        with pytest.raises(InvalidArgument, match="flush_interval must be finite and positive"):
            kv.enable_cache(flush_interval=interval)


def test_cache_context_manager_disables(kv, db_path):
    kv.enable_cache()
    kv["before"] = b"1"
    with kv.cache(cap_bytes=1 << 20) as same:
        assert same is kv
        kv["inside"] = b"2"
        assert kv["inside"] == b"2"
    assert committed_keys(db_path) >= {b"before", b"inside"}
    kv["after"] = b"3"  # no cache any more: committed on return
    assert b"after" in committed_keys(db_path)


def test_disable_cache_flushes(kv, db_path):
    kv.enable_cache()
    kv["a"] = b"1"
    kv.disable_cache()
    assert b"a" in committed_keys(db_path)
    kv.disable_cache()  # no cache: nothing to do


def test_re_enable_flushes_old_cache(kv, db_path):
    kv.enable_cache()
    kv["a"] = b"1"
    kv.enable_cache(cap_bytes=1 << 20)
    assert b"a" in committed_keys(db_path)


def test_flush_interval(db_path):
    with KVault(db_path) as kv:
        kv.enable_cache(flush_interval=0.2)
        kv["a"] = b"1"
        kv["b"] = {"x": 1}
        deadline = time.time() + 5
        while time.time() < deadline and committed_keys(db_path) != {b"a", b"b"}:
            time.sleep(0.1)
        assert committed_keys(db_path) == {b"a", b"b"}
        assert kv.background_flush_error is None


def test_background_flush_failure_warns_and_keeps_data(db_path):
    with KVault(db_path) as kv:
        kv["x"] = b"0"
        # A trigger in the file refuses one key, so the periodic flush fails.
        sql_in_child(
            db_path,
            "CREATE TRIGGER boom BEFORE INSERT ON kv WHEN NEW.key = X'626f6f6d' "
            "BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            kv.enable_cache(flush_interval=0.1)
            kv["boom"] = b"1"
            deadline = time.time() + 10
            while time.time() < deadline and not any(
                issubclass(w.category, RuntimeWarning) for w in caught
            ):
                time.sleep(0.05)
        messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert messages and "background flush failed" in messages[0]
        assert "boom refused" in messages[0]
        assert "boom refused" in str(kv.background_flush_error)
        assert kv["boom"] == b"1"  # still pending, still readable
        assert b"boom" not in committed_keys(db_path)
        sql_in_child(db_path, "DROP TRIGGER boom")
        assert kv.flush_cache() == 1
        assert kv.background_flush_error is None
    assert b"boom" in committed_keys(db_path)


def test_lock_cache_table(db_path):
    kv = KVault(db_path)
    kv["a"] = b"committed"
    kv["p"] = b"pop-me"
    kv.enable_cache(cap_bytes=100, flush_threshold=1000)
    with kv.lock_cache():
        kv.put("c", b"x" * 10)  # fits: buffered
        assert kv["c"] == b"x" * 10
        with pytest.raises(DatabaseBusy):
            kv.put("d", b"x" * 200)  # larger than the cache
        with pytest.raises(DatabaseBusy):
            kv.put("e", b"x" * 95)  # the cache is full
        with pytest.raises(DatabaseBusy, match="locked"):
            kv.put_many([("a", b"1")])
        with pytest.raises(DatabaseBusy, match="locked"):
            kv.update({"a": b"1"})
        with pytest.raises(DatabaseBusy, match="locked"):
            kv.setdefault("new", 1)
        assert kv.setdefault("c", 1) == b"x" * 10
        with pytest.raises(DatabaseBusy, match="locked"):
            kv.disable_cache()
        with pytest.raises(DatabaseBusy, match="locked"):
            kv.close()
        with pytest.raises(DatabaseBusy, match="locked"):
            kv.enable_cache()
        assert kv.flush_cache() == 0
        with kv.lock_cache():  # nesting
            assert kv.flush_cache() == 0
        assert kv.flush_cache() == 0
        assert kv.delete("a") is True
        assert kv.pop("p") == b"pop-me"
        kv.put_file("f", io.BytesIO(b"abc"), size=3)
        assert kv["f"] == b"abc"
        kv.clear()  # also discards pending entries
        assert len(kv) == 0
    assert "c" not in kv and "d" not in kv and "e" not in kv and "a" not in kv
    kv.close()


def test_lock_cache_without_cache_allows_direct_writes(kv, db_path):
    with kv.lock_cache():
        kv["a"] = b"1"
        kv.put_many([("b", b"2")])
    assert committed_keys(db_path) == {b"a", b"b"}


def test_failed_flush_keeps_data(kv, db_path):
    kv.enable_cache()
    kv["ok"] = b"1"
    kv["poison"] = b"2"
    # The trigger is managed from another process: a second SQLite library in this process
    # (Python's sqlite3) would release this process's POSIX locks when it closes the file.
    sql_in_child(
        db_path,
        "CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = X'706F69736F6E' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
    )
    with pytest.raises(KohakuVaultError):
        kv.flush_cache()
    assert kv["ok"] == b"1" and kv["poison"] == b"2"
    assert len(kv) == 2
    sql_in_child(db_path, "DROP TRIGGER refuse")
    assert kv.flush_cache() == 2
    assert committed_keys(db_path) == {b"ok", b"poison"}


GC_CHILD = textwrap.dedent("""
    import gc, sys, sqlite3
    from kohakuvault import KVault
    path, mode = sys.argv[1], sys.argv[2]
    kv = KVault(path)
    kv.enable_cache()
    for i in range(1000):
        kv[f"k{i}"] = {"i": i}
    kv["last"] = b"end"
    if mode == "del":
        del kv
        gc.collect()
        con = sqlite3.connect(path)
        n = con.execute("SELECT COUNT(*) FROM kv").fetchone()[0]
        print("committed", n)
    elif mode == "cycle":
        holder = {"kv": kv}
        holder["self"] = holder
        kv._cycle = holder
        del kv, holder
        gc.collect()
        con = sqlite3.connect(path)
        print("committed", con.execute("SELECT COUNT(*) FROM kv").fetchone()[0])
    # mode "exit": the vault stays referenced by a module global until interpreter exit
    """)


@pytest.mark.parametrize("mode", ["del", "cycle", "exit"])
def test_gc_without_close_keeps_pending_writes(db_path, mode):
    proc = run_python(GC_CHILD, db_path, mode)
    if mode != "exit":
        assert "committed 1001" in proc.stdout
    with KVault(db_path) as kv:
        assert len(kv) == 1001
        assert kv["k999"] == {"i": 999} and kv["last"] == b"end"


def test_gc_flush_failure_warns(db_path):
    code = textwrap.dedent("""
        import gc, sys, sqlite3
        from kohakuvault import KVault
        path = sys.argv[1]
        kv = KVault(path)
        kv["x"] = b"0"
        con = sqlite3.connect(path)
        con.execute("CREATE TRIGGER refuse BEFORE INSERT ON kv "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
        con.commit()
        kv.enable_cache()
        kv["a"] = b"1"
        del kv
        gc.collect()
        print("done")
        """)
    proc = run_python(code, db_path)
    assert "done" in proc.stdout
    assert "ResourceWarning" in proc.stderr


def test_combiner_threads_lose_nothing(db_path):
    """Cached puts from several threads (appends without a lock, drains deleting only what they
    sent), interleaved with reads and flushes; then a close racing with more puts: every put that
    returned is in the file, every put that raised is not half-applied."""
    import threading

    kv = KVault(db_path)
    kv.enable_cache(cap_bytes=1 << 20, flush_threshold=64 << 10)
    acknowledged = [[] for _ in range(4)]
    errors = []

    def writer(t):
        try:
            for i in range(20000):
                key = f"t{t}:{i:05d}"
                kv[key] = {"t": t, "i": i}
                acknowledged[t].append(key)
                if i % 500 == 0:
                    assert kv[key] == {"t": t, "i": i}  # read-your-writes from this thread
                    kv.flush_cache()
        except ValueError:  # closed under us (the racing close below)
            pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    time.sleep(0.05)
    kv.close()
    for th in threads:
        th.join()
    assert not errors, errors
    with KVault(db_path) as again:
        for t, keys in enumerate(acknowledged):
            got = again.get_many(keys)
            assert got == [{"t": t, "i": int(k.split(":")[1])} for k in keys]
    assert 0 < sum(map(len, acknowledged))
