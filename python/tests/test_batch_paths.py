"""Batch reads and writes behave the same through the C fast path (pages of Python objects,
docs/FORMAT.md §4.1) and through the UDL operations (packed buffers, §4), with columnar puts."""

import pickle

import numpy as np
import pytest

from kohakuvault import KVault, _kv_pages, proxy
from kohakuvault.errors import InvalidArgument


@pytest.fixture(params=["fast", "udl"])
def path_kind(request, monkeypatch):
    if request.param == "udl":
        monkeypatch.setattr(_kv_pages, "_FAST_PAGES", False)
    elif not _kv_pages._FAST_PAGES:
        pytest.skip("the C fast path is not available")
    return request.param


@pytest.fixture
def vault(path_kind, db_path):
    with KVault(db_path) as kv:
        if path_kind == "udl":
            assert kv._fast_get is None
        yield kv


class Str(str):
    def __str__(self):  # never used for the key bytes
        return "other"


MIXED = [
    ("raw", b"\x00bytes"),
    ("empty", b""),
    ("text", "héllo"),
    ("int", -(1 << 70)),
    ("float", 2.5),
    ("bool", True),
    ("dict", {"b": 1, "a": [1, 2, {"z": None}]}),
    ("list", [1, "x", b"y"]),
    ("tuple", (1, 2)),  # pickled (MessagePack would turn it into a list)
    ("array", np.arange(6, dtype=np.int16).reshape(2, 3)),
    ("big", bytes(range(256)) * 40),
]


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def test_put_many_get_many_mixed(vault):
    vault.put_many(MIXED)
    got = vault.get_many([k for k, _ in MIXED] + ["missing"], default="dflt")
    assert len(got) == len(MIXED) + 1 and got[-1] == "dflt"
    for (key, value), back in zip(MIXED, got):
        assert _same(value, back), key
        assert _same(value, vault[key]), key
    assert vault.get_many(["missing", "raw"]) == [None, b"\x00bytes"]
    assert vault.get_many([]) == []


def test_items_values_keys_mixed(vault):
    vault.put_many(MIXED)
    expected = sorted((k.encode(), v) for k, v in MIXED)
    items = list(vault.items())
    assert [k for k, _ in items] == [k for k, _ in expected]
    assert all(_same(v, b) for (_, v), (_, b) in zip(expected, items))
    values = list(vault.values())
    assert all(_same(v, b) for (_, v), b in zip(expected, values))
    assert list(vault.keys()) == [k for k, _ in expected]
    for batch in (1, 2, 5, 100):
        assert [k for k, _ in vault.items(batch_size=batch)] == [k for k, _ in expected]
        assert list(vault.keys(batch_size=batch, limit=4)) == [k for k, _ in expected][:4]


def test_key_forms(vault):
    pairs = [("ascii", b"1"), ("ünï", b"2"), (b"\xff\x00raw", b"3"), (Str("sub"), b"4")]
    vault.put_many(pairs)
    assert vault.get_many(["ascii", "ünï", b"\xff\x00raw", "sub"]) == [b"1", b"2", b"3", b"4"]
    assert vault.get_many([Str("sub"), b"sub"]) == [b"4", b"4"]
    vault.put_many([("x", b"a"), (b"y", b"b")])  # str and bytes keys mixed
    assert vault.get_many([b"x", "y"]) == [b"a", b"b"]
    with pytest.raises(InvalidArgument):
        vault.get_many(["ok", 3])
    with pytest.raises(InvalidArgument):
        vault.put_many([("ok", b"1"), (3, b"2")])
    with pytest.raises(InvalidArgument):
        vault.put_many([("\ud800", b"lone surrogate")])
    assert "ok" not in vault
    assert vault.get(b"x" * (2 << 20)) is None  # longer than any stored key: just missing
    with pytest.raises(KeyError):
        vault["x" * (2 << 20)]


def test_batch_shapes(vault):
    vault.put_many([["list-pair", b"1"], ("tuple-pair", b"2")])
    assert vault.get_many(("list-pair", "tuple-pair")) == [b"1", b"2"]
    for bad in ([("a", b"1", b"extra")], [("a",)], ["ab"], [b"ab"]):
        with pytest.raises(InvalidArgument):
            vault.put_many(bad)
    vault.put_many([])
    assert len(vault) == 2


def test_duplicates_last_write_wins(vault):
    vault.put_many([("k", b"1"), ("j", b"x"), ("k", b"2")] + [(f"f{i}", b"") for i in range(70)])
    assert vault["k"] == b"2"
    assert len(vault) == 72


def test_big_pages_follow_the_byte_budget(vault):
    big = b"v" * (300 << 10)  # a default page (~1 MiB) holds about four of these
    vault.put_many(
        [(f"b{i:02d}", big) for i in range(20)] + [(f"s{i:04d}", b"s") for i in range(9000)]
    )
    keys = list(vault.keys())
    assert len(keys) == 9020 and keys == sorted(keys)
    items = list(vault.items(prefix="b"))
    assert [k for k, _ in items] == [f"b{i:02d}".encode() for i in range(20)]
    assert all(v == big for _, v in items)
    assert sum(1 for _ in vault.values(prefix="s")) == 9000
    assert len(list(vault.items(limit=4100))) == 4100


def test_pages_merge_pending_cache(vault):
    vault.put_many([(f"k{i:03d}", i) for i in range(0, 300, 2)])
    vault.enable_cache()
    for i in range(1, 300, 2):
        vault[f"k{i:03d}"] = -i
    vault["k000"] = "replaced"
    expected = [(f"k{i:03d}".encode(), (-i if i % 2 else i)) for i in range(300)]
    expected[0] = (b"k000", "replaced")
    assert list(vault.items()) == expected
    assert list(vault.items(batch_size=7)) == expected
    assert list(vault.keys(prefix="k1", limit=10)) == [f"k1{i:02d}".encode() for i in range(10)]
    assert vault.get_many(["k000", "k001", "k002", "nope"]) == ["replaced", -1, 2, None]
    vault.flush_cache()
    assert list(vault.items()) == expected


def test_combiner_mixed_kinds(vault):
    vault.enable_cache()
    for key, value in MIXED:
        vault[key] = value
    for key, value in MIXED:
        assert _same(value, vault[key]), key
    vault.flush_cache()
    got = vault.get_many([k for k, _ in MIXED])
    assert all(_same(v, b) for (_, v), b in zip(MIXED, got))


def test_auto_pack_off_returns_stored_bytes(vault):
    vault["n"] = 5
    vault["b"] = b"raw"
    vault.disable_auto_pack()
    stored = vault.get_many(["n", "b", "x"])
    assert stored[1] == b"raw" and stored[2] is None
    assert stored[0][:2] == b"\x89\x4b"  # the value header
    assert dict(vault.items()) == {b"n": stored[0], b"b": b"raw"}
    assert vault["n"] == stored[0]
    vault.enable_auto_pack()
    assert vault["n"] == 5


def test_closed_vault(path_kind, db_path):
    kv = KVault(db_path)
    kv.put_many([("a", b"1")])
    kv.close()
    with pytest.raises(ValueError, match="closed"):
        kv.get_many(["a"])
    with pytest.raises(ValueError, match="closed"):
        list(kv.items())
    with pytest.raises(ValueError, match="closed"):
        kv.get("a")


def test_page_stream_is_data_only():
    """The fast-path page is plain pickle data: no opcode that could import or call."""
    import pickletools

    if not _kv_pages._FAST_PAGES:
        pytest.skip("the C fast path is not available")
    from kohakuvault._ffi import FAST

    with KVault(":memory:") as kv:
        kv.put_many(MIXED)
        tls = FAST.tls
        for call in (
            lambda: FAST.get_many(kv._fh, *proxy._key_column([k for k, _ in MIXED]), True),
            lambda: FAST.scan(kv._fh, None, None, 100, 1 << 20, 3),
        ):
            assert call() is not None
            import ctypes

            raw = ctypes.string_at(tls.page_ptr.value, tls.page_len.value)
            ops = {op.name for op, _, _ in pickletools.genops(raw)}
            data_only = {
                "PROTO",
                "EMPTY_LIST",
                "EMPTY_DICT",
                "MARK",
                "APPENDS",
                "SETITEMS",
                "SHORT_BINBYTES",
                "BINBYTES",
                "SHORT_BINUNICODE",
                "BINUNICODE",
                "BININT",
                "BININT1",
                "BININT2",
                "LONG1",
                "BINFLOAT",
                "NONE",
                "NEWTRUE",
                "NEWFALSE",
                "TUPLE2",
                "TUPLE3",
                "TUPLE",
                "BINPUT",
                "LONG_BINPUT",
                "BINGET",
                "LONG_BINGET",
                "STOP",
            }
            assert ops <= data_only, ops - data_only
            assert isinstance(pickle.loads(raw), tuple)


def test_msgpack_values_decode_in_bulk(vault):
    dicts = [(f"d{i:03d}", {"i": i, "s": "x" * (i % 5), "l": [i, None]}) for i in range(300)]
    vault.put_many(dicts)
    keys = [k for k, _ in dicts]
    assert vault.get_many(keys) == [v for _, v in dicts]  # all MessagePack: one decode
    assert list(vault.items()) == [(k.encode(), v) for k, v in dicts]
    assert list(vault.values(batch_size=7)) == [v for _, v in dicts]
    vault.put_many([("d000a", b"raw between"), ("d001a", 7)])
    got = vault.get_many(["d000", "d000a", "nope", "d001a", "d001"], default=0)
    assert got == [dicts[0][1], b"raw between", 0, 7, dicts[1][1]]
    mixed = dict(vault.items(prefix="d00"))
    assert mixed[b"d000a"] == b"raw between" and mixed[b"d001a"] == 7
    assert mixed[b"d002"] == dicts[2][1]


def test_corrupt_msgpack_value_is_a_typed_error(path_kind, db_path):
    import subprocess
    import sys

    with KVault(db_path) as kv:
        kv.put_many([("good", {"a": 1}), ("bad", {"b": 2})])
    header = bytes([0x89, 0x4B, 0x01, 0x04, 0, 0, 0, 0, 0x56, 0x4B])
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
        "c.execute('UPDATE kv SET value = ? WHERE key = ?', (bytes.fromhex(sys.argv[2]), b'bad'));"
        "c.commit()"
    )
    body = bytes([0x92, 0x01])  # an array of two with one element: truncated
    subprocess.run([sys.executable, "-c", code, db_path, (header + body).hex()], check=True)
    with KVault(db_path) as kv:
        assert kv["good"] == {"a": 1}
        with pytest.raises(InvalidArgument):
            kv["bad"]
        with pytest.raises(InvalidArgument):
            kv.get_many(["good", "bad"])
        with pytest.raises(InvalidArgument):
            list(kv.items())
        assert kv.get_many(["good"]) == [{"a": 1}]


def _msgpack_cases():
    import random

    import msgpack

    rng = random.Random(11)

    def scalar():
        return rng.choice(
            [
                None,
                True,
                False,
                0,
                255,
                256,
                65535,
                65536,
                -1,
                -33,
                -(2**31),
                2**31,
                2**63 - 1,
                -(2**63),
                2**64 - 1,
                0.1,
                -0.0,
                float("inf"),
                "",
                "é" * rng.randint(0, 3),
                "k" * 300,
                b"",
                b"\x00" * rng.randint(1, 300),
            ]
        )

    def value(depth=0):
        r = rng.random()
        if depth > 3 or r < 0.4:
            return scalar()
        if r < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        keys = ["a", "b", "name", "é", "z" * 70, 1, -2, None, True, b"k", 2.5]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 5))}

    cases = [msgpack.packb(value(), use_bin_type=True) for _ in range(400)]
    cases += [
        bytes([0x92, 0xCA]) + bytes.fromhex("3f800000") + b"\x01",  # float32
        bytes([0x91, 0xD4, 0x05, 0x01]),  # ext inside: msgpack decides
        bytes([0x81, 0xA1, ord("k"), 0xD6, 0xFF]) + bytes(4),  # timestamp ext
        bytes([0x82, 0xA1, ord("a"), 0x01, 0xA1, ord("a"), 0x02]),  # duplicate keys
        bytes([0x82, 0x01, 0xA1, ord("x"), 0xC3, 0xA1, ord("y")]),  # 1 and True: one key
        bytes([0x91, 0xA2, 0xC3, 0x28]),  # invalid UTF-8 str
        bytes([0x81, 0x91, 0x01, 0x02]),  # array as a map key
    ]
    return cases


def test_msgpack_pages_match_msgpack_decoding(vault):
    """Maps and arrays arrive decoded through the page; everything equals what msgpack returns
    for the stored payload (or fails the same way)."""
    import msgpack

    cases = _msgpack_cases()
    keys = [f"m{i:04d}".encode() for i in range(len(cases))]
    kinds = bytes([4]) * len(cases)
    lens = proxy._u32s(map(len, keys)), proxy._u32s(map(len, cases))
    vault._store.put_many_columns(kinds, lens[0], lens[1], b"".join(keys), b"".join(cases))

    def expected(key):
        payload = vault._store.get(key).payload  # the canonical stored payload
        try:
            return True, msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except Exception:
            return False, None

    good = []
    for key in keys:
        ok, want = expected(key)
        if ok:
            good.append(key)
            assert vault[key] == want
            assert repr(vault.get_many([key])[0]) == repr(want)
        else:
            with pytest.raises(InvalidArgument):
                vault.get_many([key])
            with pytest.raises(InvalidArgument):
                list(vault.items())
            del vault[key]
    assert len(good) >= len(keys) - 3
    wants = [expected(k)[1] for k in good]
    assert repr(vault.get_many(good)) == repr(wants)
    assert repr(list(vault.values())) == repr(wants)


class Bytes(bytes):
    def __bytes__(self):  # never what a raw value stores
        return b"other"


@pytest.mark.parametrize("mode", ["autopack", "raw", "no-headers"])
def test_put_many_of_bytes_stores_what_the_general_path_stores(path_kind, tmp_path, mode):
    """All-bytes lists go to the builtin kv_put_many (FORMAT.md §5.1) on the fast path; the
    rows it writes equal the general path's byte for byte, in every mode."""
    pairs = [
        ("a", b"plain"),
        ("b", b"\x89\x4b\x00header-looking"),
        ("c", b""),
        (b"\xff", bytes(range(256)) * 50),
        ["d", b"list pair"],
        (Str("e"), b"str subclass key"),
    ]
    stored = []
    for which in ("builtin", "general"):
        with KVault(str(tmp_path / f"{which}.db")) as kv:
            if mode == "raw":
                kv.disable_auto_pack()
            if mode == "no-headers":
                kv.disable_headers()
            if which == "general":
                kv._fast_put_many = None
            kv.put_many(pairs)
            kv.put_many([("f", Bytes(b"subclass value")), ("g", b"x")])
            kv.disable_auto_pack()
            stored.append(dict(kv.items()))
    assert stored[0] == stored[1]
    assert len(stored[0]) == 8


def test_put_many_errors_store_nothing_on_either_path(vault):
    vault.put_many([("keep", b"1")])
    for bad in (
        [("ok", b"1"), ("x" * (2 << 20), b"key too long")],
        [("ok", b"1"), (None, b"bad key")],
        [("ok", b"1"), ("y", b"2", b"3")],
    ):
        with pytest.raises(InvalidArgument):
            vault.put_many(bad)
    assert list(vault.keys()) == [b"keep"]
    # A batch while the cache is locked is refused (the core's error), nothing stored.
    vault.enable_cache()
    vault["pending"] = b"p"
    with vault.lock_cache():
        with pytest.raises(Exception, match="prohibited while cache is locked"):
            vault.put_many([("k2", b"2")])
    assert "k2" not in vault and vault["pending"] == b"p"
    # A batch replaces pending cache entries of its keys.
    vault["k3"] = b"old"
    vault.put_many([("k3", b"new")])
    vault.flush_cache()
    assert vault["k3"] == b"new"
