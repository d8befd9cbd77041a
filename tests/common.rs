//! Helpers shared by the Rust integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use kohakuvault::{KvStore, OpenOptions};

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn conformance(name: &str) -> serde_json::Value {
    let p = repo_root().join("tests/conformance").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).expect("read vectors")).expect("json")
}

pub fn open(path: &std::path::Path) -> KvStore {
    KvStore::new(
        path.to_string_lossy().into_owned(),
        "kv".into(),
        OpenOptions::default(),
    )
    .expect("open")
}

pub fn item(out: &mut Vec<u8>, kind: u8, key: &[u8], payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(payload);
}

/// Keys as the columns `get_many` takes: (u32 LE lengths, concatenated keys).
pub fn keys_buf(keys: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let mut lens = Vec::new();
    let mut blob = Vec::new();
    for k in keys {
        lens.extend_from_slice(&(k.len() as u32).to_le_bytes());
        blob.extend_from_slice(k);
    }
    (lens, blob)
}

/// Parses `[status u8][len u32][payload]` records.
pub fn parse_tagged(buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < buf.len() {
        let k = buf[i];
        let n = u32::from_le_bytes(buf[i + 1..i + 5].try_into().unwrap()) as usize;
        out.push((k, buf[i + 5..i + 5 + n].to_vec()));
        i += 5 + n;
    }
    out
}

/// One scan entry: key and optional (kind, payload).
pub type PageEntry = (Vec<u8>, Option<(u8, Vec<u8>)>);

/// Parses a scan page with values.
pub fn parse_page(buf: &[u8], with_values: bool) -> Vec<PageEntry> {
    let mut out = Vec::new();
    let mut i = 0;
    let u32at = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().unwrap()) as usize;
    while i < buf.len() {
        let kl = u32at(i);
        let key = buf[i + 4..i + 4 + kl].to_vec();
        i += 4 + kl;
        let v = if with_values {
            let kind = buf[i];
            let vl = u32at(i + 1);
            let p = buf[i + 5..i + 5 + vl].to_vec();
            i += 5 + vl;
            Some((kind, p))
        } else {
            None
        };
        out.push((key, v));
    }
    out
}

/// One row or query of tests/conformance/vectors.json as the stored row bytes.
pub fn vector_bytes(spec_type: &str, e: &serde_json::Value) -> Vec<u8> {
    if let Some(h) = e.get("vector_hex") {
        return hex(h.as_str().unwrap());
    }
    let vals = e["vector"].as_array().unwrap();
    match spec_type {
        "f32" => vals
            .iter()
            .flat_map(|v| (v.as_f64().unwrap() as f32).to_le_bytes())
            .collect(),
        _ => vals
            .iter()
            .map(|v| v.as_i64().unwrap() as i8 as u8)
            .collect(),
    }
}

pub fn open_vectors(
    path: &std::path::Path,
    table: &str,
    case: &serde_json::Value,
) -> kohakuvault::VectorStore {
    kohakuvault::VectorStore::new(
        path.to_string_lossy().into_owned(),
        table.into(),
        case["dimensions"].as_u64().unwrap() as u32,
        case["metric"].as_str().unwrap().into(),
        case["vector_type"].as_str().unwrap().into(),
        OpenOptions::default(),
    )
    .expect("open vectors")
}

/// Inserts a vectors.json case's rows (values as text, metadata as msgpack).
pub fn fill_vector_case(v: &kohakuvault::VectorStore, case: &serde_json::Value) {
    let ty = case["vector_type"].as_str().unwrap();
    for (i, r) in case["rows"].as_array().unwrap().iter().enumerate() {
        let meta = match &r["metadata"] {
            serde_json::Value::Null => None,
            m => Some(rmp_serde::to_vec_named(m).unwrap()),
        };
        let id = v
            .insert(
                &vector_bytes(ty, r),
                6,
                r["value"].as_str().unwrap().as_bytes(),
                meta,
            )
            .unwrap();
        assert_eq!(id, i as i64 + 1);
    }
}

/// Runs a vectors.json case's queries against `v`; `who` names the file in messages.
pub fn check_vector_case(v: &kohakuvault::VectorStore, case: &serde_json::Value, who: &str) {
    let ty = case["vector_type"].as_str().unwrap();
    let rows = case["rows"].as_array().unwrap();
    for (qi, q) in case["queries"].as_array().unwrap().iter().enumerate() {
        let filter = match &q["filter"] {
            serde_json::Value::Null => None,
            f => Some(kohakuvault::VectorFilter {
                ids: f.get("ids").map(|a| {
                    a.as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_i64().unwrap())
                        .collect()
                }),
                metadata_equals: f
                    .get("metadata_equals")
                    .map(|m| rmp_serde::to_vec_named(m).unwrap()),
            }),
        };
        let k = q["k"].as_u64().unwrap() as u32;
        let h = v
            .search(&vector_bytes(ty, q), k, None, filter, true)
            .unwrap();
        let ids = le_i64s(&h.ids);
        let want = json_i64s(&q["ids"]);
        assert_eq!(ids, want, "{who} {} query {qi}", case["name"]);
        let dists = le_f32s(&h.distances);
        for (d, w) in dists.iter().zip(q["distances"].as_array().unwrap()) {
            assert!(
                (*d as f64 - w.as_f64().unwrap()).abs() < 1e-4,
                "{who} {} query {qi}: {d} vs {w}",
                case["name"]
            );
        }
        let mut at = 0;
        for id in &ids {
            assert_eq!(h.values[at], 6);
            let n = u32::from_le_bytes(h.values[at + 1..at + 5].try_into().unwrap()) as usize;
            let text = std::str::from_utf8(&h.values[at + 5..at + 5 + n]).unwrap();
            assert_eq!(
                text,
                rows[*id as usize - 1]["value"].as_str().unwrap(),
                "{who}"
            );
            at += 5 + n;
        }
    }
}

/// Little-endian i64s / f32s / f64s of a buffer.
pub fn le_i64s(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn le_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

pub fn le_f64s(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// A JSON array of integers.
pub fn json_i64s(v: &serde_json::Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// One cross-language round for a vault's file `<lang><suffix>` in `KV_XLANG_DIR` (a temporary
/// directory when unset, unless `only_in_phase`): `write` creates this language's file, then
/// `check` reads every language's file present (those in `KV_XLANG_REQUIRE` must be).
pub fn xlang_round(
    suffix: &str,
    only_in_phase: bool,
    write: impl Fn(&std::path::Path),
    check: impl Fn(&std::path::Path, &str),
) {
    let dir = match std::env::var("KV_XLANG_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) if only_in_phase => return,
        Err(_) => tempfile::tempdir().unwrap().keep(),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let mine = dir.join(format!("rust{suffix}"));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", mine.display()));
    }
    write(&mine);
    let required = std::env::var("KV_XLANG_REQUIRE").unwrap_or_default();
    for lang in ["rust", "python", "kotlin", "swift"] {
        let p = dir.join(format!("{lang}{suffix}"));
        if !p.exists() {
            assert!(
                !required.split(',').any(|r| r == lang),
                "{lang}{suffix} is required but missing"
            );
            continue;
        }
        check(&p, lang);
    }
}
