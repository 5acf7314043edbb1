//! A batch claim and what is known of it: [`BatchClaim`], and the figures and
//! states a coordinator answers about claims.

use time::OffsetDateTime;

use crate::coordination::FencedPart;
use crate::store::layout::FileKind;

/// What the holder of a claim must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    /// Fetch the batch's beneficiaries, as a fetcher does in one process.
    Fetch,
    /// The batch was claimed more than its job's `max_attempts` times (its
    /// holders died, or were cut off): write one `OperationOutcome` per
    /// beneficiary as its error part, then complete it.
    Failed,
}

/// A batch held by one worker, until its lease expires or it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchClaim {
    /// The job.
    pub job_id: String,
    /// The job's contract.
    pub contract: String,
    /// The batch number (from 1).
    pub batch: u64,
    /// This claim's fencing token: its parts carry it, its completion is
    /// checked against it.
    pub token: u64,
    /// The worker that holds it.
    pub owner: String,
    /// Which claim of the batch this is (1 for the first).
    pub attempt: u32,
    /// Fetch it, or write it as failed.
    pub kind: ClaimKind,
    /// The beneficiaries, in submission order.
    pub beneficiaries: Vec<String>,
    /// When the lease expires unless renewed, by the database's clock.
    pub lease_until: OffsetDateTime,
}

impl BatchClaim {
    /// The name of this claim's part of `kind`: `tmp_000042-t3.ndjson`.
    pub fn part(&self, kind: FileKind) -> FencedPart {
        FencedPart {
            batch: self.batch,
            token: self.token,
            kind,
        }
    }
}

/// What a batch counted, recorded when it completes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchTally {
    /// Beneficiaries processed, failures included.
    pub processed: u64,
    /// Of which failed (one `OperationOutcome` each).
    pub errored: u64,
    /// EOBs written.
    pub eobs: u64,
    /// Bytes of its parts.
    pub bytes: u64,
}

/// Where a claim stands (see [`Coordinator::claim_state`](super::Coordinator::claim_state)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    /// Its token is current and the batch still open.
    Held,
    /// Its token completed the batch.
    Committed,
    /// Taken over, cancelled, or completed under another token.
    Lost,
}

/// The current claim of a batch (see [`Coordinator::batch_tokens`](super::Coordinator::batch_tokens)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchToken {
    /// The batch number.
    pub batch: u64,
    /// Its current (last claimed) token; 0 when never claimed.
    pub token: u64,
    /// Completed (done or failed) under `token`.
    pub committed: bool,
    /// Pending, or claimed and not completed.
    pub open: bool,
}

/// A completed batch: its parts with this token are the ones to adopt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CommittedPart {
    /// The batch number.
    pub batch: u64,
    /// The token of the claim that completed it.
    pub token: u64,
    /// Completed as failed (its parts hold only `OperationOutcome`s).
    pub failed: bool,
}
