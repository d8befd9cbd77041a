//! The storage layer shared by every vault (docs/ARCHITECTURE.md): opening a file (or
//! `:memory:`), pragmas applied and verified, the file's schema and migrations ([`schema`]),
//! exactly one writer connection plus a pool of read-only reader connections per file and
//! process ([`shared`]), database-level maintenance ([`maintenance`]), identifier validation
//! and quoting, and [`VaultDb`]: one vault's use of a shared database, with its own Closed state
//! and messages that name the vault type. Nothing here knows any vault.

pub mod checkpoint;
pub mod maintenance;
pub mod periodic;
pub mod pin;
pub mod schema;
pub mod shared;

pub use schema::{TableSpec, SCHEMA_VERSION};
pub use shared::VaultDb;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use parking_lot::{ArcMutexGuard, Mutex, MutexGuard, RawMutex};
use rusqlite::{Connection, InterruptHandle, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// Open options (the UDL's `OpenOptions`).
#[derive(Debug, Clone)]
pub struct OpenOptions {
    pub read_only: bool,
    pub enable_wal: bool,
    pub page_size: u32,
    pub mmap_size: u64,
    pub cache_kb: u32,
    pub reader_cache_kb: u32,
    pub reader_idle_limit: u32,
    pub busy_timeout_ms: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            read_only: false,
            enable_wal: true,
            page_size: 32768,
            mmap_size: 268_435_456,
            cache_kb: 100_000,
            reader_cache_kb: 8192,
            reader_idle_limit: 8,
            busy_timeout_ms: 5000,
        }
    }
}

impl OpenOptions {
    /// The page size a vault creates new files with when the caller kept the interface's
    /// default (32 KiB, KVault's): VectorKVault and TextVault use 4 KiB, as kohakuvault 1.1.0
    /// did, because their small transactions write whole pages to the WAL on every commit.
    pub fn with_vault_page_size(mut self, page_size: u32) -> Self {
        if self.page_size == OpenOptions::default().page_size {
            self.page_size = page_size;
        }
        self
    }
}

static VEC_INIT: Once = Once::new();

/// Registers sqlite-vec as an auto-extension once per process, before the first open, so every
/// connection the library opens (readers included) has the `vec0` module.
pub fn register_sqlite_vec() {
    VEC_INIT.call_once(|| {
        type InitFn = unsafe extern "C" fn(
            *mut rusqlite::ffi::sqlite3,
            *mut *mut std::os::raw::c_char,
            *const rusqlite::ffi::sqlite3_api_routines,
        ) -> std::os::raw::c_int;
        // SAFETY: sqlite3_vec_init has the extension entry-point signature SQLite expects.
        unsafe {
            let init: InitFn = std::mem::transmute(sqlite_vec::sqlite3_vec_init as *const ());
            rusqlite::ffi::sqlite3_auto_extension(Some(init));
        }
    });
}

/// Validates a table or column name (`[A-Za-z_][A-Za-z0-9_]{0,127}`) and returns it quoted.
pub fn quote_ident(name: &str) -> Result<String> {
    let mut chars = name.chars();
    let ok_first = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    let ok_rest = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_first || !ok_rest || name.len() > 128 {
        return Err(Error::invalid(format!(
            "invalid identifier {name:?}: use [A-Za-z_][A-Za-z0-9_]* (at most 128 characters)"
        )));
    }
    if name.to_ascii_lowercase().starts_with("sqlite_") {
        return Err(Error::invalid(format!(
            "invalid identifier {name:?}: reserved prefix sqlite_"
        )));
    }
    Ok(format!("\"{name}\""))
}

fn is_memory_or_uri(path: &str) -> bool {
    path == ":memory:" || path.starts_with("file:")
}

/// One database file: a writer connection and a reader pool.
pub struct Db {
    path: String,
    pooled: bool,
    read_only: bool,
    opts: OpenOptions,
    busy: Duration,
    writer: Arc<Mutex<Option<Connection>>>,
    readers: Mutex<Vec<Connection>>,
    interrupt: Mutex<Option<Arc<InterruptHandle>>>,
    closed: AtomicBool,
    /// Checkpoints off the commit path (file-backed writable WAL databases).
    checkpointer: Option<Arc<checkpoint::Checkpointer>>,
    /// Point reads without the WAL read lock's system calls (file-backed writable WAL
    /// databases; [`pin`]).
    pin: Option<Arc<pin::ReadPin>>,
}

/// A writer connection leased under the writer lock.
pub struct WriterGuard<'a> {
    guard: MutexGuard<'a, Option<Connection>>,
}

impl WriterGuard<'_> {
    pub fn conn(&mut self) -> &mut Connection {
        self.guard.as_mut().expect("checked at lease")
    }
}

impl Db {
    pub fn open(path: &str, opts: OpenOptions) -> Result<Db> {
        register_sqlite_vec();
        if path.is_empty() {
            return Err(Error::invalid("Invalid path: empty"));
        }
        let special = is_memory_or_uri(path);
        if opts.read_only && path == ":memory:" {
            return Err(Error::invalid(
                "an in-memory database cannot be opened read-only",
            ));
        }
        if opts.reader_cache_kb == 0 {
            return Err(Error::invalid("reader_cache_kb must be positive"));
        }
        let existed = !special && Path::new(path).exists();
        if !special && !opts.read_only {
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)?;
                }
            }
        }
        let flags = if opts.read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let mut conn = Connection::open_with_flags(path, flags)?;
        let busy = Duration::from_millis(opts.busy_timeout_ms as u64);
        conn.busy_timeout(busy)?;
        if opts.read_only {
            apply_reader_pragmas(&conn, opts.mmap_size, opts.cache_kb)?;
            // A read-only open of something that is not a database must fail now, typed.
            conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        } else {
            apply_writer_pragmas(&conn, &opts, existed, path == ":memory:")?;
        }
        let checkpointer = if !opts.read_only && !special && opts.enable_wal {
            let cp = checkpoint::Checkpointer::new(path);
            cp.install(&mut conn)?;
            Some(cp)
        } else {
            None
        };
        let pin = checkpointer.as_ref().and_then(|_| pin::ReadPin::new(path));
        let interrupt = Arc::new(conn.get_interrupt_handle());
        let db = Db {
            path: path.to_string(),
            pooled: !special,
            read_only: opts.read_only,
            busy,
            opts,
            writer: Arc::new(Mutex::new(Some(conn))),
            readers: Mutex::new(Vec::new()),
            interrupt: Mutex::new(Some(interrupt)),
            closed: AtomicBool::new(false),
            checkpointer,
            pin,
        };
        schema::migrate(&db)?;
        Ok(db)
    }

    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn read_only(&self) -> bool {
        self.read_only
    }
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
    pub fn busy_timeout(&self) -> Duration {
        self.busy
    }

    /// Fails when the database's connections are closed (a [`VaultDb`] checks its own state
    /// first, with a message naming its vault).
    pub fn check_open(&self) -> Result<()> {
        if self.is_closed() {
            Err(Error::Closed(
                "Cannot operate on a closed database (it is closed)".into(),
            ))
        } else {
            Ok(())
        }
    }

    pub fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.read_only {
            Err(Error::ReadOnly("the database is read-only".into()))
        } else {
            Ok(())
        }
    }

    /// Leases the writer connection, waiting at most the busy timeout (never forever: a caller
    /// re-entering from inside a stream gets `Busy` instead of a deadlock).
    pub fn writer(&self) -> Result<WriterGuard<'_>> {
        self.check_open()?;
        self.unpin();
        let guard = self.writer.try_lock_for(self.busy).ok_or_else(|| {
            Error::Busy("database is locked: the writer connection is busy".into())
        })?;
        if guard.is_none() {
            return Err(Error::Closed(
                "Cannot operate on a closed database (it is closed)".into(),
            ));
        }
        Ok(WriterGuard { guard })
    }

    /// The writer connection if it is free this instant and outside a transaction (never waits).
    pub fn try_writer(&self) -> Option<WriterGuard<'_>> {
        if self.is_closed() {
            return None;
        }
        let mut guard = self.writer.try_lock()?;
        match guard.as_mut() {
            Some(c) if c.is_autocommit() => {
                self.unpin();
                Some(WriterGuard { guard })
            }
            _ => None,
        }
    }

    /// Leases the writer connection with an owned guard that may outlive this call (streams).
    pub fn writer_owned(&self) -> Result<ArcMutexGuard<RawMutex, Option<Connection>>> {
        self.check_open()?;
        self.unpin();
        let guard = self.writer.try_lock_arc_for(self.busy).ok_or_else(|| {
            Error::Busy("database is locked: the writer connection is busy".into())
        })?;
        if guard.is_none() {
            return Err(Error::Closed(
                "Cannot operate on a closed database (it is closed)".into(),
            ));
        }
        Ok(guard)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction on the writer, committing on success.
    pub fn write_tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.check_writable()?;
        let mut w = self.writer()?;
        in_tx(w.conn(), f)
    }

    /// Runs one statement's worth of work `f` on the writer in autocommit mode: SQLite wraps a
    /// single statement in its own transaction, atomic and durable as `write_tx`, without the
    /// cost of parsing BEGIN and COMMIT (a single-row put or delete).
    pub fn write_one<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_writable()?;
        let mut w = self.writer()?;
        let conn = w.conn();
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK"); // never left inside a transaction
        }
        f(conn)
    }

    fn open_reader(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy)?;
        apply_reader_pragmas(&conn, self.opts.mmap_size, self.opts.reader_cache_kb)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `f` on a connection for reading: the writer when it is free this instant (its page
    /// cache holds what was just written, and no reader connection has to be opened), else a
    /// pooled read-only one (files) or the writer once it is free (`:memory:`/URI databases).
    /// Never waits for the writer while a pooled reader could serve. With `snapshot`, `f` runs
    /// inside `BEGIN … ROLLBACK` so several statements see one consistent snapshot.
    pub fn read<T>(&self, snapshot: bool, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.check_open()?;
        let out = self.read_inner(snapshot, f);
        if let Some(p) = &self.pin {
            p.after_read(self.writer.is_locked());
        }
        out
    }

    /// Drops the read pin before a write lease (so the write can restart the WAL).
    #[inline]
    fn unpin(&self) {
        if let Some(p) = &self.pin {
            p.before_write();
        }
    }

    /// Whether the read pin holds its read transaction (tests).
    #[doc(hidden)]
    pub fn read_pin_held(&self) -> bool {
        self.pin.as_ref().is_some_and(|p| p.is_held())
    }

    fn read_inner<T>(&self, snapshot: bool, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        if self.pooled {
            if let Some(mut g) = self.writer.try_lock() {
                if let Some(conn) = g.as_mut() {
                    if conn.is_autocommit() {
                        return read_on(conn, snapshot, f);
                    }
                }
            }
        } else {
            let mut w = self.writer()?;
            return read_on(w.conn(), snapshot, f);
        }
        let conn = self.lease_reader()?;
        let out = read_on(&conn, snapshot, f);
        self.return_reader(conn);
        out
    }

    pub fn lease_reader(&self) -> Result<Connection> {
        let idle = self.readers.lock().pop();
        match idle {
            Some(c) => Ok(c),
            None => self.open_reader(),
        }
    }

    pub fn return_reader(&self, conn: Connection) {
        if self.is_closed() || !conn.is_autocommit() {
            return;
        }
        let mut idle = self.readers.lock();
        if idle.len() < self.opts.reader_idle_limit as usize {
            idle.push(conn);
        }
    }

    pub fn pooled(&self) -> bool {
        self.pooled
    }

    /// (idle reader connections, SQLite page-cache bytes used by them).
    pub fn reader_pool_stats(&self) -> (u64, u64) {
        let idle = self.readers.lock();
        let mut bytes = 0u64;
        for c in idle.iter() {
            let mut cur = 0i32;
            let mut hi = 0i32;
            // SAFETY: valid handle owned by `c`; SQLITE_DBSTATUS_CACHE_USED only reads counters.
            let rc = unsafe {
                rusqlite::ffi::sqlite3_db_status(
                    c.handle(),
                    rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                    &mut cur,
                    &mut hi,
                    0,
                )
            };
            if rc == 0 && cur > 0 {
                bytes += cur as u64;
            }
        }
        (idle.len() as u64, bytes)
    }

    pub fn interrupt(&self) {
        if let Some(h) = self.interrupt.lock().as_ref() {
            h.interrupt();
        }
    }

    /// Checkpoints (PASSIVE), then drops every connection. Idempotent.
    pub fn close(&self) -> Result<()> {
        let mut w = self.writer.try_lock_for(self.busy).ok_or_else(|| {
            Error::Busy("database is locked: cannot close while the writer is busy".into())
        })?;
        self.closed.store(true, Ordering::Release);
        if let Some(p) = &self.pin {
            p.close();
        }
        // The pin, readers and the checkpointer go first so the writer is the last connection: closing
        // it checkpoints and removes the -wal and -shm files.
        if let Some(cp) = &self.checkpointer {
            cp.stop();
        }
        self.readers.lock().clear();
        if let Some(conn) = w.take() {
            if !self.read_only {
                let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
            drop(conn);
        }
        self.readers.lock().clear();
        *self.interrupt.lock() = None;
        Ok(())
    }

    /// Whether the background checkpointer (storage::checkpoint) has started its thread.
    #[doc(hidden)]
    pub fn background_checkpoints_started(&self) -> bool {
        self.checkpointer.as_ref().is_some_and(|c| c.started())
    }

    pub fn canonical_path(&self) -> Option<PathBuf> {
        if self.pooled {
            std::fs::canonicalize(&self.path).ok()
        } else {
            None
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // The pin, readers and the checkpointer first, so the writer is the last connection and
        // closing it removes the -wal and -shm files.
        if let Some(p) = &self.pin {
            p.close();
        }
        if let Some(cp) = &self.checkpointer {
            cp.stop();
        }
        self.readers.get_mut().clear();
    }
}

/// `f` on `conn`, inside `BEGIN … ROLLBACK` with `snapshot` (unless a transaction is open).
fn read_on<T>(
    conn: &Connection,
    snapshot: bool,
    f: impl FnOnce(&Connection) -> Result<T>,
) -> Result<T> {
    if !snapshot || !conn.is_autocommit() {
        return f(conn);
    }
    conn.execute_batch("BEGIN")?;
    let out = f(conn);
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    out
}

/// Runs `f` in one `BEGIN IMMEDIATE` transaction on `conn`, committing on success. On any error
/// the transaction is rolled back, explicitly if dropping it did not (the writer must never be
/// left inside a transaction after a failure).
pub fn in_tx<T>(conn: &mut Connection, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
    let res = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    })();
    if res.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    res
}

fn pragma_text(conn: &Connection, sql: &str) -> Result<String> {
    let v: rusqlite::types::Value = conn.query_row(sql, [], |r| r.get(0))?;
    Ok(match v {
        rusqlite::types::Value::Text(s) => s,
        rusqlite::types::Value::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    })
}

fn apply_writer_pragmas(
    conn: &Connection,
    o: &OpenOptions,
    existed: bool,
    memory: bool,
) -> Result<()> {
    if !existed && !memory {
        if !o.page_size.is_power_of_two() || !(512..=65536).contains(&o.page_size) {
            return Err(Error::invalid(
                "page_size must be a power of two between 512 and 65536",
            ));
        }
        conn.execute_batch(&format!("PRAGMA page_size = {}", o.page_size))?;
    }
    if o.enable_wal && !memory {
        let mode = pragma_text(conn, "PRAGMA journal_mode = WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal(format!(
                "could not enable WAL (journal_mode is {mode})"
            )));
        }
        conn.execute_batch("PRAGMA wal_autocheckpoint = 1000")?;
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
    let sync = pragma_text(conn, "PRAGMA synchronous")?;
    if sync != "1" {
        return Err(Error::Internal(format!(
            "could not set synchronous=NORMAL (got {sync})"
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA mmap_size = {}; PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY;",
        o.mmap_size, o.cache_kb
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    stable_plans(conn)
}

fn apply_reader_pragmas(conn: &Connection, mmap: u64, cache_kb: u32) -> Result<()> {
    conn.execute_batch(&format!(
        "PRAGMA mmap_size = {mmap}; PRAGMA cache_size = -{cache_kb};"
    ))?;
    stable_plans(conn)
}

/// The query planner stability guarantee: without it SQLite (built with STAT4) re-prepares a
/// cached statement on every new binding of a parameter used in a range or `LIMIT ?` (measured:
/// a column block lookup spent 40% of its time re-preparing). Our statements have one obvious
/// plan each, so they never need to look at bound values.
fn stable_plans(conn: &Connection) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}
