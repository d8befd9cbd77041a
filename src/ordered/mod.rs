//! In-memory ordered containers (kohakuvault 1.1.0's `CSBTree` and `SkipList`, REFERENCE.md
//! §1.8–1.9, DECISIONS 10): not persisted, next to the vaults.
//!
//! * [`key`]: [`Key`], the native key model with Python's ordering, and [`OrderedKey`], the
//!   fallible order both containers are generic over.
//! * [`csbtree`]: [`CsbTree`], a cache-sensitive B+ tree (arena nodes, contiguous children),
//!   and [`SharedCsbTree`], the same behind a read-write lock. `insert` replaces.
//! * [`skiplist`]: [`SkipList`], a lock-free skip list on crossbeam-epoch. `insert` is
//!   insert-if-absent.
//! * [`wire`]: the FFI forms of keys (docs/FORMAT.md §9): [`HostKey`] (a native key or a
//!   facade-held object ordered by the facade's [`HostKeyOrder`]), encodings and pages.
//! * [`store`]: [`OrderedStore`], the UDL object every facade wraps (values are the facade's
//!   u64 handles); [`fast`]: its C fast path.

pub mod csbtree;
pub mod fast;
pub mod key;
pub mod skiplist;
pub mod store;
pub mod wire;

pub use csbtree::{CsbTree, SharedCsbTree, DEFAULT_ORDER};
pub use key::{BatchError, Incomparable, Key, OrderedKey};
pub use skiplist::SkipList;
pub use store::{Neighbor, OrderedBatch, OrderedKind, OrderedRange, OrderedStore};
pub use wire::{HostKey, HostKeyOrder};
