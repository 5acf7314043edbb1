//! Every message the actors exchange, in one module: each actor imports these,
//! never another actor's file (see the protocol table in the crate docs).

use std::sync::Arc;

use actix::prelude::*;

use crate::error::{Error, Result};
use crate::report::{BatchStats, JobOutput, JobReport, JobStatus, Progress};
use crate::store::layout::FileKind;

// Sent to the supervisor.

/// Runs the job over these beneficiaries; answers with the report.
#[derive(Message)]
#[rtype(result = "Result<JobReport>")]
pub struct RunJob {
    pub(crate) beneficiaries: Box<dyn Iterator<Item = String> + Send>,
    pub(crate) expected: u64,
}

impl RunJob {
    /// The beneficiaries of the job, pulled lazily. The expected count is the
    /// iterator's exact size hint, if it has one (see [`RunJob::expected`]).
    pub fn new<I>(beneficiaries: I) -> Self
    where
        I: IntoIterator<Item = String>,
        I::IntoIter: Send + 'static,
    {
        let beneficiaries = beneficiaries.into_iter();
        let expected = match beneficiaries.size_hint() {
            (low, Some(high)) if low == high => low as u64,
            _ => 0,
        };
        RunJob {
            beneficiaries: Box::new(beneficiaries),
            expected,
        }
    }

    /// Sets the number of beneficiaries the job expects (for progress).
    pub fn expected(mut self, expected: u64) -> Self {
        self.expected = expected;
        self
    }
}

impl std::fmt::Debug for RunJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunJob")
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

/// Asks for the job's counters.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Progress")]
pub struct GetProgress;

/// Registers a recipient of [`JobProgress`] events.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<JobProgress>);

/// Pushed to subscribers after each batch and each output, and once at the end.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct JobProgress {
    /// The job id.
    pub job_id: String,
    /// Counters at this moment.
    pub progress: Progress,
    /// How the job ended; `None` while it runs.
    pub status: Option<JobStatus>,
}

/// A fetcher's batch ended. Sent exactly once per fetcher.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct BatchDone {
    /// The batch number.
    pub batch: u64,
    /// How it ended.
    pub outcome: BatchOutcome,
}

/// How a batch ended.
#[derive(Debug, Clone)]
pub enum BatchOutcome {
    /// Both parts are in `finished/`.
    Done(BatchStats),
    /// It stopped on [`Cancel`].
    Cancelled,
    /// Writing or finishing a part failed.
    Failed(Arc<Error>),
    /// The fetcher stopped without finishing (it panicked or its arbiter died).
    Lost,
}

/// What the aggregator tells its observer.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum AggregatorEvent {
    /// An output was published.
    Output(JobOutput),
    /// Aggregation failed; the aggregator has stopped.
    Failed(Arc<Error>),
}

// Sent to the aggregator (and `Cancel` to every actor).

/// The part of a batch was moved into `finished/` (named
/// [`JobLayout::part_name`](crate::JobLayout::part_name)) and waits for aggregation. Carries nothing on the
/// heap: one is sent for every part, from the fetchers' threads.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct FileFinished {
    /// The batch the part belongs to.
    pub batch: u64,
    /// Data or error.
    pub kind: FileKind,
    /// Its size in bytes.
    pub bytes: u64,
}

/// Every writer is done (`streaming/` is gone): combine what is left, remove
/// `finished/`, answer with the number of aggregations made.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<u64>")]
pub struct StreamingClosed;

/// Answers with the number of aggregations once the aggregator is done, without
/// closing it.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<u64>")]
pub struct AwaitCompletion;

/// Stop now. Handled by every actor of a job: the supervisor (from the caller),
/// fetchers and the aggregator (from the supervisor). Answered once the
/// receiver's running file work has stopped.
#[derive(Debug, Clone, Copy, Default, Message)]
#[rtype(result = "()")]
pub struct Cancel;
