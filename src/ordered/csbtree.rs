//! A cache-sensitive B+ tree (CSB+-tree): an in-memory ordered map.
//!
//! Layout: nodes live in two arenas (`Vec`s), one of leaves and one of inner nodes, addressed
//! by `u32` indices. The children of an inner node are *contiguous*: they fill the first
//! `keys.len() + 1` slots of a fixed-size group of `order + 2` slots, so an inner node stores
//! its separator keys and a single index (`first`) instead of one pointer per child. A child
//! split shifts its later siblings inside the group; an inner split moves the upper half of
//! its children to a new group. Vacant slots are empty (no allocation) and freed groups are
//! reused.
//!
//! Every node keeps, next to its keys, their 128-bit prefixes ([`OrderedKey::prefix`]) as two
//! arrays of 64-bit halves: binary searches compare the high halves, the low ones only when
//! those are equal, and read a key only when two prefixes do not decide (equal summaries,
//! tuples, different key classes).
//!
//! `order` is the maximum number of keys in a node (≥ 2; 63 by default). Every node but the
//! root holds at least `(order + 1) / 2` keys (leaves) or `order / 2` keys (inner nodes):
//! removal borrows from a sibling or merges with it, so the tree stays balanced (1.1.0 did not
//! rebalance). Every separator equals the first live key of the subtree on its right (a
//! removal replaces it), so an operation compares only with live keys: a key is refused
//! exactly when it is incomparable with a key in the tree.
//!
//! Semantics (kohakuvault 1.1.0's `CSBTree`): `insert` replaces the value of an equal key and
//! keeps the original key object (`1` then `1.0` keeps key `1`); `range(start, end)` yields
//! `start <= k < end`. A key that cannot be ordered against the keys it meets (or a NaN) makes
//! the operation return [`Incomparable`] and changes nothing.
//!
//! [`CsbTree`] itself is single-threaded (`&mut self` to mutate); [`SharedCsbTree`] wraps it in
//! a `parking_lot::RwLock` (concurrent readers) with `&self` methods returning clones, ready to
//! be wrapped by a uniffi object.

use std::cmp::Ordering;
use std::fmt;
use std::mem;
use std::ops::{Bound, Index, IndexMut};

use parking_lot::RwLock;

use super::key::{BatchError, Incomparable, Key, OrderedKey, Prefix};

/// The default order (maximum keys per node), 1.1.0's.
pub const DEFAULT_ORDER: usize = 63;

/// Inner nodes have at least two children, so a tree of `usize::MAX` keys is at most 64 deep.
const MAX_DEPTH: usize = 64;

/// The leaf index of the past-the-end position.
const END: u32 = u32::MAX;

/// A key with its prefix ([`OrderedKey::prefix`]).
type Sep<K> = (K, Prefix);

/// The keys' prefixes of a node as two arrays of their high and low 64 bits: a search reads a
/// low half only when the high halves are equal (most int keys are decided by the high half, so
/// their searches touch no more memory than with 64-bit prefixes).
#[derive(Default)]
struct Prefixes {
    hi: Vec<u64>,
    lo: Vec<u64>,
}

fn halves(p: Prefix) -> (u64, u64) {
    ((p >> 64) as u64, p as u64)
}

fn whole(hi: u64, lo: u64) -> Prefix {
    ((hi as Prefix) << 64) | lo as Prefix
}

impl Prefixes {
    fn with_capacity(n: usize) -> Self {
        Prefixes {
            hi: Vec::with_capacity(n),
            lo: Vec::with_capacity(n),
        }
    }
    fn len(&self) -> usize {
        self.hi.len()
    }
    fn reserve_exact(&mut self, n: usize) {
        self.hi.reserve_exact(n);
        self.lo.reserve_exact(n);
    }
    fn get(&self, i: usize) -> Prefix {
        whole(self.hi[i], self.lo[i])
    }
    fn set(&mut self, i: usize, p: Prefix) {
        (self.hi[i], self.lo[i]) = halves(p);
    }
    fn insert(&mut self, i: usize, p: Prefix) {
        let (h, l) = halves(p);
        self.hi.insert(i, h);
        self.lo.insert(i, l);
    }
    fn remove(&mut self, i: usize) -> Prefix {
        whole(self.hi.remove(i), self.lo.remove(i))
    }
    fn push(&mut self, p: Prefix) {
        let (h, l) = halves(p);
        self.hi.push(h);
        self.lo.push(l);
    }
    fn pop(&mut self) -> Option<Prefix> {
        Some(whole(self.hi.pop()?, self.lo.pop()?))
    }
    fn move_tail(&mut self, at: usize, into: &mut Prefixes) {
        into.hi.extend(self.hi.drain(at..));
        into.lo.extend(self.lo.drain(at..));
    }
    fn append(&mut self, other: Prefixes) {
        self.hi.extend(other.hi);
        self.lo.extend(other.lo);
    }
    /// The order of `kp` against prefix `i` when the prefixes decide it.
    #[inline]
    fn decide<K: OrderedKey>(&self, i: usize, kp: Prefix) -> Option<Ordering> {
        let (hi, khi) = (self.hi[i], (kp >> 64) as u64);
        if hi != khi {
            // The high halves differ, so the low halves cannot change the order.
            return K::cmp_prefix_high(khi, hi);
        }
        K::cmp_prefix(kp, whole(hi, self.lo[i]))
    }
}

/// The keys of a node and, in parallel, their prefixes: binary searches read the prefixes and
/// touch a key only when two prefixes do not decide.
struct Keys<K> {
    keys: Vec<K>,
    pre: Prefixes,
}

impl<K> Default for Keys<K> {
    fn default() -> Self {
        Keys {
            keys: Vec::new(),
            pre: Prefixes::default(),
        }
    }
}

impl<K> Index<usize> for Keys<K> {
    type Output = K;
    #[inline]
    fn index(&self, i: usize) -> &K {
        &self.keys[i]
    }
}

impl<K: OrderedKey + Clone> Keys<K> {
    fn with_capacity(n: usize) -> Self {
        Keys {
            keys: Vec::with_capacity(n),
            pre: Prefixes::with_capacity(n),
        }
    }
    #[inline]
    fn len(&self) -> usize {
        self.keys.len()
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    fn first(&self) -> Option<&K> {
        self.keys.first()
    }
    fn as_slice(&self) -> &[K] {
        &self.keys
    }
    fn capacity(&self) -> usize {
        self.keys.capacity()
    }
    fn reserve_exact(&mut self, n: usize) {
        self.keys.reserve_exact(n);
        self.pre.reserve_exact(n);
    }
    fn insert(&mut self, i: usize, (k, p): Sep<K>) {
        self.keys.insert(i, k);
        self.pre.insert(i, p);
    }
    fn remove(&mut self, i: usize) -> Sep<K> {
        (self.keys.remove(i), self.pre.remove(i))
    }
    fn push(&mut self, (k, p): Sep<K>) {
        self.keys.push(k);
        self.pre.push(p);
    }
    fn pop(&mut self) -> Option<Sep<K>> {
        Some((self.keys.pop()?, self.pre.pop()?))
    }
    fn set(&mut self, i: usize, (k, p): Sep<K>) {
        self.keys[i] = k;
        self.pre.set(i, p);
    }
    /// A copy of key `i` with its prefix.
    fn sep(&self, i: usize) -> Sep<K> {
        (self.keys[i].clone(), self.pre.get(i))
    }
    /// Moves the keys from `at` on into `into`.
    fn move_tail(&mut self, at: usize, into: &mut Keys<K>) {
        into.keys.extend(self.keys.drain(at..));
        self.pre.move_tail(at, &mut into.pre);
    }
    fn append(&mut self, other: Keys<K>) {
        self.keys.extend(other.keys);
        self.pre.append(other.pre);
    }

    /// `key` (with prefix `kp`) against key `i`; `key` is the left operand, so errors name
    /// its type first.
    #[inline]
    fn cmp_at(&self, i: usize, key: &K, kp: Prefix) -> Result<Ordering, Incomparable> {
        match self.pre.decide::<K>(i, kp) {
            Some(o) => Ok(o),
            None => key.try_cmp(&self.keys[i]),
        }
    }

    /// First index whose key is `> key` (the number of keys `<= key`).
    #[inline]
    fn upper_bound(&self, key: &K, kp: Prefix) -> Result<usize, Incomparable> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.cmp_at(mid, key, kp)? == Ordering::Less {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok(lo)
    }

    /// First index whose key is `>= key`.
    #[inline]
    fn lower_bound(&self, key: &K, kp: Prefix) -> Result<usize, Incomparable> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.cmp_at(mid, key, kp)? == Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// `Ok(i)`: key `i` equals `key`; `Err(i)`: `key` belongs at `i`.
    #[inline]
    fn find(&self, key: &K, kp: Prefix) -> Result<Result<usize, usize>, Incomparable> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.cmp_at(mid, key, kp)? {
                Ordering::Greater => lo = mid + 1,
                Ordering::Less => hi = mid,
                Ordering::Equal => return Ok(Ok(mid)),
            }
        }
        Ok(Err(lo))
    }
}

struct Leaf<K, V> {
    keys: Keys<K>,
    vals: Vec<V>,
}

impl<K, V> Default for Leaf<K, V> {
    fn default() -> Self {
        Leaf {
            keys: Keys::default(),
            vals: Vec::new(),
        }
    }
}

struct Inner<K> {
    /// Separators: every key of child `c` is `>= keys[c - 1]` and `< keys[c]`; each equals
    /// the first key of the subtree on its right.
    keys: Keys<K>,
    /// Arena index of child 0; child `c` is at `first + c`.
    first: u32,
}

impl<K> Default for Inner<K> {
    fn default() -> Self {
        Inner {
            keys: Keys::default(),
            first: 0,
        }
    }
}

/// Fixed-size groups of slots; the used slots of a group are always a prefix of it.
struct Arena<T> {
    slots: Vec<T>,
    free: Vec<u32>,
    group: usize,
}

impl<T: Default> Arena<T> {
    fn new(group: usize) -> Self {
        Arena {
            slots: Vec::new(),
            free: Vec::new(),
            group,
        }
    }

    fn alloc(&mut self) -> u32 {
        if let Some(base) = self.free.pop() {
            return base;
        }
        let base = self.slots.len();
        assert!(
            base + self.group < END as usize,
            "CsbTree arena exceeds u32 indices"
        );
        self.slots.resize_with(base + self.group, T::default);
        base as u32
    }

    fn release(&mut self, base: u32) {
        let b = base as usize;
        for s in &mut self.slots[b..b + self.group] {
            *s = T::default();
        }
        self.free.push(base);
    }

    /// Inserts `item` at `pos` of a group whose first `count` slots are used.
    fn insert(&mut self, base: u32, count: usize, pos: usize, item: T) {
        debug_assert!(count < self.group && pos <= count);
        let b = base as usize;
        let g = &mut self.slots[b..=b + count];
        g[count] = item;
        g[pos..].rotate_right(1);
    }

    /// Removes the item at `pos` of a group whose first `count` slots are used.
    fn remove(&mut self, base: u32, count: usize, pos: usize) -> T {
        debug_assert!(count <= self.group && pos < count);
        let b = base as usize;
        let g = &mut self.slots[b..b + count];
        g[pos..].rotate_left(1);
        mem::take(&mut g[count - 1])
    }

    fn take(&mut self, idx: u32) -> T {
        mem::take(&mut self.slots[idx as usize])
    }

    /// Moves `n` slots from `from..` to `to..` (the targets must be vacant).
    fn move_slots(&mut self, from: u32, to: u32, n: usize) {
        for i in 0..n as u32 {
            let item = self.take(from + i);
            self.slots[(to + i) as usize] = item;
        }
    }
}

impl<T> Index<u32> for Arena<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: u32) -> &T {
        &self.slots[i as usize]
    }
}

impl<T> IndexMut<u32> for Arena<T> {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.slots[i as usize]
    }
}

/// Runs `$body` with `$a` bound to the arena holding the children of an inner node: the
/// leaves when `$leaves` is true, the inner nodes otherwise.
macro_rules! children_arena {
    ($tree:expr, $leaves:expr, |$a:ident| $body:expr) => {
        if $leaves {
            let $a = &mut $tree.leaves;
            $body
        } else {
            let $a = &mut $tree.inner;
            $body
        }
    };
}

/// The inner nodes from the root down to a leaf, each with the child position taken.
struct Path {
    steps: [(u32, u32); MAX_DEPTH],
    len: usize,
}

impl Path {
    #[inline]
    fn new() -> Self {
        Path {
            steps: [(0, 0); MAX_DEPTH],
            len: 0,
        }
    }
    #[inline]
    fn push(&mut self, node: u32, pos: usize) {
        self.steps[self.len] = (node, pos as u32);
        self.len += 1;
    }
    #[inline]
    fn node(&self, d: usize) -> u32 {
        self.steps[d].0
    }
    #[inline]
    fn pos(&self, d: usize) -> usize {
        self.steps[d].1 as usize
    }
}

/// A cache-sensitive B+ tree map from `K` (by default [`Key`]) to `V`. See the module
/// documentation.
pub struct CsbTree<V, K = Key> {
    order: usize,
    min_leaf: usize,
    min_inner: usize,
    leaves: Arena<Leaf<K, V>>,
    inner: Arena<Inner<K>>,
    /// The root: slot 0 of its own group, in `leaves` when `height == 0`, else in `inner`.
    root: u32,
    /// Number of inner levels above the leaves.
    height: usize,
    len: usize,
}

impl<V, K: OrderedKey + Clone> Default for CsbTree<V, K> {
    fn default() -> Self {
        Self::new(DEFAULT_ORDER).expect("the default order is valid")
    }
}

impl<V, K> fmt::Debug for CsbTree<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CsbTree(len={})", self.len)
    }
}

impl<V, K: OrderedKey + Clone> CsbTree<V, K> {
    /// An empty tree whose nodes hold at most `order` keys. `order < 2` is an
    /// `InvalidArgument` error (1.1.0 panicked on 0 and 1).
    pub fn new(order: usize) -> crate::error::Result<Self> {
        if order < 2 {
            return Err(crate::error::Error::InvalidArgument(format!(
                "order must be at least 2, got {order}"
            )));
        }
        if order > 1 << 20 {
            return Err(crate::error::Error::InvalidArgument(format!(
                "order must be at most 1048576, got {order}"
            )));
        }
        let mut t = CsbTree {
            order,
            min_leaf: order.div_ceil(2),
            min_inner: order / 2,
            leaves: Arena::new(order + 2),
            inner: Arena::new(order + 2),
            root: 0,
            height: 0,
            len: 0,
        };
        t.reset();
        Ok(t)
    }

    fn reset(&mut self) {
        self.leaves = Arena::new(self.order + 2);
        self.inner = Arena::new(self.order + 2);
        self.root = self.leaves.alloc();
        self.height = 0;
        self.len = 0;
    }

    /// The maximum number of keys per node.
    pub fn order(&self) -> usize {
        self.order
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of inner levels (0 while the root is a leaf).
    pub fn height(&self) -> usize {
        self.height
    }

    /// Removes every entry and frees the nodes.
    pub fn clear(&mut self) {
        self.reset();
    }

    fn new_keys(&self) -> Keys<K> {
        Keys::with_capacity(self.order + 1)
    }

    /// The leaf that holds `key` if present, without a path.
    #[inline]
    fn leaf_for(&self, key: &K, kp: Prefix) -> Result<u32, Incomparable> {
        let mut node = self.root;
        for _ in 0..self.height {
            let n = &self.inner[node];
            node = n.first + n.keys.upper_bound(key, kp)? as u32;
        }
        Ok(node)
    }

    /// The leaf that holds `key` if present, recording the path to it.
    #[inline]
    fn leaf_path(&self, key: &K, kp: Prefix, path: &mut Path) -> Result<u32, Incomparable> {
        let mut node = self.root;
        for _ in 0..self.height {
            let n = &self.inner[node];
            let c = n.keys.upper_bound(key, kp)?;
            path.push(node, c);
            node = n.first + c as u32;
        }
        Ok(node)
    }

    /// The value of `key`.
    pub fn get(&self, key: &K) -> Result<Option<&V>, Incomparable> {
        Ok(self.get_key_value(key)?.map(|(_, v)| v))
    }

    /// The stored key (the one first inserted) and the value of `key`.
    pub fn get_key_value(&self, key: &K) -> Result<Option<(&K, &V)>, Incomparable> {
        key.validate()?;
        let kp = key.prefix();
        let leaf = &self.leaves[self.leaf_for(key, kp)?];
        Ok(match leaf.keys.find(key, kp)? {
            Ok(i) => Some((&leaf.keys[i], &leaf.vals[i])),
            Err(_) => None,
        })
    }

    pub fn contains_key(&self, key: &K) -> Result<bool, Incomparable> {
        Ok(self.get_key_value(key)?.is_some())
    }

    /// Inserts or replaces; returns the previous value. An equal key already present is kept
    /// (the new key is dropped).
    pub fn insert(&mut self, key: K, value: V) -> Result<Option<V>, Incomparable> {
        key.validate()?;
        let kp = key.prefix();
        let mut path = Path::new();
        let leaf_idx = self.leaf_path(&key, kp, &mut path)?;
        match self.leaves[leaf_idx].keys.find(&key, kp)? {
            Ok(i) => Ok(Some(mem::replace(
                &mut self.leaves[leaf_idx].vals[i],
                value,
            ))),
            Err(i) => {
                self.insert_new(leaf_idx, &path, i, (key, kp), value);
                Ok(None)
            }
        }
    }

    /// Inserts `key -> value` when the key is absent (None), else changes nothing and gives
    /// the present value: one search.
    pub fn insert_if_absent(&mut self, key: K, value: V) -> Result<Option<&V>, Incomparable> {
        key.validate()?;
        let kp = key.prefix();
        let mut path = Path::new();
        let leaf_idx = self.leaf_path(&key, kp, &mut path)?;
        match self.leaves[leaf_idx].keys.find(&key, kp)? {
            Ok(i) => Ok(Some(&self.leaves[leaf_idx].vals[i])),
            Err(i) => {
                self.insert_new(leaf_idx, &path, i, (key, kp), value);
                Ok(None)
            }
        }
    }

    /// Puts a new key at position `i` of the leaf `path` ends in, splitting it when full.
    fn insert_new(&mut self, leaf_idx: u32, path: &Path, i: usize, key: Sep<K>, value: V) {
        if self.put_in_leaf(leaf_idx, i, key, value) {
            self.split_leaf(leaf_idx, path);
        }
    }

    /// Puts a new key at position `i` of a leaf; whether the leaf must now be split.
    fn put_in_leaf(&mut self, leaf_idx: u32, i: usize, key: Sep<K>, value: V) -> bool {
        let leaf = &mut self.leaves[leaf_idx];
        if leaf.keys.capacity() == 0 {
            leaf.keys.reserve_exact(self.order + 1);
            leaf.vals.reserve_exact(self.order + 1);
        }
        leaf.keys.insert(i, key);
        leaf.vals.insert(i, value);
        self.len += 1;
        self.leaves[leaf_idx].keys.len() > self.order
    }

    /// The separator above the leaf a path ends in (the nearest one on its right, as
    /// `(inner node, position)`), None for the last leaf: the leaf holds the keys from the
    /// separator on its left up to this one, excluded.
    fn upper_separator(&self, path: &Path) -> Option<(u32, usize)> {
        (0..path.len)
            .rev()
            .map(|d| (path.node(d), path.pos(d)))
            .find(|&(n, c)| c < self.inner[n].keys.len())
    }

    /// The separator below the leaf a path ends in (the nearest one on its left), None for
    /// the first leaf.
    fn lower_separator(&self, path: &Path) -> Option<(u32, usize)> {
        (0..path.len)
            .rev()
            .map(|d| (path.node(d), path.pos(d)))
            .find(|&(_, c)| c > 0)
            .map(|(n, c)| (n, c - 1))
    }

    /// Removes keys that come in descending order (equal keys in the order to apply them),
    /// calling `done` with what each removed, in order. A key not below the lower separator
    /// of the leaf the key before it was looked for in is looked for in that leaf directly (a
    /// finger: descending keys are never above its upper one), and removed there when it is
    /// not the leaf's first key and the leaf stays at least half full; any other removal takes
    /// the path from the root ([`remove`](Self::remove)). Stops at the first refused key.
    pub fn remove_descending<'k, I>(
        &mut self,
        keys: I,
        mut done: impl FnMut(Option<V>),
    ) -> Result<(), BatchError>
    where
        I: IntoIterator<Item = &'k K>,
        K: 'k,
    {
        let mut finger: Option<(u32, Option<(u32, usize)>)> = None;
        for (index, key) in keys.into_iter().enumerate() {
            let fail = |error| BatchError { index, error };
            key.validate().map_err(fail)?;
            let kp = key.prefix();
            let near = match finger {
                Some((l, None)) => Some(l),
                Some((l, Some((n, c)))) => {
                    let at = self.inner[n].keys.cmp_at(c, key, kp).map_err(fail)?;
                    (at != Ordering::Less).then_some(l)
                }
                None => None,
            };
            let l = match near {
                Some(l) => l,
                None => {
                    let mut path = Path::new();
                    let l = self.leaf_path(key, kp, &mut path).map_err(fail)?;
                    finger = Some((l, self.lower_separator(&path)));
                    l
                }
            };
            let leaf = &mut self.leaves[l];
            match leaf.keys.find(key, kp).map_err(fail)? {
                Err(_) => done(None),
                Ok(i) if i > 0 && leaf.keys.len() > self.min_leaf => {
                    leaf.keys.remove(i);
                    let v = leaf.vals.remove(i);
                    self.len -= 1;
                    done(Some(v));
                }
                Ok(_) => {
                    finger = None;
                    done(self.remove(key).map_err(fail)?);
                }
            }
        }
        Ok(())
    }

    /// Inserts pairs whose keys come in ascending order (equal keys in the order to apply
    /// them; the caller sorted them exactly), calling `done` with what each found present, in
    /// order. A key below the upper separator of the leaf the key before it went to goes to
    /// that leaf directly (a finger: ascending keys are never below its lower one) while the
    /// leaf has room; any other key descends from the root. With `if_absent`, a present key
    /// keeps its value (`done` gets a copy of it); else its value is replaced. Each insert
    /// does what [`insert`](Self::insert) or [`insert_if_absent`](Self::insert_if_absent)
    /// does. Stops at the first refused key (the ones before it applied).
    pub fn insert_ascending<I>(
        &mut self,
        items: I,
        if_absent: bool,
        mut done: impl FnMut(Option<V>),
    ) -> Result<(), BatchError>
    where
        I: IntoIterator<Item = (K, V)>,
        V: Clone,
    {
        let mut finger: Option<(u32, Option<(u32, usize)>)> = None;
        for (index, (key, value)) in items.into_iter().enumerate() {
            let fail = |error| BatchError { index, error };
            key.validate().map_err(fail)?;
            let kp = key.prefix();
            let near = match finger {
                Some((l, upper)) if self.leaves[l].keys.len() < self.order => match upper {
                    None => Some(l),
                    Some((n, c)) => {
                        let below = self.inner[n].keys.cmp_at(c, &key, kp).map_err(fail)?;
                        (below == Ordering::Less).then_some(l)
                    }
                },
                _ => None,
            };
            let mut path = Path::new();
            let l = match near {
                Some(l) => l,
                None => self.leaf_path(&key, kp, &mut path).map_err(fail)?,
            };
            let present = match self.leaves[l].keys.find(&key, kp).map_err(fail)? {
                Ok(i) if if_absent => Some(self.leaves[l].vals[i].clone()),
                Ok(i) => Some(mem::replace(&mut self.leaves[l].vals[i], value)),
                Err(i) => {
                    if self.put_in_leaf(l, i, (key, kp), value) {
                        // A finger's leaf has room, so only a leaf reached by `path` splits.
                        self.split_leaf(l, &path);
                        finger = None;
                        done(None);
                        continue;
                    }
                    None
                }
            };
            if near.is_none() {
                finger = Some((l, self.upper_separator(&path)));
            }
            done(present);
        }
        Ok(())
    }

    /// Returns the value of `key`, inserting `value` first when the key is absent.
    pub fn setdefault(&mut self, key: K, value: V) -> Result<&V, Incomparable> {
        let probe = key.clone();
        if self.insert_if_absent(key, value)?.is_none() {
            return Ok(self.get(&probe)?.expect("just inserted"));
        }
        Ok(self.get(&probe)?.expect("present"))
    }

    /// Inserts every pair in order, pushing each previous value (or `None`) to `previous`.
    /// Stops at the first key that is refused: the pairs before it are inserted (their
    /// previous values pushed), that pair and the later ones are dropped unapplied.
    pub fn insert_many<I>(
        &mut self,
        items: I,
        previous: &mut Vec<Option<V>>,
    ) -> Result<(), BatchError>
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

    /// The values of `keys[order[0]]`, `keys[order[1]]` … stored at those indices (`order` any
    /// permutation; the closer to ascending, the faster): each search stays in the leaf of the
    /// key before when the key lies between that leaf's first and last keys (a finger), else
    /// starts at the root. The first refused key (in `order`) is an error.
    pub fn get_many_ordered(
        &self,
        keys: &[K],
        order: &[u32],
    ) -> Result<Vec<Option<&V>>, Incomparable> {
        let mut out = vec![None; keys.len()];
        let mut finger: Option<u32> = None;
        for &i in order {
            let key = &keys[i as usize];
            key.validate()?;
            let kp = key.prefix();
            let at = match finger {
                Some(l) => {
                    let keys = &self.leaves[l].keys;
                    let n = keys.len();
                    let inside = n > 0
                        && keys.cmp_at(0, key, kp)? != Ordering::Less
                        && keys.cmp_at(n - 1, key, kp)? != Ordering::Greater;
                    inside.then_some(l)
                }
                None => None,
            };
            let l = match at {
                Some(l) => l,
                None => self.leaf_for(key, kp)?,
            };
            finger = Some(l);
            let leaf = &self.leaves[l];
            if let Ok(j) = leaf.keys.find(key, kp)? {
                out[i as usize] = Some(&leaf.vals[j]);
            }
        }
        Ok(out)
    }

    /// The values of `keys`, in order; the first refused key is an error.
    pub fn get_many(&self, keys: &[K]) -> Result<Vec<Option<&V>>, BatchError> {
        keys.iter()
            .enumerate()
            .map(|(index, k)| self.get(k).map_err(|error| BatchError { index, error }))
            .collect()
    }

    fn split_leaf(&mut self, leaf_idx: u32, path: &Path) {
        let mid = self.order.div_ceil(2);
        let mut rk = self.new_keys();
        let mut rv = Vec::with_capacity(self.order + 1);
        {
            let leaf = &mut self.leaves[leaf_idx];
            leaf.keys.move_tail(mid, &mut rk);
            rv.extend(leaf.vals.drain(mid..));
        }
        let sep = rk.sep(0);
        let right = Leaf { keys: rk, vals: rv };
        if path.len == 0 {
            // The root leaf, at slot 0 of its group: the group becomes the new root's children.
            let base = self.root;
            self.leaves[base + 1] = right;
            self.grow_root(base, sep);
            return;
        }
        let d = path.len - 1;
        let (parent, pos) = (path.node(d), path.pos(d));
        let first = self.inner[parent].first;
        let count = self.inner[parent].keys.len() + 1;
        self.leaves.insert(first, count, pos + 1, right);
        self.inner[parent].keys.insert(pos, sep);
        if self.inner[parent].keys.len() > self.order {
            self.split_inner(path, d);
        }
    }

    /// A new root over the group at `children` (which holds the old root and its new sibling).
    fn grow_root(&mut self, children: u32, sep: Sep<K>) {
        let g = self.inner.alloc();
        let mut keys = self.new_keys();
        keys.push(sep);
        self.inner[g] = Inner {
            keys,
            first: children,
        };
        self.root = g;
        self.height += 1;
    }

    /// Splits the overfull inner node at depth `d` of `path` (`order + 1` keys).
    fn split_inner(&mut self, path: &Path, d: usize) {
        let m = self.order;
        let node = path.node(d);
        let leaves_below = d + 1 == self.height;
        let left_keys = m.div_ceil(2); // keys kept on the left; one moves up
        let mut rk = self.new_keys();
        let (sep, first) = {
            let n = &mut self.inner[node];
            n.keys.move_tail(left_keys + 1, &mut rk);
            (n.keys.pop().expect("overfull node"), n.first)
        };
        let moved = m + 1 - left_keys; // children of the right node
        let nf = children_arena!(self, leaves_below, |a| {
            let nf = a.alloc();
            a.move_slots(first + left_keys as u32 + 1, nf, moved);
            nf
        });
        let right = Inner {
            keys: rk,
            first: nf,
        };
        if d == 0 {
            let base = self.root;
            self.inner[base + 1] = right;
            self.grow_root(base, sep);
            return;
        }
        let (parent, pos) = (path.node(d - 1), path.pos(d - 1));
        let pfirst = self.inner[parent].first;
        let count = self.inner[parent].keys.len() + 1;
        self.inner.insert(pfirst, count, pos + 1, right);
        self.inner[parent].keys.insert(pos, sep);
        if self.inner[parent].keys.len() > m {
            self.split_inner(path, d - 1);
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &K) -> Result<Option<V>, Incomparable> {
        Ok(self.remove_entry(key)?.map(|(_, v)| v))
    }

    /// Removes `key`; returns the stored key and its value.
    pub fn remove_entry(&mut self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        key.validate()?;
        let kp = key.prefix();
        let mut path = Path::new();
        let leaf_idx = self.leaf_path(key, kp, &mut path)?;
        let leaf = &mut self.leaves[leaf_idx];
        let i = match leaf.keys.find(key, kp)? {
            Ok(i) => i,
            Err(_) => return Ok(None),
        };
        let (k, _) = leaf.keys.remove(i);
        let v = leaf.vals.remove(i);
        let remaining = leaf.keys.len();
        self.len -= 1;
        if i == 0 && path.len > 0 {
            self.replace_separator(leaf_idx, &path);
        }
        if path.len > 0 && remaining < self.min_leaf {
            self.fix_leaf(&path);
        }
        Ok(Some((k, v)))
    }

    /// The first key of a leaf was removed: the separator equal to it (in the deepest
    /// ancestor where the path does not take child 0) becomes the removed key's successor.
    /// This keeps every separator equal to a live key, so no operation ever compares with a
    /// removed key (which could refuse a key that is comparable with every live one).
    fn replace_separator(&mut self, leaf_idx: u32, path: &Path) {
        let Some(d) = (0..path.len).rev().find(|&d| path.pos(d) > 0) else {
            return; // the leftmost leaf: no separator above it
        };
        let last = path.len - 1;
        let successor = if !self.leaves[leaf_idx].keys.is_empty() {
            self.leaves[leaf_idx].keys.sep(0)
        } else {
            match path.pos(last) {
                0 => {
                    // Empty and child 0: it merges with its right sibling, whose first key
                    // follows.
                    let sibling = self.inner[path.node(last)].first + 1;
                    self.leaves[sibling].keys.sep(0)
                }
                // Empty and not child 0: the separator is its parent's and the merge removes it.
                _ => return,
            }
        };
        self.inner[path.node(d)]
            .keys
            .set(path.pos(d) - 1, successor);
    }

    /// Rebalances the underfull leaf below the last step of `path`.
    fn fix_leaf(&mut self, path: &Path) {
        let d = path.len - 1;
        let (parent, c) = (path.node(d), path.pos(d));
        let pf = self.inner[parent].first;
        let count = self.inner[parent].keys.len() + 1;
        let (l, r) = if c > 0 { (c - 1, c) } else { (c, c + 1) };
        let (li, ri) = (pf + l as u32, pf + r as u32);
        let (ln, rn) = (self.leaves[li].keys.len(), self.leaves[ri].keys.len());
        if ln + rn <= self.order {
            let right = self.leaves.remove(pf, count, r);
            let left = &mut self.leaves[li];
            left.keys.append(right.keys);
            left.vals.extend(right.vals);
            self.inner[parent].keys.remove(l);
            self.fix_inner(path, d);
        } else if c == r {
            // Borrow the last entry of the left sibling.
            let left = &mut self.leaves[li];
            let (k, v) = (left.keys.pop().unwrap(), left.vals.pop().unwrap());
            let right = &mut self.leaves[ri];
            right.keys.insert(0, k);
            right.vals.insert(0, v);
            let sep = self.leaves[ri].keys.sep(0);
            self.inner[parent].keys.set(l, sep);
        } else {
            // Borrow the first entry of the right sibling.
            let right = &mut self.leaves[ri];
            let (k, v) = (right.keys.remove(0), right.vals.remove(0));
            let left = &mut self.leaves[li];
            left.keys.push(k);
            left.vals.push(v);
            let sep = self.leaves[ri].keys.sep(0);
            self.inner[parent].keys.set(l, sep);
        }
    }

    /// Rebalances the inner node at depth `d` of `path` if it is underfull.
    fn fix_inner(&mut self, path: &Path, d: usize) {
        let node = path.node(d);
        if d == 0 {
            if self.inner[node].keys.is_empty() {
                // The root has one child left: it becomes the root (slot 0 of its group).
                let child = self.inner[node].first;
                self.inner.release(node);
                self.root = child;
                self.height -= 1;
            }
            return;
        }
        if self.inner[node].keys.len() >= self.min_inner {
            return;
        }
        let m = self.order;
        let leaves_below = d + 1 == self.height;
        let (parent, c) = (path.node(d - 1), path.pos(d - 1));
        let pf = self.inner[parent].first;
        let count = self.inner[parent].keys.len() + 1;
        let (l, r) = if c > 0 { (c - 1, c) } else { (c, c + 1) };
        let (li, ri) = (pf + l as u32, pf + r as u32);
        let (ln, rn) = (self.inner[li].keys.len(), self.inner[ri].keys.len());
        let (lf, rf) = (self.inner[li].first, self.inner[ri].first);
        if ln + 1 + rn <= m {
            // Merge the right node into the left one.
            let right = self.inner.remove(pf, count, r);
            let sep = self.inner[parent].keys.remove(l);
            let left = &mut self.inner[li];
            left.keys.push(sep);
            left.keys.append(right.keys);
            children_arena!(self, leaves_below, |a| {
                a.move_slots(rf, lf + ln as u32 + 1, rn + 1);
                a.release(rf);
            });
            self.fix_inner(path, d - 1);
        } else if c == r {
            // Borrow the last key and child of the left sibling.
            let lk = self.inner[li].keys.pop().unwrap();
            let sep = self.inner[parent].keys.sep(l);
            self.inner[parent].keys.set(l, lk);
            self.inner[ri].keys.insert(0, sep);
            children_arena!(self, leaves_below, |a| {
                let moved = a.take(lf + ln as u32);
                a.insert(rf, rn + 1, 0, moved);
            });
        } else {
            // Borrow the first key and child of the right sibling.
            let rk = self.inner[ri].keys.remove(0);
            let sep = self.inner[parent].keys.sep(l);
            self.inner[parent].keys.set(l, rk);
            self.inner[li].keys.push(sep);
            children_arena!(self, leaves_below, |a| {
                let moved = a.remove(rf, rn + 1, 0);
                a[lf + ln as u32 + 1] = moved;
            });
        }
    }

    // ---- ordered reads -------------------------------------------------------------------

    /// All entries in ascending key order.
    pub fn iter(&self) -> Iter<'_, V, K> {
        Iter {
            tree: self,
            cur: Cursor::leftmost(self),
            end: (END, 0),
            remaining: Some(self.len),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// The values of every entry in key order, one leaf's slice at a time.
    pub fn value_runs(&self) -> impl Iterator<Item = &[V]> + '_ {
        let mut cur = Cursor::leftmost(self);
        std::iter::from_fn(move || {
            if cur.leaf == END {
                return None;
            }
            let run = &self.leaves[cur.leaf].vals[..];
            cur.next_leaf(self);
            Some(run)
        })
    }

    /// The entries with `start <= k < end` (empty when `start >= end`).
    pub fn range(&self, start: &K, end: &K) -> Result<Iter<'_, V, K>, Incomparable> {
        self.range_bounds(Bound::Included(start), Bound::Excluded(end))
    }

    /// The entries between two bounds (empty when the lower bound is above the upper one).
    /// Errors only at the call: the iteration itself makes no comparison.
    pub fn range_bounds(
        &self,
        lo: Bound<&K>,
        hi: Bound<&K>,
    ) -> Result<Iter<'_, V, K>, Incomparable> {
        let empty = Iter {
            tree: self,
            cur: Cursor::end(),
            end: (END, 0),
            remaining: Some(0),
        };
        for b in [lo, hi] {
            if let Bound::Included(k) | Bound::Excluded(k) = b {
                k.validate()?;
            }
        }
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) =
            (lo, hi)
        {
            match a.try_cmp(b)? {
                Ordering::Greater => return Ok(empty),
                Ordering::Equal
                    if !matches!((lo, hi), (Bound::Included(_), Bound::Included(_))) =>
                {
                    return Ok(empty)
                }
                _ => {}
            }
        }
        let cur = match lo {
            Bound::Unbounded => Cursor::leftmost(self),
            Bound::Included(k) => Cursor::seek(self, k, false)?,
            Bound::Excluded(k) => Cursor::seek(self, k, true)?,
        };
        let end = match hi {
            Bound::Unbounded => (END, 0),
            Bound::Included(k) => Cursor::seek(self, k, true)?.position(),
            Bound::Excluded(k) => Cursor::seek(self, k, false)?.position(),
        };
        Ok(Iter {
            tree: self,
            cur,
            end,
            remaining: None,
        })
    }

    /// The smallest entry.
    pub fn first(&self) -> Option<(&K, &V)> {
        Cursor::leftmost(self).entry(self)
    }

    /// The largest entry.
    pub fn last(&self) -> Option<(&K, &V)> {
        Cursor::rightmost(self).entry(self)
    }

    /// The largest entry with `k <= key`.
    pub fn floor(&self, key: &K) -> Result<Option<(&K, &V)>, Incomparable> {
        key.validate()?;
        let mut c = Cursor::seek(self, key, true)?;
        c.retreat(self);
        Ok(c.entry(self))
    }

    /// The largest entry with `k < key`.
    pub fn lower(&self, key: &K) -> Result<Option<(&K, &V)>, Incomparable> {
        key.validate()?;
        let mut c = Cursor::seek(self, key, false)?;
        c.retreat(self);
        Ok(c.entry(self))
    }

    /// The smallest entry with `k >= key`.
    pub fn ceiling(&self, key: &K) -> Result<Option<(&K, &V)>, Incomparable> {
        key.validate()?;
        Ok(Cursor::seek(self, key, false)?.entry(self))
    }

    /// The smallest entry with `k > key`.
    pub fn higher(&self, key: &K) -> Result<Option<(&K, &V)>, Incomparable> {
        key.validate()?;
        Ok(Cursor::seek(self, key, true)?.entry(self))
    }

    /// Checks every structural invariant (for tests): balanced depth, node sizes, key order
    /// within nodes and between separators, vacant group slots, the entry count.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let (total, _) = self.check_node(self.root, 0, None, None)?;
        if total != self.len {
            return Err(format!("len is {} but the leaves hold {total}", self.len));
        }
        if self.height == 0 {
            self.check_vacant_leaves(self.root, 1)?;
        } else {
            self.check_vacant_inner(self.root, 1)?;
        }
        Ok(())
    }

    fn check_vacant_leaves(&self, base: u32, used: usize) -> Result<(), String> {
        for i in used..self.leaves.group {
            if !self.leaves[base + i as u32].keys.is_empty() {
                return Err(format!("vacant leaf slot {} of group {base} is used", i));
            }
        }
        Ok(())
    }

    fn check_vacant_inner(&self, base: u32, used: usize) -> Result<(), String> {
        for i in used..self.inner.group {
            if !self.inner[base + i as u32].keys.is_empty() {
                return Err(format!("vacant inner slot {} of group {base} is used", i));
            }
        }
        Ok(())
    }

    fn check_sorted(&self, node: &Keys<K>, lo: Option<&K>, hi: Option<&K>) -> Result<(), String> {
        if node.keys.len() != node.pre.len()
            || node
                .keys
                .iter()
                .enumerate()
                .any(|(i, k)| k.prefix() != node.pre.get(i))
        {
            return Err("a stored prefix does not match its key".into());
        }
        let keys = node.as_slice();
        let cmp = |a: &K, b: &K| a.try_cmp(b).map_err(|e| format!("stored keys: {e}"));
        for w in keys.windows(2) {
            if cmp(&w[0], &w[1])? != Ordering::Less {
                return Err("keys of a node are not strictly ascending".into());
            }
        }
        if let (Some(lo), Some(k)) = (lo, keys.first()) {
            if cmp(k, lo)? == Ordering::Less {
                return Err("a key is below its lower separator".into());
            }
        }
        if let (Some(hi), Some(k)) = (hi, keys.last()) {
            if cmp(k, hi)? != Ordering::Less {
                return Err("a key is not below its upper separator".into());
            }
        }
        Ok(())
    }

    /// Checks the subtree at `node`; returns its entry count and first key.
    fn check_node<'a>(
        &'a self,
        node: u32,
        depth: usize,
        lo: Option<&K>,
        hi: Option<&K>,
    ) -> Result<(usize, Option<&'a K>), String> {
        let is_root = depth == 0;
        if depth == self.height {
            let leaf = &self.leaves[node];
            if leaf.keys.len() != leaf.vals.len() {
                return Err("a leaf has different key and value counts".into());
            }
            let n = leaf.keys.len();
            if n > self.order || (!is_root && n < self.min_leaf) {
                return Err(format!("a leaf holds {n} keys (order {})", self.order));
            }
            self.check_sorted(&leaf.keys, lo, hi)?;
            return Ok((n, leaf.keys.first()));
        }
        let inner = &self.inner[node];
        let n = inner.keys.len();
        if n > self.order || (is_root && n < 1) || (!is_root && n < self.min_inner) {
            return Err(format!(
                "an inner node holds {n} keys (order {})",
                self.order
            ));
        }
        self.check_sorted(&inner.keys, lo, hi)?;
        let mut total = 0;
        let mut first = None;
        for c in 0..=n {
            let clo = if c == 0 { lo } else { Some(&inner.keys[c - 1]) };
            let chi = if c == n { hi } else { Some(&inner.keys[c]) };
            let (count, child_first) =
                self.check_node(inner.first + c as u32, depth + 1, clo, chi)?;
            total += count;
            if c == 0 {
                first = child_first;
            } else {
                let live = child_first.ok_or("an empty subtree below an inner node")?;
                if inner.keys[c - 1].try_cmp(live) != Ok(Ordering::Equal) {
                    return Err("a separator is not the first key of its right subtree".into());
                }
            }
        }
        if depth + 1 == self.height {
            self.check_vacant_leaves(inner.first, n + 1)?;
        } else {
            self.check_vacant_inner(inner.first, n + 1)?;
        }
        Ok((total, first))
    }
}

/// A position: the path of inner nodes (with child positions), the leaf and the index in it;
/// `leaf == END` past the last entry. Invariant: otherwise `idx < leaf.len()`.
#[derive(Clone)]
struct Cursor {
    path: Vec<(u32, u32)>,
    leaf: u32,
    idx: usize,
}

impl Cursor {
    fn end() -> Self {
        Cursor {
            path: Vec::new(),
            leaf: END,
            idx: 0,
        }
    }

    fn position(&self) -> (u32, usize) {
        (self.leaf, self.idx)
    }

    fn entry<'a, V, K: OrderedKey + Clone>(&self, t: &'a CsbTree<V, K>) -> Option<(&'a K, &'a V)> {
        if self.leaf == END {
            return None;
        }
        let leaf = &t.leaves[self.leaf];
        Some((&leaf.keys[self.idx], &leaf.vals[self.idx]))
    }

    fn count<V, K: OrderedKey + Clone>(t: &CsbTree<V, K>, node: u32) -> u32 {
        t.inner[node].keys.len() as u32 + 1
    }

    /// Descends from depth `from` (whose step is already set) along the first (or last) child.
    fn descend<V, K: OrderedKey + Clone>(&mut self, t: &CsbTree<V, K>, from: usize, last: bool) {
        for d in from + 1..t.height {
            let (n, p) = self.path[d - 1];
            let child = t.inner[n].first + p;
            let pos = if last { Self::count(t, child) - 1 } else { 0 };
            self.path[d] = (child, pos);
        }
        let leaf = match self.path.last() {
            Some(&(n, p)) => t.inner[n].first + p,
            None => t.root,
        };
        let len = t.leaves[leaf].keys.len();
        if len == 0 {
            // Only an empty root leaf.
            self.leaf = END;
            return;
        }
        self.leaf = leaf;
        self.idx = if last { len - 1 } else { 0 };
    }

    fn leftmost<V, K: OrderedKey + Clone>(t: &CsbTree<V, K>) -> Self {
        let mut c = Cursor {
            path: Vec::with_capacity(t.height),
            leaf: END,
            idx: 0,
        };
        if t.height > 0 {
            c.path.resize(t.height, (0, 0));
            c.path[0] = (t.root, 0);
        }
        c.descend(t, 0, false);
        c
    }

    fn rightmost<V, K: OrderedKey + Clone>(t: &CsbTree<V, K>) -> Self {
        let mut c = Cursor {
            path: Vec::with_capacity(t.height),
            leaf: END,
            idx: 0,
        };
        if t.height > 0 {
            c.path.resize(t.height, (0, 0));
            c.path[0] = (t.root, Self::count(t, t.root) - 1);
        }
        c.descend(t, 0, true);
        c
    }

    /// The first entry `>= key` (`after == false`) or `> key` (`after == true`).
    fn seek<V, K: OrderedKey + Clone>(
        t: &CsbTree<V, K>,
        key: &K,
        after: bool,
    ) -> Result<Self, Incomparable> {
        let kp = key.prefix();
        let mut path = Vec::with_capacity(t.height);
        let mut node = t.root;
        for _ in 0..t.height {
            let n = &t.inner[node];
            let c = n.keys.upper_bound(key, kp)?;
            path.push((node, c as u32));
            node = n.first + c as u32;
        }
        let keys = &t.leaves[node].keys;
        let idx = if after {
            keys.upper_bound(key, kp)?
        } else {
            keys.lower_bound(key, kp)?
        };
        let mut c = Cursor {
            path,
            leaf: node,
            idx,
        };
        if idx == keys.len() {
            c.next_leaf(t);
        }
        Ok(c)
    }

    fn advance<V, K: OrderedKey + Clone>(&mut self, t: &CsbTree<V, K>) {
        if self.leaf == END {
            return;
        }
        self.idx += 1;
        if self.idx == t.leaves[self.leaf].keys.len() {
            self.next_leaf(t);
        }
    }

    /// Steps back one entry; from the end it goes to the last entry, from the first to the end.
    fn retreat<V, K: OrderedKey + Clone>(&mut self, t: &CsbTree<V, K>) {
        if self.leaf == END {
            *self = Self::rightmost(t);
        } else if self.idx > 0 {
            self.idx -= 1;
        } else {
            self.prev_leaf(t);
        }
    }

    fn next_leaf<V, K: OrderedKey + Clone>(&mut self, t: &CsbTree<V, K>) {
        let mut d = self.path.len();
        loop {
            if d == 0 {
                *self = Self::end();
                return;
            }
            d -= 1;
            let (n, p) = self.path[d];
            if p + 1 < Self::count(t, n) {
                self.path[d].1 = p + 1;
                break;
            }
        }
        self.descend(t, d, false);
    }

    fn prev_leaf<V, K: OrderedKey + Clone>(&mut self, t: &CsbTree<V, K>) {
        let mut d = self.path.len();
        loop {
            if d == 0 {
                *self = Self::end();
                return;
            }
            d -= 1;
            let p = self.path[d].1;
            if p > 0 {
                self.path[d].1 = p - 1;
                break;
            }
        }
        self.descend(t, d, true);
    }
}

/// An iterator over `(&key, &value)` in ascending key order.
pub struct Iter<'a, V, K = Key> {
    tree: &'a CsbTree<V, K>,
    cur: Cursor,
    end: (u32, usize),
    remaining: Option<usize>,
}

impl<'a, V, K: OrderedKey + Clone> Iterator for Iter<'a, V, K> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.cur.position() == self.end {
            return None;
        }
        let e = self.cur.entry(self.tree)?;
        self.cur.advance(self.tree);
        if let Some(r) = &mut self.remaining {
            *r -= 1;
        }
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining {
            Some(r) => (r, Some(r)),
            None => (0, Some(self.tree.len)),
        }
    }
}

impl<'a, V, K: OrderedKey + Clone> IntoIterator for &'a CsbTree<V, K> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, V, K>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A [`CsbTree`] behind a `parking_lot::RwLock`: `&self` methods, concurrent readers, results
/// returned as clones. `Send + Sync` when `K` and `V` are `Send + Sync`.
pub struct SharedCsbTree<V, K = Key> {
    tree: RwLock<CsbTree<V, K>>,
}

impl<V, K> fmt::Debug for SharedCsbTree<V, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CsbTree(len={})", self.tree.read().len)
    }
}

impl<V: Clone, K: OrderedKey + Clone> Default for SharedCsbTree<V, K> {
    fn default() -> Self {
        SharedCsbTree {
            tree: RwLock::new(CsbTree::default()),
        }
    }
}

fn cloned<K: Clone, V: Clone>(e: Option<(&K, &V)>) -> Option<(K, V)> {
    e.map(|(k, v)| (k.clone(), v.clone()))
}

impl<V: Clone, K: OrderedKey + Clone> SharedCsbTree<V, K> {
    /// See [`CsbTree::new`].
    pub fn new(order: usize) -> crate::error::Result<Self> {
        Ok(SharedCsbTree {
            tree: RwLock::new(CsbTree::new(order)?),
        })
    }

    /// Runs `f` under the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&CsbTree<V, K>) -> R) -> R {
        f(&self.tree.read())
    }

    /// Runs `f` under the write lock.
    pub fn write<R>(&self, f: impl FnOnce(&mut CsbTree<V, K>) -> R) -> R {
        f(&mut self.tree.write())
    }

    /// Runs `f` under the read lock if it is free now (None: another thread holds or waits
    /// for the write lock).
    pub fn try_read<R>(&self, f: impl FnOnce(&CsbTree<V, K>) -> R) -> Option<R> {
        let t = self.tree.try_read()?;
        Some(f(&t))
    }

    /// Runs `f` under the write lock if it is free now (None: another thread holds it).
    pub fn try_write<R>(&self, f: impl FnOnce(&mut CsbTree<V, K>) -> R) -> Option<R> {
        let mut t = self.tree.try_write()?;
        Some(f(&mut t))
    }

    /// [`CsbTree::insert_if_absent`] if the write lock is free now, else the key and value
    /// back.
    #[allow(clippy::type_complexity)]
    pub fn try_insert_if_absent(
        &self,
        key: K,
        value: V,
    ) -> Result<Result<Option<V>, Incomparable>, (K, V)> {
        match self.tree.try_write() {
            Some(mut t) => Ok(t.insert_if_absent(key, value).map(|v| v.cloned())),
            None => Err((key, value)),
        }
    }

    pub fn order(&self) -> usize {
        self.tree.read().order
    }

    pub fn len(&self) -> usize {
        self.tree.read().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        self.tree.write().clear()
    }

    pub fn insert(&self, key: K, value: V) -> Result<Option<V>, Incomparable> {
        self.tree.write().insert(key, value)
    }

    pub fn get(&self, key: &K) -> Result<Option<V>, Incomparable> {
        Ok(self.tree.read().get(key)?.cloned())
    }

    pub fn get_key_value(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        Ok(cloned(self.tree.read().get_key_value(key)?))
    }

    pub fn contains_key(&self, key: &K) -> Result<bool, Incomparable> {
        self.tree.read().contains_key(key)
    }

    pub fn remove(&self, key: &K) -> Result<Option<V>, Incomparable> {
        self.tree.write().remove(key)
    }

    pub fn remove_entry(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        self.tree.write().remove_entry(key)
    }

    /// See [`CsbTree::setdefault`].
    pub fn setdefault(&self, key: K, value: V) -> Result<V, Incomparable> {
        Ok(self.tree.write().setdefault(key, value)?.clone())
    }

    /// See [`CsbTree::insert_if_absent`] (the present value, copied).
    pub fn insert_if_absent(&self, key: K, value: V) -> Result<Option<V>, Incomparable> {
        Ok(self.tree.write().insert_if_absent(key, value)?.cloned())
    }

    /// See [`CsbTree::insert_many`] (one write lock for the whole batch).
    pub fn insert_many<I>(&self, items: I, previous: &mut Vec<Option<V>>) -> Result<(), BatchError>
    where
        I: IntoIterator<Item = (K, V)>,
    {
        self.tree.write().insert_many(items, previous)
    }

    /// See [`CsbTree::get_many`] (one read lock for the whole batch).
    pub fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, BatchError> {
        let t = self.tree.read();
        let found = t.get_many(keys)?;
        Ok(found.into_iter().map(|v| v.cloned()).collect())
    }

    /// A snapshot of every entry in key order.
    pub fn items(&self) -> Vec<(K, V)> {
        let t = self.tree.read();
        t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn keys(&self) -> Vec<K> {
        self.tree.read().keys().cloned().collect()
    }

    pub fn values(&self) -> Vec<V> {
        self.tree.read().values().cloned().collect()
    }

    /// A snapshot of the entries with `start <= k < end`.
    pub fn range(&self, start: &K, end: &K) -> Result<Vec<(K, V)>, Incomparable> {
        self.range_page(Bound::Included(start), Bound::Excluded(end), usize::MAX)
    }

    /// At most `limit` entries between two bounds, in key order (a page; continue with
    /// `Bound::Excluded(last key)`).
    pub fn range_page(
        &self,
        lo: Bound<&K>,
        hi: Bound<&K>,
        limit: usize,
    ) -> Result<Vec<(K, V)>, Incomparable> {
        let t = self.tree.read();
        Ok(t.range_bounds(lo, hi)?
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    pub fn first(&self) -> Option<(K, V)> {
        cloned(self.tree.read().first())
    }

    pub fn last(&self) -> Option<(K, V)> {
        cloned(self.tree.read().last())
    }

    pub fn floor(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        Ok(cloned(self.tree.read().floor(key)?))
    }

    pub fn lower(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        Ok(cloned(self.tree.read().lower(key)?))
    }

    pub fn ceiling(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        Ok(cloned(self.tree.read().ceiling(key)?))
    }

    pub fn higher(&self, key: &K) -> Result<Option<(K, V)>, Incomparable> {
        Ok(cloned(self.tree.read().higher(key)?))
    }
}
