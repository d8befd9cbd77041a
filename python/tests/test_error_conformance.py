"""tests/conformance/errors.json: every caller-caused failure raises the class the case names
for Python (kohakuvault 1.1.0's class, docs/COMPATIBILITY.md §3.1), and leaves the vault as it was
where the case says so. Every suite (Rust, Kotlin, Swift, Python) runs the same cases."""

import io
import os
import sqlite3

import pytest

import kohakuvault
from conftest import load_conformance
from kohakuvault import KVault

ERRORS = load_conformance("errors.json")
CASES = [c for c in ERRORS["cases"] if c.get("python") is not None]


_BUILTIN = {c.__name__: c for c in (ValueError, TypeError, KeyError, IndexError, LookupError)}


def _class(name):
    if name in _BUILTIN:
        return _BUILTIN[name]
    return getattr(kohakuvault, name)


def _raises(cls, fn, *args, **kwargs):
    """``fn`` raises exactly ``cls`` (not merely a subclass of it)."""
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    assert type(info.value) is cls, (fn, type(info.value), info.value)
    return info.value


def use_after_close(case, cls, path):
    kv = KVault(path)
    kv["a"] = b"1"
    kv.close()
    operations = {
        "get": lambda: kv.get("a"),
        "getitem": lambda: kv["a"],
        "put": lambda: kv.put("a", b"2"),
        "delete": lambda: kv.delete("a"),
        "exists": lambda: kv.exists("a"),
        "len": lambda: len(kv),
        "keys": lambda: list(kv.keys()),
        "items": lambda: list(kv.items()),
        "put_many": lambda: kv.put_many([("a", b"2")]),
        "get_many": lambda: kv.get_many(["a"]),
        "pop": lambda: kv.pop("a"),
        "enable_cache": lambda: kv.enable_cache(),
    }
    for name, op in operations.items():
        err = _raises(cls, op)
        assert "closed" in str(err), name
    with KVault(path) as again:  # nothing changed
        assert again["a"] == b"1" and len(again) == 1


def write_read_only(case, cls, path):
    with KVault(path) as kv:
        kv["a"] = b"1"
    with KVault(path, read_only=True) as ro:
        err = _raises(cls, ro.put, "b", b"2")
        assert "read-only" in str(err)
        assert ro["a"] == b"1" and "b" not in ro and len(ro) == 1


def bad_table_name(case, cls, path):
    _raises(cls, KVault, path, table=case["table"])


def missing_table_read_only(case, cls, path):
    with KVault(path) as kv:
        kv["a"] = b"1"
    _raises(cls, KVault, path, table=case["table"], read_only=True)
    with KVault(path) as kv:  # not created by the failed open
        assert case["table"] not in kv.tables()


def short_stream(case, cls, path):
    with KVault(path) as kv:
        kv["s"] = b"old value"
        source = io.BytesIO(b"x" * case["bytes"])
        _raises(cls, kv.put_file, "s", source, size=case["size"])
        assert kv["s"] == b"old value"


def page_size_zero(case, cls, path):
    with KVault(path) as kv:
        kv["a"] = b"1"
        _raises(cls, lambda: list(kv.keys(batch_size=0)))


def negative_limit(case, cls, path):
    with KVault(path) as kv:
        kv["a"] = b"1"
        _raises(cls, lambda: list(kv.keys(limit=-1)))


def cache_size_zero(case, cls, path):
    with KVault(path) as kv:
        _raises(cls, kv.enable_cache, cap_bytes=0)
        kv["a"] = b"1"  # still uncached: committed at once
        assert kv._store.cache_stats().enabled is False and kv["a"] == b"1"


def close_while_cache_locked(case, cls, path):
    kv = KVault(path)
    kv.enable_cache()
    with kv.lock_cache():
        kv["a"] = b"1"
        err = _raises(cls, kv.close)
        assert "locked" in str(err)
        assert kv["a"] == b"1"  # still open, the write still pending
    kv.close()
    with KVault(path) as again:
        assert again["a"] == b"1"


def key_too_long(case, cls, path):
    with KVault(path) as kv:
        _raises(cls, kv.put, b"k" * case["key_len"], b"v")
        assert len(kv) == 0


def newer_file_version(case, cls, path):
    con = sqlite3.connect(path)  # closed before the vault opens the file
    con.execute(f"PRAGMA user_version = {int(case['user_version'])}")
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    _raises(cls, KVault, path)


def column_index_out_of_range(case, cls, path):
    from kohakuvault import ColumnVault

    with ColumnVault(path) as cv:
        col = cv.create_column("c", case["dtype"])
        col.append(1)
        _raises(cls, col.read, 1, 1)
        assert col.read() == [1]


def column_dtype_mismatch(case, cls, path):
    from kohakuvault import ColumnVault

    with ColumnVault(path) as cv:
        cv.create_column("c", "i64")
        _raises(cls, cv.ensure, "c", case["other_dtype"])
        assert cv.list_columns() == [("c", "i64", 0)]


def _column_create_fails(case, cls, path):
    from kohakuvault import ColumnVault

    with ColumnVault(path) as cv:
        _raises(cls, cv.create_column, "c", case["dtype"])
        assert cv.list_columns() == []


def column_missing(case, cls, path):
    from kohakuvault import ColumnVault

    with ColumnVault(path) as cv:
        _raises(cls, cv.__getitem__, "absent")


def column_use_after_close(case, cls, path):
    from kohakuvault import ColumnVault

    cv = ColumnVault(path)
    col = cv.create_column("c", "i64")
    cv.close()
    for op in (cv.list_columns, lambda: col.append(1), col.read, col.__len__, cv.enable_cache):
        _raises(cls, op)


column_unknown_dtype = _column_create_fails
column_unknown_codec = _column_create_fails


# ---- VectorKVault --------------------------------------------------------------------------


def _vectors(path, **kwargs):
    from kohakuvault import VectorKVault

    kwargs.setdefault("dimensions", 4)
    return VectorKVault(path, table="v", **kwargs)


def vector_wrong_dims(case, cls, path):
    with _vectors(path) as v:
        v.insert([1, 0, 0, 0], "a")
        _raises(cls, v.insert, [1, 0, 0], "b")
        _raises(cls, v.search, [1, 0, 0])
        assert v.count() == 1


def vector_not_finite(case, cls, path):
    with _vectors(path, metric="l2") as v:
        v.insert([1, 0, 0, 0], "a")
        _raises(cls, v.insert, [1, float("nan"), 0, 0], "b")
        assert v.count() == 1 and v.ids() == [1]


def vector_k_too_large(case, cls, path):
    with _vectors(path) as v:
        v.insert([1, 0, 0, 0], "a")
        _raises(cls, v.search, [1, 0, 0, 0], k=case["k"])
        assert v.search([1, 0, 0, 0], k=case["k"] - 1)[0][0] == 1  # the limit itself is fine


def vector_incompatible_metric(case, cls, path):
    _raises(cls, _vectors, path, metric=case["metric"], vector_type=case["vector_type"])


def vector_reopen_mismatch(case, cls, path):
    with _vectors(path) as v:
        v.insert([1, 0, 0, 0], "a")
    err = _raises(cls, _vectors, path, dimensions=8)
    assert "dimensions=4" in str(err) and "dimensions=8" in str(err), str(err)
    with _vectors(path) as v:  # unchanged
        assert v.count() == 1


def vector_missing_id(case, cls, path):
    with _vectors(path) as v:
        err = _raises(cls, v.get_by_id, 42)
        assert str(err) == "ID 42 not found"


def vector_use_after_close(case, cls, path):
    v = _vectors(path)
    v.insert([1, 0, 0, 0], "a")
    v.close()
    q = [1, 0, 0, 0]
    for op in (
        lambda: v.insert(q, "b"),
        lambda: v.search(q),
        lambda: v.get_by_id(1),
        v.count,
        lambda: v.delete(1),
    ):
        err = _raises(cls, op)
        assert "closed" in str(err)
    with _vectors(path) as again:  # nothing changed
        assert again.count() == 1 and again.get_by_id(1)[1] == "a"


# ---- TextVault ----------------------------------------------------------------------------


def _text(path, **kwargs):
    from kohakuvault import TextVault

    kwargs.setdefault("table", "t")
    return TextVault(path, **kwargs)


def text_reserved_column(case, cls, path):
    err = _raises(cls, _text, path, columns=case["columns"])
    assert case["columns"][0] in str(err)
    if os.path.exists(path):  # nothing was created by the failed open
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [r[0] for r in con.execute("SELECT name FROM sqlite_schema")]
        finally:
            con.close()
        assert not any(n == "t" or n.startswith("t_") for n in names), names


def text_fts5_syntax(case, cls, path):
    with _text(path) as tv:
        tv.insert("x and more", 1)
        err = _raises(cls, tv.search, case["query"], escape=False)
        assert "fts5" in str(err), str(err)
        _raises(cls, tv.count_matches, case["query"])
        assert tv.count() == 1 and tv.search("x")[0][0] == 1


def text_unknown_column(case, cls, path):
    with _text(path, columns=["title", "body"]) as tv:
        tv.insert({"title": "x", "body": "y"}, 1)
        err = _raises(cls, tv.search, "x", column="nope")
        assert str(err) == 'Column \'nope\' not found. Available columns: ["title", "body"]'
        assert [h[0] for h in tv.search("x", column="title")] == [1]


def text_k_too_large(case, cls, path):
    with _text(path) as tv:
        tv.insert("x", 1)
        _raises(cls, tv.search, "x", k=case["k"])
        assert tv.search("x", k=case["k"] - 1)[0][0] == 1  # the limit itself is fine


def text_reopen_mismatch(case, cls, path):
    with _text(path, columns=["title", "body"]) as tv:
        tv.insert({"title": "x", "body": "y"}, 1)
    err = _raises(cls, _text, path, columns=["title"])
    assert '["title", "body"]' in str(err) and '["title"]' in str(err), str(err)
    with _text(path, columns=["title", "body"]) as tv:  # unchanged
        assert tv.count() == 1 and tv.get_by_id(1) == ({"title": "x", "body": "y"}, 1)


def text_missing_id(case, cls, path):
    with _text(path) as tv:
        err = _raises(cls, tv.get_by_id, 42)
        assert str(err) == "ID 42 not found"


def text_use_after_close(case, cls, path):
    tv = _text(path)
    tv.insert("alpha", "a")
    tv.close()
    for op in (
        lambda: tv.insert("beta", "b"),
        lambda: tv.search("alpha"),
        lambda: tv.get_by_id(1),
        tv.count,
        lambda: tv.delete(1),
    ):
        err = _raises(cls, op)
        assert "closed" in str(err)
    with _text(path) as again:  # nothing changed
        assert again.count() == 1 and again.get_by_id(1) == ("alpha", "a")


TEXT_RUNNERS = (
    text_reserved_column,
    text_fts5_syntax,
    text_unknown_column,
    text_k_too_large,
    text_reopen_mismatch,
    text_missing_id,
    text_use_after_close,
)


RUNNERS = {
    f.__name__: f
    for f in (
        use_after_close,
        write_read_only,
        bad_table_name,
        missing_table_read_only,
        short_stream,
        page_size_zero,
        negative_limit,
        cache_size_zero,
        close_while_cache_locked,
        key_too_long,
        newer_file_version,
        column_index_out_of_range,
        column_dtype_mismatch,
        column_missing,
        column_use_after_close,
        vector_wrong_dims,
        vector_not_finite,
        vector_k_too_large,
        vector_incompatible_metric,
        vector_reopen_mismatch,
        vector_missing_id,
        vector_use_after_close,
    )
}
RUNNERS.update({f.__name__: f for f in TEXT_RUNNERS})
RUNNERS["column_unknown_dtype"] = column_unknown_dtype
RUNNERS["column_unknown_codec"] = column_unknown_codec


def test_every_case_has_a_runner():
    assert {c["id"] for c in CASES} <= set(RUNNERS), "a new errors.json case needs a runner"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_error_case(case, tmp_path):
    runner = RUNNERS.get(case["id"])
    if runner is None:
        pytest.fail(f"no Python runner for errors.json case {case['id']!r}")
    runner(case, _class(case["python"]), str(tmp_path / "vault.db"))
