"""Two-way TextVault file compatibility with the published kohakuvault 1.1.0, run in its own
venv (scripts/setup-kv110.sh): tables 1.1.0 writes open and search here with the same ids,
scores, texts, snippets and values as 1.1.0 itself returns, and 1.1.0 reads, searches and writes
the tables we write (including ours with the porter tokenizer and with per-document vectors)."""

import json
import os
import subprocess

import numpy as np
import pytest

from conftest import load_conformance
from kohakuvault import TextVault

KV110 = os.environ.get("KV110_PYTHON", "/opt/kv110/bin/python")
pytestmark = pytest.mark.skipif(
    not os.path.exists(KV110), reason="kohakuvault 1.1.0 venv missing (scripts/setup-kv110.sh)"
)

ENGLISH = [d["texts"][0] for d in load_conformance("texts.json")["cases"][0]["docs"]]
VALUES = ["text é", {"i": 1, "tags": ["a", "b"]}, 42, 2.5, [1, "x"], b"\x00raw", "plain"]

# (query, k, column, escape) per table layout.
SINGLE_QUERIES = [
    ["quick", 5, None, True],
    ["quick brown", 5, None, True],
    ["lazy", 10, None, True],
    ["dog OR tea", 10, None, False],
    ["quiet NOT tea", 10, None, False],
    ["sal*", 10, None, False],
    ["It's", 3, None, True],
    ["the", 20, None, True],
    ["running", 10, None, True],
]
MULTI_QUERIES = [
    ["quick", 10, None, True],
    ["quick", 10, "body", True],
    ["rivers", 10, "title", True],
    ["title : rivers OR body : tea", 10, None, False],
    ["the", 20, None, True],
]
GET_KEYS = ["quick brown", "salmon swim", "Bits and bytes", "cold rivers"]


def run_110(code: str, *args: str):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # 1.1.0's own package
    out = subprocess.run(
        [KV110, "-c", code, *args], capture_output=True, text=True, timeout=120, env=env
    )
    if out.returncode != 0:
        raise AssertionError(f"kohakuvault 1.1.0 failed ({out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _job(tmp_path, **job):
    path = tmp_path / "text_job.json"
    path.write_text(json.dumps(job))
    return str(path)


# What a side sees of its tables: count, keys, every document, the hits of the queries (plain,
# with texts, with snippets), count_matches and get. Runs unchanged under both packages.
SEE = r"""
def enc(v):
    if isinstance(v, (bytes, bytearray)):
        return {"hex": bytes(v).hex()}
    if isinstance(v, dict):
        return {k: enc(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    return v


def see(TextVault, path, tables, ours=False):
    out = {}
    for table, columns, queries, gets, options in tables:
        # 1.1.0 reads any tokenizer from the table; ours is told which one it is.
        tv = TextVault(path, table=table, columns=columns, **(options if ours else {}))
        ids = tv.keys(None)
        view = {
            "count": tv.count(),
            "len": len(tv),
            "keys": ids,
            "info": {k: tv.info()[k] for k in ("table", "columns", "count")},
            "columns": tv.columns,
            "docs": {str(i): enc(tv.get_by_id(i)) for i in ids},
            "hits": [enc(tv.search(q, k, c, e)) for q, k, c, e in queries],
            "with_text": [enc(tv.search_with_text(q, k, c, e)) for q, k, c, e in queries],
            "snippets": [
                enc(tv.search_with_snippets(q, k, columns[-1], 6, "[", "]", e))
                for q, k, c, e in queries if c is None
            ],
            "matches": [tv.count_matches(q) for q, k, c, e in queries if not e],
            "gets": [enc(tv.get(key)) for key in gets],
        }
        close = getattr(tv, "close", None)
        if close is not None:
            close()
        out[table] = view
    return out
"""

WRITE_110 = SEE + r"""
import json, sys
import kohakuvault
from kohakuvault import TextVault
assert kohakuvault.__version__ == "1.1.0" and kohakuvault.__file__.startswith(sys.prefix)
job = json.load(open(sys.argv[1]))
values = [bytes.fromhex(v["hex"]) if isinstance(v, dict) and "hex" in v else v for v in job["values"]]
docs = job["docs"]
tv = TextVault(job["path"], table="single")
for i, d in enumerate(docs[:4]):
    tv.insert(d, values[i % len(values)])
tv.insert_many([(d, values[(i + 4) % len(values)]) for i, d in enumerate(docs[4:10])])
tv[docs[10]] = values[3]
tv.insert({"content": docs[11]}, values[1])
tv.update(2, texts="A lazy evening with a good book and tea")
tv.update(3, value="updated by 1.1.0")
tv.delete(5)
mv = TextVault(job["path"], table="multi", columns=["title", "body"])
for i, d in enumerate(docs):
    mv.insert({"title": d, "body": docs[(i + 5) % len(docs)]}, values[i % len(values)])
mv.delete(7)
del tv, mv
print(json.dumps(see(TextVault, job["path"], job["tables"])))
"""

SEE_110 = SEE + r"""
import json, sys
import kohakuvault
from kohakuvault import TextVault
assert kohakuvault.__version__ == "1.1.0" and kohakuvault.__file__.startswith(sys.prefix)
job = json.load(open(sys.argv[1]))
print(json.dumps(see(TextVault, job["path"], job["tables"])))
"""

# 1.1.0 adds one document to each table it is given (while it still can: no close needed).
INSERT_110 = r"""
import json, sys
import kohakuvault
from kohakuvault import TextVault
assert kohakuvault.__version__ == "1.1.0" and kohakuvault.__file__.startswith(sys.prefix)
job = json.load(open(sys.argv[1]))
out = {}
for table, columns in job["insert"]:
    tv = TextVault(job["path"], table=table, columns=columns)
    texts = "written by kohakuvault 1.1.0 salmon" if len(columns) == 1 else {
        c: f"{c} written by kohakuvault 1.1.0 salmon" for c in columns}
    out[table] = tv.insert(texts, {"from": "1.1.0"})
print(json.dumps(out))
"""

# [table, columns, queries, get keys, our options]
SINGLE = ["single", ["content"], SINGLE_QUERIES, GET_KEYS, {}]
MULTI = ["multi", ["title", "body"], MULTI_QUERIES, [], {}]


def _see_ours(path, tables):
    ns = {}
    exec(SEE, ns)
    return ns["see"](TextVault, path, tables, ours=True)


def _same_view(theirs, ours):
    """Both packages see the same documents and the same rankings (scores: FTS5's bm25 of two
    SQLite builds, equal to the last bits)."""
    assert ours.keys() == theirs.keys()
    for table, t in theirs.items():
        o = ours[table]
        for key in ("count", "len", "keys", "info", "columns", "docs", "matches", "gets"):
            assert o[key] == t[key], (table, key)
        for kind in ("hits", "with_text", "snippets"):
            assert len(o[kind]) == len(t[kind]), (table, kind)
            for n, (mine, their) in enumerate(zip(o[kind], t[kind])):
                where = (table, kind, n)
                assert [h[0] for h in mine] == [h[0] for h in their], where
                assert [h[1] for h in mine] == pytest.approx([h[1] for h in their], rel=1e-12)
                assert [h[2:] for h in mine] == [h[2:] for h in their], where


def _values_json():
    return [{"hex": v.hex()} if isinstance(v, bytes) else v for v in VALUES]


def test_we_search_and_write_what_1_1_0_wrote(tmp_path):
    path = str(tmp_path / "theirs_text.db")
    job = _job(tmp_path, path=path, docs=ENGLISH, values=_values_json(), tables=[SINGLE, MULTI])
    theirs = run_110(WRITE_110, job)
    assert theirs["single"]["count"] == 11 and "5" not in theirs["single"]["docs"]
    assert theirs["single"]["docs"]["3"][1] == "updated by 1.1.0"
    assert theirs["multi"]["count"] == 11 and theirs["single"]["hits"][0]
    _same_view(theirs, _see_ours(path, [SINGLE, MULTI]))
    # Ours writes into 1.1.0's tables: one transaction per write, ids after 1.1.0's.
    with TextVault(path, table="single") as tv:
        new = tv.insert("the quick salmon written by us", b"\x01ours")
        assert new == 13
        assert tv.insert_many([("second salmon of ours", {"n": 2}), ("third of ours", 3.5)]) == [
            14,
            15,
        ]
        tv.update(4, texts="The dog barked at the slow delivery van", value="ours")
        assert tv.delete(6) is True and tv.delete(5) is False
        assert new in {h[0] for h in tv.search("salmon")}
        assert tv.get_by_id(3) == (ENGLISH[2], "updated by 1.1.0")
    with TextVault(path, table="multi", columns=["title", "body"]) as mv:
        mv.insert({"title": "ours title salmon", "body": "ours body"}, "m")
        mv.clear()
        mv.insert({"title": "after clear", "body": "the quick one"}, "n")
    after = run_110(SEE_110, _job(tmp_path, path=path, tables=[SINGLE, MULTI]))
    assert after["single"]["count"] == 13
    assert after["single"]["docs"]["13"] == [
        "the quick salmon written by us",
        {"hex": "016f757273"},
    ]
    assert after["single"]["docs"]["4"] == ["The dog barked at the slow delivery van", "ours"]
    # one document after clear(); its id is new (ids are never reused: COMPATIBILITY §5b)
    assert after["multi"]["count"] == 1 and len(after["multi"]["keys"]) == 1
    _same_view(after, _see_ours(path, [SINGLE, MULTI]))


def test_1_1_0_reads_searches_and_writes_what_we_write(tmp_path):
    path = str(tmp_path / "ours_text.db")
    values = VALUES
    porter_queries = [q for q in SINGLE_QUERIES if q[0] in ("running", "lazy", "sal*", "quick")]
    porter_queries = porter_queries + [["fishing", 10, None, True], ["runs", 10, None, True]]
    porter = ["stem", ["content"], porter_queries, GET_KEYS[:2], {"tokenizer": "porter"}]
    hybrid = ["hyb", ["content"], SINGLE_QUERIES, GET_KEYS, {"dimensions": 8}]
    rng = np.random.default_rng(4)
    with TextVault(path, table="single") as tv:
        ids = [tv.insert(d, values[i % len(values)]) for i, d in enumerate(ENGLISH[:6])]
        ids += tv.insert_many([(d, values[i % len(values)]) for i, d in enumerate(ENGLISH[6:])])
        assert ids == list(range(1, 13))
        tv.update(2, texts="A lazy evening with tea", value={"updated": True})
        tv.delete(9)
    with TextVault(path, table="multi", columns=["title", "body"]) as mv:
        mv.insert_many(
            [
                ({"title": d, "body": ENGLISH[(i + 5) % 12]}, values[i % 7])
                for i, d in enumerate(ENGLISH)
            ]
        )
        mv.delete(1)
    with TextVault(path, table="stem", tokenizer="porter") as st:
        st.insert_many([(d, i) for i, d in enumerate(ENGLISH + ["running and fishing", "he runs"])])
    with TextVault(path, table="hyb", dimensions=8) as hv:
        vecs = rng.standard_normal((12, 8)).astype(np.float32)
        hv.insert_many([(d, values[i % 7]) for i, d in enumerate(ENGLISH)], vectors=vecs)
    tables = [SINGLE, MULTI, porter, hybrid]
    theirs = run_110(SEE_110, _job(tmp_path, path=path, tables=tables))
    assert theirs["single"]["count"] == 11
    assert theirs["single"]["docs"]["2"] == ["A lazy evening with tea", {"updated": True}]
    assert {h[0] for h in theirs["stem"]["hits"][-1]} >= {13, 14}  # porter, through 1.1.0
    _same_view(theirs, _see_ours(path, tables))
    # 1.1.0 writes into our tables (a document without a vector in the hybrid one).
    inserted = run_110(
        INSERT_110,
        _job(
            tmp_path,
            path=path,
            insert=[["single", ["content"]], ["multi", ["title", "body"]], ["hyb", ["content"]]],
        ),
    )
    assert inserted == {"single": 13, "multi": 13, "hyb": 13}
    with TextVault(path, table="single") as tv:
        assert tv.get_by_id(13) == ("written by kohakuvault 1.1.0 salmon", {"from": "1.1.0"})
        assert 13 in {h[0] for h in tv.search("salmon")}
    with TextVault(path, table="multi", columns=["title", "body"]) as mv:
        assert mv.get_by_id(13)[0]["body"] == "body written by kohakuvault 1.1.0 salmon"
    with TextVault(path, table="hyb", dimensions=8) as hv:
        assert hv.get_vector(13) is None and hv.count() == 13
        assert 13 not in {h[0] for h in hv.search_by_vector(vecs[0], k=20)}
        fused = hv.hybrid_search("salmon", vecs[2], k=3)
        assert fused[0][0] == 3  # "Brown bears fish for salmon…": both sides rank it first
        assert 13 in {h[0] for h in hv.hybrid_search("salmon", None, k=5)}
    _same_view(run_110(SEE_110, _job(tmp_path, path=path, tables=tables)), _see_ours(path, tables))


def test_opening_a_1_1_0_table_with_other_settings_is_a_clear_error(tmp_path):
    path = str(tmp_path / "mismatch.db")
    job = _job(tmp_path, path=path, docs=ENGLISH, values=_values_json(), tables=[SINGLE, MULTI])
    theirs = run_110(WRITE_110, job)
    with pytest.raises(ValueError) as err:
        TextVault(path, table="multi", columns=["title"])
    assert '["title", "body"]' in str(err.value) and '["title"]' in str(err.value)
    with pytest.raises(ValueError) as err:
        TextVault(path, table="single", tokenizer="trigram")
    assert "trigram" in str(err.value) and "unicode61" in str(err.value)
    # Nothing changed: both packages still see what 1.1.0 wrote.
    again = run_110(SEE_110, _job(tmp_path, path=path, tables=[SINGLE, MULTI]))
    assert again == theirs
    _same_view(theirs, _see_ours(path, [SINGLE, MULTI]))
