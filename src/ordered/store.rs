//! `OrderedStore`, the UDL object behind every facade's `CSBTree` and `SkipList`
//! (docs/FORMAT.md §9): keys cross as encodings and pages, values as handles the facade owns.

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{guard, Error, Result, VResult};
use crate::fastpath::prefetch;
use crate::ffi::slots::Slots;

use super::csbtree::{CsbTree, SharedCsbTree};
use super::key::{BatchError, Incomparable, OrderedKey};
use super::skiplist::SkipList;
use super::wire::{self, HostKey, HostKeyOrder, KeyDecoder};

/// Which container an [`OrderedStore`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderedKind {
    CsbTree,
    SkipList,
}

/// A neighbour query (UDL `Neighbor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbor {
    First,
    Last,
    Floor,
    Lower,
    Ceiling,
    Higher,
}

/// Bounds of a range (UDL `OrderedRange`).
#[derive(Debug, Clone, Default)]
pub struct OrderedRange {
    pub start: Option<Vec<u8>>,
    pub start_inclusive: bool,
    pub end: Option<Vec<u8>>,
    pub end_inclusive: bool,
    pub limit: u32,
    pub reverse: bool,
}

/// A batch write's outcome (UDL `OrderedBatch`).
#[derive(Debug, Clone, Default)]
pub struct OrderedBatch {
    pub previous: Vec<u8>,
    pub error: Option<String>,
}

type Entry = (HostKey, u64);

/// A single-key operation for [`OrderedStore::try_single`].
pub(super) enum SingleOp<'k> {
    Get(&'k HostKey),
    /// `Some(1)` when present.
    Contains(&'k HostKey),
    Remove(&'k HostKey),
    InsertIfAbsent(HostKey, u64),
}

/// The outcome of a [`SingleOp`]: the handle found, removed or present.
type Single = Result<Option<u64>, Incomparable>;

/// The operations both containers offer, over host keys and u64 handles.
trait Container: Send + Sync {
    fn len(&self) -> usize;
    fn insert(&self, k: HostKey, v: u64) -> Result<Option<u64>, Incomparable>;
    fn insert_if_absent(&self, k: HostKey, v: u64) -> Result<Option<u64>, Incomparable>;
    fn get(&self, k: &HostKey) -> Result<Option<u64>, Incomparable>;
    fn contains(&self, k: &HostKey) -> Result<bool, Incomparable>;
    fn remove(&self, k: &HostKey) -> Result<Option<u64>, Incomparable>;
    /// Inserts `items` in order, pushing what each found present; stops at the first refused
    /// key. `no_hosts`: the container was never offered a host key.
    fn insert_many(
        &self,
        items: Vec<Entry>,
        if_absent: bool,
        prev: &mut Vec<Option<u64>>,
        no_hosts: bool,
    ) -> Result<(), BatchError>;
    fn get_many(&self, keys: &[HostKey]) -> Result<Vec<Option<u64>>, BatchError>;
    /// Removes `keys` in order, pushing what each removed; stops at the first refused key.
    /// `no_hosts`: the container was never offered a host key.
    fn remove_many(
        &self,
        keys: &[HostKey],
        prev: &mut Vec<Option<u64>>,
        _no_hosts: bool,
    ) -> Result<(), BatchError> {
        remove_each(keys, prev, |k| self.remove(k))
    }
    /// Removes every entry, returning the handles removed.
    fn clear(&self) -> Vec<u64>;
    /// Runs `op` when the container can without waiting for another thread, else gives it
    /// back (nothing done). The lock-free SkipList never waits.
    fn try_single<'k>(&self, op: SingleOp<'k>) -> Result<Single, SingleOp<'k>> {
        Ok(match op {
            SingleOp::Get(k) => self.get(k),
            SingleOp::Contains(k) => self.contains(k).map(|found| found.then_some(1)),
            SingleOp::Remove(k) => self.remove(k),
            SingleOp::InsertIfAbsent(k, v) => self.insert_if_absent(k, v),
        })
    }
    fn neighbor(&self, which: Neighbor, k: &HostKey) -> Result<Option<Entry>, Incomparable>;
    fn page(
        &self,
        lo: Bound<&HostKey>,
        hi: Bound<&HostKey>,
        limit: usize,
    ) -> Result<Vec<Entry>, Incomparable>;
    /// An entry page of at most `limit` entries between the bounds (`done`: no more follow).
    fn entry_page(
        &self,
        lo: Bound<&HostKey>,
        hi: Bound<&HostKey>,
        limit: Option<usize>,
    ) -> Result<Vec<u8>, Incomparable> {
        let mut entries = self.page(lo, hi, limit.map_or(usize::MAX, |n| n + 1))?;
        let done = limit.is_none_or(|n| entries.len() <= n);
        entries.truncate(limit.unwrap_or(usize::MAX));
        Ok(wire::entry_page(&entries, done))
    }
    /// Calls `f` with at most `limit` entries between the bounds, in key order (without
    /// copying them).
    fn visit(
        &self,
        lo: Bound<&HostKey>,
        hi: Bound<&HostKey>,
        limit: usize,
        f: &mut dyn FnMut(&HostKey, u64),
    ) -> Result<(), Incomparable>;
    /// Appends the handle of every entry, in key order.
    fn all_handles(&self, out: &mut Vec<u64>) {
        out.reserve(self.len());
        // Unbounded: nothing to compare, so nothing to refuse.
        let _ = self.visit(
            Bound::Unbounded,
            Bound::Unbounded,
            usize::MAX,
            &mut |_, v| out.push(v),
        );
    }
    /// The number of entries between the bounds.
    fn count(&self, lo: Bound<&HostKey>, hi: Bound<&HostKey>) -> Result<usize, Incomparable> {
        Ok(self.page(lo, hi, usize::MAX)?.len())
    }
}

/// The operations whose inherent methods have the same names and meaning in both containers.
macro_rules! shared_ops {
    () => {
        fn len(&self) -> usize {
            Self::len(self)
        }
        fn get(&self, k: &HostKey) -> Result<Option<u64>, Incomparable> {
            Self::get(self, k)
        }
        fn contains(&self, k: &HostKey) -> Result<bool, Incomparable> {
            self.contains_key(k)
        }
        fn remove(&self, k: &HostKey) -> Result<Option<u64>, Incomparable> {
            Self::remove(self, k)
        }
        fn neighbor(&self, which: Neighbor, k: &HostKey) -> Result<Option<Entry>, Incomparable> {
            match which {
                Neighbor::First => Ok(self.first()),
                Neighbor::Last => Ok(self.last()),
                Neighbor::Floor => self.floor(k),
                Neighbor::Lower => self.lower(k),
                Neighbor::Ceiling => self.ceiling(k),
                Neighbor::Higher => self.higher(k),
            }
        }
        fn page(
            &self,
            lo: Bound<&HostKey>,
            hi: Bound<&HostKey>,
            limit: usize,
        ) -> Result<Vec<Entry>, Incomparable> {
            self.range_page(lo, hi, limit)
        }
    };
}

impl Container for SharedCsbTree<u64, HostKey> {
    fn insert(&self, k: HostKey, v: u64) -> Result<Option<u64>, Incomparable> {
        SharedCsbTree::insert(self, k, v)
    }
    fn try_single<'k>(&self, op: SingleOp<'k>) -> Result<Single, SingleOp<'k>> {
        match op {
            SingleOp::Get(k) => self
                .try_read(|t| Ok(t.get(k)?.copied()))
                .ok_or(SingleOp::Get(k)),
            SingleOp::Contains(k) => self
                .try_read(|t| Ok(t.contains_key(k)?.then_some(1)))
                .ok_or(SingleOp::Contains(k)),
            SingleOp::Remove(k) => self.try_write(|t| t.remove(k)).ok_or(SingleOp::Remove(k)),
            SingleOp::InsertIfAbsent(k, v) => self
                .try_insert_if_absent(k, v)
                .map_err(|(k, v)| SingleOp::InsertIfAbsent(k, v)),
        }
    }
    fn insert_if_absent(&self, k: HostKey, v: u64) -> Result<Option<u64>, Incomparable> {
        SharedCsbTree::insert_if_absent(self, k, v)
    }
    fn insert_many(
        &self,
        items: Vec<Entry>,
        if_absent: bool,
        prev: &mut Vec<Option<u64>>,
        no_hosts: bool,
    ) -> Result<(), BatchError> {
        self.write(|t| {
            let first = t.first().map(|(k, _)| k);
            let sorted = no_hosts && exact_class(items.iter().map(|(k, _)| k), first);
            let items = match sorted {
                true => match insert_ascending(t, items, if_absent, prev)? {
                    Some(items) => items,
                    None => return Ok(()),
                },
                false => items,
            };
            for (index, (k, v)) in items.into_iter().enumerate() {
                let present = match if_absent {
                    true => t.insert_if_absent(k, v).map(|p| p.copied()),
                    false => t.insert(k, v),
                };
                prev.push(present.map_err(|error| BatchError { index, error })?);
            }
            Ok(())
        })
    }
    fn clear(&self) -> Vec<u64> {
        self.write(|t| {
            let handles = t.values().copied().collect();
            t.clear();
            handles
        })
    }
    shared_ops!();
    fn get_many(&self, keys: &[HostKey]) -> Result<Vec<Option<u64>>, BatchError> {
        if let Some(order) = batch_order(keys) {
            // In key order (neighbouring keys share their leaves); any refusal: the batch
            // again in its own order, which reports the first refused key.
            let found = self.read(|t| -> Result<Vec<Option<u64>>, Incomparable> {
                let found = t.get_many_ordered(keys, &order)?;
                Ok(found.into_iter().map(|v| v.copied()).collect())
            });
            if let Ok(found) = found {
                return Ok(found);
            }
        }
        SharedCsbTree::get_many(self, keys)
    }
    fn remove_many(
        &self,
        keys: &[HostKey],
        prev: &mut Vec<Option<u64>>,
        no_hosts: bool,
    ) -> Result<(), BatchError> {
        self.write(|t| {
            // No tuples: their comparability is not transitive, so keys a read-only pass
            // found comparable could meet others once entries left.
            let plain = || {
                !keys
                    .iter()
                    .any(|k| matches!(k, HostKey::Native(super::Key::Tuple(_))))
            };
            let first = t.first().map(|(k, _)| k);
            if no_hosts && exact_class(keys.iter(), first) {
                if let Some(order) = batch_order_of(keys.len(), |i| &keys[i], true) {
                    // From the greatest key down, so most removals stay in a leaf; each key
                    // fetched a few keys ahead.
                    let sorted = order.iter().enumerate().map(|(j, &i)| {
                        if let Some(&a) = order.get(j + AHEAD) {
                            prefetch(&keys[a as usize]);
                        }
                        &keys[i as usize]
                    });
                    return t
                        .remove_descending(sorted, in_place(prev, &order))
                        .map_err(at_item(&order));
                }
            }
            if let Some(order) = batch_order(keys).filter(|_| plain()) {
                // In key order, once a read-only pass found every key comparable with the
                // entries, so nothing refuses a key half-way; removing keys in another order
                // leaves the same entries, and equal keys keep their order.
                // Keys of the entries' class need no such pass: they compare with every entry.
                let comparable = no_hosts && one_class(keys, t.first().map(|(k, _)| k));
                if comparable || t.get_many_ordered(keys, &order).is_ok() {
                    let mut out = vec![None; keys.len()];
                    for &i in &order {
                        out[i as usize] = t.remove(&keys[i as usize]).ok().flatten();
                    }
                    prev.extend(out);
                    return Ok(());
                }
            }
            remove_each(keys, prev, |k| t.remove(k))
        })
    }
    fn count(&self, lo: Bound<&HostKey>, hi: Bound<&HostKey>) -> Result<usize, Incomparable> {
        self.read(|t| Ok(t.range_bounds(lo, hi)?.count()))
    }
    fn all_handles(&self, out: &mut Vec<u64>) {
        // A leaf's values at a time.
        self.read(|t| {
            out.reserve(t.len());
            t.value_runs().for_each(|run| out.extend_from_slice(run));
        })
    }
    fn visit(
        &self,
        lo: Bound<&HostKey>,
        hi: Bound<&HostKey>,
        limit: usize,
        f: &mut dyn FnMut(&HostKey, u64),
    ) -> Result<(), Incomparable> {
        // Under the read lock, from references.
        self.read(|t| {
            for (k, v) in t.range_bounds(lo, hi)?.take(limit) {
                f(k, *v);
            }
            Ok(())
        })
    }
    fn entry_page(
        &self,
        lo: Bound<&HostKey>,
        hi: Bound<&HostKey>,
        limit: Option<usize>,
    ) -> Result<Vec<u8>, Incomparable> {
        // Under the read lock, from references: no key is copied before it is encoded.
        self.read(|t| {
            let take = limit.map_or(usize::MAX, |n| n + 1);
            let mut entries: Vec<(&HostKey, u64)> = t
                .range_bounds(lo, hi)?
                .take(take)
                .map(|(k, v)| (k, *v))
                .collect();
            let done = limit.is_none_or(|n| entries.len() <= n);
            entries.truncate(limit.unwrap_or(usize::MAX));
            Ok(wire::entry_page(&entries, done))
        })
    }
}

impl Container for SkipList<u64, HostKey> {
    fn insert(&self, k: HostKey, v: u64) -> Result<Option<u64>, Incomparable> {
        SkipList::insert(self, k, v)
    }
    fn insert_if_absent(&self, k: HostKey, v: u64) -> Result<Option<u64>, Incomparable> {
        SkipList::insert(self, k, v)
    }
    fn insert_many(
        &self,
        items: Vec<Entry>,
        _if_absent: bool,
        prev: &mut Vec<Option<u64>>,
        _no_hosts: bool,
    ) -> Result<(), BatchError> {
        SkipList::insert_many(self, items, prev)
    }
    fn clear(&self) -> Vec<u64> {
        // Entry by entry, so that exactly the handles removed here go back to the facade even
        // while other threads insert and remove.
        let mut handles = Vec::with_capacity(self.len());
        for (k, _) in self.items() {
            if let Ok(Some(v)) = SkipList::remove(self, &k) {
                handles.push(v);
            }
        }
        handles
    }
    shared_ops!();
    fn get_many(&self, keys: &[HostKey]) -> Result<Vec<Option<u64>>, BatchError> {
        if let Some(order) = batch_order(keys) {
            // In key order (each search starts from the one before); any refusal: the batch
            // again in its own order, which reports the first refused key.
            if let Ok(found) = self.get_many_ordered(keys, &order) {
                return Ok(found);
            }
        }
        Self::get_many(self, keys)
    }
    fn remove_many(
        &self,
        keys: &[HostKey],
        prev: &mut Vec<Option<u64>>,
        no_hosts: bool,
    ) -> Result<(), BatchError> {
        // In key order (each search starts from the one before) when every key compares with
        // every entry (see `one_class`), so nothing refuses a key half-way; removing keys in
        // another order leaves the same entries, and equal keys keep their order.
        let first = || self.first().map(|(k, _)| k);
        if no_hosts {
            if let Some(order) = batch_order(keys).filter(|_| one_class(keys, first().as_ref())) {
                prev.extend(self.remove_many_ordered(keys, &order));
                return Ok(());
            }
        }
        remove_each(keys, prev, |k| SkipList::remove(self, k))
    }
    fn visit(
        &self,
        lo: Bound<&HostKey>,
        hi: Bound<&HostKey>,
        limit: usize,
        f: &mut dyn FnMut(&HostKey, u64),
    ) -> Result<(), Incomparable> {
        self.visit_page(lo, hi, limit, &mut |k, v| f(k, *v))
    }
}

/// Cuts a page read with one entry more than `limit` (0: all) to `limit`; whether it is the last.
fn trim<T>(entries: &mut Vec<T>, limit: u32) -> bool {
    let done = limit == 0 || entries.len() <= limit as usize;
    if limit != 0 {
        entries.truncate(limit as usize);
    }
    done
}

/// Batches shorter than this are applied in their own order.
const SORT_MIN: usize = 256;

/// How many keys ahead a batch applied in key order fetches its items.
const AHEAD: usize = 8;

/// The item indices of a batch in (about) key order, equal keys in batch order, when it is
/// worth walking the tree that way: at least [`SORT_MIN`] keys and no host key (sorting calls
/// no comparison back into the host). Batches of only int, only str or only bytes keys sort
/// exactly, others by their prefixes ([`OrderedKey::prefix`]). Which order a batch is applied
/// in changes only how its keys share cache lines, never its outcome.
fn batch_order(keys: &[HostKey]) -> Option<Vec<u32>> {
    batch_order_of(keys.len(), |i| &keys[i], false)
}

/// [`batch_order`] of the `n` keys `key(0)`, `key(1)` …, from the greatest key down when
/// `descending` (equal keys still in batch order).
fn batch_order_of<'k>(
    n: usize,
    key: impl Fn(usize) -> &'k HostKey,
    descending: bool,
) -> Option<Vec<u32>> {
    use super::Key;
    if n < SORT_MIN || u32::try_from(n).is_err() {
        return None;
    }
    let keys = (0..n).map(&key);
    fn sorted<T: Ord>(mut v: Vec<(T, u32)>, descending: bool) -> Vec<u32> {
        // (key, index): equal keys stay in batch order.
        match descending {
            false => v.sort_unstable(),
            true => v.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1))),
        }
        v.into_iter().map(|(_, i)| i).collect()
    }
    let mut ints = Vec::with_capacity(n);
    for (i, k) in keys.clone().enumerate() {
        match k {
            HostKey::Native(Key::Int(x)) => ints.push((*x, i as u32)),
            _ => break,
        }
    }
    if ints.len() == n {
        return Some(sorted(ints, descending));
    }
    fn text(k: &HostKey, str_keys: bool) -> Option<&[u8]> {
        match k {
            HostKey::Native(Key::Str(s)) if str_keys => Some(s.as_bytes()),
            HostKey::Native(Key::Bytes(b)) if !str_keys => Some(b),
            _ => None,
        }
    }
    let str_keys = matches!(key(0), HostKey::Native(Key::Str(_)));
    if let Some(v) = keys
        .clone()
        .enumerate()
        .map(|(i, k)| Some((text(k, str_keys)?, i as u32)))
        .collect::<Option<Vec<_>>>()
    {
        return Some(sorted(v, descending)); // all str or all bytes: exactly
    }
    let mut v = Vec::with_capacity(n);
    for (i, k) in keys.enumerate() {
        match k {
            HostKey::Native(k) => v.push((k.prefix(), i as u32)),
            HostKey::Host(..) => return None,
        }
    }
    Some(sorted(v, descending))
}

/// Whether every key is an int, or every key a str, or every key bytes (so [`batch_order`]
/// sorts them exactly), of the class of `first` when the container holds entries (so each
/// compares with every entry: nothing can refuse them).
fn exact_class<'a>(mut keys: impl Iterator<Item = &'a HostKey>, first: Option<&HostKey>) -> bool {
    use super::Key;
    let class = |k: &HostKey| match k {
        HostKey::Native(Key::Int(_)) => Some(1),
        HostKey::Native(Key::Str(_)) => Some(2),
        HostKey::Native(Key::Bytes(_)) => Some(3),
        _ => None,
    };
    let Some(c) = keys.next().and_then(class) else {
        return false;
    };
    let entries = match first {
        None => true,
        Some(HostKey::Native(Key::Bool(_) | Key::Float(_))) => c == 1,
        Some(k) => class(k) == Some(c),
    };
    entries && keys.all(|k| class(k) == Some(c))
}

/// Inserts a batch of [`exact_class`] keys into a CSBTree in key order (equal keys in batch
/// order, so the outcome is the one of the batch's own order), pushing what each found present
/// at the item's own position: neighbouring keys go to their leaf without a descent
/// ([`CsbTree::insert_ascending`]). A batch too short to sort comes back untouched.
fn insert_ascending(
    t: &mut CsbTree<u64, HostKey>,
    mut items: Vec<Entry>,
    if_absent: bool,
    prev: &mut Vec<Option<u64>>,
) -> Result<Option<Vec<Entry>>, BatchError> {
    let Some(order) = batch_order_of(items.len(), |i| &items[i].0, false) else {
        return Ok(Some(items));
    };
    // The items are read in key order, so each read is fetched a few keys ahead.
    let sorted = order.iter().enumerate().map(|(j, &i)| {
        if let Some(&a) = order.get(j + AHEAD) {
            prefetch(&items[a as usize]);
        }
        let (k, v) = &mut items[i as usize];
        (std::mem::replace(k, HostKey::Native(super::Key::None)), *v)
    });
    t.insert_ascending(sorted, if_absent, in_place(prev, &order))
        .map_err(at_item(&order))?;
    Ok(None)
}

/// For a batch applied in `order`: `prev` grows by one result per item, and the closure puts
/// each result (given in `order`) at its item's position.
fn in_place<'a>(prev: &'a mut Vec<Option<u64>>, order: &'a [u32]) -> impl FnMut(Option<u64>) + 'a {
    let base = prev.len();
    prev.resize(base + order.len(), None);
    let mut at = order.iter();
    move |result| {
        if let Some(&i) = at.next() {
            prev[base + i as usize] = result;
        }
    }
}

/// The error of the item applied `index`-th in `order`, at the item's own position.
fn at_item(order: &[u32]) -> impl Fn(BatchError) -> BatchError + '_ {
    move |e| BatchError {
        index: order[e.index] as usize,
        ..e
    }
}

/// Removes `keys` in order with `remove`, pushing what each removed; stops at the first
/// refused key.
fn remove_each(
    keys: &[HostKey],
    prev: &mut Vec<Option<u64>>,
    mut remove: impl FnMut(&HostKey) -> Result<Option<u64>, Incomparable>,
) -> Result<(), BatchError> {
    for (index, k) in keys.iter().enumerate() {
        prev.push(remove(k).map_err(|error| BatchError { index, error })?);
    }
    Ok(())
}

/// Whether every key of `keys` is of the class of `first` (numbers, str, bytes or None; not
/// tuples, which compare item by item, nor host keys). Keys of different classes never compare,
/// so a container never offered a host key holds keys of one class, and every key of that
/// class compares with every entry (the batch keys here are validated: no NaN).
fn one_class(keys: &[HostKey], first: Option<&HostKey>) -> bool {
    use super::Key;
    fn class(k: &HostKey) -> Option<u8> {
        match k {
            HostKey::Native(Key::None) => Some(0),
            HostKey::Native(Key::Bool(_) | Key::Int(_) | Key::Float(_)) => Some(1),
            HostKey::Native(Key::Str(_)) => Some(2),
            HostKey::Native(Key::Bytes(_)) => Some(3),
            _ => None,
        }
    }
    let Some(c) = first.and_then(class) else {
        return false;
    };
    keys.iter().all(|k| class(k) == Some(c))
}

/// A CSBTree or a SkipList for a facade (UDL `OrderedStore`).
pub struct OrderedStore {
    kind: OrderedKind,
    order: u32,
    map: Box<dyn Container>,
    host: Option<Arc<dyn HostKeyOrder>>,
    pub(super) fast_id: AtomicU64,
    /// The Python objects of a Python facade's entries (its value handles name them); empty
    /// for every other caller.
    pub(super) py: Slots,
    /// Set once a host key was ever offered to an insert (the fast path's methods leave
    /// removals to the facade then: its host-key bookkeeping needs them).
    hosts_stored: AtomicBool,
}

impl Drop for OrderedStore {
    fn drop(&mut self) {
        crate::fastpath::unregister(*self.fast_id.get_mut());
    }
}

fn handle_arg(v: u64) -> Result<u64> {
    if v == 0 || v > i64::MAX as u64 {
        return Err(Error::InvalidArgument(format!(
            "value handle {v} is out of range (1 ..= 2^63-1)"
        )));
    }
    Ok(v)
}

/// The bounds of `r` over its decoded keys.
fn bounds_of<'k>(
    r: &OrderedRange,
    start: &'k Option<HostKey>,
    end: &'k Option<HostKey>,
) -> (Bound<&'k HostKey>, Bound<&'k HostKey>) {
    let lo = match start {
        None => Bound::Unbounded,
        Some(k) if r.start_inclusive => Bound::Included(k),
        Some(k) => Bound::Excluded(k),
    };
    let hi = match end {
        None => Bound::Unbounded,
        Some(k) if r.end_inclusive => Bound::Included(k),
        Some(k) => Bound::Excluded(k),
    };
    (lo, hi)
}

fn batch_outcome(prev: Vec<Option<u64>>, r: Result<(), BatchError>) -> OrderedBatch {
    OrderedBatch {
        previous: wire::handles_bytes(prev.into_iter().map(|v| v.unwrap_or(0))),
        error: r.err().map(|e| e.to_string()),
    }
}

impl OrderedStore {
    pub fn new(
        kind: OrderedKind,
        order: u32,
        host_order: Option<Box<dyn HostKeyOrder>>,
    ) -> VResult<Self> {
        guard(|| {
            let map: Box<dyn Container> = match kind {
                OrderedKind::CsbTree => {
                    Box::new(SharedCsbTree::<u64, HostKey>::new(order as usize)?)
                }
                OrderedKind::SkipList => Box::new(SkipList::<u64, HostKey>::new()),
            };
            Ok(OrderedStore {
                kind,
                order: if kind == OrderedKind::CsbTree {
                    order
                } else {
                    0
                },
                map,
                host: host_order.map(Arc::from),
                fast_id: AtomicU64::new(0),
                py: Slots::default(),
                hosts_stored: AtomicBool::new(false),
            })
        })
    }

    fn decoder(&self) -> KeyDecoder<'_> {
        KeyDecoder {
            host: self.host.as_ref(),
        }
    }

    /// One key from its encoding (public for the fast path and the Rust tests).
    pub fn key(&self, enc: &[u8]) -> Result<HostKey> {
        self.decoder().key(enc)
    }

    pub fn kind(&self) -> OrderedKind {
        self.kind
    }

    pub fn order(&self) -> u32 {
        self.order
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    pub fn clear(&self) -> Vec<u8> {
        wire::handles_bytes(self.map.clear().into_iter())
    }

    // The typed operations, shared by the UDL methods and the C fast path.

    pub(super) fn insert_key(&self, k: HostKey, v: u64) -> Result<u64> {
        self.note_key(&k);
        Ok(self.map.insert(k, handle_arg(v)?)?.unwrap_or(0))
    }

    pub(super) fn insert_if_absent_key(&self, k: HostKey, v: u64) -> Result<u64> {
        self.note_key(&k);
        Ok(self.map.insert_if_absent(k, handle_arg(v)?)?.unwrap_or(0))
    }

    fn note_key(&self, k: &HostKey) {
        if matches!(k, HostKey::Host(..)) {
            self.hosts_stored.store(true, Ordering::Release);
        }
    }

    /// Whether an insert was ever offered a host key.
    pub(super) fn may_hold_host_keys(&self) -> bool {
        self.hosts_stored.load(Ordering::Acquire)
    }

    pub(super) fn get_key(&self, k: &HostKey) -> Result<u64> {
        Ok(self.map.get(k)?.unwrap_or(0))
    }

    pub(super) fn contains_key(&self, k: &HostKey) -> Result<bool> {
        Ok(self.map.contains(k)?)
    }

    /// Runs `op` with the calling thread's locks as they are when the container needs no
    /// waiting for another thread, else gives it back (the fast path then releases the GIL
    /// and makes the waiting call).
    pub(super) fn try_single<'k>(&self, op: SingleOp<'k>) -> Result<Result<u64>, SingleOp<'k>> {
        if let SingleOp::InsertIfAbsent(_, v) = &op {
            if let Err(e) = handle_arg(*v) {
                return Ok(Err(e));
            }
        }
        Ok(self
            .map
            .try_single(op)?
            .map(|h| h.unwrap_or(0))
            .map_err(Into::into))
    }

    /// Runs `op`, waiting for other threads' locks as needed.
    pub(super) fn run_single(&self, op: SingleOp<'_>) -> Result<u64> {
        match op {
            SingleOp::Get(k) => self.get_key(k),
            SingleOp::Contains(k) => self.contains_key(k).map(u64::from),
            SingleOp::Remove(k) => self.remove_key(k),
            SingleOp::InsertIfAbsent(k, v) => self.insert_if_absent_key(k, v),
        }
    }

    pub(super) fn remove_key(&self, k: &HostKey) -> Result<u64> {
        Ok(self.map.remove(k)?.unwrap_or(0))
    }

    pub fn insert(&self, key: &[u8], value: u64) -> VResult<u64> {
        guard(|| self.insert_key(self.key(key)?, value))
    }

    pub fn insert_if_absent(&self, key: &[u8], value: u64) -> VResult<u64> {
        guard(|| self.insert_if_absent_key(self.key(key)?, value))
    }

    pub fn get(&self, key: &[u8]) -> VResult<u64> {
        guard(|| self.get_key(&self.key(key)?))
    }

    pub fn contains(&self, key: &[u8]) -> VResult<bool> {
        guard(|| self.contains_key(&self.key(key)?))
    }

    pub fn remove(&self, key: &[u8]) -> VResult<u64> {
        guard(|| self.remove_key(&self.key(key)?))
    }

    pub fn insert_many(
        &self,
        keys: &[u8],
        values: &[u8],
        if_absent: bool,
    ) -> VResult<OrderedBatch> {
        guard(|| {
            let keys = self.decoder().page(keys)?;
            let values = wire::handles_of(values)?;
            if keys.len() != values.len() {
                return Err(Error::InvalidArgument(format!(
                    "insert_many: {} keys but {} values",
                    keys.len(),
                    values.len()
                )));
            }
            for &v in &values {
                handle_arg(v)?;
            }
            let mut prev = Vec::with_capacity(keys.len());
            let r =
                self.insert_many_keys(keys.into_iter().zip(values).collect(), if_absent, &mut prev);
            Ok(batch_outcome(prev, r))
        })
    }

    /// Inserts `items` (valid handles) in order, pushing what each found present; stops at
    /// the first refused key (shared by the UDL and the fast path).
    pub(super) fn insert_many_keys(
        &self,
        items: Vec<Entry>,
        if_absent: bool,
        prev: &mut Vec<Option<u64>>,
    ) -> Result<(), BatchError> {
        items.iter().for_each(|(k, _)| self.note_key(k));
        let no_hosts = !self.may_hold_host_keys();
        self.map.insert_many(items, if_absent, prev, no_hosts)
    }

    pub fn get_many(&self, keys: &[u8]) -> VResult<Vec<u8>> {
        guard(|| {
            let keys = self.decoder().page(keys)?;
            let found = self.get_many_keys(&keys)?;
            Ok(wire::handles_bytes(
                found.into_iter().map(|v| v.unwrap_or(0)),
            ))
        })
    }

    /// The handles of `keys` (shared by the UDL and the fast path).
    pub(super) fn get_many_keys(&self, keys: &[HostKey]) -> Result<Vec<Option<u64>>, BatchError> {
        self.map.get_many(keys)
    }

    pub fn remove_many(&self, keys: &[u8]) -> VResult<OrderedBatch> {
        guard(|| {
            let keys = self.decoder().page(keys)?;
            let mut prev = Vec::with_capacity(keys.len());
            let r = self.remove_many_keys(&keys, &mut prev);
            Ok(batch_outcome(prev, r))
        })
    }

    /// Removes `keys` in order, pushing what each removed; stops at the first refused key
    /// (shared by the UDL and the fast path).
    pub(super) fn remove_many_keys(
        &self,
        keys: &[HostKey],
        prev: &mut Vec<Option<u64>>,
    ) -> Result<(), BatchError> {
        self.map.remove_many(keys, prev, !self.may_hold_host_keys())
    }

    pub fn neighbor(&self, which: Neighbor, key: &[u8]) -> VResult<Vec<u8>> {
        guard(|| self.neighbor_page(which, key))
    }

    /// [`neighbor`](Self::neighbor) without the error conversion (shared with the fast path).
    pub(super) fn neighbor_page(&self, which: Neighbor, key: &[u8]) -> Result<Vec<u8>> {
        {
            let found = match which {
                Neighbor::First | Neighbor::Last => self
                    .map
                    .neighbor(which, &HostKey::Native(super::Key::None))?,
                _ => {
                    let k = self.key(key)?;
                    k.validate()?;
                    self.map.neighbor(which, &k)?
                }
            };
            Ok(wire::entry_page(found.as_slice(), true))
        }
    }

    fn bounds(&self, r: &OrderedRange) -> Result<(Option<HostKey>, Option<HostKey>)> {
        let dec = self.decoder();
        let start = r.start.as_deref().map(|b| dec.key(b)).transpose()?;
        let end = r.end.as_deref().map(|b| dec.key(b)).transpose()?;
        Ok((start, end))
    }

    fn collect(&self, r: &OrderedRange, limit: usize) -> Result<Vec<Entry>> {
        let (start, end) = self.bounds(r)?;
        self.collect_between(r, &start, &end, limit)
    }

    /// The entries between decoded bounds (`r` gives the flags), at most `limit`.
    fn collect_between(
        &self,
        r: &OrderedRange,
        start: &Option<HostKey>,
        end: &Option<HostKey>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        let (lo, hi) = bounds_of(r, start, end);
        if !r.reverse {
            return Ok(self.map.page(lo, hi, limit)?);
        }
        // Descending: walk down from the upper bound with neighbour queries.
        for b in [lo, hi] {
            if let Bound::Included(k) | Bound::Excluded(k) = b {
                k.validate()?;
            }
        }
        let mut out = Vec::new();
        let mut cur = match hi {
            Bound::Unbounded => self
                .map
                .neighbor(Neighbor::Last, &HostKey::Native(super::Key::None))?,
            Bound::Included(k) => self.map.neighbor(Neighbor::Floor, k)?,
            Bound::Excluded(k) => self.map.neighbor(Neighbor::Lower, k)?,
        };
        while let Some((k, v)) = cur {
            if out.len() >= limit {
                break;
            }
            let inside = match lo {
                Bound::Unbounded => true,
                Bound::Included(l) => k.try_cmp(l)? != std::cmp::Ordering::Less,
                Bound::Excluded(l) => k.try_cmp(l)? == std::cmp::Ordering::Greater,
            };
            if !inside {
                break;
            }
            cur = self.map.neighbor(Neighbor::Lower, &k)?;
            out.push((k, v));
        }
        Ok(out)
    }

    pub fn range(&self, range: OrderedRange) -> VResult<Vec<u8>> {
        guard(|| self.range_page(&range))
    }

    /// [`range`](Self::range) without the error conversion (shared with the fast path).
    pub(super) fn range_page(&self, range: &OrderedRange) -> Result<Vec<u8>> {
        let limit = (range.limit != 0).then_some(range.limit as usize);
        if !range.reverse {
            let (start, end) = self.bounds(range)?;
            let (lo, hi) = bounds_of(range, &start, &end);
            return Ok(self.map.entry_page(lo, hi, limit)?);
        }
        {
            let limit = match range.limit {
                0 => usize::MAX,
                n => n as usize + 1, // one more tells whether the page is the last
            };
            let mut entries = self.collect(range, limit)?;
            let done = trim(&mut entries, range.limit);
            Ok(wire::entry_page(&entries, done))
        }
    }

    /// The value handles of a range between decoded bounds (`range`'s own bounds are ignored;
    /// its flags, limit and direction apply) and whether they are the last ones: the fast
    /// path's Python lists (docs/FORMAT.md §9.4), whose objects the handles name.
    pub(super) fn range_handles(
        &self,
        range: &OrderedRange,
        start: &Option<HostKey>,
        end: &Option<HostKey>,
    ) -> Result<(Vec<u64>, bool)> {
        let take = match range.limit {
            0 => usize::MAX,
            n => n as usize + 1, // one more tells whether the page is the last
        };
        let mut handles = Vec::new();
        if range.reverse {
            let found = self.collect_between(range, start, end, take)?;
            handles.extend(found.iter().map(|(_, v)| *v));
        } else {
            let (lo, hi) = bounds_of(range, start, end);
            if take == usize::MAX && start.is_none() && end.is_none() {
                self.map.all_handles(&mut handles); // the whole container
            } else {
                self.map.visit(lo, hi, take, &mut |_, v| handles.push(v))?;
            }
        }
        let done = trim(&mut handles, range.limit);
        Ok((handles, done))
    }

    pub fn count_range(&self, range: OrderedRange) -> VResult<u64> {
        guard(|| {
            let (start, end) = self.bounds(&range)?;
            let (lo, hi) = bounds_of(&range, &start, &end);
            Ok(self.map.count(lo, hi)? as u64)
        })
    }

    /// Id for the C fast path (docs/FORMAT.md §9.4).
    pub fn fast_handle(self: Arc<Self>) -> u64 {
        crate::fastpath::claim(&self.fast_id, &self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ordered::Key;

    fn enc(k: &HostKey) -> Vec<u8> {
        let mut out = Vec::new();
        wire::encode_key(k, &mut out);
        out
    }

    /// `range_handles` (the fast path's Python lists) gives exactly the handles of the UDL's
    /// `range` page, in every direction, with and without a limit, for int and str keys.
    #[test]
    fn range_handles_equal_range_pages() {
        for kind in [OrderedKind::CsbTree, OrderedKind::SkipList] {
            for strs in [false, true] {
                let key = |i: i64| {
                    HostKey::Native(if strs {
                        Key::Str(format!("k{i:04}"))
                    } else {
                        Key::Int(i)
                    })
                };
                let store = OrderedStore::new(kind, 4, None).unwrap();
                for i in (0..300).rev() {
                    store.insert(&enc(&key(i * 2)), i as u64 + 1).unwrap();
                }
                for (lo, hi) in [(None, None), (Some(7), Some(301)), (Some(40), Some(40))] {
                    for (limit, reverse, lo_inc, hi_inc) in [
                        (0, false, true, false),
                        (0, true, false, true),
                        (16, false, false, true),
                        (16, true, true, false),
                        (1, true, true, true),
                    ] {
                        let start = lo.map(key);
                        let end = hi.map(key);
                        let r = OrderedRange {
                            start: start.as_ref().map(enc),
                            start_inclusive: lo_inc,
                            end: end.as_ref().map(enc),
                            end_inclusive: hi_inc,
                            limit,
                            reverse,
                        };
                        let (got, done) = store.range_handles(&r, &start, &end).unwrap();
                        let page = store.range_page(&r).unwrap();
                        let n = u32::from_le_bytes(page[4..8].try_into().unwrap()) as usize;
                        let page_done = page[0] != 0;
                        let handles = wire::handles_of(&page[8..8 + 8 * n]).unwrap();
                        assert_eq!(
                            (got, done),
                            (handles, page_done),
                            "{kind:?} strs={strs} {lo:?}..{hi:?} {limit} {reverse}"
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::ordered::Key;

    fn page(keys: &[HostKey]) -> Vec<u8> {
        let mut out = Vec::new();
        wire::put_key_page(&mut out, keys.iter());
        out
    }

    fn filled(kind: OrderedKind, n: i64) -> OrderedStore {
        let s = OrderedStore::new(kind, 5, None).unwrap();
        let keys: Vec<HostKey> = (0..n).map(|i| HostKey::Native(Key::Int(i * 3))).collect();
        let handles: Vec<u64> = (1..=n as u64).collect();
        s.insert_many(
            &page(&keys),
            &wire::handles_bytes(handles.into_iter()),
            false,
        )
        .unwrap();
        s
    }

    /// Batches taken in key order (CSBTree, 256 keys and more) give what the same batch gives
    /// one key at a time: found handles, duplicates, absent keys; a refused key stops the
    /// batch at its own index with nothing after it applied.
    #[test]
    fn ordered_batches_equal_one_key_at_a_time() {
        let n = 2000;
        // Descending, with duplicates and absent keys.
        let probe: Vec<HostKey> = (0..900)
            .rev()
            .flat_map(|i| [i * 5, i * 5])
            .map(|k| HostKey::Native(Key::Int(k)))
            .collect();
        let expect_get: Vec<u64> = probe
            .iter()
            .map(|k| match k {
                HostKey::Native(Key::Int(x)) if x % 3 == 0 && *x < n * 3 => (x / 3 + 1) as u64,
                _ => 0,
            })
            .collect();
        for kind in [OrderedKind::CsbTree, OrderedKind::SkipList] {
            let s = filled(kind, n);
            let got = wire::handles_of(&s.get_many(&page(&probe)).unwrap()).unwrap();
            assert_eq!(got, expect_get, "{kind:?}");
            let batch = s.remove_many(&page(&probe)).unwrap();
            assert!(batch.error.is_none());
            let mut seen = std::collections::HashSet::new();
            let expect_rm: Vec<u64> = probe
                .iter()
                .zip(&expect_get)
                .map(|(k, &h)| {
                    if h != 0 && seen.insert(enc_of(k)) {
                        h
                    } else {
                        0
                    }
                })
                .collect();
            assert_eq!(
                wire::handles_of(&batch.previous).unwrap(),
                expect_rm,
                "{kind:?}"
            );
            assert_eq!(
                s.len(),
                n as u64 - expect_rm.iter().filter(|&&h| h != 0).count() as u64
            );
            // A str key in an int tree at index 300: 300 keys removed, then the error.
            let s = filled(kind, n);
            let mut bad = probe.clone();
            bad[300] = HostKey::Native(Key::Str("x".into()));
            assert!(s.get_many(&page(&bad)).is_err());
            let batch = s.remove_many(&page(&bad)).unwrap();
            assert!(batch.error.unwrap().starts_with("item 300:"));
            assert_eq!(wire::handles_of(&batch.previous).unwrap(), expect_rm[..300]);
            // Int keys (taken in key order) against a tree holding a str key: refused at
            // index 0, nothing removed.
            let odd = HostKey::Native(Key::Str("odd".into()));
            let strs = OrderedStore::new(kind, 5, None).unwrap();
            strs.insert(&enc_of(&odd), 1).unwrap();
            assert!(strs.get_many(&page(&probe)).is_err());
            let batch = strs.remove_many(&page(&probe)).unwrap();
            assert!(batch.error.unwrap().starts_with("item 0:"));
            assert!(batch.previous.is_empty() && strs.len() == 1);
        }
    }

    fn enc_of(k: &HostKey) -> Vec<u8> {
        let mut out = Vec::new();
        wire::encode_key(k, &mut out);
        out
    }
}
