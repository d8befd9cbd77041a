//! TextVault: BM25 full-text search over FTS5, and hybrid text + vector search in one call
//! (docs/FORMAT.md §8).
//!
//! Tables are kohakuvault 1.1.0's: an FTS5 table `{t}(col…, value_ref UNINDEXED)` and
//! `{t}_values(id, value)`. The tokenizer is an FTS5 option of the DDL. A vault with
//! `dimensions` keeps one vector per document in a vector table `{t}_vec` through the vector
//! vault's public Rust API (ids = document ids), written in the same transaction as the text.

pub mod fast;
pub mod spec;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::{params_from_iter, Connection, OptionalExtension, Transaction};

use crate::codec::{self, TaggedValue};
use crate::error::{guard, Error, Result, VResult};
use crate::ffi::packed::{put_lv, put_tagged, split_columns};
use crate::storage::maintenance::{self, WalCheckpoint};
use crate::storage::{quote_ident, OpenOptions, VaultDb};
use crate::vec::spec::Spec as VecSpec;
use crate::vec::VectorStore;
use spec::{Tokenizer, VALUE_REF};

/// The largest k a search accepts.
pub const MAX_K: u32 = 1_000_000;

/// The UDL's `TextOptions`.
#[derive(Debug, Clone)]
pub struct TextOptions {
    pub tokenizer: String,
    pub remove_diacritics: Option<u8>,
    pub dimensions: Option<u32>,
    pub metric: String,
    pub vector_type: String,
}

/// The UDL's `TextHits`.
#[derive(Debug, Clone, Default)]
pub struct TextHits {
    pub ids: Vec<u8>,
    pub scores: Vec<u8>,
    pub values: Vec<u8>,
    pub texts: Vec<u8>,
}

/// The UDL's `TextRecord`.
#[derive(Debug, Clone)]
pub struct TextRecord {
    pub texts: Vec<String>,
    pub value: TaggedValue,
    pub vector: Option<Vec<u8>>,
}

/// The UDL's `TextInfo`.
#[derive(Debug, Clone)]
pub struct TextInfo {
    pub table: String,
    pub columns: Vec<String>,
    pub count: u64,
    pub tokenizer: String,
    pub dimensions: Option<u32>,
    pub metric: Option<String>,
    pub vector_type: Option<String>,
}

/// The UDL's `HybridRequest`.
#[derive(Debug, Clone)]
pub struct HybridRequest {
    pub query: Option<String>,
    pub vector: Option<Vec<u8>>,
    pub k: u32,
    pub text_weight: f64,
    pub vector_weight: f64,
    pub rrf_k: u32,
    pub candidates: Option<u32>,
    pub decoded: bool,
}

pub struct TextStore {
    db: VaultDb,
    table: String,
    fts: String,
    values: String,
    columns: Vec<String>,
    quoted_columns: Vec<String>,
    tokenizer: Tokenizer,
    headers: AtomicBool,
    vectors: Option<VectorStore>,
    fast_id: std::sync::atomic::AtomicU64,
}

/// One document to insert: its texts in column order, its stored value, its vector row.
type Doc<'a> = (Vec<&'a str>, Vec<u8>, Option<&'a [u8]>);

/// One ranked hit before its value is read.
struct Ranked {
    id: i64,
    score: f64,
    value_ref: i64,
}

/// A phrase for FTS5: the text in double quotes, inner quotes doubled. FTS5 reads a query only
/// up to a NUL, so NULs become spaces (they separate tokens anyway).
fn phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\"").replace('\0', " "))
}

/// A hybrid query's text side: each whitespace-separated word as its own phrase, OR-ed, so
/// BM25 ranks documents by how well they match the words (not one exact phrase).
pub fn words_query(s: &str) -> Option<String> {
    let words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c == '\0')
        .filter(|w| !w.is_empty())
        .map(phrase)
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" OR "))
    }
}

/// A MATCH statement fails with a plain SQLITE_ERROR only when FTS5 cannot parse the query
/// ("fts5: syntax error …", "unterminated string", "unknown special query", …): the caller's
/// fault. (Busy, I/O and corruption errors have their own codes and stay what they are.)
fn fts_error(e: Error) -> Error {
    match e {
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, Some(msg)))
            if f.code == rusqlite::ErrorCode::Unknown =>
        {
            Error::InvalidArgument(msg)
        }
        other => other,
    }
}

impl TextStore {
    pub fn new(
        path: String,
        table: String,
        columns: Vec<String>,
        text: TextOptions,
        options: OpenOptions,
    ) -> VResult<Self> {
        guard(|| {
            let columns = if columns.is_empty() {
                vec!["content".to_string()]
            } else {
                columns
            };
            for c in &columns {
                spec::check_column(c)?;
                if c.eq_ignore_ascii_case(&table) {
                    return Err(Error::invalid(format!(
                        "Invalid column name: {c} (FTS5 reserves the table's own name)"
                    )));
                }
            }
            {
                let mut seen = std::collections::HashSet::new();
                for c in &columns {
                    if !seen.insert(c.to_lowercase()) {
                        return Err(Error::invalid(format!("Duplicate column name: {c}")));
                    }
                }
            }
            let tokenizer = Tokenizer::parse(&text.tokenizer, text.remove_diacritics)?;
            let vec_spec = text
                .dimensions
                .map(|d| VecSpec::new(d, &text.metric, &text.vector_type))
                .transpose()?;
            let fts = quote_ident(&table)?;
            let values = quote_ident(&format!("{table}_values"))?;
            quote_ident(&format!("{table}_vec"))?;
            let quoted_columns: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
            let db = VaultDb::open(&path, options.with_vault_page_size(4096), "TextVault")?;
            let existing: Option<String> = db.read(false, |c| {
                Ok(c.query_row(
                    "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                    [&table],
                    |r| r.get(0),
                )
                .optional()?)
            })?;
            let tokenizer = match existing {
                Some(sql) => {
                    let (found_cols, found_tok) = spec::from_ddl(&sql)?;
                    let same_cols = found_cols.len() == columns.len()
                        && found_cols
                            .iter()
                            .zip(&columns)
                            .all(|(a, b)| a.eq_ignore_ascii_case(b));
                    if !same_cols || !found_tok.same_as(&tokenizer) {
                        return Err(Error::invalid(format!(
                            "TextVault table '{table}' has columns {found_cols:?}, {}; it was opened with columns {columns:?}, {}",
                            found_tok.describe(),
                            tokenizer.describe()
                        )));
                    }
                    found_tok
                }
                None if db.read_only() => {
                    return Err(Error::NotFound(format!(
                        "SQLite error: no such table: {table}"
                    )))
                }
                None => {
                    let tok = tokenizer
                        .ddl_option()
                        .map(|t| format!(",\n    tokenize = '{t}'"))
                        .unwrap_or_default();
                    db.write_tx(|tx| {
                        tx.execute_batch(&format!(
                            "CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(\n    {},\n    {VALUE_REF} UNINDEXED{tok}\n);\n\
                             CREATE TABLE IF NOT EXISTS {values} (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    value BLOB NOT NULL\n);",
                            quoted_columns.join(", "),
                        ))?;
                        Ok(())
                    })?;
                    tokenizer
                }
            };
            if !db.read_only() {
                db.write_tx(|tx| {
                    tx.execute_batch(&format!(
                        "CREATE TABLE IF NOT EXISTS {values} (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    value BLOB NOT NULL\n);"
                    ))?;
                    Ok(())
                })?;
            }
            // A vault whose documents have vectors always opens them (even without
            // `dimensions`), so that deletes and updates keep the two in step.
            let vec_table = format!("{table}_vec");
            let vec_spec = match vec_spec {
                Some(s) => Some(s),
                None => db
                    .read(false, |c| {
                        Ok(c.query_row(
                            "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1",
                            [&vec_table],
                            |r| r.get::<_, String>(0),
                        )
                        .optional()?)
                    })?
                    .map(|sql| VecSpec::from_ddl(&sql))
                    .transpose()?,
            };
            let vectors = match vec_spec {
                Some(s) => Some(VectorStore::open_in(db.attach("TextVault"), &vec_table, s)?),
                None => None,
            };
            Ok(TextStore {
                db,
                table,
                fts,
                values,
                columns,
                quoted_columns,
                tokenizer,
                headers: AtomicBool::new(true),
                vectors,
                fast_id: std::sync::atomic::AtomicU64::new(0),
            })
        })
    }

    pub fn path(&self) -> String {
        self.db.path().to_string()
    }
    pub fn table(&self) -> String {
        self.table.clone()
    }
    pub fn columns(&self) -> Vec<String> {
        self.columns.clone()
    }
    pub fn read_only(&self) -> bool {
        self.db.read_only()
    }
    pub fn is_closed(&self) -> bool {
        self.db.is_closed()
    }
    pub fn tokenizer(&self) -> String {
        self.tokenizer.name().to_string()
    }
    pub fn dimensions(&self) -> Option<u32> {
        self.vectors.as_ref().map(|v| v.spec().dims)
    }
    pub fn vector_row_bytes(&self) -> Option<u32> {
        self.vectors.as_ref().map(|v| v.spec().row_bytes() as u32)
    }
    pub fn set_headers_enabled(&self, enabled: bool) {
        self.headers.store(enabled, Ordering::Relaxed);
    }
    pub fn headers_enabled(&self) -> bool {
        self.headers.load(Ordering::Relaxed)
    }

    fn check_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<()> {
        if texts.len() != self.columns.len() {
            return Err(Error::invalid(format!(
                "expected {} texts (columns {:?}), got {}",
                self.columns.len(),
                self.columns,
                texts.len()
            )));
        }
        Ok(())
    }

    /// Runs `f` in one write transaction, together with the vector table's changes when the
    /// vault has vectors.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, Option<&mut crate::vec::VectorWriter<'_>>) -> Result<T>,
    ) -> Result<T> {
        self.db.check_writable()?;
        match &self.vectors {
            Some(v) => v.write_with(|tx, w| f(tx, Some(w))),
            None => self.db.write_tx(|tx| f(tx, None)),
        }
    }

    fn insert_sql(&self) -> String {
        let marks: Vec<String> = (1..=self.columns.len() + 1)
            .map(|i| format!("?{i}"))
            .collect();
        // rowid = the value's id (AUTOINCREMENT): document ids are never reused, even after
        // the highest is deleted (FTS5's own rowids would be).
        format!(
            "INSERT INTO {} (rowid, {}, {VALUE_REF}) VALUES (?{n}, {})",
            self.fts,
            self.quoted_columns.join(", "),
            marks.join(", "),
            n = self.columns.len() + 1
        )
    }

    fn insert_docs(
        &self,
        tx: &Transaction<'_>,
        mut vw: Option<&mut crate::vec::VectorWriter<'_>>,
        docs: &[Doc<'_>],
    ) -> Result<Vec<i64>> {
        let mut ins_value =
            tx.prepare_cached(&format!("INSERT INTO {} (value) VALUES (?1)", self.values))?;
        let mut ins_doc = tx.prepare_cached(&self.insert_sql())?;
        let mut ids = Vec::with_capacity(docs.len());
        for (texts, value, vector) in docs {
            ins_value.execute([value])?;
            let vref = tx.last_insert_rowid();
            let mut args: Vec<rusqlite::types::Value> =
                texts.iter().map(|t| t.to_string().into()).collect();
            args.push(vref.into());
            ins_doc.execute(params_from_iter(args))?;
            let id = tx.last_insert_rowid();
            match (vector, vw.as_deref_mut()) {
                (Some(v), Some(w)) => w.put(tx, id, v)?,
                (Some(_), None) => {
                    return Err(Error::invalid(
                        "this TextVault has no vectors (open it with dimensions)",
                    ))
                }
                (None, _) => {}
            }
            ids.push(id);
        }
        Ok(ids)
    }

    pub fn insert(
        &self,
        texts: Vec<String>,
        kind: u8,
        payload: &[u8],
        vector: Option<Vec<u8>>,
    ) -> VResult<i64> {
        let t: Vec<&str> = texts.iter().map(String::as_str).collect();
        guard(|| self.insert_one(t, kind, payload, vector.as_deref()))
    }

    /// `insert` over borrowed texts (shared with the C fast path).
    pub(crate) fn insert_one(
        &self,
        texts: Vec<&str>,
        kind: u8,
        payload: &[u8],
        vector: Option<&[u8]>,
    ) -> Result<i64> {
        self.db.check_writable()?;
        self.check_texts(&texts)?;
        let value = codec::encode(kind, payload, self.headers_enabled())?;
        let doc = vec![(texts, value, vector)];
        self.write(|tx, vw| Ok(self.insert_docs(tx, vw, &doc)?[0]))
    }

    /// Id for the C fast path (docs/FORMAT.md §5, §8.4); 0 when closed.
    pub fn fast_handle(self: Arc<Self>) -> u64 {
        if self.db.is_closed() {
            return 0;
        }
        crate::fastpath::claim(&self.fast_id, &self)
    }

    /// n documents: texts as n × columns UTF-8 strings (u32 LE lengths), values as columns,
    /// vectors empty or n rows.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_many(
        &self,
        text_lens: &[u8],
        texts: &[u8],
        kinds: &[u8],
        value_lens: &[u8],
        payloads: &[u8],
        vectors: &[u8],
    ) -> VResult<Vec<u8>> {
        guard(|| {
            self.db.check_writable()?;
            let n = kinds.len();
            let cols = self.columns.len();
            let pieces = split_columns(text_lens, texts, n * cols)?;
            let strs = pieces
                .iter()
                .map(|p| {
                    std::str::from_utf8(p).map_err(|_| Error::invalid("texts must be valid UTF-8"))
                })
                .collect::<Result<Vec<&str>>>()?;
            let payloads = split_columns(value_lens, payloads, n)?;
            let rb = self.vector_row_bytes().unwrap_or(0) as usize;
            if !vectors.is_empty() && (rb == 0 || vectors.len() != n * rb) {
                return Err(Error::invalid(if rb == 0 {
                    "this TextVault has no vectors (open it with dimensions)".to_string()
                } else {
                    format!(
                        "vectors: expected {} bytes for {n} rows, got {}",
                        n * rb,
                        vectors.len()
                    )
                }));
            }
            let mut docs = Vec::with_capacity(n);
            for i in 0..n {
                let value = codec::encode(kinds[i], payloads[i], self.headers_enabled())?;
                let vector = (!vectors.is_empty()).then(|| &vectors[i * rb..(i + 1) * rb]);
                docs.push((strs[i * cols..(i + 1) * cols].to_vec(), value, vector));
            }
            if n == 0 {
                return Ok(Vec::new());
            }
            let ids = self.write(|tx, vw| self.insert_docs(tx, vw, &docs))?;
            Ok(ids.iter().flat_map(|i| i.to_le_bytes()).collect())
        })
    }

    fn value_ref(&self, conn: &Connection, id: i64) -> Result<Option<i64>> {
        Ok(conn
            .prepare_cached(&format!(
                "SELECT {VALUE_REF} FROM {} WHERE rowid = ?1",
                self.fts
            ))?
            .query_row([id], |r| r.get(0))
            .optional()?)
    }

    pub fn update(
        &self,
        id: i64,
        texts: Option<Vec<String>>,
        value: Option<TaggedValue>,
        vector: Option<Vec<u8>>,
    ) -> VResult<()> {
        guard(|| {
            self.db.check_writable()?;
            if texts.is_none() && value.is_none() && vector.is_none() {
                return Err(Error::invalid(
                    "Must provide either texts or value to update",
                ));
            }
            if let Some(t) = &texts {
                self.check_texts(t)?;
            }
            if vector.is_some() && self.vectors.is_none() {
                return Err(Error::invalid(
                    "this TextVault has no vectors (open it with dimensions)",
                ));
            }
            let stored = value
                .map(|v| codec::encode(v.kind, &v.payload, self.headers_enabled()))
                .transpose()?;
            self.write(|tx, vw| {
                let vref = self
                    .value_ref(tx, id)?
                    .ok_or_else(|| Error::NotFound(format!("ID {id} not found")))?;
                if let Some(t) = &texts {
                    let sets: Vec<String> = self
                        .quoted_columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{c} = ?{}", i + 1))
                        .collect();
                    let mut args: Vec<rusqlite::types::Value> =
                        t.iter().map(|s| s.clone().into()).collect();
                    args.push(id.into());
                    tx.prepare_cached(&format!(
                        "UPDATE {} SET {} WHERE rowid = ?{}",
                        self.fts,
                        sets.join(", "),
                        t.len() + 1
                    ))?
                    .execute(params_from_iter(args))?;
                }
                if let Some(s) = stored {
                    tx.prepare_cached(&format!(
                        "UPDATE {} SET value = ?1 WHERE id = ?2",
                        self.values
                    ))?
                    .execute(rusqlite::params![s, vref])?;
                }
                if let (Some(v), Some(w)) = (&vector, vw) {
                    w.put(tx, id, v)?;
                }
                Ok(())
            })
        })
    }

    pub fn delete(&self, id: i64) -> VResult<bool> {
        guard(|| {
            self.write(|tx, vw| {
                let Some(vref) = self.value_ref(tx, id)? else {
                    return Ok(false);
                };
                tx.prepare_cached(&format!("DELETE FROM {} WHERE rowid = ?1", self.fts))?
                    .execute([id])?;
                tx.prepare_cached(&format!("DELETE FROM {} WHERE id = ?1", self.values))?
                    .execute([vref])?;
                if let Some(w) = vw {
                    w.remove(tx, id)?;
                }
                Ok(true)
            })
        })
    }

    pub fn clear(&self) -> VResult<()> {
        guard(|| {
            self.write(|tx, vw| {
                tx.execute_batch(&format!(
                    "DELETE FROM {}; DELETE FROM {};",
                    self.fts, self.values
                ))?;
                if let Some(w) = vw {
                    w.clear(tx)?;
                }
                Ok(())
            })
        })
    }

    // ---- reads -------------------------------------------------------------------------------

    fn column_index(&self, column: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "Column '{column}' not found. Available columns: {:?}",
                    self.columns
                ))
            })
    }

    /// The FTS5 MATCH expression, or None for a blank query (no hits).
    fn match_expr(
        &self,
        query: &str,
        column: Option<&str>,
        escape: bool,
    ) -> Result<Option<String>> {
        if query.trim().is_empty() {
            return Ok(None);
        }
        let q = if escape {
            phrase(query)
        } else {
            query.to_string()
        };
        Ok(Some(match column {
            Some(c) => {
                self.column_index(c)?;
                format!("\"{c}\" : ({q})")
            }
            None => q,
        }))
    }

    fn check_k(k: u32) -> Result<()> {
        if k > MAX_K {
            return Err(Error::invalid(format!(
                "k must be at most {MAX_K}, got {k}"
            )));
        }
        Ok(())
    }

    /// The best `k` documents for `expr` by BM25 (score = −bm25, higher is better).
    fn ranked(&self, conn: &Connection, expr: &str, k: u32) -> Result<Vec<Ranked>> {
        let mut st = conn.prepare_cached(&format!(
            "SELECT rowid, -rank, {VALUE_REF} FROM {t} WHERE {t} MATCH ?1 ORDER BY rank LIMIT ?2",
            t = self.fts
        ))?;
        let rows = st
            .query_map(rusqlite::params![expr, k as i64], |r| {
                Ok(Ranked {
                    id: r.get(0)?,
                    score: r.get(1)?,
                    value_ref: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                })
            })
            .map_err(|e| fts_error(e.into()))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| fts_error(e.into()))
    }

    fn value_in(&self, conn: &Connection, vref: i64, decoded: bool) -> Result<TaggedValue> {
        conn.prepare_cached(&format!("SELECT value FROM {} WHERE id = ?1", self.values))?
            .query_row([vref], |r| {
                let b = r.get_ref(0)?.as_blob_or_null()?.unwrap_or(&[]);
                Ok(codec::value_of(b, decoded))
            })
            .optional()?
            .ok_or_else(|| Error::corrupt(format!("the value row {vref} is missing")))?
    }

    fn texts_in(&self, conn: &Connection, id: i64) -> Result<Option<(Vec<String>, i64)>> {
        let mut st = conn.prepare_cached(&format!(
            "SELECT {}, {VALUE_REF} FROM {} WHERE rowid = ?1",
            self.quoted_columns.join(", "),
            self.fts
        ))?;
        let n = self.columns.len();
        Ok(st
            .query_row([id], |r| {
                let mut t = Vec::with_capacity(n);
                for i in 0..n {
                    t.push(r.get::<_, Option<String>>(i)?.unwrap_or_default());
                }
                Ok((t, r.get::<_, Option<i64>>(n)?.unwrap_or(0)))
            })
            .optional()?)
    }

    fn pack(
        &self,
        conn: &Connection,
        hits: &[Ranked],
        decoded: bool,
        with_texts: bool,
    ) -> Result<TextHits> {
        let mut out = TextHits::default();
        for h in hits {
            out.ids.extend_from_slice(&h.id.to_le_bytes());
            out.scores.extend_from_slice(&h.score.to_le_bytes());
            let vref = if with_texts || h.value_ref == 0 {
                let (texts, vref) = self
                    .texts_in(conn, h.id)?
                    .ok_or_else(|| Error::corrupt(format!("document {} is missing", h.id)))?;
                if with_texts {
                    for t in texts {
                        put_lv(&mut out.texts, t.as_bytes())?;
                    }
                }
                vref
            } else {
                h.value_ref
            };
            let v = self.value_in(conn, vref, decoded)?;
            put_tagged(&mut out.values, v.kind, &v.payload)?;
        }
        Ok(out)
    }

    pub fn search(
        &self,
        query: String,
        k: u32,
        column: Option<String>,
        escape: bool,
        with_texts: bool,
        decoded: bool,
    ) -> VResult<TextHits> {
        guard(|| {
            self.db.check_open()?;
            Self::check_k(k)?;
            let Some(expr) = self.match_expr(&query, column.as_deref(), escape)? else {
                return Ok(TextHits::default());
            };
            self.db.read(true, |c| {
                let hits = self.ranked(c, &expr, k)?;
                self.pack(c, &hits, decoded, with_texts)
            })
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn snippets(
        &self,
        query: String,
        k: u32,
        column: Option<String>,
        tokens: u32,
        start: String,
        end: String,
        escape: bool,
        decoded: bool,
    ) -> VResult<TextHits> {
        guard(|| {
            self.db.check_open()?;
            Self::check_k(k)?;
            let col = match &column {
                Some(c) => self.column_index(c)? as i64,
                None => 0,
            };
            if !(1..=64).contains(&tokens) {
                return Err(Error::invalid(format!(
                    "snippet_tokens must be between 1 and 64, got {tokens}"
                )));
            }
            let Some(expr) = self.match_expr(&query, None, escape)? else {
                return Ok(TextHits::default());
            };
            self.db.read(true, |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT rowid, -rank, {VALUE_REF}, snippet({t}, ?3, ?4, ?5, '...', ?6) FROM {t} \
                     WHERE {t} MATCH ?1 ORDER BY rank LIMIT ?2",
                    t = self.fts
                ))?;
                let rows = st
                    .query_map(
                        rusqlite::params![expr, k as i64, col, start, end, tokens as i64],
                        |r| {
                            Ok((
                                Ranked {
                                    id: r.get(0)?,
                                    score: r.get(1)?,
                                    value_ref: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                                },
                                r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                            ))
                        },
                    )
                    .map_err(|e| fts_error(e.into()))?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(|e| fts_error(e.into()))?;
                let hits: Vec<Ranked> = rows.iter().map(|(h, _)| Ranked { ..*h }).collect();
                let mut out = self.pack(c, &hits, decoded, false)?;
                for (_, s) in &rows {
                    put_lv(&mut out.texts, s.as_bytes())?;
                }
                Ok(out)
            })
        })
    }

    pub fn count_matches(&self, query: String) -> VResult<u64> {
        guard(|| {
            self.db.check_open()?;
            if query.trim().is_empty() {
                return Ok(0);
            }
            self.db.read(false, |c| {
                let n: i64 = c
                    .prepare_cached(&format!(
                        "SELECT count(*) FROM {t} WHERE {t} MATCH ?1",
                        t = self.fts
                    ))?
                    .query_row([&query], |r| r.get(0))
                    .map_err(|e| fts_error(e.into()))?;
                Ok(n as u64)
            })
        })
    }

    /// The value of the first document whose (single) column contains `key` as a phrase.
    pub fn get(&self, key: String, decoded: bool) -> VResult<TaggedValue> {
        guard(|| {
            self.db.check_open()?;
            if self.columns.len() != 1 {
                return Err(Error::invalid(
                    "get() with string key only works for single-column TextVault. Use search() for multi-column.",
                ));
            }
            let not_found = || Error::NotFound(format!("Key not found: {key}"));
            if key.trim().is_empty() {
                return Err(not_found());
            }
            self.db.read(true, |c| {
                let vref: Option<i64> = c
                    .prepare_cached(&format!(
                        "SELECT {VALUE_REF} FROM {t} WHERE {t} MATCH ?1 LIMIT 1",
                        t = self.fts
                    ))?
                    .query_row([phrase(&key)], |r| r.get(0))
                    .optional()
                    .map_err(|e| fts_error(e.into()))?;
                let vref = vref.ok_or_else(not_found)?;
                self.value_in(c, vref, decoded)
            })
        })
    }

    pub fn get_by_id(&self, id: i64, decoded: bool) -> VResult<TextRecord> {
        guard(|| {
            self.db.check_open()?;
            let (texts, value) = self.db.read(true, |c| {
                let (texts, vref) = self
                    .texts_in(c, id)?
                    .ok_or_else(|| Error::NotFound(format!("ID {id} not found")))?;
                Ok((texts, self.value_in(c, vref, decoded)?))
            })?;
            let vector = match &self.vectors {
                Some(v) => v.vector_of(id)?,
                None => None,
            };
            Ok(TextRecord {
                texts,
                value,
                vector,
            })
        })
    }

    pub fn exists(&self, id: i64) -> VResult<bool> {
        guard(|| {
            self.db.check_open()?;
            self.db
                .read(false, |c| Ok(self.value_ref(c, id)?.is_some()))
        })
    }

    pub fn count(&self) -> VResult<u64> {
        guard(|| {
            self.db.check_open()?;
            self.db.read(false, |c| self.count_in(c))
        })
    }

    /// Documents: the rows of FTS5's `{t}_docsize` shadow table (one per document, a plain
    /// rowid table whose count is a B-tree count), or a count over the FTS5 table itself (which
    /// reads every document) when the table has no docsize (`columnsize=0`).
    fn count_in(&self, c: &Connection) -> Result<u64> {
        let docsize = format!("\"{}_docsize\"", self.table);
        let n: i64 = match c.prepare_cached(&format!("SELECT count(*) FROM {docsize}")) {
            Ok(mut st) => st.query_row([], |r| r.get(0))?,
            Err(_) => c
                .prepare_cached(&format!("SELECT count(*) FROM {}", self.fts))?
                .query_row([], |r| r.get(0))?,
        };
        Ok(n as u64)
    }

    /// Document ids in rowid order (`limit` None = all).
    pub fn keys(&self, limit: Option<u64>, offset: u64) -> VResult<Vec<u8>> {
        guard(|| {
            self.db.check_open()?;
            self.db.read(false, |c| {
                let mut st = c.prepare_cached(&format!(
                    "SELECT rowid FROM {} ORDER BY rowid LIMIT ?1 OFFSET ?2",
                    self.fts
                ))?;
                let lim = limit.map_or(-1, |l| l.min(i64::MAX as u64) as i64);
                let mut out = Vec::new();
                let mut rows =
                    st.query(rusqlite::params![lim, offset.min(i64::MAX as u64) as i64])?;
                while let Some(r) = rows.next()? {
                    out.extend_from_slice(&r.get::<_, i64>(0)?.to_le_bytes());
                }
                Ok(out)
            })
        })
    }

    pub fn info(&self) -> VResult<TextInfo> {
        guard(|| {
            self.db.check_open()?;
            let count = self.db.read(false, |c| self.count_in(c))?;
            let vs = self.vectors.as_ref().map(|v| v.spec());
            Ok(TextInfo {
                table: self.table.clone(),
                columns: self.columns.clone(),
                count,
                tokenizer: self.tokenizer.name().to_string(),
                dimensions: vs.map(|s| s.dims),
                metric: vs.map(|s| s.metric.name().to_string()),
                vector_type: vs.map(|s| s.elem.name().to_string()),
            })
        })
    }

    /// Hybrid search: weighted reciprocal rank fusion of the BM25 ranking of the query's words
    /// and the exact vector ranking (docs/FORMAT.md §8.3): score(d) = Σ w / (rrf_k + rank(d)).
    pub fn hybrid_search(&self, req: HybridRequest) -> VResult<TextHits> {
        guard(|| {
            self.db.check_open()?;
            Self::check_k(req.k)?;
            if !(req.text_weight.is_finite() && req.vector_weight.is_finite())
                || req.text_weight < 0.0
                || req.vector_weight < 0.0
            {
                return Err(Error::invalid("weights must be finite and non-negative"));
            }
            if req.vector.is_some() && self.vectors.is_none() {
                return Err(Error::invalid(
                    "this TextVault has no vectors (open it with dimensions)",
                ));
            }
            let cands = req
                .candidates
                .unwrap_or_else(|| req.k.saturating_mul(4).max(50))
                .max(req.k)
                .min(MAX_K);
            if req.k == 0 {
                return Ok(TextHits::default());
            }
            let text_list: Vec<i64> = match req.query.as_deref().and_then(words_query) {
                Some(expr) => self
                    .db
                    .read(false, |c| self.ranked(c, &expr, cands))?
                    .into_iter()
                    .map(|r| r.id)
                    .collect(),
                None => Vec::new(),
            };
            let vec_list: Vec<i64> = match (&req.vector, &self.vectors) {
                (Some(q), Some(v)) => v
                    .nearest(q, cands as usize, None)?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect(),
                _ => Vec::new(),
            };
            let fused = rrf(
                &[
                    (&text_list, req.text_weight),
                    (&vec_list, req.vector_weight),
                ],
                req.rrf_k as f64,
                req.k as usize,
            );
            self.db.read(true, |c| {
                let mut hits = Vec::with_capacity(fused.len());
                for (id, score) in fused {
                    // A document deleted between the two rankings is skipped.
                    if let Some(vref) = self.value_ref(c, id)? {
                        hits.push(Ranked {
                            id,
                            score,
                            value_ref: vref,
                        });
                    }
                }
                self.pack(c, &hits, req.decoded, false)
            })
        })
    }

    /// The documents nearest to `vector` (scores are distances, smaller is nearer).
    pub fn search_by_vector(&self, vector: Vec<u8>, k: u32, decoded: bool) -> VResult<TextHits> {
        guard(|| {
            self.db.check_open()?;
            Self::check_k(k)?;
            let v = self.vectors.as_ref().ok_or_else(|| {
                Error::invalid("this TextVault has no vectors (open it with dimensions)")
            })?;
            let near = v.nearest(&vector, k as usize, None)?;
            self.db.read(true, |c| {
                let mut hits = Vec::with_capacity(near.len());
                for (id, d) in near {
                    if let Some(vref) = self.value_ref(c, id)? {
                        hits.push(Ranked {
                            id,
                            score: d as f64,
                            value_ref: vref,
                        });
                    }
                }
                self.pack(c, &hits, decoded, false)
            })
        })
    }

    pub fn checkpoint(&self) -> VResult<WalCheckpoint> {
        guard(|| maintenance::checkpoint_counts(self.db.db()))
    }

    pub fn close(&self) -> VResult<()> {
        guard(|| {
            if let Some(v) = &self.vectors {
                v.close().map_err(|e| Error::Internal(e.to_string()))?;
            }
            self.db.close()
        })
    }
}

/// Weighted reciprocal rank fusion of ranked id lists (ranks from 1): the `k` best ids by
/// Σ weight / (rrf_k + rank), ties by id.
pub fn rrf(lists: &[(&[i64], f64)], rrf_k: f64, k: usize) -> Vec<(i64, f64)> {
    let mut score: std::collections::HashMap<i64, f64> = std::collections::HashMap::new();
    for (list, w) in lists {
        if *w == 0.0 {
            continue;
        }
        for (i, id) in list.iter().enumerate() {
            *score.entry(*id).or_insert(0.0) += w / (rrf_k + (i + 1) as f64);
        }
    }
    let mut out: Vec<(i64, f64)> = score.into_iter().collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(k);
    out
}
