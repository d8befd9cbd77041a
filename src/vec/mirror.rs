//! The in-memory copy of a vector table that exact searches scan (docs/FORMAT.md §7.2).
//!
//! The file stays the truth: the copy is loaded from the `vec0` table in one read snapshot, is
//! shared by every handle of the table in the process (all of them write through the same
//! writer connection and patch it while committing, under its write lock), and is reloaded
//! when another program has committed since it was loaded (the writer connection's
//! `data_version`, which only other connections move).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::kernels::{self, Kernel, Rows};

#[derive(Default)]
pub struct Mirror {
    pub loaded: bool,
    /// `PRAGMA data_version` of the shared writer connection when the copy was last known
    /// current: it moves only when another connection (another program) commits.
    pub writer_dv: Option<i64>,
    ids: Vec<i64>,
    refs: Vec<i64>,
    words: Vec<u32>,
    pos: HashMap<i64, usize>,
    stride: usize,
    dims: usize,
}

/// Little-endian row bytes into words (the words past the row stay as they are: zero).
fn fill_words(w: &mut [u32], row: &[u8]) {
    let whole = row.chunks_exact(4);
    let tail = whole.remainder();
    let n = row.len() / 4;
    for (d, c) in w.iter_mut().zip(whole) {
        *d = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    if !tail.is_empty() {
        let mut b = [0u8; 4];
        b[..tail.len()].copy_from_slice(tail);
        w[n] = u32::from_le_bytes(b);
    }
}

/// One search hit: distance, id, value row id.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub distance: f32,
    pub id: i64,
    pub value_ref: i64,
}

impl PartialEq for Hit {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Hit {
    fn cmp(&self, o: &Self) -> Ordering {
        self.distance
            .total_cmp(&o.distance)
            .then(self.id.cmp(&o.id))
    }
}

/// The k smallest hits seen (a max-heap whose top is the worst kept).
struct TopK {
    k: usize,
    heap: BinaryHeap<Hit>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }
    #[inline]
    fn offer(&mut self, h: Hit) {
        if self.heap.len() < self.k {
            self.heap.push(h);
        } else if let Some(mut top) = self.heap.peek_mut() {
            if h < *top {
                *top = h;
            }
        }
    }
    fn merge(&mut self, other: TopK) {
        for h in other.heap {
            self.offer(h);
        }
    }
    fn sorted(self) -> Vec<Hit> {
        self.heap.into_sorted_vec()
    }
}

/// Rows per distance block (the distances of one block stay in L1).
const BLOCK: usize = 256;
/// Below this many bytes per query a scan runs on the calling thread only.
const PARALLEL_BYTES: usize = 4 << 20;

impl Mirror {
    /// Loaded and current for the writer's data_version `wdv` (None: the writer is busy this
    /// instant, i.e. this process is writing, and its commits patch the copy).
    pub fn current(&self, wdv: Option<i64>) -> bool {
        self.loaded && (wdv.is_none() || self.writer_dv == wdv)
    }

    pub fn reset(&mut self, row_bytes: usize, dims: usize) {
        self.loaded = false;
        self.ids.clear();
        self.refs.clear();
        self.words.clear();
        self.pos.clear();
        self.stride = row_bytes.div_ceil(4);
        self.dims = dims;
    }

    pub fn row_bytes(&self) -> usize {
        self.stride * 4
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn reserve(&mut self, rows: usize) {
        self.ids.reserve(rows);
        self.refs.reserve(rows);
        self.words.reserve(rows * self.stride);
        self.pos.reserve(rows);
    }

    /// A stored row as words (zero-padded).
    pub fn row_words(&self, row: &[u8]) -> Vec<u32> {
        let mut w = vec![0u32; self.stride];
        fill_words(&mut w, row);
        w
    }

    pub fn push(&mut self, id: i64, value_ref: i64, row: &[u8]) {
        if let Some(&p) = self.pos.get(&id) {
            self.refs[p] = value_ref;
            self.set_row(p, row);
            return;
        }
        self.pos.insert(id, self.ids.len());
        self.ids.push(id);
        self.refs.push(value_ref);
        let at = self.words.len();
        self.words.resize(at + self.stride, 0);
        fill_words(&mut self.words[at..], row);
    }

    fn set_row(&mut self, p: usize, row: &[u8]) {
        let s = self.stride;
        let w = &mut self.words[p * s..(p + 1) * s];
        w.fill(0);
        fill_words(w, row);
    }

    pub fn set_vector(&mut self, id: i64, row: &[u8]) {
        if let Some(&p) = self.pos.get(&id) {
            self.set_row(p, row);
        }
    }

    pub fn remove(&mut self, id: i64) {
        let Some(p) = self.pos.remove(&id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if p != last {
            self.ids.swap(p, last);
            self.refs.swap(p, last);
            let s = self.stride;
            let (head, tail) = self.words.split_at_mut(last * s);
            head[p * s..(p + 1) * s].copy_from_slice(&tail[..s]);
            self.pos.insert(self.ids[p], p);
        }
        self.ids.pop();
        self.refs.pop();
        self.words.truncate(last * self.stride);
    }

    /// The stored row (`row_bytes` bytes) and value_ref of `id`, if the copy holds it.
    pub fn row_of(&self, id: i64, row_bytes: usize) -> Option<(Vec<u8>, i64)> {
        let &p = self.pos.get(&id)?;
        let s = self.stride;
        let mut row: Vec<u8> = self.words[p * s..(p + 1) * s]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        row.truncate(row_bytes);
        Some((row, self.refs[p]))
    }

    /// Positions of the given ids that are present.
    pub fn positions(&self, ids: &[i64]) -> Vec<usize> {
        let mut p: Vec<usize> = ids
            .iter()
            .filter_map(|i| self.pos.get(i).copied())
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    }

    fn rows(&self) -> Rows<'_> {
        Rows {
            words: &self.words,
            stride: self.stride,
            dims: self.dims,
        }
    }

    fn hit(&self, p: usize, d: f32) -> Hit {
        Hit {
            distance: d,
            id: self.ids[p],
            value_ref: self.refs[p],
        }
    }

    fn scan_range(&self, kernel: Kernel, q: &[u32], from: usize, to: usize, k: usize) -> TopK {
        let mut top = TopK::new(k);
        let mut buf = [0f32; BLOCK];
        let mut at = from;
        while at < to {
            let n = BLOCK.min(to - at);
            kernels::distances(kernel, self.rows(), q, at, &mut buf[..n]);
            for (i, &d) in buf[..n].iter().enumerate() {
                top.offer(self.hit(at + i, d));
            }
            at += n;
        }
        top
    }

    fn scan_positions(&self, kernel: Kernel, q: &[u32], pos: &[usize], k: usize) -> TopK {
        let mut top = TopK::new(k);
        let mut buf = [0f32; BLOCK];
        for chunk in pos.chunks(BLOCK) {
            kernels::gather(kernel, self.rows(), q, chunk, &mut buf[..chunk.len()]);
            for (&p, &d) in chunk.iter().zip(&buf[..chunk.len()]) {
                top.offer(self.hit(p, d));
            }
        }
        top
    }

    /// The k nearest rows to `q` (all rows, or only `allowed` positions), nearest first, ties
    /// by id. Large scans are split over the available cores.
    pub fn search(
        &self,
        kernel: Kernel,
        q: &[u32],
        k: usize,
        allowed: Option<&[usize]>,
        threads: usize,
    ) -> Vec<Hit> {
        if k == 0 {
            return Vec::new();
        }
        let n = allowed.map_or(self.len(), |a| a.len());
        let bytes = n * self.stride * 4;
        let parts = if bytes >= PARALLEL_BYTES {
            threads.clamp(1, 8).min(n / BLOCK + 1)
        } else {
            1
        };
        let run = |lo: usize, hi: usize| match allowed {
            None => self.scan_range(kernel, q, lo, hi, k),
            Some(a) => self.scan_positions(kernel, q, &a[lo..hi], k),
        };
        if parts <= 1 {
            return run(0, n).sorted();
        }
        let per = n.div_ceil(parts);
        let top = std::thread::scope(|s| {
            let handles: Vec<_> = (1..parts)
                .map(|t| {
                    let (lo, hi) = ((t * per).min(n), ((t + 1) * per).min(n));
                    s.spawn(move || run(lo, hi))
                })
                .collect();
            let mut top = run(0, per.min(n));
            for h in handles {
                match h.join() {
                    Ok(t) => top.merge(t),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            top
        });
        top.sorted()
    }

    /// Several queries: split over the cores by query when there are enough of them.
    pub fn search_many(
        &self,
        kernel: Kernel,
        queries: &[Vec<u32>],
        k: usize,
        allowed: Option<&[usize]>,
        threads: usize,
    ) -> Vec<Vec<Hit>> {
        let threads = threads.clamp(1, 8);
        if queries.len() < 2 * threads || threads == 1 {
            return queries
                .iter()
                .map(|q| self.search(kernel, q, k, allowed, threads))
                .collect();
        }
        let per = queries.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = queries
                .chunks(per)
                .map(|qs| {
                    s.spawn(move || {
                        qs.iter()
                            .map(|q| self.search(kernel, q, k, allowed, 1))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(queries.len());
            for h in handles {
                match h.join() {
                    Ok(v) => out.extend(v),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            out
        })
    }
}
