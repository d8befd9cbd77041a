//! Checkpoints off the commit path.
//!
//! SQLite's default (`wal_autocheckpoint = 1000`) makes the commit that takes the WAL past
//! 1000 pages copy every frame back into the database file before it returns: one commit in a
//! few hundred pays for all of them, and a stream of small committed writes (single puts,
//! inserts, appends) spends a large share of its time there. Instead, the writer's WAL hook asks
//! a background thread (one per open file, started at the first request) to run a PASSIVE
//! checkpoint on its own connection once the WAL holds [`BACKGROUND_PAGES`], and once more every
//! [`BACKGROUND_STEP`] pages after that; the commit returns at once. The writer still
//! checkpoints itself at [`INLINE_PAGES`], exactly where SQLite would (first waiting for a
//! running background checkpoint, which holds SQLite's checkpoint lock), so the WAL stays as
//! bounded as before when the thread falls behind; it then finds little left to copy. One commit that alone takes the WAL past [`INLINE_PAGES`] (a bulk append, a batch)
//! hands its copy to an idle thread too; the next commit past the limit waits for it, so the
//! WAL holds at most that write and one more. Durability is unchanged: a commit is in the WAL
//! when it returns either way.
//!
//! The thread holds no database lock between checkpoints, never writes a page of its own, and
//! ends (closing its connection) when the database closes or is dropped.

use std::os::raw::c_int;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OpenFlags};

use crate::error::Result;

/// WAL size (pages) at which the background thread is asked for a checkpoint.
pub const BACKGROUND_PAGES: c_int = 500;
/// WAL growth (pages) after a background request before the next one.
pub const BACKGROUND_STEP: c_int = 250;
/// WAL size (pages) at which the writer checkpoints itself (SQLite's default autocheckpoint).
pub const INLINE_PAGES: c_int = 1000;

impl State {
    /// After a fork the child has no checkpoint thread: forget the parent's (no pthread call
    /// on it) so the child starts its own, and never waits for a checkpoint nobody runs.
    fn forget_if_forked(&mut self) {
        if self.thread.is_some() && self.pid != std::process::id() {
            std::mem::forget(self.thread.take());
            self.busy = false;
        }
    }
}

#[derive(Default)]
struct State {
    wanted: bool,
    stop: bool,
    /// A background checkpoint is running.
    busy: bool,
    thread: Option<JoinHandle<()>>,
    /// The process that started the thread (a forked child has no such thread to join).
    pid: u32,
}

/// The background checkpointer of one database file.
pub struct Checkpointer {
    path: String,
    state: Mutex<State>,
    wake: Condvar,
    idle: Condvar,
}

impl Checkpointer {
    pub fn new(path: &str) -> Arc<Checkpointer> {
        Arc::new(Checkpointer {
            path: path.to_string(),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            idle: Condvar::new(),
        })
    }

    /// Replaces the writer's autocheckpoint with the hook described in the module comment.
    pub fn install(self: &Arc<Self>, writer: &mut Connection) -> Result<()> {
        let weak = Arc::downgrade(self);
        // The WAL size after the previous commit: a commit that alone takes the WAL from below
        // the background threshold past the inline one (one big write) hands its copy to the
        // thread as well; the next commit past the inline threshold waits for it.
        let mut before: c_int = 0;
        // The WAL size at which the next background checkpoint is asked for: a checkpoint
        // cannot let the WAL restart while commits keep coming (it never catches up with the
        // newest frame), so asking again on every commit past the threshold kept the thread
        // checkpointing a few frames at a time, two fsyncs each (measured: 2,246 fsyncs for 20k
        // single puts against 128 for SQLite's inline autocheckpoint). One more request per
        // BACKGROUND_STEP frames instead; the inline checkpoint at INLINE_PAGES lets it restart.
        let mut next_at: c_int = BACKGROUND_PAGES;
        writer.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            let big_write = before < BACKGROUND_PAGES;
            if pages < before {
                next_at = BACKGROUND_PAGES; // the WAL restarted from its beginning
            }
            before = pages;
            let Some(cp) = weak.upgrade() else {
                return Ok(());
            };
            if pages >= INLINE_PAGES {
                if big_write && cp.hand_off() {
                    return Ok(());
                }
                // The thread fell behind: wait for its checkpoint (it holds SQLite's checkpoint
                // lock), then copy the rest here, as SQLite's own autocheckpoint would, so the
                // next write restarts the WAL from its beginning.
                cp.wait_idle();
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
            } else if pages >= next_at {
                cp.request();
                next_at = pages + BACKGROUND_STEP;
            }
            Ok(())
        }))?;
        Ok(())
    }

    /// Requests a checkpoint when the thread is idle with nothing pending (true), else false.
    fn hand_off(self: &Arc<Self>) -> bool {
        {
            let mut st = self.state.lock();
            st.forget_if_forked();
            if st.busy || st.wanted || st.stop {
                return false;
            }
        }
        self.request();
        self.started()
    }

    /// Asks for a checkpoint, starting the thread on the first request.
    fn request(self: &Arc<Self>) {
        let mut st = self.state.lock();
        if st.stop {
            return;
        }
        st.forget_if_forked();
        st.wanted = true;
        if st.thread.is_none() {
            let me = Arc::clone(self);
            match std::thread::Builder::new()
                .name("kohakuvault-checkpoint".into())
                .spawn(move || me.run())
            {
                Ok(handle) => {
                    st.thread = Some(handle);
                    st.pid = std::process::id();
                }
                Err(_) => {
                    // No thread: the writer's inline checkpoint keeps the WAL bounded.
                    st.wanted = false;
                    return;
                }
            }
        }
        self.wake.notify_one();
    }

    fn run(self: Arc<Self>) {
        let mut conn: Option<Connection> = None;
        loop {
            {
                let mut st = self.state.lock();
                while !st.wanted && !st.stop {
                    self.wake.wait(&mut st);
                }
                if st.stop {
                    return;
                }
                st.wanted = false;
                st.busy = true;
            }
            if conn.is_none() {
                conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .ok();
                if let Some(c) = &conn {
                    let _ = c.busy_timeout(Duration::ZERO);
                }
            }
            if let Some(c) = &conn {
                let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            }
            self.state.lock().busy = false;
            self.idle.notify_all();
        }
    }

    /// Waits until no background checkpoint is running.
    fn wait_idle(&self) {
        let mut st = self.state.lock();
        st.forget_if_forked();
        while st.busy {
            self.idle.wait(&mut st);
        }
    }

    /// Ends the thread (after its current checkpoint) and closes its connection; later requests
    /// are ignored. Idempotent.
    pub fn stop(&self) {
        let handle = {
            let mut st = self.state.lock();
            st.stop = true;
            st.forget_if_forked();
            self.wake.notify_all();
            st.thread.take()
        };
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }

    /// Whether the background thread has been started (tests).
    pub fn started(&self) -> bool {
        self.state.lock().thread.is_some()
    }
}
