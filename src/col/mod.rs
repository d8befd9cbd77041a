//! ColumnVault core: typed columns that behave like lists, stored in bounded BLOB blocks
//! (docs/FORMAT.md §6, docs/COMPATIBILITY.md §5), with write-back caches kept here for every
//! language: per column and vault-wide, capacity, threshold and a periodic flush; reads flush
//! their column first; a failed flush keeps its rows; nothing pending is lost on close or drop.

pub mod blocks;
pub mod cache;
pub mod dtype;
pub mod fast;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use rusqlite::OptionalExtension;

use crate::error::{guard, Error, Result, VResult};
use crate::fastpath;
use crate::ffi::packed::{put_tagged, split_columns};
use crate::storage::periodic::Periodic;
use crate::storage::{maintenance, schema, OpenOptions, VaultDb};
use blocks::Meta;
use cache::{CacheConfig, Pending};
pub use dtype::ColumnLayout;
use dtype::{ColumnType, MAX_RECORD};

/// The UDL's `ColumnInfo`.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    pub id: i64,
    pub name: String,
    pub dtype: String,
    /// Bytes per row; 0 = variable width.
    pub elem_size: u64,
    /// Committed rows plus this vault's pending (cached) rows.
    pub length: u64,
    pub block_bytes: u64,
    pub layout: ColumnLayout,
    /// Element dtype code of scalar/tensor columns (docs/FORMAT.md §2), else 0.
    pub elem_dtype: u8,
    pub shape: Vec<u32>,
    /// The value kind `append_values` takes and `read_values` returns.
    pub value_kind: u8,
}

/// The UDL's `VarRows`: variable-width rows as one buffer and `n + 1` u64 LE end offsets.
#[derive(Debug, Clone)]
pub struct VarRows {
    pub data: Vec<u8>,
    pub offsets: Vec<u8>,
}

/// The UDL's `ColumnStorageInfo`.
#[derive(Debug, Clone)]
pub struct ColumnStorageInfo {
    pub blocks: u64,
    pub payload_bytes: u64,
    pub capacity_bytes: u64,
}

pub use crate::storage::maintenance::WalCheckpoint;

/// The UDL's `ColumnCacheConfig`.
#[derive(Debug, Clone)]
pub struct ColumnCacheConfig {
    pub cap_bytes: u64,
    pub flush_threshold: u64,
    pub flush_interval_secs: Option<f64>,
}

/// One column as this vault knows it: fixed facts and its cache.
struct Column {
    meta: Meta,
    name: String,
    dtype: String,
    ty: ColumnType,
    cache: Option<CacheConfig>,
    pending: Pending,
}

pub struct ColInner {
    db: VaultDb,
    block_bytes: u64,
    /// Loaded columns by id; each behind its own lock (appends and flushes of one column are
    /// serialised, different columns proceed in parallel up to the shared writer).
    cols: Mutex<HashMap<i64, Arc<Mutex<Column>>>>,
    /// The vault-wide cache setting, applied to loaded columns and to those loaded later.
    vault_cache: Mutex<Option<CacheConfig>>,
    /// Pauses the periodic flush (`lock_cache`).
    timer_paused: AtomicBool,
    flusher: Periodic,
    bg_error: Mutex<Option<String>>,
    fast_id: AtomicU64,
}

/// The UDL's `ColumnStore`; facades call it `ColumnVault`.
pub struct ColumnStore {
    pub(crate) inner: Arc<ColInner>,
}

fn check_block_bytes(b: u64) -> Result<()> {
    if b == 0 || b > MAX_RECORD {
        return Err(Error::invalid("block_bytes must be between 1 and 512 MiB"));
    }
    Ok(())
}

/// Rows of one append, as stored.
pub enum Rows<'a> {
    Fixed(&'a [u8]),
    Var(Vec<&'a [u8]>),
}

impl Rows<'_> {
    fn count(&self, elem: u64) -> u64 {
        match self {
            Rows::Fixed(d) => d.len() as u64 / elem.max(1),
            Rows::Var(v) => v.len() as u64,
        }
    }
}

impl ColInner {
    fn column(&self, id: i64) -> Result<Arc<Mutex<Column>>> {
        self.db.check_open()?;
        if let Some(c) = self.cols.lock().get(&id) {
            return Ok(c.clone());
        }
        let row: Option<(String, String, i64, i64)> = self.db.read(false, |c| {
            Ok(c.query_row(
                "SELECT name, dtype, elem_size, block_bytes FROM kvault_col_columns WHERE col_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
        })?;
        let (name, dtype, elem_size, block_bytes) =
            row.ok_or_else(|| Error::NotFound("column not found".into()))?;
        let ty = ColumnType::parse(&dtype)?;
        if ty.elem_size() != elem_size as u64 {
            return Err(Error::corrupt(format!(
                "column {name:?} records {elem_size}-byte rows but its dtype {dtype:?} has {}",
                ty.elem_size()
            )));
        }
        let col = Arc::new(Mutex::new(Column {
            meta: Meta {
                id,
                elem_size: elem_size as u64,
                block_bytes: block_bytes as u64,
            },
            name,
            dtype,
            ty,
            cache: self.vault_cache.lock().clone(),
            pending: Pending::default(),
        }));
        Ok(self.cols.lock().entry(id).or_insert(col).clone())
    }

    /// Commits a column's pending rows in one transaction; returns the bytes flushed. A failure
    /// keeps them for the next attempt.
    fn flush_column(&self, col: &mut Column) -> Result<u64> {
        if col.pending.is_empty() {
            return Ok(0);
        }
        let meta = col.meta;
        let bytes = col.pending.data.len() as u64;
        let p = &col.pending;
        self.db.write_tx(|tx| {
            if meta.elem_size > 0 {
                blocks::append_fixed(tx, &meta, &p.data)?;
            } else {
                blocks::append_var(tx, &meta, &p.rows())?;
            }
            Ok(())
        })?;
        col.pending.clear();
        Ok(bytes)
    }

    /// Appends through the cache, or directly. A direct append runs with the column unlocked:
    /// its length and blocks are read inside its own transaction (writes queue on the writer),
    /// so readers and other threads never wait for a long append (they see the column before
    /// it until it commits).
    fn append_rows(&self, col: &mut MutexGuard<'_, Column>, rows: Rows<'_>) -> Result<()> {
        self.db.check_writable()?;
        let meta = col.meta;
        let Some(cfg) = col.cache.clone() else {
            return MutexGuard::unlocked(col, || self.direct_append(&meta, &rows));
        };
        let cost = Pending::cost_of(&rows);
        if col.pending.cost() + cost > cfg.cap_bytes {
            self.flush_column(col)?;
        }
        if cost > cfg.cap_bytes {
            return MutexGuard::unlocked(col, || self.direct_append(&meta, &rows));
        }
        col.pending.push(&rows);
        if let Rows::Fixed(_) = rows {
            col.pending.count_fixed(rows.count(meta.elem_size));
        }
        if col.pending.cost() >= cfg.flush_threshold {
            self.flush_column(col)?;
        }
        Ok(())
    }

    fn direct_append(&self, meta: &Meta, rows: &Rows<'_>) -> Result<()> {
        self.db.write_tx(|tx| {
            match rows {
                Rows::Fixed(d) => blocks::append_fixed(tx, meta, d)?,
                Rows::Var(v) => blocks::append_var(tx, meta, v)?,
            };
            Ok(())
        })
    }

    /// Locks a column for a read: flushes its pending rows first.
    fn for_read(&self, id: i64) -> Result<(Arc<Mutex<Column>>, Meta)> {
        let col = self.column(id)?;
        let meta = {
            let mut c = col.lock();
            if !c.pending.is_empty() {
                self.flush_column(&mut c)?;
            }
            c.meta
        };
        Ok((col, meta))
    }

    fn flush_all(&self) -> Result<u64> {
        let cols: Vec<_> = self.cols.lock().values().cloned().collect();
        let mut total = 0;
        let mut first_err = None;
        for c in cols {
            match self.flush_column(&mut c.lock()) {
                Ok(n) => total += n,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(total), Err)
    }

    fn stop_flusher(&self) {
        self.flusher.stop();
    }

    fn start_flusher(self: &Arc<Self>, interval: Duration) {
        if self.flusher.is_running() {
            return; // one timer at a time; a new interval is ignored (as 1.1.0)
        }
        self.flusher.start(
            "kohakuvault-col-flush",
            self,
            interval,
            |inner: &ColInner| {
                if inner.db.is_closed() {
                    return false;
                }
                if !inner.timer_paused.load(Ordering::Acquire) {
                    if let Err(e) = inner.flush_all() {
                        *inner.bg_error.lock() = Some(format!(
                            "Automatic column flush failed; pending data is retained ({e})"
                        ));
                    }
                }
                true
            },
        );
    }

    fn info_of(&self, col: &Column) -> Result<ColumnInfo> {
        let committed = self.db.read(false, |c| blocks::length(c, col.meta.id))?;
        Ok(ColumnInfo {
            id: col.meta.id,
            name: col.name.clone(),
            dtype: col.dtype.clone(),
            elem_size: col.meta.elem_size,
            length: committed + col.pending.rows,
            block_bytes: col.meta.block_bytes,
            layout: col.ty.layout(),
            elem_dtype: col.ty.elem_dtype(),
            shape: col.ty.shape(),
            value_kind: col.ty.value_kind(),
        })
    }

    fn close(&self) -> Result<()> {
        if self.db.is_closed() {
            return Ok(());
        }
        self.stop_flusher();
        if !self.db.read_only() {
            self.flush_all()?;
        }
        fastpath::unregister(self.fast_id.swap(0, Ordering::AcqRel));
        self.db.close()
    }
}

impl Drop for ColInner {
    fn drop(&mut self) {
        // Nothing pending is lost when a vault is dropped without close().
        if !self.db.is_closed() {
            let _ = self.close();
        }
    }
}

fn u64s(b: &[u8]) -> Result<Vec<u64>> {
    if !b.len().is_multiple_of(8) {
        return Err(Error::invalid(
            "indices must be 8-byte little-endian integers",
        ));
    }
    Ok(b.chunks_exact(8)
        .map(|x| u64::from_le_bytes(x.try_into().expect("8 bytes")))
        .collect())
}

fn offsets_bytes(ends: &[u64]) -> Vec<u8> {
    ends.iter().flat_map(|e| e.to_le_bytes()).collect()
}

/// Fixed-width rows as stored must be whole rows of a fixed-width column.
fn check_fixed_rows(meta: &Meta, data: &[u8]) -> Result<()> {
    if meta.elem_size == 0 {
        return Err(Error::invalid(
            "use append_var_rows for a variable-width column",
        ));
    }
    if !(data.len() as u64).is_multiple_of(meta.elem_size) {
        return Err(Error::invalid(format!(
            "{} bytes are not a whole number of {}-byte rows",
            data.len(),
            meta.elem_size
        )));
    }
    Ok(())
}

impl ColumnStore {
    pub fn new(path: String, block_bytes: u64, options: OpenOptions) -> VResult<Self> {
        guard(|| {
            if path.is_empty() || path.starts_with("file:") {
                return Err(Error::invalid(
                    "use a filesystem path or :memory:, not a SQLite URI",
                ));
            }
            check_block_bytes(block_bytes)?;
            let db = VaultDb::open(&path, options, "ColumnVault")?;
            if db.read_only() {
                if !schema::table_exists(db.db(), "kvault_col_format")? {
                    return Err(Error::NotFound(
                        "SQLite error: no such table: kvault_col_format".into(),
                    ));
                }
            } else {
                db.write_tx(|tx| {
                    tx.execute_batch(blocks::SCHEMA)?;
                    Ok(())
                })?;
            }
            let version: i64 = db.read(false, |c| {
                Ok(c.query_row(
                    "SELECT version FROM kvault_col_format WHERE singleton = 1",
                    [],
                    |r| r.get(0),
                )?)
            })?;
            if version != blocks::FORMAT_VERSION {
                return Err(Error::invalid(format!(
                    "unsupported column format version {version}"
                )));
            }
            Ok(ColumnStore {
                inner: Arc::new(ColInner {
                    db,
                    block_bytes,
                    cols: Mutex::new(HashMap::new()),
                    vault_cache: Mutex::new(None),
                    timer_paused: AtomicBool::new(false),
                    flusher: Periodic::default(),
                    bg_error: Mutex::new(None),
                    fast_id: AtomicU64::new(0),
                }),
            })
        })
    }

    pub fn path(&self) -> String {
        self.inner.db.path().to_string()
    }
    pub fn read_only(&self) -> bool {
        self.inner.db.read_only()
    }
    pub fn is_closed(&self) -> bool {
        self.inner.db.is_closed()
    }
    pub fn block_bytes(&self) -> u64 {
        self.inner.block_bytes
    }

    // ---- catalog ---------------------------------------------------------------------------

    pub fn create_column(
        &self,
        name: String,
        dtype: String,
        block_bytes: Option<u64>,
    ) -> VResult<ColumnInfo> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            if name.is_empty() || name.len() > 1024 {
                return Err(Error::invalid("invalid column name, dtype, or block size"));
            }
            let ty = ColumnType::parse(&dtype)?;
            let bb = block_bytes.unwrap_or(inner.block_bytes);
            check_block_bytes(bb)?;
            let id = inner.db.write_tx(|tx| {
                tx.execute(
                    "INSERT INTO kvault_col_columns(name, dtype, elem_size, length, block_bytes) VALUES (?1, ?2, ?3, 0, ?4)",
                    rusqlite::params![name, dtype, ty.elem_size() as i64, bb as i64],
                )?;
                Ok(tx.last_insert_rowid())
            })?;
            let col = inner.column(id)?;
            let c = col.lock();
            inner.info_of(&c)
        })
    }

    /// The column `name`, created with `dtype` when missing; an existing column of another
    /// dtype is an error naming both.
    pub fn ensure_column(
        &self,
        name: String,
        dtype: String,
        block_bytes: Option<u64>,
    ) -> VResult<ColumnInfo> {
        guard(|| {
            if let Some(info) = self.lookup(&name)? {
                if info.dtype != dtype {
                    return Err(Error::invalid(format!(
                        "Column '{name}' has dtype '{}', not '{dtype}'",
                        info.dtype
                    )));
                }
                return Ok(info);
            }
            self.create_column(name, dtype, block_bytes)
                .map_err(|e| Error::invalid(e.to_string()))
        })
    }

    fn lookup(&self, name: &str) -> Result<Option<ColumnInfo>> {
        let inner = &self.inner;
        inner.db.check_open()?;
        let id: Option<i64> = inner.db.read(false, |c| {
            Ok(c.query_row(
                "SELECT col_id FROM kvault_col_columns WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        match id {
            None => Ok(None),
            Some(id) => {
                let col = inner.column(id)?;
                let c = col.lock();
                inner.info_of(&c).map(Some)
            }
        }
    }

    /// The column `name`, or None.
    pub fn info(&self, name: String) -> VResult<Option<ColumnInfo>> {
        guard(|| self.lookup(&name))
    }

    pub fn info_by_id(&self, id: i64) -> VResult<ColumnInfo> {
        guard(|| {
            let col = self.inner.column(id)?;
            let c = col.lock();
            self.inner.info_of(&c)
        })
    }

    /// Every column, by id, with its committed length.
    pub fn list_columns(&self) -> VResult<Vec<ColumnInfo>> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?;
            let ids: Vec<i64> = inner.db.read(false, |c| {
                let mut st = c.prepare("SELECT col_id FROM kvault_col_columns ORDER BY col_id")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let col = inner.column(id)?;
                let c = col.lock();
                let mut info = inner.info_of(&c)?;
                info.length -= c.pending.rows;
                out.push(info);
            }
            Ok(out)
        })
    }

    /// Deletes a column and its data (pending rows included). False when it did not exist.
    pub fn delete_column(&self, name: String) -> VResult<bool> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let Some(info) = self.lookup(&name)? else {
                return Ok(false);
            };
            let col = inner.column(info.id)?;
            let mut c = col.lock();
            inner.db.write_tx(|tx| {
                blocks::clear(tx, info.id)?;
                tx.execute(
                    "DELETE FROM kvault_col_columns WHERE col_id = ?1",
                    [info.id],
                )?;
                Ok(())
            })?;
            c.pending.clear();
            inner.cols.lock().remove(&info.id);
            Ok(true)
        })
    }

    /// Committed plus pending rows (does not flush).
    pub fn length(&self, id: i64) -> VResult<u64> {
        guard(|| {
            let col = self.inner.column(id)?;
            let c = col.lock();
            let committed = self.inner.db.read(false, |cn| blocks::length(cn, id))?;
            Ok(committed + c.pending.rows)
        })
    }

    // ---- appends ---------------------------------------------------------------------------

    /// Fixed-width rows as stored (`elem_size` bytes each, little-endian), through the cache.
    pub fn append_rows(&self, id: i64, data: &[u8]) -> VResult<()> {
        guard(|| {
            let col = self.inner.column(id)?;
            let mut c = col.lock();
            check_fixed_rows(&c.meta, data)?;
            self.inner.append_rows(&mut c, Rows::Fixed(data))
        })
    }

    /// `append_rows` for the C fast path, only while the column has no cache in the core: then
    /// the rows commit in one transaction, so an error always means nothing was stored. `None`
    /// (nothing done) when the column is cached: make the UDL call.
    pub(crate) fn append_rows_uncached(&self, id: i64, data: &[u8]) -> Result<Option<()>> {
        let col = self.inner.column(id)?;
        let mut c = col.lock();
        if c.cache.is_some() {
            return Ok(None);
        }
        check_fixed_rows(&c.meta, data)?;
        self.inner.append_rows(&mut c, Rows::Fixed(data)).map(Some)
    }

    /// Variable-width rows as stored: `lens` (n × u32 LE) over the concatenated `data`.
    pub fn append_var_rows(&self, id: i64, lens: &[u8], data: &[u8]) -> VResult<()> {
        guard(|| {
            let col = self.inner.column(id)?;
            let mut c = col.lock();
            if c.meta.elem_size != 0 {
                return Err(Error::invalid("use append_rows for a fixed-width column"));
            }
            let rows = split_columns(lens, data, lens.len() / 4)?;
            if rows.iter().any(|r| r.len() as u64 > MAX_RECORD) {
                return Err(Error::invalid(
                    "a variable-width record cannot exceed 512 MiB",
                ));
            }
            self.inner.append_rows(&mut c, Rows::Var(rows))
        })
    }

    /// UTF-8 texts appended to a text column (converted to its codec first: one bad value
    /// changes nothing), for the Python builtin `col_append_text`; like
    /// [`append_rows_uncached`](Self::append_rows_uncached), `None` (nothing done) when the
    /// column is cached in the core.
    pub(crate) fn append_text_uncached(&self, id: i64, texts: &[&[u8]]) -> Result<Option<()>> {
        let col = self.inner.column(id)?;
        let mut c = col.lock();
        if c.cache.is_some() {
            return Ok(None);
        }
        if !matches!(c.ty, ColumnType::Text { .. }) {
            return Err(Error::invalid("not a text column"));
        }
        let encoded: Vec<std::borrow::Cow<'_, [u8]>> = texts
            .iter()
            .map(|t| c.ty.encode(crate::codec::KIND_UTF8, t))
            .collect::<Result<_>>()?;
        let rows: Vec<&[u8]> = encoded.iter().map(|r| r.as_ref()).collect();
        if rows.iter().any(|r| r.len() as u64 > MAX_RECORD) {
            return Err(Error::invalid(
                "a variable-width record cannot exceed 512 MiB",
            ));
        }
        self.inner.append_rows(&mut c, Rows::Var(rows)).map(Some)
    }

    /// Values as (kind, payload) columns, encoded by the column's dtype (text codecs, DataPacker)
    /// before anything is written: one bad value changes nothing.
    pub fn append_values(
        &self,
        id: i64,
        kinds: &[u8],
        lens: &[u8],
        payloads: &[u8],
    ) -> VResult<()> {
        guard(|| {
            let col = self.inner.column(id)?;
            let mut c = col.lock();
            let values = split_columns(lens, payloads, kinds.len())?;
            let encoded: Vec<std::borrow::Cow<'_, [u8]>> = kinds
                .iter()
                .zip(values)
                .map(|(&k, p)| c.ty.encode(k, p))
                .collect::<Result<_>>()?;
            if c.meta.elem_size > 0 {
                let data = encoded.concat();
                self.inner.append_rows(&mut c, Rows::Fixed(&data))
            } else {
                let rows: Vec<&[u8]> = encoded.iter().map(|r| r.as_ref()).collect();
                if rows.iter().any(|r| r.len() as u64 > MAX_RECORD) {
                    return Err(Error::invalid(
                        "a variable-width record cannot exceed 512 MiB",
                    ));
                }
                self.inner.append_rows(&mut c, Rows::Var(rows))
            }
        })
    }

    // ---- reads (each flushes its column's pending rows first) ------------------------------

    pub fn read_rows(&self, id: i64, start: u64, count: u64) -> VResult<Vec<u8>> {
        guard(|| {
            let (_col, meta) = self.inner.for_read(id)?;
            let size = count
                .checked_mul(meta.elem_size)
                .filter(|n| *n <= isize::MAX as u64)
                .ok_or_else(|| Error::invalid("column index out of range"))?;
            self.inner.db.read(true, |c| {
                blocks::check_range(c, &meta, start, count)?;
                let mut out = vec![0u8; size as usize];
                blocks::read_fixed_into(c, &meta, start, count, &mut out)?;
                Ok(out)
            })
        })
    }

    /// Fixed-width rows into a caller buffer (the C fast path's body).
    pub(crate) fn read_rows_into(
        &self,
        id: i64,
        start: u64,
        count: u64,
        out: &mut [u8],
    ) -> Result<()> {
        let (_col, meta) = self.inner.for_read(id)?;
        self.inner.db.read(true, |c| {
            blocks::read_fixed_into(c, &meta, start, count, out)
        })
    }

    /// The rows of a scalar column into `out` (resized to `count * elem_size`; its old bytes
    /// are overwritten) and the element dtype code (docs/FORMAT.md §2); InvalidArgument for
    /// other layouts. The body of the Python list builtin (`col_list`).
    pub(crate) fn read_scalars_into(
        &self,
        id: i64,
        start: u64,
        count: u64,
        out: &mut Vec<u8>,
    ) -> Result<u8> {
        let (col, meta) = self.inner.for_read(id)?;
        let ColumnType::Scalar { elem } = col.lock().ty else {
            return Err(Error::invalid("not a scalar column"));
        };
        let size = count
            .checked_mul(meta.elem_size)
            .filter(|n| *n <= isize::MAX as u64)
            .ok_or_else(|| Error::invalid("column index out of range"))?;
        out.resize(size as usize, 0);
        self.inner.db.read(true, |c| {
            blocks::read_fixed_into(c, &meta, start, count, out)
        })?;
        Ok(elem)
    }

    pub fn read_var_rows(&self, id: i64, start: u64, count: u64) -> VResult<VarRows> {
        guard(|| {
            let (_col, meta) = self.inner.for_read(id)?;
            let (data, ends) = self
                .inner
                .db
                .read(true, |c| blocks::read_var(c, &meta, start, count))?;
            Ok(VarRows {
                data,
                offsets: offsets_bytes(&ends),
            })
        })
    }

    /// Rows decoded by the dtype as items `[kind u8][len u32][payload]` (text as UTF-8,
    /// DataPacker records as their values, raw rows as kind 0).
    pub fn read_values(&self, id: i64, start: u64, count: u64) -> VResult<Vec<u8>> {
        guard(|| {
            let (col, meta) = self.inner.for_read(id)?;
            let rows: Vec<Vec<u8>> = self.inner.db.read(true, |c| {
                if meta.elem_size > 0 {
                    blocks::check_range(c, &meta, start, count)?;
                    let mut out = vec![0u8; (count * meta.elem_size) as usize];
                    blocks::read_fixed_into(c, &meta, start, count, &mut out)?;
                    Ok(out
                        .chunks_exact(meta.elem_size as usize)
                        .map(<[u8]>::to_vec)
                        .collect())
                } else {
                    let (data, ends) = blocks::read_var(c, &meta, start, count)?;
                    Ok(ends
                        .windows(2)
                        .map(|w| data[w[0] as usize..w[1] as usize].to_vec())
                        .collect())
                }
            })?;
            let c = col.lock();
            let mut out = Vec::new();
            for r in rows {
                let (k, p) = c.ty.decode(&r)?;
                put_tagged(&mut out, k, &p)?;
            }
            Ok(out)
        })
    }

    /// Fixed-width rows at `indices` (u64 LE each, in order, duplicates kept).
    pub fn take_rows(&self, id: i64, indices: &[u8]) -> VResult<Vec<u8>> {
        guard(|| {
            let idx = u64s(indices)?;
            let (_col, meta) = self.inner.for_read(id)?;
            self.inner
                .db
                .read(true, |c| blocks::take_fixed(c, &meta, &idx))
        })
    }

    /// Variable-width rows at `indices`.
    pub fn take_var_rows(&self, id: i64, indices: &[u8]) -> VResult<VarRows> {
        guard(|| {
            let idx = u64s(indices)?;
            let (_col, meta) = self.inner.for_read(id)?;
            let (data, ends) = self.inner.db.read(true, |c| {
                let len = blocks::length(c, meta.id)?;
                if idx.iter().any(|&i| i >= len) {
                    return Err(Error::invalid("column index out of range"));
                }
                let mut data = Vec::new();
                let mut ends = vec![0u64];
                for &i in &idx {
                    let (d, _) = blocks::read_var(c, &meta, i, 1)?;
                    data.extend_from_slice(&d);
                    ends.push(data.len() as u64);
                }
                Ok((data, ends))
            })?;
            Ok(VarRows {
                data,
                offsets: offsets_bytes(&ends),
            })
        })
    }

    /// Rows at `indices` decoded by the dtype, as `read_values` returns them.
    pub fn take_values(&self, id: i64, indices: &[u8]) -> VResult<Vec<u8>> {
        guard(|| {
            let idx = u64s(indices)?;
            let (col, meta) = self.inner.for_read(id)?;
            let rows: Vec<Vec<u8>> = self.inner.db.read(true, |c| {
                if meta.elem_size > 0 {
                    let data = blocks::take_fixed(c, &meta, &idx)?;
                    return Ok(data
                        .chunks_exact(meta.elem_size as usize)
                        .map(<[u8]>::to_vec)
                        .collect());
                }
                let len = blocks::length(c, meta.id)?;
                if idx.iter().any(|&i| i >= len) {
                    return Err(Error::invalid("column index out of range"));
                }
                idx.iter()
                    .map(|&i| blocks::read_var(c, &meta, i, 1).map(|(d, _)| d))
                    .collect()
            })?;
            let c = col.lock();
            let mut out = Vec::new();
            for r in rows {
                let (k, p) = c.ty.decode(&r)?;
                put_tagged(&mut out, k, &p)?;
            }
            Ok(out)
        })
    }

    /// Variable-width rows `[start, start + count)` as a page of Python objects (the C fast
    /// path, docs/FORMAT.md §4.1): `str` for text columns, `bytes` for bytes columns, decoded
    /// values (as KVault pages carry them) for DataPacker columns.
    pub(crate) fn rows_page_into(
        &self,
        id: i64,
        start: u64,
        count: u64,
        page: &mut Vec<u8>,
    ) -> Result<()> {
        let (col, meta) = self.inner.for_read(id)?;
        if meta.elem_size > 0 {
            return Err(Error::invalid("pages are for variable-width columns"));
        }
        let (data, ends) = self
            .inner
            .db
            .read(true, |c| blocks::read_var(c, &meta, start, count))?;
        let c = col.lock();
        let mut sink = crate::ffi::page::PyPage::begin(page);
        use crate::ffi::page::Sink;
        for w in ends.windows(2) {
            let row = &data[w[0] as usize..w[1] as usize];
            match &c.ty {
                ColumnType::Text {
                    codec: dtype::Codec::Utf8,
                } => {
                    if std::str::from_utf8(row).is_err() {
                        return Err(Error::invalid("cannot decode stored text as utf-8"));
                    }
                    sink.text(row)?;
                }
                ColumnType::Bytes => sink.key(row)?,
                ty => {
                    let (k, p) = ty.decode(row)?;
                    if k == crate::codec::KIND_UTF8 {
                        sink.text(&p)?;
                    } else {
                        sink.value(k, &p)?;
                    }
                }
            }
        }
        sink.finish(true)
    }

    // ---- in-place changes (each one transaction) ---------------------------------------------

    /// Overwrites fixed-width rows from `start` in place.
    pub fn overwrite_rows(&self, id: i64, start: u64, data: &[u8]) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let (col, meta) = inner.for_read(id)?;
            let _c = col.lock();
            inner
                .db
                .write_tx(|tx| blocks::overwrite_fixed(tx, &meta, start, data))
        })
    }

    /// Replaces rows `[start, start + delete_count)` with new stored rows (`lens` u32 LE over
    /// `data` for variable width; `lens` empty and whole rows in `data` for fixed width): delete,
    /// insert and variable-width slice assignment in one transaction.
    pub fn splice_rows(
        &self,
        id: i64,
        start: u64,
        delete_count: u64,
        lens: &[u8],
        data: &[u8],
    ) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let (col, meta) = inner.for_read(id)?;
            let _c = col.lock();
            let new_rows: Vec<&[u8]> = if meta.elem_size > 0 {
                if !lens.is_empty() || !(data.len() as u64).is_multiple_of(meta.elem_size) {
                    return Err(Error::invalid("data is not a whole number of rows"));
                }
                data.chunks_exact(meta.elem_size as usize).collect()
            } else {
                split_columns(lens, data, lens.len() / 4)?
            };
            inner.db.write_tx(|tx| {
                let len = blocks::check_range(tx, &meta, start, delete_count)?;
                if meta.elem_size > 0 && new_rows.len() as u64 == delete_count {
                    return blocks::overwrite_fixed(tx, &meta, start, data);
                }
                // Keep rows before `start` that fill whole blocks; rewrite from there on.
                // Whole blocks before the one holding `start` stay as they are.
                let keep = match meta.block_bytes.checked_div(meta.elem_size) {
                    Some(rpb) => start - start % rpb.max(1),
                    None => blocks::block_start(tx, meta.id, start)?,
                };
                let (tail_data, tail_ends) = if meta.elem_size > 0 {
                    let mut out = vec![0u8; ((len - keep) * meta.elem_size) as usize];
                    blocks::read_fixed_into(tx, &meta, keep, len - keep, &mut out)?;
                    let e = meta.elem_size;
                    let ends: Vec<u64> = (0..=(len - keep)).map(|i| i * e).collect();
                    (out, ends)
                } else {
                    blocks::read_var(tx, &meta, keep, len - keep)?
                };
                let row = |i: u64| {
                    let i = i as usize;
                    &tail_data[tail_ends[i] as usize..tail_ends[i + 1] as usize]
                };
                let mut rows: Vec<&[u8]> = Vec::new();
                rows.extend((0..start - keep).map(row));
                rows.extend(new_rows.iter().copied());
                rows.extend((start + delete_count - keep..len - keep).map(row));
                truncate(tx, &meta, keep)?;
                if meta.elem_size > 0 {
                    blocks::append_fixed(tx, &meta, &rows.concat())?;
                } else {
                    blocks::append_var(tx, &meta, &rows)?;
                }
                Ok(())
            })
        })
    }

    /// `splice_rows` with new rows given as values (kind, payload columns), encoded by the
    /// column's dtype first (slice assignment and insert on text and DataPacker columns).
    pub fn splice_values(
        &self,
        id: i64,
        start: u64,
        delete_count: u64,
        kinds: &[u8],
        lens: &[u8],
        payloads: &[u8],
    ) -> VResult<()> {
        let encoded = guard(|| {
            let col = self.inner.column(id)?;
            let c = col.lock();
            let values = split_columns(lens, payloads, kinds.len())?;
            kinds
                .iter()
                .zip(values)
                .map(|(&k, p)| c.ty.encode(k, p).map(|r| r.into_owned()))
                .collect::<Result<Vec<Vec<u8>>>>()
                .map(|rows| (rows, c.meta.elem_size))
        })?;
        let (rows, elem) = encoded;
        if elem > 0 {
            self.splice_rows(id, start, delete_count, &[], &rows.concat())
        } else {
            let lens: Vec<u8> = rows
                .iter()
                .flat_map(|r| (r.len() as u32).to_le_bytes())
                .collect();
            self.splice_rows(id, start, delete_count, &lens, &rows.concat())
        }
    }

    /// Deletes every row (pending ones too).
    pub fn clear(&self, id: i64) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let col = inner.column(id)?;
            let mut c = col.lock();
            inner.db.write_tx(|tx| blocks::clear(tx, id))?;
            c.pending.clear();
            Ok(())
        })
    }

    pub fn storage_info(&self, id: i64) -> VResult<ColumnStorageInfo> {
        guard(|| {
            let (_col, meta) = self.inner.for_read(id)?;
            let (blocks, payload_bytes, capacity_bytes) = self
                .inner
                .db
                .read(false, |c| blocks::storage_info(c, meta.id))?;
            Ok(ColumnStorageInfo {
                blocks,
                payload_bytes,
                capacity_bytes,
            })
        })
    }

    /// Flushes every cache, then `PRAGMA wal_checkpoint(PASSIVE)`.
    pub fn checkpoint(&self) -> VResult<WalCheckpoint> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            inner.flush_all()?;
            maintenance::checkpoint_counts(inner.db.db())
        })
    }

    // ---- caches ------------------------------------------------------------------------------

    /// Enables the cache of one column (`id`) or of the vault (None: every loaded column and every
    /// column loaded later; `flush_interval_secs` starts the periodic flush unless one runs).
    pub fn enable_cache(
        &self,
        id: Option<i64>,
        cap_bytes: u64,
        flush_threshold: u64,
        flush_interval_secs: Option<f64>,
    ) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_writable()?;
            let cfg = CacheConfig::new(cap_bytes, flush_threshold, flush_interval_secs)?;
            match id {
                Some(id) => {
                    let col = inner.column(id)?;
                    let mut c = col.lock();
                    inner.flush_column(&mut c)?;
                    c.cache = Some(cfg);
                }
                None => {
                    *inner.vault_cache.lock() = Some(cfg.clone());
                    let cols: Vec<_> = inner.cols.lock().values().cloned().collect();
                    for col in cols {
                        col.lock().cache = Some(cfg.clone());
                    }
                    if let Some(s) = flush_interval_secs {
                        inner.start_flusher(Duration::from_secs_f64(s));
                    }
                }
            }
            Ok(())
        })
    }

    /// Flushes and disables the cache of one column, or (None) of the vault and every column,
    /// stopping the periodic flush.
    pub fn disable_cache(&self, id: Option<i64>) -> VResult<()> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?;
            match id {
                Some(id) => {
                    let col = inner.column(id)?;
                    let mut c = col.lock();
                    inner.flush_column(&mut c)?;
                    c.cache = None;
                }
                None => {
                    inner.stop_flusher();
                    inner.flush_all()?;
                    *inner.vault_cache.lock() = None;
                    for col in inner.cols.lock().values() {
                        col.lock().cache = None;
                    }
                }
            }
            Ok(())
        })
    }

    /// The cache setting of one column or of the vault (None when disabled).
    pub fn cache_config(&self, id: Option<i64>) -> VResult<Option<ColumnCacheConfig>> {
        guard(|| {
            let cfg = match id {
                Some(id) => self.inner.column(id)?.lock().cache.clone(),
                None => self.inner.vault_cache.lock().clone(),
            };
            Ok(cfg.map(|c| ColumnCacheConfig {
                cap_bytes: c.cap_bytes,
                flush_threshold: c.flush_threshold,
                flush_interval_secs: c.flush_interval_secs,
            }))
        })
    }

    /// Commits pending rows of one column or of all; returns the bytes flushed.
    pub fn flush_cache(&self, id: Option<i64>) -> VResult<u64> {
        guard(|| {
            let inner = &self.inner;
            inner.db.check_open()?;
            let n = match id {
                Some(id) => inner.flush_column(&mut inner.column(id)?.lock())?,
                None => inner.flush_all()?,
            };
            Ok(n)
        })
    }

    /// Pauses (true) or resumes the periodic flush; threshold and capacity flushes still happen.
    pub fn set_cache_locked(&self, locked: bool) {
        self.inner.timer_paused.store(locked, Ordering::Release);
    }

    /// The last periodic-flush failure, cleared by this call.
    pub fn take_background_error(&self) -> Option<String> {
        self.inner.bg_error.lock().take()
    }

    /// Bytes of pending (cached, uncommitted) rows of one column or of all.
    pub fn pending_bytes(&self, id: Option<i64>) -> VResult<u64> {
        guard(|| {
            Ok(match id {
                Some(id) => self.inner.column(id)?.lock().pending.cost(),
                None => self
                    .inner
                    .cols
                    .lock()
                    .values()
                    .map(|c| c.lock().pending.cost())
                    .sum(),
            })
        })
    }

    /// Flushes every cache and closes; a failed flush leaves the vault open for a retry.
    pub fn close(&self) -> VResult<()> {
        guard(|| self.inner.close())
    }

    /// Id for the C fast path (docs/FORMAT.md §5); 0 when closed.
    pub fn fast_handle(&self) -> u64 {
        if self.inner.db.is_closed() {
            return 0;
        }
        fastpath::claim(&self.inner.fast_id, &self.inner)
    }
}

/// Drops rows from `keep` on; `keep` is the first row of a block (rows before it stay).
fn truncate(c: &rusqlite::Connection, m: &Meta, keep: u64) -> Result<()> {
    if keep == 0 {
        return blocks::clear(c, m.id);
    }
    c.execute(
        "DELETE FROM kvault_col_data WHERE block_id IN (SELECT block_id FROM kvault_col_blocks WHERE col_id = ?1 AND first_row >= ?2)",
        rusqlite::params![m.id, keep as i64],
    )?;
    c.execute(
        "DELETE FROM kvault_col_blocks WHERE col_id = ?1 AND first_row >= ?2",
        rusqlite::params![m.id, keep as i64],
    )?;
    c.execute(
        "UPDATE kvault_col_columns SET length = ?2 WHERE col_id = ?1",
        rusqlite::params![m.id, keep as i64],
    )?;
    Ok(())
}
