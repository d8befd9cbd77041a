//! KvStore behaviour through the same API the bindings use.
mod common;
use common::*;

use kohakuvault::{KvStore, OpenOptions, ScanRequest, VaultError};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn put_get_delete_raw() {
    let d = tmp();
    let kv = open(&d.path().join("a.db"));
    kv.put(b"k", 0, b"hello").unwrap();
    let t = kv.get(b"k").unwrap().unwrap();
    assert_eq!((t.kind, t.payload.as_slice()), (0, &b"hello"[..]));
    assert!(kv.exists(b"k").unwrap());
    assert_eq!(kv.len().unwrap(), 1);
    assert!(kv.delete(b"k").unwrap());
    assert!(!kv.delete(b"k").unwrap());
    assert!(kv.get(b"k").unwrap().is_none());
    kv.close().unwrap();
    kv.close().unwrap(); // idempotent
}

#[test]
fn values_survive_reopen_and_typed_values_decode() {
    let d = tmp();
    let p = d.path().join("b.db");
    {
        let kv = open(&p);
        kv.put(b"i", 16, &[0x2A]).unwrap();
        kv.put(b"f", 17, &1.25f64.to_le_bytes()).unwrap();
        kv.put(b"s", 6, "été".as_bytes()).unwrap();
        kv.put(b"b", 18, &[1]).unwrap();
        kv.close().unwrap();
    }
    let kv = open(&p);
    assert_eq!(kv.get(b"i").unwrap().unwrap().payload, 42i64.to_le_bytes());
    assert_eq!(kv.get(b"f").unwrap().unwrap().kind, 17);
    assert_eq!(kv.get(b"s").unwrap().unwrap().payload, "été".as_bytes());
    assert_eq!(kv.get(b"b").unwrap().unwrap().kind, 18);
    assert_eq!(
        to_hex(&kv.get_stored(b"i").unwrap().unwrap()),
        "894B010200000000564B2A00000000000000"
    );
}

#[test]
fn raw_bytes_that_look_like_a_header_round_trip() {
    let d = tmp();
    let kv = open(&d.path().join("c.db"));
    let tricky = hex("894B010600000000564B41");
    kv.put(b"t", 0, &tricky).unwrap();
    let t = kv.get(b"t").unwrap().unwrap();
    assert_eq!((t.kind, t.payload), (0, tricky.clone()));
    assert_eq!(kv.get_stored(b"t").unwrap().unwrap(), tricky);
}

#[test]
fn batches_are_atomic_and_ordered() {
    let d = tmp();
    let kv = open(&d.path().join("d.db"));
    let mut items = Vec::new();
    for i in 0..100u32 {
        item(
            &mut items,
            0,
            format!("k{i:03}").as_bytes(),
            &i.to_le_bytes(),
        );
    }
    item(&mut items, 0, b"k000", b"last wins");
    kv.put_many(&items).unwrap();
    assert_eq!(kv.len().unwrap(), 100);
    let (lens, blob) = keys_buf(&[b"k000", b"nope", b"k005", b"k005"]);
    let res = parse_tagged(&kv.get_many(&lens, &blob, true).unwrap());
    assert_eq!(res[0], (0, b"last wins".to_vec()));
    assert_eq!(res[1].0, 0xFF);
    assert_eq!(res[2], (0, 5u32.to_le_bytes().to_vec()));
    assert_eq!(res[3], res[2]);
    // A batch with one bad item changes nothing.
    let mut bad = Vec::new();
    item(&mut bad, 0, b"new", b"x");
    item(&mut bad, 99, b"bad", b"x");
    assert!(matches!(
        kv.put_many(&bad),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert!(!kv.exists(b"new").unwrap());
    // Truncated buffers are typed errors.
    assert!(matches!(
        kv.put_many(&items[..7]),
        Err(VaultError::InvalidArgument { .. })
    ));
}

fn scan_all(kv: &KvStore, prefix: Option<&[u8]>, page: u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let buf = kv
            .scan(ScanRequest {
                prefix: prefix.map(|p| p.to_vec()),
                after: after.clone(),
                limit: page,
                with_values: false,
                decoded: true,
            })
            .unwrap();
        let end = buf.end;
        let got = parse_page(&buf.entries, false);
        if got.is_empty() {
            return out;
        }
        after = Some(got.last().unwrap().0.clone());
        out.extend(got.into_iter().map(|(k, _)| k));
        if end {
            return out;
        }
    }
}

#[test]
fn prefix_scans_merge_pending_cache_entries() {
    let d = tmp();
    let kv = open(&d.path().join("e.db"));
    let mut items = Vec::new();
    for k in ["a1", "a2", "b1", "b2", "b3", "c1"] {
        item(&mut items, 0, k.as_bytes(), b"v");
    }
    kv.put_many(&items).unwrap();
    kv.enable_cache(1 << 20, 1 << 20, None).unwrap();
    kv.put(b"b25", 0, b"pending").unwrap();
    kv.put(b"\xff\xff", 0, b"edge").unwrap();
    assert_eq!(kv.cache_stats().pending_entries, 2);
    assert_eq!(
        scan_all(&kv, Some(b"b"), 2),
        vec![
            b"b1".to_vec(),
            b"b2".to_vec(),
            b"b25".to_vec(),
            b"b3".to_vec()
        ]
    );
    assert_eq!(scan_all(&kv, None, 3).len(), 8);
    assert_eq!(scan_all(&kv, Some(b"\xff"), 10), vec![b"\xff\xff".to_vec()]);
    assert_eq!(kv.len().unwrap(), 8);
    let page = kv
        .scan(ScanRequest {
            prefix: Some(b"b2".to_vec()),
            after: None,
            limit: 10,
            with_values: true,
            decoded: true,
        })
        .unwrap();
    assert!(page.end, "the prefix holds fewer entries than the limit");
    let got = parse_page(&page.entries, true);
    assert_eq!(got[1], (b"b25".to_vec(), Some((0, b"pending".to_vec()))));
}

#[test]
fn cache_read_your_writes_flush_and_lock() {
    let d = tmp();
    let p = d.path().join("f.db");
    let kv = open(&p);
    kv.enable_cache(1000, 500, None).unwrap();
    kv.put(b"a", 0, &[1; 100]).unwrap();
    assert_eq!(kv.get(b"a").unwrap().unwrap().payload, vec![1; 100]);
    // Another connection does not see it yet.
    let other = open(&p);
    assert!(other.get(b"a").unwrap().is_none());
    assert_eq!(kv.flush_cache().unwrap(), 1);
    assert!(other.get(b"a").unwrap().is_some());
    // Threshold triggers a synchronous flush.
    for i in 0..6u8 {
        kv.put(&[b'x', i], 0, &[i; 100]).unwrap();
    }
    assert!(other.exists(b"x\x04").unwrap());
    // Under the lock: puts that fit are buffered; a full cache is Busy; batches are refused.
    kv.set_cache_locked(true);
    kv.put(b"l1", 0, &[0; 100]).unwrap();
    assert_eq!(kv.flush_cache().unwrap(), 0);
    let mut items = Vec::new();
    item(&mut items, 0, b"z", b"z");
    assert!(matches!(kv.put_many(&items), Err(VaultError::Busy { .. })));
    assert!(matches!(
        kv.put(b"big", 0, &[0; 5000]),
        Err(VaultError::Busy { .. })
    ));
    let mut filled = false;
    for i in 0..20u8 {
        if let Err(e) = kv.put(&[b'y', i], 0, &[0; 100]) {
            assert!(matches!(e, VaultError::Busy { .. }));
            filled = true;
            break;
        }
    }
    assert!(filled);
    assert!(matches!(kv.close(), Err(VaultError::Busy { .. })));
    assert!(kv.delete(b"a").unwrap()); // direct mutations are allowed
    kv.set_cache_locked(false);
    assert!(kv.flush_cache().unwrap() > 0);
    assert!(other.exists(b"l1").unwrap());
    // Oversized values bypass the cache and are committed directly.
    kv.put(b"huge", 0, &[7; 5000]).unwrap();
    assert!(other.exists(b"huge").unwrap());
    kv.disable_cache().unwrap();
    kv.close().unwrap();
}

#[test]
fn dropping_a_vault_commits_pending_writes() {
    let d = tmp();
    let p = d.path().join("g.db");
    {
        let kv = open(&p);
        kv.enable_cache(1 << 20, 1 << 20, None).unwrap();
        kv.put(b"pending", 0, b"kept").unwrap();
        // no close()
    }
    let kv = open(&p);
    assert_eq!(kv.get(b"pending").unwrap().unwrap().payload, b"kept");
}

#[test]
fn cache_put_many_goes_through_the_cache() {
    let d = tmp();
    let kv = open(&d.path().join("h.db"));
    kv.enable_cache(1 << 20, 1 << 19, None).unwrap();
    let mut items = Vec::new();
    for i in 0..300u32 {
        item(&mut items, 0, &i.to_be_bytes(), &[0; 256]);
    }
    kv.cache_put_many(&items).unwrap();
    assert_eq!(kv.len().unwrap(), 300);
    assert!(kv.cache_stats().pending_entries > 0);
    kv.flush_cache().unwrap();
    assert_eq!(kv.cache_stats().pending_entries, 0);
}

#[test]
fn periodic_flush_runs_in_the_core() {
    let d = tmp();
    let p = d.path().join("i.db");
    let kv = open(&p);
    kv.enable_cache(1 << 20, 1 << 20, Some(0.05)).unwrap();
    kv.put(b"t", 0, b"v").unwrap();
    let other = open(&p);
    let start = std::time::Instant::now();
    while !other.exists(b"t").unwrap() {
        assert!(start.elapsed().as_secs() < 5, "background flush never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(kv.background_flush_error().is_none());
}

#[test]
fn pop_setdefault_clear() {
    let d = tmp();
    let kv = open(&d.path().join("j.db"));
    assert!(kv.setdefault(b"a", 6, b"first", true).unwrap().is_none());
    assert_eq!(
        kv.setdefault(b"a", 6, b"second", true)
            .unwrap()
            .unwrap()
            .payload,
        b"first"
    );
    assert_eq!(kv.pop(b"a", true).unwrap().unwrap().payload, b"first");
    assert!(kv.pop(b"a", true).unwrap().is_none());
    kv.put(b"x", 0, b"1").unwrap();
    kv.clear().unwrap();
    assert_eq!(kv.len().unwrap(), 0);
}

#[test]
fn streams_publish_only_when_complete() {
    let d = tmp();
    let kv = open(&d.path().join("k.db"));
    kv.put(b"blob", 0, b"old").unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    // Short stream: nothing changes.
    let s = kv.put_stream(b"blob", data.len() as u64).unwrap();
    s.write(&data[..1000]).unwrap();
    assert!(matches!(
        s.finish(),
        Err(VaultError::InvalidArgument { .. })
    ));
    assert_eq!(kv.get(b"blob").unwrap().unwrap().payload, b"old");
    // Dropped stream: nothing changes, and the writer is free again.
    {
        let s = kv.put_stream(b"blob", 10).unwrap();
        s.write(b"12345").unwrap();
    }
    kv.put(b"other", 0, b"writer is free").unwrap();
    // Full stream.
    let s = kv.put_stream(b"blob", data.len() as u64).unwrap();
    for c in data.chunks(1 << 20) {
        s.write(c).unwrap();
    }
    assert!(matches!(
        s.write(b"x"),
        Err(VaultError::InvalidArgument { .. })
    ));
    let s = kv.put_stream(b"blob", data.len() as u64).unwrap();
    for c in data.chunks(1 << 20) {
        s.write(c).unwrap();
    }
    s.finish().unwrap();
    let g = kv.get_stream(b"blob").unwrap();
    assert_eq!(g.size(), data.len() as u64);
    let mut back = Vec::new();
    loop {
        let c = g.read(1 << 20).unwrap();
        if c.is_empty() {
            break;
        }
        back.extend_from_slice(&c);
    }
    assert_eq!(back, data);
    assert!(matches!(
        kv.get_stream(b"missing"),
        Err(VaultError::NotFound { .. })
    ));
    // A streamed value that looks like a header is escaped and reads back as itself.
    let tricky = hex("894B010600000000564B41424344");
    let s = kv.put_stream(b"tricky", tricky.len() as u64).unwrap();
    s.write(&tricky[..3]).unwrap();
    s.write(&tricky[3..]).unwrap();
    s.finish().unwrap();
    assert_eq!(kv.get(b"tricky").unwrap().unwrap().payload, tricky);
    let g = kv.get_stream(b"tricky").unwrap();
    assert_eq!(g.read(100).unwrap(), tricky);
}

#[test]
fn read_only_and_closed_handles_fail_cleanly() {
    let d = tmp();
    let p = d.path().join("l.db");
    let kv = open(&p);
    kv.put(b"a", 0, b"1").unwrap();
    kv.close().unwrap();
    assert!(matches!(kv.get(b"a"), Err(VaultError::Closed { .. })));
    assert!(matches!(
        kv.put(b"a", 0, b"1"),
        Err(VaultError::Closed { .. })
    ));
    let ro = KvStore::new(
        p.to_string_lossy().into(),
        "kv".into(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ro.get(b"a").unwrap().unwrap().payload, b"1");
    assert!(matches!(
        ro.put(b"a", 0, b"2"),
        Err(VaultError::ReadOnly { .. })
    ));
    assert!(matches!(
        ro.enable_cache(10, 10, None),
        Err(VaultError::ReadOnly { .. })
    ));
    let missing = KvStore::new(
        p.to_string_lossy().into(),
        "nope".into(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    );
    assert!(matches!(missing, Err(VaultError::NotFound { .. })));
}

#[test]
fn hostile_names_and_bad_files_are_typed_errors() {
    let d = tmp();
    let p = d.path().join("m.db");
    for bad in [
        "bad name",
        "x\"; DROP TABLE kv; --",
        "",
        "1abc",
        "sqlite_master",
        &"a".repeat(200),
    ] {
        let r = KvStore::new(
            p.to_string_lossy().into(),
            bad.into(),
            OpenOptions::default(),
        );
        assert!(
            matches!(r, Err(VaultError::InvalidArgument { .. })),
            "{bad:?}"
        );
    }
    let junk = d.path().join("junk.db");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let r = KvStore::new(
        junk.to_string_lossy().into(),
        "kv".into(),
        OpenOptions::default(),
    );
    assert!(
        matches!(r, Err(VaultError::Corrupt { .. })),
        "{:?}",
        r.err()
    );
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        vec![0x42u8; 8192],
        "a bad file is left untouched"
    );
    // A newer schema version is refused.
    let newer = d.path().join("newer.db");
    {
        let c = rusqlite::Connection::open(&newer).unwrap();
        c.execute_batch("PRAGMA user_version = 99").unwrap();
    }
    let r = KvStore::new(
        newer.to_string_lossy().into(),
        "kv".into(),
        OpenOptions::default(),
    );
    assert!(matches!(r, Err(VaultError::Corrupt { .. })));
}

#[test]
fn memory_databases_work_without_a_pool() {
    let kv = KvStore::new(":memory:".into(), "kv".into(), OpenOptions::default()).unwrap();
    kv.put(b"a", 0, b"1").unwrap();
    assert_eq!(kv.get(b"a").unwrap().unwrap().payload, b"1");
    assert_eq!(kv.len().unwrap(), 1);
    let g = kv.get_stream(b"a").unwrap();
    assert_eq!(g.read(10).unwrap(), b"1");
    assert_eq!(kv.reader_pool_stats().idle_connections, 0);
}

#[test]
fn concurrent_readers_and_writer() {
    let d = tmp();
    let kv = std::sync::Arc::new(open(&d.path().join("n.db")));
    let mut items = Vec::new();
    for i in 0..1000u32 {
        item(&mut items, 0, &i.to_be_bytes(), &i.to_le_bytes());
    }
    kv.put_many(&items).unwrap();
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                for i in 0..1000u32 {
                    if t == 0 && i % 10 == 0 {
                        kv.put(&(5000 + i).to_be_bytes(), 0, b"w").unwrap();
                    }
                    let v = kv.get(&i.to_be_bytes()).unwrap().unwrap();
                    assert_eq!(v.payload, i.to_le_bytes());
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(kv.reader_pool_stats().idle_connections >= 1);
}

#[test]
fn features_are_registered_in_meta() {
    let d = tmp();
    let kv = open(&d.path().join("o.db"));
    assert!(kv.features().unwrap().is_empty());
    kv.register_feature("headers_v1".into()).unwrap();
    kv.register_feature("auto_pack_v1".into()).unwrap();
    kv.register_feature("headers_v1".into()).unwrap();
    assert_eq!(kv.features().unwrap(), vec!["headers_v1", "auto_pack_v1"]);
}

#[test]
fn failed_flush_rolls_back_and_keeps_data_for_retry() {
    let d = tmp();
    let p = d.path().join("p.db");
    let kv = open(&p);
    kv.enable_cache(1 << 20, 1 << 20, None).unwrap();
    let mut items = Vec::new();
    item(&mut items, 0, b"ok", b"1");
    item(&mut items, 0, b"poison", b"2");
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON kv WHEN NEW.key = X'706F69736F6E' BEGIN SELECT RAISE(ABORT, 'poisoned'); END")
        .unwrap();
    kv.cache_put_many(&items).unwrap();
    assert!(kv.flush_cache().is_err());
    assert_eq!(
        kv.cache_stats().pending_entries,
        2,
        "a failed flush keeps its data"
    );
    c.execute_batch("DROP TRIGGER refuse").unwrap();
    assert_eq!(kv.flush_cache().unwrap(), 2);
    let n: i64 = c
        .query_row("SELECT count(*) FROM kv", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        n, 2,
        "the retry is committed and visible to other connections"
    );
}

#[test]
fn pop_of_an_undecodable_value_keeps_it() {
    let d = tmp();
    let p = d.path().join("q.db");
    let kv = open(&p);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute(
        "INSERT INTO kv VALUES (?1, ?2)",
        rusqlite::params![b"bad".to_vec(), hex("894B014000000000564B41")],
    )
    .unwrap();
    assert!(matches!(
        kv.pop(b"bad", true),
        Err(VaultError::Corrupt { .. })
    ));
    assert!(kv.exists(b"bad").unwrap());
}

#[test]
fn close_removes_wal_and_shm() {
    let d = tmp();
    let p = d.path().join("r.db");
    let kv = open(&p);
    kv.put(b"a", 0, b"1").unwrap();
    assert_eq!(kv.get(b"a").unwrap().unwrap().payload, b"1"); // a pooled reader exists
    kv.close().unwrap();
    assert!(!d.path().join("r.db-wal").exists());
    assert!(!d.path().join("r.db-shm").exists());
}

fn columns(items: &[(u8, &[u8], &[u8])]) -> [Vec<u8>; 5] {
    let mut c: [Vec<u8>; 5] = Default::default();
    for (kind, k, v) in items {
        c[0].push(*kind);
        c[1].extend_from_slice(&(k.len() as u32).to_le_bytes());
        c[2].extend_from_slice(&(v.len() as u32).to_le_bytes());
        c[3].extend_from_slice(k);
        c[4].extend_from_slice(v);
    }
    c
}

#[test]
fn columnar_batches_match_packed_ones() {
    let d = tmp();
    let kv = open(&d.path().join("cols.db"));
    // 70 rows: two full multi-row statements and a remainder; a duplicate key: the later wins.
    let keys: Vec<Vec<u8>> = (0..70).map(|i| format!("k{i:03}").into_bytes()).collect();
    let mut items: Vec<(u8, &[u8], &[u8])> = keys.iter().map(|k| (0u8, &k[..], &k[..])).collect();
    items.push((6, b"k005", "text".as_bytes()));
    let [kinds, klens, vlens, ks, vs] = columns(&items);
    kv.put_many_columns(&kinds, &klens, &vlens, &ks, &vs)
        .unwrap();
    assert_eq!(kv.len().unwrap(), 70);
    let t = kv.get(b"k005").unwrap().unwrap();
    assert_eq!((t.kind, t.payload.as_slice()), (6, &b"text"[..]));
    assert_eq!(kv.get(b"k069").unwrap().unwrap().payload, b"k069");

    kv.enable_cache(1 << 20, 1 << 20, None).unwrap();
    let [kinds, klens, vlens, ks, vs] = columns(&[(16, b"n", &[7]), (0, b"k000", b"new")]);
    kv.cache_put_many_columns(&kinds, &klens, &vlens, &ks, &vs)
        .unwrap();
    assert_eq!(kv.cache_stats().pending_entries, 2);
    assert_eq!(kv.get(b"k000").unwrap().unwrap().payload, b"new");
    assert_eq!(kv.flush_cache().unwrap(), 2);
    assert_eq!(kv.get(b"n").unwrap().unwrap().payload, 7i64.to_le_bytes());

    // Columns that disagree are an InvalidArgument and write nothing.
    let [kinds, klens, vlens, ks, vs] = columns(&[(0, b"x1", b"1"), (0, b"x2", b"2")]);
    type Cols<'a> = (&'a [u8], &'a [u8], &'a [u8], &'a [u8], &'a [u8]);
    let bad: [Cols; 4] = [
        (&kinds[..1], &klens, &vlens, &ks, &vs),
        (&kinds, &klens, &vlens, &ks[..3], &vs),
        (&kinds, &klens, &vlens, &ks, &[]),
        (&kinds, &klens[..7], &vlens, &ks, &vs),
    ];
    for (a, b, c, k, v) in bad {
        assert!(matches!(
            kv.put_many_columns(a, b, c, k, v),
            Err(VaultError::InvalidArgument { .. })
        ));
        assert!(matches!(
            kv.cache_put_many_columns(a, b, c, k, v),
            Err(VaultError::InvalidArgument { .. })
        ));
    }
    assert!(kv.get(b"x1").unwrap().is_none());
    assert_eq!(kv.len().unwrap(), 71);
}

#[test]
fn close_racing_cached_puts_keeps_every_acknowledged_put() {
    for round in 0..5 {
        let d = tmp();
        let p = d.path().join(format!("race{round}.db"));
        let kv = std::sync::Arc::new(open(&p));
        kv.enable_cache(1 << 20, 64 << 10, None).unwrap();
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let kv = kv.clone();
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    for i in 0..20_000u32 {
                        let key = format!("t{t}:{i:05}").into_bytes();
                        match kv.put(&key, 0, &i.to_le_bytes()) {
                            Ok(()) => acked.push((key, i)),
                            Err(VaultError::Closed { .. }) => break,
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                    acked
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(5));
        kv.close().unwrap();
        let acked: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let again = open(&p);
        for (key, i) in &acked {
            let v = again
                .get(key)
                .unwrap()
                .unwrap_or_else(|| panic!("lost {key:?}"));
            assert_eq!(v.payload, i.to_le_bytes());
        }
        again.close().unwrap();
    }
}

#[test]
fn failed_flush_mid_batch_keeps_every_entry_without_retrying_per_entry() {
    let d = tmp();
    let p = d.path().join("ff.db");
    let kv = open(&p);
    kv.put(b"seed", 0, b"0").unwrap();
    let side = rusqlite::Connection::open(&p).unwrap();
    side.execute_batch(
        "CREATE TRIGGER boom BEFORE INSERT ON kv WHEN NEW.key = X'626f6f6d' \
         BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
    )
    .unwrap();
    // A threshold of 64 bytes: the batch tries to flush after its first entries, and fails.
    kv.enable_cache(1 << 20, 64, None).unwrap();
    let mut items = Vec::new();
    item(&mut items, 0, b"boom", &[7u8; 80]);
    for i in 0..300u32 {
        item(&mut items, 0, format!("k{i:03}").as_bytes(), &[1u8; 80]);
    }
    let t = std::time::Instant::now();
    let err = kv.cache_put_many(&items).unwrap_err();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        t.elapsed()
    );
    assert!(format!("{err:?}").contains("boom refused"), "{err:?}");
    assert_eq!(kv.cache_stats().pending_entries, 301);
    assert_eq!(kv.get(b"k299").unwrap().unwrap().payload, [1u8; 80]);
    side.execute_batch("DROP TRIGGER boom").unwrap();
    drop(side);
    assert_eq!(kv.flush_cache().unwrap(), 301);
    kv.close().unwrap();
    let again = open(&p);
    assert_eq!(again.len().unwrap(), 302);
    again.close().unwrap();
}
