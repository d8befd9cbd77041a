//! The write-back cache's state (docs/COMPATIBILITY.md §4): pending entries, at most one in-flight
//! batch being committed, capacity and threshold accounting. Pure data; `KvInner` does the I/O.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};

pub type Entries = BTreeMap<Vec<u8>, Arc<Vec<u8>>>;

#[derive(Default)]
pub struct CacheState {
    pub enabled: bool,
    pub locked: bool,
    pub cap: u64,
    pub threshold: u64,
    pub pending: Entries,
    pub pending_bytes: u64,
    pub inflight: Option<Arc<Entries>>,
    pub inflight_bytes: u64,
}

/// The cache state behind its lock, plus a flag that says, without the lock, whether it holds
/// any entry: point reads of a vault whose cache is empty (off, or just flushed) skip the lock.
/// Every change goes through [`CacheCell::lock`], whose guard sets the flag before unlocking,
/// so a read that starts after a write returned sees the flag that write left.
#[derive(Default)]
pub struct CacheCell {
    state: Mutex<CacheState>,
    occupied: AtomicBool,
}

impl CacheCell {
    pub fn lock(&self) -> CacheGuard<'_> {
        CacheGuard {
            guard: self.state.lock(),
            occupied: &self.occupied,
        }
    }

    /// The newest cached stored value for `key`, without taking the lock when the cache holds
    /// nothing.
    pub fn lookup(&self, key: &[u8]) -> Option<Arc<Vec<u8>>> {
        if !self.occupied.load(Ordering::Acquire) {
            return None;
        }
        self.state.lock().lookup(key)
    }
}

/// The locked cache state (see [`CacheCell`]).
pub struct CacheGuard<'a> {
    guard: MutexGuard<'a, CacheState>,
    occupied: &'a AtomicBool,
}

impl Drop for CacheGuard<'_> {
    fn drop(&mut self) {
        let s = &*self.guard;
        let any = !s.pending.is_empty() || s.inflight.as_ref().is_some_and(|b| !b.is_empty());
        self.occupied.store(any, Ordering::Release);
    }
}

impl Deref for CacheGuard<'_> {
    type Target = CacheState;
    fn deref(&self) -> &CacheState {
        &self.guard
    }
}

impl DerefMut for CacheGuard<'_> {
    fn deref_mut(&mut self) -> &mut CacheState {
        &mut self.guard
    }
}

/// Outcome of trying to admit one entry.
pub enum Admit {
    Done,
    /// Larger than the whole cache: write it directly.
    TooLarge,
    /// Would exceed capacity: flush first, then retry.
    NeedFlush,
}

pub fn entry_size(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

impl CacheState {
    pub fn buffered(&self) -> u64 {
        self.pending_bytes + self.inflight_bytes
    }

    /// The newest cached stored value for `key` (pending first, then in-flight).
    pub fn lookup(&self, key: &[u8]) -> Option<Arc<Vec<u8>>> {
        if let Some(v) = self.pending.get(key) {
            return Some(v.clone());
        }
        self.inflight.as_ref().and_then(|b| b.get(key).cloned())
    }

    pub fn admit(&mut self, key: &[u8], value: Arc<Vec<u8>>, force: bool) -> Admit {
        use std::collections::btree_map::Entry;
        let size = entry_size(key, &value);
        if size > self.cap && !force {
            return Admit::TooLarge;
        }
        let buffered = self.buffered();
        match self.pending.entry(key.to_vec()) {
            Entry::Occupied(mut e) => {
                let old = entry_size(key, e.get());
                if !force && buffered - old + size > self.cap {
                    return Admit::NeedFlush;
                }
                e.insert(value);
                self.pending_bytes = self.pending_bytes - old + size;
            }
            Entry::Vacant(e) => {
                if !force && buffered + size > self.cap {
                    return Admit::NeedFlush;
                }
                e.insert(value);
                self.pending_bytes += size;
            }
        }
        Admit::Done
    }

    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.pending.remove(key) {
            Some(v) => {
                self.pending_bytes -= entry_size(key, &v);
                true
            }
            None => false,
        }
    }

    pub fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_bytes = 0;
    }

    /// Moves pending entries into the in-flight batch.
    pub fn start_flush(&mut self) -> Option<Arc<Entries>> {
        if self.pending.is_empty() {
            return None;
        }
        let batch = Arc::new(std::mem::take(&mut self.pending));
        self.inflight = Some(batch.clone());
        self.inflight_bytes = self.pending_bytes;
        self.pending_bytes = 0;
        Some(batch)
    }

    /// Retires the in-flight batch; on failure its entries go back into pending unless a newer
    /// pending write superseded them.
    pub fn end_flush(&mut self, ok: bool) {
        let batch = self.inflight.take();
        self.inflight_bytes = 0;
        if ok {
            return;
        }
        if let Some(b) = batch {
            for (k, v) in b.iter() {
                if !self.pending.contains_key(k) {
                    self.pending_bytes += entry_size(k, v);
                    self.pending.insert(k.clone(), v.clone());
                }
            }
        }
    }

    /// Cached entries with keys in (after, ..) ∩ [lo, hi), first `limit` of them.
    pub fn range(
        &self,
        after: Option<&[u8]>,
        lo: &[u8],
        hi: Option<&[u8]>,
        limit: usize,
    ) -> Vec<(Vec<u8>, Arc<Vec<u8>>)> {
        let mut merged: BTreeMap<&[u8], &Arc<Vec<u8>>> = BTreeMap::new();
        let in_range =
            |k: &[u8]| k >= lo && hi.is_none_or(|h| k < h) && after.is_none_or(|a| k > a);
        if let Some(b) = &self.inflight {
            for (k, v) in b.iter() {
                if in_range(k) {
                    merged.insert(k, v);
                }
            }
        }
        for (k, v) in self.pending.iter() {
            if in_range(k) {
                merged.insert(k, v);
            }
        }
        merged
            .into_iter()
            .take(limit)
            .map(|(k, v)| (k.to_vec(), v.clone()))
            .collect()
    }

    /// Every cached key (pending ∪ in-flight).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let mut ks: std::collections::BTreeSet<&Vec<u8>> = self.pending.keys().collect();
        if let Some(b) = &self.inflight {
            ks.extend(b.keys());
        }
        ks.into_iter().cloned().collect()
    }
}
