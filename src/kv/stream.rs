//! Streaming values in and out with bounded memory: one FFI crossing per chunk.
//!
//! A `PutStream` holds the writer connection inside one `BEGIN IMMEDIATE` transaction from its
//! first chunk to `finish()`; only a complete stream commits, so a failed or short stream leaves
//! the old value untouched. A `GetStream` reads one value from a snapshot of a pooled reader.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::{ArcMutexGuard, Mutex, RawMutex};
use rusqlite::blob::Blob;
use rusqlite::{Connection, OptionalExtension, MAIN_DB};

use super::KvInner;
use crate::codec;
use crate::error::{guard, Error, Result, VResult};
use crate::fastpath;

type WriterLease = ArcMutexGuard<RawMutex, Option<Connection>>;

/// An open incremental-BLOB handle that may move between threads.
struct SendBlob(Blob<'static>);

// SAFETY: connections are opened with SQLITE_OPEN_NO_MUTEX (multi-thread mode): a connection
// and its BLOB handles may be used from any thread as long as never concurrently. Every use of
// a SendBlob happens under the stream's Mutex, which serializes it.
unsafe impl Send for SendBlob {}

const HEAD: usize = codec::HEADER_LEN;

struct PutState {
    /// Open BLOB handle on the row; borrows the leased connection, so it is declared (and
    /// dropped) before `lease`, and always closed before COMMIT/ROLLBACK.
    blob: Option<SendBlob>,
    lease: Option<WriterLease>,
    key: Vec<u8>,
    size: u64,
    written: u64,
    /// Bytes held back until we know whether the value must be escaped (first 10 bytes).
    head: Vec<u8>,
    rowid: Option<i64>,
    offset: u64,
}

pub struct PutStream {
    inner: Arc<KvInner>,
    state: Mutex<Option<PutState>>,
}

fn conn(lease: &mut Option<WriterLease>) -> &mut Connection {
    lease
        .as_mut()
        .and_then(|g| g.as_mut())
        .expect("stream holds the writer")
}

impl PutState {
    fn begin_row(&mut self, inner: &KvInner) -> Result<()> {
        let escape = codec::looks_like_header(&self.head);
        let total = self.size + if escape { HEAD as u64 } else { 0 };
        if total > i32::MAX as u64 {
            return Err(Error::invalid("stream size exceeds SQLite BLOB limit"));
        }
        let c = conn(&mut self.lease);
        // DELETE + plain INSERT (not an upsert with RETURNING, which makes SQLite expand the
        // zeroblob into memory); both run inside the stream's transaction.
        c.prepare_cached(&format!("DELETE FROM {} WHERE key = ?1", inner.quoted))?
            .execute([&self.key])?;
        c.prepare_cached(&format!(
            "INSERT INTO {}(key, value) VALUES (?1, zeroblob(?2))",
            inner.quoted
        ))?
        .execute(rusqlite::params![self.key, total as i64])?;
        let rowid = c.last_insert_rowid();
        self.rowid = Some(rowid);
        if escape {
            let h = codec::encode_raw(&self.head[..HEAD]);
            self.write_at(inner, &h[..HEAD])?;
        }
        let head = std::mem::take(&mut self.head);
        self.write_at(inner, &head)
    }

    fn write_at(&mut self, inner: &KvInner, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.blob.is_none() {
            let rowid = self.rowid.expect("row exists");
            let c: &Connection = conn(&mut self.lease);
            // SAFETY: the connection lives inside the Arc'd writer mutex, which this state keeps
            // locked through `lease` (no one can move, close or use it meanwhile); `blob` is
            // dropped before `lease` (field order, and explicitly in close_blob()).
            let c: &'static Connection = unsafe { &*(c as *const Connection) };
            self.blob = Some(SendBlob(c.blob_open(
                MAIN_DB,
                inner.table.as_str(),
                "value",
                rowid,
                false,
            )?));
        }
        let blob = self.blob.as_mut().expect("opened above");
        blob.0.write_all_at(data, self.offset as usize)?;
        self.offset += data.len() as u64;
        Ok(())
    }

    fn close_blob(&mut self) {
        if let Some(b) = self.blob.take() {
            let _ = b.0.close();
        }
    }

    fn rollback(&mut self) {
        self.close_blob();
        if let Some(mut g) = self.lease.take() {
            if let Some(c) = g.as_mut() {
                if !c.is_autocommit() {
                    let _ = c.execute_batch("ROLLBACK");
                }
            }
        }
    }
}

impl PutStream {
    pub(crate) fn begin(inner: Arc<KvInner>, key: &[u8], size: u64) -> Result<PutStream> {
        inner.db.check_writable()?;
        if size > i32::MAX as u64 - HEAD as u64 {
            return Err(Error::invalid("stream size exceeds SQLite BLOB limit"));
        }
        let mut lease = Some(inner.db.writer_owned()?);
        conn(&mut lease).execute_batch("BEGIN IMMEDIATE")?;
        let mut st = PutState {
            blob: None,
            lease,
            key: key.to_vec(),
            size,
            written: 0,
            head: Vec::new(),
            rowid: None,
            offset: 0,
        };
        if size < HEAD as u64 {
            // Too short to look like a header: the row can exist from the start.
            if let Err(e) = st.begin_row(&inner) {
                st.rollback();
                return Err(e);
            }
        }
        Ok(PutStream {
            inner,
            state: Mutex::new(Some(st)),
        })
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut PutState) -> Result<T>) -> Result<T> {
        let mut g = self.state.lock();
        let st = g
            .as_mut()
            .ok_or_else(|| Error::invalid("stream is already finished or aborted"))?;
        let out = f(st);
        if out.is_err() {
            if let Some(mut s) = g.take() {
                s.rollback();
            }
        }
        out
    }

    pub fn write(&self, chunk: &[u8]) -> VResult<()> {
        guard(|| {
            let inner = self.inner.clone();
            self.with_state(|st| {
                if inner.db.is_closed() {
                    return Err(Error::Closed("KVault is closed".into()));
                }
                let n = chunk.len() as u64;
                if n > st.size - st.written {
                    return Err(Error::invalid(format!(
                        "stream got more bytes than its size ({} > {})",
                        st.written + n,
                        st.size
                    )));
                }
                st.written += n;
                if st.rowid.is_none() {
                    st.head.extend_from_slice(chunk);
                    if st.head.len() >= HEAD || st.written == st.size {
                        st.begin_row(&inner)?;
                    }
                    return Ok(());
                }
                st.write_at(&inner, chunk)
            })
        })
    }

    pub fn finish(&self) -> VResult<()> {
        guard(|| {
            let inner = self.inner.clone();
            let mut g = self.state.lock();
            let mut st = g
                .take()
                .ok_or_else(|| Error::invalid("stream is already finished or aborted"))?;
            if st.written != st.size {
                st.rollback();
                return Err(Error::invalid(format!(
                    "short write: wrote {} of {} bytes",
                    st.written, st.size
                )));
            }
            let res = (|| {
                if st.rowid.is_none() {
                    st.begin_row(&inner)?;
                }
                st.close_blob();
                let _gate = inner.gate_write()?;
                conn(&mut st.lease).execute_batch("COMMIT")?;
                inner.cache.lock().remove(&st.key);
                Ok(())
            })();
            if res.is_err() {
                st.rollback();
            }
            st.lease.take();
            res
        })
    }

    pub fn abort(&self) {
        if let Some(mut st) = self.state.lock().take() {
            st.rollback();
        }
    }

    pub fn remaining(&self) -> u64 {
        self.state.lock().as_ref().map_or(0, |s| s.size - s.written)
    }
}

impl Drop for PutStream {
    fn drop(&mut self) {
        self.abort();
    }
}

enum Source {
    /// A pooled reader inside `BEGIN`, reading the row's BLOB incrementally. `blob` borrows the
    /// boxed connection (stable address) and is declared first so it is dropped first.
    Blob {
        blob: Option<SendBlob>,
        conn: Box<Connection>,
    },
    /// The whole value in memory (cache hits and `:memory:` databases).
    Memory(Arc<Vec<u8>>),
}

struct GetState {
    source: Option<Source>,
    start: u64,
    size: u64,
    pos: u64,
}

pub struct GetStream {
    inner: Arc<KvInner>,
    state: Mutex<GetState>,
    fast_id: std::sync::atomic::AtomicU64,
}

/// Inside a new snapshot on `conn`: the row id, stored length and start of the user's bytes
/// (after a raw-escape header) of `key`, reading only the first bytes of the BLOB.
fn locate(inner: &KvInner, conn: &Connection, key: &[u8]) -> Result<Option<(i64, u64, u64)>> {
    conn.execute_batch("BEGIN")?;
    let rowid: Option<i64> = conn
        .query_row(
            &format!("SELECT rowid FROM {} WHERE key = ?1", inner.quoted),
            [key],
            |r| r.get(0),
        )
        .optional()?;
    let Some(rowid) = rowid else { return Ok(None) };
    let blob = conn.blob_open(MAIN_DB, inner.table.as_str(), "value", rowid, true)?;
    let len = blob.len() as u64;
    let mut head = vec![0u8; (len as usize).min(HEAD)];
    blob.read_at_exact(&mut head, 0)?;
    let start = (head.len() - codec::stored_view(&head).len()) as u64;
    Ok(Some((rowid, len, start)))
}

impl GetStream {
    pub(crate) fn open(inner: &Arc<KvInner>, key: &[u8]) -> Result<GetStream> {
        inner.db.check_open()?;
        let not_found =
            || Error::NotFound(format!("Key not found: {}", String::from_utf8_lossy(key)));
        let hit = inner.cache.lookup(key);
        let (source, start, total) = if let Some(v) = hit {
            let view_start = (v.len() - codec::stored_view(&v).len()) as u64;
            let n = v.len() as u64;
            (Source::Memory(v), view_start, n)
        } else if !inner.db.pooled() {
            let v = inner
                .with_stored(key, |s| Ok(s.map(|b| b.to_vec())))?
                .ok_or_else(not_found)?;
            let view_start = (v.len() - codec::stored_view(&v).len()) as u64;
            let n = v.len() as u64;
            (Source::Memory(Arc::new(v)), view_start, n)
        } else {
            let conn = inner.db.lease_reader()?;
            let found = match locate(inner, &conn, key) {
                Ok(f) => f,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    inner.db.return_reader(conn);
                    return Err(e);
                }
            };
            let Some((rowid, len, start)) = found.filter(|f| f.1 > 0) else {
                let _ = conn.execute_batch("ROLLBACK");
                inner.db.return_reader(conn);
                return match found {
                    None => Err(not_found()),
                    Some(_) => Ok(GetStream::new(
                        inner,
                        Source::Memory(Arc::new(Vec::new())),
                        0,
                        0,
                    )),
                };
            };
            let conn = Box::new(conn);
            // SAFETY: the connection is boxed (its address never changes) and owned by the same
            // `Source`, which drops `blob` before `conn`. The snapshot (BEGIN) stays open.
            let c: &'static Connection = unsafe { &*(conn.as_ref() as *const Connection) };
            let blob = match c.blob_open(MAIN_DB, inner.table.as_str(), "value", rowid, true) {
                Ok(b) => b,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    inner.db.return_reader(*conn);
                    return Err(e.into());
                }
            };
            (
                Source::Blob {
                    blob: Some(SendBlob(blob)),
                    conn,
                },
                start,
                len,
            )
        };
        Ok(GetStream::new(inner, source, start, total))
    }

    fn new(inner: &Arc<KvInner>, source: Source, start: u64, total: u64) -> GetStream {
        GetStream {
            inner: inner.clone(),
            state: Mutex::new(GetState {
                source: Some(source),
                start,
                size: total - start,
                pos: 0,
            }),
            fast_id: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Copies up to `buf.len()` bytes into `buf`; 0 at the end.
    pub fn read_into(&self, buf: &mut [u8]) -> Result<usize> {
        let mut st = self.state.lock();
        let remaining = st.size - st.pos;
        let n = (buf.len() as u64).min(remaining) as usize;
        if n == 0 {
            return Ok(0);
        }
        let off = (st.start + st.pos) as usize;
        match st.source.as_ref() {
            None => return Err(Error::invalid("stream is closed")),
            Some(Source::Memory(v)) => buf[..n].copy_from_slice(&v[off..off + n]),
            Some(Source::Blob { blob, .. }) => {
                let blob = blob.as_ref().expect("open while the source exists");
                blob.0.read_at_exact(&mut buf[..n], off)?;
            }
        }
        st.pos += n as u64;
        Ok(n)
    }

    pub fn size(&self) -> u64 {
        self.state.lock().size
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> u64 {
        let st = self.state.lock();
        st.size - st.pos
    }

    pub fn position(&self) -> u64 {
        self.state.lock().pos
    }

    pub fn read(&self, max: u32) -> VResult<Vec<u8>> {
        guard(|| {
            let want = {
                let st = self.state.lock();
                (max as u64).min(st.size - st.pos) as usize
            };
            let mut buf = vec![0u8; want];
            let n = self.read_into(&mut buf)?;
            buf.truncate(n);
            Ok(buf)
        })
    }

    pub fn close(&self) {
        fastpath::unregister(self.fast_id.swap(0, Ordering::AcqRel));
        let src = self.state.lock().source.take();
        if let Some(Source::Blob { mut blob, conn }) = src {
            if let Some(b) = blob.take() {
                let _ = b.0.close();
            }
            let _ = conn.execute_batch("ROLLBACK");
            self.inner.db.return_reader(*conn);
        }
    }

    pub fn fast_handle(self: Arc<Self>) -> u64 {
        fastpath::claim(&self.fast_id, &self)
    }
}

impl Drop for GetStream {
    fn drop(&mut self) {
        self.close();
    }
}
