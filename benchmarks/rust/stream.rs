//! Streams a 256 MiB value in and out of a KVault in 1 MiB chunks and prints MB/s.
//! Run: cargo run --release --example bench_stream
use std::time::Instant;

use kohakuvault::{KvStore, OpenOptions};

fn main() {
    let dir = std::env::temp_dir().join(format!("kv-bench-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.db");
    let kv = KvStore::new(
        path.to_string_lossy().into(),
        "kv".into(),
        OpenOptions::default(),
    )
    .unwrap();
    let size: usize = 256 << 20;
    let chunk: Vec<u8> = (0..(1usize << 20)).map(|i| (i % 253) as u8).collect();
    for round in 0..3 {
        let t = Instant::now();
        let s = kv.put_stream(b"blob", size as u64).unwrap();
        for _ in 0..size / chunk.len() {
            s.write(&chunk).unwrap();
        }
        s.finish().unwrap();
        let w = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let g = kv.get_stream(b"blob").unwrap();
        let mut n = 0;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            // The copy-into-caller-buffer path that the C fast path uses.
            let c = g.read_into(&mut buf).unwrap();
            if c == 0 {
                break;
            }
            n += c;
        }
        assert_eq!(n, size);
        let r = t.elapsed().as_secs_f64();
        println!(
            "round {round}: write {:.0} MB/s, read {:.0} MB/s",
            size as f64 / w / 1e6,
            size as f64 / r / 1e6
        );
        kv.checkpoint().unwrap();
    }
    kv.close().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
