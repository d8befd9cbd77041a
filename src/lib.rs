//! KohakuVault: a one-file embedded datastore on SQLite. This crate is the Rust core; the
//! interface every language sees is `udl/kohakuvault.udl` (uniffi), plus the C fast path
//! ([`fastpath`] and each vault's `fast.rs`). docs/ARCHITECTURE.md describes the layers.
//!
//! Shared layers (no vault imports them the other way): [`error`], [`codec`], [`ffi`],
//! [`fastpath`], [`storage`], and [`packer`] (DataPacker, the typed serializer behind the
//! vaults). Vaults: [`kv`] (KVault), [`col`] (ColumnVault), [`vec`] (VectorKVault), [`text`] (TextVault).

pub mod codec;
pub mod col;
pub mod error;
pub mod fastpath;
pub mod ffi;
pub mod kv;
pub mod ordered;
pub mod packer;
pub mod storage;
pub mod text;
pub mod vec;

pub use codec::plain::{PlainKind, PlainNode};
pub use codec::TaggedValue;
pub use col::{
    ColumnCacheConfig, ColumnInfo, ColumnLayout, ColumnStorageInfo, ColumnStore, VarRows,
    WalCheckpoint,
};
pub use error::{VResult, VaultError};
pub use kv::stream::{GetStream, PutStream};
pub use kv::{CacheStats, KvStore, ReaderPoolStats, ScanPage, ScanRequest};
pub use ordered::{HostKeyOrder, Neighbor, OrderedBatch, OrderedKind, OrderedRange, OrderedStore};
pub use packer::DataPacker;
pub use storage::OpenOptions;
pub use text::{HybridRequest, TextHits, TextInfo, TextOptions, TextRecord, TextStore};
pub use vec::{VectorFilter, VectorHits, VectorInfo, VectorRecord, VectorStore};

use error::guard;

uniffi::include_scaffolding!("kohakuvault");

/// The library's version: one number for the core and every package (Cargo.toml's).
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// (kind, payload) → stored bytes (docs/FORMAT.md §1–2).
pub fn encode_value(kind: u8, payload: &[u8], headers: bool) -> VResult<Vec<u8>> {
    guard(|| codec::encode(kind, payload, headers))
}

/// Stored bytes → (kind, payload).
pub fn decode_value(stored: &[u8]) -> VResult<TaggedValue> {
    guard(|| codec::decode(stored))
}

/// Converts a structured payload between msgpack (4), cbor (5) and json (3).
pub fn transcode(from_kind: u8, to_kind: u8, payload: &[u8]) -> VResult<Vec<u8>> {
    guard(|| codec::plain::transcode(from_kind, to_kind, payload))
}

pub fn plain_to_msgpack(nodes: Vec<PlainNode>) -> VResult<Vec<u8>> {
    guard(|| codec::plain::plain_to_msgpack(&nodes))
}

pub fn msgpack_to_plain(payload: &[u8]) -> VResult<Vec<PlainNode>> {
    guard(|| codec::plain::msgpack_to_plain(payload))
}
