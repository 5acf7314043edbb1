//! What a job tells its caller: live [`ProgressCounters`], the final
//! [`JobReport`] and its [`JobOutput`]s, and the [`FailureCauses`] that a
//! failed job's reason names. The serialised names are part of the
//! interface (the harness prints them with `--json`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::store::layout::FileKind;

/// Counters of a running job, shared by the supervisor, the fetchers and the
/// aggregator. Relaxed atomics: each counter is exact, a snapshot is a moment's view.
/// The failures by cause sit behind a mutex, taken once per batch that failed some.
#[derive(Debug, Default)]
pub struct ProgressCounters {
    patients_expected: AtomicU64,
    patient_requests_queued: AtomicU64,
    patient_requests_processed: AtomicU64,
    patient_requests_errored: AtomicU64,
    patients_with_eobs: AtomicU64,
    eobs_fetched: AtomicU64,
    eobs_written: AtomicU64,
    bytes_written: AtomicU64,
    parts_finished: AtomicU64,
    aggregations: AtomicU64,
    patients_resumed: AtomicU64,
    /// Counted with `patient_requests_errored`, so that both agree.
    failure_causes: Mutex<FailureCauses>,
}

macro_rules! counter_adders {
    ($($(#[$doc:meta])* $fn:ident => $field:ident;)*) => {
        impl ProgressCounters {
            $($(#[$doc])* pub fn $fn(&self, n: u64) {
                self.$field.fetch_add(n, Relaxed);
            })*
        }
    };
}

counter_adders! {
    /// Adds beneficiaries the job expects.
    add_expected => patients_expected;
    /// Adds beneficiaries handed to a fetcher.
    add_queued => patient_requests_queued;
    /// Adds beneficiaries whose request ended (failures included).
    add_processed => patient_requests_processed;
    /// Adds beneficiaries whose request failed.
    add_errored => patient_requests_errored;
    /// Adds beneficiaries that had at least one EOB.
    add_patients_with_eobs => patients_with_eobs;
    /// Adds EOBs received from the source.
    add_eobs_fetched => eobs_fetched;
    /// Adds EOBs written to data parts.
    add_eobs_written => eobs_written;
    /// Adds bytes written to parts (both kinds).
    add_bytes_written => bytes_written;
    /// Adds parts moved to `finished/`.
    add_parts_finished => parts_finished;
    /// Adds outputs made by the aggregator.
    add_aggregations => aggregations;
    /// Adds beneficiaries of batches done by an earlier run.
    add_resumed => patients_resumed;
}

impl ProgressCounters {
    /// A consistent-enough copy of every counter.
    pub fn snapshot(&self) -> Progress {
        Progress {
            patients_expected: self.patients_expected.load(Relaxed),
            patient_requests_queued: self.patient_requests_queued.load(Relaxed),
            patient_requests_processed: self.patient_requests_processed.load(Relaxed),
            patient_requests_errored: self.patient_requests_errored.load(Relaxed),
            patients_with_eobs: self.patients_with_eobs.load(Relaxed),
            eobs_fetched: self.eobs_fetched.load(Relaxed),
            eobs_written: self.eobs_written.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            parts_finished: self.parts_finished.load(Relaxed),
            aggregations: self.aggregations.load(Relaxed),
            patients_resumed: self.patients_resumed.load(Relaxed),
        }
    }

    /// Adds failed beneficiaries by cause (a batch's, once its parts are safe).
    pub fn add_failure_causes(&self, causes: &FailureCauses) {
        if causes.total() > 0 {
            self.causes().merge(causes);
        }
    }

    /// A copy of the failures by cause so far.
    pub fn failure_causes(&self) -> FailureCauses {
        self.causes().clone()
    }

    fn causes(&self) -> std::sync::MutexGuard<'_, FailureCauses> {
        // A tally is consistent after every call, even one that panicked.
        self.failure_causes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Distinct causes a [`FailureCauses`] counts one by one; failures of further
/// causes are counted together, so that the tally stays small however long the
/// job and however varied its failures.
pub const MAX_FAILURE_CAUSES: usize = 16;

/// Bytes of a cause kept (longer ones are cut on a character boundary).
pub const MAX_CAUSE_LEN: usize = 200;

/// Causes a failed job's reason names, the most frequent first.
pub const REASON_CAUSES: usize = 3;

/// Failed beneficiaries counted by their short cause (see
/// [`SourceError::cause`](crate::source::SourceError::cause)), e.g.
/// `connection refused (127.0.0.1:9)`. Bounded by [`MAX_FAILURE_CAUSES`] and
/// [`MAX_CAUSE_LEN`]; the counts are exact, those of the causes beyond the bound
/// are summed as "other causes".
///
/// Displays the [`REASON_CAUSES`] most frequent as `cause ×count`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureCauses {
    /// Causes in the order first seen, with their counts.
    counts: Vec<(String, u64)>,
    /// Failures whose cause came after the table was full.
    other: u64,
}

impl FailureCauses {
    /// Counts `n` failures of `cause`.
    pub fn add(&mut self, cause: &str, n: u64) {
        let cause = truncate(cause, MAX_CAUSE_LEN);
        if let Some((_, count)) = self.counts.iter_mut().find(|(c, _)| c == cause) {
            *count += n;
        } else if self.counts.len() < MAX_FAILURE_CAUSES {
            self.counts.push((cause.to_owned(), n));
        } else {
            self.other += n;
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &FailureCauses) {
        for (cause, n) in &other.counts {
            self.add(cause, *n);
        }
        self.other += other.other;
    }

    /// Failures counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum::<u64>() + self.other
    }

    /// The causes, the most frequent first (ties in the order first seen).
    pub fn most_frequent(&self) -> Vec<(&str, u64)> {
        let mut sorted: Vec<(&str, u64)> =
            self.counts.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        sorted.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        sorted
    }
}

impl fmt::Display for FailureCauses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sorted = self.most_frequent();
        let mut rest = self.other;
        for (i, (cause, n)) in sorted.iter().enumerate() {
            if i < REASON_CAUSES {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{cause} ×{n}")?;
            } else {
                rest += n;
            }
        }
        if rest > 0 {
            let sep = if sorted.is_empty() { "" } else { ", " };
            write!(f, "{sep}other causes ×{rest}")?;
        }
        Ok(())
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A snapshot of a job's counters, as AB2D's job measures them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Beneficiaries the job will request.
    pub patients_expected: u64,
    /// Beneficiaries handed to fetchers so far.
    pub patient_requests_queued: u64,
    /// Beneficiaries whose request ended, failures included (as AB2D counts).
    pub patient_requests_processed: u64,
    /// Beneficiaries whose request failed (one `OperationOutcome` each).
    pub patient_requests_errored: u64,
    /// Beneficiaries with at least one EOB.
    pub patients_with_eobs: u64,
    /// EOBs received from the claims source.
    pub eobs_fetched: u64,
    /// EOBs written to data parts.
    pub eobs_written: u64,
    /// Bytes written to parts of both kinds.
    pub bytes_written: u64,
    /// Parts moved to `finished/`.
    pub parts_finished: u64,
    /// Outputs made by the aggregator so far.
    pub aggregations: u64,
    /// Beneficiaries skipped because an earlier run of the job (before a crash,
    /// failure or cancel) already has their batch safe on disk.
    pub patients_resumed: u64,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum JobStatus {
    /// Every beneficiary was processed and every part aggregated.
    Completed,
    /// A `Cancel` stopped the job; parts and temp files were removed.
    Cancelled,
    /// The job stopped on an error, given here. When too many beneficiaries
    /// failed, it names their most frequent causes with counts, and the finished
    /// parts were combined first: the error outputs hold the `OperationOutcome`s.
    Failed(String),
}

impl JobStatus {
    /// Whether the job completed.
    pub fn is_completed(&self) -> bool {
        matches!(self, JobStatus::Completed)
    }
}

/// One output file of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOutput {
    /// File name inside the job directory, e.g. `Z9000_0001.ndjson`.
    pub file: String,
    /// `data` or `error`.
    pub kind: FileKind,
    /// Size in bytes.
    pub bytes: u64,
    /// Number of records (lines).
    pub records: u64,
    /// SHA-256 of the NDJSON content, lower-case hex.
    pub sha256: String,
    /// Size on disk when the output is gzipped (`bytes`, `records` and
    /// `sha256` describe the uncompressed NDJSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_bytes: Option<u64>,
}

/// Wall-clock phases of a job, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// From the first batch started to the last batch done.
    pub fetch: u64,
    /// From `StreamingClosed` sent to the aggregator's reply.
    pub finalize: u64,
    /// From `RunJob` received to the report.
    pub total: u64,
}

/// The answer to `RunJob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    /// The job id.
    pub job_id: String,
    /// The contract.
    pub contract: String,
    /// `completed`, `cancelled` or `failed` (with `reason`).
    #[serde(flatten)]
    pub status: JobStatus,
    /// The job had completed before this run, which fetched and combined
    /// nothing: the outputs are those recorded then, and the counters are zero.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completed_earlier: bool,
    /// Outputs made by the aggregator in this run.
    pub aggregations: u64,
    /// Every output in the job directory, data first, by number.
    pub outputs: Vec<JobOutput>,
    /// Files in `finished/` that are not parts: never combined, never deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stray_files: Vec<String>,
    /// Counters at the end of the job.
    pub progress: Progress,
    /// Phase durations.
    pub timings_ms: Timings,
}

impl JobReport {
    /// The outputs of one kind.
    pub fn outputs_of(&self, kind: FileKind) -> impl Iterator<Item = &JobOutput> {
        self.outputs.iter().filter(move |o| o.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_serialises_with_reason_beside_it() {
        let report = JobReport {
            job_id: "J".into(),
            contract: "Z9000".into(),
            status: JobStatus::Failed("disk full".into()),
            completed_earlier: false,
            aggregations: 0,
            outputs: vec![],
            stray_files: vec![],
            progress: Progress::default(),
            timings_ms: Timings::default(),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "failed");
        assert_eq!(json["reason"], "disk full");
        assert_eq!(json["timings_ms"]["finalize"], 0);
        assert!(json.get("stray_files").is_none());
        assert!(json.get("completed_earlier").is_none());
        let back: JobReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);

        let done = JobReport {
            status: JobStatus::Completed,
            ..report
        };
        let json = serde_json::to_value(&done).unwrap();
        assert_eq!(json["status"], "completed");
        assert!(json.get("reason").is_none());
    }

    #[test]
    fn failure_causes_count_the_most_frequent_first_and_stay_bounded() {
        let mut causes = FailureCauses::default();
        assert_eq!(causes.to_string(), "");
        causes.add("timeout", 1);
        causes.add("connection refused (127.0.0.1:9)", 2);
        causes.add("timeout", 2);
        causes.add("invalid", 1);
        assert_eq!(
            causes.to_string(),
            "timeout ×3, connection refused (127.0.0.1:9) ×2, invalid ×1"
        );
        causes.add("HTTP 500", 1);
        assert_eq!(
            causes.to_string(),
            "timeout ×3, connection refused (127.0.0.1:9) ×2, invalid ×1, other causes ×1"
        );
        let mut many = FailureCauses::default();
        for i in 0..100 {
            many.add(&format!("cause {i}"), 1);
        }
        many.add(&"é".repeat(MAX_CAUSE_LEN), 1);
        assert_eq!(many.counts.len(), MAX_FAILURE_CAUSES);
        assert_eq!(many.total(), 101);
        assert!(many.to_string().ends_with("other causes ×98"), "{many}");
        let mut long = FailureCauses::default();
        long.add(&format!("a{}", "é".repeat(MAX_CAUSE_LEN)), 1);
        assert_eq!(
            long.counts[0].0.len(),
            MAX_CAUSE_LEN - 1,
            "cut before the é"
        );
        causes.merge(&many);
        assert_eq!(causes.total(), 7 + 101);
        assert_eq!(causes.counts.len(), MAX_FAILURE_CAUSES);
        let progress = ProgressCounters::default();
        progress.add_failure_causes(&causes);
        progress.add_failure_causes(&causes);
        assert_eq!(progress.failure_causes().most_frequent()[0], ("timeout", 6));
    }

    #[test]
    fn counters_add_up() {
        let c = ProgressCounters::default();
        c.add_processed(3);
        c.add_errored(1);
        c.add_aggregations(2);
        let p = c.snapshot();
        assert_eq!(
            (
                p.patient_requests_processed,
                p.patient_requests_errored,
                p.aggregations
            ),
            (3, 1, 2)
        );
    }
}

/// What a batch did. Counted locally and added to the job's counters only once
/// the batch's parts are in `finished/`, so a batch that is retried is never
/// counted twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Beneficiaries processed (failures included).
    pub processed: u64,
    /// Of which failed.
    pub errored: u64,
    /// Beneficiaries with at least one EOB.
    pub with_eobs: u64,
    /// EOBs received.
    pub eobs_fetched: u64,
    /// EOBs written.
    pub eobs_written: u64,
    /// Bytes written to both parts.
    pub bytes: u64,
    /// Parts moved to `finished/`.
    pub parts: u64,
    /// The failures by cause (as many as `errored`).
    pub causes: FailureCauses,
}

impl BatchStats {
    /// Adds these figures to the job's counters.
    pub(crate) fn commit(&self, progress: &ProgressCounters) {
        progress.add_processed(self.processed);
        progress.add_errored(self.errored);
        progress.add_patients_with_eobs(self.with_eobs);
        progress.add_eobs_fetched(self.eobs_fetched);
        progress.add_eobs_written(self.eobs_written);
        progress.add_bytes_written(self.bytes);
        progress.add_parts_finished(self.parts);
        progress.add_failure_causes(&self.causes);
    }
}
