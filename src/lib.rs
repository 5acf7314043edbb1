//! # claims-aggregator
//!
//! Bulk claims export jobs on actix actors: fetch every Medicare claim (FHIR
//! `ExplanationOfBenefit`) of a contract's beneficiaries from a claims source,
//! stream them to disk as NDJSON part files, and aggregate the parts — while the
//! job runs — into size-capped outputs with checksums. The directory protocol is
//! CMS AB2D's, so AB2D's own workers and this aggregator can share a job directory.
//!
//! # Architecture
//!
//! ```text
//!            RunJob / Cancel / GetProgress / Subscribe
//! caller ───────────────────────────────▶ JobSupervisor ── pool of arbiters (one per CPU)
//!                                           │    ▲  ▲
//!                    StreamingClosed, Cancel│    │  │ BatchDone (exactly once per fetcher)
//!                                           ▼    │  │
//!                      AggregatorEvent ◀── Aggregator ◀── FileFinished ── BatchFetcher × concurrency
//!                                           │                               │
//!                         spawn_blocking: claim, combine, fsync,     part files in streaming/,
//!                         checksum, journal, rename                  renamed into finished/
//! ```
//!
//! - [`JobSupervisor`] creates the job directories, starts one [`Aggregator`] and
//!   at most `concurrency` `BatchFetcher`s at once, each on the next arbiter of
//!   its pool, pulling `batch_size` beneficiaries at a time from the caller's
//!   iterator (memory does not grow with the job).
//! - `BatchFetcher` asks a [`ClaimsSource`] for each beneficiary's claims, writes
//!   them to `streaming/tmp_<batch>.ndjson` (failures as `OperationOutcome` lines in
//!   `tmp_<batch>_error.ndjson`), renames the parts into `finished/` (fsynced first in
//!   parts-only jobs; see `store/part.rs`).
//! - [`Aggregator`] makes an output whenever more than `multiplier × max_bytes` of
//!   one kind wait, choosing parts that fill it as close to `max_bytes` as possible
//!   (`select.rs`); it combines on blocking threads and stays responsive.
//!
//! # Protocol
//!
//! | message | from → to | when | answer |
//! |---|---|---|---|
//! | [`RunJob`] | caller → supervisor | once | [`JobReport`] at the end (`Err` if it could not start) |
//! | [`GetProgress`] | anyone → supervisor | any time | [`Progress`] |
//! | [`Subscribe`] | anyone → supervisor | any time | — ; [`JobProgress`] events follow |
//! | [`Cancel`] | caller → supervisor → fetchers, aggregator | any time | `()` once file work stopped |
//! | [`FileFinished`] | fetcher → aggregator | a part reached `finished/` | — |
//! | `BatchDone` | fetcher → supervisor | its batch ended (or it died: sent from `Drop`) | — |
//! | [`StreamingClosed`] | supervisor → aggregator | all batches done (or the failure threshold tripped, so that the error outputs stay), `streaming/` removed | count of aggregations, after `finished/` is removed |
//! | [`AggregatorEvent`] | aggregator → supervisor | each output, or a failure | — |
//!
//! On disk ([`JobLayout`]): parts are `tmp_*.ndjson` / `tmp_*_error.ndjson` (kind by
//! suffix, `_error.ndjson` first), outputs `<contract>_0001.ndjson` and
//! `<contract>_0001_error.ndjson` numbered per kind. `streaming/` gone means the
//! writers are done; `finished/` gone means the aggregator is done. Each output is
//! made crash-safely (`store/combine.rs`): claim, combine into a hidden temp file, fsync,
//! journal, rename, fsync the directory.
//!
//! # Layout
//!
//! ```text
//! src/lib.rs          these docs; the public API, re-exported flat
//! src/config.rs       JobConfig: builder, AB2D's defaults, validation
//! src/error.rs        Error and Result
//! src/report.rs       JobReport, Progress and the live counters
//! src/manifest.rs     the Bulk Data manifest of a job's outputs
//! src/actors/         JobSupervisor, BatchFetcher, Aggregator, and messages.rs:
//!                     everything they exchange (actors import messages, never
//!                     each other); supervisor/ splits out plain, unit-tested
//!                     parts: plan.rs (which batch next), pool.rs (the
//!                     fetchers' arbiters), files.rs (its blocking file work)
//! src/store/          the on-disk protocol: layout (every path and name), part,
//!                     journal, lock, combine (one crash-safe output), recovery
//!                     (a directory found on disk), untrusted (no link followed)
//! src/select.rs       which waiting parts make the next output (pure)
//! src/source/         ClaimsSource; synthetic/ and bfd/ sources
//! src/coordination/   one job across many processes: the Coordinator trait
//!                     (memory.rs in process; postgres/ with feature `postgres`),
//!                     the job, claim and lease types, and worker/: the Worker
//!                     actor (claim.rs one batch, aggregate.rs the aggregator
//!                     role, files.rs its blocking file work)
//! src/fault.rs        fault injection points for the crash and I/O-fault tests
//! ```
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use claims_aggregator::{run_job, synthetic, JobConfig, SyntheticConfig, SyntheticSource};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let root = tempfile::tempdir()?;
//! let config = JobConfig::builder(root.path(), "ABC-DEF", "Z9000")
//!     .max_bytes(64 * 1024)
//!     .build()?;
//! let source = Arc::new(SyntheticSource::new(SyntheticConfig::default()));
//! let beneficiaries = (0..25).map(synthetic::beneficiary_id);
//!
//! let report = actix::System::new().block_on(run_job(config, source, beneficiaries))?;
//! assert!(report.status.is_completed());
//! assert_eq!(report.progress.patient_requests_processed, 25);
//! assert!(root.path().join("ABC-DEF/Z9000_0001.ndjson").exists());
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod actors;
#[cfg(test)]
mod alloc_count;
pub mod config;
pub mod coordination;
mod error;
#[doc(hidden)]
pub mod fault;
pub mod manifest;
mod report;
mod select;
pub mod source;
mod store;

pub use actors::aggregator::Aggregator;
pub use actors::messages::{
    AggregatorEvent, AwaitCompletion, Cancel, FileFinished, GetProgress, JobProgress, RunJob,
    StreamingClosed, Subscribe,
};
pub use actors::supervisor::{run_job, JobSupervisor};
pub use config::{JobConfig, JobConfigBuilder, MIB};
pub use error::{Error, Result};
pub use manifest::BulkDataManifest;
pub use report::{JobOutput, JobReport, JobStatus, Progress, ProgressCounters, Timings};
pub use source::{
    synthetic, BfdConfig, BfdConfigBuilder, BfdSource, ClaimsSource, Resource, SourceError,
    SyntheticConfig, SyntheticSource,
};
pub use store::journal;
pub use store::layout::{FileKind, JobLayout};

/// The crate's internals that its own benches and tests reach into: the
/// combine, selection and on-disk helpers. Not part of the API; no stability
/// promise.
#[doc(hidden)]
pub mod internals {
    /// Which waiting parts make the next output.
    pub mod select {
        pub use crate::select::*;
    }
    /// One crash-safe aggregation step.
    pub mod combine {
        pub use crate::store::combine::*;
    }
    /// The lock file of a job directory.
    pub mod lock {
        pub use crate::store::lock::*;
    }
    /// Compact sets of part names.
    pub mod part_names {
        pub use crate::store::part_names::*;
    }
    /// Opening what a job directory holds without following links.
    pub mod untrusted {
        pub use crate::store::untrusted::*;
    }
}

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
