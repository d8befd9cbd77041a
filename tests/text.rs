//! TextVault core: BM25 search, escaping and raw syntax, tokenizers, snippets with hostile
//! markers, 1.1.0's table layout, hybrid search against an independent fusion, errors.
mod common;
use common::{json_i64s, le_f64s, le_i64s, xlang_round};
use kohakuvault::{HybridRequest, OpenOptions, TaggedValue, TextOptions, TextStore, VaultError};

fn opts() -> TextOptions {
    TextOptions {
        tokenizer: "unicode61".into(),
        remove_diacritics: None,
        dimensions: None,
        metric: "cosine".into(),
        vector_type: "f32".into(),
    }
}

fn open(p: &std::path::Path, cols: &[&str], o: TextOptions) -> Result<TextStore, VaultError> {
    TextStore::new(
        p.to_str().unwrap().into(),
        "docs".into(),
        cols.iter().map(|s| s.to_string()).collect(),
        o,
        OpenOptions::default(),
    )
}

fn ids(h: &kohakuvault::TextHits) -> Vec<i64> {
    le_i64s(&h.ids)
}

fn scores(h: &kohakuvault::TextHits) -> Vec<f64> {
    le_f64s(&h.scores)
}

fn strings(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let n = u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8(b[p + 4..p + 4 + n].to_vec()).unwrap());
        p += 4 + n;
    }
    out
}

fn add(t: &TextStore, text: &str) -> i64 {
    t.insert(vec![text.into()], 6, text.as_bytes(), None)
        .unwrap()
}

#[test]
fn search_escape_raw_and_hostile_input() {
    let d = tempfile::tempdir().unwrap();
    let t = open(&d.path().join("t.db"), &[], opts()).unwrap();
    assert_eq!(t.columns(), vec!["content"]);
    let a = add(&t, "Hello world, this is a test");
    let b = add(&t, "It's a 'quoted' world of \"tests\"");
    add(&t, "nothing to see");
    // escaped: one phrase
    let h = t
        .search("hello world".into(), 10, None, true, false, true)
        .unwrap();
    assert_eq!(ids(&h), vec![a]);
    assert!(ids(&t
        .search("world test".into(), 10, None, true, false, true)
        .unwrap())
    .is_empty());
    // raw FTS5 syntax
    let h = t
        .search("world AND test".into(), 10, None, false, false, true)
        .unwrap();
    assert_eq!(ids(&h), vec![a]);
    assert!(scores(&h)[0] > 0.0);
    // quotes and operators are just text when escaped
    for q in [
        "It's",
        "'quoted'",
        "\"tests\"",
        "NEAR(",
        "AND OR NOT",
        "*",
        "col:x",
        "'; DROP TABLE docs; --",
    ] {
        let r = t.search(q.into(), 10, None, true, true, true);
        assert!(r.is_ok(), "{q}: {r:?}");
    }
    assert_eq!(
        ids(&t
            .search("It's".into(), 10, None, true, false, true)
            .unwrap()),
        vec![b]
    );
    // raw syntax errors are InvalidArgument with FTS5's message
    let e = t
        .search("AND (".into(), 10, None, false, false, true)
        .unwrap_err();
    assert!(
        matches!(&e, VaultError::InvalidArgument { reason } if reason.contains("fts5")),
        "{e}"
    );
    let e = t.count_matches("hello?".into()).unwrap_err();
    assert!(matches!(e, VaultError::InvalidArgument { .. }), "{e}");
    // blank queries, k
    assert!(ids(&t.search("   ".into(), 10, None, true, false, true).unwrap()).is_empty());
    assert!(ids(&t
        .search("world".into(), 0, None, true, false, true)
        .unwrap())
    .is_empty());
    assert!(matches!(
        t.search("world".into(), 2_000_000, None, true, false, true),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        t.search("world".into(), 3, Some("nope".into()), true, false, true),
        Err(VaultError::InvalidArgument { .. })
    ));
    // get: a phrase anywhere, quotes are fine
    assert_eq!(
        t.get("it's a".into(), true).unwrap().payload,
        "It's a 'quoted' world of \"tests\"".as_bytes()
    );
    assert!(matches!(
        t.get("absent".into(), true),
        Err(VaultError::NotFound { .. })
    ));
    // snippets with hostile markers
    let h = t
        .snippets(
            "world".into(),
            5,
            None,
            5,
            "<'b'>".into(),
            "</'b'>".into(),
            true,
            true,
        )
        .unwrap();
    let sn = strings(&h.texts);
    assert_eq!(sn.len(), 2);
    assert!(
        sn.iter()
            .all(|s| s.contains("<'b'>world</'b'>") || s.contains("<'b'>World</'b'>")),
        "{sn:?}"
    );
    assert_eq!(t.count().unwrap(), 3);
    assert_eq!(t.count_matches("world".into()).unwrap(), 2);
    // update and delete, one transaction each
    t.update(
        a,
        Some(vec!["replaced text".into()]),
        Some(TaggedValue {
            kind: 6,
            payload: b"r".to_vec(),
        }),
        None,
    )
    .unwrap();
    assert_eq!(
        ids(&t
            .search("replaced".into(), 10, None, true, false, true)
            .unwrap()),
        vec![a]
    );
    assert!(matches!(
        t.update(
            999,
            None,
            Some(TaggedValue {
                kind: 0,
                payload: vec![]
            }),
            None
        ),
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        t.update(a, None, None, None),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(t.delete(a).unwrap());
    assert!(!t.delete(a).unwrap());
    assert!(!t.exists(a).unwrap());
    t.clear().unwrap();
    assert_eq!(t.count().unwrap(), 0);
    t.close().unwrap();
    assert!(matches!(t.count(), Err(VaultError::Closed { .. })));
    assert!(matches!(
        t.search("x".into(), 1, None, true, false, true),
        Err(VaultError::Closed { .. })
    ));
}

#[test]
fn names_columns_and_reopen() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("t.db");
    for cols in [
        &["rank"][..],
        &["a b"],
        &["value_ref"],
        &["x", "X"],
        &["q\"x"],
    ] {
        assert!(
            matches!(
                open(&p, cols, opts()),
                Err(VaultError::InvalidArgument { .. })
            ),
            "{cols:?}"
        );
    }
    assert!(TextStore::new(
        p.to_str().unwrap().into(),
        "bad;name".into(),
        vec![],
        opts(),
        OpenOptions::default()
    )
    .is_err());
    let t = open(&p, &["title", "body"], opts()).unwrap();
    let id = t
        .insert(
            vec!["A title".into(), "some body text".into()],
            0,
            b"v",
            None,
        )
        .unwrap();
    let h = t
        .search("body".into(), 5, Some("title".into()), true, false, true)
        .unwrap();
    assert!(ids(&h).is_empty());
    let h = t
        .search("body".into(), 5, Some("body".into()), true, true, true)
        .unwrap();
    assert_eq!(ids(&h), vec![id]);
    assert_eq!(strings(&h.texts), vec!["A title", "some body text"]);
    assert!(matches!(
        t.insert(vec!["only one".into()], 0, b"", None),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        t.get("A".into(), true),
        Err(VaultError::InvalidArgument { .. })
    ));
    t.close().unwrap();
    let e = open(&p, &["title"], opts()).err().unwrap();
    assert!(e.to_string().contains("\"body\""), "{e}");
    let mut porter = opts();
    porter.tokenizer = "porter".into();
    let e = open(&p, &["title", "body"], porter).err().unwrap();
    assert!(
        e.to_string().contains("porter") && e.to_string().contains("unicode61"),
        "{e}"
    );
    let t = open(&p, &["title", "body"], opts()).unwrap();
    assert_eq!(t.count().unwrap(), 1);
}

#[test]
fn tables_written_like_1_1_0_open_and_search() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute_batch(
            "CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(content, value_ref UNINDEXED);
             CREATE TABLE IF NOT EXISTS docs_values (id INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL);
             INSERT INTO docs_values (value) VALUES (x'68656c6c6f');
             INSERT INTO docs (content, value_ref) VALUES ('old document text', 1);",
        )
        .unwrap();
    }
    let t = open(&p, &[], opts()).unwrap();
    let h = t
        .search("document".into(), 5, None, true, false, true)
        .unwrap();
    assert_eq!(ids(&h), vec![1]);
    let id = add(&t, "a new document");
    assert_eq!(id, 2);
    assert_eq!(
        t.get_by_id(1, true).unwrap().texts,
        vec!["old document text"]
    );
}

#[test]
fn porter_and_trigram_tokenizers() {
    let d = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.tokenizer = "porter".into();
    let t = open(&d.path().join("p.db"), &[], o).unwrap();
    let id = add(&t, "running quickly through forests");
    assert_eq!(
        ids(&t.search("run".into(), 5, None, true, false, true).unwrap()),
        vec![id]
    );
    let mut o = opts();
    o.tokenizer = "trigram".into();
    let t = TextStore::new(
        d.path().join("t.db").to_str().unwrap().into(),
        "cjk".into(),
        vec![],
        o,
        OpenOptions::default(),
    )
    .unwrap();
    let zh = add(&t, "我们今天去北京大学参观图书馆");
    let ja = add(&t, "東京駅から新幹線で京都へ行きます");
    add(&t, "substring search in english text");
    assert_eq!(
        ids(&t
            .search("北京大学".into(), 5, None, true, false, true)
            .unwrap()),
        vec![zh]
    );
    assert_eq!(
        ids(&t
            .search("新幹線".into(), 5, None, true, false, true)
            .unwrap()),
        vec![ja]
    );
    assert_eq!(
        ids(&t
            .search("bstrin".into(), 5, None, true, false, true)
            .unwrap())
        .len(),
        1
    );
    let mut o = opts();
    o.tokenizer = "klingon".into();
    assert!(matches!(
        open(&d.path().join("k.db"), &[], o),
        Err(VaultError::InvalidArgument { .. })
    ));
}

#[test]
fn hybrid_search_is_weighted_rrf_of_both_rankings() {
    let d = tempfile::tempdir().unwrap();
    let mut o = opts();
    o.dimensions = Some(4);
    let t = open(&d.path().join("h.db"), &[], o).unwrap();
    let docs = [
        ("apple banana", [1f32, 0., 0., 0.]),
        ("banana cherry", [0.9, 0.1, 0., 0.]),
        ("cherry date", [0., 1., 0., 0.]),
        ("date elderberry apple", [0., 0., 1., 0.]),
        ("fig grape", [0.7, 0.7, 0., 0.]),
    ];
    let mut got_ids = Vec::new();
    for (text, v) in &docs {
        let vb: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        got_ids.push(
            t.insert(vec![(*text).into()], 6, text.as_bytes(), Some(vb))
                .unwrap(),
        );
    }
    let q: Vec<u8> = [1f32, 0.2, 0., 0.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let req = |query: Option<&str>, vector: Option<Vec<u8>>, tw: f64, vw: f64| HybridRequest {
        query: query.map(str::to_string),
        vector,
        k: 5,
        text_weight: tw,
        vector_weight: vw,
        rrf_k: 60,
        candidates: None,
        decoded: true,
    };
    // the two rankings, independently
    let text_rank = ids(&t
        .search(
            "\"apple\" OR \"cherry\"".into(),
            50,
            None,
            false,
            false,
            true,
        )
        .unwrap());
    let vec_rank = ids(&t.search_by_vector(q.clone(), 50, true).unwrap());
    assert_eq!(vec_rank[0], got_ids[1]); // cos 0.996 beats 0.981
    let h = t
        .hybrid_search(req(Some("apple cherry"), Some(q.clone()), 1.0, 2.0))
        .unwrap();
    let mut want: Vec<(i64, f64)> = got_ids
        .iter()
        .map(|id| {
            let r = |l: &[i64]| {
                l.iter()
                    .position(|x| x == id)
                    .map(|p| 1.0 / (60.0 + p as f64 + 1.0))
            };
            (
                *id,
                r(&text_rank).unwrap_or(0.0) + 2.0 * r(&vec_rank).unwrap_or(0.0),
            )
        })
        .filter(|(_, s)| *s > 0.0)
        .collect();
    want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(ids(&h), want.iter().map(|w| w.0).collect::<Vec<_>>());
    for (s, w) in scores(&h).iter().zip(&want) {
        assert!((s - w.1).abs() < 1e-12);
    }
    // pure sides
    let h = t
        .hybrid_search(req(None, Some(q.clone()), 1.0, 1.0))
        .unwrap();
    assert_eq!(ids(&h), vec_rank);
    let h = t
        .hybrid_search(req(Some("apple cherry"), None, 1.0, 1.0))
        .unwrap();
    assert_eq!(ids(&h), text_rank);
    // deletes and updates reach the vectors in the same transaction
    t.delete(got_ids[0]).unwrap();
    let h = t.search_by_vector(q.clone(), 1, true).unwrap();
    assert_eq!(ids(&h), vec![got_ids[1]]);
    let far: Vec<u8> = [0f32, 0., 0., 1.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    t.update(got_ids[1], None, None, Some(far)).unwrap();
    assert_ne!(
        ids(&t.search_by_vector(q.clone(), 1, true).unwrap()),
        vec![got_ids[1]]
    );
    // a bad vector changes nothing
    assert!(matches!(
        t.insert(vec!["x".into()], 0, b"", Some(vec![0; 3])),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert_eq!(t.count().unwrap(), 4);
    assert!(t.get_by_id(got_ids[2], true).unwrap().vector.is_some());
    let no_vec = open(&d.path().join("n.db"), &[], opts()).unwrap();
    assert!(matches!(
        no_vec.search_by_vector(q, 1, true),
        Err(VaultError::InvalidArgument { .. })
    ));
    t.close().unwrap();
    assert!(matches!(
        t.hybrid_search(req(Some("a"), None, 1.0, 1.0)),
        Err(VaultError::Closed { .. })
    ));
}

fn conformance_texts() -> serde_json::Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/texts.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn open_case(p: &std::path::Path, table: &str, case: &serde_json::Value) -> TextStore {
    let mut o = opts();
    o.tokenizer = case["tokenizer"].as_str().unwrap().into();
    o.dimensions = case["dimensions"].as_u64().map(|d| d as u32);
    if let Some(m) = case["metric"].as_str() {
        o.metric = m.into();
    }
    let cols = case["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    TextStore::new(
        p.to_str().unwrap().into(),
        table.into(),
        cols,
        o,
        OpenOptions::default(),
    )
    .unwrap()
}

fn f32_bytes(v: &serde_json::Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| (x.as_f64().unwrap() as f32).to_le_bytes())
        .collect()
}

/// Inserts a texts.json case's documents (ids 1..n).
pub fn fill_text_case(t: &TextStore, case: &serde_json::Value) {
    for (i, d) in case["docs"].as_array().unwrap().iter().enumerate() {
        let texts = d["texts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        let vector = d.get("vector").map(f32_bytes);
        let id = t
            .insert(texts, 6, d["value"].as_str().unwrap().as_bytes(), vector)
            .unwrap();
        assert_eq!(id, i as i64 + 1);
    }
}

/// Runs a texts.json case's queries.
pub fn check_text_case(t: &TextStore, case: &serde_json::Value, who: &str) {
    let name = case["name"].as_str().unwrap();
    let docs = case["docs"].as_array().unwrap();
    for q in case["queries"].as_array().into_iter().flatten() {
        let h = t
            .search(
                q["query"].as_str().unwrap().into(),
                q["k"].as_u64().unwrap() as u32,
                q["column"].as_str().map(str::to_string),
                q["escape"].as_bool().unwrap_or(true),
                false,
                true,
            )
            .unwrap();
        let want = json_i64s(&q["ids"]);
        assert_eq!(ids(&h), want, "{who} {name} {}", q["query"]);
        for (s, w) in scores(&h).iter().zip(q["scores"].as_array().unwrap()) {
            let w = w.as_f64().unwrap();
            assert!(
                (s - w).abs() <= 1e-6 * w.abs().max(1e-9),
                "{who} {name}: {s} vs {w}"
            );
        }
        let vals = strings_of_values(&h.values);
        for (v, id) in vals.iter().zip(&want) {
            assert_eq!(v, docs[*id as usize - 1]["value"].as_str().unwrap());
        }
    }
    for q in case["hybrid_queries"].as_array().into_iter().flatten() {
        let h = t
            .hybrid_search(HybridRequest {
                query: q["query"].as_str().map(str::to_string),
                vector: Some(f32_bytes(&q["vector"])),
                k: q["k"].as_u64().unwrap() as u32,
                text_weight: q["text_weight"].as_f64().unwrap(),
                vector_weight: q["vector_weight"].as_f64().unwrap(),
                rrf_k: q["rrf_k"].as_u64().unwrap() as u32,
                candidates: None,
                decoded: true,
            })
            .unwrap();
        let want = json_i64s(&q["ids"]);
        assert_eq!(ids(&h), want, "{who} {name} hybrid {}", q["query"]);
        for (s, w) in scores(&h).iter().zip(q["scores"].as_array().unwrap()) {
            assert!(
                (s - w.as_f64().unwrap()).abs() < 1e-9,
                "{who} {name}: {s} vs {w}"
            );
        }
    }
}

fn strings_of_values(b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let n = u32::from_le_bytes(b[p + 1..p + 5].try_into().unwrap()) as usize;
        out.push(String::from_utf8(b[p + 5..p + 5 + n].to_vec()).unwrap());
        p += 5 + n;
    }
    out
}

#[test]
fn conformance_texts_json() {
    let spec = conformance_texts();
    for case in spec["cases"].as_array().unwrap() {
        let d = tempfile::tempdir().unwrap();
        let t = open_case(&d.path().join("t.db"), "txt_conf", case);
        fill_text_case(&t, case);
        check_text_case(&t, case, "rust");
        t.close().unwrap();
        let t = open_case(&d.path().join("t.db"), "txt_conf", case);
        check_text_case(&t, case, "rust reopened");
    }
}

/// Cross-language: writes `<KV_XLANG_DIR>/rust-texts.db` (table txt_xlang, case "xlang") and
/// searches every other language's file (only in the cross-language phase).
#[test]
fn xlang_texts() {
    let spec = conformance_texts();
    let case = spec["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "xlang")
        .unwrap();
    xlang_round(
        "-texts.db",
        true,
        |mine| {
            let t = open_case(mine, "txt_xlang", case);
            fill_text_case(&t, case);
            t.close().unwrap();
        },
        |p, lang| check_text_case(&open_case(p, "txt_xlang", case), case, lang),
    );
}

#[test]
fn ids_are_never_reused_and_vectors_stay_with_their_documents() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("r.db");
    let mut o = opts();
    o.dimensions = Some(2);
    o.metric = "l2".into();
    let t = open(&p, &[], o.clone()).unwrap();
    let v = |a: f32, b: f32| -> Vec<u8> { [a, b].iter().flat_map(|x| x.to_le_bytes()).collect() };
    t.insert(vec!["a".into()], 0, b"", Some(v(0., 0.))).unwrap();
    let b = t.insert(vec!["b".into()], 0, b"", Some(v(1., 1.))).unwrap();
    t.close().unwrap();
    // opened without dimensions, the vault still keeps its vectors in step
    let t = open(&p, &[], opts()).unwrap();
    assert_eq!(t.dimensions(), Some(2));
    t.delete(b).unwrap();
    let c = t.insert(vec!["c".into()], 0, b"", None).unwrap();
    assert_ne!(c, b, "ids are never reused");
    assert!(t.get_by_id(c, true).unwrap().vector.is_none());
    t.clear().unwrap();
    let e = t.insert(vec!["e".into()], 0, b"", None).unwrap();
    assert!(e > c);
    // NULs and unparsable raw queries are the caller's errors, never internal ones
    assert!(t.search("a\0b".into(), 5, None, true, false, true).is_ok());
    for q in ["\"open", "*", "NEAR(a b, x)"] {
        let r = t.search(q.into(), 5, None, false, false, true);
        assert!(
            matches!(r, Err(VaultError::InvalidArgument { .. })),
            "{q}: {r:?}"
        );
    }
    assert!(matches!(
        t.count_matches("*".into()),
        Err(VaultError::InvalidArgument { .. })
    ));
    let same = TextStore::new(
        p.to_str().unwrap().into(),
        "same".into(),
        vec!["SAME".into()],
        opts(),
        OpenOptions::default(),
    );
    assert!(matches!(same, Err(VaultError::InvalidArgument { .. })));
}
