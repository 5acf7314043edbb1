//! The aggregator role of a job ([`AggregatorLease`]) and the outputs recorded
//! under it ([`OutputRecord`]).

use crate::store::layout::FileKind;

/// The aggregator role of one job, held by one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregatorLease {
    /// The job.
    pub job_id: String,
    /// The worker that holds it.
    pub owner: String,
    /// This acquisition's fencing token.
    pub token: u64,
}

/// One output of a job, as the aggregator made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRecord {
    /// Its file name in the job directory (`Z9000_0001.ndjson`).
    pub name: String,
    /// Claims or `OperationOutcome`s.
    pub kind: FileKind,
    /// Its size in bytes (uncompressed NDJSON, as the report counts).
    pub bytes: u64,
    /// Its lines.
    pub records: u64,
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
}
