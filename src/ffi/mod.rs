//! FFI buffer formats shared by every vault (docs/FORMAT.md §4): packed little-endian batches
//! ([`packed`]), result pages written through one [`page::Sink`] either packed or as a
//! data-only pickle stream for Python ([`page`], [`pickle`]), and Python objects built by the core
//! for point reads ([`pyobj`]), and Python objects held for a container's entries ([`slots`]).
//! Nothing here knows any vault.

pub mod packed;
pub mod page;
pub mod pickle;
pub mod pyobj;
pub mod slots;
