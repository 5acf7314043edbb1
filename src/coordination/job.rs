//! A job as coordination keeps it: what a submitter asks for ([`JobSpec`]),
//! and where the job stands ([`JobRecord`]).

use time::OffsetDateTime;

use serde::{Deserialize, Serialize};

use super::claim::BatchTally;
use super::lease::OutputRecord;
use crate::report::{JobOutput, JobReport, JobStatus, Progress, Timings};
use crate::store::layout::FileKind;

use crate::config::{
    validate_name, DEFAULT_BATCH_SIZE, DEFAULT_MAX_BYTES, DEFAULT_MAX_FAILURE_RATE,
    DEFAULT_MULTIPLIER,
};
use crate::error::{Error, Result};

/// Default number of claims of one batch before it is handed out as failed:
/// one more than in one process (which retries a lost batch once), since a
/// lease can also be lost to a pause or a partition, not only to a crash.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// What a job exports, stored with it as JSON so that every worker exports it
/// alike. How to reach the source (URL, certificates) is the worker's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobOptions {
    /// Only claims updated at or after this FHIR date or instant
    /// (`_lastUpdated=ge…`). Default: none, every claim.
    pub since: Option<String>,
    /// Size cap of one output in bytes. Default 200 MiB.
    pub max_bytes: u64,
    /// Aggregate while the job runs once more than `multiplier × max_bytes`
    /// of one kind wait. Default 2.
    pub multiplier: u32,
    /// Gzipped outputs. Default `false`.
    pub gzip: bool,
    /// The job fails once more than this fraction of processed beneficiaries
    /// failed. Default 0.10.
    pub max_failure_rate: f64,
}

impl Default for JobOptions {
    fn default() -> Self {
        JobOptions {
            since: None,
            max_bytes: DEFAULT_MAX_BYTES,
            multiplier: DEFAULT_MULTIPLIER,
            gzip: false,
            max_failure_rate: DEFAULT_MAX_FAILURE_RATE,
        }
    }
}

/// A job to submit: [`JobSpec::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The job id: a plain file-name component (the job directory's name).
    pub job_id: String,
    /// The contract, prefix of every output name.
    pub contract: String,
    /// What to export.
    pub options: JobOptions,
    /// Beneficiaries per batch. Default 10, as in one process.
    pub batch_size: usize,
    /// Claims of one batch before it is handed out as failed. Default
    /// [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: u32,
}

impl JobSpec {
    /// Job `job_id` of `contract` with default options.
    pub fn new(job_id: impl Into<String>, contract: impl Into<String>) -> JobSpec {
        JobSpec {
            job_id: job_id.into(),
            contract: contract.into(),
            options: JobOptions::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// What differs between this spec and the job `existing`, which a resume
    /// must match: `None` when they agree.
    pub(crate) fn differs_from(&self, existing: &JobRecord) -> Option<String> {
        let differs = |what: &str, was: String, now: String| {
            Some(format!("it was submitted with {what} {was}, not {now}"))
        };
        if existing.contract != self.contract {
            return differs("contract", existing.contract.clone(), self.contract.clone());
        }
        if existing.batch_size != self.batch_size {
            return differs(
                "batch size",
                existing.batch_size.to_string(),
                self.batch_size.to_string(),
            );
        }
        if existing.options != self.options {
            return differs(
                "options",
                format!("{:?}", existing.options),
                format!("{:?}", self.options),
            );
        }
        None
    }

    /// Refuses what [`crate::JobConfig`] would refuse, a batch size or an
    /// attempt count that is zero or does not fit the database's integer.
    pub(crate) fn validate(&self) -> Result<()> {
        validate_name("job_id", &self.job_id)?;
        validate_name("contract", &self.contract)?;
        if self.batch_size == 0 || self.batch_size > i32::MAX as usize {
            return Err(Error::config(
                "batch_size",
                format!("{} is not between 1 and {}", self.batch_size, i32::MAX),
            ));
        }
        if self.max_attempts == 0 || self.max_attempts > i32::MAX as u32 {
            return Err(Error::config(
                "max_attempts",
                format!("{} is not between 1 and {}", self.max_attempts, i32::MAX),
            ));
        }
        let o = &self.options;
        if let Some(since) = &o.since {
            crate::source::parse_since(since).map_err(|reason| Error::config("since", reason))?;
        }
        if o.max_bytes == 0 || o.max_bytes > i64::MAX as u64 {
            return Err(Error::config("max_bytes", "must be between 1 and 2^63 - 1"));
        }
        if o.multiplier == 0 {
            return Err(Error::config("multiplier", "must be greater than zero"));
        }
        if !(0.0..=1.0).contains(&o.max_failure_rate) {
            return Err(Error::config(
                "max_failure_rate",
                format!("{} is not a fraction between 0 and 1", o.max_failure_rate),
            ));
        }
        Ok(())
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Batches are being fetched, or outputs made (a cancel may be requested).
    Running,
    /// Finished: every batch done or failed, every output made.
    Completed,
    /// Finished with a failure (its reason is in the record).
    Failed,
    /// Cancelled and cleaned up.
    Cancelled,
}

impl JobState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub(crate) fn parse(text: &str) -> JobState {
        match text {
            "completed" => JobState::Completed,
            "failed" => JobState::Failed,
            "cancelled" => JobState::Cancelled,
            _ => JobState::Running,
        }
    }
}

/// How a job ends ([`Coordinator::finish`](super::Coordinator::finish)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Every batch is done or failed and every output recorded.
    Completed,
    /// It failed; open batches are cancelled.
    Failed {
        /// Why, as the report says it.
        reason: String,
    },
    /// It was cancelled and cleaned up; open batches are cancelled.
    Cancelled,
}

/// The batches of a job by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    /// Never claimed.
    pub pending: u64,
    /// Claimed and being fetched (the lease may have expired unnoticed).
    pub running: u64,
    /// Claimed past their attempts: being written as failures.
    pub failing: u64,
    /// Completed: their parts are committed.
    pub done: u64,
    /// Completed as failures (one `OperationOutcome` per beneficiary).
    pub failed: u64,
    /// Left when the job was cancelled or failed.
    pub cancelled: u64,
}

impl BatchCounts {
    /// Every batch of the job.
    pub fn total(&self) -> u64 {
        self.pending + self.running + self.failing + self.done + self.failed + self.cancelled
    }
}

/// A job as the database holds it, with its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// The job id.
    pub job_id: String,
    /// The contract.
    pub contract: String,
    /// What it exports.
    pub options: JobOptions,
    /// Where it stands.
    pub state: JobState,
    /// Whether a cancel was requested (workers stop at their next renewal).
    pub cancel_requested: bool,
    /// Why it failed, when it did.
    pub failure_reason: Option<String>,
    /// Beneficiaries per batch.
    pub batch_size: usize,
    /// Claims of one batch before it is handed out as failed.
    pub max_attempts: u32,
    /// Beneficiaries submitted.
    pub beneficiaries: u64,
    /// Its batches by state.
    pub batches: BatchCounts,
    /// What its completed batches counted, summed.
    pub tally: BatchTally,
    /// When it was submitted (the database's clock).
    pub submitted_at: OffsetDateTime,
    /// When it finished, if it did.
    pub finished_at: Option<OffsetDateTime>,
}

impl JobRecord {
    /// The job's report as one process would give it: its state, counters and
    /// `outputs` (data first, by name). A running job reports
    /// [`JobStatus::Completed`] until it has ended: check its state first.
    pub fn report(self, outputs: Vec<OutputRecord>) -> JobReport {
        let mut outputs: Vec<JobOutput> = outputs
            .into_iter()
            .map(|o| JobOutput {
                file: o.name,
                kind: o.kind,
                bytes: o.bytes,
                records: o.records,
                sha256: o.sha256,
                compressed_bytes: None,
            })
            .collect();
        outputs.sort_by_key(|o| (o.kind != FileKind::Data, o.file.clone()));
        let status = match self.state {
            JobState::Completed | JobState::Running => JobStatus::Completed,
            JobState::Cancelled => JobStatus::Cancelled,
            JobState::Failed => JobStatus::Failed(
                self.failure_reason
                    .clone()
                    .unwrap_or_else(|| "failed".to_owned()),
            ),
        };
        let total = self
            .finished_at
            .map(|end| (end - self.submitted_at).whole_milliseconds().max(0) as u64)
            .unwrap_or(0);
        JobReport {
            progress: self.progress(outputs.len() as u64),
            job_id: self.job_id,
            contract: self.contract,
            status,
            completed_earlier: false,
            aggregations: outputs.len() as u64,
            outputs,
            stray_files: Vec::new(),
            timings_ms: Timings {
                total,
                ..Timings::default()
            },
        }
    }

    /// The job's counters as one process counts them, `outputs` made so far.
    pub fn progress(&self, outputs: u64) -> Progress {
        let t = &self.tally;
        let b = &self.batches;
        let queued_batches = b.running + b.failing + b.done + b.failed;
        Progress {
            patients_expected: self.beneficiaries,
            patient_requests_queued: (queued_batches * self.batch_size as u64)
                .min(self.beneficiaries),
            patient_requests_processed: t.processed,
            patient_requests_errored: t.errored,
            eobs_fetched: t.eobs,
            eobs_written: t.eobs,
            bytes_written: t.bytes,
            parts_finished: b.done + b.failed,
            aggregations: outputs,
            ..Progress::default()
        }
    }
}

/// What a submission did: the job was created, or found and resumed.
#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// The job is new: its batches were inserted.
    Created(JobRecord),
    /// The job was there with the same contract, options and batch size; it
    /// is left as it is.
    Resumed(JobRecord),
}

impl Submitted {
    /// The job as it is now.
    pub fn record(&self) -> &JobRecord {
        match self {
            Submitted::Created(r) | Submitted::Resumed(r) => r,
        }
    }
}
