//! Batches: claim on a lease, renew, complete under the fencing token, and the
//! committed (batch, token) pairs an aggregator may adopt.

use std::time::Duration;

use super::{check_worker, lease_millis, unsigned, PgCoordinator};
use crate::coordination::{
    BatchClaim, BatchTally, BatchToken, ClaimKind, ClaimState, CommittedPart,
};
use crate::error::Result;

/// Takes the next claimable batch — never claimed, or its lease expired — in
/// job order then batch order, skipping rows another claimer holds locked, and
/// gives it to `$1` for `$2` ms with the token incremented. The partial index
/// `batches_open` holds only open batches, so the scan passes over no done ones.
const CLAIM: &str = "
WITH next AS (
    SELECT job_id, batch
    FROM claims_aggregator.batches
    WHERE state IN ('pending', 'running', 'failing')
      AND (state = 'pending' OR lease_until <= now())
    ORDER BY job_seq, batch
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE claims_aggregator.batches b
SET state = CASE WHEN b.state = 'failing' OR b.attempts >= j.max_attempts
                 THEN 'failing' ELSE 'running' END,
    owner = $1,
    token = b.token + 1,
    attempts = b.attempts + 1,
    lease_until = now() + $2::float8 * interval '1 millisecond',
    updated_at = now()
FROM next, claims_aggregator.jobs j
WHERE b.job_id = next.job_id AND b.batch = next.batch AND j.id = b.job_id
RETURNING b.job_id, j.contract, b.batch, b.token, b.attempts, b.state,
          b.beneficiaries, b.lease_until";

impl PgCoordinator {
    /// Claims the next batch of any running job for `worker`, on a lease of
    /// `lease`: a batch never claimed, or one whose lease expired (another
    /// worker died or stalled; its token is then superseded). `None` when no
    /// batch is claimable now. One statement; concurrent claimers never get the
    /// same batch (`FOR UPDATE SKIP LOCKED`, and each claim increments the token).
    ///
    /// A batch claimed more than its job's `max_attempts` times comes as
    /// [`ClaimKind::Failed`].
    pub async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<BatchClaim>> {
        check_worker(worker)?;
        let millis = lease_millis("lease", lease)?;
        let op = "claim a batch for";
        let target = format!("worker {worker}");
        let call = self.call(op, &target).await?;
        let Some(row) = call.query_opt(CLAIM, &[&worker, &(millis as f64)]).await? else {
            return Ok(None);
        };
        let state: String = row.get(5);
        let claim = BatchClaim {
            job_id: row.get(0),
            contract: row.get(1),
            batch: unsigned(row.get(2)),
            token: unsigned(row.get(3)),
            owner: worker.to_owned(),
            attempt: row.get::<_, i32>(4) as u32,
            kind: if state == "failing" {
                ClaimKind::Failed
            } else {
                ClaimKind::Fetch
            },
            beneficiaries: row.get(6),
            lease_until: row.get(7),
        };
        log::debug!(
            "{worker}: claimed job {} batch {} token {} ({:?}, attempt {})",
            claim.job_id,
            claim.batch,
            claim.token,
            claim.kind,
            claim.attempt
        );
        Ok(Some(claim))
    }

    /// Extends the claim's lease to `lease` from now. `false` when the claim is
    /// lost — taken over (its token superseded), completed, or its job
    /// cancelled: the holder must stop and drop what it wrote.
    pub async fn renew(&self, claim: &BatchClaim, lease: Duration) -> Result<bool> {
        let millis = lease_millis("lease", lease)?;
        let op = "renew the lease of";
        let target = batch_target(claim);
        let call = self.call(op, &target).await?;
        let n = call
            .execute(
                "UPDATE claims_aggregator.batches
                 SET lease_until = now() + $4::float8 * interval '1 millisecond', updated_at = now()
                 WHERE job_id = $1 AND batch = $2 AND token = $3
                   AND state IN ('running', 'failing')",
                &[
                    &claim.job_id,
                    &(claim.batch as i64),
                    &(claim.token as i64),
                    &(millis as f64),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Completes the batch under the claim's token, once its parts are
    /// durable (fsynced, still under their fenced names in `streaming/`), and
    /// records what it counted: `UPDATE … WHERE token = $mine AND state =
    /// 'running'` (or `failing`). `true` when it counted; `false` when the
    /// claim was taken over, its job cancelled, or it was completed already —
    /// a worker that lost its lease can never complete, and its parts are
    /// never adopted. After a lost reply, [`claim_state`](Self::claim_state)
    /// tells whether it counted.
    ///
    /// A lease that expired without being taken over still completes: the
    /// token is the fence, not the clock.
    pub async fn complete(&self, claim: &BatchClaim, tally: &BatchTally) -> Result<bool> {
        let op = "complete";
        let target = batch_target(claim);
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let call = self.call(op, &target).await?;
        let n = call
            .execute(
                "UPDATE claims_aggregator.batches
                 SET state = CASE state WHEN 'running' THEN 'done' ELSE 'failed' END,
                     lease_until = NULL, updated_at = now(),
                     processed = $4, errored = $5, eobs = $6, bytes = $7
                 WHERE job_id = $1 AND batch = $2 AND token = $3
                   AND state IN ('running', 'failing')",
                &[
                    &claim.job_id,
                    &(claim.batch as i64),
                    &(claim.token as i64),
                    &count(tally.processed),
                    &count(tally.errored),
                    &count(tally.eobs),
                    &count(tally.bytes),
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// Where the claim stands now: still held, committed by it, or lost.
    pub async fn claim_state(&self, claim: &BatchClaim) -> Result<ClaimState> {
        let parts = self.batch_tokens(&claim.job_id, &[claim.batch]).await?;
        Ok(match parts.first() {
            Some(b) if b.token == claim.token && b.committed => ClaimState::Committed,
            Some(b) if b.token == claim.token && b.open => ClaimState::Held,
            _ => ClaimState::Lost,
        })
    }

    /// The current token and state of some batches of a job (those listed
    /// that exist), by batch number: whether a fenced part found on disk is
    /// committed, still being written, or superseded.
    pub async fn batch_tokens(&self, job_id: &str, batches: &[u64]) -> Result<Vec<BatchToken>> {
        let op = "read the tokens of";
        let target = format!("job {job_id}");
        let numbers: Vec<i64> = batches.iter().map(|&b| b as i64).collect();
        let call = self.call(op, &target).await?;
        let rows = call
            .query(
                "SELECT batch, token, state IN ('done', 'failed'),
                        state IN ('pending', 'running', 'failing')
                 FROM claims_aggregator.batches
                 WHERE job_id = $1 AND batch = ANY($2)
                 ORDER BY batch",
                &[&job_id, &numbers],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| BatchToken {
                batch: unsigned(row.get(0)),
                token: unsigned(row.get(1)),
                committed: row.get(2),
                open: row.get(3),
            })
            .collect())
    }

    /// The completed batches of a job with the token that completed each, by
    /// batch number: the parts an aggregator may adopt. Empty for an unknown
    /// job.
    pub async fn committed_parts(&self, job_id: &str) -> Result<Vec<CommittedPart>> {
        let op = "list the committed parts of";
        let target = format!("job {job_id}");
        let call = self.call(op, &target).await?;
        let rows = call
            .query(
                "SELECT batch, token, state = 'failed'
                 FROM claims_aggregator.batches
                 WHERE job_id = $1 AND state IN ('done', 'failed')
                 ORDER BY batch",
                &[&job_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| CommittedPart {
                batch: unsigned(row.get(0)),
                token: unsigned(row.get(1)),
                failed: row.get(2),
            })
            .collect())
    }
}

fn batch_target(claim: &BatchClaim) -> String {
    format!(
        "job {} batch {} (token {}, worker {})",
        claim.job_id, claim.batch, claim.token, claim.owner
    )
}
