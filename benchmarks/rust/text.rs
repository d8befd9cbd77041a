//! TextVault core without any FFI: single inserts (each its own transaction), insert_many, and
//! top-10 searches, next to the same SQL run directly on rusqlite (1.1.0's two autocommit
//! statements per insert) to show what the vault adds.
//!   cargo run --release --example bench_text
use std::time::Instant;

use kohakuvault::{OpenOptions, TextOptions, TextStore};

fn opts() -> TextOptions {
    TextOptions {
        tokenizer: "unicode61".into(),
        remove_diacritics: None,
        dimensions: None,
        metric: "cosine".into(),
        vector_type: "f32".into(),
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let docs: Vec<String> = (0..2000)
        .map(|i| format!("document number {i} about cats and dogs {}", i * 7))
        .collect();
    for round in 0..3 {
        let p = dir.path().join(format!("t{round}.db"));
        let t = TextStore::new(
            p.to_str().unwrap().into(),
            "docs".into(),
            vec![],
            opts(),
            OpenOptions::default(),
        )
        .unwrap();
        let s = Instant::now();
        for (i, d) in docs.iter().enumerate() {
            t.insert(vec![d.clone()], 16, &(i as i64).to_le_bytes(), None)
                .unwrap();
        }
        let ours = s.elapsed().as_secs_f64();
        let p2 = dir.path().join(format!("raw{round}.db"));
        let c = rusqlite::Connection::open(&p2).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;
             CREATE VIRTUAL TABLE docs USING fts5(content, value_ref UNINDEXED);
             CREATE TABLE docs_values (id INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL);",
        )
        .unwrap();
        let s = Instant::now();
        for (i, d) in docs.iter().enumerate() {
            c.prepare_cached("INSERT INTO docs_values (value) VALUES (?1)")
                .unwrap()
                .execute([(i as i64).to_le_bytes().to_vec()])
                .unwrap();
            let v = c.last_insert_rowid();
            c.prepare_cached("INSERT INTO docs (content, value_ref) VALUES (?1, ?2)")
                .unwrap()
                .execute(rusqlite::params![d, v])
                .unwrap();
        }
        let raw = s.elapsed().as_secs_f64();
        println!(
            "2k single inserts: TextStore {:>6.1} ms ({:.1} us each) | raw rusqlite as 1.1.0 {:>6.1} ms",
            ours * 1e3,
            ours * 1e6 / 2000.0,
            raw * 1e3
        );
    }
}
