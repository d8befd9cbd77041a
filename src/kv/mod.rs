//! KVault core: key → stored value over the shared storage layer, with the write-back cache,
//! atomic batches, paged scans and streaming (docs/FORMAT.md §3, docs/COMPATIBILITY.md §3–4).

pub mod cache;
pub mod fast;
pub mod stream;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rusqlite::{params, Connection, OptionalExtension};

use crate::codec::{self, TaggedValue};
use crate::error::{guard, Error, Result, VResult};
use crate::fastpath;
use crate::ffi::packed::{parse_item_columns, parse_items, split_columns, Item};
use crate::ffi::page::{Packed, Sink};
use crate::storage::periodic::Periodic;
use crate::storage::{maintenance, quote_ident, schema, OpenOptions, TableSpec, VaultDb};
use cache::{Admit, CacheCell};

/// Rows per multi-row upsert statement in batch writes. Inside a transaction SQLite gives such
/// a statement its own statement journal (it copies each page the statement first touches), so
/// a run must be long enough to amortise that: on this machine 4 rows per statement were twice
/// as slow as single rows, 32 about 10% faster, 256 about 35% faster, 2048 slower again.
const UPSERT_RUN: usize = 256;

/// SQL for one KV table, built once with the validated, quoted name.
struct Sql {
    get: String,
    exists: String,
    upsert: String,
    upsert_run: String,
    delete: String,
    count: String,
}

impl Sql {
    fn new(t: &str) -> Self {
        Sql {
            get: format!("SELECT value FROM {t} WHERE key = ?1"),
            exists: format!("SELECT 1 FROM {t} WHERE key = ?1"),
            upsert: format!(
                "INSERT INTO {t}(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
            ),
            upsert_run: format!(
                "INSERT INTO {t}(key, value) VALUES {} ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                vec!["(?, ?)"; UPSERT_RUN].join(", ")
            ),
            delete: format!("DELETE FROM {t} WHERE key = ?1"),
            count: format!("SELECT COUNT(*) FROM {t}"),
        }
    }
}

/// KVault's table (docs/FORMAT.md §3): BLOB keys and values, the key the primary key.
pub const KV_TABLE: TableSpec = TableSpec {
    vault: "KVault",
    create: |t| {
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL)"
        )
    },
    columns: "key, value",
};

/// A key and its stored bytes, borrowed from the request when no encoding was needed.
type Encoded<'a> = (&'a [u8], Cow<'a, [u8]>);

pub struct KvInner {
    pub(crate) db: VaultDb,
    pub(crate) table: String,
    pub(crate) quoted: String,
    sql: Sql,
    pub(crate) cache: CacheCell,
    /// Cached puts take it shared; direct mutations take it exclusively, so a direct mutation
    /// and its removal of superseded pending entries are atomic with respect to puts.
    gate: RwLock<()>,
    headers: AtomicBool,
    flusher: Periodic,
    bg_error: Mutex<Option<String>>,
    fast_id: AtomicU64,
}

/// The UDL's `KvStore`.
pub struct KvStore {
    pub(crate) inner: Arc<KvInner>,
}

fn gate_timeout(db: &VaultDb) -> Duration {
    db.busy_timeout()
}

impl KvInner {
    fn read_stored(&self, conn: &Connection, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut st = conn.prepare_cached(&self.sql.get)?;
        Ok(st.query_row([key], |r| r.get::<_, Vec<u8>>(0)).optional()?)
    }

    /// Calls `f` with the newest stored bytes for `key` (cache, then database) without copying.
    pub(crate) fn with_stored<T>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<T>,
    ) -> Result<T> {
        self.db.check_open()?;
        if let Some(v) = self.cache.lookup(key) {
            return f(Some(&v));
        }
        self.db.read(false, |conn| {
            let mut st = conn.prepare_cached(&self.sql.get)?;
            let mut rows = st.query([key])?;
            match rows.next()? {
                Some(row) => {
                    let r = row.get_ref(0)?;
                    let b = r.as_blob_or_null()?.unwrap_or(&[]);
                    f(Some(b))
                }
                None => f(None),
            }
        })
    }

    /// `put_many`: one transaction for every item (the cache bypassed; pending cache entries
    /// of the same keys dropped after the commit).
    pub(crate) fn put_many_items(&self, items: &[Item<'_>]) -> Result<()> {
        let encoded = self.encode_items(items)?;
        {
            let c = self.cache.lock();
            if c.enabled && c.locked {
                return Err(Error::Busy(
                    "Cache error: batch write prohibited while cache is locked".into(),
                ));
            }
        }
        let _g = self.gate_write()?;
        self.db
            .write_tx(|tx| self.upsert_rows(tx, encoded.iter().map(|(k, v)| (*k, v.as_ref()))))?;
        let mut c = self.cache.lock();
        if !c.pending.is_empty() {
            for (k, _) in &encoded {
                c.remove(k);
            }
        }
        Ok(())
    }

    /// Validates and encodes a whole batch before anything is written (bad input changes nothing).
    /// Raw payloads that need no escaping stay borrowed.
    fn encode_items<'a>(&self, items: &[Item<'a>]) -> Result<Vec<Encoded<'a>>> {
        self.db.check_writable()?;
        items
            .iter()
            .map(|it| {
                Self::check_key(it.key)?;
                Self::check_value(it.payload)?;
                let stored = if it.kind == codec::KIND_RAW && !codec::looks_like_header(it.payload)
                {
                    Cow::Borrowed(it.payload)
                } else {
                    Cow::Owned(self.encode(it.kind, it.payload)?)
                };
                Ok((it.key, stored))
            })
            .collect()
    }

    /// Upserts `rows` in order (a later duplicate key wins) inside the caller's transaction,
    /// `UPSERT_RUN` rows per statement.
    fn upsert_rows<'r>(
        &self,
        conn: &Connection,
        rows: impl ExactSizeIterator<Item = (&'r [u8], &'r [u8])>,
    ) -> Result<()> {
        let total = rows.len();
        let full = total - total % UPSERT_RUN;
        let mut run = if full > 0 {
            Some(conn.prepare_cached(&self.sql.upsert_run)?)
        } else {
            None
        };
        let mut single = None;
        for (i, (k, v)) in rows.enumerate() {
            if i < full {
                let st = run.as_mut().expect("prepared");
                let slot = (i % UPSERT_RUN) * 2;
                st.raw_bind_parameter(slot + 1, k)?;
                st.raw_bind_parameter(slot + 2, v)?;
                if slot + 2 == UPSERT_RUN * 2 {
                    st.raw_execute()?;
                }
            } else {
                if single.is_none() {
                    single = Some(conn.prepare_cached(&self.sql.upsert)?);
                }
                single.as_mut().expect("prepared").execute(params![k, v])?;
            }
        }
        Ok(())
    }

    fn encode(&self, kind: u8, payload: &[u8]) -> Result<Vec<u8>> {
        codec::encode(kind, payload, self.headers.load(Ordering::Relaxed))
    }

    fn check_key(key: &[u8]) -> Result<()> {
        if key.len() > 1 << 20 {
            return Err(Error::invalid("key is longer than 1 MiB"));
        }
        Ok(())
    }

    fn check_value(v: &[u8]) -> Result<()> {
        if v.len() > i32::MAX as usize - 64 {
            return Err(Error::invalid(
                "value exceeds the SQLite BLOB limit; use put_file to stream it",
            ));
        }
        Ok(())
    }

    fn gate_write(&self) -> Result<parking_lot::RwLockWriteGuard<'_, ()>> {
        self.gate
            .try_write_for(gate_timeout(&self.db))
            .ok_or_else(|| {
                Error::Busy("database is locked: a concurrent write holds the vault".into())
            })
    }

    /// A committed direct write (no cache), superseding any pending entry.
    fn direct_put(&self, key: &[u8], stored: &[u8]) -> Result<()> {
        let _g = self.gate_write()?;
        // One statement: autocommit is its own transaction.
        self.db.write_one(|c| {
            c.prepare_cached(&self.sql.upsert)?
                .execute(params![key, stored])?;
            Ok(())
        })?;
        self.cache.lock().remove(key);
        Ok(())
    }

    /// put of already-encoded stored bytes, through the cache when it is enabled.
    /// `force` (an earlier entry of the same batch failed): admit whatever the size or lock
    /// state, waiting for the gate as long as it takes (its holders finish in bounded time
    /// without waiting for a cached put), so one failure costs one timeout, not one per entry.
    /// `KvStore.put`: validates, encodes (kind, payload) and stores it, through the cache when
    /// it is enabled (also the body of the C fast path `kv_fast_put`).
    pub(crate) fn put_value(&self, key: &[u8], kind: u8, payload: &[u8]) -> Result<()> {
        Self::check_key(key)?;
        Self::check_value(payload)?;
        self.db.check_writable()?;
        let stored = self.encode(kind, payload)?;
        self.put_stored(key, Arc::new(stored), false)
    }

    fn put_stored(&self, key: &[u8], stored: Arc<Vec<u8>>, force: bool) -> Result<()> {
        self.db.check_writable()?;
        loop {
            let g = if force {
                self.gate.read()
            } else {
                self.gate
                    .try_read_for(gate_timeout(&self.db))
                    .ok_or_else(|| {
                        Error::Busy("database is locked: a concurrent write holds the vault".into())
                    })?
            };
            self.db.check_open()?;
            let mut c = self.cache.lock();
            if !c.enabled {
                drop(c);
                drop(g);
                return self.direct_put(key, &stored);
            }
            match c.admit(key, stored.clone(), force) {
                Admit::Done => {
                    // Forced admissions follow a failure: they do not try to flush again.
                    let flush = !force && !c.locked && c.pending_bytes >= c.threshold;
                    drop(c);
                    drop(g);
                    if flush {
                        self.flush(false)?;
                    }
                    return Ok(());
                }
                Admit::TooLarge => {
                    if c.locked {
                        return Err(Error::Busy(
                            "Cache error: direct write prohibited while cache is locked".into(),
                        ));
                    }
                    drop(c);
                    drop(g);
                    return self.direct_put(key, &stored);
                }
                Admit::NeedFlush => {
                    if c.locked {
                        return Err(Error::Busy(
                            "Cache error: cache is full while flushing is locked".into(),
                        ));
                    }
                    drop(c);
                    drop(g);
                    self.flush(true)?;
                }
            }
        }
    }

    /// `put_stored` of many entries in order, with the same outcome entry by entry: runs of plain
    /// admissions take the locks once; any entry that needs more (a flush first, a direct write,
    /// an error) goes through `put_stored`. After the first error every later entry is still
    /// admitted (nothing a facade acknowledged is dropped) and that error is returned.
    fn put_stored_batch(&self, entries: Vec<Encoded<'_>>) -> Result<()> {
        self.db.check_writable()?;
        let entries: Vec<(&[u8], Arc<Vec<u8>>)> = entries
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v.into_owned())))
            .collect();
        let mut first_err: Option<Error> = None;
        let mut i = 0;
        while i < entries.len() {
            let (n, flush) = self.admit_run(&entries[i..], first_err.is_some());
            i += n;
            if flush {
                if let Err(e) = self.flush(false) {
                    first_err.get_or_insert(e);
                }
            }
            let Some((k, v)) = entries.get(i) else { break };
            if n > 0 && i < entries.len() && flush {
                continue; // the run stopped at the threshold: resume after the flush
            }
            let force = first_err.is_some();
            if let Err(e) = self.put_stored(k, v.clone(), force) {
                if first_err.is_none() {
                    if !self.db.is_closed() && self.cache.lock().enabled {
                        let _ = self.put_stored(k, v.clone(), true);
                    }
                    first_err = Some(e);
                }
            }
            i += 1;
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Admits a prefix of `entries` under one gate and cache lock, without waiting for either
    /// and only while each admission is plain (`Admit::Done`); stops after the entry that takes
    /// the pending bytes to the flush threshold. Returns (admitted, flush now).
    fn admit_run(&self, entries: &[(&[u8], Arc<Vec<u8>>)], force: bool) -> (usize, bool) {
        let Some(_g) = self.gate.try_read() else {
            return (0, false);
        };
        let mut c = self.cache.lock();
        if !c.enabled || self.db.is_closed() {
            return (0, false); // put_stored reports it
        }
        let mut n = 0;
        for (k, v) in entries {
            if !matches!(c.admit(k, v.clone(), force), Admit::Done) {
                break;
            }
            n += 1;
            if !force && !c.locked && c.pending_bytes >= c.threshold {
                return (n, true);
            }
        }
        (n, false)
    }

    /// Commits pending entries in one transaction. `required`: a locked non-empty cache is an
    /// error instead of a no-op. Failed flushes keep the data pending for retry.
    pub(crate) fn flush(&self, required: bool) -> Result<u64> {
        {
            let c = self.cache.lock();
            if c.pending.is_empty() {
                return Ok(0);
            }
            if c.locked {
                return if required {
                    Err(Error::Busy(
                        "Cache error: cache is locked; cannot flush".into(),
                    ))
                } else {
                    Ok(0)
                };
            }
        }
        self.db.check_writable()?;
        let mut w = self.db.writer()?;
        let batch = {
            let mut c = self.cache.lock();
            if c.locked {
                return if required && !c.pending.is_empty() {
                    Err(Error::Busy(
                        "Cache error: cache is locked; cannot flush".into(),
                    ))
                } else {
                    Ok(0)
                };
            }
            match c.start_flush() {
                Some(b) => b,
                None => return Ok(0),
            }
        };
        let res = crate::storage::in_tx(w.conn(), |tx| {
            self.upsert_rows(tx, batch.iter().map(|(k, v)| (k.as_slice(), v.as_slice())))?;
            Ok(batch.len() as u64)
        });
        self.cache.lock().end_flush(res.is_ok());
        res
    }

    fn stop_flusher(&self) {
        self.flusher.stop();
    }

    fn start_flusher(self: &Arc<Self>, interval: Duration) {
        self.flusher
            .start("kohakuvault-flush", self, interval, |inner: &KvInner| {
                if inner.db.is_closed() {
                    return false;
                }
                if let Err(e) = inner.flush(false) {
                    *inner.bg_error.lock() = Some(format!(
                        "KVault background flush failed: {e}; call flush_cache() to retry"
                    ));
                    return false;
                }
                true
            });
    }

    fn close(&self) -> Result<()> {
        if self.db.is_closed() {
            return Ok(());
        }
        // The gate, exclusively: no cached put is admitted during the last flush or after it
        // (a put waiting for the gate finds the vault closed).
        let _g = self.gate_write()?;
        if self.db.is_closed() {
            return Ok(());
        }
        if self.cache.lock().locked {
            return Err(Error::Busy(
                "Cannot close KVault while cache is locked".into(),
            ));
        }
        if !self.db.read_only() {
            self.flush(true)?;
        }
        self.stop_flusher();
        fastpath::unregister(self.fast_id.swap(0, Ordering::AcqRel));
        self.db.close()
    }
}

impl Drop for KvInner {
    fn drop(&mut self) {
        // docs/COMPATIBILITY.md §4.2: a vault dropped without close() still commits its pending writes.
        if !self.db.is_closed() {
            let _ = self.close();
        }
    }
}

fn tagged_of(stored: &[u8]) -> Result<TaggedValue> {
    codec::decode(stored)
}

/// A stored value as a point operation returns it (`get_stored` is auto-pack off).
fn value_of(stored: &[u8], decoded: bool) -> Result<TaggedValue> {
    codec::value_of(stored, decoded)
}

impl KvStore {
    pub fn new(path: String, table: String, options: OpenOptions) -> VResult<Self> {
        guard(|| {
            quote_ident(&table)?; // a bad name fails before any file is created
            let db = VaultDb::open(&path, options, "KVault")?;
            let quoted = schema::ensure_table(db.db(), &KV_TABLE, &table)?;
            let inner = Arc::new(KvInner {
                sql: Sql::new(&quoted),
                db,
                table,
                quoted,
                cache: CacheCell::default(),
                gate: RwLock::new(()),
                headers: AtomicBool::new(true),
                flusher: Periodic::default(),
                bg_error: Mutex::new(None),
                fast_id: AtomicU64::new(0),
            });
            Ok(KvStore { inner })
        })
    }

    pub fn path(&self) -> String {
        self.inner.db.path().to_string()
    }
    pub fn table(&self) -> String {
        self.inner.table.clone()
    }
    pub fn read_only(&self) -> bool {
        self.inner.db.read_only()
    }
    pub fn is_closed(&self) -> bool {
        self.inner.db.is_closed()
    }

    pub fn put(&self, key: &[u8], kind: u8, payload: &[u8]) -> VResult<()> {
        guard(|| self.inner.put_value(key, kind, payload))
    }

    pub fn get(&self, key: &[u8]) -> VResult<Option<TaggedValue>> {
        guard(|| {
            self.inner
                .with_stored(key, |s| s.map(tagged_of).transpose())
        })
    }

    pub fn get_stored(&self, key: &[u8]) -> VResult<Option<Vec<u8>>> {
        guard(|| {
            self.inner
                .with_stored(key, |s| Ok(s.map(|b| codec::stored_view(b).to_vec())))
        })
    }

    pub fn delete(&self, key: &[u8]) -> VResult<bool> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let _g = inner.gate_write()?;
            let n = inner
                .db
                .write_one(|c| Ok(c.prepare_cached(&inner.sql.delete)?.execute([key])?))?;
            let cached = inner.cache.lock().remove(key);
            Ok(n > 0 || cached)
        })
    }

    pub fn exists(&self, key: &[u8]) -> VResult<bool> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?;
            if inner.cache.lookup(key).is_some() {
                return Ok(true);
            }
            inner.db.read(false, |c| {
                Ok(c.prepare_cached(&inner.sql.exists)?.exists([key])?)
            })
        })
    }

    pub fn len(&self) -> VResult<u64> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?;
            let cached = inner.cache.lock().keys();
            inner.db.read(true, |c| {
                let n: i64 = c
                    .prepare_cached(&inner.sql.count)?
                    .query_row([], |r| r.get(0))?;
                let mut extra = 0u64;
                let mut st = c.prepare_cached(&inner.sql.exists)?;
                for k in &cached {
                    if !st.exists([k.as_slice()])? {
                        extra += 1;
                    }
                }
                Ok(n as u64 + extra)
            })
        })
    }

    pub fn is_empty(&self) -> VResult<bool> {
        self.len().map(|n| n == 0)
    }

    /// Removes `key` and returns its value: decoded, or as stored (kind 0) with `decoded` false.
    pub fn pop(&self, key: &[u8], decoded: bool) -> VResult<Option<TaggedValue>> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let _g = inner.gate_write()?;
            let cached = inner.cache.lookup(key);
            // Decoded inside the transaction: an undecodable value is a typed error and stays.
            let value = inner.db.write_tx(|tx| {
                let db_val = inner.read_stored(tx, key)?;
                let stored = cached.map(|v| v.to_vec()).or(db_val);
                let value = stored.map(|s| value_of(&s, decoded)).transpose()?;
                tx.prepare_cached(&inner.sql.delete)?.execute([key])?;
                Ok(value)
            })?;
            inner.cache.lock().remove(key);
            Ok(value)
        })
    }

    /// The existing value of `key` (decoded, or as stored with `decoded` false), or stores
    /// (kind, payload) and returns None.
    pub fn setdefault(
        &self,
        key: &[u8],
        kind: u8,
        payload: &[u8],
        decoded: bool,
    ) -> VResult<Option<TaggedValue>> {
        guard(|| {
            let inner = &self.inner;
            if let Some(t) =
                inner.with_stored(key, |s| s.map(|s| value_of(s, decoded)).transpose())?
            {
                return Ok(Some(t));
            }
            inner.db.check_writable()?;
            KvInner::check_key(key)?;
            let stored = inner.encode(kind, payload)?;
            if inner.cache.lock().locked {
                return Err(Error::Busy(
                    "Cache error: insert prohibited while cache is locked".into(),
                ));
            }
            let _g = inner.gate_write()?;
            let cached = inner.cache.lookup(key);
            if let Some(v) = cached {
                return Ok(Some(value_of(&v, decoded)?));
            }
            let existing = inner.db.write_tx(|tx| {
                if let Some(v) = inner.read_stored(tx, key)? {
                    return Ok(Some(v));
                }
                tx.prepare_cached(&inner.sql.upsert)?
                    .execute(params![key, stored])?;
                Ok(None)
            })?;
            existing.map(|s| value_of(&s, decoded)).transpose()
        })
    }

    pub fn clear(&self) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let _g = inner.gate_write()?;
            inner.db.write_tx(|tx| {
                tx.execute_batch(&format!("DELETE FROM {}", inner.quoted))?;
                Ok(())
            })?;
            inner.cache.lock().clear_pending();
            Ok(())
        })
    }

    pub fn put_many(&self, items: &[u8]) -> VResult<()> {
        guard(|| self.put_many_items(&parse_items(items)?))
    }

    pub fn put_many_columns(
        &self,
        kinds: &[u8],
        key_lens: &[u8],
        value_lens: &[u8],
        keys: &[u8],
        values: &[u8],
    ) -> VResult<()> {
        guard(|| {
            self.put_many_items(&parse_item_columns(
                kinds, key_lens, value_lens, keys, values,
            )?)
        })
    }

    fn put_many_items(&self, items: &[Item<'_>]) -> Result<()> {
        self.inner.put_many_items(items)
    }

    pub fn cache_put_many(&self, items: &[u8]) -> VResult<()> {
        guard(|| self.cache_put_many_items(&parse_items(items)?))
    }

    pub fn cache_put_many_columns(
        &self,
        kinds: &[u8],
        key_lens: &[u8],
        value_lens: &[u8],
        keys: &[u8],
        values: &[u8],
    ) -> VResult<()> {
        guard(|| {
            self.cache_put_many_items(&parse_item_columns(
                kinds, key_lens, value_lens, keys, values,
            )?)
        })
    }

    fn cache_put_many_items(&self, items: &[Item<'_>]) -> Result<()> {
        let inner = &self.inner;
        let encoded = inner.encode_items(items)?;
        inner.put_stored_batch(encoded)
    }

    /// Values of `keys` in order into `sink`, from one read snapshot (cache entries first).
    pub(crate) fn get_many_into(
        &self,
        keys: &[&[u8]],
        decoded: bool,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let inner = &self.inner;
        inner.db.check_open()?;
        let hits: Vec<Option<Arc<Vec<u8>>>> = {
            let c = inner.cache.lock();
            if c.pending.is_empty() && c.inflight.is_none() {
                Vec::new()
            } else {
                keys.iter().map(|k| c.lookup(k)).collect()
            }
        };
        let hit = |i: usize| hits.get(i).and_then(|h| h.as_deref());
        if !hits.is_empty() && hits.iter().all(|h| h.is_some()) {
            for i in 0..keys.len() {
                emit_value(sink, hit(i).map(|v| v.as_slice()), decoded)?;
            }
            return Ok(());
        }
        inner.db.read(true, |conn| {
            let mut st = conn.prepare_cached(&inner.sql.get)?;
            for (i, k) in keys.iter().enumerate() {
                if let Some(v) = hit(i) {
                    emit_value(sink, Some(v), decoded)?;
                    continue;
                }
                let mut rows = st.query([k])?;
                match rows.next()? {
                    Some(row) => emit_value(sink, Some(blob_of(row, 0)?), decoded)?,
                    None => emit_value(sink, None, decoded)?,
                }
            }
            Ok(())
        })
    }

    /// Values of the columnar keys (`key_lens`, u32 LE each, over the concatenated `keys`: the
    /// fast path's layout), packed (FORMAT.md §4): decoded, or as stored with `decoded` false.
    pub fn get_many(&self, key_lens: &[u8], keys: &[u8], decoded: bool) -> VResult<Vec<u8>> {
        guard(|| {
            let keys = Self::key_columns(key_lens, keys)?;
            let mut out = Vec::with_capacity(keys.len() * 16);
            self.get_many_into(&keys, decoded, &mut Packed { out: &mut out })?;
            Ok(out)
        })
    }

    /// The keys of a columnar request: `lens` (u32 LE each) over the concatenated `keys`.
    pub(crate) fn key_columns<'a>(lens: &[u8], keys: &'a [u8]) -> Result<Vec<&'a [u8]>> {
        split_columns(lens, keys, lens.len() / 4)
    }

    pub fn scan(&self, req: ScanRequest) -> VResult<ScanPage> {
        guard(|| {
            let mut entries = Vec::new();
            let end = self.scan_into(
                &ScanSpec {
                    prefix: req.prefix.as_deref(),
                    after: req.after.as_deref(),
                    limit: req.limit as usize,
                    max_bytes: usize::MAX,
                    with_values: req.with_values,
                    decoded: req.decoded,
                },
                &mut Packed { out: &mut entries },
            )?;
            Ok(ScanPage { entries, end })
        })
    }

    /// One page of a key-ordered scan into `sink`: database rows from one snapshot merged with
    /// pending cache entries (which win). Returns true when no entry follows the page.
    pub(crate) fn scan_into(&self, req: &ScanSpec<'_>, sink: &mut dyn Sink) -> Result<bool> {
        let inner = &self.inner;
        inner.db.check_open()?;
        let limit = req.limit.max(1);
        let lo: &[u8] = req.prefix.unwrap_or_default();
        let hi = req.prefix.and_then(prefix_end);
        let after = req.after;
        let cached = {
            let c = inner.cache.lock();
            if c.pending.is_empty() && c.inflight.is_none() {
                Vec::new()
            } else {
                c.range(after, lo, hi.as_deref(), limit)
            }
        };
        let t = &inner.quoted;
        let cols = if req.with_values { "key, value" } else { "key" };
        // One lower bound for the index range: the larger of the prefix start and `after`
        // (filtering on a second bound would re-walk the prefix on every page).
        let (lower, lower_op) = match after {
            Some(a) if a >= lo => (a, ">"),
            _ => (lo, ">="),
        };
        let upper = if hi.is_some() {
            " AND key < ?2"
        } else {
            " AND ?2 IS NULL"
        };
        let sql =
            format!("SELECT {cols} FROM {t} WHERE key {lower_op} ?1{upper} ORDER BY key LIMIT ?3");
        let emit = |sink: &mut dyn Sink, key: &[u8], stored: &[u8]| -> Result<()> {
            if !req.with_values {
                return sink.key(key);
            }
            if !req.decoded {
                return sink.entry(key, 0, codec::stored_view(stored));
            }
            match codec::decode_span(stored)? {
                (kind, codec::Span::Slice(a, b)) => sink.entry(key, kind, &stored[a..b]),
                (kind, codec::Span::Owned(t)) => sink.entry(key, kind, &t.payload),
            }
        };
        let full =
            |sink: &dyn Sink, n: usize| n >= limit || (n > 0 && sink.size() >= req.max_bytes);
        inner.db.read(true, |c| {
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query(params![lower, hi, limit as i64])?;
            let mut n = 0usize;
            let mut ci = 0usize;
            loop {
                let Some(row) = rows.next()? else { break };
                let key = blob_of(row, 0)?;
                while ci < cached.len() && cached[ci].0.as_slice() < key {
                    if full(sink, n) {
                        return Ok(false);
                    }
                    emit(sink, &cached[ci].0, &cached[ci].1)?;
                    ci += 1;
                    n += 1;
                }
                if full(sink, n) {
                    return Ok(false);
                }
                if ci < cached.len() && cached[ci].0.as_slice() == key {
                    emit(sink, &cached[ci].0, &cached[ci].1)?;
                    ci += 1;
                } else {
                    let stored = if req.with_values {
                        blob_of(row, 1)?
                    } else {
                        &[]
                    };
                    emit(sink, key, stored)?;
                }
                n += 1;
            }
            while ci < cached.len() {
                if full(sink, n) {
                    return Ok(false);
                }
                emit(sink, &cached[ci].0, &cached[ci].1)?;
                ci += 1;
                n += 1;
            }
            // The query ran out of rows: unless it stopped at its LIMIT, nothing follows.
            Ok(n < limit)
        })
    }

    pub fn enable_cache(
        &self,
        cap_bytes: u64,
        flush_threshold: u64,
        flush_interval_secs: Option<f64>,
    ) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            if cap_bytes == 0 || flush_threshold == 0 {
                return Err(Error::invalid("cache sizes must be positive"));
            }
            if let Some(s) = flush_interval_secs {
                if !(s.is_finite() && s > 0.0) {
                    return Err(Error::invalid(
                        "flush_interval must be a positive finite number",
                    ));
                }
            }
            {
                let c = inner.cache.lock();
                if c.locked && !c.pending.is_empty() {
                    return Err(Error::Busy(
                        "Cache error: cannot reset a locked nonempty cache".into(),
                    ));
                }
            }
            inner.flush(true)?;
            {
                let mut c = inner.cache.lock();
                c.enabled = true;
                c.cap = cap_bytes;
                c.threshold = flush_threshold.min(cap_bytes);
            }
            match flush_interval_secs {
                Some(s) => inner.start_flusher(Duration::from_secs_f64(s)),
                None => inner.stop_flusher(),
            }
            Ok(())
        })
    }

    pub fn disable_cache(&self) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?;
            inner.stop_flusher();
            if inner.cache.lock().locked {
                return Err(Error::Busy(
                    "Cache error: cannot disable cache while flushing is locked".into(),
                ));
            }
            let _g = inner.gate_write()?;
            inner.flush(true)?;
            inner.cache.lock().enabled = false;
            Ok(())
        })
    }

    pub fn flush_cache(&self) -> VResult<u64> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?; // a closed vault is an error in every language
            let locked = inner.cache.lock().locked;
            let n = inner.flush(false)?;
            if !locked {
                *inner.bg_error.lock() = None;
            }
            Ok(n)
        })
    }

    pub fn set_cache_locked(&self, locked: bool) {
        self.inner.cache.lock().locked = locked;
    }

    pub fn cache_stats(&self) -> CacheStats {
        let c = self.inner.cache.lock();
        CacheStats {
            pending_entries: c.pending.len() as u64,
            inflight_entries: c.inflight.as_ref().map_or(0, |b| b.len() as u64),
            buffered_bytes: c.buffered(),
            enabled: c.enabled,
            locked: c.locked,
            cap_bytes: c.cap,
            flush_threshold: c.threshold,
        }
    }

    pub fn background_flush_error(&self) -> Option<String> {
        self.inner.bg_error.lock().clone()
    }

    pub fn put_stream(&self, key: &[u8], size: u64) -> VResult<Arc<stream::PutStream>> {
        guard(|| stream::PutStream::begin(self.inner.clone(), key, size).map(Arc::new))
    }

    pub fn get_stream(&self, key: &[u8]) -> VResult<Arc<stream::GetStream>> {
        guard(|| stream::GetStream::open(&self.inner, key).map(Arc::new))
    }

    pub fn set_headers_enabled(&self, enabled: bool) {
        self.inner.headers.store(enabled, Ordering::Relaxed);
    }

    pub fn headers_enabled(&self) -> bool {
        self.inner.headers.load(Ordering::Relaxed)
    }

    pub fn register_feature(&self, feature: String) -> VResult<()> {
        guard(|| {
            self.inner.db.check_open()?;
            maintenance::register_feature(self.inner.db.db(), &feature)
        })
    }

    pub fn features(&self) -> VResult<Vec<String>> {
        guard(|| {
            self.inner.db.check_open()?;
            maintenance::features(self.inner.db.db())
        })
    }

    pub fn checkpoint(&self) -> VResult<()> {
        guard(|| {
            self.inner.db.check_open()?;
            maintenance::checkpoint(self.inner.db.db())
        })
    }

    /// Flushes the cache, then `PRAGMA optimize` and `VACUUM`.
    pub fn optimize(&self) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            inner.flush(true)?;
            maintenance::optimize(inner.db.db())
        })
    }

    /// `PRAGMA integrity_check` of the file: `["ok"]` when sound.
    pub fn integrity_check(&self) -> VResult<Vec<String>> {
        guard(|| {
            self.inner.db.check_open()?;
            maintenance::integrity_check(self.inner.db.db())
        })
    }

    /// The user tables of the file, sorted (every vault's, not only this one).
    pub fn tables(&self) -> VResult<Vec<String>> {
        guard(|| {
            self.inner.db.check_open()?;
            maintenance::tables(self.inner.db.db())
        })
    }

    pub fn reader_pool_stats(&self) -> ReaderPoolStats {
        let (idle, bytes) = self.inner.db.reader_pool_stats();
        ReaderPoolStats {
            idle_connections: idle,
            sqlite_cache_bytes: bytes,
        }
    }

    pub fn interrupt(&self) {
        self.inner.db.interrupt();
    }

    pub fn close(&self) -> VResult<()> {
        guard(|| self.inner.close())
    }

    pub fn fast_handle(&self) -> u64 {
        if self.inner.db.is_closed() {
            return 0;
        }
        fastpath::claim(&self.inner.fast_id, &self.inner)
    }
}

/// Smallest key greater than every key starting with `prefix` (None: no upper bound).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A BLOB (or TEXT) column of a row as bytes; NULL reads as empty.
fn blob_of<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r [u8]> {
    use rusqlite::types::ValueRef;
    match row.get_ref(i)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b),
        ValueRef::Null => Ok(&[]),
        _ => Err(Error::corrupt("a KVault key or value is not a BLOB")),
    }
}

/// One `get_many` result: missing, or the value decoded (`decoded`) or as stored.
fn emit_value(sink: &mut dyn Sink, stored: Option<&[u8]>, decoded: bool) -> Result<()> {
    match stored {
        None => sink.missing(),
        Some(s) if decoded => match codec::decode_span(s)? {
            (kind, codec::Span::Slice(a, b)) => sink.value(kind, &s[a..b]),
            (kind, codec::Span::Owned(t)) => sink.value(kind, &t.payload),
        },
        Some(s) => sink.value(0, codec::stored_view(s)),
    }
}

/// Parameters of one scan page.
pub(crate) struct ScanSpec<'a> {
    pub prefix: Option<&'a [u8]>,
    pub after: Option<&'a [u8]>,
    pub limit: usize,
    /// Stop once the page has at least this many bytes (and one entry).
    pub max_bytes: usize,
    pub with_values: bool,
    pub decoded: bool,
}

/// The UDL's `ScanPage`: packed entries (FORMAT.md §4) and whether the scan is over.
#[derive(Debug, Clone)]
pub struct ScanPage {
    pub entries: Vec<u8>,
    pub end: bool,
}

/// The UDL's `ScanRequest`.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub prefix: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
    pub limit: u32,
    pub with_values: bool,
    pub decoded: bool,
}

/// The UDL's `CacheStats`.
#[derive(Debug, Clone)]
pub struct CacheStats {
    pub pending_entries: u64,
    pub inflight_entries: u64,
    pub buffered_bytes: u64,
    pub enabled: bool,
    pub locked: bool,
    pub cap_bytes: u64,
    pub flush_threshold: u64,
}

/// The UDL's `ReaderPoolStats`.
#[derive(Debug, Clone)]
pub struct ReaderPoolStats {
    pub idle_connections: u64,
    pub sqlite_cache_bytes: u64,
}
