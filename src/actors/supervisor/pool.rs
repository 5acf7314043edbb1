//! The arbiters a job's actors run on.

use actix::prelude::*;

/// Starts an arbiter whose runtime runs at most `blocking` blocking tasks at
/// once (more wait for a thread). A job's blocking work is already bounded by
/// its own counts (a fetcher finishes its parts once, an aggregator runs a
/// few steps); the bound keeps a runtime from growing a thread for every task
/// that overlapped another, each kept for ten seconds with its stack and
/// allocator memory (the million-beneficiary job of the side-by-side bench
/// had 54 threads at its peak, now 23).
pub(super) fn start_arbiter(blocking: usize) -> Arbiter {
    Arbiter::with_tokio_rt(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(blocking.max(1))
            .build()
            .expect("a runtime for an arbiter")
    })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::thread::ThreadId;

    use super::*;

    /// The threads of two blocking tasks on an arbiter of
    /// `start_arbiter(blocking)`: the first holds its thread until the second
    /// is spawned and, when `second_first`, has ended.
    fn threads_of_two_tasks(blocking: usize, second_first: bool) -> (ThreadId, ThreadId) {
        actix::System::new().block_on(async move {
            let arbiter = start_arbiter(blocking);
            let (done_tx, done_rx) = futures::channel::oneshot::channel();
            arbiter.spawn(async move {
                let (started_tx, started) = futures::channel::oneshot::channel();
                let (release, wait) = mpsc::channel::<()>();
                let first = actix_rt::task::spawn_blocking(move || {
                    started_tx.send(()).unwrap();
                    wait.recv().unwrap();
                    std::thread::current().id()
                });
                started.await.unwrap();
                let second = actix_rt::task::spawn_blocking(|| std::thread::current().id());
                if !second_first {
                    release.send(()).unwrap();
                }
                let second = second.await.unwrap();
                let _ = release.send(()); // when the second went first
                let ids = (first.await.unwrap(), second);
                let _ = done_tx.send(ids);
            });
            let ids = done_rx.await.unwrap();
            arbiter.stop();
            arbiter.join().unwrap();
            ids
        })
    }

    #[test]
    fn an_arbiter_runs_no_more_blocking_tasks_at_once_than_its_bound() {
        // One thread: the second task waits for the first to end, then runs on
        // its thread (an unbounded runtime would start a thread for it).
        let (first, second) = threads_of_two_tasks(1, false);
        assert_eq!(first, second);
        // Two: the second runs, and ends, while the first holds its thread.
        let (first, second) = threads_of_two_tasks(2, true);
        assert_ne!(first, second);
    }
}
