//! Database-level operations, the same for every vault of a file: WAL checkpoint, optimize and
//! vacuum, integrity check, table listing, and the feature list kept in `kohakuvault_meta`
//! (docs/FORMAT.md §3). Apps schedule the heavy ones when idle.

use rusqlite::OptionalExtension;

use super::Db;
use crate::error::{Error, Result};

/// `PRAGMA wal_checkpoint(PASSIVE)`; a no-op for closed, in-memory and read-only databases.
pub fn checkpoint(db: &Db) -> Result<()> {
    if db.is_closed() || !db.pooled() || db.read_only() {
        return Ok(());
    }
    let mut w = db.writer()?;
    w.conn()
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    Ok(())
}

/// The UDL's `WalCheckpoint` (`PRAGMA wal_checkpoint(PASSIVE)`'s three numbers).
#[derive(Debug, Clone)]
pub struct WalCheckpoint {
    pub busy: i64,
    pub log_frames: i64,
    pub checkpointed_frames: i64,
}

/// `PRAGMA wal_checkpoint(PASSIVE)` on the writer, with SQLite's three numbers.
pub fn checkpoint_counts(db: &Db) -> Result<WalCheckpoint> {
    db.check_writable()?;
    let mut w = db.writer()?;
    Ok(w.conn()
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok(WalCheckpoint {
                busy: r.get(0)?,
                log_frames: r.get(1)?,
                checkpointed_frames: r.get(2)?,
            })
        })?)
}

/// `PRAGMA optimize` then `VACUUM` (rewrites the file; callers flush their caches first).
pub fn optimize(db: &Db) -> Result<()> {
    db.check_writable()?;
    let mut w = db.writer()?;
    w.conn().execute_batch("PRAGMA optimize; VACUUM;")?;
    Ok(())
}

/// `PRAGMA integrity_check`: `["ok"]` for a sound file, else SQLite's list of problems.
pub fn integrity_check(db: &Db) -> Result<Vec<String>> {
    db.read(false, |c| {
        let mut st = c.prepare("PRAGMA integrity_check")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
}

/// Names of the user tables of the file (virtual tables included; SQLite's own tables and the
/// shadow tables of virtual tables, `<virtual>_<suffix>`, excluded), sorted.
pub fn tables(db: &Db) -> Result<Vec<String>> {
    db.read(false, |c| {
        let mut st = c.prepare(
            "SELECT name, sql LIKE 'CREATE VIRTUAL TABLE%' FROM sqlite_schema
             WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        let all = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let virtuals: Vec<String> = all
            .iter()
            .filter(|(_, v)| *v)
            .map(|(n, _)| format!("{n}_"))
            .collect();
        Ok(all
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| !virtuals.iter().any(|v| n.starts_with(v.as_str())))
            .collect())
    })
}

const FEATURES_KEY: &str = "kv_features";

/// The features recorded in the file (1.1.0 wrote none).
pub fn features(db: &Db) -> Result<Vec<String>> {
    db.read(false, |c| {
        let has_meta: i64 = c.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type='table' AND name='kohakuvault_meta'",
            [],
            |r| r.get(0),
        )?;
        if has_meta == 0 {
            return Ok(Vec::new());
        }
        let cur: Option<String> = c
            .query_row(
                "SELECT value FROM kohakuvault_meta WHERE key = ?1",
                [FEATURES_KEY],
                |r| r.get(0),
            )
            .optional()?;
        Ok(split_features(cur))
    })
}

fn split_features(cur: Option<String>) -> Vec<String> {
    cur.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Records `feature` in the file (idempotent; a no-op on read-only databases).
pub fn register_feature(db: &Db, feature: &str) -> Result<()> {
    if db.read_only() {
        return Ok(());
    }
    if feature.is_empty() || feature.contains(',') {
        return Err(Error::invalid(
            "feature names are non-empty and contain no comma",
        ));
    }
    db.write_tx(|tx| {
        let cur: Option<String> = tx
            .query_row(
                "SELECT value FROM kohakuvault_meta WHERE key = ?1",
                [FEATURES_KEY],
                |r| r.get(0),
            )
            .optional()?;
        let mut feats = split_features(cur);
        if !feats.iter().any(|f| f == feature) {
            feats.push(feature.to_string());
            tx.execute(
                "INSERT INTO kohakuvault_meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [FEATURES_KEY, &feats.join(",")],
            )?;
        }
        Ok(())
    })
}
