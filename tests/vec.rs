//! VectorKVault core: every metric and type against a brute-force reference, filters, updates,
//! compaction, persistence of the spec, errors, and both kernel builds agreeing.
mod common;
use kohakuvault::vec::kernels::{self, Kernel, Rows};
use kohakuvault::{OpenOptions, TaggedValue, VaultError, VectorFilter, VectorHits, VectorStore};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn open(p: &std::path::Path, dims: u32, metric: &str, ty: &str) -> Result<VectorStore, VaultError> {
    VectorStore::new(
        p.to_str().unwrap().into(),
        "vecs".into(),
        dims,
        metric.into(),
        ty.into(),
        OpenOptions::default(),
    )
}

/// A small deterministic generator (xorshift), so the test needs no extra crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn f32(&mut self) -> f32 {
        (self.next() % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }
}

fn row(ty: &str, dims: usize, rng: &mut Rng) -> Vec<u8> {
    match ty {
        "f32" => (0..dims).flat_map(|_| rng.f32().to_le_bytes()).collect(),
        "int8" => (0..dims).map(|_| rng.next() as u8).collect(),
        _ => (0..dims / 8).map(|_| rng.next() as u8).collect(),
    }
}

fn f32s(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
        .collect()
}

/// The reference distance, in f64.
fn reference(metric: &str, ty: &str, a: &[u8], b: &[u8]) -> f64 {
    match (metric, ty) {
        ("cosine", _) => {
            let (x, y) = (f32s(a), f32s(b));
            let dot: f64 = x.iter().zip(&y).map(|(p, q)| p * q).sum();
            let nx: f64 = x.iter().map(|p| p * p).sum::<f64>().sqrt();
            let ny: f64 = y.iter().map(|p| p * p).sum::<f64>().sqrt();
            1.0 - dot / (nx * ny)
        }
        (m, "f32") => {
            let (x, y) = (f32s(a), f32s(b));
            let it = x.iter().zip(&y).map(|(p, q)| (p - q).abs());
            if m == "l1" {
                it.sum()
            } else {
                it.map(|d| d * d).sum::<f64>().sqrt()
            }
        }
        (m, "int8") => {
            let it = a
                .iter()
                .zip(b)
                .map(|(&p, &q)| ((p as i8) as f64 - (q as i8) as f64).abs());
            if m == "l1" {
                it.sum()
            } else {
                it.map(|d| d * d).sum::<f64>().sqrt()
            }
        }
        _ => a
            .iter()
            .zip(b)
            .map(|(p, q)| (p ^ q).count_ones() as f64)
            .sum(),
    }
}

struct Hits {
    ids: Vec<i64>,
    dists: Vec<f32>,
    values: Vec<(u8, Vec<u8>)>,
    counts: Vec<u32>,
}

fn unpack(h: &VectorHits) -> Hits {
    let counts = h
        .counts
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let ids = h
        .ids
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let dists = h
        .distances
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let mut values = Vec::new();
    let mut p = 0;
    while p < h.values.len() {
        let kind = h.values[p];
        let n = u32::from_le_bytes(h.values[p + 1..p + 5].try_into().unwrap()) as usize;
        values.push((kind, h.values[p + 5..p + 5 + n].to_vec()));
        p += 5 + n;
    }
    Hits {
        ids,
        dists,
        values,
        counts,
    }
}

fn insert_all(v: &VectorStore, rows: &[Vec<u8>]) -> Vec<i64> {
    let n = rows.len();
    let kinds = vec![6u8; n];
    let vals: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
    let lens: Vec<u8> = vals
        .iter()
        .flat_map(|x| (x.len() as u32).to_le_bytes())
        .collect();
    let ids = v
        .insert_many(&rows.concat(), &kinds, &lens, &vals.concat(), &[], &[])
        .unwrap();
    ids.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn every_metric_and_type_matches_brute_force() {
    for (metric, ty, dims) in [
        ("cosine", "f32", 37),
        ("l2", "f32", 64),
        ("l1", "f32", 19),
        ("l2", "int8", 50),
        ("l1", "int8", 33),
        ("hamming", "bit", 72),
    ] {
        let d = tmp();
        let v = open(&d.path().join("v.db"), dims, metric, ty).unwrap();
        let mut rng = Rng(0x9E3779B97F4A7C15);
        let rows: Vec<Vec<u8>> = (0..700).map(|_| row(ty, dims as usize, &mut rng)).collect();
        let ids = insert_all(&v, &rows);
        assert_eq!(ids, (1..=700).collect::<Vec<i64>>());
        for k in [1u32, 10, 100, 800] {
            let q = row(ty, dims as usize, &mut rng);
            let got = unpack(&v.search(&q, k, None, None, true).unwrap());
            let mut want: Vec<(f64, i64)> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| (reference(metric, ty, r, &q), i as i64 + 1))
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            want.truncate(k as usize);
            assert_eq!(got.counts, vec![want.len() as u32]);
            for (i, (wd, wid)) in want.iter().enumerate() {
                assert!(
                    (got.dists[i] as f64 - wd).abs() < 1e-3 * wd.abs().max(1.0),
                    "{metric}/{ty} k={k} #{i}: {} vs {wd}",
                    got.dists[i]
                );
                // Ids agree except where the reference has a near-tie.
                if got.ids[i] != *wid {
                    let other = want
                        .iter()
                        .find(|w| w.1 == got.ids[i])
                        .expect("hit in reference top k");
                    assert!(
                        (other.0 - wd).abs() < 1e-5,
                        "{metric}/{ty}: id {} vs {wid}",
                        got.ids[i]
                    );
                }
            }
            let (kind, text) = &got.values[0];
            assert_eq!(*kind, 6);
            assert_eq!(text, format!("v{}", got.ids[0] - 1).as_bytes());
        }
        // an in-place update (int8 and bit take sqlite-vec's delete + insert path)
        let moved = row(ty, dims as usize, &mut rng);
        v.update(5, Some(moved.clone()), None, None).unwrap();
        let top = unpack(&v.search(&moved, 1, None, None, true).unwrap());
        assert_eq!(top.ids, vec![5], "{metric}/{ty}");
        assert_eq!(top.values[0].1, b"v4");
        // a fresh handle loads its copy from sqlite-vec's chunks (deleted slots skipped): same
        // answers as the copy patched by the writes
        assert!(v.delete(7).unwrap());
        let q = row(ty, dims as usize, &mut rng);
        let before = unpack(&v.search(&q, 50, None, None, true).unwrap());
        v.close().unwrap();
        let v = open(&d.path().join("v.db"), dims, metric, ty).unwrap();
        let after = unpack(&v.search(&q, 50, None, None, true).unwrap());
        assert_eq!(before.ids, after.ids, "{metric}/{ty}");
        assert_eq!(before.dists, after.dists);
        assert!(!after.ids.contains(&7));
        // search with several queries = each alone
        let qs: Vec<Vec<u8>> = (0..5).map(|_| row(ty, dims as usize, &mut rng)).collect();
        let many = unpack(&v.search(&qs.concat(), 7, None, None, true).unwrap());
        assert_eq!(many.counts, vec![7; 5]);
        for (i, q) in qs.iter().enumerate() {
            let one = unpack(&v.search(q, 7, None, None, true).unwrap());
            assert_eq!(one.ids, many.ids[i * 7..(i + 1) * 7]);
        }
    }
}

#[test]
fn cosine_rows_are_stored_normalised_and_files_reopen() {
    let d = tmp();
    let p = d.path().join("v.db");
    let v = open(&p, 4, "cosine", "f32").unwrap();
    let r: Vec<u8> = [3f32, 4., 0., 0.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let id = v.insert(&r, 6, b"x", None).unwrap();
    let rec = v.get_by_id(id, true).unwrap();
    assert_eq!(
        f32s(&rec.vector),
        vec![0.6000000238418579, 0.800000011920929, 0.0, 0.0]
    );
    v.close().unwrap();
    let e = open(&p, 8, "cosine", "f32").err().unwrap();
    assert!(
        matches!(&e, VaultError::InvalidArgument { reason } if reason.contains("dimensions=4") && reason.contains("dimensions=8")),
        "{e}"
    );
    let e = open(&p, 4, "l2", "f32").err().unwrap();
    assert!(
        e.to_string().contains("metric=cosine") && e.to_string().contains("metric=l2"),
        "{e}"
    );
    let v = open(&p, 4, "COSINE", "float32").unwrap();
    assert_eq!(v.count().unwrap(), 1);
    assert_eq!(v.info().unwrap().metric, "cosine");
}

#[test]
fn filters_return_k_hits_when_k_rows_match() {
    let d = tmp();
    let v = open(&d.path().join("v.db"), 8, "l2", "f32").unwrap();
    let mut rng = Rng(7);
    for i in 0..500 {
        let r = row("f32", 8, &mut rng);
        // one row in 50 is "rare"; msgpack {"g": "rare"|"common", "i": i}
        let g = if i % 50 == 0 { "rare" } else { "common" };
        let mut meta = vec![0x82, 0xa1, b'g', 0xa0 | g.len() as u8];
        meta.extend_from_slice(g.as_bytes());
        meta.extend_from_slice(&[0xa1, b'i', 0xcd]);
        meta.extend_from_slice(&(i as u16).to_be_bytes());
        v.insert(&r, 0, b"", Some(meta)).unwrap();
    }
    let q = row("f32", 8, &mut rng);
    let rare = {
        let mut m = vec![0x81, 0xa1, b'g', 0xa4];
        m.extend_from_slice(b"rare");
        m
    };
    let f = VectorFilter {
        ids: None,
        metadata_equals: Some(rare.clone()),
    };
    let got = unpack(&v.search(&q, 10, None, Some(f), true).unwrap());
    assert_eq!(got.ids.len(), 10);
    assert!(got.ids.iter().all(|id| (id - 1) % 50 == 0), "{:?}", got.ids);
    let f = VectorFilter {
        ids: Some(vec![3, 4, 5, 999]),
        metadata_equals: None,
    };
    let got = unpack(&v.search(&q, 10, None, Some(f), true).unwrap());
    let mut s = got.ids.clone();
    s.sort();
    assert_eq!(s, vec![3, 4, 5]);
    let f = VectorFilter {
        ids: Some(vec![1, 2, 51]),
        metadata_equals: Some(rare),
    };
    let got = unpack(&v.search(&q, 10, None, Some(f), true).unwrap());
    let mut s = got.ids.clone();
    s.sort();
    assert_eq!(s, vec![1, 51]);
    // metadata comes back as msgpack
    let rec = v.get_by_id(1, true).unwrap();
    assert!(rec.metadata.unwrap().len() > 4);
}

#[test]
fn updates_deletes_and_compaction() {
    let d = tmp();
    let p = d.path().join("v.db");
    let v = open(&p, 16, "l2", "f32").unwrap();
    let mut rng = Rng(99);
    let rows: Vec<Vec<u8>> = (0..3000).map(|_| row("f32", 16, &mut rng)).collect();
    let ids = insert_all(&v, &rows);
    // searches load the copy; writes after that patch it
    let top = unpack(&v.search(&rows[10], 1, None, None, true).unwrap());
    assert_eq!(top.ids, vec![11]);
    for id in ids.iter().filter(|i| *i % 2 == 0) {
        assert!(v.delete(*id).unwrap());
    }
    assert!(!v.delete(2).unwrap());
    assert_eq!(v.count().unwrap(), 1500);
    let top = unpack(&v.search(&rows[11], 1, None, None, true).unwrap());
    assert_ne!(top.ids, vec![12]);
    v.update(
        13,
        Some(rows[11].clone()),
        Some(TaggedValue {
            kind: 6,
            payload: b"moved".to_vec(),
        }),
        None,
    )
    .unwrap();
    let top = unpack(&v.search(&rows[11], 1, None, None, true).unwrap());
    assert_eq!(top.ids, vec![13]);
    assert_eq!(top.values[0].1, b"moved");
    assert!(matches!(
        v.update(2, None, None, Some(vec![0x80])),
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        v.update(3, None, None, None),
        Err(VaultError::InvalidArgument { .. })
    ));
    let info = v.info().unwrap();
    assert!(info.deleted_slots >= 1000, "{info:?}");
    let reclaimed = v.compact().unwrap();
    assert_eq!(reclaimed, info.deleted_slots);
    assert_eq!(v.info().unwrap().deleted_slots, 0);
    assert_eq!(v.count().unwrap(), 1500);
    let top = unpack(&v.search(&rows[11], 1, None, None, true).unwrap());
    assert_eq!(top.ids, vec![13]);
    // ids are never reused after a compaction
    let id = v.insert(&rows[0], 0, b"", None).unwrap();
    assert_eq!(id, 3001);
    // another handle on the file sees the same
    let w = open(&p, 16, "l2", "f32").unwrap();
    let top = unpack(&w.search(&rows[0], 2, None, None, true).unwrap());
    assert_eq!(top.ids, vec![1, 3001]);
    // and this one sees the other's writes: deletes, inserts and in-place updates
    w.delete(1).unwrap();
    let top = unpack(&v.search(&rows[0], 1, None, None, true).unwrap());
    assert_eq!(top.ids, vec![3001]);
    w.update(3, Some(rows[0].clone()), None, None).unwrap();
    let top = unpack(&v.search(&rows[0], 2, None, None, true).unwrap());
    assert_eq!(top.ids, vec![3, 3001]);
    let id = w.insert(&rows[5], 0, b"", None).unwrap();
    let top = unpack(&v.search(&rows[5], 1, None, None, true).unwrap());
    assert_eq!(top.ids, vec![id]);
}

#[test]
fn churn_with_compaction_keeps_the_file_bounded() {
    let d = tmp();
    let p = d.path().join("v.db");
    let v = open(&p, 32, "l2", "f32").unwrap();
    let mut rng = Rng(5);
    let mut sizes = Vec::new();
    for _ in 0..12 {
        let rows: Vec<Vec<u8>> = (0..2000).map(|_| row("f32", 32, &mut rng)).collect();
        let ids = insert_all(&v, &rows);
        for id in ids {
            v.delete(id).unwrap();
        }
        v.compact().unwrap();
        v.checkpoint().unwrap();
        sizes.push(std::fs::metadata(&p).unwrap().len());
    }
    assert!(sizes[11] <= sizes[3], "file keeps growing: {sizes:?}");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let d = tmp();
    let v = open(&d.path().join("v.db"), 4, "cosine", "f32").unwrap();
    let good: Vec<u8> = [1f32, 2., 3., 4.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    v.insert(&good, 0, b"a", None).unwrap();
    let nan: Vec<u8> = [1f32, f32::NAN, 3., 4.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    for bad in [&good[..12], &nan[..]] {
        assert!(matches!(
            v.insert(bad, 0, b"b", None),
            Err(VaultError::InvalidArgument { .. })
        ));
        assert!(matches!(
            v.search(bad, 1, None, None, true),
            Err(VaultError::InvalidArgument { .. })
        ));
    }
    assert!(matches!(
        v.search(&good, 1_000_001, None, None, true),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        v.search(&good, 1, Some("l2".into()), None, true),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        v.insert(&good, 0, b"b", Some(vec![0x93, 1, 2, 3])),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(matches!(
        v.get_by_id(77, true),
        Err(VaultError::NotFound { .. })
    ));
    assert_eq!(
        unpack(&v.search(&good, 0, None, None, true).unwrap())
            .ids
            .len(),
        0
    );
    assert_eq!(v.count().unwrap(), 1);
    for (dims, m, t, msg) in [
        (
            4,
            "dot",
            "f32",
            "Unknown metric 'dot'. Expected: cosine, l2, l1, or hamming",
        ),
        (
            4,
            "cosine",
            "int8",
            "Metric 'cosine' is not compatible with vector type 'int8'",
        ),
        (
            7,
            "hamming",
            "bit",
            "Bit vector dimensions must be divisible by 8, got 7",
        ),
    ] {
        let e = open(&d.path().join("w.db"), dims, m, t).err().unwrap();
        assert_eq!(e.to_string(), msg);
    }
    let e = VectorStore::new(
        d.path().join("x.db").to_str().unwrap().into(),
        "bad name; drop".into(),
        4,
        "l2".into(),
        "f32".into(),
        OpenOptions::default(),
    )
    .err()
    .unwrap();
    assert!(matches!(e, VaultError::InvalidArgument { .. }));
    assert!(!d.path().join("x.db").exists());
    v.close().unwrap();
    assert!(matches!(v.count(), Err(VaultError::Closed { .. })));
    assert!(matches!(
        v.search(&good, 1, None, None, true),
        Err(VaultError::Closed { .. })
    ));
    assert!(matches!(
        v.insert(&good, 0, b"", None),
        Err(VaultError::Closed { .. })
    ));
}

#[test]
fn both_kernel_builds_agree() {
    let mut rng = Rng(3);
    for (kernel, dims) in [
        (Kernel::CosineF32, 384usize),
        (Kernel::L2F32, 100),
        (Kernel::L1F32, 7),
        (Kernel::L2I8, 300),
        (Kernel::L1I8, 5),
        (Kernel::Hamming, 256),
    ] {
        let (ty, rb) = match kernel {
            Kernel::CosineF32 | Kernel::L2F32 | Kernel::L1F32 => ("f32", dims * 4),
            Kernel::L2I8 | Kernel::L1I8 => ("int8", dims),
            Kernel::Hamming => ("bit", dims / 8),
        };
        let stride = rb.div_ceil(4);
        let words_of = |b: &[u8]| -> Vec<u32> {
            let mut w = vec![0u32; stride];
            for (i, c) in b.chunks(4).enumerate() {
                let mut x = [0u8; 4];
                x[..c.len()].copy_from_slice(c);
                w[i] = u32::from_le_bytes(x);
            }
            w
        };
        let data: Vec<u32> = (0..300)
            .flat_map(|_| words_of(&row(ty, dims, &mut rng)))
            .collect();
        let q = words_of(&row(ty, dims, &mut rng));
        let rows = Rows {
            words: &data,
            stride,
            dims: if ty == "bit" { dims / 8 } else { dims },
        };
        let (mut a, mut b) = (vec![0f32; 300], vec![0f32; 300]);
        kernels::distances(kernel, rows, &q, 0, &mut a);
        kernels::distances_baseline(kernel, rows, &q, 0, &mut b);
        assert_eq!(a, b, "{kernel:?} ({})", kernels::selected());
    }
}

#[test]
fn conformance_vectors() {
    let spec = common::conformance("vectors.json");
    for case in spec["cases"].as_array().unwrap() {
        let d = tmp();
        let v = common::open_vectors(&d.path().join("v.db"), "vec_conf", case);
        common::fill_vector_case(&v, case);
        common::check_vector_case(&v, case, "rust");
        v.close().unwrap();
        // and again from a fresh handle (the copy loaded from the file)
        let v = common::open_vectors(&d.path().join("v.db"), "vec_conf", case);
        common::check_vector_case(&v, case, "rust reopened");
    }
}

/// Every row of a shadow table, as text (blobs in hex), in rowid order.
fn dump(path: &std::path::Path, table: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c
        .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))
        .unwrap();
    let n = st.column_count();
    let rows = st
        .query_map([], |r| {
            let mut s = String::new();
            for i in 0..n {
                use rusqlite::types::ValueRef::*;
                match r.get_ref(i)? {
                    Null => s.push_str("null|"),
                    Integer(v) => s.push_str(&format!("{v}|")),
                    Real(v) => s.push_str(&format!("{v}|")),
                    Text(t) => s.push_str(&format!("{}|", String::from_utf8_lossy(t))),
                    Blob(b) => s.push_str(&format!("{}|", common::to_hex(b))),
                }
            }
            Ok(s)
        })
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

#[test]
fn batch_inserts_write_the_shadow_tables_exactly_as_vec0_does() {
    let dir = tmp();
    for (metric, ty, dims) in [
        ("cosine", "f32", 16usize),
        ("l2", "int8", 24),
        ("hamming", "bit", 64),
    ] {
        let mut files = Vec::new();
        for direct in [true, false] {
            let p = dir.path().join(format!("{ty}_{direct}.db"));
            let v = open(&p, dims as u32, metric, ty).unwrap();
            v.set_direct_inserts(direct);
            let mut rng = Rng(99);
            let mut rows = |n: usize| (0..n).map(|_| row(ty, dims, &mut rng)).collect::<Vec<_>>();
            for r in rows(5) {
                v.insert(&r, 6, b"one", None).unwrap();
            }
            insert_all(&v, &rows(2500));
            for id in [3i64, 700, 1500, 1501, 2400, 2503, 2504, 2505] {
                assert!(v.delete(id).unwrap());
            }
            insert_all(&v, &rows(300)); // free slots of the latest chunk first, then a new chunk
            for r in rows(3) {
                v.insert(&r, 6, b"one", None).unwrap();
            }
            insert_all(&v, &rows(1100));
            assert_eq!(v.count().unwrap(), 5 + 2500 - 8 + 300 + 3 + 1100);
            v.close().unwrap();
            files.push(p);
        }
        for t in [
            "chunks",
            "rowids",
            "vector_chunks00",
            "metadatachunks00",
            "values",
        ] {
            let name = format!("vecs_{t}");
            assert_eq!(
                dump(&files[0], &name),
                dump(&files[1], &name),
                "{ty}: {name}"
            );
        }
        let seq = |p: &std::path::Path| {
            let c = rusqlite::Connection::open(p).unwrap();
            let mut st = c
                .prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name")
                .unwrap();
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(seq(&files[0]), seq(&files[1]), "{ty}: sqlite_sequence");
        // vec0's own search over the directly written file equals ours.
        let v = open(&files[0], dims as u32, metric, ty).unwrap();
        let q = row(ty, dims, &mut Rng(5));
        let ours = unpack(&v.search(&q, 7, None, None, true).unwrap());
        kohakuvault::storage::register_sqlite_vec();
        let c = rusqlite::Connection::open(&files[0]).unwrap();
        let param = match ty {
            "f32" => "?1",
            "int8" => "vec_int8(?1)",
            _ => "vec_bit(?1)",
        };
        let mut st = c
            .prepare(&format!(
                "SELECT rowid, distance FROM vecs WHERE vector MATCH {param} AND k = 7 ORDER BY distance"
            ))
            .unwrap();
        let theirs: Vec<(i64, f64)> = st
            .query_map([&q], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        // Hamming distances tie often, and vec0 orders ties arbitrarily: compare distances there.
        assert_eq!(ours.ids.len(), theirs.len());
        for ((id, d), (tid, td)) in ours.ids.iter().zip(&ours.dists).zip(&theirs) {
            assert!((*d as f64 - td).abs() < 1e-4, "{ty}: {d} vs {td}");
            if ty != "bit" {
                assert_eq!(id, tid, "{ty}");
            }
        }
    }
}

#[test]
fn get_by_id_from_the_loaded_copy_matches_the_table() {
    let d = tmp();
    let p = d.path().join("g.db");
    let v = open(&p, 16, "cosine", "f32").unwrap();
    let mut rng = Rng(7);
    let rows: Vec<Vec<u8>> = (0..300).map(|_| row("f32", 16, &mut rng)).collect();
    let ids = insert_all(&v, &rows);
    let meta = rmp_serde::to_vec(&std::collections::BTreeMap::from([("tag", "x")])).unwrap();
    v.update(ids[5], None, None, Some(meta.clone())).unwrap();
    // A read-only open is a database of its own, with its own (unloaded) copy: the SQL path.
    let table = || {
        VectorStore::new(
            p.to_str().unwrap().into(),
            "vecs".into(),
            16,
            "cosine".into(),
            "f32".into(),
            OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            },
        )
        .unwrap()
    };
    let same = |v: &VectorStore, id: i64| {
        let (a, b) = (v.get_by_id(id, true), table().get_by_id(id, true));
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.vector, b.vector, "vector of {id}");
                assert_eq!(a.value.payload, b.value.payload, "value of {id}");
                assert_eq!(a.metadata, b.metadata, "metadata of {id}");
            }
            (Err(VaultError::NotFound { .. }), Err(VaultError::NotFound { .. })) => {}
            other => panic!("{id}: {other:?}"),
        }
    };
    v.search(&rows[0], 3, None, None, true).unwrap(); // loads the copy
    for id in [ids[0], ids[5], ids[299], 10_000] {
        same(&v, id);
    }
    // Writes through the vault patch the copy.
    v.update(ids[1], Some(rows[2].clone()), None, None).unwrap();
    assert!(v.delete(ids[3]).unwrap());
    for id in [ids[1], ids[3]] {
        same(&v, id);
    }
    assert!(matches!(
        v.get_by_id(ids[3], true),
        Err(VaultError::NotFound { .. })
    ));
    // Another connection's commit (another program) is seen: the copy is no longer current.
    let other = rusqlite::Connection::open(&p).unwrap();
    other
        .execute(
            "UPDATE vecs SET vector = ?1 WHERE rowid = ?2",
            rusqlite::params![rows[9].clone(), ids[4]],
        )
        .unwrap();
    other
        .execute(
            "UPDATE vecs_values SET value = ?1 WHERE id = (SELECT value_ref FROM vecs WHERE rowid = ?2)",
            rusqlite::params![b"changed".to_vec(), ids[4]],
        )
        .unwrap();
    drop(other);
    let got = v.get_by_id(ids[4], true).unwrap();
    assert_eq!(got.value.payload, b"changed");
    same(&v, ids[4]);
    let top = unpack(&v.search(&rows[9], 1, None, None, true).unwrap());
    assert!(
        top.ids.contains(&ids[4]) || top.ids.contains(&ids[9]),
        "{:?}",
        top.ids
    );
}
