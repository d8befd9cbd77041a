//! Column rows in bounded BLOB blocks (docs/FORMAT.md §6), byte-compatible with kohakuvault
//! 1.1.0's `kvault_col_*` tables. Every function runs on the caller's connection inside the
//! caller's transaction (writes) or snapshot (reads).

use rusqlite::blob::Blob;
use rusqlite::{params, Connection, OptionalExtension, MAIN_DB};

use crate::error::{Error, Result};

pub const FORMAT_VERSION: i64 = 1;

/// The catalog and block tables, exactly as 1.1.0 creates them.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kvault_col_format (singleton INTEGER PRIMARY KEY CHECK(singleton = 1), version INTEGER NOT NULL);
INSERT OR IGNORE INTO kvault_col_format VALUES (1, 1);
CREATE TABLE IF NOT EXISTS kvault_col_columns (col_id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,
  dtype TEXT NOT NULL, elem_size INTEGER NOT NULL CHECK(elem_size >= 0),
  length INTEGER NOT NULL DEFAULT 0 CHECK(length >= 0), block_bytes INTEGER NOT NULL CHECK(block_bytes > 0));
CREATE TABLE IF NOT EXISTS kvault_col_blocks (block_id INTEGER PRIMARY KEY,
  col_id INTEGER NOT NULL REFERENCES kvault_col_columns(col_id) ON DELETE CASCADE,
  block_no INTEGER NOT NULL, first_row INTEGER NOT NULL, row_count INTEGER NOT NULL, used_bytes INTEGER NOT NULL,
  capacity_bytes INTEGER NOT NULL, row_capacity INTEGER NOT NULL, UNIQUE(col_id, block_no));
CREATE INDEX IF NOT EXISTS kvault_col_row_index ON kvault_col_blocks(col_id, first_row);
CREATE TABLE IF NOT EXISTS kvault_col_data (block_id INTEGER PRIMARY KEY REFERENCES kvault_col_blocks(block_id) ON DELETE CASCADE,
  payload BLOB NOT NULL, offsets BLOB);
";

/// What the block layer needs of a column.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    pub id: i64,
    /// Bytes per row; 0 = variable width.
    pub elem_size: u64,
    pub block_bytes: u64,
}

impl Meta {
    fn rows_per_block(&self) -> u64 {
        (self.block_bytes / self.elem_size).max(1)
    }
    fn var_row_capacity(&self) -> u64 {
        (self.block_bytes / 16).clamp(1, 65536)
    }
}

fn out_of_range() -> Error {
    Error::invalid("column index out of range")
}

/// The committed length of a column (NotFound when it does not exist).
pub fn length(c: &Connection, id: i64) -> Result<u64> {
    let n: Option<i64> = c
        .prepare_cached("SELECT length FROM kvault_col_columns WHERE col_id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    n.map(|n| n as u64)
        .ok_or_else(|| Error::NotFound("column not found".into()))
}

fn set_length(c: &Connection, id: i64, len: u64) -> Result<()> {
    c.prepare_cached("UPDATE kvault_col_columns SET length = ?2 WHERE col_id = ?1")?
        .execute(params![id, len as i64])?;
    Ok(())
}

struct Block {
    id: i64,
    no: i64,
    first_row: u64,
    rows: u64,
    used: u64,
    capacity: u64,
    row_capacity: u64,
}

fn block_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Block> {
    Ok(Block {
        id: r.get(0)?,
        no: r.get(1)?,
        first_row: r.get::<_, i64>(2)? as u64,
        rows: r.get::<_, i64>(3)? as u64,
        used: r.get::<_, i64>(4)? as u64,
        capacity: r.get::<_, i64>(5)? as u64,
        row_capacity: r.get::<_, i64>(6)? as u64,
    })
}

const BLOCK_COLS: &str =
    "block_id, block_no, first_row, row_count, used_bytes, capacity_bytes, row_capacity";

/// The id of block `no` of column `id`, if it exists.
fn find_block(c: &Connection, id: i64, no: u64) -> Result<Option<i64>> {
    Ok(c.prepare_cached(
        "SELECT block_id FROM kvault_col_blocks WHERE col_id = ?1 AND block_no = ?2",
    )?
    .query_row(params![id, no as i64], |r| r.get(0))
    .optional()?)
}

/// The id of block `no`, which must exist (the rows before the length are all in blocks).
fn block_at(c: &Connection, id: i64, no: u64) -> Result<i64> {
    find_block(c, id, no)?.ok_or_else(|| Error::corrupt("a column block is missing"))
}

/// Inserts a block with its payload (padded with zeros to `capacity`) and offsets.
#[allow(clippy::too_many_arguments)]
fn insert_block(
    c: &Connection,
    id: i64,
    no: i64,
    first_row: u64,
    rows: u64,
    payload: &[u8],
    capacity: u64,
    row_capacity: u64,
    offsets: Option<&[u8]>,
) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO kvault_col_blocks(col_id, block_no, first_row, row_count, used_bytes, capacity_bytes, row_capacity)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        no,
        first_row as i64,
        rows as i64,
        payload.len() as i64,
        capacity as i64,
        row_capacity as i64
    ])?;
    let block_id = c.last_insert_rowid();
    let cap = capacity as usize;
    if payload.len() == cap {
        c.prepare_cached(
            "INSERT INTO kvault_col_data(block_id, payload, offsets) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![block_id, payload, offsets])?;
    } else {
        let mut full = Vec::with_capacity(cap);
        full.extend_from_slice(payload);
        full.resize(cap, 0);
        c.prepare_cached(
            "INSERT INTO kvault_col_data(block_id, payload, offsets) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![block_id, full, offsets])?;
    }
    Ok(())
}

fn open_blob<'c>(c: &'c Connection, col: &str, block_id: i64, read_only: bool) -> Result<Blob<'c>> {
    Ok(c.blob_open(MAIN_DB, "kvault_col_data", col, block_id, read_only)?)
}

fn check_fixed(m: &Meta) -> Result<()> {
    if m.elem_size == 0 {
        return Err(Error::invalid("this operation needs a fixed-width column"));
    }
    Ok(())
}

/// Appends whole fixed-width rows (`data.len()` a multiple of the row size); returns the new
/// length.
pub fn append_fixed(c: &Connection, m: &Meta, data: &[u8]) -> Result<u64> {
    check_fixed(m)?;
    let e = m.elem_size;
    if !(data.len() as u64).is_multiple_of(e) {
        return Err(Error::invalid(format!(
            "{} bytes are not a whole number of {e}-byte rows",
            data.len()
        )));
    }
    let rpb = m.rows_per_block();
    let mut len = length(c, m.id)?;
    let n = data.len() as u64 / e;
    let mut off = 0u64;
    while off < n {
        let no = (len / rpb) as i64;
        let local = len % rpb;
        let take = (n - off).min(rpb - local);
        let chunk = &data[(off * e) as usize..((off + take) * e) as usize];
        let existing = find_block(c, m.id, no as u64)?;
        match existing {
            None if local == 0 => {
                insert_block(
                    c,
                    m.id,
                    no,
                    no as u64 * rpb,
                    take,
                    chunk,
                    rpb * e,
                    rpb,
                    None,
                )?;
            }
            None => return Err(Error::corrupt("a column block is missing")),
            Some(block_id) => {
                open_blob(c, "payload", block_id, false)?.write_at(chunk, (local * e) as usize)?;
                c.prepare_cached(
                    "UPDATE kvault_col_blocks SET row_count = ?2, used_bytes = ?3 WHERE block_id = ?1",
                )?
                .execute(params![
                    block_id,
                    (local + take) as i64,
                    ((local + take) * e) as i64
                ])?;
            }
        }
        len += take;
        off += take;
    }
    set_length(c, m.id, len)?;
    Ok(len)
}

/// Appends variable-width rows; returns the new length.
pub fn append_var(c: &Connection, m: &Meta, rows: &[&[u8]]) -> Result<u64> {
    if m.elem_size != 0 {
        return Err(Error::invalid(
            "this operation needs a variable-width column",
        ));
    }
    if let Some(r) = rows
        .iter()
        .find(|r| r.len() as u64 > super::dtype::MAX_RECORD)
    {
        return Err(Error::invalid(format!(
            "a variable-width record cannot exceed 512 MiB ({} bytes)",
            r.len()
        )));
    }
    let mut len = length(c, m.id)?;
    let mut tail: Option<Block> = c
        .prepare_cached(&format!(
            "SELECT {BLOCK_COLS} FROM kvault_col_blocks WHERE col_id = ?1 ORDER BY block_no DESC LIMIT 1"
        ))?
        .query_row([m.id], block_of)
        .optional()?;
    let mut i = 0;
    while i < rows.len() {
        // The longest run from i that fits in (rows, bytes) starting at (r0, u0).
        let fit = |r0: u64, u0: u64, cap: u64, rcap: u64| -> usize {
            let (mut k, mut used) = (0usize, u0);
            while i + k < rows.len()
                && r0 + (k as u64) < rcap
                && used + rows[i + k].len() as u64 <= cap
            {
                used += rows[i + k].len() as u64;
                k += 1;
            }
            k
        };
        if let Some(t) = tail.as_mut() {
            let k = fit(t.rows, t.used, t.capacity, t.row_capacity);
            if k > 0 {
                let run = &rows[i..i + k];
                let mut payload = Vec::with_capacity(run.iter().map(|r| r.len()).sum());
                let mut ends = Vec::with_capacity(k * 8);
                let mut end = t.used;
                for r in run {
                    payload.extend_from_slice(r);
                    end += r.len() as u64;
                    ends.extend_from_slice(&end.to_le_bytes());
                }
                if !payload.is_empty() {
                    open_blob(c, "payload", t.id, false)?.write_at(&payload, t.used as usize)?;
                }
                open_blob(c, "offsets", t.id, false)?
                    .write_at(&ends, ((t.rows + 1) * 8) as usize)?;
                t.rows += k as u64;
                t.used = end;
                c.prepare_cached(
                    "UPDATE kvault_col_blocks SET row_count = ?2, used_bytes = ?3 WHERE block_id = ?1",
                )?
                .execute(params![t.id, t.rows as i64, t.used as i64])?;
                len += k as u64;
                i += k;
                continue;
            }
        }
        // A new block: a dedicated one for a record larger than a block, else a normal one.
        let big = rows[i].len() as u64 > m.block_bytes;
        let (cap, rcap) = if big {
            (rows[i].len() as u64, 1)
        } else {
            (m.block_bytes, m.var_row_capacity())
        };
        let k = fit(0, 0, cap, rcap).max(1);
        let run = &rows[i..i + k];
        let mut payload = Vec::with_capacity(cap as usize);
        let mut offsets = vec![0u8; ((rcap + 1) * 8) as usize];
        for (j, r) in run.iter().enumerate() {
            payload.extend_from_slice(r);
            let end = payload.len() as u64;
            offsets[(j + 1) * 8..(j + 2) * 8].copy_from_slice(&end.to_le_bytes());
        }
        let no = tail.as_ref().map_or(0, |t| t.no + 1);
        insert_block(
            c,
            m.id,
            no,
            len,
            k as u64,
            &payload,
            cap,
            rcap,
            Some(&offsets),
        )?;
        tail = Some(Block {
            id: c.last_insert_rowid(),
            no,
            first_row: len,
            rows: k as u64,
            used: payload.len() as u64,
            capacity: cap,
            row_capacity: rcap,
        });
        len += k as u64;
        i += k;
    }
    set_length(c, m.id, len)?;
    Ok(len)
}

/// Checks `[start, start + count)` against the committed length.
pub fn check_range(c: &Connection, m: &Meta, start: u64, count: u64) -> Result<u64> {
    let len = length(c, m.id)?;
    match start.checked_add(count) {
        Some(end) if end <= len => Ok(len),
        _ => Err(out_of_range()),
    }
}

/// Fixed-width rows `[start, start + count)` into `out` (exactly `count * elem_size` bytes).
pub fn read_fixed_into(
    c: &Connection,
    m: &Meta,
    start: u64,
    count: u64,
    out: &mut [u8],
) -> Result<()> {
    check_fixed(m)?;
    let e = m.elem_size;
    if out.len() as u64 != count * e {
        return Err(Error::invalid("output buffer size does not match the rows"));
    }
    check_range(c, m, start, count)?;
    if count == 0 {
        return Ok(());
    }
    let rpb = m.rows_per_block();
    let (first, last) = (start / rpb, (start + count - 1) / rpb);
    let mut st = c.prepare_cached(
        "SELECT block_id, block_no FROM kvault_col_blocks WHERE col_id = ?1 AND block_no BETWEEN ?2 AND ?3 ORDER BY block_no",
    )?;
    let blocks: Vec<(i64, u64)> = st
        .query_map(params![m.id, first as i64, last as i64], |r| {
            Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if blocks.len() as u64 != last - first + 1 {
        return Err(Error::corrupt("a column block is missing"));
    }
    let mut blob: Option<Blob<'_>> = None;
    for (block_id, no) in blocks {
        let lo = start.max(no * rpb);
        let hi = (start + count).min((no + 1) * rpb);
        let dst = &mut out[((lo - start) * e) as usize..((hi - start) * e) as usize];
        match blob.as_mut() {
            Some(b) => b.reopen(block_id)?,
            None => blob = Some(open_blob(c, "payload", block_id, true)?),
        }
        blob.as_ref()
            .expect("opened")
            .read_at_exact(dst, ((lo - no * rpb) * e) as usize)?;
    }
    Ok(())
}

/// Overwrites fixed-width rows in place from `start`.
pub fn overwrite_fixed(c: &Connection, m: &Meta, start: u64, data: &[u8]) -> Result<()> {
    check_fixed(m)?;
    let e = m.elem_size;
    if !(data.len() as u64).is_multiple_of(e) {
        return Err(Error::invalid("data is not a whole number of rows"));
    }
    let count = data.len() as u64 / e;
    check_range(c, m, start, count)?;
    let rpb = m.rows_per_block();
    let mut row = start;
    while row < start + count {
        let no = row / rpb;
        let hi = (start + count).min((no + 1) * rpb);
        let block_id = block_at(c, m.id, no)?;
        let src = &data[((row - start) * e) as usize..((hi - start) * e) as usize];
        open_blob(c, "payload", block_id, false)?.write_at(src, ((row - no * rpb) * e) as usize)?;
        row = hi;
    }
    Ok(())
}

/// Fixed-width rows at `indices` (in order, duplicates kept), read grouped by block.
pub fn take_fixed(c: &Connection, m: &Meta, indices: &[u64]) -> Result<Vec<u8>> {
    check_fixed(m)?;
    let e = m.elem_size as usize;
    let len = length(c, m.id)?;
    if indices.iter().any(|&i| i >= len) {
        return Err(out_of_range());
    }
    let rpb = m.rows_per_block();
    let mut order: Vec<usize> = (0..indices.len()).collect();
    order.sort_by_key(|&k| indices[k]);
    let mut out = vec![0u8; indices.len() * e];
    let mut blob: Option<Blob<'_>> = None;
    let mut cur = u64::MAX;
    for k in order {
        let row = indices[k];
        let no = row / rpb;
        if no != cur {
            let block_id = block_at(c, m.id, no)?;
            match blob.as_mut() {
                Some(b) => b.reopen(block_id)?,
                None => blob = Some(open_blob(c, "payload", block_id, true)?),
            }
            cur = no;
        }
        blob.as_ref().expect("opened").read_at_exact(
            &mut out[k * e..(k + 1) * e],
            ((row - no * rpb) as usize) * e,
        )?;
    }
    Ok(out)
}

/// Variable-width rows `[start, start + count)`: their bytes concatenated and `count + 1`
/// end offsets rebased to 0.
pub fn read_var(c: &Connection, m: &Meta, start: u64, count: u64) -> Result<(Vec<u8>, Vec<u64>)> {
    if m.elem_size != 0 {
        return Err(Error::invalid(
            "this operation needs a variable-width column",
        ));
    }
    check_range(c, m, start, count)?;
    let mut data = Vec::new();
    let mut ends = Vec::with_capacity(count as usize + 1);
    ends.push(0u64);
    if count == 0 {
        return Ok((data, ends));
    }
    let end = start + count;
    let first: i64 = c
        .prepare_cached(
            "SELECT first_row FROM kvault_col_blocks WHERE col_id = ?1 AND first_row <= ?2 ORDER BY first_row DESC LIMIT 1",
        )?
        .query_row(params![m.id, start as i64], |r| r.get(0))
        .optional()?
        .ok_or_else(|| Error::corrupt("a column block is missing"))?;
    let mut st = c.prepare_cached(&format!(
        "SELECT {BLOCK_COLS} FROM kvault_col_blocks WHERE col_id = ?1 AND first_row >= ?2 AND first_row < ?3 ORDER BY first_row"
    ))?;
    let blocks: Vec<Block> = st
        .query_map(params![m.id, first, end as i64], block_of)?
        .collect::<rusqlite::Result<_>>()?;
    let mut offs_buf = Vec::new();
    for b in blocks {
        let lo = start.max(b.first_row);
        let hi = end.min(b.first_row + b.rows);
        if lo >= hi {
            continue;
        }
        let (l0, l1) = (lo - b.first_row, hi - b.first_row);
        offs_buf.resize(((l1 - l0 + 1) * 8) as usize, 0);
        let ob = open_blob(c, "offsets", b.id, true)?;
        ob.read_at_exact(&mut offs_buf, (l0 * 8) as usize)?;
        drop(ob);
        let local: Vec<u64> = offs_buf
            .chunks_exact(8)
            .map(|x| u64::from_le_bytes(x.try_into().expect("8 bytes")))
            .collect();
        let (p0, p1) = (local[0], *local.last().expect("nonempty"));
        if p1 < p0 || p1 > b.capacity {
            return Err(Error::corrupt("column block offsets are out of order"));
        }
        let base = data.len() as u64;
        let at = data.len();
        data.resize(at + (p1 - p0) as usize, 0);
        if p1 > p0 {
            open_blob(c, "payload", b.id, true)?.read_at_exact(&mut data[at..], p0 as usize)?;
        }
        for &o in &local[1..] {
            ends.push(base + o - p0);
        }
    }
    if ends.len() as u64 != count + 1 {
        return Err(Error::corrupt("column blocks do not cover the rows"));
    }
    Ok((data, ends))
}

/// The first row of the block holding `row` (0 when the column is empty).
pub fn block_start(c: &Connection, id: i64, row: u64) -> Result<u64> {
    let first: Option<i64> = c
        .prepare_cached(
            "SELECT first_row FROM kvault_col_blocks WHERE col_id = ?1 AND first_row <= ?2 ORDER BY first_row DESC LIMIT 1",
        )?
        .query_row(params![id, row as i64], |r| r.get(0))
        .optional()?;
    Ok(first.unwrap_or(0) as u64)
}

/// Deletes every block of a column and sets its length to 0.
pub fn clear(c: &Connection, id: i64) -> Result<()> {
    c.prepare_cached(
        "DELETE FROM kvault_col_data WHERE block_id IN (SELECT block_id FROM kvault_col_blocks WHERE col_id = ?1)",
    )?
    .execute([id])?;
    c.prepare_cached("DELETE FROM kvault_col_blocks WHERE col_id = ?1")?
        .execute([id])?;
    set_length(c, id, 0)
}

/// (blocks, payload bytes used, capacity bytes) of a column.
pub fn storage_info(c: &Connection, id: i64) -> Result<(u64, u64, u64)> {
    let (n, used, cap): (i64, i64, i64) = c.query_row(
        "SELECT count(*), coalesce(sum(used_bytes), 0), coalesce(sum(capacity_bytes), 0) FROM kvault_col_blocks WHERE col_id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((n as u64, used as u64, cap as u64))
}
