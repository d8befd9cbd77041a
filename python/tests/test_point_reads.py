"""Point reads (``kv[k]``, ``kv.get``) take the C fast path in every mode a user can choose
(auto-pack on/off, headers on/off, cache on/off, file or ``:memory:``), return what the UDL
operations return (``get`` decoded, or ``get_stored`` with auto-pack off), and grow past the
per-thread buffer for big values."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import kohakuvault
from kohakuvault import KVault, _codec, _kv_pages
from kohakuvault._native import core_version

BIG = bytes(range(256)) * 400  # 100 KiB: larger than the 64 KiB per-thread buffer
HUGE = b"\x07" * (5 << 20)  # larger than the 4 MiB a thread keeps


class Spy:
    """Records which core methods a vault calls (delegates everything)."""

    def __init__(self, store):
        self.store = store
        self.calls = []

    def __getattr__(self, name):
        self.calls.append(name)
        return getattr(self.store, name)


def _expected(store, key, auto_pack):
    if not auto_pack:
        return store.get_stored(key)
    tv = store.get(key)
    return _codec.decode(tv.kind, tv.payload)


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _fill(kv):
    """Values of every size class, written with auto-pack on (so headers appear in stored bytes)."""
    kv.enable_auto_pack()
    kv.put_many(
        [
            (b"empty", b""),
            (b"raw", b"\x89K raw bytes that look like a header"),
            (b"big", BIG),
            (b"huge", HUGE),
            (b"int", 5),
            (b"dict", {"a": [1, 2]}),
            (b"text", "x" * 70_000),
            (b"array", np.arange(20_000, dtype=np.float64)),
        ]
    )
    return [b"empty", b"raw", b"big", b"huge", b"int", b"dict", b"text", b"array"]


@pytest.mark.parametrize("where", ["file", "memory"])
@pytest.mark.parametrize("cache", [False, True], ids=["nocache", "cache"])
@pytest.mark.parametrize("headers", [True, False], ids=["headers", "noheaders"])
@pytest.mark.parametrize("auto_pack", [True, False], ids=["autopack", "raw"])
def test_point_reads_take_the_fast_path_in_every_mode(
    where, cache, headers, auto_pack, db_path, monkeypatch
):
    if not _kv_pages._FAST_PAGES:
        pytest.skip("the C fast path is not available")
    kv = KVault(db_path if where == "file" else ":memory:")
    try:
        keys = _fill(kv)
        if cache:
            kv.enable_cache()
        if not headers:
            kv.disable_headers()
        if not auto_pack:
            kv.disable_auto_pack()
        kv[b"late"] = b"written after the mode switch"  # pending in the cache when enabled
        keys.append(b"late")
        assert kv._fast_get is not None
        spy = kv._store = Spy(kv._store)
        for key in keys:
            spy.calls.clear()
            got, got2 = kv[key], kv.get(key)
            assert not {"get", "get_stored"} & set(spy.calls), (key, spy.calls)
            want = _expected(spy.store, key, auto_pack)
            assert _same(got, want) and _same(got2, want), key
        spy.calls.clear()
        assert kv.get(b"missing", "dflt") == "dflt"
        with pytest.raises(KeyError):
            kv[b"missing"]
        assert not {"get", "get_stored"} & set(spy.calls)
        # The same values through the UDL operations (no fast path).
        monkeypatch.setattr(_kv_pages, "_FAST_PAGES", False)
        kv._refresh_fast()
        assert kv._fast_get is None
        spy.calls.clear()
        for key in keys:
            assert _same(kv[key], _expected(spy.store, key, auto_pack)), key
        assert kv.get(b"missing") is None
        assert ("get_stored" if not auto_pack else "get") in spy.calls  # the spy sees UDL reads
    finally:
        kv.close()


@pytest.mark.parametrize("where", ["file", "memory"])
@pytest.mark.parametrize("cache", [False, True], ids=["nocache", "cache"])
@pytest.mark.parametrize("auto_pack", [True, False], ids=["autopack", "raw"])
def test_single_puts_take_the_fast_path_with_the_udl_meaning(where, cache, auto_pack, db_path):
    """``kv[k] = v`` crosses through kv_fast_put (no uniffi call) and stores what the UDL ``put``
    stores, in every mode; an error makes the UDL call, which raises it typed."""
    if not _kv_pages._FAST_PAGES:
        pytest.skip("the C fast path is not available")
    kv = KVault(db_path if where == "file" else ":memory:")
    try:
        if not auto_pack:
            kv.disable_auto_pack()
        if cache:
            kv._store.enable_cache(1 << 20, 1 << 19, None)  # the core cache, no combiner
        assert kv._fast_put is not None
        spy = kv._store = Spy(kv._store)
        values = [b"", b"raw", BIG, b"\x89K looks like a header"]
        if auto_pack:
            values += [7, {"a": [1, 2]}, "text", 2.5]
        for i, value in enumerate(values):
            kv[f"k{i}"] = value
            assert "put" not in spy.calls, spy.calls
            assert _same(kv[f"k{i}"], value), value
        kv[b"k0"] = b"replaced"
        assert kv[b"k0"] == b"replaced" and "put" not in spy.calls
        # A payload the core refuses: -1 from the fast path, nothing stored, and the UDL call
        # with the same arguments raises the typed error.
        from kohakuvault._ffi import FAST

        bad = b"\xc1 not MessagePack"
        assert FAST.put(kv._fh, b"bad", 3, _codec.MSGPACK, bad, len(bad)) == -1
        with pytest.raises(Exception, match="(?i)msgpack|messagepack"):
            spy.store.put(b"bad", _codec.MSGPACK, bad)
        assert b"bad" not in kv
        spy.store.flush_cache()
    finally:
        kv.close()
    if where == "file":
        with KVault(db_path) as again:
            if not auto_pack:
                again.disable_auto_pack()
            assert again[b"k0"] == b"replaced" and again[b"k2"] == BIG


def test_a_read_only_vault_refuses_single_puts_typed(db_path):
    with KVault(db_path) as kv:
        kv[b"a"] = b"1"
    with KVault(db_path, read_only=True) as ro:
        with pytest.raises(kohakuvault.IoError, match="read-only"):
            ro[b"b"] = b"2"
        assert b"b" not in ro and ro[b"a"] == b"1"


@pytest.mark.parametrize("user_gc", [True, False], ids=["gc-on", "gc-off"])
def test_pages_leave_the_collector_as_they_found_it(db_path, user_gc):
    """Big pages decode with the cyclic GC paused (GC_PAUSE); afterwards it is as the caller
    left it, also when threads decode pages at the same time."""
    import gc

    with KVault(db_path) as kv:
        kv.put_many([(b"k%05d" % i, {"i": i, "tags": [i, "x"]}) for i in range(6000)])
        was = gc.isenabled()
        try:
            gc.enable() if user_gc else gc.disable()
            errors = []

            def work():
                try:
                    for _ in range(3):
                        assert sum(1 for _ in kv.items()) == 6000
                        assert len(kv.get_many([b"k%05d" % i for i in range(6000)])) == 6000
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert gc.isenabled() is user_gc
            assert list(kv.values(limit=2)) == [
                {"i": 0, "tags": [0, "x"]},
                {"i": 1, "tags": [1, "x"]},
            ]
            assert gc.isenabled() is user_gc
        finally:
            gc.enable() if was else gc.disable()


def test_raw_mode_reads_see_replaced_and_growing_values(db_path):
    with KVault(db_path) as kv:
        kv.disable_auto_pack()
        for size in (10, 70_000, 5 << 20, 100, 0):
            kv[b"k"] = b"v" * size
            assert kv[b"k"] == b"v" * size
        kv.enable_auto_pack()
        kv[b"n"] = 1.5
        kv.disable_auto_pack()
        assert kv[b"n"] == kv._store.get_stored(b"n") and kv[b"n"][:2] == b"\x89K"


@pytest.mark.parametrize("auto_pack", [True, False], ids=["autopack", "raw"])
def test_threads_share_one_handle_in_every_mode(db_path, auto_pack):
    with KVault(db_path) as kv:
        kv.put_many([(f"k{i}", bytes([i % 256]) * 256) for i in range(500)])
        kv[b"big"] = BIG
        if not auto_pack:
            kv.disable_auto_pack()
        errors = []

        def work(offset):
            try:
                for _ in range(4):
                    for i in range(offset, 500, 7):
                        assert kv[f"k{i}"] == bytes([i % 256]) * 256
                    assert kv[b"big"] == BIG
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors


def test_version_is_the_core_version():
    assert kohakuvault.__version__ == core_version()


def test_integrity_check_and_tables(db_path):
    with KVault(db_path) as kv, KVault(db_path, table="other") as other:
        kv["a"] = 1
        other["b"] = 2
        assert kv.integrity_check() == ["ok"]
        assert {"kv", "other"} <= set(kv.tables())
        assert set(kv.tables()) == set(other.tables())
    with pytest.raises(ValueError, match="closed"):
        kv.integrity_check()
    with pytest.raises(ValueError, match="closed"):
        kv.tables()


@pytest.mark.parametrize("where", ["file", "memory"])
@pytest.mark.parametrize("auto_pack", [True, False], ids=["autopack", "raw"])
def test_point_reads_return_objects_the_core_built_without_leaking(where, auto_pack, db_path):
    """The builtin ``kv_get`` returns the value itself (a new reference): no reference is leaked
    or stolen, for found values, the decoder's values, missing keys and errors."""
    import gc
    import sys

    from kohakuvault._ffi import FAILED, MISSING

    if not _kv_pages._FAST_PAGES:
        pytest.skip("the C fast path is not available")
    kv = KVault(db_path if where == "file" else ":memory:")
    try:
        kv.put_many([(b"t", "naïve ☃ text"), (b"b", b"\x00bytes"), (b"d", {"k": [1, 2]})])
        if not auto_pack:
            kv.disable_auto_pack()
        get = kv._fast_get
        assert get is not None
        want = {k: _expected(kv._store, k, auto_pack) for k in (b"t", b"b", b"d")}
        for key, value in want.items():
            got = get(kv._fh, key, kv._fast_flags)
            assert _same(got, value), key
            assert sys.getrefcount(got) == 2  # ours and getrefcount's argument: nothing leaked
        gc.collect()
        before = sys.getrefcount(MISSING), sys.getrefcount(FAILED)
        for _ in range(1000):
            assert get(kv._fh, b"nope", kv._fast_flags) is MISSING
            assert get(kv._fh + 1000, b"t", kv._fast_flags) is FAILED  # no such handle
        assert (sys.getrefcount(MISSING), sys.getrefcount(FAILED)) == before
        # Arguments it cannot take: FAILED, no exception left behind.
        for bad in [
            (kv._fh, "t", 0),
            (kv._fh, b"t"),
            ("x", b"t", 0),
            (-1, b"t", 0),
            (2**70, b"t", 0),
        ]:
            assert get(*bad) is FAILED, bad
        assert kv[b"t"] == want[b"t"] and kv.get(b"nope", 7) == 7
    finally:
        kv.close()


def test_every_vault_works_with_the_fast_path_switched_off(tmp_path):
    """``KOHAKUVAULT_NO_FAST_PATH=1`` (every call through the UDL): the package imports and
    each vault reads and writes (a child process, so the switch is seen at import)."""
    import subprocess
    import sys

    code = f"""
import kohakuvault as k
from kohakuvault._ffi import FAST
assert not FAST.available and FAST.get_py is None
kv = k.KVault({str(tmp_path / "a.db")!r}); kv["x"] = b"1"; kv["y"] = 5
assert kv["x"] == b"1" and kv.get("y") == 5 and kv.get("z") is None
cv = k.ColumnVault(kv); c = cv.create_column("c", "i64"); c.extend([1, 2, 3])
assert c[:] == [1, 2, 3] and c.read_array().tolist() == [1, 2, 3]
t = k.CSBTree(); t[3] = "c"; t[1] = "a"
assert t.items() == [(1, "a"), (3, "c")] and t.get(1) == "a"
print("ok")
"""
    env = dict(os.environ, KOHAKUVAULT_NO_FAST_PATH="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_str_keys_cross_as_str_with_the_bytes_key_meaning(tmp_path):
    """A str key reaches the builtin as it is (KEY_STR, the core reads its UTF-8): the same
    value as its UTF-8 bytes key, in both modes; a long key gives what the UDL gives (missing),
    a key with a lone surrogate the typed error."""
    from kohakuvault import InvalidArgument

    kv = KVault(str(tmp_path / "s.db"))
    try:
        for auto in (True, False):
            if not auto:
                kv.disable_auto_pack()
            for key in ("plain", "ünïcødé ключ 鍵", "", "x" * 5000):
                kv[key.encode()] = b"v:" + key.encode()
                assert kv[key] == kv[key.encode()] == b"v:" + key.encode()
                assert kv.get(key + "?", 7) == 7
            long_key = "k" * ((1 << 20) + 1)
            assert kv.get(long_key, "d") == "d"
            with pytest.raises(KeyError):
                kv[long_key]
            with pytest.raises(InvalidArgument):
                kv.get("bad\ud800")
    finally:
        kv.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_point_reads_stay_right_across_fork_and_other_processes(db_path):
    """Point reads keep a read pin (docs/ARCHITECTURE.md): a forked child must not inherit it,
    and writes from other processes are seen by the next read."""
    kv = KVault(db_path)
    for i in range(64):
        kv[f"k{i}"] = f"v{i}".encode()
    for _ in range(3):
        for i in range(64):
            assert kv[f"k{i}"] == f"v{i}".encode()
    pid = os.fork()
    if pid == 0:  # the child: reads, writes and reads again on the inherited handle
        code = 0
        try:
            for i in range(64):
                code |= kv[f"k{i}"] != f"v{i}".encode()
            kv["child"] = b"from the child"
            code |= kv["child"] != b"from the child"
        except BaseException:
            code = 2
        os._exit(int(code))
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert kv["child"] == b"from the child"
    # Another process writes while this one reads in a loop: every read after its commit sees it.
    writer = (
        "import sys, kohakuvault\n"
        "kv = kohakuvault.KVault(sys.argv[1])\n"
        "for r in range(50):\n"
        "    kv['round'] = str(r).encode()\n"
        "kv.close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, db_path])
    seen = set()
    while proc.poll() is None:
        seen.add(kv.get("round"))
        assert kv["k1"] == b"v1"
    assert proc.wait() == 0
    assert kv["round"] == b"49"
    assert len(seen) > 1, seen  # reads ran while the other process wrote
    assert kv.integrity_check() == ["ok"]
    kv.close()
