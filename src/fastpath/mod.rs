//! The generic half of the C fast path (docs/FORMAT.md §5, docs/ARCHITECTURE.md): plain
//! `extern "C"` functions in the same library, for foreign callers where a uniffi call costs
//! more than the work (Python's ctypes, JNA). Every entry point is an optimisation of a UDL
//! operation with the same meaning; on any error it returns a negative code and the caller makes
//! the UDL call to get the typed error.
//!
//! This module knows no vault. It offers:
//! * a registry of type-erased weak handles: an object registers itself and gets a small id;
//!   entry points look the id up as their own type, so a stale or foreign id never reaches freed
//!   or wrong memory;
//! * [`entry`], the panic guard every entry point runs in (no panic crosses into foreign code);
//! * per-thread result pages ([`with_page`], [`kohakuvault_fast_release`]) and argument helpers.
//!
//! Each vault keeps its entry points in its own `fast.rs`, next to the vault.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};

use foldhash::fast::FixedState;
use parking_lot::RwLock;

use crate::error::Result;

type Handle = Weak<dyn Any + Send + Sync>;

/// Ids are ours (sequential), so the fast foldhash suits the lookup every entry point makes.
static REGISTRY: LazyLock<RwLock<HashMap<u64, Handle, FixedState>>> =
    LazyLock::new(|| RwLock::new(HashMap::with_hasher(FixedState::default())));
/// Ids start at 1 (0 means "no handle") and stay small, so callers may pass them as C ints.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Registers a weak reference to `obj` and returns its id.
pub fn register<T: Any + Send + Sync>(obj: &Arc<T>) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let weak: Weak<T> = Arc::downgrade(obj);
    REGISTRY.write().insert(id, weak as Handle);
    id
}

/// The object behind `id` if it is still alive and of type `T`.
pub fn lookup<T: Any + Send + Sync>(id: u64) -> Option<Arc<T>> {
    let strong = REGISTRY.read().get(&id)?.upgrade()?;
    strong.downcast::<T>().ok()
}

/// Forgets `id` (0 is ignored).
pub fn unregister(id: u64) {
    if id != 0 {
        REGISTRY.write().remove(&id);
    }
}

/// The id stored in `slot`, registering `obj` the first time (a racing second registration is
/// undone, so one object has one id).
pub fn claim<T: Any + Send + Sync>(slot: &AtomicU64, obj: &Arc<T>) -> u64 {
    let cur = slot.load(Ordering::Acquire);
    if cur != 0 {
        return cur;
    }
    let id = register(obj);
    match slot.compare_exchange(0, id, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => id,
        Err(existing) => {
            unregister(id);
            existing
        }
    }
}

/// Runs the body of an entry point: a panic becomes `on_panic` instead of unwinding into C.
pub fn entry<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// `n` bytes at `p` as a slice (`p` may be null when `n` is 0).
///
/// # Safety
/// `p` must point to `n` readable bytes that outlive the returned slice.
pub unsafe fn bytes_arg<'a>(p: *const u8, n: usize) -> Option<&'a [u8]> {
    if n == 0 {
        Some(&[])
    } else if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p, n))
    }
}

/// An optional byte argument: a negative length means "none" (`Some(None)`); `None` when the
/// pointer is null for a non-empty length.
///
/// # Safety
/// As [`bytes_arg`].
pub unsafe fn opt_bytes_arg<'a>(p: *const u8, n: i64) -> Option<Option<&'a [u8]>> {
    if n < 0 {
        Some(None)
    } else {
        bytes_arg(p, n as usize).map(Some)
    }
}

thread_local! {
    /// This thread's last result page (valid until its next page call or `kohakuvault_fast_release`).
    static PAGE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A page buffer bigger than this is freed instead of kept for the next call.
const PAGE_KEEP: usize = 8 << 20;

/// Runs `fill` on this thread's page buffer; on success points `out` / `out_len` at the page
/// and returns 0, else -1.
///
/// # Safety
/// `out` and `out_len` must be writable (null is refused).
pub unsafe fn with_page(
    out: *mut *const u8,
    out_len: *mut usize,
    fill: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> i32 {
    if out.is_null() || out_len.is_null() {
        return -1;
    }
    PAGE.with(|p| {
        let mut page = p.borrow_mut();
        if page.capacity() > PAGE_KEEP {
            *page = Vec::new();
        }
        page.clear();
        match fill(&mut page) {
            Ok(()) => {
                *out = page.as_ptr();
                *out_len = page.len();
                0
            }
            Err(_) => -1,
        }
    })
}

thread_local! {
    /// This thread's scratch buffer for entry points that read into memory of their own.
    static SCRATCH: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer (its previous contents; kept for the next call
/// unless larger than the page limit). The buffer is taken out for the call, so a nested call
/// on the same thread gets an empty one of its own.
pub fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.try_with(|s| s.take()).unwrap_or_default();
    let r = f(&mut buf);
    if buf.capacity() <= PAGE_KEEP {
        let _ = SCRATCH.try_with(|s| s.set(buf));
    }
    r
}

/// Asks the cache for the line at `p` ahead of a read (a walk that knows its next addresses
/// before it needs them). A hint: it never faults, whatever `p` is; a no-op where the target
/// has no prefetch instruction.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 (SSE, in every x86-64 core) only hints the cache.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: PRFM (in every AArch64 core) only hints the cache.
    unsafe {
        std::arch::asm!(
            "prfm pldl1keep, [{0}]",
            in(reg) p as usize,
            options(nostack, readonly, preserves_flags)
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let _ = p;
}

/// Caller buffers at least this big are advised to use huge pages before the core fills them.
const HUGE_ADVICE_MIN: usize = 4 << 20;

/// Asks the kernel (Linux, where transparent huge pages are "madvise"-only by default) to back
/// the 2 MiB-aligned part of a large caller buffer with huge pages before the core writes it:
/// a fresh 150 MB buffer (a JVM direct or JNA block, a Swift array) otherwise takes ~38,000
/// page faults as it is filled, which cost more than the read itself. numpy does the same for
/// its arrays. Advice only: failure (no THP, another OS) changes nothing.
pub fn advise_huge(buf: &mut [u8]) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        const HUGE: usize = 2 << 20;
        if buf.len() < HUGE_ADVICE_MIN {
            return;
        }
        let start = (buf.as_mut_ptr() as usize).next_multiple_of(HUGE);
        let end = (buf.as_mut_ptr() as usize + buf.len()) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside `buf`; MADV_HUGEPAGE changes no contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = (buf, HUGE_ADVICE_MIN);
}

/// [`advise_huge`] for a facade's own large buffer (a JNA block it is about to fill and hand
/// to an append): docs/FORMAT.md §5.
///
/// # Safety
/// `p` must point to `len` bytes owned by the caller (or be null).
#[no_mangle]
pub unsafe extern "C" fn kohakuvault_fast_advise(p: *mut u8, len: usize) {
    if !p.is_null() {
        entry((), || advise_huge(std::slice::from_raw_parts_mut(p, len)));
    }
}

/// Frees this thread's page buffer if it is large (any vault's pages).
#[no_mangle]
pub extern "C" fn kohakuvault_fast_release() {
    let _ = PAGE.try_with(|p| {
        if let Ok(mut page) = p.try_borrow_mut() {
            if page.capacity() > PAGE_KEEP {
                *page = Vec::new();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A(u32);
    struct B;

    #[test]
    fn registry_is_typed_and_weak() {
        let a = Arc::new(A(7));
        let slot = AtomicU64::new(0);
        let id = claim(&slot, &a);
        assert_eq!(claim(&slot, &a), id);
        assert_eq!(lookup::<A>(id).map(|x| x.0), Some(7));
        assert!(lookup::<B>(id).is_none(), "a foreign id is refused");
        drop(a);
        assert!(lookup::<A>(id).is_none(), "a dead object is gone");
        unregister(id);
        assert!(REGISTRY.read().get(&id).is_none());
    }

    #[test]
    fn entry_catches_panics() {
        assert_eq!(entry(-1, || panic!("boom")), -1);
        assert_eq!(entry(-1, || 3), 3);
    }
}
