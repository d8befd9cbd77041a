"""Generates tests/conformance/texts.json: TextVault documents and the expected rankings,
computed independently of the library: BM25 by SQLite's own FTS5 through Python's sqlite3
module (`ORDER BY rank`), vector rankings by brute-force cosine in numpy, and hybrid
rankings by weighted reciprocal rank fusion written out here. Run from the repo root:

    python3 tests/conformance/gen_texts.py
"""

import json
import sqlite3
from pathlib import Path

import numpy as np

rng = np.random.default_rng(1201)

ENGLISH = [
    "The quick brown fox jumps over the lazy dog",
    "A lazy afternoon with a good book and tea",
    "Brown bears fish for salmon in cold rivers",
    "The dog barked at the quick delivery van",
    "Quantum computers use qubits instead of bits",
    "Rivers flow to the sea through quiet valleys",
    "Tea ceremonies value patience and quiet focus",
    "Foxes are quick, clever and mostly nocturnal animals",
    "Cold brew coffee takes twelve hours to steep",
    "It's a dog's life: naps, walks and treats",
    "Salmon swim upstream to spawn every autumn season",
    "Bits and bytes: a short history of computing machines",
]
CJK = [
    "我们今天去北京大学参观图书馆",
    "北京的冬天很冷，但是很美",
    "東京駅から新幹線で京都へ行きます",
    "京都の寺はとても静かです",
    "上海大学的图书馆很大",
    "新幹線は速くて便利です",
]


def fts_rank(docs, cols, query, k, tokenizer=None, column=None):
    c = sqlite3.connect(":memory:")
    tok = f", tokenize = '{tokenizer}'" if tokenizer else ""
    c.execute(f"CREATE VIRTUAL TABLE t USING fts5({', '.join(cols)}{tok})")
    for d in docs:
        c.execute(f"INSERT INTO t ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", d)
    expr = f"{column} : ({query})" if column else query
    rows = c.execute(
        "SELECT rowid, -rank FROM t WHERE t MATCH ? ORDER BY rank LIMIT ?", (expr, k)
    ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def phrase(s):
    return '"' + s.replace('"', '""') + '"'


def words(s):
    return " OR ".join(phrase(w) for w in s.split())


def cosine_rank(vecs, q, k):
    v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    d = 1.0 - v @ (q / np.linalg.norm(q))
    order = sorted(range(len(v)), key=lambda i: (d[i], i))[:k]
    return [i + 1 for i in order], [float(d[i]) for i in order]


def rrf(lists, rrf_k, k):
    score = {}
    for ids, w in lists:
        if w == 0:
            continue
        for r, i in enumerate(ids, start=1):
            score[i] = score.get(i, 0.0) + w / (rrf_k + r)
    best = sorted(score.items(), key=lambda x: (-x[1], x[0]))[:k]
    return [i for i, _ in best], [s for _, s in best]


def search_case(name, cols, docs, queries, tokenizer=None):
    out = []
    for q in queries:
        expr = phrase(q["query"]) if q.get("escape", True) else q["query"]
        ids, scores = fts_rank(docs, cols, expr, q["k"], tokenizer, q.get("column"))
        out.append(dict(q, ids=ids, scores=scores))
    return {
        "name": name,
        "columns": cols,
        "tokenizer": tokenizer or "unicode61",
        "docs": [{"texts": d, "value": f"doc-{i + 1}"} for i, d in enumerate(docs)],
        "queries": out,
    }


cases = [
    search_case(
        "english",
        ["content"],
        [[d] for d in ENGLISH],
        [
            {"query": "quick", "k": 5},
            {"query": "quick brown", "k": 5},
            {"query": "lazy", "k": 1},
            {"query": "dog OR tea", "k": 10, "escape": False},
            {"query": "quiet NOT tea", "k": 10, "escape": False},
            {"query": "It's", "k": 3},
            {"query": "salmon", "k": 0},
        ],
    ),
    search_case(
        "two_columns",
        ["title", "body"],
        [[ENGLISH[i], ENGLISH[(i + 5) % len(ENGLISH)]] for i in range(len(ENGLISH))],
        [
            {"query": "quick", "k": 10},
            {"query": "quick", "k": 10, "column": "body"},
            {"query": "rivers", "k": 10, "column": "title"},
        ],
    ),
    search_case(
        "porter",
        ["content"],
        [[d] for d in ENGLISH],
        [{"query": "fish", "k": 5}, {"query": "computer", "k": 5}],
        tokenizer="porter",
    ),
    search_case(
        "trigram_cjk",
        ["content"],
        [[d] for d in CJK],
        [{"query": "北京大学", "k": 5}, {"query": "图书馆", "k": 5}, {"query": "新幹線", "k": 5},
         {"query": "大学的", "k": 5}, {"query": "京都", "k": 5}],
        tokenizer="trigram",
    ),
]

# Hybrid: 4-d vectors per document, fused with BM25 over the query's words.
vecs = np.round(rng.standard_normal((len(ENGLISH), 4)), 3).astype(np.float32)
hq = []
for j, (query, tw, vw) in enumerate(
    [("quick dog", 1.0, 1.0), ("rivers salmon", 1.0, 2.0), ("tea", 0.5, 1.0), (None, 1.0, 1.0), ("lazy", 1.0, 0.0)]
):
    qv = np.round(rng.standard_normal(4), 3).astype(np.float32)
    k, cands = 5, 50
    tl = fts_rank([[d] for d in ENGLISH], ["content"], words(query), cands)[0] if query else []
    vl = cosine_rank(vecs.astype(np.float64), qv.astype(np.float64), cands)[0]
    ids, scores = rrf([(tl, tw), (vl, vw)], 60, k)
    hq.append({"query": query, "vector": [float(x) for x in qv], "k": k, "text_weight": tw,
               "vector_weight": vw, "rrf_k": 60, "ids": ids, "scores": scores})
cases.append({
    "name": "hybrid",
    "columns": ["content"],
    "tokenizer": "unicode61",
    "dimensions": 4,
    "metric": "cosine",
    "docs": [{"texts": [d], "value": f"doc-{i + 1}", "vector": [float(x) for x in vecs[i]]}
             for i, d in enumerate(ENGLISH)],
    "hybrid_queries": hq,
})
xl = search_case("xlang", ["title", "body"],
                 [[ENGLISH[i], CJK[i % len(CJK)]] for i in range(6)],
                 [{"query": "quick", "k": 5}, {"query": "the", "k": 5, "column": "title"}])
cases.append(xl)

doc = {
    "version": 1,
    "about": "TextVault conformance: insert `docs` in order into a fresh vault (table 'txt_conf', the case's "
    "columns and tokenizer; ids 1..n; values are text), then run `queries` with search(query, k, column, escape "
    "(default true)) expecting `ids` in order and `scores` (= -bm25) within 1e-6 relative, and `hybrid_queries` "
    "with hybrid_search expecting `ids` and fused `scores` within 1e-9. Rankings come from SQLite's FTS5 through "
    "Python's sqlite3 and from numpy; case `xlang` is the cross-language file's content (table 'txt_xlang').",
    "cases": cases,
}
path = Path(__file__).with_name("texts.json")
path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {path}")
