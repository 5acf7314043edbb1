//! [`MemoryCoordinator`]: the coordination of workers that share one process.
//!
//! It keeps what `PgCoordinator` keeps in its tables — jobs, batches with
//! their leases and fencing tokens, aggregator leases, outputs — behind one
//! mutex, with the same rules (see [`Coordinator`]): the workers of one
//! process, or a test, get the scale-out protocol without a database. Nothing
//! outlives the process: a job that must survive a crash of its only process
//! runs in one [`crate::JobSupervisor`], or on a database.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{self, BoxFuture};
use futures::FutureExt;
use time::OffsetDateTime;

use super::coordinator::Beneficiaries;
use super::{
    AggregatorLease, BatchClaim, BatchCounts, BatchTally, BatchToken, ClaimKind, ClaimState,
    Coordinator, JobEnd, JobRecord, JobSpec, JobState, OutputRecord, Submitted,
};
use crate::error::{Error, Result};

/// The in-process coordinator (see the module docs). Share it as an
/// `Arc<MemoryCoordinator>`.
#[derive(Debug, Default)]
pub struct MemoryCoordinator {
    jobs: Mutex<Vec<Job>>,
}

#[derive(Debug)]
struct Job {
    spec: JobSpec,
    state: JobState,
    cancel_requested: bool,
    failure_reason: Option<String>,
    beneficiaries: u64,
    submitted_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
    batches: Vec<Batch>,
    /// The aggregator lease: owner, token, expiry. The token stays when it
    /// expires, for the next holder to get one more.
    aggregator: Option<(String, u64, Instant)>,
    outputs: BTreeMap<String, OutputRecord>,
}

#[derive(Debug)]
struct Batch {
    beneficiaries: Vec<String>,
    state: BatchState,
    owner: Option<String>,
    token: u64,
    attempts: u32,
    lease_until: Option<Instant>,
    tally: BatchTally,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BatchState {
    Pending,
    Running,
    Failing,
    Done,
    Failed,
    Cancelled,
}

impl BatchState {
    fn open(self) -> bool {
        matches!(
            self,
            BatchState::Pending | BatchState::Running | BatchState::Failing
        )
    }

    fn held(self) -> bool {
        matches!(self, BatchState::Running | BatchState::Failing)
    }
}

fn refused(op: &'static str, target: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Database {
        op,
        target: target.into(),
        source: reason.into().into(),
    }
}

impl Job {
    fn record(&self) -> JobRecord {
        let mut counts = BatchCounts::default();
        let mut tally = BatchTally::default();
        for b in &self.batches {
            *match b.state {
                BatchState::Pending => &mut counts.pending,
                BatchState::Running => &mut counts.running,
                BatchState::Failing => &mut counts.failing,
                BatchState::Done => &mut counts.done,
                BatchState::Failed => &mut counts.failed,
                BatchState::Cancelled => &mut counts.cancelled,
            } += 1;
            tally.processed += b.tally.processed;
            tally.errored += b.tally.errored;
            tally.eobs += b.tally.eobs;
            tally.bytes += b.tally.bytes;
        }
        JobRecord {
            job_id: self.spec.job_id.clone(),
            contract: self.spec.contract.clone(),
            options: self.spec.options.clone(),
            state: self.state,
            cancel_requested: self.cancel_requested,
            failure_reason: self.failure_reason.clone(),
            batch_size: self.spec.batch_size,
            max_attempts: self.spec.max_attempts,
            beneficiaries: self.beneficiaries,
            batches: counts,
            tally,
            submitted_at: self.submitted_at,
            finished_at: self.finished_at,
        }
    }

    fn cancel_open_batches(&mut self) {
        for b in self.batches.iter_mut().filter(|b| b.state.open()) {
            b.state = BatchState::Cancelled;
            b.lease_until = None;
        }
    }

    fn holds(&self, lease: &AggregatorLease) -> bool {
        matches!(&self.aggregator, Some((_, token, _)) if *token == lease.token)
    }
}

impl MemoryCoordinator {
    /// An empty coordinator.
    pub fn new() -> MemoryCoordinator {
        MemoryCoordinator::default()
    }

    fn with_job<T>(
        &self,
        op: &'static str,
        job_id: &str,
        f: impl FnOnce(&mut Job) -> Result<T>,
    ) -> Result<T> {
        let mut jobs = self.jobs.lock().expect("jobs");
        match jobs.iter_mut().find(|j| j.spec.job_id == job_id) {
            Some(job) => f(job),
            None => Err(refused(op, format!("job {job_id}"), "no such job")),
        }
    }

    /// The batch of `claim`, if its job and batch exist.
    fn with_batch<T>(&self, claim: &BatchClaim, f: impl FnOnce(&mut Batch) -> T) -> Option<T> {
        let mut jobs = self.jobs.lock().expect("jobs");
        let job = jobs.iter_mut().find(|j| j.spec.job_id == claim.job_id)?;
        let index = usize::try_from(claim.batch.checked_sub(1)?).ok()?;
        job.batches.get_mut(index).map(f)
    }

    fn submit_now(
        &self,
        spec: &JobSpec,
        beneficiaries: Beneficiaries<'_>,
        resume: bool,
    ) -> Result<Submitted> {
        spec.validate()?;
        let target = format!("job {}", spec.job_id);
        let mut jobs = self.jobs.lock().expect("jobs");
        if let Some(existing) = jobs.iter().find(|j| j.spec.job_id == spec.job_id) {
            let record = existing.record();
            if !resume {
                return Err(refused(
                    "submit",
                    target,
                    format!(
                        "already submitted (it is {}); submit with resume to continue it",
                        record.state.as_str()
                    ),
                ));
            }
            return match spec.differs_from(&record) {
                Some(reason) => Err(refused("resume", target, reason)),
                None => Ok(Submitted::Resumed(record)),
            };
        }
        let mut batches = Vec::new();
        let mut current: Vec<String> = Vec::with_capacity(spec.batch_size);
        let mut total = 0u64;
        for id in beneficiaries {
            total += 1;
            if id.is_empty() || id.contains('\0') {
                return Err(Error::config(
                    "beneficiaries",
                    format!(
                        "beneficiary {total} of job {} is empty or holds a NUL byte",
                        spec.job_id
                    ),
                ));
            }
            current.push(id);
            if current.len() == spec.batch_size {
                batches.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            batches.push(current);
        }
        let job = Job {
            spec: spec.clone(),
            state: JobState::Running,
            cancel_requested: false,
            failure_reason: None,
            beneficiaries: total,
            submitted_at: OffsetDateTime::now_utc(),
            finished_at: None,
            batches: batches
                .into_iter()
                .map(|beneficiaries| Batch {
                    beneficiaries,
                    state: BatchState::Pending,
                    owner: None,
                    token: 0,
                    attempts: 0,
                    lease_until: None,
                    tally: BatchTally::default(),
                })
                .collect(),
            aggregator: None,
            outputs: BTreeMap::new(),
        };
        let record = job.record();
        jobs.push(job);
        Ok(Submitted::Created(record))
    }

    fn claim_now(&self, worker: &str, lease: Duration) -> Option<BatchClaim> {
        let now = Instant::now();
        let mut jobs = self.jobs.lock().expect("jobs");
        for job in jobs.iter_mut() {
            let max_attempts = job.spec.max_attempts;
            let found = job.batches.iter_mut().enumerate().find(|(_, b)| {
                b.state == BatchState::Pending
                    || (b.state.held() && b.lease_until.is_some_and(|until| until <= now))
            });
            let Some((index, b)) = found else {
                continue;
            };
            b.state = if b.state == BatchState::Failing || b.attempts >= max_attempts {
                BatchState::Failing
            } else {
                BatchState::Running
            };
            b.owner = Some(worker.to_owned());
            b.token += 1;
            b.attempts += 1;
            b.lease_until = Some(now + lease);
            return Some(BatchClaim {
                job_id: job.spec.job_id.clone(),
                contract: job.spec.contract.clone(),
                batch: index as u64 + 1,
                token: b.token,
                owner: worker.to_owned(),
                attempt: b.attempts,
                kind: if b.state == BatchState::Failing {
                    ClaimKind::Failed
                } else {
                    ClaimKind::Fetch
                },
                beneficiaries: b.beneficiaries.clone(),
                lease_until: OffsetDateTime::now_utc() + lease,
            });
        }
        None
    }

    fn finish_now(&self, lease: &AggregatorLease, end: &JobEnd) -> Result<bool> {
        self.with_job("finish", &lease.job_id, |job| {
            if !job.holds(lease) {
                return Ok(false);
            }
            let state = match end {
                JobEnd::Completed => {
                    let open = job
                        .batches
                        .iter()
                        .filter(|b| b.state.open() || b.state == BatchState::Cancelled)
                        .count();
                    if open > 0 {
                        return Err(refused(
                            "finish",
                            format!("job {}", lease.job_id),
                            format!("{open} batches are not done; it cannot be completed"),
                        ));
                    }
                    JobState::Completed
                }
                JobEnd::Failed { reason } => {
                    job.failure_reason = Some(reason.clone());
                    job.cancel_open_batches();
                    JobState::Failed
                }
                JobEnd::Cancelled => {
                    job.cancel_open_batches();
                    JobState::Cancelled
                }
            };
            if job.state != JobState::Running {
                return Ok(false);
            }
            job.state = state;
            job.finished_at = Some(OffsetDateTime::now_utc());
            Ok(true)
        })
    }

    fn record_now(&self, lease: &AggregatorLease, output: &OutputRecord) -> Result<bool> {
        self.with_job("record output", &lease.job_id, |job| {
            if !job.holds(lease) {
                return Ok(false);
            }
            match job.outputs.get(&output.name) {
                None => {
                    job.outputs.insert(output.name.clone(), output.clone());
                    Ok(true)
                }
                Some(existing) if existing == output => Ok(true),
                Some(e) => Err(refused(
                    "record output",
                    format!("{} of job {}", output.name, lease.job_id),
                    format!(
                        "already recorded with other content ({} {} bytes, {} records, sha256 {})",
                        e.kind, e.bytes, e.records, e.sha256
                    ),
                )),
            }
        })
    }
}

/// An answer that is ready.
fn ready<'a, T: Send + 'a>(answer: Result<T>) -> BoxFuture<'a, Result<T>> {
    future::ready(answer).boxed()
}

impl Coordinator for MemoryCoordinator {
    fn describe(&self) -> String {
        "the in-process coordinator".to_owned()
    }

    fn submit_job<'a>(
        &'a self,
        spec: &'a JobSpec,
        beneficiaries: Beneficiaries<'a>,
        resume: bool,
    ) -> BoxFuture<'a, Result<Submitted>> {
        ready(self.submit_now(spec, beneficiaries, resume))
    }

    fn cancel<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<bool>> {
        ready(self.with_job("cancel", job_id, |job| {
            let running = job.state == JobState::Running;
            if running {
                job.cancel_requested = true;
                job.cancel_open_batches();
            }
            Ok(running)
        }))
    }

    fn status<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<JobRecord>> {
        ready(self.with_job("read the status of", job_id, |job| Ok(job.record())))
    }

    fn running_jobs(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        let jobs = self.jobs.lock().expect("jobs");
        ready(Ok(jobs
            .iter()
            .filter(|j| j.state == JobState::Running)
            .map(|j| j.spec.job_id.clone())
            .collect()))
    }

    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<BatchClaim>>> {
        ready(Ok(self.claim_now(worker, lease)))
    }

    fn renew<'a>(&'a self, claim: &'a BatchClaim, lease: Duration) -> BoxFuture<'a, Result<bool>> {
        let renewed = self.with_batch(claim, |b| {
            let held = b.token == claim.token && b.state.held();
            if held {
                b.lease_until = Some(Instant::now() + lease);
            }
            held
        });
        ready(Ok(renewed.unwrap_or(false)))
    }

    fn complete<'a>(
        &'a self,
        claim: &'a BatchClaim,
        tally: &'a BatchTally,
    ) -> BoxFuture<'a, Result<bool>> {
        let completed = self.with_batch(claim, |b| {
            let held = b.token == claim.token && b.state.held();
            if held {
                b.state = if b.state == BatchState::Running {
                    BatchState::Done
                } else {
                    BatchState::Failed
                };
                b.lease_until = None;
                b.tally = *tally;
            }
            held
        });
        ready(Ok(completed.unwrap_or(false)))
    }

    fn claim_state<'a>(&'a self, claim: &'a BatchClaim) -> BoxFuture<'a, Result<ClaimState>> {
        let state = self.with_batch(claim, |b| match b.state {
            _ if b.token != claim.token => ClaimState::Lost,
            BatchState::Done | BatchState::Failed => ClaimState::Committed,
            s if s.open() => ClaimState::Held,
            _ => ClaimState::Lost,
        });
        ready(Ok(state.unwrap_or(ClaimState::Lost)))
    }

    fn batch_tokens<'a>(
        &'a self,
        job_id: &'a str,
        batches: &'a [u64],
    ) -> BoxFuture<'a, Result<Vec<BatchToken>>> {
        let jobs = self.jobs.lock().expect("jobs");
        let Some(job) = jobs.iter().find(|j| j.spec.job_id == job_id) else {
            return ready(Ok(Vec::new()));
        };
        let mut numbers = batches.to_vec();
        numbers.sort_unstable();
        numbers.dedup();
        ready(Ok(numbers
            .into_iter()
            .filter_map(|n| {
                let b = job.batches.get(usize::try_from(n.checked_sub(1)?).ok()?)?;
                Some(BatchToken {
                    batch: n,
                    token: b.token,
                    committed: matches!(b.state, BatchState::Done | BatchState::Failed),
                    open: b.state.open(),
                })
            })
            .collect()))
    }

    fn acquire_aggregator<'a>(
        &'a self,
        job_id: &'a str,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<AggregatorLease>>> {
        let now = Instant::now();
        let mut jobs = self.jobs.lock().expect("jobs");
        let Some(job) = jobs
            .iter_mut()
            .find(|j| j.spec.job_id == job_id && j.state == JobState::Running)
        else {
            return ready(Ok(None));
        };
        let token = match &job.aggregator {
            Some((_, _, until)) if *until > now => return ready(Ok(None)),
            Some((_, token, _)) => token + 1,
            None => 1,
        };
        job.aggregator = Some((worker.to_owned(), token, now + lease));
        ready(Ok(Some(AggregatorLease {
            job_id: job_id.to_owned(),
            owner: worker.to_owned(),
            token,
        })))
    }

    fn renew_aggregator<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        length: Duration,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(
            self.with_job(
                "renew the aggregator lease of",
                &lease.job_id,
                |job| match &mut job.aggregator {
                    Some((_, token, until)) if *token == lease.token => {
                        *until = Instant::now() + length;
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            ),
        )
    }

    fn release_aggregator<'a>(&'a self, lease: &'a AggregatorLease) -> BoxFuture<'a, Result<()>> {
        ready(
            self.with_job("release the aggregator lease of", &lease.job_id, |job| {
                if let Some((_, token, until)) = &mut job.aggregator {
                    if *token == lease.token {
                        *until = Instant::now();
                    }
                }
                Ok(())
            }),
        )
    }

    fn record_output<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        output: &'a OutputRecord,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(self.record_now(lease, output))
    }

    fn outputs<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Vec<OutputRecord>>> {
        let jobs = self.jobs.lock().expect("jobs");
        ready(Ok(jobs
            .iter()
            .find(|j| j.spec.job_id == job_id)
            .map(|j| j.outputs.values().cloned().collect())
            .unwrap_or_default()))
    }

    fn stop_batches<'a>(&'a self, lease: &'a AggregatorLease) -> BoxFuture<'a, Result<bool>> {
        ready(self.with_job("stop the batches of", &lease.job_id, |job| {
            let held = job.holds(lease);
            if held {
                job.cancel_open_batches();
            }
            Ok(held)
        }))
    }

    fn finish<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        end: &'a JobEnd,
    ) -> BoxFuture<'a, Result<bool>> {
        ready(self.finish_now(lease, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    const LEASE: Duration = Duration::from_secs(60);

    fn submitted(c: &MemoryCoordinator, job: &str, n: usize, batch_size: usize) {
        let mut spec = JobSpec::new(job, "Z9000");
        spec.batch_size = batch_size;
        spec.max_attempts = 2;
        let ids = Box::new((0..n).map(|i| format!("-{i}")));
        block_on(c.submit_job(&spec, ids, false)).unwrap();
    }

    #[test]
    fn batches_are_claimed_in_order_once_and_completed_under_their_token() {
        let c = MemoryCoordinator::new();
        submitted(&c, "J1", 25, 10);
        let claims: Vec<_> = (0..3)
            .map(|_| block_on(c.claim("w", LEASE)).unwrap().unwrap())
            .collect();
        assert_eq!(
            claims
                .iter()
                .map(|c| (c.batch, c.token))
                .collect::<Vec<_>>(),
            vec![(1, 1), (2, 1), (3, 1)]
        );
        assert_eq!(claims[2].beneficiaries.len(), 5);
        assert!(block_on(c.claim("w", LEASE)).unwrap().is_none());
        let tally = BatchTally {
            processed: 10,
            ..BatchTally::default()
        };
        assert!(block_on(c.complete(&claims[0], &tally)).unwrap());
        assert!(!block_on(c.complete(&claims[0], &tally)).unwrap(), "once");
        assert_eq!(
            block_on(c.claim_state(&claims[0])).unwrap(),
            ClaimState::Committed
        );
        let record = block_on(c.status("J1")).unwrap();
        assert_eq!((record.batches.done, record.batches.running), (1, 2));
        assert_eq!(record.tally.processed, 10);
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_fences_the_old_claim() {
        let c = MemoryCoordinator::new();
        submitted(&c, "J1", 10, 10);
        let old = block_on(c.claim("a", Duration::ZERO)).unwrap().unwrap();
        let new = block_on(c.claim("b", LEASE)).unwrap().unwrap();
        assert_eq!((old.batch, old.token, new.batch, new.token), (1, 1, 1, 2));
        assert!(!block_on(c.renew(&old, LEASE)).unwrap());
        assert!(!block_on(c.complete(&old, &BatchTally::default())).unwrap());
        assert_eq!(block_on(c.claim_state(&old)).unwrap(), ClaimState::Lost);
        assert!(block_on(c.renew(&new, LEASE)).unwrap());
        // Past max_attempts (2), the batch is handed out as failed.
        let c2 = MemoryCoordinator::new();
        submitted(&c2, "J2", 10, 10);
        let _ = block_on(c2.claim("a", Duration::ZERO)).unwrap().unwrap();
        let _ = block_on(c2.claim("a", Duration::ZERO)).unwrap().unwrap();
        let third = block_on(c2.claim("a", LEASE)).unwrap().unwrap();
        assert_eq!((third.token, third.kind), (3, ClaimKind::Failed));
        assert!(block_on(c2.complete(&third, &BatchTally::default())).unwrap());
        assert_eq!(block_on(c2.status("J2")).unwrap().batches.failed, 1);
    }

    #[test]
    fn the_aggregator_lease_fences_outputs_and_the_end() {
        let c = MemoryCoordinator::new();
        submitted(&c, "J1", 10, 10);
        let first = block_on(c.acquire_aggregator("J1", "a", Duration::ZERO))
            .unwrap()
            .unwrap();
        let second = block_on(c.acquire_aggregator("J1", "b", LEASE))
            .unwrap()
            .unwrap();
        assert_eq!((first.token, second.token), (1, 2));
        assert!(block_on(c.acquire_aggregator("J1", "c", LEASE))
            .unwrap()
            .is_none());
        let output = OutputRecord {
            name: "Z9000_0001.ndjson".into(),
            kind: crate::FileKind::Data,
            bytes: 3,
            records: 1,
            sha256: "00".into(),
        };
        assert!(!block_on(c.record_output(&first, &output)).unwrap());
        assert!(block_on(c.record_output(&second, &output)).unwrap());
        assert!(
            block_on(c.record_output(&second, &output)).unwrap(),
            "again"
        );
        let other = OutputRecord {
            bytes: 4,
            ..output.clone()
        };
        assert!(block_on(c.record_output(&second, &other)).is_err());
        let refused = block_on(c.finish(&second, &JobEnd::Completed)).unwrap_err();
        assert!(
            refused.to_string().contains("1 batches are not done"),
            "{refused}"
        );
        assert!(!block_on(c.finish(&first, &JobEnd::Cancelled)).unwrap());
        assert!(block_on(c.cancel("J1")).unwrap());
        assert!(block_on(c.finish(&second, &JobEnd::Cancelled)).unwrap());
        assert_eq!(block_on(c.status("J1")).unwrap().state, JobState::Cancelled);
        assert!(block_on(c.running_jobs()).unwrap().is_empty());
    }

    #[test]
    fn submissions_are_refused_twice_and_resumed_alike() {
        let c = MemoryCoordinator::new();
        submitted(&c, "J1", 10, 10);
        let mut spec = JobSpec::new("J1", "Z9000");
        let again = block_on(c.submit_job(&spec, Box::new(std::iter::empty()), false));
        assert!(again
            .unwrap_err()
            .to_string()
            .contains("submit with resume"));
        let alike = block_on(c.submit_job(&spec, Box::new(std::iter::empty()), true));
        assert!(matches!(alike.unwrap(), Submitted::Resumed(_)));
        spec.batch_size = 5;
        let other = block_on(c.submit_job(&spec, Box::new(std::iter::empty()), true));
        assert!(other.unwrap_err().to_string().contains("batch size"));
        let bad = JobSpec::new("../x", "Z9000");
        assert!(block_on(c.submit_job(&bad, Box::new(std::iter::empty()), false)).is_err());
    }
}
