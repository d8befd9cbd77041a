//! KvStore batch paths without any FFI: put_many, get_many, scan pages and point gets over
//! 10k × 256 B values; prints µs per item. Run: cargo run --release --example bench_kv
use std::time::Instant;

use kohakuvault::{KvStore, OpenOptions, ScanRequest};

const N: usize = 10_000;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn timed(label: &str, reps: usize, mut f: impl FnMut()) {
    if reps == 0 {
        return;
    }
    let xs = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let m = median(xs);
    println!(
        "{label:<28} {:>8.2} ms  {:>6.3} µs/item",
        m * 1e3,
        m * 1e6 / N as f64
    );
}

fn main() {
    // An optional argument runs one workload only (for profilers): put_many, get_many, scan, get.
    let only = std::env::args().nth(1);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let dir = std::env::temp_dir().join(format!("kv-bench-kv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let open = |name: &str| {
        KvStore::new(
            dir.join(name).to_string_lossy().into(),
            "kv".into(),
            OpenOptions::default(),
        )
        .unwrap()
    };
    let value: Vec<u8> = (0..=255u8).collect();
    let keys: Vec<Vec<u8>> = (0..N).map(|i| format!("key:{i:06}").into_bytes()).collect();
    let mut items = Vec::new();
    for k in &keys {
        items.push(0u8);
        items.extend_from_slice(&(k.len() as u32).to_le_bytes());
        items.extend_from_slice(&(value.len() as u32).to_le_bytes());
        items.extend_from_slice(k);
        items.extend_from_slice(&value);
    }
    let mut request = Vec::new();
    for k in &keys {
        request.extend_from_slice(&(k.len() as u32).to_le_bytes());
        request.extend_from_slice(k);
    }
    if run("put_many") {
        let mut round = 0;
        let xs = (0..5)
            .map(|_| {
                round += 1;
                let kv = open(&format!("p{round}.db"));
                let t = Instant::now();
                kv.put_many(&items).unwrap();
                let dt = t.elapsed().as_secs_f64();
                kv.close().unwrap();
                dt
            })
            .collect();
        let m = median(xs);
        println!(
            "{:<28} {:>8.2} ms  {:>6.3} µs/item",
            "put_many (fresh file)",
            m * 1e3,
            m * 1e6 / N as f64
        );
    }
    let kv = open("main.db");
    kv.put_many(&items).unwrap();
    let reps = if only.is_some() { 101 } else { 7 };
    timed("get_many", if run("get_many") { reps } else { 0 }, || {
        let out = kv.get_many(&request).unwrap();
        assert!(out.len() > N * 256);
    });
    for bs in [128u32, 1024] {
        let r = if run("scan") { reps } else { 0 };
        timed(&format!("scan, pages of {bs}"), r, || {
            let mut after: Option<Vec<u8>> = None;
            let mut n = 0;
            loop {
                let page = kv
                    .scan(ScanRequest {
                        prefix: None,
                        after: after.clone(),
                        limit: bs,
                        with_values: true,
                        decoded: true,
                    })
                    .unwrap();
                if page.is_empty() {
                    break;
                }
                n += bs as usize;
                if n >= N {
                    break;
                }
                after = Some(keys[n - 1].clone());
            }
        });
    }
    timed("point gets", if run("get") { reps } else { 0 }, || {
        for k in &keys {
            kv.get(k).unwrap().unwrap();
        }
    });
    kv.close().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
