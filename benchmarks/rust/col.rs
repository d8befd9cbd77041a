//! ColumnVault core throughput without any FFI: bulk appends and reads of fixed rows (1M i64,
//! 100k × 384-d f32), reads into a caller buffer (the fast path's body), and variable rows.
//!   cargo run --release --example bench_col
use std::time::Instant;

use kohakuvault::{ColumnStore, OpenOptions};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

fn timed(label: &str, bytes: usize, reps: usize, mut f: impl FnMut()) {
    // An optional argument runs only the workloads whose label contains it (for profilers).
    if let Some(only) = std::env::args().nth(1) {
        if !label.contains(&only) {
            return;
        }
    }
    let xs: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    let m = median(xs);
    println!(
        "{label:<36} {:>8.2} ms  {:>7.2} GB/s",
        m * 1e3,
        bytes as f64 / m / 1e9
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let cv = ColumnStore::new(
        path.to_str().unwrap().into(),
        1 << 20,
        OpenOptions::default(),
    )
    .unwrap();
    let n = 1_000_000usize;
    let data: Vec<u8> = (0..n as i64).flat_map(|x| x.to_le_bytes()).collect();
    let mut k = 0;
    timed("append 1M i64 (fresh column)", data.len(), 7, || {
        k += 1;
        let c = cv
            .create_column(format!("i{k}"), "i64".into(), None)
            .unwrap();
        cv.append_rows(c.id, &data).unwrap();
    });
    let c = cv.create_column("base".into(), "i64".into(), None).unwrap();
    cv.append_rows(c.id, &data).unwrap();
    timed("read 1M i64 (read_rows)", data.len(), 11, || {
        let out = cv.read_rows(c.id, 0, n as u64).unwrap();
        assert_eq!(out.len(), data.len());
    });
    let mut buf = vec![0u8; data.len()];
    let h = cv.fast_handle();
    timed("read 1M i64 (col_fast_read)", data.len(), 11, || {
        let rc = unsafe {
            kohakuvault::col::fast::col_fast_read(h, c.id, 0, n as u64, buf.as_mut_ptr(), buf.len())
        };
        assert_eq!(rc as usize, buf.len());
    });
    let starts: Vec<u64> = (0..1000u64).map(|i| i * 97).collect();
    let mut small = vec![0u8; 64 * 8];
    timed("1000 fast reads of 64 rows", 1000 * 64 * 8, 11, || {
        for &s in &starts {
            let rc = unsafe {
                kohakuvault::col::fast::col_fast_read(
                    h,
                    c.id,
                    s,
                    64,
                    small.as_mut_ptr(),
                    small.len(),
                )
            };
            assert_eq!(rc, 512);
        }
    });
    timed("1000 length() calls", 0, 11, || {
        for _ in 0..1000 {
            cv.length(c.id).unwrap();
        }
    });
    let d = cv
        .create_column("direct".into(), "i64".into(), None)
        .unwrap();
    timed("2000 committed single-row appends", 2000 * 8, 3, || {
        for i in 0..2000i64 {
            cv.append_rows(d.id, &i.to_le_bytes()).unwrap();
        }
    });
    let tn = 100_000usize;
    let tensors: Vec<u8> = (0..tn * 384)
        .flat_map(|x| (x as f32).to_le_bytes())
        .collect();
    let mut k = 0;
    timed("append 100k x 384 f32", tensors.len(), 3, || {
        k += 1;
        let c = cv
            .create_column(format!("t{k}"), "vec:f32:384".into(), None)
            .unwrap();
        cv.append_rows(c.id, &tensors).unwrap();
    });
    let t = cv
        .create_column("tbase".into(), "vec:f32:384".into(), None)
        .unwrap();
    cv.append_rows(t.id, &tensors).unwrap();
    let mut tbuf = vec![0u8; tensors.len()];
    timed("read 100k x 384 f32 (fast)", tensors.len(), 7, || {
        let rc = unsafe {
            kohakuvault::col::fast::col_fast_read(
                h,
                t.id,
                0,
                tn as u64,
                tbuf.as_mut_ptr(),
                tbuf.len(),
            )
        };
        assert_eq!(rc as usize, tbuf.len());
    });
    let recs: Vec<Vec<u8>> = (0..10_000).map(|i| vec![(i % 251) as u8; 64]).collect();
    let lens: Vec<u8> = recs
        .iter()
        .flat_map(|r| (r.len() as u32).to_le_bytes())
        .collect();
    let blob = recs.concat();
    let mut k = 0;
    timed("append 10k x 64 B variable", blob.len(), 11, || {
        k += 1;
        let c = cv
            .create_column(format!("v{k}"), "bytes".into(), None)
            .unwrap();
        cv.append_var_rows(c.id, &lens, &blob).unwrap();
    });
    let v = cv
        .create_column("vbase".into(), "bytes".into(), None)
        .unwrap();
    cv.append_var_rows(v.id, &lens, &blob).unwrap();
    timed("read 10k x 64 B variable", blob.len(), 11, || {
        let r = cv.read_var_rows(v.id, 0, 10_000).unwrap();
        assert_eq!(r.data.len(), blob.len());
    });
    cv.close().unwrap();
}
