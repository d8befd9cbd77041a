//! A periodic background task tied to a vault's lifetime (the caches' interval flushes): a named
//! thread that wakes every `interval`, holds only a weak reference to its owner (a dropped vault
//! ends it), and stops when asked or when the tick says so. One per owner at a time.

use std::sync::{mpsc, Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

#[derive(Default)]
pub struct Periodic {
    stop: Mutex<Option<mpsc::Sender<()>>>,
}

impl Periodic {
    pub fn is_running(&self) -> bool {
        self.stop.lock().is_some()
    }

    /// Ends the task (it finishes its current tick, if any).
    pub fn stop(&self) {
        if let Some(tx) = self.stop.lock().take() {
            let _ = tx.send(());
        }
    }

    /// Starts `tick(owner)` every `interval` on a thread named `name`, replacing a running task.
    /// `tick` returns false to end the task.
    pub fn start<T: Send + Sync + 'static>(
        &self,
        name: &str,
        owner: &Arc<T>,
        interval: Duration,
        tick: fn(&T) -> bool,
    ) {
        self.stop();
        let (tx, rx) = mpsc::channel::<()>();
        *self.stop.lock() = Some(tx);
        let weak: Weak<T> = Arc::downgrade(owner);
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                match rx.recv_timeout(interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let Some(owner) = weak.upgrade() else { return };
                if !tick(&owner) {
                    return;
                }
            })
            .expect("spawn a periodic task thread");
    }
}
