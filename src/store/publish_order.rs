//! [`PublishOrder`]: outputs of one kind are published in number order.
//!
//! The aggregator runs several steps at once, and a later one may finish
//! combining first. Were it published first, a crash before the earlier one
//! is published would leave a gap in the numbering (`_0002` without `_0001`):
//! recovery returns an unpublished claim's parts, and numbering continues after
//! the highest output. So a step that is ready waits, on its blocking thread,
//! until every output of its kind numbered before it is published (or until
//! the job is cancelled, whoever cancels waking the waiters).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::store::layout::FileKind;

/// The number each kind publishes next, and the steps waiting for their turn.
#[derive(Debug)]
pub struct PublishOrder {
    next: Mutex<[u32; 2]>,
    turn: Condvar,
}

impl PublishOrder {
    /// Outputs of each kind (data, error) are published from `first` on.
    pub fn new(first: [u32; 2]) -> Self {
        PublishOrder {
            next: Mutex::new(first),
            turn: Condvar::new(),
        }
    }

    /// Blocks until output `number` of `kind` is next, or `cancel` is set
    /// ([`Error::Cancelled`]). Whoever sets `cancel` must call
    /// [`wake_all`](Self::wake_all).
    pub fn wait_turn(&self, kind: FileKind, number: u32, cancel: &AtomicBool) -> Result<()> {
        let mut next = self.lock();
        loop {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            if next[kind as usize] == number {
                return Ok(());
            }
            next = self
                .turn
                .wait(next)
                .unwrap_or_else(|poison| poison.into_inner());
        }
    }

    /// Output `number` of `kind` is published: the next one's turn.
    pub fn published(&self, kind: FileKind, number: u32) {
        self.lock()[kind as usize] = number + 1;
        self.turn.notify_all();
    }

    /// Wakes every waiting step (to see that the job was cancelled).
    pub fn wake_all(&self) {
        let _next = self.lock();
        self.turn.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, [u32; 2]> {
        self.next
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_later_output_waits_for_the_earlier_one() {
        let order = PublishOrder::new([1, 1]);
        let cancel = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                order.wait_turn(FileKind::Data, 2, &cancel).unwrap();
                tx.send(2).unwrap();
            });
            // Error outputs number on their own.
            order.wait_turn(FileKind::Error, 1, &cancel).unwrap();
            assert!(rx.try_recv().is_err(), "2 went before 1");
            order.wait_turn(FileKind::Data, 1, &cancel).unwrap();
            order.published(FileKind::Data, 1);
            assert_eq!(rx.recv().unwrap(), 2);
        });
    }

    #[test]
    fn cancelling_wakes_the_waiters() {
        let order = PublishOrder::new([1, 1]);
        let cancel = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| order.wait_turn(FileKind::Data, 3, &cancel));
            cancel.store(true, Ordering::Relaxed);
            order.wake_all();
            assert!(matches!(waiter.join().unwrap(), Err(Error::Cancelled)));
        });
    }
}
