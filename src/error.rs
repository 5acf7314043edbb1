//! The crate's one error type.
//!
//! Every variant carries what a user needs to act: the path and OS error of a
//! failed file operation, the config field that was refused and why. A failed or
//! cancelled job reports one of these as its reason.

use std::io;
use std::path::PathBuf;

use crate::report::FailureCauses;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a job or refuse a request.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value was refused by validation.
    #[error("invalid config: {field}: {reason}")]
    Config {
        /// The builder setter or flag that holds the bad value.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `write`, `rename`, `fsync`, …).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The job directory is in a state this run must not touch.
    #[error("job directory {}: {reason}", path.display())]
    JobDirectory {
        /// The job directory (or the entry inside it) at fault.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },

    /// Too many beneficiaries failed. The message names the most frequent
    /// causes with counts: `… 10 of 10 beneficiaries failed: connection refused
    /// (127.0.0.1:9) ×10 (max failure rate 0.1)`.
    #[error(
        "failure threshold exceeded: {errored} of {processed} beneficiaries failed{} (max failure rate {max_rate})",
        colon_then(causes)
    )]
    FailureThreshold {
        /// Failed beneficiaries so far.
        errored: u64,
        /// Processed beneficiaries so far (failures included).
        processed: u64,
        /// The configured limit.
        max_rate: f64,
        /// The failures by cause.
        causes: FailureCauses,
    },

    /// The job was cancelled before it completed.
    #[error("job cancelled")]
    Cancelled,

    /// An error shared by several waiters (an aggregation failure is reported to
    /// the supervisor and to everyone awaiting the aggregator).
    #[error(transparent)]
    Shared(#[from] std::sync::Arc<Error>),

    /// The coordination database (feature `postgres`) failed, could not be
    /// reached, or refused a request: `submit job J1: already submitted …`,
    /// `connect to host=127.0.0.1 port=5433 user=postgres dbname=claims: …`.
    #[error("{op} {target}: {}", chain(source.as_ref()))]
    Database {
        /// What was being done (`connect to`, `submit job`, `claim a batch for`, …).
        op: &'static str,
        /// What it was done to: a database (never its password), a job, a worker.
        target: String,
        /// The database's error, or why the request was refused.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An actor the job depends on stopped before answering.
    #[error("{actor} stopped unexpectedly")]
    ActorGone {
        /// Which actor (`aggregator`, `supervisor`, …).
        actor: &'static str,
    },
}

impl Error {
    /// Wraps an [`io::Error`] with the operation and the path it concerned.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// A [`Error::Config`] for `field`.
    pub fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            field,
            reason: reason.into(),
        }
    }
}

/// `: ` and `causes`, or nothing when none were counted.
fn colon_then(causes: &FailureCauses) -> String {
    if causes.total() == 0 {
        String::new()
    } else {
        format!(": {causes}")
    }
}

/// An error and its causes, `: `-separated (the database client's errors say
/// only `db error` and keep the server's message as their source).
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// Adds the operation and the path to an `io::Result`.
pub(crate) trait IoContext<T> {
    /// Maps the error into [`Error::Io`].
    fn at(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::io(op, path, source))
    }
}
