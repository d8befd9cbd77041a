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

#[test]
fn vaults_on_one_file_share_one_database() {
    use kohakuvault::storage::VaultDb;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("shared.db");
    let path = p.to_str().unwrap();
    let a = VaultDb::open(path, OpenOptions::default(), "KVault").unwrap();
    // Another spelling of the same file attaches to the same database.
    let other_spelling = format!("{}/./shared.db", d.path().display());
    let b = VaultDb::open(&other_spelling, OpenOptions::default(), "ColumnVault").unwrap();
    assert!(std::ptr::eq(a.db(), b.db()), "one database object per file");
    assert_eq!(a.users(), 2);
    assert_eq!(
        b.path(),
        other_spelling,
        "each vault keeps the path it was given"
    );
    // A read-only open is a separate database (its connections are read-only).
    let ro = VaultDb::open(
        path,
        OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
        "KVault",
    )
    .unwrap();
    assert!(!std::ptr::eq(a.db(), ro.db()));
    // Closing one vault leaves the other working; messages name the closed vault's type.
    b.close().unwrap();
    let e = kohakuvault::VaultError::from(b.check_open().unwrap_err());
    assert!(
        matches!(&e, kohakuvault::VaultError::Closed { reason } if reason.contains("ColumnVault is closed")),
        "{e:?}"
    );
    assert_eq!(a.users(), 1);
    a.write_tx(|tx| {
        tx.execute_batch("CREATE TABLE t(x)")?;
        Ok(())
    })
    .unwrap();
    let e = kohakuvault::VaultError::from(ro.check_writable().unwrap_err());
    assert!(
        matches!(&e, kohakuvault::VaultError::ReadOnly { reason } if reason == "KVault is read-only"),
        "{e:?}"
    );
    ro.close().unwrap();
    // The last user closes the connections: the -wal file goes with them.
    a.close().unwrap();
    assert!(a.db().is_closed());
    assert!(!d.path().join("shared.db-wal").exists());
    // A new open after the last close gets a fresh database.
    let c = VaultDb::open(path, OpenOptions::default(), "KVault").unwrap();
    assert!(!c.db().is_closed());
    assert_eq!(c.users(), 1);
}

#[test]
fn in_memory_databases_are_never_shared() {
    use kohakuvault::storage::VaultDb;
    let a = VaultDb::open(":memory:", OpenOptions::default(), "KVault").unwrap();
    let b = VaultDb::open(":memory:", OpenOptions::default(), "KVault").unwrap();
    assert!(!std::ptr::eq(a.db(), b.db()));
}

#[test]
fn maintenance_lists_tables_and_checks_integrity() {
    use kohakuvault::storage::{maintenance, schema, TableSpec, VaultDb};
    const T: TableSpec = TableSpec {
        vault: "TestVault",
        create: |t| format!("CREATE TABLE IF NOT EXISTS {t} (a INTEGER, b BLOB)"),
        columns: "a, b",
    };
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("m.db");
    let v = VaultDb::open(p.to_str().unwrap(), OpenOptions::default(), "TestVault").unwrap();
    assert_eq!(
        schema::ensure_table(v.db(), &T, "things").unwrap(),
        "\"things\""
    );
    v.write_tx(|tx| {
        tx.execute_batch(
            "CREATE VIRTUAL TABLE vecs USING vec0(e float[2]); CREATE TABLE wrong(z)",
        )?;
        Ok(())
    })
    .unwrap();
    // Shadow tables of virtual tables are not listed.
    assert_eq!(
        maintenance::tables(v.db()).unwrap(),
        ["kohakuvault_meta", "things", "vecs", "wrong"]
    );
    assert_eq!(maintenance::integrity_check(v.db()).unwrap(), ["ok"]);
    let e = schema::ensure_table(v.db(), &T, "wrong").unwrap_err();
    assert_eq!(e.to_string(), "table wrong is not a TestVault table (a, b)");
    assert!(schema::ensure_table(v.db(), &T, "bad name").is_err());
    maintenance::register_feature(v.db(), "f1").unwrap();
    maintenance::register_feature(v.db(), "f1").unwrap();
    assert_eq!(maintenance::features(v.db()).unwrap(), ["f1"]);
    maintenance::checkpoint(v.db()).unwrap();
}

#[test]
fn checkpoints_run_off_the_commit_path_and_the_wal_stays_bounded() {
    use kohakuvault::storage::checkpoint::{BACKGROUND_PAGES, INLINE_PAGES};
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cp.db");
    let path = p.to_str().unwrap();
    let wal = d.path().join("cp.db-wal");
    let opts = OpenOptions {
        page_size: 4096,
        ..OpenOptions::default()
    };
    let page = 4096u64 + 24;
    let db = Db::open(path, opts).unwrap();
    db.write_one(|c| Ok(c.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")?))
        .unwrap();
    let main_before = std::fs::metadata(&p).unwrap().len();
    let blob = vec![7u8; 3000];
    let mut most = 0u64;
    let mut n = 0i64;
    // Commit one row at a time past the background threshold, staying below the inline one.
    while std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
        < page * (BACKGROUND_PAGES as u64 + 50)
    {
        n += 1;
        db.write_one(|c| {
            Ok(c.execute("INSERT INTO t VALUES (?1, ?2)", rusqlite::params![n, blob])?)
        })
        .unwrap();
    }
    assert!(
        db.background_checkpoints_started(),
        "the WAL hook asked the thread"
    );
    // The thread copies the frames into the database file while no commit waits for it.
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&p).unwrap().len() <= main_before {
        assert!(
            t0.elapsed().as_secs() < 10,
            "no background checkpoint happened"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // A long run of single commits never lets the WAL grow past the inline limit (+ one commit).
    for _ in 0..6000 {
        n += 1;
        db.write_one(|c| {
            Ok(c.execute("INSERT INTO t VALUES (?1, ?2)", rusqlite::params![n, blob])?)
        })
        .unwrap();
        most = most.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    assert!(
        most <= page * (INLINE_PAGES as u64 + 8) + 32,
        "WAL reached {most} bytes"
    );
    // One write bigger than the inline limit returns before its pages are copied: the thread
    // copies them (the database file grows without another commit).
    let main_before = std::fs::metadata(&p).unwrap().len();
    db.write_tx(|tx| {
        let mut st = tx.prepare("INSERT INTO t VALUES (?1, ?2)")?;
        for _ in 0..(INLINE_PAGES + 200) {
            n += 1;
            st.execute(rusqlite::params![n, blob])?;
        }
        Ok(())
    })
    .unwrap();
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&p).unwrap().len() < main_before + 4096 * INLINE_PAGES as u64 {
        assert!(
            t0.elapsed().as_secs() < 10,
            "the big write was not checkpointed"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    db.close().unwrap();
    assert!(!wal.exists(), "closing removes the WAL");
    let again = Db::open(path, OpenOptions::default()).unwrap();
    let count: i64 = again
        .read(false, |c| {
            Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(count, n, "every acknowledged commit is there");
    let ok: String = again
        .read(false, |c| {
            Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(ok, "ok");
    // Dropping without close ends the thread too (no hang, files closed).
    again
        .write_one(|c| Ok(c.execute_batch("DELETE FROM t")?))
        .unwrap();
    drop(again);
}

/// A file with one table and one row, plus `n` point reads of it.
fn pinned_db(dir: &std::path::Path, reads: usize) -> Db {
    let p = dir.join("pin.db");
    let opts = OpenOptions {
        page_size: 4096,
        ..OpenOptions::default()
    };
    let db = Db::open(p.to_str().unwrap(), opts).unwrap();
    db.write_one(|c| {
        Ok(c.execute_batch(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); INSERT INTO t VALUES (1, x'00');",
        )?)
    })
    .unwrap();
    for _ in 0..reads {
        point_read(&db);
    }
    db
}

fn point_read(db: &Db) -> i64 {
    db.read(false, |c| {
        Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?)
    })
    .unwrap()
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

#[test]
fn the_read_pin_is_taken_by_reads_and_dropped_by_writes_idleness_and_close() {
    use kohakuvault::storage::pin::{PIN_AFTER, TICK};
    let d = tempfile::tempdir().unwrap();
    let db = pinned_db(d.path(), PIN_AFTER as usize - 1);
    assert!(!db.read_pin_held(), "not before {PIN_AFTER} reads");
    point_read(&db);
    assert!(db.read_pin_held(), "taken by the {PIN_AFTER}th read");
    // A write lease drops it; reads take it again only after PIN_AFTER more.
    db.write_one(|c| Ok(c.execute("INSERT INTO t VALUES (2, x'01')", [])?))
        .unwrap();
    assert!(!db.read_pin_held(), "dropped by the write");
    assert_eq!(point_read(&db), 2, "reads see the write");
    for _ in 0..PIN_AFTER {
        point_read(&db);
    }
    assert!(db.read_pin_held());
    // Reads keep it, renewed on the newest snapshot without a gap; a pause drops it. (A pause
    // of this thread longer than a tick, on a loaded machine, may drop it too: then only the
    // reads after the next PIN_AFTER are checked.)
    let t0 = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let mut since_pause = PIN_AFTER;
    let mut checked = 0;
    while t0.elapsed() < TICK * 5 || checked < 20 {
        point_read(&db);
        since_pause = if last.elapsed() > TICK / 2 {
            0
        } else {
            since_pause + 1
        };
        last = std::time::Instant::now();
        if since_pause >= PIN_AFTER {
            assert!(db.read_pin_held(), "held while reads use it");
            checked += 1;
        }
        sleep_ms(1);
        assert!(
            t0.elapsed().as_secs() < 20,
            "reads never ran without pauses"
        );
    }
    let t0 = std::time::Instant::now();
    while db.read_pin_held() {
        assert!(t0.elapsed() < TICK * 50, "an unused pin was not dropped");
        sleep_ms(2);
    }
    for _ in 0..PIN_AFTER {
        point_read(&db);
    }
    assert!(db.read_pin_held());
    db.close().unwrap();
    assert!(!db.read_pin_held(), "closing drops it");
    assert!(
        !d.path().join("pin.db-wal").exists(),
        "the writer closed last and removed the WAL"
    );
}

#[test]
fn with_the_read_pin_the_wal_restarts_and_other_connections_checkpoint() {
    let d = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(pinned_db(d.path(), 50));
    let wal = d.path().join("pin.db-wal");
    // Writes between runs of reads: the WAL keeps restarting from its beginning.
    let blob = vec![9u8; 3000];
    let mut most = 0u64;
    for n in 0..4000i64 {
        db.write_one(|c| {
            Ok(c.execute(
                "INSERT OR REPLACE INTO t VALUES (?1, ?2)",
                rusqlite::params![n % 50 + 10, blob],
            )?)
        })
        .unwrap();
        for _ in 0..20 {
            point_read(&db);
        }
        most = most.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    let limit = (4096 + 24) * (kohakuvault::storage::checkpoint::INLINE_PAGES as u64 + 8) + 32;
    assert!(most <= limit, "WAL reached {most} bytes (limit {limit})");
    // Another connection's TRUNCATE checkpoint completes while a thread reads without pause.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                point_read(&db);
                n += 1;
            }
            n
        })
    };
    sleep_ms(50);
    let other = rusqlite::Connection::open(d.path().join("pin.db")).unwrap();
    other
        .busy_timeout(std::time::Duration::from_secs(4))
        .unwrap();
    let t0 = std::time::Instant::now();
    let (busy, _, _): (i64, i64, i64) = other
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let took = t0.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert_eq!(busy, 0, "TRUNCATE was blocked (after {took:?})");
    assert!(took.as_secs() < 3, "TRUNCATE took {took:?}");
    assert!(reads > 100, "the reader ran ({reads} reads)");
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    drop(other);
    db.close().unwrap();
}

#[cfg(unix)]
#[test]
fn a_forked_child_never_inherits_a_held_read_pin() {
    use kohakuvault::storage::pin::PIN_AFTER;
    let d = tempfile::tempdir().unwrap();
    let db = pinned_db(d.path(), PIN_AFTER as usize);
    assert!(db.read_pin_held());
    // SAFETY: the child only reads an atomic flag and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = if db.read_pin_held() { 3 } else { 0 };
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status}");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child saw a held pin");
    // The parent takes it again with its next reads.
    for _ in 0..PIN_AFTER {
        point_read(&db);
    }
    assert!(db.read_pin_held());
    db.close().unwrap();
}

#[test]
fn reads_with_the_read_pin_see_every_commit_in_order_from_many_threads() {
    let d = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(pinned_db(d.path(), 0));
    db.write_one(|c| Ok(c.execute("INSERT INTO t VALUES (100, 0)", [])?))
        .unwrap();
    let value = |db: &Db| -> i64 {
        db.read(false, |c| {
            Ok(c.query_row("SELECT v FROM t WHERE id = 100", [], |r| r.get(0))?)
        })
        .unwrap()
    };
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (db, done) = (db.clone(), done.clone());
            std::thread::spawn(move || {
                let mut last = 0;
                let mut reads = 0u64;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let v = value(&db);
                    assert!(v >= last, "a read went back from {last} to {v}");
                    last = v;
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for n in 1..=500i64 {
        db.write_one(|c| Ok(c.execute("UPDATE t SET v = ?1 WHERE id = 100", [n])?))
            .unwrap();
        // A commit is seen by the next read of any thread.
        assert_eq!(value(&db), n);
        if n % 50 == 0 {
            sleep_ms(5);
        }
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    db.close().unwrap();
}
