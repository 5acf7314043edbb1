//! [`Coordinator`]: where a worker's batches, leases and roles come from.
//!
//! Two implementations: [`MemoryCoordinator`](super::MemoryCoordinator), in
//! process, for workers that share one process (embedding, tests); and, with
//! the `postgres` feature, `PgCoordinator`, for workers on many machines. Both
//! keep the same promises, which the worker relies on:
//!
//! - a batch is held by one claim at a time, on a lease; every claim of a batch
//!   gets a greater fencing token, and only the current token renews or
//!   completes it;
//! - a batch claimed more than its job's `max_attempts` times comes as
//!   [`ClaimKind::Failed`](super::ClaimKind::Failed);
//! - one aggregator lease per job, with its own token, fences the recording of
//!   outputs, stopping batches and finishing the job;
//! - cancelling a job turns its open batches `cancelled`, so that every
//!   holder's next renewal answers `false`.
//!
//! Methods answer boxed futures so that the trait is object safe: a worker
//! holds an `Arc<dyn Coordinator>`.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{
    AggregatorLease, BatchClaim, BatchTally, BatchToken, ClaimState, JobEnd, JobRecord, JobSpec,
    OutputRecord, Submitted,
};
use crate::error::{Error, Result};

/// The beneficiaries of a job being submitted, in order.
pub type Beneficiaries<'a> = Box<dyn Iterator<Item = String> + Send + 'a>;

/// Jobs, their batches and their aggregator roles, shared by the workers (see
/// the module docs for the promises every implementation keeps).
pub trait Coordinator: Send + Sync + 'static {
    /// Where it coordinates, for logs: a database's `host=… dbname=…`.
    fn describe(&self) -> String;

    /// Whether `error` means the coordinator is away for a while (a database
    /// restarting): the worker then waits and tries again. None by default.
    fn is_transient(&self, error: &Error) -> bool {
        let _ = error;
        false
    }

    /// Submits `spec` with its beneficiaries, split into batches; with
    /// `resume`, a job already submitted alike is found and answered instead
    /// of refused.
    fn submit_job<'a>(
        &'a self,
        spec: &'a JobSpec,
        beneficiaries: Beneficiaries<'a>,
        resume: bool,
    ) -> BoxFuture<'a, Result<Submitted>>;

    /// Requests a cancel: `true` when the job was running.
    fn cancel<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Where the job stands; refuses an unknown job.
    fn status<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<JobRecord>>;

    /// The running jobs, in submission order.
    fn running_jobs(&self) -> BoxFuture<'_, Result<Vec<String>>>;

    /// The next claimable batch of any running job, for `worker` on `lease`.
    fn claim<'a>(
        &'a self,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<BatchClaim>>>;

    /// Extends the claim's lease; `false` once it is lost.
    fn renew<'a>(&'a self, claim: &'a BatchClaim, lease: Duration) -> BoxFuture<'a, Result<bool>>;

    /// Completes the batch under the claim's token, recording `tally`; `false`
    /// when the claim was lost or the batch completed already.
    fn complete<'a>(
        &'a self,
        claim: &'a BatchClaim,
        tally: &'a BatchTally,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Whether the claim is still held, committed, or lost.
    fn claim_state<'a>(&'a self, claim: &'a BatchClaim) -> BoxFuture<'a, Result<ClaimState>>;

    /// The current token and state of some batches of a job.
    fn batch_tokens<'a>(
        &'a self,
        job_id: &'a str,
        batches: &'a [u64],
    ) -> BoxFuture<'a, Result<Vec<BatchToken>>>;

    /// Takes the job's aggregator role when nobody holds it or its lease expired.
    fn acquire_aggregator<'a>(
        &'a self,
        job_id: &'a str,
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<AggregatorLease>>>;

    /// Extends the aggregator lease; `false` once it was taken over.
    fn renew_aggregator<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        length: Duration,
    ) -> BoxFuture<'a, Result<bool>>;

    /// Gives the aggregator lease up at once.
    fn release_aggregator<'a>(&'a self, lease: &'a AggregatorLease) -> BoxFuture<'a, Result<()>>;

    /// Records an output under the lease; `false` when it was taken over.
    fn record_output<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        output: &'a OutputRecord,
    ) -> BoxFuture<'a, Result<bool>>;

    /// The job's recorded outputs, by name.
    fn outputs<'a>(&'a self, job_id: &'a str) -> BoxFuture<'a, Result<Vec<OutputRecord>>>;

    /// Stops the job's open batches under the lease (it is going to fail).
    fn stop_batches<'a>(&'a self, lease: &'a AggregatorLease) -> BoxFuture<'a, Result<bool>>;

    /// Ends the job under the lease; `false` when it was taken over or the job
    /// had ended.
    fn finish<'a>(
        &'a self,
        lease: &'a AggregatorLease,
        end: &'a JobEnd,
    ) -> BoxFuture<'a, Result<bool>>;
}
