//! One database object per file per process, and [`VaultDb`], one vault's use of it.
//!
//! Vaults opened on the same file in one process (a KVault and a ColumnVault of one `.db`, or
//! two KVaults on different tables) share its writer connection and reader pool: their writes
//! queue on one lock instead of contending through `SQLITE_BUSY`, and readers are pooled once.
//! The first open of a file sets its connection options; later opens attach to it. A file is
//! shared per (canonical path, read-only); `:memory:` and URI databases are never shared (each
//! open is its own database, as in kohakuvault 1.1.0). The connections close when the last vault
//! using them closes or is dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use parking_lot::{ArcMutexGuard, Mutex, RawMutex};
use rusqlite::{Connection, Transaction};

use super::{is_memory_or_uri, Db, OpenOptions, WriterGuard};
use crate::error::{Error, Result};

type Key = (PathBuf, bool);

struct Entry {
    db: Weak<Db>,
    users: usize,
}

static OPEN: LazyLock<Mutex<HashMap<Key, Entry>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn key_of(path: &str, read_only: bool) -> Option<Key> {
    std::fs::canonicalize(Path::new(path))
        .ok()
        .map(|p| (p, read_only))
}

/// One vault's handle on a (possibly shared) database: its own Closed state, and messages
/// that name its vault type ("ColumnVault is closed").
pub struct VaultDb {
    db: Arc<Db>,
    key: Option<Key>,
    path: String,
    vault: &'static str,
    closed: AtomicBool,
    /// An unshared (`:memory:`/URI) database attached from another handle: closing this handle
    /// leaves the database to its owner.
    attached: bool,
}

impl VaultDb {
    /// Opens `path` for a vault of type `vault`, attaching to the process's open database for
    /// that file when there is one.
    pub fn open(path: &str, opts: OpenOptions, vault: &'static str) -> Result<VaultDb> {
        if opts.reader_cache_kb == 0 {
            return Err(Error::invalid("reader_cache_kb must be positive"));
        }
        if path.is_empty() || is_memory_or_uri(path) {
            let db = Arc::new(Db::open(path, opts)?);
            return Ok(Self::new(db, None, path, vault));
        }
        let read_only = opts.read_only;
        let mut open = OPEN.lock();
        if let Some(key) = key_of(path, read_only) {
            if let Some(e) = open.get_mut(&key) {
                if let Some(db) = e.db.upgrade().filter(|d| !d.is_closed()) {
                    e.users += 1;
                    return Ok(Self::new(db, Some(key), path, vault));
                }
            }
        }
        let db = Arc::new(Db::open(path, opts)?);
        let key = key_of(path, read_only);
        if let Some(k) = &key {
            open.insert(
                k.clone(),
                Entry {
                    db: Arc::downgrade(&db),
                    users: 1,
                },
            );
        }
        Ok(Self::new(db, key, path, vault))
    }

    fn new(db: Arc<Db>, key: Option<Key>, path: &str, vault: &'static str) -> VaultDb {
        VaultDb {
            db,
            key,
            path: path.to_string(),
            vault,
            closed: AtomicBool::new(false),
            attached: false,
        }
    }

    /// A second handle on this handle's database for a vault that lives inside another one
    /// (TextVault's vectors): same connections, its own Closed state and messages.
    pub fn attach(&self, vault: &'static str) -> VaultDb {
        if let Some(k) = &self.key {
            if let Some(e) = OPEN.lock().get_mut(k) {
                e.users += 1;
            }
        }
        let mut h = Self::new(self.db.clone(), self.key.clone(), &self.path, vault);
        h.attached = self.key.is_none();
        h
    }

    /// The shared database (for [`super::maintenance`] and [`super::schema`]).
    pub fn db(&self) -> &Db {
        &self.db
    }
    /// How many vault handles of this process use the same database (1 when unshared).
    pub fn users(&self) -> usize {
        match &self.key {
            Some(k) => OPEN.lock().get(k).map_or(1, |e| e.users),
            None => 1,
        }
    }
    /// The path as this vault was opened with it.
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn vault(&self) -> &'static str {
        self.vault
    }
    pub fn read_only(&self) -> bool {
        self.db.read_only()
    }
    pub fn pooled(&self) -> bool {
        self.db.pooled()
    }
    pub fn busy_timeout(&self) -> Duration {
        self.db.busy_timeout()
    }
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.db.is_closed()
    }

    fn closed_error(&self) -> Error {
        let v = self.vault;
        Error::Closed(format!("Cannot operate on closed {v} ({v} is closed)"))
    }

    pub fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(self.closed_error())
        } else {
            Ok(())
        }
    }

    pub fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.db.read_only() {
            Err(Error::ReadOnly(format!("{} is read-only", self.vault)))
        } else {
            Ok(())
        }
    }

    fn named<T>(&self, r: Result<T>) -> Result<T> {
        match r {
            Err(Error::Closed(_)) => Err(self.closed_error()),
            Err(Error::ReadOnly(_)) => Err(Error::ReadOnly(format!("{} is read-only", self.vault))),
            other => other,
        }
    }

    pub fn writer(&self) -> Result<WriterGuard<'_>> {
        self.check_open()?;
        self.named(self.db.writer())
    }

    pub fn writer_owned(&self) -> Result<ArcMutexGuard<RawMutex, Option<Connection>>> {
        self.check_open()?;
        self.named(self.db.writer_owned())
    }

    pub fn write_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.check_writable()?;
        self.db.write_tx(f)
    }

    pub fn write_one<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_writable()?;
        self.db.write_one(f)
    }

    pub fn read<T>(&self, snapshot: bool, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_open()?;
        self.db.read(snapshot, f)
    }

    pub fn lease_reader(&self) -> Result<Connection> {
        self.check_open()?;
        self.db.lease_reader()
    }

    pub fn return_reader(&self, conn: Connection) {
        self.db.return_reader(conn)
    }

    pub fn reader_pool_stats(&self) -> (u64, u64) {
        self.db.reader_pool_stats()
    }

    pub fn interrupt(&self) {
        self.db.interrupt()
    }

    /// Closes this vault's use of the database; the connections close with the last user
    /// (`Busy` if the writer stays busy past the timeout; this vault stays open then).
    pub fn close(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(());
        }
        let Some(key) = &self.key else {
            if !self.attached {
                self.db.close()?;
            }
            self.closed.store(true, Ordering::Release);
            return Ok(());
        };
        let mut open = OPEN.lock();
        let last = open.get(key).is_none_or(|e| e.users <= 1);
        if last {
            self.db.close()?;
            open.remove(key);
        } else if let Some(e) = open.get_mut(key) {
            e.users -= 1;
        }
        self.closed.store(true, Ordering::Release);
        Ok(())
    }
}

impl Drop for VaultDb {
    fn drop(&mut self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if self.close().is_err() {
            // The writer stayed busy: leave this user's count behind anyway, so the connections
            // close when the last Arc goes (Db's own drop), never kept open by a lost count.
            if let Some(key) = &self.key {
                let mut open = OPEN.lock();
                if let Some(e) = open.get_mut(key) {
                    e.users = e.users.saturating_sub(1);
                    if e.users == 0 {
                        open.remove(key);
                    }
                }
            }
        }
    }
}
