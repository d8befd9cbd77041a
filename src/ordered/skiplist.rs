//! A lock-free skip list on crossbeam-epoch: an ordered map for many threads.
//!
//! The algorithm is the classic one of Fraser and of Herlihy & Shavit: each node has a tower
//! of next pointers; removal first *marks* the node's pointers (the low tag bit), top level
//! down, and the thread whose mark lands on level 0 owns the removal; any search that meets a
//! marked node unlinks it with a CAS on its predecessor. No operation takes a lock.
//!
//! Memory: a node counts one reference per level where it is linked plus one for the inserting
//! thread while it builds the tower; the thread that drops the last one hands the node to
//! `Guard::defer_destroy`, so a node is freed once no pinned thread can still see it. Dropping
//! the list frees every node still linked.
//!
//! Semantics (kohakuvault 1.1.0's `SkipList`): `insert` is **insert-if-absent** (an existing
//! key keeps its value and the call returns it), `remove` returns the old value. Reads see a
//! consistent-enough view under concurrent writers: every traversal follows pointers that only
//! lead to greater keys, so iteration is always strictly ascending (never a duplicate, never
//! out of order); entries inserted or removed during an iteration may or may not be seen.
//! A key that cannot be ordered against the keys it meets (or a NaN) makes the operation
//! return [`Incomparable`] and changes nothing.
//!
//! Walks (ranges, whole reads, iteration pages) are bound by memory latency: each step at
//! level 0 reads a node that is nowhere near the one before (nodes are allocated in insertion
//! order), one cache miss after another. A walk of more than a few dozen entries is therefore
//! cut into runs at the nodes of level 2 (one in 16), and up to 8 runs are read side by side,
//! each node's successor fetched ahead while the other runs step, so their misses overlap.

use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicIsize, AtomicU64, AtomicUsize, Ordering as Mem};

use crossbeam_epoch::{self as epoch, Atomic, Guard, Owned, Shared};

use super::key::{BatchError, Incomparable, Key, OrderedKey};
use crate::fastpath::prefetch;

/// The maximum tower height (1.1.0's); with a level probability of 1/4 it serves 4^32 nodes.
pub const MAX_HEIGHT: usize = 32;

/// Tower levels stored inside the node; higher levels (one node in 256) go to a boxed slice.
const INLINE: usize = 4;

/// Entries fetched per pin by [`Iter`].
const PAGE: usize = 256;

/// The level whose nodes cut a long walk into runs read side by side (one node in 16).
const RUN_LEVEL: usize = 2;

/// Runs walked side by side: about as many loads as a core keeps in flight.
const RUNS: usize = 8;

/// Nodes per run on average (4^RUN_LEVEL).
const RUN_NODES: usize = 16;

/// Walks of at most this many entries read one node after another.
const SHORT_WALK: usize = 32;

const SEQ: Mem = Mem::SeqCst;

/// A link to the next node at one level; the tag bit marks the owner as being removed.
type Link<K, V> = Atomic<Node<K, V>>;

#[repr(C)]
struct Links<K, V> {
    inline: [Link<K, V>; INLINE],
    extra: Option<Box<[Link<K, V>]>>,
}

impl<K, V> Links<K, V> {
    fn new(height: usize) -> Self {
        Links {
            inline: Default::default(),
            extra: (height > INLINE).then(|| (INLINE..height).map(|_| Atomic::null()).collect()),
        }
    }

    #[inline]
    fn at(&self, level: usize) -> &Link<K, V> {
        if level < INLINE {
            &self.inline[level]
        } else {
            match &self.extra {
                Some(extra) => &extra[level - INLINE],
                None => unreachable!("level above the tower"),
            }
        }
    }
}

/// `repr(C)` keeps the key next to the low levels of the tower: a search step at levels 0–3
/// reads one 64-byte span.
#[repr(C)]
struct Node<K, V> {
    key: K,
    links: Links<K, V>,
    value: V,
    /// Levels where the node is linked, plus one while its inserter builds the tower.
    refs: AtomicUsize,
    height: usize,
}

impl<K, V> Node<K, V> {
    #[inline]
    fn is_removed(&self, guard: &Guard) -> bool {
        self.links.at(0).load(SEQ, guard).tag() == 1
    }
}

/// Predecessors and successors of a key at every level.
struct Position<'g, K, V> {
    preds: [&'g Links<K, V>; MAX_HEIGHT],
    succs: [Shared<'g, Node<K, V>>; MAX_HEIGHT],
}

/// Where a walk starts: its first node, and the first node of [`RUN_LEVEL`] not before it.
type Walk<'g, K, V> = (Option<&'g Node<K, V>>, Option<&'g Node<K, V>>);

/// Whether `k` is within the upper bound `hi`.
#[inline]
fn within<K: OrderedKey>(hi: Bound<&K>, k: &K) -> Result<bool, Incomparable> {
    Ok(match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => h.try_cmp(k)? != Ordering::Less,
        Bound::Excluded(h) => h.try_cmp(k)? == Ordering::Greater,
    })
}

/// Asks the cache for the lines of the node at `p` that a walk reads (its key, its level-0
/// link and its value).
#[inline(always)]
fn prefetch_node<K, V>(p: *const Node<K, V>) {
    if p.is_null() {
        return;
    }
    let p = p as *const u8;
    for at in [
        0,
        std::mem::offset_of!(Node<K, V>, links),
        std::mem::offset_of!(Node<K, V>, value),
    ] {
        prefetch(p.wrapping_add(at));
    }
}

/// A lock-free ordered map from `K` (by default [`Key`]) to `V`. See the module documentation.
pub struct SkipList<V, K = Key> {
    head: Links<K, V>,
    /// Levels in use: at least the height of every node ever linked.
    top: AtomicUsize,
    /// Live entries (signed: a removal may be counted before the insert it follows).
    len: AtomicIsize,
}

impl<V, K> fmt::Debug for SkipList<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SkipList(len={})", self.len.load(Mem::Relaxed).max(0))
    }
}

fn random_height() -> usize {
    static SEEDS: AtomicU64 = AtomicU64::new(0x2545_F491_4F6C_DD1D);
    thread_local! {
        static STATE: Cell<u64> = Cell::new(SEEDS.fetch_add(0x9E37_79B9_7F4A_7C15, Mem::Relaxed));
    }
    let r = STATE.with(|s| {
        // splitmix64
        let x = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    });
    // P(height > h) = 4^-h.
    (1 + r.trailing_zeros() as usize / 2).min(MAX_HEIGHT)
}

impl<V, K> Default for SkipList<V, K>
where
    K: OrderedKey + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<V, K> SkipList<V, K>
where
    K: OrderedKey + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new() -> Self {
        SkipList {
            head: Links::new(MAX_HEIGHT),
            top: AtomicUsize::new(1),
            len: AtomicIsize::new(0),
        }
    }

    /// The number of entries (exact when no writer is running).
    pub fn len(&self) -> usize {
        self.len.load(Mem::Relaxed).max(0) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops one reference of `node`; the last one defers its destruction.
    ///
    /// # Safety
    /// `node` must be a node of this list on which the caller owns a reference.
    unsafe fn release(&self, node: Shared<'_, Node<K, V>>, guard: &Guard) {
        if node.deref().refs.fetch_sub(1, SEQ) == 1 {
            guard.defer_destroy(node);
        }
    }

    /// Predecessors and successors at every level: `succs[l]` is the first node at level `l`
    /// for which `go_right` is false. Unlinks the removed nodes met on the way.
    fn search<'g, F>(
        &'g self,
        go_right: F,
        guard: &'g Guard,
    ) -> Result<Position<'g, K, V>, Incomparable>
    where
        F: FnMut(&K) -> Result<bool, Incomparable>,
    {
        self.search_from(go_right, &mut [None; MAX_HEIGHT], guard)
    }

    /// [`search`](Self::search) from `fingers` (as [`find_near`](Self::find_near): the nodes
    /// before an earlier, not greater key, per level; None the head), which it updates. Above
    /// the level it starts at, the fingers are the predecessors (a successor found there
    /// before the key only makes a removal leave that level's unlinking to later searches).
    fn search_from<'g, F>(
        &'g self,
        mut go_right: F,
        fingers: &mut [Option<&'g Node<K, V>>; MAX_HEIGHT],
        guard: &'g Guard,
    ) -> Result<Position<'g, K, V>, Incomparable>
    where
        F: FnMut(&K) -> Result<bool, Incomparable>,
    {
        let links = |n: Option<&'g Node<K, V>>| n.map_or(&self.head, |n| &n.links);
        'retry: loop {
            let top = self.top.load(SEQ);
            let mut pos = Position {
                preds: [&self.head; MAX_HEIGHT],
                succs: [Shared::null(); MAX_HEIGHT],
            };
            // The level to start at: the top from the head, else the lowest level whose next
            // node is not before the key (climbing from the finger at level 0).
            let mut start = top;
            if let Some(f) = fingers[0] {
                if f.is_removed(guard) || !go_right(&f.key)? {
                    *fingers = [None; MAX_HEIGHT];
                } else {
                    start = 1;
                    while start < top {
                        let next = links(fingers[start - 1])
                            .at(start - 1)
                            .load(SEQ, guard)
                            .with_tag(0);
                        // SAFETY: read under `guard`.
                        match unsafe { next.as_ref() } {
                            Some(c) if go_right(&c.key)? => start += 1,
                            _ => break,
                        }
                    }
                    if fingers[start - 1].is_some_and(|n| n.is_removed(guard)) {
                        *fingers = [None; MAX_HEIGHT];
                        start = top;
                    }
                }
            }
            for (level, &f) in fingers.iter().enumerate().take(top).skip(start) {
                pos.preds[level] = links(f);
                pos.succs[level] = links(f).at(level).load(SEQ, guard).with_tag(0);
            }
            // From the head (start = top) every finger is None.
            let mut pred_node = start.checked_sub(1).and_then(|l| fingers[l]);
            let mut pred: &'g Links<K, V> = links(pred_node);
            // The node that ended the level above: `go_right` is false for it.
            let mut stop = Shared::null();
            for level in (0..start.min(top)).rev() {
                let mut curr = pred.at(level).load(SEQ, guard);
                if curr.tag() == 1 {
                    // The predecessor is being removed: start again from the head.
                    *fingers = [None; MAX_HEIGHT];
                    continue 'retry;
                }
                // SAFETY: every pointer read under `guard` stays valid until it is unpinned.
                while let Some(c) = unsafe { curr.as_ref() } {
                    let succ = c.links.at(level).load(SEQ, guard);
                    if succ.tag() == 1 {
                        // `c` is being removed: unlink it here.
                        let next = succ.with_tag(0);
                        match pred.at(level).compare_exchange(curr, next, SEQ, SEQ, guard) {
                            Ok(_) => {
                                // SAFETY: the link we removed was one of its references.
                                unsafe { self.release(curr, guard) };
                                curr = next;
                                continue;
                            }
                            Err(_) => {
                                *fingers = [None; MAX_HEIGHT];
                                continue 'retry;
                            }
                        }
                    }
                    if curr != stop && go_right(&c.key)? {
                        pred = &c.links;
                        pred_node = Some(c);
                        curr = succ;
                    } else {
                        break;
                    }
                }
                pos.preds[level] = pred;
                pos.succs[level] = curr;
                fingers[level] = pred_node;
                stop = curr;
            }
            return Ok(pos);
        }
    }

    /// The first node (at level 0) for which `go_right` is false, read-only.
    fn seek<'g, F>(
        &'g self,
        go_right: F,
        guard: &'g Guard,
    ) -> Result<Option<&'g Node<K, V>>, Incomparable>
    where
        F: FnMut(&K) -> Result<bool, Incomparable>,
    {
        Ok(self.seek_walk(go_right, guard)?.0)
    }

    /// [`seek`](Self::seek)'s node and the first node of [`RUN_LEVEL`] for which `go_right`
    /// is false (where a [`walk`](Self::walk) from it cuts its first run).
    fn seek_walk<'g, F>(
        &'g self,
        mut go_right: F,
        guard: &'g Guard,
    ) -> Result<Walk<'g, K, V>, Incomparable>
    where
        F: FnMut(&K) -> Result<bool, Incomparable>,
    {
        let mut pred: &'g Links<K, V> = &self.head;
        let mut found = None;
        let mut run = None;
        let mut stop = Shared::null();
        for level in (0..self.top.load(SEQ)).rev() {
            let mut curr = pred.at(level).load(SEQ, guard).with_tag(0);
            // SAFETY: as in `search`.
            while let Some(c) = unsafe { curr.as_ref() } {
                let succ = c.links.at(level).load(SEQ, guard);
                if succ.tag() == 1 {
                    curr = succ.with_tag(0);
                    continue;
                }
                if curr != stop && go_right(&c.key)? {
                    pred = &c.links;
                    curr = succ;
                } else {
                    break;
                }
            }
            stop = curr;
            if level == RUN_LEVEL {
                run = unsafe { curr.as_ref() };
            }
            if level == 0 {
                found = unsafe { curr.as_ref() };
            }
        }
        Ok((found, run))
    }

    /// The last live node for which `go_right` is true, read-only.
    fn seek_before<'g, F>(
        &'g self,
        mut go_right: F,
        guard: &'g Guard,
    ) -> Result<Option<&'g Node<K, V>>, Incomparable>
    where
        F: FnMut(&K) -> Result<bool, Incomparable>,
    {
        loop {
            let mut pred: &'g Links<K, V> = &self.head;
            let mut pred_node: Option<&'g Node<K, V>> = None;
            let mut stop = Shared::null();
            for level in (0..self.top.load(SEQ)).rev() {
                let mut curr = pred.at(level).load(SEQ, guard).with_tag(0);
                // SAFETY: as in `search`.
                while let Some(c) = unsafe { curr.as_ref() } {
                    let succ = c.links.at(level).load(SEQ, guard);
                    if succ.tag() == 1 {
                        curr = succ.with_tag(0);
                        continue;
                    }
                    if curr != stop && go_right(&c.key)? {
                        pred = &c.links;
                        pred_node = Some(c);
                        curr = succ;
                    } else {
                        break;
                    }
                }
                stop = curr;
            }
            match pred_node {
                None => return Ok(None),
                Some(n) if !n.is_removed(guard) => return Ok(Some(n)),
                // Removed meanwhile: look again.
                Some(_) => continue,
            }
        }
    }

    /// The live node equal to `key`.
    fn find<'g>(
        &'g self,
        key: &K,
        guard: &'g Guard,
    ) -> Result<Option<&'g Node<K, V>>, Incomparable> {
        self.find_near(key, &mut [None; MAX_HEIGHT], guard)
    }

    /// [`find`](Self::find) from `fingers`: per level, the last node before a key a search
    /// looked for earlier (None: the head), which it updates. For keys searched in ascending
    /// order (any other order starts at the head when a key is not after the earlier one) it
    /// climbs from level 0 only while the next node is still before the key, then
    /// descends from there: O(log gap) nodes per key instead of O(log n). A finger removed
    /// meanwhile is not used (its links are frozen and may pass newer nodes): the search then
    /// starts at the head.
    fn find_near<'g>(
        &'g self,
        key: &K,
        fingers: &mut [Option<&'g Node<K, V>>; MAX_HEIGHT],
        guard: &'g Guard,
    ) -> Result<Option<&'g Node<K, V>>, Incomparable> {
        let links = |n: Option<&'g Node<K, V>>| n.map_or(&self.head, |n| &n.links);
        let top = self.top.load(SEQ).max(1);
        let mut level = top - 1;
        // The lowest finger is the last before the earlier key: a key not after it (the keys
        // did not ascend) starts at the head, as when there are no fingers.
        if let Some(n) = fingers[0] {
            if key.try_cmp(&n.key)? != Ordering::Greater {
                *fingers = [None; MAX_HEIGHT];
            } else {
                level = 0;
                while level + 1 < top {
                    let next = links(fingers[level]).at(level).load(SEQ, guard).with_tag(0);
                    // SAFETY: read under `guard`.
                    match unsafe { next.as_ref() } {
                        Some(c) if key.try_cmp(&c.key)? == Ordering::Greater => level += 1,
                        _ => break,
                    }
                }
                if fingers[level].is_some_and(|n| n.is_removed(guard)) {
                    *fingers = [None; MAX_HEIGHT];
                    level = top - 1;
                }
            }
        }
        let mut pred = fingers[level];
        let mut stop = Shared::null();
        for l in (0..=level).rev() {
            let mut curr = links(pred).at(l).load(SEQ, guard).with_tag(0);
            // SAFETY: as in `search`.
            while let Some(c) = unsafe { curr.as_ref() } {
                let succ = c.links.at(l).load(SEQ, guard);
                if succ.tag() == 1 {
                    curr = succ.with_tag(0);
                    continue;
                }
                if curr == stop {
                    break; // known to be greater
                }
                match key.try_cmp(&c.key)? {
                    Ordering::Greater => {
                        pred = Some(c);
                        curr = succ;
                    }
                    Ordering::Equal => {
                        // `pred` is linked at every level up to `l`, before the key.
                        fingers[..=l].fill(pred);
                        return Ok((!c.is_removed(guard)).then_some(c));
                    }
                    Ordering::Less => break,
                }
            }
            fingers[l] = pred;
            stop = curr;
        }
        Ok(None)
    }

    /// Inserts `key` if absent. Returns `None` when inserted, or the existing value (which is
    /// kept: `value` is dropped) when the key is present.
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        let height = random_height();
        self.top.fetch_max(height, SEQ);
        let mut pos = self.search(|x| Ok(key.try_cmp(x)? == Ordering::Greater), guard)?;
        // SAFETY: read under `guard`.
        if let Some(s) = unsafe { pos.succs[0].as_ref() } {
            if key.try_cmp(&s.key)? == Ordering::Equal {
                return Ok(Some(s.value.clone()));
            }
        }
        let mut node = Owned::new(Node {
            key,
            links: Links::new(height),
            value,
            refs: AtomicUsize::new(2),
            height,
        });
        let (shared, mut pos) = loop {
            for level in 0..height {
                node.links.at(level).store(pos.succs[level], Mem::Relaxed);
            }
            match pos.preds[0]
                .at(0)
                .compare_exchange(pos.succs[0], node, SEQ, SEQ, guard)
            {
                Ok(shared) => break (shared, pos),
                Err(e) => node = e.new,
            }
            pos = {
                let k = &node.key;
                self.search(|x| Ok(k.try_cmp(x)? == Ordering::Greater), guard)?
            };
            // SAFETY: read under `guard`.
            if let Some(s) = unsafe { pos.succs[0].as_ref() } {
                if node.key.try_cmp(&s.key)? == Ordering::Equal {
                    return Ok(Some(s.value.clone()));
                }
            }
        };
        self.len.fetch_add(1, Mem::Relaxed);
        // SAFETY: we hold the inserter's reference.
        let n = unsafe { shared.deref() };
        let key_of_node = |x: &K| Ok(n.key.try_cmp(x)? == Ordering::Greater);
        'build: for level in 1..height {
            loop {
                let (pred, succ) = (pos.preds[level], pos.succs[level]);
                let next = n.links.at(level).load(SEQ, guard);
                if next.tag() == 1 {
                    break 'build; // being removed
                }
                if next != succ
                    && n.links
                        .at(level)
                        .compare_exchange(next, succ, SEQ, SEQ, guard)
                        .is_err()
                {
                    break 'build; // marked meanwhile
                }
                n.refs.fetch_add(1, SEQ);
                if pred
                    .at(level)
                    .compare_exchange(succ, shared, SEQ, SEQ, guard)
                    .is_ok()
                {
                    if n.links.at(level).load(SEQ, guard).tag() == 1 {
                        // Marked while we linked it: make sure it is unlinked.
                        let _ = self.search(key_of_node, guard);
                        break 'build;
                    }
                    break;
                }
                n.refs.fetch_sub(1, SEQ);
                match self.search(key_of_node, guard) {
                    Ok(p) if p.succs[0] == shared => pos = p,
                    _ => break 'build, // removed already
                }
            }
        }
        // SAFETY: the inserter's reference.
        unsafe { self.release(shared, guard) };
        Ok(None)
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<V>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self.find(key, guard)?.map(|n| n.value.clone()))
    }

    /// The stored key and the value of `key`.
    pub fn get_key_value(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self.find(key, guard)?.map(entry))
    }

    pub fn contains_key(&self, key: &K) -> Result<bool, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self.find(key, guard)?.is_some())
    }

    /// Removes `key`; returns its value.
    pub fn remove(&self, key: &K) -> Result<Option<V>, Incomparable> {
        Ok(self.remove_entry(key)?.map(|(_, v)| v))
    }

    /// Removes `key`; returns the stored key and its value.
    pub fn remove_entry(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        self.remove_near(key, &mut [None; MAX_HEIGHT], guard)
    }

    /// [`remove_entry`](Self::remove_entry) of a validated key, its search starting from
    /// `fingers` ([`search_from`](Self::search_from)).
    fn remove_near<'g>(
        &'g self,
        key: &K,
        fingers: &mut [Option<&'g Node<K, V>>; MAX_HEIGHT],
        guard: &'g Guard,
    ) -> Result<Option<(K, V)>, Incomparable> {
        let below = |x: &K| Ok(key.try_cmp(x)? == Ordering::Greater);
        loop {
            let pos = self.search_from(below, fingers, guard)?;
            // SAFETY: read under `guard`.
            let Some(n) = (unsafe { pos.succs[0].as_ref() }) else {
                return Ok(None);
            };
            if key.try_cmp(&n.key)? != Ordering::Equal {
                return Ok(None);
            }
            for level in (1..n.height).rev() {
                n.links.at(level).fetch_or(1, SEQ, guard);
            }
            if n.links.at(0).fetch_or(1, SEQ, guard).tag() == 1 {
                // Another thread removed it first; a new entry may have been inserted since.
                continue;
            }
            let out = entry(n);
            self.len.fetch_sub(1, Mem::Relaxed);
            // Unlink it through the predecessors found; if one changed, a search does it.
            let node = pos.succs[0];
            let mut unlinked = true;
            for level in (0..n.height).rev() {
                if pos.succs[level] != node {
                    continue; // not linked at this level when we looked (see `insert`)
                }
                let next = n.links.at(level).load(SEQ, guard).with_tag(0);
                match pos.preds[level]
                    .at(level)
                    .compare_exchange(node, next, SEQ, SEQ, guard)
                {
                    // SAFETY: the link we removed was one of its references.
                    Ok(_) => unsafe { self.release(node, guard) },
                    Err(_) => unlinked = false,
                }
            }
            if !unlinked {
                let _ = self.search(below, guard);
            }
            return Ok(Some(out));
        }
    }

    /// Inserts every pair in order (insert-if-absent), pushing `None` for an inserted pair
    /// and the existing value for a present key to `previous`. Stops at the first refused
    /// key: the pairs before it are applied, that pair and the later ones are dropped.
    pub fn insert_many<I>(&self, items: I, previous: &mut Vec<Option<V>>) -> Result<(), BatchError>
    where
        I: IntoIterator<Item = (K, V)>,
    {
        for (index, (k, v)) in items.into_iter().enumerate() {
            match self.insert(k, v) {
                Ok(old) => previous.push(old),
                Err(error) => return Err(BatchError { index, error }),
            }
        }
        Ok(())
    }

    /// The values of `keys`, in order; the first refused key is an error.
    pub fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, BatchError> {
        let guard = &epoch::pin();
        keys.iter()
            .enumerate()
            .map(|(index, k)| {
                k.validate()
                    .and_then(|_| self.find(k, guard))
                    .map(|n| n.map(|n| n.value.clone()))
                    .map_err(|error| BatchError { index, error })
            })
            .collect()
    }

    /// The values of `keys[order[0]]`, `keys[order[1]]` … stored at those indices (`order` any
    /// permutation; the closer to ascending, the faster: each search starts from the one
    /// before, [`find_near`](Self::find_near)). The first refused key (in `order`) is an error.
    pub fn get_many_ordered(
        &self,
        keys: &[K],
        order: &[u32],
    ) -> Result<Vec<Option<V>>, Incomparable> {
        let guard = &epoch::pin();
        let mut fingers = [None; MAX_HEIGHT];
        let mut out = vec![None; keys.len()];
        for &i in order {
            let key = &keys[i as usize];
            key.validate()?;
            out[i as usize] = self
                .find_near(key, &mut fingers, guard)?
                .map(|n| n.value.clone());
        }
        Ok(out)
    }

    /// Removes `keys[order[0]]`, `keys[order[1]]` … (validated keys; `order` any permutation,
    /// the closer to ascending the faster: each search starts from the one before), storing
    /// what each removed at its index. A key that cannot be ordered with the entries it meets
    /// counts as absent: callers check first that none can be (see `OrderedStore`).
    pub fn remove_many_ordered(&self, keys: &[K], order: &[u32]) -> Vec<Option<V>> {
        let guard = &epoch::pin();
        let mut fingers = [None; MAX_HEIGHT];
        let mut out = vec![None; keys.len()];
        for &i in order {
            let key = &keys[i as usize];
            out[i as usize] = match self.remove_near(key, &mut fingers, guard) {
                Ok(found) => found.map(|(_, v)| v),
                Err(_) => {
                    fingers = [None; MAX_HEIGHT];
                    None
                }
            };
        }
        out
    }

    /// The smallest entry.
    pub fn first(&self) -> Option<(K, V)> {
        let guard = &epoch::pin();
        self.seek(|_| Ok(false), guard).ok().flatten().map(entry)
    }

    /// The largest entry.
    pub fn last(&self) -> Option<(K, V)> {
        let guard = &epoch::pin();
        self.seek_before(|_| Ok(true), guard)
            .ok()
            .flatten()
            .map(entry)
    }

    /// The largest entry with `k <= key`.
    pub fn floor(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self
            .seek_before(|x| Ok(key.try_cmp(x)? != Ordering::Less), guard)?
            .map(entry))
    }

    /// The largest entry with `k < key`.
    pub fn lower(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self
            .seek_before(|x| Ok(key.try_cmp(x)? == Ordering::Greater), guard)?
            .map(entry))
    }

    /// The smallest entry with `k >= key`.
    pub fn ceiling(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self
            .seek(|x| Ok(key.try_cmp(x)? == Ordering::Greater), guard)?
            .map(entry))
    }

    /// The smallest entry with `k > key`.
    pub fn higher(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let guard = &epoch::pin();
        Ok(self
            .seek(|x| Ok(key.try_cmp(x)? != Ordering::Less), guard)?
            .map(entry))
    }

    /// The entries with `start <= k < end` in key order (empty when `start >= end`).
    pub fn range(&self, start: &K, end: &K) -> Result<Vec<(K, V)>, Incomparable> {
        self.range_page(Bound::Included(start), Bound::Excluded(end), usize::MAX)
    }

    /// At most `limit` entries between two bounds, in key order (a page; continue with
    /// `Bound::Excluded(last key)`). Empty when the lower bound is above the upper one.
    pub fn range_page(
        &self,
        lo: Bound<&K>,
        hi: Bound<&K>,
        limit: usize,
    ) -> Result<Vec<(K, V)>, Incomparable> {
        let mut out = Vec::new();
        self.visit_page(lo, hi, limit, &mut |k, v| out.push((k.clone(), v.clone())))?;
        Ok(out)
    }

    /// Calls `f` with at most `limit` live entries between two bounds, in key order (what
    /// [`range_page`](Self::range_page) returns, without copying it).
    pub fn visit_page(
        &self,
        lo: Bound<&K>,
        hi: Bound<&K>,
        limit: usize,
        f: &mut dyn FnMut(&K, &V),
    ) -> Result<(), Incomparable> {
        for b in [lo, hi] {
            if let Bound::Included(k) | Bound::Excluded(k) = b {
                k.validate()?;
            }
        }
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) =
            (lo, hi)
        {
            match a.try_cmp(b)? {
                Ordering::Greater => return Ok(()),
                Ordering::Equal
                    if !matches!((lo, hi), (Bound::Included(_), Bound::Included(_))) =>
                {
                    return Ok(())
                }
                _ => {}
            }
        }
        let guard = &epoch::pin();
        let start = match lo {
            Bound::Unbounded => self.seek_walk(|_| Ok(false), guard)?,
            Bound::Included(k) => {
                self.seek_walk(|x| Ok(k.try_cmp(x)? == Ordering::Greater), guard)?
            }
            Bound::Excluded(k) => self.seek_walk(|x| Ok(k.try_cmp(x)? != Ordering::Less), guard)?,
        };
        self.walk(start, hi, limit, f, guard)
    }

    /// Calls `f` with the live entries from `start.0` on (level 0) while they are within `hi`,
    /// at most `limit`. A long walk is cut into runs at the nodes of [`RUN_LEVEL`] (from
    /// `start.1` on), and [`RUNS`] runs are read side by side, each node's successor fetched
    /// ahead while the other runs take their step: the cache misses of a walk, one per node,
    /// overlap instead of following one another. Each run stops before the key that starts
    /// the next, and keys only grow along level 0, so the entries come in key order, each
    /// once, whatever concurrent writers do.
    fn walk<'g>(
        &'g self,
        start: Walk<'g, K, V>,
        hi: Bound<&K>,
        limit: usize,
        f: &mut dyn FnMut(&K, &V),
        guard: &'g Guard,
    ) -> Result<(), Incomparable> {
        let (mut first, mut cut) = start;
        if limit <= SHORT_WALK || cut.is_none() {
            return self.walk_run(first, hi, limit, f, guard).map(|_| ());
        }
        let mut runs: [Vec<&'g Node<K, V>>; RUNS] = Default::default();
        let mut seen = 0;
        while let Some(s0) = first {
            // The runs' first nodes: `s0`, then nodes of the run level inside `hi`; the one
            // after them starts the next group.
            let want = ((limit - seen) / RUN_NODES + 1).min(RUNS);
            let mut starts: [Option<&'g Node<K, V>>; RUNS] = [None; RUNS];
            starts[0] = Some(s0);
            let (mut n, mut next) = (1, None);
            while let Some(x) = cut {
                // SAFETY: read under `guard`.
                cut = unsafe { x.links.at(RUN_LEVEL).load(SEQ, guard).with_tag(0).as_ref() };
                if std::ptr::eq(x, s0) {
                    continue;
                }
                if !within(hi, &x.key)? {
                    cut = None;
                    break;
                }
                if n == want {
                    next = Some(x);
                    break;
                }
                starts[n] = Some(x);
                n += 1;
            }
            let mut curr = starts;
            let mut active = n;
            while active > 0 {
                for r in 0..n {
                    let Some(c) = curr[r] else { continue };
                    let succ = c.links.at(0).load(SEQ, guard);
                    let after = succ.with_tag(0);
                    prefetch_node(after.as_raw());
                    // SAFETY: read under `guard`.
                    let mut step = unsafe { after.as_ref() };
                    if succ.tag() == 0 {
                        let inside = match starts.get(r + 1).copied().flatten().or(next) {
                            Some(end) => c.key.try_cmp(&end.key)? == Ordering::Less,
                            None => within(hi, &c.key)?,
                        };
                        if inside {
                            runs[r].push(c);
                        } else {
                            step = None;
                        }
                    }
                    curr[r] = step;
                    if step.is_none() {
                        active -= 1;
                    }
                }
            }
            for run in runs.iter_mut().take(n) {
                for c in run.drain(..) {
                    if seen == limit {
                        return Ok(());
                    }
                    f(&c.key, &c.value);
                    seen += 1;
                }
            }
            first = next;
        }
        Ok(())
    }

    /// Calls `f` with the live entries from `curr` on (level 0) while they are within `hi`,
    /// at most `limit`, one node after another; how many.
    fn walk_run<'g>(
        &'g self,
        mut curr: Option<&'g Node<K, V>>,
        hi: Bound<&K>,
        limit: usize,
        f: &mut dyn FnMut(&K, &V),
        guard: &'g Guard,
    ) -> Result<usize, Incomparable> {
        let mut seen = 0;
        while let Some(c) = curr {
            if seen >= limit {
                break;
            }
            let next = c.links.at(0).load(SEQ, guard);
            if next.tag() == 0 {
                if !within(hi, &c.key)? {
                    break;
                }
                f(&c.key, &c.value);
                seen += 1;
            }
            // SAFETY: read under `guard`.
            curr = unsafe { next.with_tag(0).as_ref() };
        }
        Ok(seen)
    }

    /// A snapshot of every entry in key order (one traversal).
    pub fn items(&self) -> Vec<(K, V)> {
        let mut out = Vec::with_capacity(self.len());
        let guard = &epoch::pin();
        if let Ok(start) = self.seek_walk(|_| Ok(false), guard) {
            let _ = self.walk(
                start,
                Bound::Unbounded,
                usize::MAX,
                &mut |k, v| out.push((k.clone(), v.clone())),
                guard,
            );
        }
        out
    }

    pub fn keys(&self) -> Vec<K> {
        self.items().into_iter().map(|(k, _)| k).collect()
    }

    pub fn values(&self) -> Vec<V> {
        self.items().into_iter().map(|(_, v)| v).collect()
    }

    /// Iterates in key order, a page of entries per pin (no epoch pin is held between pages).
    pub fn iter(&self) -> Iter<'_, V, K> {
        Iter {
            list: self,
            page: Vec::new().into_iter(),
            last: None,
            done: false,
        }
    }

    /// Removes every entry present when the call starts (entries inserted concurrently may
    /// survive). Each removed entry counts as a removal for concurrent readers.
    pub fn clear(&self) {
        let guard = &epoch::pin();
        let mut curr = self.head.at(0).load(SEQ, guard).with_tag(0);
        // SAFETY: read under `guard`.
        while let Some(c) = unsafe { curr.as_ref() } {
            for level in (1..c.height).rev() {
                c.links.at(level).fetch_or(1, SEQ, guard);
            }
            let next = c.links.at(0).fetch_or(1, SEQ, guard);
            if next.tag() == 0 {
                self.len.fetch_sub(1, Mem::Relaxed);
            }
            curr = next.with_tag(0);
        }
        for level in (0..self.top.load(SEQ)).rev() {
            self.sweep(level, guard);
        }
    }

    /// Unlinks every removed node at `level`.
    fn sweep(&self, level: usize, guard: &Guard) {
        'retry: loop {
            let mut pred: &Links<K, V> = &self.head;
            let mut curr = pred.at(level).load(SEQ, guard);
            // SAFETY: read under `guard`.
            while let Some(c) = unsafe { curr.with_tag(0).as_ref() } {
                let succ = c.links.at(level).load(SEQ, guard);
                if succ.tag() == 1 {
                    let next = succ.with_tag(0);
                    match pred.at(level).compare_exchange(curr, next, SEQ, SEQ, guard) {
                        Ok(_) => {
                            // SAFETY: the link we removed was one of its references.
                            unsafe { self.release(curr, guard) };
                            curr = next;
                        }
                        Err(_) => continue 'retry,
                    }
                } else {
                    pred = &c.links;
                    curr = succ;
                }
            }
            return;
        }
    }
}

fn entry<K: Clone, V: Clone>(n: &Node<K, V>) -> (K, V) {
    (n.key.clone(), n.value.clone())
}

impl<V, K> Drop for SkipList<V, K> {
    fn drop(&mut self) {
        // Exclusive access: no thread can see the nodes any more. A node is linked at `refs`
        // levels, each reachable from the head; the last visit frees it.
        unsafe {
            let guard = epoch::unprotected();
            for level in 0..MAX_HEIGHT {
                let mut curr = self.head.at(level).load(Mem::Relaxed, guard).with_tag(0);
                while let Some(c) = curr.as_ref() {
                    let next = c.links.at(level).load(Mem::Relaxed, guard).with_tag(0);
                    if c.refs.fetch_sub(1, Mem::Relaxed) == 1 {
                        drop(curr.into_owned());
                    }
                    curr = next;
                }
            }
        }
    }
}

/// An iterator over `(key, value)` clones in strictly ascending key order; see
/// [`SkipList::iter`].
pub struct Iter<'a, V, K = Key> {
    list: &'a SkipList<V, K>,
    page: std::vec::IntoIter<(K, V)>,
    last: Option<K>,
    done: bool,
}

impl<V, K> Iterator for Iter<'_, V, K>
where
    K: OrderedKey + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        if let Some(e) = self.page.next() {
            return Some(e);
        }
        if self.done {
            return None;
        }
        let lo = match &self.last {
            Some(k) => Bound::Excluded(k),
            None => Bound::Unbounded,
        };
        // The bound is a stored key, comparable with every other: an error cannot happen
        // (it would end the iteration).
        let page = self
            .list
            .range_page(lo, Bound::Unbounded, PAGE)
            .unwrap_or_default();
        if page.len() < PAGE {
            self.done = true;
        }
        self.last = page.last().map(|(k, _)| k.clone());
        self.page = page.into_iter();
        self.page.next()
    }
}
