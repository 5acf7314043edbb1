//! Where a job's batches come from when one job spans many processes.
//!
//! The largest contracts take hours of HTTP-bound fetching: one process on one
//! machine is too slow, and a job whose machine dies waits for it. With the
//! `postgres` feature, a job's batches are rows in PostgreSQL and any number of
//! worker processes, on any number of machines sharing the job directory
//! (NFS/EFS), take them:
//!
//! - a worker **claims** a batch (`SELECT … FOR UPDATE SKIP LOCKED`) on a lease it
//!   renews while it fetches; every claim increments the batch's **fencing
//!   token**;
//! - it writes the batch's parts in `streaming/` under names that carry batch
//!   and token ([`FencedPart`]), fsyncs them, and **completes** the batch with
//!   `UPDATE … WHERE token = $mine`; only then do the parts move into
//!   `finished/`. A worker whose lease was taken over (killed, paused, cut off)
//!   can never complete, and its parts never reach `finished/`;
//! - one worker per job holds the job's **aggregator lease**, with its own token;
//!   it runs the job's aggregator on the shared directory, adopts committed parts
//!   a dead worker left in `streaming/` (and deletes the ones nobody will
//!   commit), and records each output in the statement that checks its token.
//!
//! What is here:
//!
//! - the [`Coordinator`] trait — jobs, claims, leases, outputs — with two
//!   implementations: [`MemoryCoordinator`] (workers of one process) and, with
//!   the `postgres` feature, `postgres::PgCoordinator`;
//! - the [`worker::Worker`] actor, which runs on either;
//! - the types they share: [`JobSpec`] (what a submitter asks for),
//!   [`JobRecord`] (where a job stands), [`BatchClaim`], [`AggregatorLease`];
//! - [`until_answered`]: a call repeated while the coordinator is away.
//!
//! The embedded default (one process, no database: [`crate::JobSupervisor`])
//! does not use this module. docs/scale.md tells the deployment, the failures
//! and the figures.

mod claim;
pub mod coordinator;
mod fenced_part;
mod job;
mod lease;
mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
mod retry;
pub mod worker;

pub use claim::{BatchClaim, BatchTally, BatchToken, ClaimKind, ClaimState, CommittedPart};
pub use coordinator::Coordinator;
pub use fenced_part::FencedPart;
pub use job::{
    BatchCounts, JobEnd, JobOptions, JobRecord, JobSpec, JobState, Submitted, DEFAULT_MAX_ATTEMPTS,
};
pub use lease::{AggregatorLease, OutputRecord};
pub use memory::MemoryCoordinator;
pub use retry::until_answered;
