"""Files written by kohakuvault 1.1.0 (fixtures/legacy_110.sqlite, see make_legacy_fixture.py)."""

import shutil
import sqlite3

import numpy as np
import pytest

from conftest import FIXTURES, stored_bytes
from kohakuvault import KVault

# What kohakuvault 1.1.0 itself reads back from the fixture (its misreadings included).
LEGACY_VALUES = {
    "raw": b"\x00raw\xff",
    "raw_empty": b"",
    "raw_magic_short": b"\x89K\x00",
    "map": {"id": 7, "tags": ["one", "two"]},
    "list": [1, 2.5, "x", None, True],
    "nested": {"a": {"b": [1, {"c": "d"}]}, "e": -3},
    "int": 42,
    "int_neg": -5,
    "int_zero": 0,
    "int_big": 10**11,
    "float": 1.25,
    "float_neg": -2.5,
    "text": "hello",
    "text_unicode": "été ☃",
    "text_empty": "",
    "array_f32": np.arange(12, dtype=np.float32).reshape(3, 4),
    "array_i64": np.array([1, -2, 3, 10**12], dtype=np.int64),
    "array_u16": np.arange(10, dtype=np.uint16),
    "json": {"a": 1},
    "cbor": {"a": [1, 2.5]},
    "msgpack_wrapped": [1, 2, 3],
    "pickle_none": None,
    "pickle_tuple": (1, "two", 3.0),
    "pickle_wrapped": {"s": {1, 2}},
    "legacy_2pow40": 5.43230922487e-312,
    "legacy_zero_float": 0,
    "legacy_u8_small": "\x05\x01\x01\x00\x00\x00\x07",
    "bare_int": b"\x05\x00\x00\x00\x00\x00\x00\x00",
    "blob": b"B" * 5000,
}
for _i in range(20):
    LEGACY_VALUES[f"bulk:{_i:03d}"] = {"i": _i, "sq": _i * _i}

# Values 1.1.0 round-trips: writing them again must give the same bytes.
REWRITE_SAME = [
    key
    for key in LEGACY_VALUES
    if not key.startswith(("pickle", "legacy_", "bare_"))
    and key not in ("json", "cbor", "msgpack_wrapped")
]


def _equal(a, b):
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(b, float):
        return type(a) is float and (a == b or abs(a - b) < 1e-300)
    return type(a) is type(b) and a == b


@pytest.fixture
def legacy_path(tmp_path):
    path = tmp_path / "legacy.db"
    shutil.copyfile(FIXTURES / "legacy_110.sqlite", path)
    return str(path)


def test_legacy_reads_equal(legacy_path):
    with KVault(legacy_path) as kv:
        assert len(kv) == len(LEGACY_VALUES)
        for key, expected in LEGACY_VALUES.items():
            assert _equal(kv[key], expected), key
        got = dict(kv.items())
        for key, expected in LEGACY_VALUES.items():
            assert _equal(got[key.encode()], expected), key
        keys = list(LEGACY_VALUES)
        for key, value in zip(keys, kv.get_many(keys)):
            assert _equal(value, LEGACY_VALUES[key]), key


def test_legacy_read_only(legacy_path):
    with KVault(legacy_path, read_only=True) as kv:
        assert kv["map"] == {"id": 7, "tags": ["one", "two"]}
        assert kv["array_f32"].shape == (3, 4)


def test_legacy_rewrite_is_byte_identical(legacy_path, tmp_path):
    fresh = str(tmp_path / "fresh.db")
    with KVault(legacy_path) as old, KVault(fresh) as new:
        for key in REWRITE_SAME:
            new[key] = old[key]
            old[key] = old[key]  # rewrite in place too
        from kohakuvault import Cbor, Json, MsgPack

        new["json"] = Json({"a": 1})
        new["cbor"] = Cbor({"a": [1, 2.5]})
        new["msgpack_wrapped"] = MsgPack([1, 2, 3])
    original = tmp_path / "pristine.db"  # never open the committed fixture itself (WAL sidecars)
    shutil.copyfile(FIXTURES / "legacy_110.sqlite", original)
    for key in REWRITE_SAME + ["json", "cbor", "msgpack_wrapped"]:
        want = stored_bytes(str(original), key)
        assert stored_bytes(fresh, key) == want, key
        if key in REWRITE_SAME:
            assert stored_bytes(legacy_path, key) == want, key


def test_legacy_file_stays_compatible(legacy_path):
    with KVault(legacy_path) as kv:
        kv["new"] = {"added": True}
    con = sqlite3.connect(legacy_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("PRAGMA page_size").fetchone() == (32768,)
        cols = [r[1] for r in con.execute("PRAGMA table_info(kv)")]
        assert cols == ["key", "value"]
    finally:
        con.close()
