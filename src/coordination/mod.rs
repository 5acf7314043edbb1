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
//! - it writes the batch's parts under names that carry batch and token
//!   ([`FencedPart`]), and **completes** the batch with
//!   `UPDATE … WHERE token = $mine`: a worker whose lease was taken over (killed,
//!   paused, cut off) can never complete, and its parts are never adopted;
//! - one worker per job holds the job's **aggregator lease**, with its own token;
//!   it adopts only parts whose (batch, token) are committed, and records each
//!   output in the transaction that checks its token.
//!
//! The embedded default (one process, no database) does not use this module.
//!
//! What is here: [`FencedPart`], and with the `postgres` feature the schema and
//! the claim, lease and commit operations (`postgres::PgCoordinator`). There is
//! no `Coordinator` trait yet: its other implementation (today's in-process
//! batches) and its one user (the worker actor) do not exist yet, and a trait
//! shaped by one implementation would be a guess.

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
