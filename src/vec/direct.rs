//! Batch inserts written straight into sqlite-vec's shadow tables (docs/FORMAT.md §7.1).
//!
//! Through `vec0`, every row costs a rowid insert, a query for the latest chunk, four blob
//! opens (each walking the chunk blob's overflow chain) and an update of the rowid's position.
//! A batch instead fills the latest chunk's free slots through blob handles opened once, and
//! writes every new chunk whole (one insert per shadow table). The result is byte for byte what
//! `vec0` would have written for the same inserts in the same order (sqlite-vec 0.1.x: slots
//! taken in bitmap order from the latest chunk, then new chunks of `chunk_size` slots); the
//! Rust tests compare every shadow table with a `vec0`-built twin.
//!
//! Only tables of exactly VectorKVault's shape (`value_ref INTEGER` + one `vector` column, no
//! `chunk_size`, partition or auxiliary options) take this path; any other goes through `vec0`.

use rusqlite::{params, OptionalExtension, Transaction, MAIN_DB};

use crate::error::Result;

/// sqlite-vec's default `chunk_size`, used by every table of our shape.
pub const CHUNK: usize = 1024;

/// True when the `CREATE VIRTUAL TABLE` text is VectorKVault's shape.
pub fn eligible(ddl: &str) -> bool {
    let l = ddl.to_ascii_lowercase();
    let Some(open) = l.find('(') else {
        return false;
    };
    let cols = &l[open..];
    cols.matches(',').count() == 1
        && cols.contains("value_ref integer")
        && !["chunk_size", "partition", "+", "indexed"]
            .iter()
            .any(|w| cols.contains(w))
}

/// The raw (unquoted) names of the shadow tables of vec0 table `t`.
pub struct Shadow {
    pub chunks: String,
    pub rowids: String,
    pub vectors: String,
    pub metadata: String,
}

impl Shadow {
    pub fn new(t: &str) -> Shadow {
        Shadow {
            chunks: format!("{t}_chunks"),
            rowids: format!("{t}_rowids"),
            vectors: format!("{t}_vector_chunks00"),
            metadata: format!("{t}_metadatachunks00"),
        }
    }
}

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Inserts `refs.len()` rows (`rows` = their stored vectors back to back, `rb` bytes each,
/// `refs` their value_ref) and returns their vec0 rowids; `None` when the table's chunks are not
/// of the expected size (the caller then inserts through `vec0`). Runs in the caller's
/// transaction.
pub fn insert(
    tx: &Transaction<'_>,
    s: &Shadow,
    rows: &[u8],
    rb: usize,
    refs: &[i64],
) -> Result<Option<Vec<i64>>> {
    let n = refs.len();
    let latest: Option<(i64, i64)> = tx
        .prepare_cached(&format!(
            "SELECT rowid, size FROM {} WHERE rowid = (SELECT max(rowid) FROM {0})",
            q(&s.chunks)
        ))?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if latest.is_some_and(|(_, size)| size != CHUNK as i64) {
        return Ok(None);
    }
    let mut ins_rowid = tx.prepare_cached(&format!(
        "INSERT INTO {} (rowid, id, chunk_id, chunk_offset) VALUES (NULL, NULL, ?1, ?2)",
        q(&s.rowids)
    ))?;
    let mut ids = Vec::with_capacity(n);
    let mut done = 0;
    if let Some((chunk, _)) = latest {
        let mut validity = vec![0u8; CHUNK / 8];
        let mut vb = tx.blob_open(MAIN_DB, s.chunks.as_str(), "validity", chunk, false)?;
        if vb.len() != validity.len() {
            return Ok(None);
        }
        vb.read_at_exact(&mut validity, 0)?;
        let free: Vec<usize> = (0..CHUNK)
            .filter(|&i| validity[i / 8] >> (i % 8) & 1 == 0)
            .take(n)
            .collect();
        if !free.is_empty() {
            let mut vectors = tx.blob_open(MAIN_DB, s.vectors.as_str(), "vectors", chunk, false)?;
            let mut rowids = tx.blob_open(MAIN_DB, s.chunks.as_str(), "rowids", chunk, false)?;
            let mut data = tx.blob_open(MAIN_DB, s.metadata.as_str(), "data", chunk, false)?;
            if vectors.len() != CHUNK * rb || rowids.len() != CHUNK * 8 || data.len() != CHUNK * 8 {
                return Ok(None);
            }
            for (j, &off) in free.iter().enumerate() {
                ins_rowid.execute(params![chunk, off as i64])?;
                let id = tx.last_insert_rowid();
                vectors.write_at(&rows[j * rb..(j + 1) * rb], off * rb)?;
                rowids.write_at(&id.to_le_bytes(), off * 8)?;
                data.write_at(&refs[j].to_le_bytes(), off * 8)?;
                validity[off / 8] |= 1 << (off % 8);
                ids.push(id);
            }
            vb.write_at(&validity, 0)?;
        }
        done = free.len();
    }
    let mut ins_chunk = tx.prepare_cached(&format!(
        "INSERT INTO {} (rowid, size, validity, rowids) VALUES (?1, ?2, ?3, ?4)",
        q(&s.chunks)
    ))?;
    let mut ins_vectors = tx.prepare_cached(&format!(
        "INSERT INTO {} (_rowid_, rowid, vectors) VALUES (?1, ?1, ?2)",
        q(&s.vectors)
    ))?;
    let mut ins_data = tx.prepare_cached(&format!(
        "INSERT INTO {} (_rowid_, rowid, data) VALUES (?1, ?1, ?2)",
        q(&s.metadata)
    ))?;
    // The id an AUTOINCREMENT insert would give the next chunk (asked only when one is needed:
    // most single inserts fit in the latest chunk).
    let mut next_chunk: Option<i64> = None;
    while done < n {
        let m = CHUNK.min(n - done);
        let chunk = match next_chunk {
            Some(c) => c,
            None => tx
                .prepare_cached(&format!(
                    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0), \
                     coalesce((SELECT max(rowid) FROM {}), 0)) + 1",
                    q(&s.chunks)
                ))?
                .query_row([&s.chunks], |r| r.get(0))?,
        };
        next_chunk = Some(chunk + 1);
        let mut validity = vec![0u8; CHUNK / 8];
        let mut rowids = vec![0u8; CHUNK * 8];
        let mut vectors = vec![0u8; CHUNK * rb];
        let mut data = vec![0u8; CHUNK * 8];
        for j in 0..m {
            ins_rowid.execute(params![chunk, j as i64])?;
            let id = tx.last_insert_rowid();
            let i = done + j;
            validity[j / 8] |= 1 << (j % 8);
            rowids[j * 8..j * 8 + 8].copy_from_slice(&id.to_le_bytes());
            vectors[j * rb..(j + 1) * rb].copy_from_slice(&rows[i * rb..(i + 1) * rb]);
            data[j * 8..j * 8 + 8].copy_from_slice(&refs[i].to_le_bytes());
            ids.push(id);
        }
        ins_chunk.execute(params![chunk, CHUNK as i64, validity, rowids])?;
        ins_vectors.execute(params![chunk, vectors])?;
        ins_data.execute(params![chunk, data])?;
        done += m;
    }
    Ok(Some(ids))
}
