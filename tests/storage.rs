//! The shared storage layer: pragmas, reader pool, sqlite-vec, identifiers, schema version.
use kohakuvault::storage::{quote_ident, Db, OpenOptions};

#[test]
fn pragmas_are_applied_and_vec0_is_registered() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("nested/dir/s.db");
    let db = Db::open(p.to_str().unwrap(), OpenOptions::default()).unwrap();
    assert!(p.exists(), "parent directories are created");
    let mut w = db.writer().unwrap();
    let c = w.conn();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(page, 32768);
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, kohakuvault::storage::SCHEMA_VERSION);
    let vec: String = c
        .query_row("SELECT vec_version()", [], |r| r.get(0))
        .unwrap();
    assert!(vec.starts_with('v'), "sqlite-vec is loaded: {vec}");
    drop(w);
    // Readers are read-only connections from the pool, with vec0 too.
    let reader = db.lease_reader().unwrap();
    assert!(
        reader.execute_batch("CREATE TABLE nope(x)").is_err(),
        "pooled readers cannot write"
    );
    reader
        .query_row("SELECT vec_version()", [], |_| Ok(()))
        .unwrap();
    db.return_reader(reader);
    assert_eq!(db.reader_pool_stats().0, 1);
    // A read takes the writer when it is free, else a pooled reader.
    db.read(false, |c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
        .unwrap();
    let held = db.writer().unwrap();
    db.read(true, |c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
        .unwrap();
    drop(held);
    assert_eq!(db.reader_pool_stats().0, 1);
    db.close().unwrap();
    assert!(db.writer().is_err());
}

#[test]
fn identifiers_are_validated_and_quoted() {
    assert_eq!(quote_ident("kv").unwrap(), "\"kv\"");
    assert_eq!(quote_ident("_Media_2").unwrap(), "\"_Media_2\"");
    for bad in ["", "a b", "a\"b", "1a", "é", "sqlite_x", "a;b"] {
        assert!(quote_ident(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn interrupt_stops_a_long_query() {
    let db = std::sync::Arc::new(Db::open(":memory:", OpenOptions::default()).unwrap());
    let db2 = db.clone();
    let h = std::thread::spawn(move || {
        let mut w = db2.writer().unwrap();
        w.conn()
            .query_row(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|_| ())
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    db.interrupt();
    let r = h.join().unwrap();
    let e = kohakuvault::VaultError::from(kohakuvault::error::Error::from(r.unwrap_err()));
    assert!(
        matches!(e, kohakuvault::VaultError::Interrupted { .. }),
        "{e:?}"
    );
}
