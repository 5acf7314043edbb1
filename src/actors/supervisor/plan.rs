//! [`BatchPlan`]: which batch comes next, and what becomes of each.
//!
//! Beneficiaries are pulled `batch_size` at a time from the caller's iterator,
//! so that memory does not grow with the job. Batches are numbered from 1 in
//! that order: the same numbers on every run of a job, which is how a resume
//! finds the batches an earlier run finished (their parts carry the number) and
//! skips them. A batch whose fetcher is lost (it panicked, its arbiter died) is
//! fetched once more; lost again, its beneficiaries are recorded as failed.
//!
//! Plain bookkeeping: the supervisor starts the fetchers, the plan keeps each
//! running batch with its fetcher (an `F`, whatever stops it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Times a fetcher may run a batch: once, then once more if it was lost.
pub(super) const BATCH_ATTEMPTS: u32 = 2;

/// One batch of beneficiaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Batch {
    /// Its number, from 1, in the order of the caller's iterator.
    pub number: u64,
    /// Its beneficiaries; shared with its fetcher, kept for a retry.
    pub beneficiaries: Arc<[String]>,
    /// Which run of the batch this is, from 1 (see [`BATCH_ATTEMPTS`]).
    pub attempt: u32,
}

/// What [`BatchPlan::pull`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Pulled {
    /// A batch to fetch.
    Fetch(Batch),
    /// A batch an earlier run finished, of this many beneficiaries: skipped.
    Skipped(usize),
    /// The beneficiaries have run out.
    Exhausted,
}

/// What becomes of a batch whose fetcher was lost.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AfterLoss {
    /// Fetch it again: its next attempt.
    Retry(Batch),
    /// It was lost on its last attempt: record its beneficiaries as failed,
    /// then call [`BatchPlan::recorded`].
    Record(Batch),
}

/// Where the beneficiaries come from.
enum Beneficiaries {
    /// The caller's iterator, pulled batch by batch.
    Pulling(Box<dyn Iterator<Item = String> + Send>),
    /// It ran out (and was dropped).
    Exhausted,
}

/// The batches of one job: those to come, those running, each with its
/// fetcher `F`, and those an earlier run finished.
pub(super) struct BatchPlan<F> {
    beneficiaries: Beneficiaries,
    batch_size: usize,
    next_number: u64,
    /// Batches an earlier run finished (a resume): skipped at their turn.
    done_earlier: HashSet<u64>,
    running: HashMap<u64, (Batch, F)>,
    /// Lost batches being recorded as failed: the plan is not finished
    /// before they are.
    recording: usize,
}

impl<F> BatchPlan<F> {
    /// Batches of `batch_size` beneficiaries of `beneficiaries`, from number 1.
    pub fn new(beneficiaries: Box<dyn Iterator<Item = String> + Send>, batch_size: usize) -> Self {
        BatchPlan {
            beneficiaries: Beneficiaries::Pulling(beneficiaries),
            batch_size,
            next_number: 1,
            done_earlier: HashSet::new(),
            running: HashMap::new(),
            recording: 0,
        }
    }

    /// Skips these batches, which an earlier run of the job finished.
    pub fn skip(&mut self, done: HashSet<u64>) {
        self.done_earlier = done;
    }

    /// Batches started and not ended.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// Pulls the next batch; start it, then hand it back with
    /// [`started`](Self::started).
    pub fn pull(&mut self) -> Pulled {
        let Beneficiaries::Pulling(iter) = &mut self.beneficiaries else {
            return Pulled::Exhausted;
        };
        let beneficiaries: Arc<[String]> = iter.take(self.batch_size).collect();
        if beneficiaries.is_empty() {
            self.beneficiaries = Beneficiaries::Exhausted;
            return Pulled::Exhausted;
        }
        let number = self.next_number;
        self.next_number += 1;
        if self.done_earlier.remove(&number) {
            return Pulled::Skipped(beneficiaries.len());
        }
        Pulled::Fetch(Batch {
            number,
            beneficiaries,
            attempt: 1,
        })
    }

    /// `batch` runs, fetched by `fetcher`.
    pub fn started(&mut self, batch: Batch, fetcher: F) {
        self.running.insert(batch.number, (batch, fetcher));
    }

    /// Batch `number` ended: the batch and its fetcher, or `None` when it was
    /// not running (it had ended already, or the job was stopped).
    pub fn ended(&mut self, number: u64) -> Option<(Batch, F)> {
        self.running.remove(&number)
    }

    /// What becomes of `batch`, which ended because its fetcher was lost.
    pub fn lost(&mut self, batch: Batch) -> AfterLoss {
        if batch.attempt < BATCH_ATTEMPTS {
            AfterLoss::Retry(Batch {
                attempt: batch.attempt + 1,
                ..batch
            })
        } else {
            self.recording += 1;
            AfterLoss::Record(batch)
        }
    }

    /// A batch of [`AfterLoss::Record`] was recorded (or failed to be).
    pub fn recorded(&mut self) {
        self.recording -= 1;
    }

    /// Every batch was pulled, and has ended or been recorded.
    pub fn is_finished(&self) -> bool {
        matches!(self.beneficiaries, Beneficiaries::Exhausted)
            && self.running.is_empty()
            && self.recording == 0
    }

    /// Forgets the running batches: their fetchers, to be stopped.
    pub fn stop(&mut self) -> impl Iterator<Item = F> + '_ {
        self.running.drain().map(|(_, (_, fetcher))| fetcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Box<dyn Iterator<Item = String> + Send> {
        Box::new((1..=n).map(|i| format!("b{i}")))
    }

    fn names(batch: &Batch) -> Vec<&str> {
        batch.beneficiaries.iter().map(String::as_str).collect()
    }

    /// Pulls and starts (with fetcher `()`) every batch; returns what was pulled.
    fn pull_all(plan: &mut BatchPlan<()>) -> Vec<Pulled> {
        let mut pulled = Vec::new();
        loop {
            match plan.pull() {
                Pulled::Fetch(batch) => {
                    plan.started(batch.clone(), ());
                    pulled.push(Pulled::Fetch(batch));
                }
                Pulled::Exhausted => return pulled,
                skipped => pulled.push(skipped),
            }
        }
    }

    #[test]
    fn batches_are_numbered_from_one_and_hold_batch_size_beneficiaries() {
        let mut plan = BatchPlan::<()>::new(ids(7), 3);
        let Pulled::Fetch(first) = plan.pull() else {
            panic!()
        };
        assert_eq!((first.number, first.attempt), (1, 1));
        assert_eq!(names(&first), ["b1", "b2", "b3"]);
        let Pulled::Fetch(second) = plan.pull() else {
            panic!()
        };
        assert_eq!(second.number, 2);
        let Pulled::Fetch(last) = plan.pull() else {
            panic!()
        };
        assert_eq!((last.number, names(&last)), (3, vec!["b7"]));
        assert_eq!(plan.pull(), Pulled::Exhausted);
        assert_eq!(plan.pull(), Pulled::Exhausted, "and stays so");
    }

    #[test]
    fn beneficiaries_are_pulled_one_batch_at_a_time() {
        let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = pulled.clone();
        let iter = (0..100).map(move |i| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("b{i}")
        });
        let mut plan = BatchPlan::<()>::new(Box::new(iter), 10);
        assert_eq!(pulled.load(std::sync::atomic::Ordering::Relaxed), 0);
        plan.pull();
        assert_eq!(pulled.load(std::sync::atomic::Ordering::Relaxed), 10);
    }

    #[test]
    fn batches_done_earlier_are_skipped_and_keep_their_numbers() {
        let mut plan = BatchPlan::new(ids(10), 2);
        plan.skip(HashSet::from([1, 3, 4]));
        let pulled = pull_all(&mut plan);
        let numbers: Vec<_> = pulled
            .iter()
            .map(|p| match p {
                Pulled::Fetch(batch) => Some(batch.number),
                _ => None,
            })
            .collect();
        assert_eq!(numbers, [None, Some(2), None, None, Some(5)]);
        assert_eq!(pulled[0], Pulled::Skipped(2));
        assert_eq!(plan.running(), 2);
    }

    #[test]
    fn a_lost_batch_is_retried_once_then_recorded() {
        let mut plan = BatchPlan::new(ids(2), 2);
        let Pulled::Fetch(batch) = plan.pull() else {
            panic!()
        };
        plan.started(batch, "first fetcher");
        let (batch, fetcher) = plan.ended(1).unwrap();
        assert_eq!(fetcher, "first fetcher");
        let AfterLoss::Retry(again) = plan.lost(batch.clone()) else {
            panic!("a first loss is retried")
        };
        assert_eq!(
            again,
            Batch {
                attempt: 2,
                ..batch
            }
        );
        assert_eq!(BATCH_ATTEMPTS, 2);
        plan.started(again, "second fetcher");
        let (again, _) = plan.ended(1).unwrap();
        assert_eq!(plan.lost(again.clone()), AfterLoss::Record(again));
        assert_eq!(plan.pull(), Pulled::Exhausted);
        assert!(!plan.is_finished(), "a batch is being recorded");
        plan.recorded();
        assert!(plan.is_finished());
    }

    #[test]
    fn finished_once_exhausted_and_every_batch_ended() {
        let mut plan = BatchPlan::new(ids(3), 2);
        assert!(!plan.is_finished(), "nothing pulled yet");
        pull_all(&mut plan);
        assert_eq!(plan.running(), 2);
        assert!(!plan.is_finished());
        assert!(plan.ended(1).is_some());
        assert!(plan.ended(1).is_none(), "a batch ends once");
        assert!(plan.ended(9).is_none(), "not a running batch");
        assert!(!plan.is_finished());
        plan.ended(2);
        assert!(plan.is_finished());
    }

    #[test]
    fn an_empty_job_is_finished_at_its_first_pull() {
        let mut plan = BatchPlan::<()>::new(ids(0), 5);
        assert_eq!(plan.pull(), Pulled::Exhausted);
        assert!(plan.is_finished());
    }

    #[test]
    fn stopping_hands_back_the_running_fetchers() {
        let mut plan = BatchPlan::new(ids(6), 2);
        for fetcher in ["a", "b"] {
            let Pulled::Fetch(batch) = plan.pull() else {
                panic!()
            };
            plan.started(batch, fetcher);
        }
        let mut stopped: Vec<_> = plan.stop().collect();
        stopped.sort();
        assert_eq!(stopped, ["a", "b"]);
        assert_eq!(plan.running(), 0);
    }
}
