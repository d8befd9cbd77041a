"""Cross-language file check (tests/conformance/xlang.json).

With KV_XLANG_DIR set, writes $KV_XLANG_DIR/python.db through the facade's natural API and reads
back every other <lang>.db present there. KV_XLANG_REQUIRE=rust,kotlin,... makes missing files
failures instead of skips.
"""

import os
import sqlite3

import numpy as np
import pytest

from conftest import load_conformance
from kohakuvault import KVault

XLANG = load_conformance("xlang.json")
DIR = os.environ.get("KV_XLANG_DIR")
REQUIRE = {x.strip() for x in os.environ.get("KV_XLANG_REQUIRE", "").split(",") if x.strip()}
OTHERS = ["rust", "kotlin", "swift"]

pytestmark = pytest.mark.skipif(not DIR, reason="KV_XLANG_DIR is not set")


def natural(entry):
    kind = entry["type"]
    if kind == "bytes":
        return bytes.fromhex(entry["value_hex"])
    if kind == "f32_array":
        return np.array(entry["value"], dtype=np.float32).reshape(entry["shape"])
    if kind in ("string", "int", "float", "bool", "msgpack_hex"):
        return entry["value"]
    raise AssertionError(f"unknown xlang type {kind}")


def same(a, b):
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def stored_table(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {bytes(k): bytes(v) for k, v in con.execute("SELECT key, value FROM kv")}
    finally:
        con.close()


def test_write_python_db():
    os.makedirs(DIR, exist_ok=True)
    path = os.path.join(DIR, "python.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    with KVault(path) as kv:
        for entry in XLANG["entries"]:
            kv[entry["key"]] = natural(entry)
    stored = stored_table(path)
    for entry in XLANG["entries"]:
        assert stored[entry["key"].encode()] == bytes.fromhex(entry["stored"]), entry["key"]


@pytest.mark.parametrize("lang", OTHERS)
def test_read_other_language(lang):
    path = os.path.join(DIR, f"{lang}.db")
    if not os.path.exists(path):
        if lang in REQUIRE:
            pytest.fail(f"{path} is missing (required by KV_XLANG_REQUIRE)")
        pytest.skip(f"{path} not present")
    stored = stored_table(path)
    with KVault(path, read_only=True) as kv:
        for entry in XLANG["entries"]:
            key = entry["key"]
            assert stored[key.encode()] == bytes.fromhex(entry["stored"]), (lang, key)
            assert same(kv[key], natural(entry)), (lang, key)


# ---- ColumnVault: one small column file per language ------------------------------------------

COLUMNS = {"ids": [1, 2, 3], "names": ["a", "é"], "emb": [[1.0, 2.0], [3.0, 4.0]]}


def test_write_python_columns():
    from kohakuvault import ColumnVault

    path = os.path.join(DIR, "python-columns.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    with ColumnVault(path) as cv:
        cv.create_column("ids", "i64").extend(COLUMNS["ids"])
        cv.create_column("names", "str").extend(COLUMNS["names"])
        cv.create_column("emb", "vec:f32:2").append_array(
            np.array(COLUMNS["emb"], dtype=np.float32)
        )
    with ColumnVault(path, read_only=True) as cv:
        assert cv["ids"][:] == COLUMNS["ids"]


@pytest.mark.parametrize("lang", ["kotlin", "swift"])
def test_read_other_columns(lang):
    from kohakuvault import ColumnVault

    path = os.path.join(DIR, f"{lang}-columns.db")
    if not os.path.exists(path):
        if lang in REQUIRE:
            pytest.fail(f"{path} missing")
        pytest.skip(f"{lang} has not written {path}")
    with ColumnVault(path, read_only=True) as cv:
        assert cv["ids"][:] == COLUMNS["ids"]
        assert cv["names"][:] == COLUMNS["names"]
        assert cv["emb"].read_array().tolist() == COLUMNS["emb"]


# ---- VectorKVault: the conformance case "xlang" in one file per language ----------------------

VECTOR_LANGS = ["rust", "kotlin", "swift"]


def _xlang_vector_case():
    return next(c for c in load_conformance("vectors.json")["cases"] if c["name"] == "xlang")


def test_write_python_vectors():
    from test_vectors import run_vector_case

    path = os.path.join(DIR, "python-vectors.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    run_vector_case(_xlang_vector_case(), path, write=True, table="vec_xlang")


@pytest.mark.parametrize("lang", VECTOR_LANGS)
def test_read_other_vectors(lang):
    from test_vectors import run_vector_case

    path = os.path.join(DIR, f"{lang}-vectors.db")
    if not os.path.exists(path):
        if lang in REQUIRE:
            pytest.fail(f"{path} missing")
        pytest.skip(f"{lang} has not written {path}")
    run_vector_case(_xlang_vector_case(), path, write=False, table="vec_xlang")
