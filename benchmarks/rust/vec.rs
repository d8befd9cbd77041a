//! VectorKVault core throughput without any FFI: exact top-10 search over 100k × 384-d rows for
//! every metric and type (vectors/s), many queries per call, filtered search, and batch inserts.
//!   cargo run --release --example bench_vec [label-filter]
//! KOHAKUVAULT_NO_SIMD=1 runs the baseline kernels instead of the AVX2 ones.
use std::time::Instant;

use kohakuvault::vec::kernels;
use kohakuvault::{OpenOptions, VectorFilter, VectorStore};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn wanted(label: &str) -> bool {
    std::env::args()
        .nth(1)
        .is_none_or(|only| label.contains(&only))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn rows(ty: &str, dims: usize, n: usize, rng: &mut Rng) -> Vec<u8> {
    let rb = match ty {
        "f32" => dims * 4,
        "int8" => dims,
        _ => dims / 8,
    };
    let mut out = Vec::with_capacity(n * rb);
    for _ in 0..n {
        match ty {
            "f32" => (0..dims).for_each(|_| {
                let v = (rng.next() % 2_000_001) as f32 / 1e6 - 1.0;
                out.extend_from_slice(&v.to_le_bytes())
            }),
            _ => (0..rb).for_each(|_| out.push(rng.next() as u8)),
        }
    }
    out
}

fn fill(v: &VectorStore, data: &[u8], n: usize) -> f64 {
    let kinds = vec![0u8; n];
    let lens: Vec<u8> = (0..n).flat_map(|_| 8u32.to_le_bytes()).collect();
    let vals: Vec<u8> = (0..n as u64).flat_map(|i| i.to_le_bytes()).collect();
    let t = Instant::now();
    for (c, chunk) in data.chunks(10_000 * (data.len() / n)).enumerate() {
        let m = chunk.len() / (data.len() / n);
        let at = c * 10_000;
        v.insert_many(
            chunk,
            &kinds[at..at + m],
            &lens[at * 4..(at + m) * 4],
            &vals[at * 8..(at + m) * 8],
            &[],
            &[],
        )
        .unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// 100k × 64-d rows with metadata {"g": i % 10}: a search restricted to g = 3 (10% of rows).
fn metadata_filter(dir: &std::path::Path) {
    if !wanted("filter/meta") {
        return;
    }
    let v = VectorStore::new(
        dir.join("meta.db").to_str().unwrap().into(),
        "bench".into(),
        64,
        "l2".into(),
        "f32".into(),
        OpenOptions::default(),
    )
    .unwrap();
    let n = 100_000;
    let mut rng = Rng(11);
    let data = rows("f32", 64, n, &mut rng);
    let metas: Vec<Vec<u8>> = (0..n)
        .map(|i| vec![0x81, 0xa1, b'g', (i % 10) as u8])
        .collect();
    let meta_lens: Vec<u8> = metas
        .iter()
        .flat_map(|m| (m.len() as u32).to_le_bytes())
        .collect();
    let kinds = vec![0u8; n];
    let lens: Vec<u8> = (0..n).flat_map(|_| 0u32.to_le_bytes()).collect();
    let t = Instant::now();
    v.insert_many(&data, &kinds, &lens, &[], &meta_lens, &metas.concat())
        .unwrap();
    let ins = t.elapsed().as_secs_f64();
    let q = rows("f32", 64, 1, &mut rng);
    let f = || VectorFilter {
        ids: None,
        metadata_equals: Some(vec![0x81, 0xa1, b'g', 3]),
    };
    v.search(&q, 10, None, Some(f()), true).unwrap();
    let t: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            v.search(&q, 10, None, Some(f()), true).unwrap();
            t.elapsed().as_secs_f64()
        })
        .collect();
    println!(
        "filter/meta    100k x 64 with metadata: insert_many {:>6.0} rows/s | search where g = 3 (10%) {:>6.2} ms",
        n as f64 / ins,
        median(t) * 1e3
    );
}

fn main() {
    println!("kernels: {}", kernels::selected());
    let dir = tempfile::tempdir().unwrap();
    small(dir.path());
    metadata_filter(dir.path());
    let n = 100_000;
    let dims = 384;
    for (metric, ty) in [
        ("cosine", "f32"),
        ("l2", "f32"),
        ("l1", "f32"),
        ("l2", "int8"),
        ("l1", "int8"),
        ("hamming", "bit"),
    ] {
        let label = format!("{ty}/{metric}");
        if !wanted(&label) {
            continue;
        }
        let mut rng = Rng(42);
        let path = dir.path().join(format!("{ty}_{metric}.db"));
        let v = VectorStore::new(
            path.to_str().unwrap().into(),
            "bench".into(),
            dims as u32,
            metric.into(),
            ty.into(),
            OpenOptions::default(),
        )
        .unwrap();
        let data = rows(ty, dims, n, &mut rng);
        let ins = fill(&v, &data, n);
        let q = rows(ty, dims, 1, &mut rng);
        v.close().unwrap();
        let v = VectorStore::new(
            path.to_str().unwrap().into(),
            "bench".into(),
            dims as u32,
            metric.into(),
            ty.into(),
            OpenOptions::default(),
        )
        .unwrap();
        let t = Instant::now();
        v.search(&q, 10, None, None, true).unwrap(); // loads the copy from the file
        let load = t.elapsed().as_secs_f64();
        let t: Vec<f64> = (0..15)
            .map(|_| {
                let t = Instant::now();
                v.search(&q, 10, None, None, true).unwrap();
                t.elapsed().as_secs_f64()
            })
            .collect();
        let one = median(t);
        let qs = rows(ty, dims, 32, &mut rng);
        let t = Instant::now();
        v.search(&qs, 10, None, None, true).unwrap();
        let many = t.elapsed().as_secs_f64() / 32.0;
        let ids: Vec<i64> = (1..=n as i64).step_by(10).collect();
        let f = VectorFilter {
            ids: Some(ids),
            metadata_equals: None,
        };
        let t = Instant::now();
        v.search(&q, 10, None, Some(f), true).unwrap();
        let filtered = t.elapsed().as_secs_f64();
        println!(
            "{label:<14} search {:>6.2} ms = {:>5.2} M vec/s | 32 queries/call {:>5.2} M vec/s | 10% id filter {:>6.2} ms | insert_many {:>6.0} rows/s | first search after reopen {:>6.1} ms",
            one * 1e3,
            n as f64 / one / 1e6,
            n as f64 / many / 1e6,
            filtered * 1e3,
            ins,
            load * 1e3
        );
    }
}

/// 2k × 128-d inserts one by one, get of all, 200 searches (1.1.0's small workload), core alone.
fn small(dir: &std::path::Path) {
    for metric in ["cosine", "l2"] {
        let label = format!("small/{metric}");
        if !wanted(&label) {
            continue;
        }
        let v = VectorStore::new(
            dir.join(format!("small_{metric}.db"))
                .to_str()
                .unwrap()
                .into(),
            "bench".into(),
            128,
            metric.into(),
            "f32".into(),
            OpenOptions::default(),
        )
        .unwrap();
        let mut rng = Rng(7);
        let data = rows("f32", 128, 2000, &mut rng);
        let t = Instant::now();
        for r in data.chunks(512) {
            v.insert(r, 0, b"value", None).unwrap();
        }
        let ins = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for id in 1..=2000 {
            v.get_by_id(id, true).unwrap();
        }
        let get = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for r in data.chunks(512).take(200) {
            v.search(r, 10, None, None, true).unwrap();
        }
        let s = t.elapsed().as_secs_f64();
        // The same inserts as 1.1.0's SQL straight on rusqlite (what the vault adds on top).
        kohakuvault::storage::register_sqlite_vec();
        let raw = rusqlite::Connection::open(dir.join(format!("raw_{metric}.db"))).unwrap();
        raw.execute_batch(&format!(
            "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
             CREATE VIRTUAL TABLE t USING vec0(value_ref INTEGER, vector float[128] distance_metric={});
             CREATE TABLE t_values (id INTEGER PRIMARY KEY AUTOINCREMENT, value BLOB NOT NULL);",
            if metric == "l2" { "L2" } else { "cosine" }
        ))
        .unwrap();
        let t = Instant::now();
        for r in data.chunks(512) {
            let tx = raw.unchecked_transaction().unwrap();
            tx.prepare_cached("INSERT INTO t_values (value) VALUES (?1)")
                .unwrap()
                .execute([b"value".to_vec()])
                .unwrap();
            let id = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO t (value_ref, vector) VALUES (?1, ?2)")
                .unwrap()
                .execute(rusqlite::params![id, r])
                .unwrap();
            tx.commit().unwrap();
        }
        let raw_ins = t.elapsed().as_secs_f64();
        println!(
            "{label:<14} 2k inserts {:>7.1} ms ({:.1} us each; 1.1.0's SQL on rusqlite {:.1} us) | get_by_id all {:>6.1} ms | 200 searches {:>6.1} ms",
            ins * 1e3,
            ins * 1e6 / 2000.0,
            raw_ins * 1e6 / 2000.0,
            get * 1e3,
            s * 1e3
        );
    }
}
