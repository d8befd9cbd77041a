"""KVault API: kohakuvault 1.1.0 behaviour, with the deliberate differences listed in
docs/COMPATIBILITY.md (exact round trips, raw bytes never misread as headers, unclosed vaults keep
their writes, errors mapped by type)."""

import io
import os
import pathlib
import threading

import pytest

import kohakuvault
from conftest import stored_bytes
from kohakuvault import (
    DatabaseBusy,
    InvalidArgument,
    IoError,
    KohakuVaultError,
    KVault,
    NotFound,
)

EXPORTS_110 = {
    "KVault",
    "VectorKVault",
    "TextVault",
    "ColumnVault",
    "Column",
    "VarSizeColumn",
    "DataPacker",
    "CSBTree",
    "SkipList",
    "MsgPack",
    "Json",
    "Cbor",
    "Pickle",
    "KohakuVaultError",
    "NotFound",
    "DatabaseBusy",
    "InvalidArgument",
    "IoError",
    "_CSBTREE_AVAILABLE",
    "_DATAPACKER_AVAILABLE",
    "__version__",
}


def test_exports():
    for name in EXPORTS_110:
        assert hasattr(kohakuvault, name), name
    assert set(kohakuvault.__all__) == EXPORTS_110
    assert isinstance(kohakuvault.__version__, str) and kohakuvault.__version__
    assert kohakuvault._DATAPACKER_AVAILABLE is True
    assert kohakuvault._CSBTREE_AVAILABLE is True


def test_kvault_alias_module():
    from kohakuvault._kvault import DataPacker, _KVault

    assert _KVault is KVault
    assert DataPacker is kohakuvault.DataPacker
    import kohakuvault._kvault as native

    for name in ("_ColumnVault", "_TextVault", "_VectorKVault", "CSBTree", "SkipList"):
        assert hasattr(native, name)


def test_submodules():
    from kohakuvault.errors import map_exception
    from kohakuvault.proxy import KVault as K2
    from kohakuvault.proxy import _stream_copy
    from kohakuvault.wrappers import EncodingWrapper, Json

    assert K2 is KVault
    assert issubclass(Json, EncodingWrapper)
    src = io.BytesIO(b"abc" * 1000)
    dst = io.BytesIO()
    assert _stream_copy(src, dst, 7) == 3000 and dst.getvalue() == b"abc" * 1000
    assert isinstance(map_exception(ValueError("x")), InvalidArgument)


@pytest.mark.parametrize("name", ["CSBTree", "SkipList"])
def test_ordered_classes_are_implemented(name):
    # Every class of 1.1.0's API is implemented now (tests/test_ordered.py covers these two).
    cls = getattr(kohakuvault, name)
    c = cls()
    c[2] = "b"
    assert c.insert(1, "a") is None
    assert c.items() == [(1, "a"), (2, "b")] and len(c) == 2 and c[1] == "a"
    assert repr(c) == f"{name}(len=2)"


def test_error_hierarchy():
    for cls in (NotFound, DatabaseBusy, InvalidArgument, IoError):
        assert issubclass(cls, KohakuVaultError)
    e = NotFound(b"k")
    assert e.key == b"k" and str(e) == "Key not found: b'k'"
    assert str(DatabaseBusy()) == "database is busy/locked"
    cause = PermissionError("nope")
    e = IoError("OS error during I/O", cause)
    assert str(e) == "OS error during I/O: nope" and e.__cause__ is cause
    assert str(IoError("m")) == "m"


def test_basic_mapping(kv, db_path):
    assert repr(kv) == f"KVault({db_path!r}, status=open, keys=0)"
    kv["a"] = b"1"
    kv[b"b"] = {"x": 1}
    kv.put("c", "three")
    assert kv["a"] == b"1" and kv[b"a"] == b"1"
    assert kv["b"] == {"x": 1}
    assert kv.get("c") == "three"
    assert kv.get("zz") is None and kv.get("zz", 5) == 5
    assert len(kv) == 3
    assert list(kv) == [b"a", b"b", b"c"]
    assert "a" in kv and b"b" in kv and "zz" not in kv and 1 not in kv
    assert kv == {b"a": b"1", b"b": {"x": 1}, b"c": "three"}
    with pytest.raises(TypeError):
        hash(kv)
    assert repr(kv) == f"KVault({db_path!r}, status=open, keys=3)"
    del kv["a"]
    with pytest.raises(KeyError) as info:
        del kv["a"]
    assert info.value.args == ("a",)
    with pytest.raises(KeyError) as info:
        kv["missing"]
    assert info.value.args == ("missing",)
    assert kv._path == db_path


def test_keys_must_be_bytes_or_str(kv):
    for bad in (1, None, bytearray(b"x"), memoryview(b"x"), 1.5):
        with pytest.raises(InvalidArgument, match="key must be bytes or str"):
            kv.put(bad, b"x")
        with pytest.raises(InvalidArgument):
            kv.get(bad)
        assert bad not in kv
    kv["é"] = b"1"
    assert list(kv.keys()) == ["é".encode()]
    with pytest.raises(InvalidArgument):
        kv["\ud800"] = b"x"


def test_bytes_like_values_are_raw(kv, db_path):
    kv["ba"] = bytearray(b"xy")
    kv["mv"] = memoryview(b"abcdef")[1:3]
    assert kv["ba"] == b"xy" and type(kv["ba"]) is bytes
    assert kv["mv"] == b"bc"
    assert stored_bytes(db_path, "ba") == b"xy"


def test_constructor_validation(db_path, tmp_path):
    cases = [
        (dict(chunk_size=0), "chunk_size must be positive"),
        (dict(chunk_size=1.5), "chunk_size must be an integer"),
        (dict(retries=0), "retries must be positive"),
        (dict(backoff_base=-1), "backoff_base"),
        (dict(backoff_base=float("inf")), "backoff_base"),
        (dict(reader_cache_kb=0), "reader_cache_kb must be positive"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidArgument, match=message):
            KVault(db_path, **kwargs)
    for bad in (5, None, 1.5):
        with pytest.raises(InvalidArgument, match="Invalid path"):
            KVault(bad)
    for kwargs in (dict(reader_idle_limit=-1), dict(page_size=-1), dict(mmap_size=-1)):
        with pytest.raises(KohakuVaultError):
            KVault(db_path, **kwargs)
    # hostile / invalid table names (validated and quoted, docs/COMPATIBILITY.md)
    for table in ("bad name", "x; DROP TABLE kv", "", "1abc", 'a"b', "a" * 300):
        with pytest.raises(InvalidArgument):
            KVault(db_path, table=table)
    nested = tmp_path / "deep" / "er" / "v.db"
    with KVault(pathlib.Path(nested)) as kv:
        kv["a"] = b"1"
    assert nested.exists()


def test_memory_path():
    with KVault(":memory:") as kv:
        kv["a"] = 1
        assert kv["a"] == 1
        assert kv.reader_pool_stats() == {"idle_connections": 0, "sqlite_cache_bytes": 0}


def test_tables_are_separate(db_path):
    with KVault(db_path, table="one") as a, KVault(db_path, table="two") as b:
        a["k"] = 1
        b["k"] = 2
        assert a["k"] == 1 and b["k"] == 2 and len(a) == 1


def test_read_only(db_path, tmp_path):
    with KVault(db_path) as kv:
        kv["a"] = b"1"
        kv["n"] = 5
    ro = KVault(db_path, read_only=True)
    assert ro["a"] == b"1" and ro["n"] == 5
    writes = [
        lambda: ro.put("b", b"x"),
        lambda: ro.delete("a"),
        lambda: ro.put_many([("a", b"1")]),
        lambda: ro.put_many([]),
        lambda: ro.enable_cache(),
        lambda: ro.clear(),
        lambda: ro.setdefault("zz", 1),
        lambda: ro.pop("a"),
        lambda: ro.optimize(),
        lambda: ro.put_file("q", io.BytesIO(b"abc"), size=3),
        lambda: ro.update({"x": b"1"}),
    ]
    for op in writes:
        with pytest.raises(IoError, match="read-only"):
            op()
    assert ro.setdefault("a", 1) == b"1"
    ro.checkpoint()
    ro.enable_headers()
    ro.enable_auto_pack()
    assert dict(ro.items()) == {b"a": b"1", b"n": 5}
    ro.close()
    with pytest.raises(KohakuVaultError):
        KVault(str(tmp_path / "missing.db"), read_only=True)
    with pytest.raises(KohakuVaultError):
        KVault(db_path, read_only=True, table="nope")
    assert not (tmp_path / "missing.db").exists()


def test_use_after_close(db_path):
    kv = KVault(db_path)
    kv["a"] = b"1"
    kv.close()
    kv.close()
    assert repr(kv) == f"KVault({db_path!r}, status=closed, keys=?)"
    ops = [
        lambda: kv["a"],
        lambda: kv.get("a"),
        lambda: kv.put("a", b"x"),
        lambda: len(kv),
        lambda: kv.delete("a"),
        lambda: kv.exists("a"),
        lambda: list(kv.keys()),
        lambda: list(kv.items()),
        lambda: kv.enable_cache(),
        lambda: kv.disable_cache(),
        lambda: kv.put_many([]),
        lambda: kv.get_many([b"a"]),
        lambda: kv.pop("a"),
        lambda: kv.clear(),
        lambda: kv.reader_pool_stats(),
        lambda: kv.optimize(),
        lambda: kv.setdefault("a", 1),
        lambda: kv.headers_enabled(),
        lambda: kv.enable_headers(),
        lambda: kv.auto_pack_enabled(),
        lambda: kv.update({}),
        lambda: kv.get_to_file("a", io.BytesIO()),
        lambda: kv.put_file("a", io.BytesIO(b"x"), size=1),
    ]
    for op in ops:
        with pytest.raises(ValueError, match="Cannot operate on closed KVault"):
            op()
    with pytest.raises(ValueError, match="closed"):
        with kv.lock_cache():
            pass
    assert kv.flush_cache() == 0
    assert kv.checkpoint() is None
    assert "a" not in kv
    assert kv.background_flush_error is None


def test_context_manager(db_path):
    with KVault(db_path) as kv:
        kv["a"] = b"1"
    with pytest.raises(ValueError):
        kv["a"]
    with KVault(db_path) as kv:
        assert kv["a"] == b"1"


def test_put_many_get_many(kv):
    kv.put_many([("a", 1), (b"b", b"2"), ["c", {"x": 1}], ("a", "last")])
    assert kv["a"] == "last"
    assert kv.get_many(["a", "zz", "b", "a"], default=7) == ["last", 7, b"2", "last"]
    assert kv.get_many(()) == []
    kv.put_many(())
    kv["n"] = None
    assert kv.get_many(["n", "q"], default=1) == [None, 1]
    with pytest.raises(InvalidArgument, match="list or tuple of key/value pairs"):
        kv.put_many(x for x in [("a", b"1")])
    with pytest.raises(InvalidArgument, match="each batch item must be a list or tuple"):
        kv.put_many([1])
    with pytest.raises(InvalidArgument, match="exactly"):
        kv.put_many([("a", b"1", 3)])
    with pytest.raises(InvalidArgument):
        kv.put_many([(5, b"1")])
    with pytest.raises(InvalidArgument, match="list or tuple of keys"):
        kv.get_many(iter(["a"]))
    with pytest.raises(InvalidArgument):
        kv.get_many([5])
    # a failed batch writes nothing
    with pytest.raises(InvalidArgument):
        kv.put_many([("new1", b"1"), (None, b"2")])
    assert "new1" not in kv


def test_iteration(kv):
    for i in range(50):
        kv[f"k{i:02d}"] = i
    kv["other"] = b"o"
    keys = list(kv.keys())
    assert keys == sorted(keys) and len(keys) == 51 and all(type(k) is bytes for k in keys)
    assert list(kv.keys(prefix="k0")) == [f"k0{i}".encode() for i in range(10)]
    assert list(kv.keys(prefix=b"k", limit=3)) == [b"k00", b"k01", b"k02"]
    assert list(kv.keys(limit=0)) == []
    assert list(kv.keys(batch_size=7)) == keys
    assert list(kv.keys(prefix="")) == keys
    assert list(kv.keys(prefix="zz")) == []
    assert list(kv.items(prefix="k4", batch_size=3)) == [
        (f"k4{i}".encode(), 40 + i) for i in range(10)
    ]
    assert list(kv.values(prefix="k", limit=5, batch_size=2)) == [0, 1, 2, 3, 4]
    # lazy validation: raw ValueError on first next()
    gen = kv.keys(limit=-1)
    with pytest.raises(ValueError, match="limit must be nonnegative or None"):
        next(gen)
    for method in (kv.keys, kv.items, kv.values):
        with pytest.raises(ValueError, match="batch_size must be positive"):
            next(method(batch_size=0))
    with pytest.raises(TypeError):
        next(kv.items(limit="a"))


def test_prefix_edge_bytes(kv):
    kv[b"\xff"] = b"1"
    kv[b"\xff\xff"] = b"2"
    kv[b"\xff\xff\x00"] = b"3"
    kv[b"\xfe\xff"] = b"4"
    assert list(kv.keys(prefix=b"\xff\xff")) == [b"\xff\xff", b"\xff\xff\x00"]
    assert list(kv.keys(prefix=b"\xfe")) == [b"\xfe\xff"]


def test_pop_setdefault_update_clear(kv):
    kv["a"] = [1, 2]
    assert kv.pop("a") == [1, 2]
    assert "a" not in kv
    assert kv.pop("a", 9) == 9
    with pytest.raises(KeyError):
        kv.pop("a")
    assert kv.setdefault("s", {"d": 1}) == {"d": 1}
    assert kv.setdefault("s", {"other": 2}) == {"d": 1}
    assert kv.setdefault("n") is None and "n" in kv and kv["n"] is None

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("no")

    assert kv.setdefault("s", Unpicklable()) == {"d": 1}
    kv.update({"u": 1}, v=2)
    kv.update([("w", 3)])
    kv.update(("x", i) for i in range(3))
    assert kv["u"] == 1 and kv["v"] == 2 and kv["w"] == 3 and kv["x"] == 2
    with pytest.raises(TypeError):
        kv.update(5)
    kv.update({f"bulk{i}": i for i in range(3000)})
    assert len(kv) == 3000 + 6
    kv.clear()
    assert len(kv) == 0 and list(kv.keys()) == []


def test_auto_pack_and_headers_toggles(kv, db_path):
    assert kv.auto_pack_enabled() and kv.headers_enabled()
    kv.disable_auto_pack()
    with pytest.raises(InvalidArgument, match="value must be bytes-like"):
        kv.put("z", 1)
    with pytest.raises(InvalidArgument):
        kv.put("z", "str")
    kv["z"] = bytearray(b"q")
    assert kv["z"] == b"q"
    kv.enable_auto_pack()
    kv["n"] = 5
    kv.disable_auto_pack()
    stored = b"\x89K\x01\x02\x00\x00\x00\x00VK\x05\x00\x00\x00\x00\x00\x00\x00"
    assert kv["n"] == stored
    assert kv.get_many(["n"]) == [stored]
    assert dict(kv.items())[b"n"] == stored
    assert kv.pop("n") == stored
    kv.enable_auto_pack()
    kv.disable_headers()
    assert not kv.headers_enabled()
    kv["h"] = 5
    assert kv["h"] == b"\x05\x00\x00\x00\x00\x00\x00\x00"
    kv.enable_auto_pack()
    assert kv.headers_enabled()
    import sqlite3

    con = sqlite3.connect(db_path)
    features = dict(con.execute("SELECT key, value FROM kohakuvault_meta").fetchall())
    con.close()
    assert set(features["kv_features"].split(",")) >= {"auto_pack_v1"}


def test_fresh_db_meta_is_empty(db_path):
    import sqlite3

    with KVault(db_path) as kv:
        kv["a"] = b"1"
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT COUNT(*) FROM kohakuvault_meta").fetchone() == (0,)
    assert con.execute("PRAGMA page_size").fetchone() == (32768,)
    con.close()


def test_corrupt_header_is_invalid_argument(kv, db_path):
    import sqlite3

    kv["x"] = b"placeholder"
    con = sqlite3.connect(db_path)
    bad = [
        bytes.fromhex("894B020600000000564B41"),
        bytes.fromhex("894B014000000000564B41"),
        bytes.fromhex("894B010600010000564B41"),
        bytes.fromhex("894B01FF00000000564B41"),
    ]
    for i, value in enumerate(bad):
        con.execute("INSERT INTO kv (key, value) VALUES (?, ?)", (f"bad{i}".encode(), value))
    con.commit()
    con.close()
    for i in range(len(bad)):
        with pytest.raises(InvalidArgument):
            kv[f"bad{i}"]
        with pytest.raises(InvalidArgument):
            kv.get_many([f"bad{i}"])
    with pytest.raises(InvalidArgument):
        list(kv.values())
    assert list(kv.keys(prefix="bad")) == [f"bad{i}".encode() for i in range(len(bad))]
    assert kv["x"] == b"placeholder"
    kv.disable_auto_pack()
    assert kv["bad0"] == bad[0]


def test_not_a_sqlite_file(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(KohakuVaultError):
        KVault(str(path))
    assert path.read_bytes() == b"this is not a database" * 100


def test_checkpoint_optimize_pool_stats(kv):
    for i in range(100):
        kv[f"k{i}"] = b"x" * 100
    assert kv.checkpoint() is None
    kv.optimize()
    assert kv["k5"] == b"x" * 100
    stats = kv.reader_pool_stats()
    assert set(stats) == {"idle_connections", "sqlite_cache_bytes"}
    # Point reads use the writer connection while it is free; streams (and reads that find the
    # writer busy) lease pooled readers, which go back to the pool idle.
    sink = io.BytesIO()
    kv.get_to_file("k5", sink)
    stats = kv.reader_pool_stats()
    assert stats["idle_connections"] >= 1 and stats["sqlite_cache_bytes"] > 0


def test_threads_share_a_handle(kv):
    kv.put_many([(f"k{i}", i) for i in range(200)])
    errors = []

    def reader():
        try:
            for _ in range(5):
                for i in range(200):
                    assert kv[f"k{i}"] == i
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def writer():
        try:
            for i in range(200, 400):
                kv[f"k{i}"] = i
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(kv) == 400


def test_large_values(kv):
    big = os.urandom(3 << 20)
    kv["big"] = big
    assert kv["big"] == big
    assert kv.get_many(["big", "big"]) == [big, big]
    kv["small"] = b"s"
    assert kv["small"] == b"s"


def test_oversized_stream_is_rejected_cleanly(kv):
    with pytest.raises(InvalidArgument, match="BLOB limit"):
        kv.put_file("h", io.BytesIO(b""), size=1 << 31)
    with pytest.raises(InvalidArgument):
        kv.put_file("h", io.BytesIO(b"x"), size=1, chunk_size=1 << 31)
    assert "h" not in kv


def test_pickle_failure_is_typed(kv):
    class Local:
        pass

    with pytest.raises(KohakuVaultError):
        kv["f"] = lambda: 1
    with pytest.raises(KohakuVaultError):
        kv["f"] = Local()
    assert "f" not in kv


def test_native_error_mapping_by_type():
    from kohakuvault._errmap import map_native_error
    from kohakuvault._ffi import N

    E = N.VaultError
    cases = [
        (E.Busy("database is locked"), DatabaseBusy, "locked"),
        (E.InvalidArgument("bad"), InvalidArgument, "bad"),
        (E.UnsupportedEncoding("pickle"), InvalidArgument, "pickle"),
        (E.ReadOnly("KVault is read-only"), IoError, "read-only"),
        (E.ReadOnly("attempt to write"), IoError, "read-only"),
        (E.Io("disk I/O error"), IoError, "disk"),
        (E.DiskFull("full"), IoError, "full"),
        (E.Corrupt("file is not a database"), KohakuVaultError, "not a database"),
        (E.Interrupted("interrupted"), KohakuVaultError, "interrupted"),
        (E.Internal("boom"), KohakuVaultError, "boom"),
    ]
    for exc, cls, word in cases:
        mapped = map_native_error(exc)
        assert type(mapped) is cls, (exc, mapped)
        assert word in str(mapped)
    assert isinstance(map_native_error(E.Corrupt("bad header"), decoding=True), InvalidArgument)
    closed = map_native_error(E.Closed("whatever"))
    assert type(closed) is ValueError and "closed" in str(closed)
    nf = map_native_error(E.NotFound("x"), key=b"k")
    assert type(nf) is NotFound and nf.key == b"k"
    assert isinstance(map_native_error(TypeError("t")), InvalidArgument)
    assert isinstance(map_native_error(PermissionError("p")), IoError)
