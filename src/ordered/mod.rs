//! In-memory ordered containers (kohakuvault 1.1.0's `CSBTree` and `SkipList`, REFERENCE.md
//! §1.8–1.9, DECISIONS 10): not persisted, next to the vaults.
//!
//! * [`key`]: [`Key`], the native key model with Python's ordering, and [`OrderedKey`], the
//!   fallible order both containers are generic over.
//! * [`csbtree`]: [`CsbTree`], a cache-sensitive B+ tree (arena nodes, contiguous children),
//!   and [`SharedCsbTree`], the same behind a read-write lock. `insert` replaces.
//! * [`skiplist`]: [`SkipList`], a lock-free skip list on crossbeam-epoch. `insert` is
//!   insert-if-absent.
//!
//! Both are ready to sit behind a uniffi object: `SharedCsbTree` and `SkipList` take `&self`
//! everywhere and are `Send + Sync` when their keys and values are.

pub mod csbtree;
pub mod key;
pub mod skiplist;

pub use csbtree::{CsbTree, SharedCsbTree, DEFAULT_ORDER};
pub use key::{BatchError, Incomparable, Key, OrderedKey};
pub use skiplist::SkipList;
