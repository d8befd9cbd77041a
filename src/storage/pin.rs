//! The read pin: point reads without the WAL read lock's system calls.
//!
//! Every read transaction in WAL mode takes a shared lock on one of the WAL's read-mark slots
//! and drops it at the end: two `fcntl` calls, measured at about 30% of a point get's time.
//! SQLite counts those locks per process, and asks the kernel only when the first connection of
//! the process takes a slot and when the last one leaves it. So one connection of ours holding a
//! read transaction open (the pin) makes every other read of the process that lands on the same
//! snapshot skip both calls. The pin never reads data and never changes what a read sees: each
//! read still starts its own transaction on the newest committed snapshot; a read that finds a
//! newer snapshot than the pin's takes its lock the usual way.
//!
//! A read transaction left open would hold back the WAL: no checkpoint can copy frames past its
//! snapshot and no writer can restart the WAL from its beginning while it is open. So the pin
//! is short-lived by construction:
//! - it is taken by a read after [`PIN_AFTER`] reads with no write in between, never while the
//!   writer connection is busy;
//! - every write lease of the process drops it first ([`ReadPin::before_write`]);
//! - a timer thread (one per process) drops it once no read used it for a tick ([`TICK`]) and
//!   renews it on the newest snapshot every [`RENEW`], so another process's writes and
//!   checkpoints (TRUNCATE / RESTART included) wait at most that long for it;
//! - a `fork()` drops every pin first (a `pthread_atfork` handler): a child must never believe it
//!   holds a lock that only its parent holds;
//! - closing the database drops it before any other connection closes.
//!
//! `KOHAKUVAULT_NO_READ_PIN=1` in the environment turns it off (for comparisons).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Once, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};

/// Reads with no write in between after which a read takes the pin.
pub const PIN_AFTER: u32 = 8;
/// The timer's period: a pin no read used for one tick is dropped.
pub const TICK: Duration = Duration::from_millis(20);
/// A pin older than this is renewed on the newest snapshot.
pub const RENEW: Duration = Duration::from_millis(40);

struct State {
    conn: Option<Connection>,
    since: Instant,
    closed: bool,
}

/// The read pin of one database file.
pub struct ReadPin {
    path: String,
    held: AtomicBool,
    /// A read ran while the pin was held, since the timer last looked.
    used: AtomicBool,
    /// Reads since the pin was last dropped by a write.
    reads: AtomicU32,
    state: Mutex<State>,
}

static PINS: LazyLock<Mutex<Vec<Weak<ReadPin>>>> = LazyLock::new(|| Mutex::new(Vec::new()));
/// Set while a `fork()` is under way: no pin may be taken.
static FORKING: AtomicBool = AtomicBool::new(false);
/// The timer thread and the process it runs in (a forked child starts its own).
static TIMER: Mutex<Option<(u32, std::thread::Thread)>> = Mutex::new(None);
/// The pins [`before_fork`] locked, for [`after_fork`] to unlock.
static FORK_KEEP: Mutex<Vec<Arc<ReadPin>>> = Mutex::new(Vec::new());
static AT_FORK: Once = Once::new();

fn disabled_by_env() -> bool {
    std::env::var_os("KOHAKUVAULT_NO_READ_PIN").is_some_and(|v| !v.is_empty() && v != "0")
}

impl ReadPin {
    /// A pin for the WAL database at `path` (None when turned off by the environment).
    pub fn new(path: &str) -> Option<Arc<ReadPin>> {
        if disabled_by_env() {
            return None;
        }
        install_fork_handlers();
        let pin = Arc::new(ReadPin {
            path: path.to_string(),
            held: AtomicBool::new(false),
            used: AtomicBool::new(false),
            reads: AtomicU32::new(0),
            state: Mutex::new(State {
                conn: None,
                since: Instant::now(),
                closed: false,
            }),
        });
        let mut pins = PINS.lock();
        pins.retain(|w| w.strong_count() > 0);
        pins.push(Arc::downgrade(&pin));
        Some(pin)
    }

    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }

    /// Called after every read; takes the pin after [`PIN_AFTER`] reads without a write unless
    /// `writer_busy` (a write under way would be held back by it).
    #[inline]
    pub fn after_read(&self, writer_busy: bool) {
        if self.held.load(Ordering::Relaxed) {
            if !self.used.load(Ordering::Relaxed) {
                self.used.store(true, Ordering::Relaxed);
            }
            return;
        }
        if self.reads.fetch_add(1, Ordering::Relaxed) + 1 >= PIN_AFTER && !writer_busy {
            self.try_take();
        }
    }

    /// Drops the pin before a write transaction of this process (so the WAL can restart) and
    /// starts the count of reads again.
    #[inline]
    pub fn before_write(&self) {
        self.reads.store(0, Ordering::Relaxed);
        if self.held.load(Ordering::Acquire) {
            self.release(&mut self.state.lock());
        }
    }

    /// Drops the pin and its connection for good (the database is closing).
    pub fn close(&self) {
        let mut st = self.state.lock();
        self.release(&mut st);
        st.closed = true;
        st.conn = None;
    }

    fn try_take(&self) {
        let Some(mut st) = self.state.try_lock() else {
            return;
        };
        if self.take(&mut st) {
            start_timer();
        } else {
            self.reads.store(0, Ordering::Relaxed);
        }
    }

    /// Opens a read transaction on the pin's connection (never waiting for a lock).
    fn take(&self, st: &mut State) -> bool {
        if st.closed || self.is_held() || FORKING.load(Ordering::Acquire) {
            return false;
        }
        if st.conn.is_none() {
            st.conn = open_pin_connection(&self.path);
            if st.conn.is_none() {
                st.closed = true; // no connection to be had: stay off
                return false;
            }
        }
        if !begin_read(st) {
            return false;
        }
        self.used.store(false, Ordering::Relaxed);
        self.held.store(true, Ordering::Release);
        true
    }

    fn release(&self, st: &mut State) {
        if !self.is_held() {
            return;
        }
        self.held.store(false, Ordering::Release);
        if let Some(conn) = st.conn.as_ref() {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }

    /// The timer's look at this pin: drop it when unused, renew it when old. Returns whether the
    /// pin is held afterwards.
    fn tick(&self) -> bool {
        if !self.is_held() {
            return false;
        }
        let mut st = self.state.lock();
        if !self.used.swap(false, Ordering::Relaxed) {
            self.release(&mut st);
            self.reads.store(0, Ordering::Relaxed);
            return false;
        }
        if st.since.elapsed() >= RENEW {
            // On the newest snapshot, staying held throughout (a failed renewal drops it).
            if let Some(conn) = st.conn.as_ref() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            if FORKING.load(Ordering::Acquire) || !begin_read(&mut st) {
                self.held.store(false, Ordering::Release);
                return false;
            }
        }
        true
    }
}

/// `BEGIN` and a read of the header on the pin's connection: a read transaction on the newest
/// snapshot, left open.
fn begin_read(st: &mut State) -> bool {
    let Some(conn) = st.conn.as_ref() else {
        return false;
    };
    let ok = conn.execute_batch("BEGIN").is_ok()
        && conn
            .query_row("PRAGMA user_version", [], |_| Ok(()))
            .is_ok();
    if !ok {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        return false;
    }
    st.since = Instant::now();
    true
}

fn open_pin_connection(path: &str) -> Option<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.busy_timeout(Duration::ZERO).ok()?;
    conn.execute_batch("PRAGMA cache_size = -64; PRAGMA mmap_size = 0;")
        .ok()?;
    Some(conn)
}

/// Starts the process's timer thread unless it runs in this process, and wakes it.
fn start_timer() {
    let pid = std::process::id();
    let mut timer = TIMER.lock();
    if let Some((p, t)) = timer.as_ref() {
        if *p == pid {
            t.unpark();
            return;
        }
    }
    match std::thread::Builder::new()
        .name("kohakuvault-read-pin".into())
        .spawn(timer_loop)
    {
        Ok(h) => *timer = Some((pid, h.thread().clone())),
        Err(_) => {
            // No timer: no pin may stay held.
            drop(timer);
            for p in live_pins() {
                p.release(&mut p.state.lock());
            }
        }
    }
}

fn live_pins() -> Vec<Arc<ReadPin>> {
    let mut pins = PINS.lock();
    pins.retain(|w| w.strong_count() > 0);
    pins.iter().filter_map(Weak::upgrade).collect()
}

fn timer_loop() {
    loop {
        std::thread::sleep(TICK);
        let mut any_held = false;
        for p in live_pins() {
            any_held |= p.tick();
        }
        if !any_held {
            // Until a pin is taken again (a take unparks; a wake-up before this park is kept).
            std::thread::park();
        }
    }
}

/// `fork()`'s prepare handler: drops every pin and holds the locks a child could otherwise
/// inherit held by another thread, until the fork is done.
extern "C" fn before_fork() {
    FORKING.store(true, Ordering::Release);
    let pins = PINS.lock();
    let live: Vec<Arc<ReadPin>> = pins.iter().filter_map(Weak::upgrade).collect();
    std::mem::forget(pins);
    std::mem::forget(TIMER.lock());
    for p in &live {
        let mut st = p.state.lock();
        p.release(&mut st);
        std::mem::forget(st);
    }
    // Not held across the fork: only this thread touches it until after_fork.
    *FORK_KEEP.lock() = live;
}

/// `fork()`'s handler in the parent and the child: unlocks what [`before_fork`] held.
extern "C" fn after_fork() {
    let live = std::mem::take(&mut *FORK_KEEP.lock());
    for p in &live {
        // SAFETY: locked by before_fork on this thread, its guard forgotten.
        unsafe { p.state.force_unlock() };
    }
    // SAFETY: as above.
    unsafe {
        TIMER.force_unlock();
        PINS.force_unlock();
    }
    FORKING.store(false, Ordering::Release);
    drop(live);
}

fn install_fork_handlers() {
    AT_FORK.call_once(|| {
        #[cfg(unix)]
        // SAFETY: plain functions with the signature pthread_atfork expects, valid for the
        // life of the process.
        unsafe {
            libc::pthread_atfork(Some(before_fork), Some(after_fork), Some(after_fork));
        }
    });
}
