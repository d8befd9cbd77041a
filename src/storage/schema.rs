//! The file's schema (docs/FORMAT.md §3, docs/ARCHITECTURE.md "Adding a vault").
//!
//! Two levels, one list each:
//! * [`MIGRATIONS`]: file-level steps, applied in order under `BEGIN IMMEDIATE` up to
//!   [`SCHEMA_VERSION`] (`PRAGMA user_version`); files written by a newer version are refused.
//! * [`TableSpec`]: how a vault's own tables are created and recognised. Each vault declares
//!   one `const` spec and opens its tables through [`ensure_table`]; no vault creates tables
//!   any other way.

use rusqlite::TransactionBehavior;

use super::{quote_ident, Db};
use crate::error::{Error, Result};

/// One file-level migration: `sql` takes a file from `version - 1` to `version`.
pub struct Migration {
    pub version: i64,
    pub sql: &'static str,
}

/// Every file-level migration, oldest first. Version 0 is a new file or one written by
/// kohakuvault 1.1.0 (which never set `user_version`).
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: "CREATE TABLE IF NOT EXISTS kohakuvault_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
}];

/// Newest schema version this library writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Creates or upgrades the file-level schema step by step; refuses newer files.
pub(crate) fn migrate(db: &Db) -> Result<()> {
    let mut w = db.writer()?;
    let conn = w.conn();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::corrupt(format!(
            "file format version {version} is newer than this library supports ({SCHEMA_VERSION})"
        )));
    }
    if db.read_only() || version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for m in MIGRATIONS.iter().filter(|m| m.version > version) {
        tx.execute_batch(m.sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", m.version))?;
    }
    tx.commit()?;
    Ok(())
}

/// How one vault type's table is created and recognised.
pub struct TableSpec {
    /// The vault type, as messages name it ("KVault").
    pub vault: &'static str,
    /// `CREATE TABLE IF NOT EXISTS …` for the quoted table name.
    pub create: fn(quoted: &str) -> String,
    /// The columns a table of this vault must have (checked with a `LIMIT 0` select).
    pub columns: &'static str,
}

/// Opens `table` for a vault of `spec`: creates it (writable files) or requires it (read-only
/// files), then checks that it has the spec's columns. Returns the quoted name.
pub fn ensure_table(db: &Db, spec: &TableSpec, table: &str) -> Result<String> {
    let quoted = quote_ident(table)?;
    if db.read_only() {
        if !table_exists(db, table)? {
            return Err(Error::NotFound(format!(
                "SQLite error: no such table: {table}"
            )));
        }
    } else {
        db.write_tx(|tx| {
            tx.execute_batch(&(spec.create)(&quoted))?;
            Ok(())
        })?;
    }
    db.read(false, |c| {
        c.prepare(&format!("SELECT {} FROM {quoted} LIMIT 0", spec.columns))
            .map_err(|_| {
                Error::invalid(format!(
                    "table {table} is not a {} table ({})",
                    spec.vault, spec.columns
                ))
            })?;
        Ok(())
    })?;
    Ok(quoted)
}

/// True when a table (or virtual table) named `table` exists.
pub fn table_exists(db: &Db, table: &str) -> Result<bool> {
    db.read(false, |c| {
        Ok(c.query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )? > 0)
    })
}
