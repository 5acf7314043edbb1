//! [`FetcherPool`]: the arbiters a job's fetchers run on, and how arbiters
//! are started, stopped and joined.
//!
//! Fetchers spread over a few arbiters (one per CPU by default, see
//! [`JobConfig::arbiters`](crate::JobConfig::arbiters)) so that their JSON work
//! uses every core; each new fetcher starts on the next arbiter in turn. An
//! arbiter's thread ends only once the blocking tasks of its runtime have
//! returned, so joining the threads is how the supervisor waits for every file
//! operation of its job (see the supervisor's module docs).

use actix::prelude::*;

/// The arbiters of a job's fetchers, used in turn. Generic over the arbiter
/// only so that the turns can be tested without threads.
pub(super) struct FetcherPool<A = Arbiter> {
    arbiters: Vec<A>,
    /// Index of the arbiter the next fetcher starts on.
    next: usize,
}

impl FetcherPool {
    /// Starts `arbiters` arbiters for at most `concurrency` fetchers at once;
    /// each runtime runs about its share of their blocking tasks at once.
    pub fn start(arbiters: usize, concurrency: usize) -> Self {
        let each = fetchers_each(concurrency, arbiters);
        FetcherPool::new((0..arbiters).map(|_| start_arbiter(each)).collect())
    }

    /// Stops the pool's arbiters and `others` (the aggregator's), then joins
    /// their threads: returns once no blocking task of theirs runs any more.
    /// Answers how many of the threads panicked.
    pub fn stop_and_join(self, others: impl IntoIterator<Item = Arbiter>) -> usize {
        let arbiters: Vec<Arbiter> = self.arbiters.into_iter().chain(others).collect();
        // All are told first, so that they wind down at once.
        for arbiter in &arbiters {
            arbiter.stop();
        }
        arbiters
            .into_iter()
            .map(Arbiter::join)
            .filter(Result::is_err)
            .count()
    }
}

impl<A> FetcherPool<A> {
    fn new(arbiters: Vec<A>) -> Self {
        FetcherPool { arbiters, next: 0 }
    }

    /// A pool without arbiters, for a job that ends before it fetches.
    pub fn none() -> Self {
        FetcherPool::new(Vec::new())
    }

    /// The arbiter the next fetcher starts on: each in turn. Panics on a
    /// pool without arbiters.
    pub fn next(&mut self) -> &A {
        let arbiter = &self.arbiters[self.next];
        self.next = (self.next + 1) % self.arbiters.len();
        arbiter
    }
}

/// Fetchers that run on one arbiter of `arbiters` at most, when `concurrency`
/// run at once and are started on the arbiters in turn.
fn fetchers_each(concurrency: usize, arbiters: usize) -> usize {
    concurrency.div_ceil(arbiters)
}

/// Starts an arbiter whose runtime runs at most `blocking` blocking tasks at
/// once (more wait for a thread). The job's own counts already bound that
/// work; the bound keeps a runtime from growing an idle thread, with its stack
/// and allocator memory, for every task that overlapped another.
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
    fn fetchers_start_on_the_arbiters_in_turn() {
        let mut pool = FetcherPool::new(vec!["a", "b", "c"]);
        let turns: Vec<_> = (0..7).map(|_| *pool.next()).collect();
        assert_eq!(turns, ["a", "b", "c", "a", "b", "c", "a"]);
        let mut alone = FetcherPool::new(vec![1]);
        assert_eq!((*alone.next(), *alone.next()), (1, 1));
    }

    #[test]
    fn each_arbiter_gets_its_share_of_the_fetchers_rounded_up() {
        assert_eq!(fetchers_each(8, 2), 4);
        assert_eq!(fetchers_each(5, 2), 3);
        assert_eq!(fetchers_each(1, 4), 1);
        assert_eq!(fetchers_each(16, 1), 16);
    }

    #[test]
    fn joining_the_pool_waits_for_the_blocking_tasks_of_its_arbiters() {
        // Starting an arbiter needs a current System, not a running one.
        let _system = actix::System::new();
        let mut pool = FetcherPool::start(2, 4);
        let aggregator = start_arbiter(1);
        let ended = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (started_tx, started) = mpsc::channel();
        for arbiter in [
            pool.next().handle(),
            pool.next().handle(),
            aggregator.handle(),
        ] {
            let (ended, started_tx) = (ended.clone(), started_tx.clone());
            arbiter.spawn(async move {
                drop(actix_rt::task::spawn_blocking(move || {
                    started_tx.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    ended.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }));
            });
        }
        for _ in 0..3 {
            started.recv().unwrap();
        }
        assert_eq!(pool.stop_and_join([aggregator]), 0, "none panicked");
        assert_eq!(ended.load(std::sync::atomic::Ordering::SeqCst), 3);
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
