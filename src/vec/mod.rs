//! VectorKVault: exact k-NN next to the values it describes (docs/FORMAT.md §7).
//!
//! Storage is kohakuvault 1.1.0's: a sqlite-vec `vec0` table `{t}(value_ref, vector)` plus
//! `{t}_values(id, value)`, so each library reads the other's files; optional per-row metadata
//! lives in `{t}_kv_meta(id, metadata JSON)`. Searches scan an in-memory copy of the vectors
//! ([`mirror`]) with kernels chosen for the CPU at run time ([`kernels`]): exact results at
//! memory speed, and filters applied before k is taken, so a filtered search returns k hits
//! whenever k rows match. Every write is one transaction; the copy is shared by every handle of
//! the table in the process and patched at commit, and another program's commits are noticed
//! through the writer connection's `data_version` (docs/FORMAT.md §7.2).

pub mod direct;
pub mod fast;
pub mod kernels;
pub mod mirror;
pub mod spec;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::{Mutex, RwLock, RwLockWriteGuard};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::codec::{self, TaggedValue};
use crate::error::{guard, Error, Result, VResult};
use crate::ffi::packed::{put_tagged, split_columns};
use crate::storage::maintenance::{self, WalCheckpoint};
use crate::storage::{quote_ident, schema, OpenOptions, VaultDb};
use kernels::Kernel;
use mirror::{Hit, Mirror};
use spec::{ElemType, Metric, Spec};

/// The largest k a search accepts.
pub const MAX_K: u32 = 1_000_000;

/// The UDL's `VectorInfo`.
#[derive(Debug, Clone)]
pub struct VectorInfo {
    pub table: String,
    pub dimensions: u32,
    pub metric: String,
    pub vector_type: String,
    pub count: u64,
    pub row_bytes: u32,
    pub deleted_slots: u64,
}

/// The UDL's `VectorFilter`.
#[derive(Debug, Clone, Default)]
pub struct VectorFilter {
    pub ids: Option<Vec<i64>>,
    pub metadata_equals: Option<Vec<u8>>,
}

/// The UDL's `VectorHits`.
#[derive(Debug, Clone, Default)]
pub struct VectorHits {
    pub counts: Vec<u8>,
    pub ids: Vec<u8>,
    pub distances: Vec<u8>,
    pub values: Vec<u8>,
}

/// The UDL's `VectorRecord`.
#[derive(Debug, Clone)]
pub struct VectorRecord {
    pub vector: Vec<u8>,
    pub value: TaggedValue,
    pub metadata: Option<Vec<u8>>,
}

/// One row read back: the stored vector, its value, its metadata (JSON text) if any.
type Record = (Vec<u8>, TaggedValue, Option<String>);

/// SQL names of one vector table's parts (validated, quoted).
struct Names {
    table: String,
    vec: String,
    values: String,
    meta: String,
    rowids: String,
    chunks: String,
    vector_chunks: String,
    metadata_chunks: String,
}

impl Names {
    fn new(table: &str) -> Result<Names> {
        Ok(Names {
            table: table.to_string(),
            vec: quote_ident(table)?,
            values: quote_ident(&format!("{table}_values"))?,
            meta: quote_ident(&format!("{table}_kv_meta"))?,
            rowids: quote_ident(&format!("{table}_rowids"))?,
            chunks: quote_ident(&format!("{table}_chunks"))?,
            vector_chunks: quote_ident(&format!("{table}_vector_chunks00"))?,
            metadata_chunks: quote_ident(&format!("{table}_metadatachunks00"))?,
        })
    }
}

/// A change a committed write makes to the in-memory copy.
enum Change {
    Insert {
        ids: Vec<i64>,
        refs: Vec<i64>,
        rows: Vec<u8>,
    },
    Vector {
        id: i64,
        row: Vec<u8>,
    },
    Remove {
        id: i64,
    },
    Clear,
}

/// Writes of a vault that embeds a vector table (see [`VectorStore::write_with`]): vectors keyed
/// by that vault's own row ids (the `vec0` rowid is the owner's id; `value_ref` repeats it).
pub struct VectorWriter<'a> {
    store: &'a VectorStore,
    changes: Vec<Change>,
}

impl VectorWriter<'_> {
    /// Stores (or replaces) the vector of row `id`; the row is validated and normalised.
    pub fn put(&mut self, tx: &Transaction<'_>, id: i64, vector: &[u8]) -> Result<()> {
        let s = self.store;
        let mut row = Vec::with_capacity(vector.len());
        s.prepare_row(vector, &mut row)?;
        if let Some(vref) = s.value_ref(tx, id)? {
            s.replace_vector(tx, id, vref, &row)?;
            self.changes.push(Change::Vector { id, row });
        } else {
            tx.prepare_cached(&format!(
                "INSERT INTO {} (rowid, value_ref, vector) VALUES (?1, ?1, {})",
                s.names.vec,
                s.spec.sql_param().replace('?', "?2")
            ))?
            .execute(params![id, &row])?;
            self.changes.push(Change::Insert {
                ids: vec![id],
                refs: vec![id],
                rows: row,
            });
        }
        Ok(())
    }

    pub fn remove(&mut self, tx: &Transaction<'_>, id: i64) -> Result<()> {
        let s = self.store;
        tx.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", s.names.vec))?
            .execute([id])?;
        self.changes.push(Change::Remove { id });
        Ok(())
    }

    pub fn clear(&mut self, tx: &Transaction<'_>) -> Result<()> {
        tx.execute_batch(&format!("DELETE FROM {}", self.store.names.vec))?;
        self.changes.push(Change::Clear);
        Ok(())
    }
}

pub struct VectorStore {
    db: VaultDb,
    names: Names,
    spec: Spec,
    kernel: Kernel,
    headers: std::sync::atomic::AtomicBool,
    /// `{t}_kv_meta` exists (always, except in read-only 1.1.0 files).
    has_meta_table: bool,
    mirror: Arc<RwLock<Mirror>>,
    fast_id: std::sync::atomic::AtomicU64,
    threads: usize,
    /// The table has VectorKVault's shape, so batches may write its shadow tables directly.
    direct_eligible: bool,
    direct: std::sync::atomic::AtomicBool,
    shadow: direct::Shadow,
}

fn kernel_of(spec: &Spec) -> Kernel {
    match (spec.elem, spec.metric) {
        (ElemType::F32, Metric::Cosine) => Kernel::CosineF32,
        (ElemType::F32, Metric::L1) => Kernel::L1F32,
        (ElemType::F32, _) => Kernel::L2F32,
        (ElemType::Int8, Metric::L1) => Kernel::L1I8,
        (ElemType::Int8, _) => Kernel::L2I8,
        (ElemType::Bit, _) => Kernel::Hamming,
    }
}

fn read_u32s(buf: &[u8], n: usize, what: &str) -> Result<Vec<u32>> {
    if buf.len() != n * 4 {
        return Err(Error::invalid(format!(
            "{what}: expected {} bytes for {n} rows, got {}",
            n * 4,
            buf.len()
        )));
    }
    Ok(buf
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

/// A metadata map (msgpack) as the JSON object text stored in `{t}_kv_meta`.
fn metadata_json(msgpack: &[u8]) -> Result<String> {
    let json = codec::plain::transcode(codec::KIND_MSGPACK, codec::KIND_JSON, msgpack)?;
    let text = String::from_utf8(json).map_err(|_| Error::invalid("metadata is not valid text"))?;
    if !text.starts_with('{') {
        return Err(Error::invalid("metadata must be a map with string keys"));
    }
    Ok(text)
}

/// One `field = value` condition of a metadata filter.
enum Cond {
    Eq(String, rusqlite::types::Value),
    Json(String, &'static str),
}

fn filter_conditions(msgpack: &[u8]) -> Result<Vec<Cond>> {
    let mut rd = msgpack;
    let v = rmpv::decode::read_value(&mut rd)
        .map_err(|e| Error::invalid(format!("metadata filter is not msgpack: {e}")))?;
    let rmpv::Value::Map(entries) = v else {
        return Err(Error::invalid("metadata filter must be a map"));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let field = k
            .as_str()
            .ok_or_else(|| Error::invalid("metadata filter keys must be strings"))?;
        if field.contains('"') || field.chars().any(char::is_control) {
            return Err(Error::invalid(format!(
                "metadata field name {field:?} cannot be filtered on (quote or control character)"
            )));
        }
        let path = format!("$.\"{field}\"");
        use rusqlite::types::Value as V;
        out.push(match v {
            rmpv::Value::Nil => Cond::Json(path, "null"),
            rmpv::Value::Boolean(true) => Cond::Json(path, "true"),
            rmpv::Value::Boolean(false) => Cond::Json(path, "false"),
            rmpv::Value::Integer(i) => match i.as_i64() {
                Some(i) => Cond::Eq(path, V::Integer(i)),
                None => Cond::Eq(path, V::Real(i.as_f64().unwrap_or(f64::NAN))),
            },
            rmpv::Value::F32(f) => Cond::Eq(path, V::Real(f as f64)),
            rmpv::Value::F64(f) => Cond::Eq(path, V::Real(f)),
            rmpv::Value::String(s) => Cond::Eq(
                path,
                V::Text(
                    s.into_str()
                        .ok_or_else(|| Error::invalid("metadata filter value is not UTF-8"))?,
                ),
            ),
            _ => {
                return Err(Error::invalid(format!(
                "metadata filter on {field:?}: only str, int, float, bool and null values compare"
            )))
            }
        });
    }
    Ok(out)
}

impl VectorStore {
    pub fn new(
        path: String,
        table: String,
        dimensions: u32,
        metric: String,
        vector_type: String,
        options: OpenOptions,
    ) -> VResult<Self> {
        guard(|| {
            let spec = Spec::new(dimensions, &metric, &vector_type)?;
            Names::new(&table)?; // bad names fail before any file is created
            let db = VaultDb::open(&path, options.with_vault_page_size(4096), "VectorKVault")?;
            Self::open_in(db, &table, spec)
        })
    }

    /// Opens (or creates) vector table `table` of `spec` on `db`. Rust-level: for vaults that
    /// keep vectors of their own rows (TextVault), with a handle from [`VaultDb::attach`].
    pub fn open_in(db: VaultDb, table: &str, spec: Spec) -> Result<VectorStore> {
        {
            let table = table.to_string();
            let names = Names::new(&table)?;
            let existing: Option<String> = db.read(false, |c| {
                Ok(c.query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [&table],
                    |r| r.get(0),
                )
                .optional()?)
            })?;
            match existing {
                Some(sql) => {
                    let found = Spec::from_ddl(&sql)?;
                    if found != spec {
                        return Err(Error::invalid(format!(
                            "VectorKVault table '{table}' has {}; it was opened with {}",
                            found.describe(),
                            spec.describe()
                        )));
                    }
                }
                None if db.read_only() => {
                    return Err(Error::NotFound(format!(
                        "SQLite error: no such table: {table}"
                    )))
                }
                None => {}
            }
            if !db.read_only() {
                db.write_tx(|tx| {
                    tx.execute_batch(&format!(
                        "CREATE VIRTUAL TABLE IF NOT EXISTS {v} USING vec0(\n    value_ref INTEGER,\n    {col}\n);\n\
                         CREATE TABLE IF NOT EXISTS {values} (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    value BLOB NOT NULL\n);\n\
                         CREATE TABLE IF NOT EXISTS {meta} (id INTEGER PRIMARY KEY, metadata TEXT NOT NULL);",
                        v = names.vec,
                        col = spec.ddl_column(),
                        values = names.values,
                        meta = names.meta,
                    ))?;
                    Ok(())
                })?;
            } else if !schema::table_exists(db.db(), &format!("{table}_values"))? {
                return Err(Error::NotFound(format!(
                    "SQLite error: no such table: {table}_values"
                )));
            }
            let has_meta_table = schema::table_exists(db.db(), &format!("{table}_kv_meta"))?;
            let ddl: Option<String> = db.read(false, |c| {
                Ok(c.query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [&table],
                    |r| r.get(0),
                )
                .optional()?)
            })?;
            let direct_eligible = ddl.as_deref().is_some_and(direct::eligible);
            let mirror = shared_mirror(&db, &table, &spec);
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            Ok(VectorStore {
                db,
                names,
                kernel: kernel_of(&spec),
                spec,
                headers: std::sync::atomic::AtomicBool::new(true),
                has_meta_table,
                mirror,
                fast_id: std::sync::atomic::AtomicU64::new(0),
                threads,
                direct_eligible,
                direct: std::sync::atomic::AtomicBool::new(direct_eligible),
                shadow: direct::Shadow::new(&table),
            })
        }
    }

    pub fn path(&self) -> String {
        self.db.path().to_string()
    }
    pub fn table(&self) -> String {
        self.names.table.clone()
    }
    pub fn read_only(&self) -> bool {
        self.db.read_only()
    }
    pub fn is_closed(&self) -> bool {
        self.db.is_closed()
    }
    pub fn dimensions(&self) -> u32 {
        self.spec.dims
    }
    pub fn metric(&self) -> String {
        self.spec.metric.name().to_string()
    }
    pub fn vector_type(&self) -> String {
        self.spec.elem.name().to_string()
    }
    pub fn row_bytes(&self) -> u32 {
        self.spec.row_bytes() as u32
    }
    pub fn set_headers_enabled(&self, enabled: bool) {
        self.headers
            .store(enabled, std::sync::atomic::Ordering::Relaxed);
    }
    pub fn headers_enabled(&self) -> bool {
        self.headers.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn spec(&self) -> Spec {
        self.spec
    }

    /// Runs `f` in one write transaction of this store (on the shared writer, so the owner's own
    /// statements on `tx` commit together with the vectors), for vaults that embed vectors.
    pub fn write_with<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut VectorWriter<'_>) -> Result<T>,
    ) -> Result<T> {
        self.write(|tx, changes| {
            let mut w = VectorWriter {
                store: self,
                changes: Vec::new(),
            };
            let out = f(tx, &mut w)?;
            changes.append(&mut w.changes);
            Ok(out)
        })
    }

    /// The k nearest (id, distance) to one query row, among `allowed` ids when given.
    pub fn nearest(
        &self,
        query: &[u8],
        k: usize,
        allowed: Option<&[i64]>,
    ) -> Result<Vec<(i64, f32)>> {
        let qs = self.query_words(query)?;
        if qs.len() != 1 {
            return Err(Error::invalid(format!(
                "Expected {} vector bytes, got {}",
                self.spec.row_bytes(),
                query.len()
            )));
        }
        self.snapshot(|conn| {
            self.with_mirror(conn, |m| {
                let pos = allowed.map(|ids| m.positions(ids));
                Ok(
                    m.search(self.kernel, &qs[0], k, pos.as_deref(), self.threads)
                        .into_iter()
                        .map(|h| (h.id, h.distance))
                        .collect(),
                )
            })
        })
    }

    /// The stored row of vector `id`, if any (Rust-level, for embedding vaults).
    pub fn vector_of(&self, id: i64) -> Result<Option<Vec<u8>>> {
        self.db.read(false, |c| {
            Ok(c.prepare_cached(&format!(
                "SELECT vector FROM {} WHERE rowid = ?1",
                self.names.vec
            ))?
            .query_row([id], |r| r.get(0))
            .optional()?)
        })
    }

    // ---- rows ------------------------------------------------------------------------------

    /// Checks one row and returns it as stored: f32 values finite, and L2-normalised for cosine
    /// (a zero vector stays zero).
    fn prepare_row(&self, row: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let want = self.spec.row_bytes();
        if row.len() != want {
            return Err(Error::invalid(format!(
                "Expected {want} vector bytes, got {}",
                row.len()
            )));
        }
        if self.spec.elem != ElemType::F32 {
            out.extend_from_slice(row);
            return Ok(());
        }
        let vals: Vec<f32> = row
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(format!(
                "vector value at index {i} is not finite ({})",
                vals[i]
            )));
        }
        let scale = if self.spec.metric == Metric::Cosine {
            let norm = vals
                .iter()
                .map(|&v| (v as f64) * (v as f64))
                .sum::<f64>()
                .sqrt();
            if norm > 0.0 {
                1.0 / norm
            } else {
                1.0
            }
        } else {
            1.0
        };
        for v in vals {
            let s = if scale == 1.0 {
                v
            } else {
                ((v as f64) * scale) as f32
            };
            out.extend_from_slice(&s.to_le_bytes());
        }
        Ok(())
    }

    fn prepare_rows(&self, rows: &[u8]) -> Result<Vec<u8>> {
        let rb = self.spec.row_bytes();
        if !rows.len().is_multiple_of(rb) {
            return Err(Error::invalid(format!(
                "vectors: {} bytes is not a whole number of {rb}-byte rows",
                rows.len()
            )));
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows.chunks_exact(rb) {
            self.prepare_row(r, &mut out)?;
        }
        Ok(out)
    }

    fn encode_value(&self, kind: u8, payload: &[u8]) -> Result<Vec<u8>> {
        codec::encode(kind, payload, self.headers_enabled())
    }

    // ---- writes ----------------------------------------------------------------------------

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction; the in-memory copy takes `f`'s changes at
    /// commit, under its write lock, so no search sees the file and the copy disagree. The copy
    /// is patched only if it was current when the transaction began: loaded, and no other
    /// program committed since (the writer's `data_version` is the one it was synced at).
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut Vec<Change>) -> Result<T>,
    ) -> Result<T> {
        self.db.check_writable()?;
        let mut w = self.db.writer()?;
        let conn = w.conn();
        let res = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let dv = data_version(&tx)?;
            let mut changes = Vec::new();
            let out = f(&tx, &mut changes)?;
            let mut m = self.mirror.write();
            tx.commit()?;
            if m.loaded && m.writer_dv == Some(dv) {
                for c in changes {
                    apply(&mut m, c, self.spec.row_bytes());
                }
            } else {
                m.loaded = false;
            }
            Ok(out)
        })();
        if res.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        res
    }

    fn insert_rows(
        &self,
        tx: &Transaction<'_>,
        rows: &[u8],
        values: &[Vec<u8>],
        metas: &[Option<String>],
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let rb = self.spec.row_bytes();
        let mut ins_value = tx.prepare_cached(&format!(
            "INSERT INTO {} (value) VALUES (?1)",
            self.names.values
        ))?;
        let mut refs = Vec::with_capacity(values.len());
        for v in values {
            ins_value.execute([v])?;
            refs.push(tx.last_insert_rowid());
        }
        let direct = if self.direct.load(std::sync::atomic::Ordering::Relaxed) {
            direct::insert(tx, &self.shadow, rows, rb, &refs)?
        } else {
            None
        };
        let ids = match direct {
            Some(ids) => ids,
            None => {
                let mut ins_vec = tx.prepare_cached(&format!(
                    "INSERT INTO {} (value_ref, vector) VALUES (?1, {})",
                    self.names.vec,
                    self.spec.sql_param()
                ))?;
                let mut ids = Vec::with_capacity(refs.len());
                for (i, vref) in refs.iter().enumerate() {
                    ins_vec.execute(params![vref, &rows[i * rb..(i + 1) * rb]])?;
                    ids.push(tx.last_insert_rowid());
                }
                ids
            }
        };
        if metas.iter().any(Option::is_some) {
            let mut ins_meta = tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO {} (id, metadata) VALUES (?1, ?2)",
                self.names.meta
            ))?;
            for (id, m) in ids.iter().zip(metas) {
                if let Some(m) = m {
                    ins_meta.execute(params![id, m])?;
                }
            }
        }
        Ok((ids, refs))
    }

    /// Batch inserts through the shadow tables (`true`, the default for tables of our shape)
    /// or through `vec0` row by row; the tests compare both.
    #[doc(hidden)]
    pub fn set_direct_inserts(&self, on: bool) {
        self.direct.store(
            on && self.direct_eligible,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn insert(
        &self,
        vector: &[u8],
        kind: u8,
        payload: &[u8],
        metadata: Option<Vec<u8>>,
    ) -> VResult<i64> {
        guard(|| {
            self.db.check_writable()?;
            let mut row = Vec::with_capacity(vector.len());
            self.prepare_row(vector, &mut row)?;
            let value = self.encode_value(kind, payload)?;
            let meta = metadata.as_deref().map(metadata_json).transpose()?;
            self.write(|tx, changes| {
                let (ids, refs) = self.insert_rows(tx, &row, &[value], &[meta])?;
                let id = ids[0];
                changes.push(Change::Insert {
                    ids,
                    refs,
                    rows: row,
                });
                Ok(id)
            })
        })
    }

    pub fn insert_many(
        &self,
        vectors: &[u8],
        kinds: &[u8],
        value_lens: &[u8],
        payloads: &[u8],
        meta_lens: &[u8],
        metas: &[u8],
    ) -> VResult<Vec<u8>> {
        guard(|| {
            self.db.check_writable()?;
            let n = kinds.len();
            let rows = self.prepare_rows(vectors)?;
            if rows.len() != n * self.spec.row_bytes() {
                return Err(Error::invalid(format!(
                    "insert_many: {} vectors for {n} values",
                    rows.len() / self.spec.row_bytes()
                )));
            }
            let payloads = split_columns(value_lens, payloads, n)?;
            let values = kinds
                .iter()
                .zip(payloads)
                .map(|(&k, p)| self.encode_value(k, p))
                .collect::<Result<Vec<_>>>()?;
            let metas: Vec<Option<String>> = if meta_lens.is_empty() && metas.is_empty() {
                Vec::new()
            } else {
                read_u32s(meta_lens, n, "meta_lens")?;
                split_columns(meta_lens, metas, n)?
                    .into_iter()
                    .map(|m| {
                        if m.is_empty() {
                            Ok(None)
                        } else {
                            metadata_json(m).map(Some)
                        }
                    })
                    .collect::<Result<_>>()?
            };
            if n == 0 {
                return Ok(Vec::new());
            }
            self.write(|tx, changes| {
                let (ids, refs) = self.insert_rows(tx, &rows, &values, &metas)?;
                let out: Vec<u8> = ids.iter().flat_map(|i| i.to_le_bytes()).collect();
                changes.push(Change::Insert { ids, refs, rows });
                Ok(out)
            })
        })
    }

    /// Replaces the stored row of vector `id` (value_ref `vref`). sqlite-vec loses the int8/bit
    /// subtype of an UPDATE's new value (its issue #53), so those rows are deleted and inserted
    /// again under the same id, in the caller's transaction.
    fn replace_vector(&self, tx: &Transaction<'_>, id: i64, vref: i64, row: &[u8]) -> Result<()> {
        if self.spec.elem == ElemType::F32 {
            tx.prepare_cached(&format!(
                "UPDATE {} SET vector = ?1 WHERE rowid = ?2",
                self.names.vec
            ))?
            .execute(params![row, id])?;
        } else {
            tx.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", self.names.vec))?
                .execute([id])?;
            tx.prepare_cached(&format!(
                "INSERT INTO {} (rowid, value_ref, vector) VALUES (?1, ?2, {})",
                self.names.vec,
                self.spec.sql_param().replace('?', "?3")
            ))?
            .execute(params![id, vref, row])?;
        }
        Ok(())
    }

    fn value_ref(&self, conn: &Connection, id: i64) -> Result<Option<i64>> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT value_ref FROM {} WHERE rowid = ?1",
                self.names.vec
            ))?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    pub fn update(
        &self,
        id: i64,
        vector: Option<Vec<u8>>,
        value: Option<TaggedValue>,
        metadata: Option<Vec<u8>>,
    ) -> VResult<()> {
        guard(|| {
            self.db.check_writable()?;
            if vector.is_none() && value.is_none() && metadata.is_none() {
                return Err(Error::invalid("update needs a vector, a value or metadata"));
            }
            let row = match &vector {
                Some(v) => {
                    let mut r = Vec::with_capacity(v.len());
                    self.prepare_row(v, &mut r)?;
                    Some(r)
                }
                None => None,
            };
            let stored = value
                .as_ref()
                .map(|v| self.encode_value(v.kind, &v.payload))
                .transpose()?;
            let meta = metadata.as_deref().map(metadata_json).transpose()?;
            self.write(|tx, changes| {
                let vref = self
                    .value_ref(tx, id)?
                    .ok_or_else(|| Error::NotFound(format!("ID {id} not found")))?;
                if let Some(row) = row {
                    self.replace_vector(tx, id, vref, &row)?;
                    changes.push(Change::Vector { id, row });
                }
                if let Some(s) = stored {
                    tx.prepare_cached(&format!(
                        "UPDATE {} SET value = ?1 WHERE id = ?2",
                        self.names.values
                    ))?
                    .execute(params![s, vref])?;
                }
                if let Some(m) = meta {
                    tx.prepare_cached(&format!(
                        "INSERT OR REPLACE INTO {} (id, metadata) VALUES (?1, ?2)",
                        self.names.meta
                    ))?
                    .execute(params![id, m])?;
                }
                Ok(())
            })
        })
    }

    pub fn delete(&self, id: i64) -> VResult<bool> {
        guard(|| {
            self.db.check_writable()?;
            self.write(|tx, changes| {
                let Some(vref) = self.value_ref(tx, id)? else {
                    return Ok(false);
                };
                tx.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", self.names.vec))?
                    .execute([id])?;
                tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", self.names.values))?
                    .execute([vref])?;
                tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", self.names.meta))?
                    .execute([id])?;
                changes.push(Change::Remove { id });
                Ok(true)
            })
        })
    }

    /// Slots of deleted vectors that sqlite-vec keeps allocated: every empty slot of every chunk
    /// but the newest (sqlite-vec only fills the newest chunk).
    fn deleted_slots(&self, conn: &Connection) -> Result<u64> {
        let mut st = conn.prepare_cached(&format!(
            "SELECT size, validity FROM {} ORDER BY chunk_id",
            self.names.chunks
        ))?;
        let chunks: Vec<(i64, Vec<u8>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let Some((_, older)) = chunks.split_last() else {
            return Ok(0);
        };
        Ok(older
            .iter()
            .map(|(size, validity)| {
                let live: u32 = validity.iter().map(|b| b.count_ones()).sum();
                (*size as u64).saturating_sub(live as u64)
            })
            .sum())
    }

    pub fn compact(&self) -> VResult<u64> {
        guard(|| {
            self.db.check_writable()?;
            self.write(|tx, _changes| {
                let reclaim = self.deleted_slots(tx)?;
                if reclaim == 0 {
                    return Ok(0);
                }
                let ddl: String = tx.query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [&self.names.table],
                    |r| r.get(0),
                )?;
                let rows: Vec<(i64, i64, Vec<u8>)> = {
                    let mut st = tx.prepare(&format!(
                        "SELECT rowid, value_ref, vector FROM {}",
                        self.names.vec
                    ))?;
                    let it = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    it.collect::<rusqlite::Result<_>>()?
                };
                let seq_name = format!("{}_rowids", self.names.table);
                let seq: Option<i64> = tx
                    .query_row(
                        "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                        [&seq_name],
                        |r| r.get(0),
                    )
                    .optional()?;
                tx.execute_batch(&format!("DROP TABLE {}", self.names.vec))?;
                tx.execute_batch(&ddl)?;
                {
                    let mut ins = tx.prepare(&format!(
                        "INSERT INTO {} (rowid, value_ref, vector) VALUES (?1, ?2, {})",
                        self.names.vec,
                        self.spec.sql_param().replace('?', "?3")
                    ))?;
                    for (id, vref, row) in &rows {
                        ins.execute(params![id, vref, row])?;
                    }
                }
                if let Some(seq) = seq {
                    // Ids are never reused, as before the rewrite.
                    tx.execute(
                        "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                        params![seq_name, seq],
                    )?;
                    if tx.changes() == 0 {
                        tx.execute(
                            "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                            params![seq_name, seq],
                        )?;
                    }
                }
                Ok(reclaim)
            })
        })
    }

    // ---- reads -----------------------------------------------------------------------------

    /// Runs `f` on a connection inside one read snapshot (a pooled reader for files; never the
    /// writer while a reader could serve, so searches do not wait for writes).
    fn snapshot<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.db.check_open()?;
        if !self.db.pooled() {
            return self.db.read(true, f);
        }
        let conn = self.db.lease_reader()?;
        conn.execute_batch("BEGIN")?;
        let out = f(&conn);
        let end = conn.execute_batch("ROLLBACK");
        self.db.return_reader(conn);
        let out = out?;
        end?;
        Ok(out)
    }

    /// Runs `f` over an in-memory copy current for the snapshot `conn` is in.
    /// The writer's data_version when the writer is free this instant, else None (this
    /// process is writing; its commits update the copy under the copy's write lock). Another
    /// program's commit moves it.
    fn writer_version(&self) -> Result<Option<i64>> {
        Ok(match self.db.db().try_writer() {
            Some(mut w) => Some(data_version(w.conn())?),
            None => None,
        })
    }

    fn with_mirror<T>(&self, conn: &Connection, f: impl FnOnce(&Mirror) -> Result<T>) -> Result<T> {
        // The copy's lock is held before `conn`'s snapshot starts (its first statement runs
        // under the lock), so this process's commits cannot land between the two. Another
        // program's commit moves the writer's data_version; when the writer is busy this instant
        // (this process is writing) the check waits for the next search.
        let m = self.mirror.read();
        let wdv = self.writer_version()?;
        if m.current(wdv) {
            return f(&m);
        }
        drop(m);
        let mut m = self.mirror.write();
        if !m.current(wdv) {
            self.load(conn, &mut m)?;
            m.writer_dv = wdv;
        }
        f(&RwLockWriteGuard::downgrade(m))
    }

    fn load(&self, conn: &Connection, m: &mut Mirror) -> Result<()> {
        m.reset(self.spec.row_bytes(), self.spec.dims as usize);
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {}", self.names.rowids),
            [],
            |r| r.get(0),
        )?;
        m.reserve(n.max(0) as usize);
        if self.load_chunks(conn, m)? && m.len() as i64 == n {
            m.loaded = true;
            return Ok(());
        }
        m.reset(self.spec.row_bytes(), self.spec.dims as usize);
        let mut st = conn.prepare(&format!(
            "SELECT rowid, value_ref, vector FROM {}",
            self.names.vec
        ))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            let vref: i64 = r.get(1)?;
            let row = r.get_ref(2)?.as_blob()?;
            if row.len() != self.spec.row_bytes() {
                return Err(Error::corrupt(format!(
                    "vector {id} has {} bytes, expected {}",
                    row.len(),
                    self.spec.row_bytes()
                )));
            }
            m.push(id, vref, row);
        }
        m.loaded = true;
        Ok(())
    }

    /// Loads the copy from sqlite-vec 0.1.x's chunk tables in whole blobs (~20x faster than
    /// `vec0`'s row-by-row scan): per chunk, `size` slots, a validity bitmap (slot i is bit i % 8
    /// of byte i / 8), the slots' rowids (i64), their rows and their `value_ref` (i64). Returns
    /// false when any table or size is not as expected; the caller then scans `vec0` instead.
    fn load_chunks(&self, conn: &Connection, m: &mut Mirror) -> Result<bool> {
        // Chunk headers first (small), then each chunk's two big blobs by key: no join or sort
        // over the blobs (SQLite would spill a sort of the whole table to temporary storage).
        let heads = format!(
            "SELECT chunk_id, size, validity, rowids FROM {}",
            self.names.chunks
        );
        let vecs = format!(
            "SELECT vectors FROM {} WHERE rowid = ?1",
            self.names.vector_chunks
        );
        let refs = format!(
            "SELECT data FROM {} WHERE rowid = ?1",
            self.names.metadata_chunks
        );
        let (Ok(mut heads), Ok(mut vecs), Ok(mut refs)) = (
            conn.prepare(&heads),
            conn.prepare(&vecs),
            conn.prepare(&refs),
        ) else {
            return Ok(false);
        };
        let rb = self.spec.row_bytes();
        let i64_at = |b: &[u8], i: usize| {
            i64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
        };
        let mut rows = heads.query([])?;
        while let Some(r) = rows.next()? {
            let chunk: i64 = r.get(0)?;
            let size = r.get::<_, i64>(1)?.max(0) as usize;
            let (Ok(validity), Ok(ids)) = (r.get_ref(2)?.as_blob(), r.get_ref(3)?.as_blob()) else {
                return Ok(false);
            };
            if validity.len() * 8 < size || ids.len() < size * 8 {
                return Ok(false);
            }
            let mut vr = vecs.query([chunk])?;
            let Some(vrow) = vr.next()? else {
                return Ok(false);
            };
            let Ok(vectors) = vrow.get_ref(0)?.as_blob() else {
                return Ok(false);
            };
            let mut rr = refs.query([chunk])?;
            let Some(rrow) = rr.next()? else {
                return Ok(false);
            };
            let Ok(vrefs) = rrow.get_ref(0)?.as_blob() else {
                return Ok(false);
            };
            if vectors.len() < size * rb || vrefs.len() < size * 8 {
                return Ok(false);
            }
            for slot in 0..size {
                if validity[slot / 8] >> (slot % 8) & 1 == 1 {
                    m.push(
                        i64_at(ids, slot),
                        i64_at(vrefs, slot),
                        &vectors[slot * rb..(slot + 1) * rb],
                    );
                }
            }
        }
        Ok(true)
    }

    fn allowed_ids(&self, conn: &Connection, filter: &VectorFilter) -> Result<Option<Vec<i64>>> {
        let mut ids = filter.ids.clone();
        if let Some(mp) = &filter.metadata_equals {
            let conds = filter_conditions(mp)?;
            if !conds.is_empty() {
                let mut sql = format!("SELECT id FROM {} WHERE 1", self.names.meta);
                let mut args: Vec<rusqlite::types::Value> = Vec::new();
                for c in &conds {
                    match c {
                        Cond::Eq(path, v) => {
                            sql.push_str(&format!(
                                " AND json_extract(metadata, ?{}) IS ?{} AND json_type(metadata, ?{}) NOT IN ('true', 'false')",
                                args.len() + 1,
                                args.len() + 2,
                                args.len() + 1
                            ));
                            args.push(path.clone().into());
                            args.push(v.clone());
                        }
                        Cond::Json(path, t) => {
                            sql.push_str(&format!(
                                " AND json_type(metadata, ?{}) = ?{}",
                                args.len() + 1,
                                args.len() + 2
                            ));
                            args.push(path.clone().into());
                            args.push((*t).to_string().into());
                        }
                    }
                }
                let matched: Vec<i64> = if self.has_meta_table {
                    let mut st = conn.prepare_cached(&sql)?;
                    let it = st.query_map(rusqlite::params_from_iter(args), |r| r.get(0))?;
                    it.collect::<rusqlite::Result<_>>()?
                } else {
                    Vec::new()
                };
                ids = Some(match ids {
                    None => matched,
                    Some(given) => {
                        let set: std::collections::HashSet<i64> = matched.into_iter().collect();
                        given.into_iter().filter(|i| set.contains(i)).collect()
                    }
                });
            }
        }
        Ok(ids)
    }

    fn query_words(&self, queries: &[u8]) -> Result<Vec<Vec<u32>>> {
        let rb = self.spec.row_bytes();
        if queries.is_empty() || !queries.len().is_multiple_of(rb) {
            return Err(Error::invalid(format!(
                "Expected {rb} vector bytes (or a multiple for several queries), got {}",
                queries.len()
            )));
        }
        let stride = rb.div_ceil(4);
        let mut out = Vec::with_capacity(queries.len() / rb);
        for q in queries.chunks_exact(rb) {
            let mut row = Vec::with_capacity(rb);
            self.prepare_row(q, &mut row)?;
            let mut w = vec![0u32; stride];
            for (i, c) in row.chunks(4).enumerate() {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                w[i] = u32::from_le_bytes(b);
            }
            out.push(w);
        }
        Ok(out)
    }

    pub fn search(
        &self,
        queries: &[u8],
        k: u32,
        metric: Option<String>,
        filter: Option<VectorFilter>,
        decoded: bool,
    ) -> VResult<VectorHits> {
        guard(|| {
            self.db.check_open()?;
            if let Some(m) = metric {
                if Metric::parse(&m)? != self.spec.metric {
                    return Err(Error::invalid(
                        "Search metric must match the stored vec0 index metric",
                    ));
                }
            }
            if k > MAX_K {
                return Err(Error::invalid(format!(
                    "k must be at most {MAX_K}, got {k}"
                )));
            }
            let qs = self.query_words(queries)?;
            self.snapshot(|conn| {
                // The copy's lock is taken before the snapshot's first read (in with_mirror), so
                // a commit of this store cannot land between the two.
                // Values are read under the copy's lock too: the same committed state.
                self.with_mirror(conn, |m| {
                    let allowed = match &filter {
                        Some(f) => self.allowed_ids(conn, f)?,
                        None => None,
                    };
                    let pos = allowed.as_ref().map(|ids| m.positions(ids));
                    let results =
                        m.search_many(self.kernel, &qs, k as usize, pos.as_deref(), self.threads);
                    self.pack_hits(conn, &results, decoded)
                })
            })
        })
    }

    fn pack_hits(
        &self,
        conn: &Connection,
        results: &[Vec<Hit>],
        decoded: bool,
    ) -> Result<VectorHits> {
        let mut out = VectorHits::default();
        let mut st = conn.prepare_cached(&format!(
            "SELECT value FROM {} WHERE id = ?1",
            self.names.values
        ))?;
        for hits in results {
            let mut n = 0u32;
            for h in hits {
                let v = st
                    .query_row([h.value_ref], |r| {
                        let b = r.get_ref(0)?.as_blob_or_null()?.unwrap_or(&[]);
                        Ok(codec::value_of(b, decoded))
                    })
                    .optional()?;
                // Gone: another program deleted it after the copy was checked (it is reloaded
                // at the next search); the hit is left out.
                let Some(v) = v else { continue };
                let v = v?;
                out.ids.extend_from_slice(&h.id.to_le_bytes());
                out.distances.extend_from_slice(&h.distance.to_le_bytes());
                put_tagged(&mut out.values, v.kind, &v.payload)?;
                n += 1;
            }
            out.counts.extend_from_slice(&n.to_le_bytes());
        }
        Ok(out)
    }

    pub fn get_by_id(&self, id: i64, decoded: bool) -> VResult<VectorRecord> {
        guard(|| {
            let (vector, value, json) = self.record(id, decoded)?;
            let metadata = json
                .map(|j| {
                    codec::plain::transcode(codec::KIND_JSON, codec::KIND_MSGPACK, j.as_bytes())
                })
                .transpose()?;
            Ok(VectorRecord {
                vector,
                value,
                metadata,
            })
        })
    }

    /// The row, value and metadata (JSON) of vector `id`, in one statement (one read).
    /// `record` from the in-memory copy when a search has loaded it and it is current (no vec0
    /// lookup, whose blob opens cost most of a point read); None otherwise, or when the copy
    /// does not hold `id` (the SQL path then answers, NotFound included).
    fn record_from_mirror(&self, id: i64, decoded: bool) -> Result<Option<Record>> {
        // Held to the end: this process's commits (which update the copy under its write lock)
        // cannot land between the currency check and the reads below.
        let m = self.mirror.read();
        if !m.loaded || !m.current(self.writer_version()?) {
            return Ok(None);
        }
        let Some((row, vref)) = m.row_of(id, self.spec.row_bytes()) else {
            return Ok(None);
        };
        let read = |conn: &Connection| -> Result<Option<(TaggedValue, Option<String>)>> {
            let value = conn
                .prepare_cached(&format!(
                    "SELECT value FROM {} WHERE id = ?1",
                    self.names.values
                ))?
                .query_row([vref], |r| {
                    let stored = r.get_ref(0)?.as_blob_or_null()?.unwrap_or(&[]);
                    Ok(codec::value_of(stored, decoded))
                })
                .optional()?;
            let Some(value) = value else {
                return Ok(None);
            };
            let json = if self.has_meta_table {
                conn.prepare_cached(&format!(
                    "SELECT metadata FROM {} WHERE id = ?1",
                    self.names.meta
                ))?
                .query_row([id], |r| r.get::<_, Option<String>>(0))
                .optional()?
                .flatten()
            } else {
                None
            };
            Ok(Some((value?, json)))
        };
        // One statement is its own snapshot; value and metadata are read in one.
        let found = if self.has_meta_table {
            self.snapshot(read)?
        } else {
            self.db.read(false, read)?
        };
        Ok(found.map(|(value, json)| (row, value, json)))
    }

    fn record(&self, id: i64, decoded: bool) -> Result<Record> {
        if let Some(found) = self.record_from_mirror(id, decoded)? {
            return Ok(found);
        }
        let sql = if self.has_meta_table {
            format!(
                "SELECT v.vector, x.value, m.metadata FROM {} AS v JOIN {} AS x ON x.id = v.value_ref \
                 LEFT JOIN {} AS m ON m.id = v.rowid WHERE v.rowid = ?1",
                self.names.vec, self.names.values, self.names.meta
            )
        } else {
            format!(
                "SELECT v.vector, x.value, NULL FROM {} AS v JOIN {} AS x ON x.id = v.value_ref \
                 WHERE v.rowid = ?1",
                self.names.vec, self.names.values
            )
        };
        let (vector, value, json) = self.db.read(false, |conn| {
            conn.prepare_cached(&sql)?
                .query_row([id], |r| {
                    let stored = r.get_ref(1)?.as_blob_or_null()?.unwrap_or(&[]);
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        codec::value_of(stored, decoded),
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()?
                .ok_or_else(|| Error::NotFound(format!("ID {id} not found")))
        })?;
        Ok((vector, value?, json))
    }

    /// `get_by_id` packed into `out` for the C fast path (docs/FORMAT.md §7.4).
    pub(crate) fn record_into(&self, id: i64, decoded: bool, out: &mut Vec<u8>) -> Result<()> {
        let (vector, value, json) = self.record(id, decoded)?;
        crate::ffi::packed::put_lv(out, &vector)?;
        crate::ffi::packed::put_tagged(out, value.kind, &value.payload)?;
        match json {
            Some(j) => {
                out.push(1);
                let mp =
                    codec::plain::transcode(codec::KIND_JSON, codec::KIND_MSGPACK, j.as_bytes())?;
                crate::ffi::packed::put_lv(out, &mp)?;
            }
            None => out.push(0),
        }
        Ok(())
    }

    /// Id for the C fast path (docs/FORMAT.md §5); 0 when closed.
    pub fn fast_handle(self: Arc<Self>) -> u64 {
        if self.db.is_closed() {
            return 0;
        }
        crate::fastpath::claim(&self.fast_id, &self)
    }

    pub fn exists(&self, id: i64) -> VResult<bool> {
        guard(|| {
            self.db.read(false, |c| {
                Ok(c.prepare_cached(&format!(
                    "SELECT 1 FROM {} WHERE rowid = ?1",
                    self.names.rowids
                ))?
                .query_row([id], |_| Ok(()))
                .optional()?
                .is_some())
            })
        })
    }

    pub fn count(&self) -> VResult<u64> {
        guard(|| self.count_in(None))
    }

    fn count_in(&self, conn: Option<&Connection>) -> Result<u64> {
        let q = |c: &Connection| -> Result<u64> {
            let n: i64 = c
                .prepare_cached(&format!("SELECT count(*) FROM {}", self.names.rowids))?
                .query_row([], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        };
        match conn {
            Some(c) => q(c),
            None => self.db.read(false, q),
        }
    }

    pub fn ids(&self) -> VResult<Vec<u8>> {
        guard(|| {
            self.db.read(false, |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT rowid FROM {} ORDER BY rowid",
                    self.names.rowids
                ))?;
                let mut out = Vec::new();
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    out.extend_from_slice(&r.get::<_, i64>(0)?.to_le_bytes());
                }
                Ok(out)
            })
        })
    }

    pub fn info(&self) -> VResult<VectorInfo> {
        guard(|| {
            self.snapshot(|c| {
                Ok(VectorInfo {
                    table: self.names.table.clone(),
                    dimensions: self.spec.dims,
                    metric: self.spec.metric.info_name().to_string(),
                    vector_type: self.spec.elem.info_name().to_string(),
                    count: self.count_in(Some(c))?,
                    row_bytes: self.spec.row_bytes() as u32,
                    deleted_slots: self.deleted_slots(c)?,
                })
            })
        })
    }

    pub fn checkpoint(&self) -> VResult<WalCheckpoint> {
        guard(|| maintenance::checkpoint_counts(self.db.db()))
    }

    pub fn close(&self) -> VResult<()> {
        guard(|| self.db.close())
    }
}

type MirrorKey = (usize, String);

/// The in-memory copies of the process, one per (database, table): every handle of a table
/// writes through the database's one writer connection and patches the same copy.
static MIRRORS: LazyLock<Mutex<HashMap<MirrorKey, Weak<RwLock<Mirror>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn shared_mirror(db: &VaultDb, table: &str, spec: &Spec) -> Arc<RwLock<Mirror>> {
    // The database object's address names it while any handle (which holds it) is alive.
    let key = (db.db() as *const _ as usize, table.to_string());
    let mut all = MIRRORS.lock();
    all.retain(|_, w| w.strong_count() > 0);
    if let Some(m) = all.get(&key).and_then(Weak::upgrade) {
        return m;
    }
    let mut m = Mirror::default();
    m.reset(spec.row_bytes(), spec.dims as usize);
    let m = Arc::new(RwLock::new(m));
    all.insert(key, Arc::downgrade(&m));
    m
}

fn data_version(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?)
}

fn apply(m: &mut Mirror, c: Change, row_bytes: usize) {
    match c {
        Change::Insert { ids, refs, rows } => {
            m.reserve(ids.len());
            for (i, (id, vref)) in ids.into_iter().zip(refs).enumerate() {
                m.push(id, vref, &rows[i * row_bytes..(i + 1) * row_bytes]);
            }
        }
        Change::Vector { id, row } => m.set_vector(id, &row),
        Change::Remove { id } => m.remove(id),
        Change::Clear => {
            let (rb, dims) = (m.row_bytes(), m.dims());
            m.reset(rb, dims);
            m.loaded = true;
        }
    }
}
