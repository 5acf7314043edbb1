//! [`JobSpec`]: what a submitter asks for, validated before anything is written.

use serde::{Deserialize, Serialize};

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

    /// Refuses what [`crate::JobConfig`] would refuse, a batch size or an
    /// attempt count that is zero or does not fit the database's integer.
    pub(super) fn validate(&self) -> Result<()> {
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
