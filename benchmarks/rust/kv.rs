//! KvStore batch paths without any FFI: put_many, get_many, scan pages and point gets over
//! 10k × 256 B values; prints µs per item. Run: cargo run --release --example bench_kv
use std::time::Instant;

use kohakuvault::{KvStore, OpenOptions, ScanRequest};

const N: usize = 10_000;

/// MessagePack of {"id": i, "name": "user<i>", "tags": [1, 2, 3], "score": 0.5}.
fn small_dict(i: usize) -> Vec<u8> {
    use rmpv::Value;
    let v = Value::Map(vec![
        (Value::from("id"), Value::from(i as u64)),
        (Value::from("name"), Value::from(format!("user{i}"))),
        (
            Value::from("tags"),
            Value::from(vec![Value::from(1), Value::from(2), Value::from(3)]),
        ),
        (Value::from("score"), Value::from(0.5)),
    ]);
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &v).unwrap();
    out
}

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
    // An optional argument runs one workload only (for profilers): put_many, cache, get_many,
    // scan, get.
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
    // Cached puts in batches of 512, as the Python combiner sends them; with `dicts` the values
    // are small MessagePack maps (kind 4) in insertion order, which the core must sort.
    let dicts = std::env::var_os("KV_BENCH_DICTS").is_some();
    let batches: Vec<Vec<u8>> = keys
        .chunks(512)
        .enumerate()
        .map(|(c, ks)| {
            let mut b = Vec::new();
            for (j, k) in ks.iter().enumerate() {
                let i = c * 512 + j;
                let (kind, v) = if dicts {
                    (4u8, small_dict(i))
                } else {
                    (0u8, value.clone())
                };
                b.push(kind);
                b.extend_from_slice(&(k.len() as u32).to_le_bytes());
                b.extend_from_slice(&(v.len() as u32).to_le_bytes());
                b.extend_from_slice(k);
                b.extend_from_slice(&v);
            }
            b
        })
        .collect();
    let mut request_lens = Vec::new();
    let mut request = Vec::new();
    for k in &keys {
        request_lens.extend_from_slice(&(k.len() as u32).to_le_bytes());
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
    if run("cache") {
        let mut round = 0;
        let (mut admit, mut flush) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            round += 1;
            let kv = open(&format!("c{round}.db"));
            kv.enable_cache(64 << 20, 16 << 20, None).unwrap();
            let t = Instant::now();
            for chunk in batches.iter() {
                kv.cache_put_many(chunk).unwrap();
            }
            admit.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            kv.flush_cache().unwrap();
            flush.push(t.elapsed().as_secs_f64());
            kv.close().unwrap();
        }
        for (label, xs) in [("cache_put_many x512", admit), ("flush_cache", flush)] {
            let m = median(xs);
            println!(
                "{label:<28} {:>8.2} ms  {:>6.3} µs/item",
                m * 1e3,
                m * 1e6 / N as f64
            );
        }
    }
    let kv = open("main.db");
    kv.put_many(&items).unwrap();
    let reps = if only.is_some() { 101 } else { 7 };
    timed("get_many", if run("get_many") { reps } else { 0 }, || {
        let out = kv.get_many(&request_lens, &request, true).unwrap();
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
                if page.entries.is_empty() || page.end {
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
