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
