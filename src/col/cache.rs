//! Column write-back caches (docs/COMPATIBILITY.md §5): pending rows of one column and the
//! settings that decide when they are committed. The policy (capacity, threshold, when a batch
//! bypasses the cache) lives in `ColInner::append_rows`; this is the state.

use super::Rows;
use crate::error::{Error, Result};

/// One cache setting (a column's or the vault's).
#[derive(Debug, Clone)]
pub struct CacheConfig {
    pub cap_bytes: u64,
    pub flush_threshold: u64,
    pub flush_interval_secs: Option<f64>,
}

impl CacheConfig {
    /// Sizes must be positive; the threshold is at most the capacity.
    pub fn new(cap_bytes: u64, flush_threshold: u64, interval: Option<f64>) -> Result<Self> {
        if cap_bytes == 0 || flush_threshold == 0 {
            return Err(Error::invalid("cache sizes must be positive"));
        }
        if let Some(s) = interval {
            if !(s.is_finite() && s > 0.0) {
                return Err(Error::invalid(
                    "flush_interval must be a positive finite number",
                ));
            }
        }
        Ok(CacheConfig {
            cap_bytes,
            flush_threshold: flush_threshold.min(cap_bytes),
            flush_interval_secs: interval,
        })
    }
}

/// Rows appended but not committed: their bytes, and for variable width each row's length.
#[derive(Debug, Default)]
pub struct Pending {
    pub data: Vec<u8>,
    pub lens: Vec<u32>,
    pub rows: u64,
    var: bool,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// What a batch costs in the cache: its bytes plus 8 per variable-width row (as 1.1.0).
    pub fn cost_of(rows: &Rows<'_>) -> u64 {
        match rows {
            Rows::Fixed(d) => d.len() as u64,
            Rows::Var(v) => v.iter().map(|r| r.len() as u64 + 8).sum(),
        }
    }

    pub fn cost(&self) -> u64 {
        self.data.len() as u64 + if self.var { 8 * self.rows } else { 0 }
    }

    pub fn push(&mut self, rows: &Rows<'_>) {
        match rows {
            Rows::Fixed(d) => {
                // Fixed rows are counted by the caller, who knows the row size (count_fixed).
                self.data.extend_from_slice(d);
            }
            Rows::Var(v) => {
                self.var = true;
                for r in v {
                    self.data.extend_from_slice(r);
                    self.lens.push(r.len() as u32);
                }
                self.rows += v.len() as u64;
            }
        }
    }

    /// Adds `n` fixed-width rows to the count (their bytes were pushed).
    pub fn count_fixed(&mut self, n: u64) {
        self.rows += n;
    }

    /// The pending variable-width rows as slices.
    pub fn rows(&self) -> Vec<&[u8]> {
        let mut out = Vec::with_capacity(self.lens.len());
        let mut at = 0usize;
        for &l in &self.lens {
            out.push(&self.data[at..at + l as usize]);
            at += l as usize;
        }
        out
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.lens.clear();
        self.rows = 0;
    }
}
