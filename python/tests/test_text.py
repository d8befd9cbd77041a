"""TextVault: kohakuvault 1.1.0's API over the Rust core, plus what 1.1.0 could not do (one
transaction per write, safe quoting, tokenizers, hybrid text + vector search, a real close).

Rankings are checked against FTS5 itself, run independently through Python's sqlite3 module on
the same texts (an in-memory database, never the vault's file), and against a numpy k-NN."""

import importlib
import inspect
import os
import sqlite3
import warnings

import numpy as np
import pytest

import kohakuvault
from conftest import load_conformance
from kohakuvault import (
    InvalidArgument,
    IoError,
    KohakuVaultError,
    NotFound,
    TextVault,
)

TEXTS = load_conformance("texts.json")


def _raises(cls, fn, *args, **kwargs):
    """``fn`` raises exactly ``cls`` (not merely a subclass of it)."""
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    assert type(info.value) is cls, (type(info.value), info.value)
    return info.value


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "text.db")


def texts_arg(columns, texts):
    """A document's texts (in column order) as 1.1.0's API takes them."""
    return texts[0] if len(columns) == 1 else dict(zip(columns, texts))


def snapshot(tv):
    """Everything observable of a vault: ids, texts and values, count, info."""
    ids = tv.keys(None)
    return ids, [tv.get_by_id(i) for i in ids], tv.count(), tv.info()


def table_names(path):
    """The file's schema objects (sqlite3 of this process: only while no vault has it open)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in con.execute("SELECT name FROM sqlite_schema"))
    finally:
        con.close()


# ---- independent references: FTS5 through Python's sqlite3, numpy, RRF ----------------------


def phrase(s):
    return '"' + s.replace('"', '""') + '"'


def words_query(s):
    return " OR ".join(phrase(w) for w in s.split())


class Reference:
    """The same documents in FTS5 through Python's own sqlite3 (an in-memory database)."""

    def __init__(self, columns, docs, tokenizer="unicode61"):
        self.con = sqlite3.connect(":memory:")
        cols = ", ".join(f'"{c}"' for c in columns)
        tok = "" if tokenizer == "unicode61" else f", tokenize = '{tokenizer}'"
        self.con.execute(f"CREATE VIRTUAL TABLE ref USING fts5({cols}{tok})")
        marks = ", ".join("?" * len(columns))
        self.con.executemany(f"INSERT INTO ref ({cols}) VALUES ({marks})", docs)

    def rank(self, expr, k, column=None):
        if column is not None:
            expr = f'"{column}" : ({expr})'
        rows = self.con.execute(
            "SELECT rowid, -rank FROM ref WHERE ref MATCH ? ORDER BY rank LIMIT ?", (expr, k)
        ).fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def close(self):
        self.con.close()


def rrf(lists, rrf_k, k):
    score = {}
    for ids, weight in lists:
        if weight == 0:
            continue
        for r, i in enumerate(ids, start=1):
            score[i] = score.get(i, 0.0) + weight / (rrf_k + r)
    best = sorted(score.items(), key=lambda x: (-x[1], x[0]))[:k]
    return [i for i, _ in best], [s for _, s in best]


def l2_ranking(rows, query, k):
    """Exact k-NN by L2 (integer-valued rows: the distances are exact), ties by id."""
    d2 = ((rows.astype(np.int64) - query.astype(np.int64)) ** 2).sum(axis=1)
    ids = np.arange(1, len(rows) + 1)
    order = np.lexsort((ids, d2))[:k]
    return (order + 1).tolist(), np.sqrt(d2[order]).tolist()


# ---- conformance (tests/conformance/texts.json) ------------------------------------------------


def run_text_case(case, path, write=True, table="txt_conf", batch=False):
    """Insert the case's documents (unless ``write`` is False: the file holds them; ``batch``:
    with one insert_many), then check every query (shared with the cross-language test)."""
    columns = case["columns"]
    kwargs = dict(columns=columns, tokenizer=case["tokenizer"])
    if "dimensions" in case:
        kwargs.update(dimensions=case["dimensions"], metric=case.get("metric", "cosine"))
    docs = case["docs"]
    with TextVault(path, table=table, read_only=not write, **kwargs) as tv:
        if write:
            if batch:
                items = [
                    (texts_arg(columns, d["texts"]), d["value"])
                    + ((d["vector"],) if "vector" in d else ())
                    for d in docs
                ]
                ids = tv.insert_many(items)
            else:
                ids = [
                    tv.insert(texts_arg(columns, d["texts"]), d["value"], vector=d.get("vector"))
                    for d in docs
                ]
            assert ids == list(range(1, len(docs) + 1))
        assert tv.count() == len(docs) and tv.keys() == list(range(1, len(docs) + 1))
        info = tv.info()
        assert info["columns"] == columns and info["tokenizer"] == case["tokenizer"]
        for j, d in enumerate(docs, start=1):
            assert tv.get_by_id(j) == (texts_arg(columns, d["texts"]), d["value"])
        for q in case.get("queries", []):
            hits = tv.search(
                q["query"], k=q["k"], column=q.get("column"), escape=q.get("escape", True)
            )
            where = (case["name"], q)
            assert [h[0] for h in hits] == q["ids"], where
            assert [h[1] for h in hits] == pytest.approx(q["scores"], rel=1e-6), where
            assert [h[2] for h in hits] == [docs[i - 1]["value"] for i in q["ids"]], where
        for q in case.get("hybrid_queries", []):
            hits = tv.hybrid_search(
                q["query"],
                q["vector"],
                k=q["k"],
                text_weight=q["text_weight"],
                vector_weight=q["vector_weight"],
                rrf_k=q["rrf_k"],
            )
            where = (case["name"], q["query"])
            assert [h[0] for h in hits] == q["ids"], where
            assert [h[1] for h in hits] == pytest.approx(q["scores"], rel=0, abs=1e-9), where
            assert [h[2] for h in hits] == [docs[i - 1]["value"] for i in q["ids"]], where


@pytest.mark.parametrize("batch", [False, True], ids=["insert", "insert_many"])
def test_conformance_texts(tmp_path, batch):
    assert TEXTS["version"] == 1
    names = set()
    for i, case in enumerate(TEXTS["cases"]):
        names.add(case["name"])
        run_text_case(case, str(tmp_path / f"conf{i}.db"), batch=batch)
    assert {"english", "two_columns", "porter", "trigram_cjk", "hybrid", "xlang"} <= names


# ---- 1.1.0's API -------------------------------------------------------------------------------


def test_single_column_api_as_1_1_0(path):
    tv = TextVault(path)
    assert tv.columns == ["content"] and tv.path == path and tv.table == "text_vault"
    assert tv.insert("Hello world, this is a test", {"a": 1}) == 1
    assert tv.insert({"content": "second doc hello", "ignored": "x"}, b"raw") == 2
    assert tv.insert("hello again", "v3", metadata={"ignored": True}) == 3
    hits = tv.search("hello")
    assert [h[0] for h in hits] == [3, 2, 1] and all(h[1] > 0 for h in hits)
    assert hits[0][1] >= hits[1][1] >= hits[2][1]
    assert tv.search("world test") == []  # escape=True: one phrase, the words adjacent
    assert [h[0] for h in tv.search("world test", escape=False)] == [1]
    assert tv.search("hello", k=0) == [] and tv.search("   ") == [] and tv.search("") == []
    assert tv.search_with_text("second") == [
        (2, tv.search("second")[0][1], "second doc hello", b"raw")
    ]
    snip = tv.search_with_snippets("hello", k=1)
    assert snip == [(3, hits[0][1], "**hello** again", "v3")]
    assert tv.search_with_snippets("test", highlight_start="<b>", highlight_end="</b>")[0][2] == (
        "Hello world, this is a <b>test</b>"
    )
    long = tv.insert(" ".join(f"w{i}" for i in range(40)) + " needle", 4)
    (s,) = tv.search_with_snippets("needle", snippet_tokens=3)
    assert s[0] == long and s[2] == "...w38 w39 **needle**"
    assert tv.get("hello") in ({"a": 1}, b"raw", "v3")  # a phrase match anywhere, no order
    assert tv.get("this is a") == {"a": 1}
    err = _raises(KohakuVaultError, tv.get, "absent words")
    assert str(err) == "'Key not found: absent words'"
    assert tv.get_by_id(2) == ("second doc hello", b"raw")
    err = _raises(KohakuVaultError, tv.get_by_id, 99)
    assert str(err) == "ID 99 not found"
    assert tv.count_matches("hello") == 3 and tv.count_matches("hello NOT again") == 2
    assert tv.count_matches("   ") == 0
    assert tv.exists(1) and not tv.exists(99) and 1 in tv and 99 not in tv
    assert tv.info() == {
        "table": "text_vault",
        "columns": ["content"],
        "count": 4,
        "tokenizer": "unicode61",
        "dimensions": None,
        "metric": None,
        "vector_type": None,
    }
    tv.update(1, texts="replaced text")
    assert tv.get_by_id(1) == ("replaced text", {"a": 1}) and tv.search("world") == []
    tv.update(1, value=[1, 2])
    tv.update(2, texts={"content": "new second"}, value="both")
    assert tv.get_by_id(1) == ("replaced text", [1, 2]) and tv.get_by_id(2) == (
        "new second",
        "both",
    )
    err = _raises(InvalidArgument, tv.update, 1)
    assert str(err) == "Must provide either texts or value to update"
    _raises(NotFound, tv.update, 99, value="x")
    _raises(NotFound, tv.update, 99, texts="x")  # 1.1.0: a silent no-op
    assert tv.delete(3) is True and tv.delete(3) is False
    assert tv.keys() == [1, 2, 4] and len(tv) == 3
    assert repr(tv) == (
        f"TextVault(path={path!r}, table='text_vault', columns=['content'], count=3)"
    )
    tv.clear()
    assert len(tv) == 0 and tv.keys() == [] and tv.search("text") == []
    assert tv.insert("after clear", 1) == 5  # ids are never reused (docs/COMPATIBILITY.md §5b)
    tv.close()


def test_multi_column_api_as_1_1_0(path):
    with TextVault(path, table="docs", columns=["title", "body"]) as tv:
        assert tv.columns == ["title", "body"]
        a = tv.insert({"title": "Rivers", "body": "salmon swim upstream", "x": "ignored"}, 1)
        b = tv.insert({"title": "Salmon recipes", "body": "grilled fish"}, 2)
        err = _raises(InvalidArgument, tv.insert, {"title": "only"}, 3)
        assert str(err) == "Missing column 'body' in input"
        err = _raises(InvalidArgument, tv.insert, "a str", 3)
        assert str(err) == 'Expected dict with keys ["title", "body"] for multi-column TextVault'
        err = _raises(InvalidArgument, tv.insert, {"title": 5, "body": "x"}, 3)
        assert str(err) == "'int' object cannot be converted to 'PyString'"
        assert {h[0] for h in tv.search("salmon")} == {a, b}
        assert [h[0] for h in tv.search("salmon", column="title")] == [b]
        assert [h[0] for h in tv.search("salmon", column="body")] == [a]
        assert [h[0] for h in tv.search("title:salmon", escape=False)] == [b]
        err = _raises(InvalidArgument, tv.search, "salmon", column="nope")
        assert str(err) == 'Column \'nope\' not found. Available columns: ["title", "body"]'
        (hit,) = tv.search_with_text("grilled")
        assert hit[2] == {"title": "Salmon recipes", "body": "grilled fish"} and hit[3] == 2
        snips = tv.search_with_snippets("salmon", snippet_column="body")
        assert {h[0]: h[2] for h in snips} == {a: "**salmon** swim upstream", b: "grilled fish"}
        assert tv.search_with_snippets("salmon")[0][2] in ("Rivers", "**Salmon** recipes")
        _raises(InvalidArgument, tv.search_with_snippets, "salmon", snippet_column="nope")
        err = _raises(InvalidArgument, tv.get, "salmon")
        assert str(err) == (
            "get() with string key only works for single-column TextVault. "
            "Use get_by_id() or search() instead."
        )
        with pytest.raises(KeyError):
            tv["salmon"]
        assert tv.get_by_id(a) == ({"title": "Rivers", "body": "salmon swim upstream"}, 1)
        tv.update(a, texts={"title": "Streams", "body": "trout"})
        assert tv.get_by_id(a)[0] == {"title": "Streams", "body": "trout"}
        _raises(InvalidArgument, tv.update, a, texts={"title": "half"})
        assert tv.get_by_id(a)[0] == {"title": "Streams", "body": "trout"}
        assert tv.info()["columns"] == ["title", "body"] and tv.info()["count"] == 2


def test_dict_protocol(path):
    with TextVault(path) as tv:
        tv["the first key"] = "one"
        tv["the first key"] = "dup"  # always inserts
        tv["second key"] = {"n": 2}
        assert len(tv) == 3 and tv["second key"] == {"n": 2}
        assert tv["first"] in ("one", "dup")
        with pytest.raises(KeyError) as err:
            tv["missing"]
        assert err.value.args == ("missing",)
        del tv["second key"]
        assert len(tv) == 2 and tv.search("second") == []
        with pytest.raises(KeyError):
            del tv["second key"]
        with pytest.raises(KeyError):
            del tv["   "]
        del tv["first key"]
        del tv["first key"]
        assert len(tv) == 0
        assert 1 not in tv
        _raises(InvalidArgument, tv.__contains__, "1")  # an id, as 1.1.0


def test_insert_many_forms_and_atomicity(path):
    with TextVault(path) as tv:
        assert tv.insert_many([]) == []
        assert tv.insert_many(iter([("g one", 1), ("g two", 2)])) == [1, 2]
        assert tv.insert_many((t, i) for i, t in enumerate(["h a", "h b"])) == [3, 4]
        err = _raises(InvalidArgument, tv.insert_many, [["a list", 1]])
        assert str(err) == "insert_many expects (texts, value) pairs"
        _raises(InvalidArgument, tv.insert_many, [("one",)])
        _raises(InvalidArgument, tv.insert_many, ["ab"])
        err = _raises(InvalidArgument, tv.insert_many, 5)
        assert "not iterable" in str(err)
        # Any bad item: nothing is inserted.
        before = snapshot(tv)
        for bad in (
            [("ok", 1), ("bad", 2), (5, 3)],
            [("ok", 1), ({"x": "y"}, 2)],
            [("ok", 1), ("lone \ud800 surrogate", 2)],
            [("ok", 1), ("vec", 2, [1.0, 2.0])],  # no dimensions
        ):
            _raises(InvalidArgument, tv.insert_many, bad)
        tv.enable_auto_pack(use_pickle=False)
        _raises(InvalidArgument, tv.insert_many, [("ok", 1), ("set", {1, 2})])
        tv.enable_auto_pack()
        assert snapshot(tv) == before
        ids = tv.insert_many([(f"bulk {i}", i) for i in range(1000)])
        assert ids == list(range(5, 1005)) and tv.count() == 1004
        assert tv.search("bulk", k=2000)[0][2] in range(1000)
        assert tv.get_by_id(504) == ("bulk 499", 499)


def test_keys_default_cap_and_paging(path):
    with TextVault(path) as tv:
        n = 10_050
        tv.insert_many([(f"d{i}", i) for i in range(n)])
        assert len(tv.keys()) == 10_000  # 1.1.0's default limit
        assert tv.keys(None) == list(range(1, n + 1))
        assert tv.keys(-1) == list(range(1, n + 1))  # SQLite: a negative LIMIT is none
        assert tv.keys(5, 10_040) == list(range(10_041, 10_046))
        assert tv.keys(3, -1) == [1, 2, 3]
        assert tv.keys(0) == []
        _raises(InvalidArgument, tv.keys, 1.5)
        _raises(InvalidArgument, tv.keys, 10, "0")


def test_value_packing_follows_1_1_0_text_rules(path):
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    with TextVault(path) as tv:
        values = [b"raw", bytearray(b"ba"), "text", 42, 2.5, True, None, {"a": [1]}, [1, "x"], arr]
        ids = [tv.insert(f"doc{i} common", v) for i, v in enumerate(values)]
        for i, want in zip(ids, values):
            got = tv.get_by_id(i)[1]
            if isinstance(want, np.ndarray):
                assert isinstance(got, np.ndarray) and np.array_equal(got, want)
            else:
                assert type(got) is type(want) and got == want, (got, want)
        assert type(tv.search("doc1")[0][2]) is bytearray  # pickled, as 1.1.0
        err = _raises(InvalidArgument, tv.insert, "mv", memoryview(b"x"))
        assert "memoryview" in str(err)
        tv.enable_auto_pack(use_pickle=False)
        _raises(InvalidArgument, tv.insert, "np", {1, 2})
        tv.disable_auto_pack()
        assert tv.auto_pack_enabled() is False
        for v in (b"a", bytearray(b"b"), memoryview(b"c"), [1, 2]):
            tv.insert("rawonly", v)
        for v in ("str", 5, {"a": 1}):
            err = _raises(InvalidArgument, tv.insert, "rawonly", v)
            assert str(err) == "Expected bytes or bytearray"
        assert sorted(h[2] for h in tv.search("rawonly")) == [b"\x01\x02", b"a", b"b", b"c"]
        stored = tv.get_by_id(ids[2])[1]  # auto-pack off: the stored bytes, header included
        assert isinstance(stored, bytes) and stored.endswith(b"text") and len(stored) > 4
        assert tv.get("doc2").endswith(b"text")
        tv.enable_auto_pack()
        tv.disable_headers()
        assert tv.headers_enabled() is False
        plain = tv.insert("plain", "plain")
        assert tv.get_by_id(plain)[1] == b"plain"  # no header: read back as bytes (1.1.0)
        tv.enable_headers()
        assert tv.get_by_id(tv.insert("plain2", "plain"))[1] == "plain"
    with TextVault(path, allow_pickle=False) as tv:
        _raises(InvalidArgument, tv.get_by_id, ids[6])  # None is pickled
        _raises(InvalidArgument, tv.search, "doc6")
        assert tv.get_by_id(ids[2])[1] == "text"


# ---- construction ------------------------------------------------------------------------------


def test_constructor_errors_are_raw_and_create_nothing(path):
    with TextVault(path, table="keep") as tv:
        tv.insert("kept", 1)
    before = table_names(path)
    bad = [
        dict(columns=["a b"]),
        dict(columns=["a-b"]),
        dict(columns=['a"b']),
        dict(columns=["a;b"]),
        dict(columns=["x'y"]),
        dict(columns=[""]),
        dict(columns=["c" * 200]),
        dict(columns=["title", "Title"]),
        dict(columns=["rank"]),
        dict(columns=["RowId"]),
        dict(columns=["oid"]),
        dict(columns=["_rowid_"]),
        dict(columns=["value_ref"]),
        dict(columns=["body", "rank"]),
        dict(table='x"y'),
        dict(table="a b"),
        dict(table="t; DROP TABLE keep; --"),
        dict(table=""),
        dict(table="sqlite_master2"),
        dict(table="t" * 200),
        dict(tokenizer="icu"),
        dict(tokenizer="porter; drop"),
        dict(remove_diacritics=3),
        dict(tokenizer="trigram", remove_diacritics=2),
        dict(dimensions=0),
        dict(dimensions=-4),
        dict(dimensions=4, metric="dot"),
        dict(dimensions=4, metric="cosine", vector_type="int8"),
        dict(dimensions=7, metric="hamming", vector_type="bit"),
    ]
    for kwargs in bad:
        kwargs.setdefault("table", "fresh")
        _raises(ValueError, TextVault, path, **kwargs)
    for kwargs, cls in [
        (dict(columns="content"), TypeError),
        (dict(columns=[1]), TypeError),
        (dict(table=5), TypeError),
        (dict(tokenizer=None), TypeError),
        (dict(dimensions="4"), TypeError),
    ]:
        _raises(cls, TextVault, path, **kwargs)
    err = _raises(ValueError, TextVault, path, columns=["a b"])
    assert str(err).startswith("Invalid column name: a b")
    err = _raises(ValueError, TextVault, path, columns=["rank"])
    assert "rank" in str(err) and "reserved" in str(err)
    assert table_names(path) == before
    with TextVault(path, table="keep") as tv:
        assert tv.get_by_id(1) == ("kept", 1)


def test_unusual_but_valid_names_are_quoted(path):
    # SQL and FTS5 keywords and Unicode letters are valid names: always quoted.
    with TextVault(path, table="select", columns=["order", "match", "título"]) as tv:
        i = tv.insert({"order": "first by", "match": "game over", "título": "año nuevo"}, "v")
        assert [h[0] for h in tv.search("game", column="match")] == [i]
        assert [h[0] for h in tv.search("nuevo", column="título")] == [i]
        assert [h[0] for h in tv.search("order : first", escape=False)] == [i]
        assert tv.search("game", column="order") == []
        assert tv.get_by_id(i)[0]["título"] == "año nuevo"
    with TextVault(path, table="select", columns=["order", "match", "título"]) as tv:
        assert tv.count() == 1


def test_reopen_with_other_columns_or_tokenizer_names_both(path):
    with TextVault(path, table="t", columns=["title", "body"], tokenizer="porter") as tv:
        tv.insert({"title": "a", "body": "running"}, 1)
    err = _raises(ValueError, TextVault, path, table="t", columns=["title"], tokenizer="porter")
    assert '["title", "body"]' in str(err) and '["title"]' in str(err)
    err = _raises(ValueError, TextVault, path, table="t", columns=["title", "body"])
    assert "porter" in str(err) and "unicode61" in str(err)
    _raises(ValueError, TextVault, path, table="t", columns=["body", "title"], tokenizer="porter")
    with TextVault(path, table="t", columns=["title", "body"], tokenizer="PORTER") as tv:
        assert tv.search("runs")[0][0] == 1 and tv.info()["tokenizer"] == "porter"
    # unicode61 without options (1.1.0's DDL) equals remove_diacritics 1.
    with TextVault(path, table="u") as tv:
        tv.insert("x", 1)
    with TextVault(path, table="u", remove_diacritics=1) as tv:
        assert tv.count() == 1
    _raises(ValueError, TextVault, path, table="u", remove_diacritics=0)
    _raises(ValueError, TextVault, path, table="u", remove_diacritics=2)


def test_read_only(path):
    with TextVault(path, columns=["a", "b"]) as tv:
        tv.insert({"a": "alpha", "b": "beta"}, "v")
    with TextVault(path, columns=["a", "b"], read_only=True) as ro:
        assert ro.search("alpha")[0][0] == 1 and ro.get_by_id(1)[1] == "v" and ro.count() == 1
        writes = [
            lambda: ro.insert({"a": "x", "b": "y"}, 1),
            lambda: ro.insert_many([({"a": "x", "b": "y"}, 1)]),
            lambda: ro.update(1, value=2),
            lambda: ro.delete(1),
            ro.clear,
        ]
        for write in writes:
            err = _raises(IoError, write)
            assert "read-only" in str(err)
        assert ro.count() == 1 and ro.get_by_id(1)[1] == "v"
    _raises(KohakuVaultError, TextVault, path, table="absent", read_only=True)
    assert not any(n.startswith("absent") for n in table_names(path))


# ---- hostile input: a typed error and nothing changed ------------------------------------------

HOSTILE = [
    "it's",
    "'",
    '"',
    '""',
    'say "hi"',
    "'; DROP TABLE text_vault; --",
    '"); DELETE FROM text_vault_values; --',
    "AND",
    "OR NOT",
    "hello AND",
    "NOT",
    "NEAR(hello world)",
    "NEAR(",
    "hel*",
    "*",
    "^hello",
    "content:hello",
    "content : (",
    "{content}: hello",
    "(",
    ")",
    "-hello",
    "+",
    "a:b:c",
    "\\",
    "%",
    "_",
    "\u200b",
    "ß",
    "\U0001f600",
]


def test_hostile_queries_and_markers(path):
    with TextVault(path) as tv:
        docs = [
            "hello world",
            "it's a dog's life",
            'she said "hi" twice',
            "AND OR NOT NEAR are words here",
            "snake_case and 100% sure",
        ]
        tv.insert_many([(d, i) for i, d in enumerate(docs)])
        before = snapshot(tv)
        for q in HOSTILE:
            # escape=True: any text is one phrase; never an error, only real phrase matches.
            for hit in tv.search(q, k=10):
                assert hit[2] in range(len(docs))
            tv.search_with_text(q)
            tv.search_with_snippets(q, highlight_start=q, highlight_end=q)
            tv.hybrid_search(q, None)
            if q.strip(" \u200b"):
                try:
                    tv.get(q)
                except KohakuVaultError as exc:
                    assert type(exc) is KohakuVaultError and "Key not found" in str(exc)
            # escape=False / count_matches: FTS5 syntax; an error is a typed error (which one:
            # test_fts5_syntax_errors_are_invalid_argument).
            for call in (lambda q=q: tv.search(q, escape=False), lambda q=q: tv.count_matches(q)):
                try:
                    call()
                except KohakuVaultError:
                    pass
        assert [h[2] for h in tv.search("it's")] == [1]
        assert [h[2] for h in tv.search('said "hi"')] == [2]
        assert [h[2] for h in tv.search("AND OR NOT")] == [3]
        assert [h[2] for h in tv.search("NOT NEAR")] == [3]
        assert tv.get("it's") == 1 and tv.get('"hi"') == 2
        assert tv.count_matches('"it\'s"') == 1
        for q in ("hello AND", "(", "NEAR(", "content : (", "a:b:c", "hello?", "AND", ")"):
            err = _raises(InvalidArgument, tv.search, q, escape=False)
            assert "fts5" in str(err) or "no such column" in str(err), (q, str(err))
            _raises(InvalidArgument, tv.count_matches, q)
        err = _raises(InvalidArgument, tv.search, "nope:hello", escape=False)
        assert "no such column" in str(err)
        for start, end in (("'", "'"), ('"', '"'), ("');--", "<b>"), ("", ""), ("«", "é")):
            (hit,) = tv.search_with_snippets("world", highlight_start=start, highlight_end=end)
            assert hit[2] == f"hello {start}world{end}"
        assert tv.search("") == [] and tv.search(" \t\n") == []
        assert tv.search_with_snippets("   ") == [] and tv.search_with_text("") == []
        assert tv.count_matches("") == 0 and tv.hybrid_search("  ", None) == []
        _raises(KohakuVaultError, tv.get, "")
        _raises(KohakuVaultError, tv.get, "   ")
        assert snapshot(tv) == before


# FTS5 query syntax errors that FTS5 reports without its "fts5:" prefix.
UNPREFIXED_SYNTAX_ERRORS = ['"', '"open', 'hello "', "*", "*hello", "NEAR(a b, x)"]


def test_fts5_syntax_errors_are_invalid_argument(path):
    with TextVault(path) as tv:
        tv.insert("hello world", 1)
        for q in UNPREFIXED_SYNTAX_ERRORS:
            for call in (
                lambda q=q: tv.search(q, escape=False),
                lambda q=q: tv.search_with_snippets(q, escape=False),
                lambda q=q: tv.count_matches(q),
            ):
                _raises(InvalidArgument, call)
        assert tv.count() == 1


def test_nul_in_an_escaped_query_is_plain_text(path):
    with TextVault(path) as tv:
        tv.insert("hello world", 1)
        assert [h[2] for h in tv.search("hello\x00world")] == [1]  # NUL separates words
        assert tv.search("\x00") == [] and tv.search_with_snippets("\x00") == []
        assert tv.get("hello\x00world") == 1


def test_bad_arguments_change_nothing(path):
    rows = np.eye(4, dtype=np.float32)
    with TextVault(path, columns=["t", "b"], dimensions=4, metric="l2") as tv:
        tv.insert_many([({"t": f"title {i}", "b": f"body {i}"}, i, rows[i]) for i in range(4)])
        before = snapshot(tv), [tv.get_vector(i).tolist() for i in tv.keys()]
        doc = {"t": "x", "b": "y"}
        nan = [1.0, float("nan"), 0.0, 0.0]
        bad_calls = [
            lambda: tv.insert("str", 1),
            lambda: tv.insert({"t": "only"}, 1),
            lambda: tv.insert({"t": "x", "b": b"bytes"}, 1),
            lambda: tv.insert({"t": "x", "b": "\udcff"}, 1),
            lambda: tv.insert(doc, memoryview(b"x")),
            lambda: tv.insert(doc, 1, vector=[1, 2, 3]),
            lambda: tv.insert(doc, 1, vector=nan),
            lambda: tv.insert(doc, 1, vector="abcd"),
            lambda: tv.insert(doc, 1, vector=b"\x00" * 15),
            lambda: tv.insert_many([(doc, 1, rows[0]), (doc, 2)]),
            lambda: tv.insert_many([(doc, 1, rows[0])], vectors=rows[:1]),
            lambda: tv.insert_many([(doc, 1), (doc, 2)], vectors=rows[:1]),
            lambda: tv.insert_many([(doc, 1), (doc, 2)], vectors=np.zeros((2, 5))),
            lambda: tv.insert_many([(doc, 1), (doc, 2, nan)]),
            lambda: tv.insert_many([(doc, 1)] * 3 + [({"t": 1, "b": "x"}, 2)]),
            lambda: tv.update(1, texts={"t": "half"}),
            lambda: tv.update(1, texts={"t": "x", "b": "y"}, vector=nan),
            lambda: tv.update(1, value="v", vector=[1, 2]),
            lambda: tv.update("1", value="v"),
            lambda: tv.update(2**70, value="v"),
            lambda: tv.search("title", k=-1),
            lambda: tv.search("title", k=10**6 + 1),
            lambda: tv.search("title", k=2**40),
            lambda: tv.search("title", k=1.5),
            lambda: tv.search("title", k="3"),
            lambda: tv.search(5),
            lambda: tv.search(None),
            lambda: tv.search(b"title"),
            lambda: tv.search("title", column=5),
            lambda: tv.search("title", column="x; DROP"),
            lambda: tv.search("title", escape=None),
            lambda: tv.search("title", escape="yes"),
            lambda: tv.search_with_text("title", k=-1),
            lambda: tv.search_with_snippets("title", snippet_tokens=0),
            lambda: tv.search_with_snippets("title", snippet_tokens=65),
            lambda: tv.search_with_snippets("title", snippet_tokens=-1),
            lambda: tv.search_with_snippets("title", snippet_tokens=2**40),
            lambda: tv.search_with_snippets("title", highlight_start=None),
            lambda: tv.search_with_snippets("title", snippet_column="nope"),
            lambda: tv.count_matches(None),
            lambda: tv.get_by_id("1"),
            lambda: tv.get_by_id(1.0),
            lambda: tv.get_by_id(2**64),
            lambda: tv.exists("a"),
            lambda: tv.delete(None),
            lambda: tv.keys("x"),
            lambda: tv.hybrid_search("title", [1, 2]),
            lambda: tv.hybrid_search("title", nan),
            lambda: tv.hybrid_search("title", rows[0], k=-1),
            lambda: tv.hybrid_search("title", rows[0], k=10**6 + 1),
            lambda: tv.hybrid_search("title", rows[0], text_weight=-1),
            lambda: tv.hybrid_search("title", rows[0], vector_weight=float("inf")),
            lambda: tv.hybrid_search("title", rows[0], text_weight=float("nan")),
            lambda: tv.hybrid_search("title", rows[0], text_weight="1"),
            lambda: tv.hybrid_search("title", rows[0], rrf_k=-1),
            lambda: tv.hybrid_search("title", rows[0], candidates=-5),
            lambda: tv.hybrid_search(5, rows[0]),
            lambda: tv.search_by_vector([1, 2, 3]),
            lambda: tv.search_by_vector(rows[0], k=10**7),
        ]
        for i, call in enumerate(bad_calls):
            err = None
            try:
                call()
            except Exception as exc:
                err = exc
            assert type(err) is InvalidArgument, (i, type(err), err)
        after = snapshot(tv), [tv.get_vector(i).tolist() for i in tv.keys()]
        assert after == before
        assert tv.insert(doc, "next", vector=rows[0]) == 5  # no id was consumed
        assert tv.search("title", k=10**6)[0][0] in range(1, 5)  # the limit itself is fine


# ---- tokenizers --------------------------------------------------------------------------------


def test_trigram_searches_chinese_and_japanese(path):
    docs = [
        "我们今天去北京大学参观图书馆",
        "北京的冬天很冷，但是很美",
        "東京駅から新幹線で京都へ行きます",
        "京都の寺はとても静かです",
        "上海大学的图书馆很大",
        "新幹線は速くて便利です",
    ]
    with TextVault(path, tokenizer="trigram") as tv:
        assert tv.insert_many([(d, i) for i, d in enumerate(docs)]) == list(range(1, 7))
        ref = Reference(["content"], [[d] for d in docs], "trigram")
        try:
            for q in [
                "北京大学",
                "图书馆",
                "新幹線",
                "大学的",
                "東京駅から",
                "とても静か",
                "很冷，但",
            ]:
                ids, scores = ref.rank(phrase(q), 10)
                hits = tv.search(q)
                assert ids and [h[0] for h in hits] == ids, q
                assert [h[1] for h in hits] == pytest.approx(scores, rel=1e-9)
                assert all(q in docs[h[2]] for h in hits)
        finally:
            ref.close()
        assert tv.search("京都") == [] and tv.search("北") == []  # < 3 characters: no trigram
        assert tv.get("参观图书") == 0
        (snip,) = tv.search_with_snippets("新幹線で", highlight_start="[", highlight_end="]")
        assert snip[0] == 3 and "[新幹線で]" in snip[2]
        assert [h[0] for h in tv.search("館で京", escape=False)] == []
        assert tv.count_matches("図書館 OR 图书馆") == 2
        assert tv.info()["tokenizer"] == "trigram"


def test_porter_stems_english(path):
    docs = ["I am running fast", "he runs daily", "they ran away", "a long run", "connection lost"]
    with TextVault(path, tokenizer="porter") as tv:
        tv.insert_many([(d, i) for i, d in enumerate(docs)])
        assert sorted(h[2] for h in tv.search("running")) == [0, 1, 3]
        assert sorted(h[2] for h in tv.search("runs")) == [0, 1, 3]
        assert [h[2] for h in tv.search("connected")] == [4]
        assert tv.search("connected", escape=False)[0][2] == 4
    with TextVault(path, table="plain") as tv:
        tv.insert_many([(d, i) for i, d in enumerate(docs)])
        assert [h[2] for h in tv.search("running")] == [0]


def test_diacritics(path):
    with TextVault(path) as tv:  # unicode61, remove_diacritics 1 (FTS5's default)
        tv.insert("café crème brûlée", 1)
        assert tv.search("cafe creme")[0][2] == 1 and tv.search("CAFÉ")[0][2] == 1
    with TextVault(path, table="exact", remove_diacritics=0) as tv:
        tv.insert("café crème", 1)
        assert tv.search("cafe") == [] and tv.search("café")[0][2] == 1
    with TextVault(path, table="porter2", tokenizer="porter", remove_diacritics=2) as tv:
        tv.insert("naïve résumés", 1)
        assert tv.search("naive resume")[0][2] == 1


# ---- real text: the standard library's docstrings -----------------------------------------------

STDLIB_MODULES = [
    "os", "os.path", "json", "re", "collections", "functools", "itertools", "pathlib", "typing",
    "inspect", "argparse", "logging", "subprocess", "threading", "asyncio", "email.message",
    "http.client", "urllib.parse", "unittest", "decimal", "fractions", "statistics", "datetime",
    "calendar", "textwrap", "string", "shutil", "tempfile", "zipfile", "tarfile", "csv",
    "sqlite3", "socket", "dataclasses", "enum", "contextlib", "io", "pickle", "copy", "heapq",
    "bisect", "random", "difflib", "pprint", "configparser", "gzip", "hashlib", "base64",
    "struct", "uuid", "xml.etree.ElementTree", "html.parser", "queue", "sched", "weakref",
    "abc", "codecs", "locale", "gettext", "glob", "fnmatch", "platform", "traceback", "warnings",
    "email.utils", "urllib.request", "http.server", "multiprocessing.pool", "concurrent.futures",
    "ast", "dis", "tokenize", "pdb", "doctest", "optparse", "smtplib", "imaplib", "ftplib",
    "mailbox", "plistlib", "operator", "numbers", "array", "selectors", "signal", "zlib", "lzma",
    "bz2", "shlex", "cmd", "ipaddress", "secrets", "hmac", "time", "sys", "builtins", "math",
    "cmath", "binascii", "quopri", "mimetypes", "webbrowser", "getopt", "timeit", "trace",
    "tracemalloc", "gc", "importlib", "pkgutil", "zipimport", "runpy", "symtable", "keyword",
]  # fmt: skip


def stdlib_docstrings(limit=5000):
    """(qualified name, docstring) of the modules above, their classes, functions and methods,
    in a fixed order."""
    seen = {}

    def add(name, obj):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                doc = inspect.getdoc(obj)
        except Exception:
            return
        if doc and doc.strip() and name not in seen:
            seen[name] = doc

    for modname in STDLIB_MODULES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mod = importlib.import_module(modname)
        except ImportError:
            continue
        add(modname, mod)
        for name, member in sorted(vars(mod).items()):
            if name.startswith("_") or getattr(member, "__module__", modname) != mod.__name__:
                continue
            if inspect.isclass(member):
                add(f"{modname}.{name}", member)
                for attr, sub in sorted(vars(member).items()):
                    if not attr.startswith("_") and (
                        inspect.isroutine(sub) or isinstance(sub, property)
                    ):
                        add(f"{modname}.{name}.{attr}", sub)
            elif inspect.isroutine(member):
                add(f"{modname}.{name}", member)
    return sorted(seen.items())[:limit]


REAL_QUERIES = [
    # (query, k, column, escape)
    ("file", 20, None, True),
    ("return", 50, None, True),
    ("the", 30, None, True),
    ("file object", 20, None, True),
    ("default value", 25, None, True),
    ("regular expression", 10, None, True),
    ("keyword arguments", 40, None, True),
    ("thread", 15, None, True),
    ("socket", 15, "doc", True),
    ("iterator", 100, None, True),
    ("raise", 10, "doc", True),
    ("timeout", 30, None, True),
    ("encoding", 20, None, True),
    ("path", 10, "name", True),
    ("context manager", 10, None, True),
    ("it's", 10, None, True),
    ("file OR directory", 60, None, False),
    ("read AND write", 30, None, False),
    ("thread NOT lock", 30, None, False),
    ("iter*", 40, None, False),
    ("NEAR(file path, 5)", 20, None, False),
    ("doc : exception", 20, None, False),
    ('"keyword argument" OR "positional argument"', 30, None, False),
    ("name : (json OR pickle) AND doc : string", 25, None, False),
    ("decimal", 5000, None, True),
]

HYBRID_QUERIES = [
    # (query, text weight, vector weight, rrf_k, k, candidates)
    ("file path", 1.0, 1.0, 60, 10, None),
    ("thread lock timeout", 1.0, 2.0, 60, 20, None),
    ("return the default value", 0.5, 1.0, 10, 15, 80),
    ("socket", 1.0, 0.0, 60, 10, None),
    (None, 1.0, 1.0, 60, 10, None),
    ("iterator generator", 2.0, 1.0, 1, 30, 200),
    ("encoding unicode bytes", 1.0, 1.0, 60, 5, 5),
]


@pytest.mark.parametrize("tokenizer", ["unicode61", "porter"])
def test_real_text_rankings_equal_fts5_and_numpy(tmp_path, tokenizer):
    docs = stdlib_docstrings()
    assert len(docs) >= 2000, len(docs)
    dims = 16
    rng = np.random.default_rng(77)
    # Small integer components: every L2 distance is exact in f32 (and ties are real ties).
    vectors = rng.integers(-4, 5, (len(docs), dims)).astype(np.float32)
    path = str(tmp_path / f"stdlib-{tokenizer}.db")
    ref = Reference(["name", "doc"], docs, tokenizer)
    try:
        with TextVault(
            path, columns=["name", "doc"], tokenizer=tokenizer, dimensions=dims, metric="l2"
        ) as tv:
            items = [({"name": n, "doc": d}, i) for i, (n, d) in enumerate(docs)]
            assert tv.insert_many(items, vectors=vectors) == list(range(1, len(docs) + 1))
            for query, k, column, escape in REAL_QUERIES:
                expr = phrase(query) if escape else query
                ids, scores = ref.rank(expr, k, column)
                assert ids, query
                hits = tv.search(query, k=k, column=column, escape=escape)
                where = (tokenizer, query)
                assert [h[0] for h in hits] == ids, where
                assert [h[1] for h in hits] == pytest.approx(scores, rel=1e-12, abs=0), where
                assert [h[2] for h in hits] == [i - 1 for i in ids], where
                if escape:
                    assert (
                        tv.count_matches(expr)
                        == ref.con.execute(
                            "SELECT count(*) FROM ref WHERE ref MATCH ?", (expr,)
                        ).fetchone()[0]
                    )
            for query, tw, vw, rrf_k, k, cands in HYBRID_QUERIES:
                n_cands = cands if cands is not None else max(4 * k, 50)
                n_cands = max(n_cands, k)
                q_vec = rng.integers(-4, 5, dims).astype(np.float32)
                text_ids = ref.rank(words_query(query), n_cands)[0] if query else []
                vec_ids = l2_ranking(vectors, q_vec, n_cands)[0]
                want_ids, want_scores = rrf([(text_ids, tw), (vec_ids, vw)], rrf_k, k)
                hits = tv.hybrid_search(
                    query,
                    q_vec,
                    k=k,
                    text_weight=tw,
                    vector_weight=vw,
                    rrf_k=rrf_k,
                    candidates=cands,
                )
                where = (tokenizer, query, tw, vw)
                assert [h[0] for h in hits] == want_ids, where
                assert [h[1] for h in hits] == want_scores, where
                assert [h[2] for h in hits] == [i - 1 for i in want_ids], where
            # search_by_vector is the exact k-NN; a pure vector hybrid is its RRF.
            q_vec = rng.integers(-4, 5, dims).astype(np.float32)
            want_ids, want_d = l2_ranking(vectors, q_vec, 25)
            hits = tv.search_by_vector(q_vec, k=25)
            assert [h[0] for h in hits] == want_ids
            assert [h[1] for h in hits] == pytest.approx(want_d, rel=1e-6)
            pure = tv.hybrid_search(None, q_vec, k=25)
            assert [h[0] for h in pure] == want_ids
            assert [h[1] for h in pure] == [1.0 / (60 + r) for r in range(1, 26)]
    finally:
        ref.close()


# ---- vectors and hybrid search -----------------------------------------------------------------


def test_vectors_per_document(path):
    rows = np.array([[3, 4, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 1, 1, 1]], dtype=np.float32)
    with TextVault(path, dimensions=4) as tv:  # cosine, f32
        a = tv.insert("alpha doc", "a", vector=rows[0])
        assert tv.insert_many(
            [("beta doc", "b", rows[1].tolist()), ("gamma doc", "c", rows[2])]
        ) == [2, 3]
        assert tv.insert_many([("delta doc", "d")], vectors=rows[3:4]) == [4]
        assert tv.insert_many([("epsilon doc", "e")], vectors=rows[3].tobytes()) == [5]
        no_vec = tv.insert("zeta doc, no vector", "z")
        assert np.allclose(tv.get_vector(a), [0.6, 0.8, 0, 0])  # normalised for cosine
        assert tv.get_vector(no_vec) is None
        err = _raises(KohakuVaultError, tv.get_vector, 99)
        assert str(err) == "ID 99 not found"
        hits = tv.search_by_vector([0, 1, 0, 0], k=10)
        assert [h[0] for h in hits][:2] == [2, 1] and len(hits) == 5  # zeta has no vector
        assert hits[0][1] == pytest.approx(0.0, abs=1e-6)
        assert hits[1][1] == pytest.approx(0.2, abs=1e-6)
        tv.update(2, vector=[0, 0, 0, 1])
        assert tv.search_by_vector([0, 0, 0, 1], k=1)[0][0] == 2
        tv.update(no_vec, vector=[0, 0, 5, 0])
        assert [h[0] for h in tv.search_by_vector([0, 0, 1, 0], k=2)] == [3, no_vec]
        assert tv.delete(3) is True
        assert [h[0] for h in tv.search_by_vector([0, 0, 1, 0], k=1)] == [no_vec]
        # Vector ranks for [0, 0, 1, 0]: no_vec, 4, 5, then 1 and 2 (a tie, by id).
        fused = tv.hybrid_search("alpha", [0, 0, 1, 0], k=3)
        assert [h[0] for h in fused] == [1, no_vec, 4]
        assert [h[1] for h in fused] == [1 / 61 + 1 / 64, 1 / 61, 1 / 62]
        assert tv.hybrid_search("alpha", [0, 0, 1, 0], k=3, text_weight=2)[0][0] == 1
        assert tv.hybrid_search(None, None) == []
        assert tv.hybrid_search("doc", None, k=0) == []
        text_only = tv.hybrid_search("alpha beta", None, k=5)
        assert [h[0] for h in text_only] == [1, 2] and text_only[0][2] == "a"
        tv.clear()
        assert tv.search_by_vector([1, 0, 0, 0]) == [] and tv.count() == 0
    with TextVault(path) as same:  # the same table opened without dimensions keeps its vectors
        assert same.info()["dimensions"] == 4
        y = same.insert("y", 1, vector=[1, 0, 0, 0])
        assert same.search_by_vector([1, 0, 0, 0], k=1)[0][0] == y
    with TextVault(path, table="novec") as plain:  # a vault without vectors: text only
        x = plain.insert("x", 1)
        for call in (
            lambda: plain.insert("x", 1, vector=[1, 0, 0, 0]),
            lambda: plain.insert_many([("x", 1)], vectors=[[1, 0, 0, 0]]),
            lambda: plain.update(x, vector=[1, 0, 0, 0]),
            lambda: plain.hybrid_search("x", [1, 0, 0, 0]),
            lambda: plain.search_by_vector([1, 0, 0, 0]),
            lambda: plain.get_vector(x),
        ):
            err = _raises(InvalidArgument, call)
            assert "dimensions" in str(err)
        assert [h[0] for h in plain.hybrid_search("x", None)] == [x]
    with TextVault(path, table="v8", dimensions=16, metric="hamming", vector_type="bit") as tv:
        bits = np.zeros(16, dtype=bool)
        bits[3] = True
        tv.insert("bits", 1, vector=bits)
        assert tv.search_by_vector(bits)[0][:2] == (1, 0.0)
        assert tv.info()["vector_type"] == "bit" and tv.info()["metric"] == "hamming"
    _raises(
        ValueError, TextVault, path, table="v8", dimensions=8, metric="hamming", vector_type="bit"
    )


# ---- lifetime ----------------------------------------------------------------------------------


def test_checkpoint_and_real_close(path):
    tv = TextVault(path)
    tv.insert("a", 1)
    busy, log, done = tv.checkpoint()
    assert busy == 0 and log >= done >= 0
    tv.close()
    tv.close()  # idempotent
    assert tv.closed
    assert not os.path.exists(path + "-wal")  # the last connection is gone
    with TextVault(path) as again:
        assert again.get_by_id(1) == ("a", 1)


def test_use_after_close_on_every_member(path):
    tv = TextVault(path, dimensions=4)
    other = TextVault(path, dimensions=4)  # a second handle on the file stays usable
    tv.insert("alpha", "a", vector=[1, 0, 0, 0])
    tv.close()
    q = [1, 0, 0, 0]
    members = {
        "columns": lambda: tv.columns,
        "insert": lambda: tv.insert("b", "b"),
        "insert_many": lambda: tv.insert_many([("b", "b")]),
        "update": lambda: tv.update(1, value="b"),
        "delete": lambda: tv.delete(1),
        "clear": tv.clear,
        "search": lambda: tv.search("alpha"),
        "search_with_text": lambda: tv.search_with_text("alpha"),
        "search_with_snippets": lambda: tv.search_with_snippets("alpha"),
        "count_matches": lambda: tv.count_matches("alpha"),
        "get": lambda: tv.get("alpha"),
        "get_by_id": lambda: tv.get_by_id(1),
        "get_vector": lambda: tv.get_vector(1),
        "exists": lambda: tv.exists(1),
        "count": tv.count,
        "keys": tv.keys,
        "info": tv.info,
        "hybrid_search": lambda: tv.hybrid_search("alpha", q),
        "search_by_vector": lambda: tv.search_by_vector(q),
        "checkpoint": tv.checkpoint,
        "enable_auto_pack": tv.enable_auto_pack,
        "disable_auto_pack": tv.disable_auto_pack,
        "auto_pack_enabled": tv.auto_pack_enabled,
        "enable_headers": tv.enable_headers,
        "disable_headers": tv.disable_headers,
        "headers_enabled": tv.headers_enabled,
        "__setitem__": lambda: tv.__setitem__("b", "b"),
        "__getitem__": lambda: tv["alpha"],
        "__delitem__": lambda: tv.__delitem__("alpha"),
        "__len__": lambda: len(tv),
        "__contains__": lambda: 1 in tv,
    }
    public = {n for n in dir(TextVault) if not n.startswith("_")}
    public -= {"close", "closed"}
    assert public <= set(members), public - set(members)
    for name, op in members.items():
        err = _raises(InvalidArgument, op)
        assert str(err) == "TextVault is closed", name
    err = _raises(ValueError, tv.__enter__)
    assert str(err) == "TextVault is closed"
    assert repr(tv) == f"TextVault(path={path!r}, table='text_vault', closed)"
    tv.close()
    assert other.count() == 1 and other.get_by_id(1) == ("alpha", "a")
    other.close()


def test_native_alias_and_export():
    assert kohakuvault.TextVault is TextVault
    assert kohakuvault._kvault._TextVault is TextVault
    assert "TextVault" in kohakuvault.__all__
