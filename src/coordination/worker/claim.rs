//! One claimed batch, from claim to commit: what a fetcher does in one process,
//! fenced.
//!
//! 1. the parts are written in `streaming/` under the claim's fenced names,
//!    while the lease is renewed every third of its length; a renewal that
//!    answers `false` (taken over, job cancelled) stops the fetch at the next
//!    beneficiary;
//! 2. the parts are fsynced: a committed batch is never fetched again;
//! 3. the batch is completed under the claim's token — if the reply is lost
//!    with the connection, the claim's state is read back rather than the
//!    completion repeated, which would answer `false` for a batch that counted;
//! 4. committed: the parts move into `finished/` (the job's aggregator adopts
//!    them); refused: they are deleted.
//!
//! Any error before the commit drops the parts and leaves the batch to its
//! lease: it expires and the batch is claimed again, up to the job's attempts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::future::{select, Either};

use super::{files, JobHandle, Shared};
use crate::actors::fetcher::{failed_batch_parts, Fetch};
use crate::coordination::{until_answered, BatchClaim, BatchTally, ClaimKind, ClaimState};
use crate::error::{Error, Result};
use crate::report::BatchStats;
use crate::store::part::{CompletePart, PartWriter};

/// Works `claim` to its end (see the module docs); never fails: what goes
/// wrong is logged and the batch left to its lease.
pub(super) async fn work(shared: &Arc<Shared>, claim: BatchClaim) {
    let worker = &shared.config.worker_id;
    let job = match shared.job(&claim.job_id).await {
        Ok(job) => job,
        Err(e) => {
            log::error!(
                "{worker}: job {} batch {}: {e}; leaving it to its lease",
                claim.job_id,
                claim.batch
            );
            shared.batches_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let outcome = fetch_and_commit(shared, &job, &claim).await;
    let (batch, token) = (claim.batch, claim.token);
    match outcome {
        Ok(true) => {
            shared.batches_completed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Ok(false) => log::info!(
            "{worker}: job {} batch {batch} token {token}: the claim was lost (taken over or \
             cancelled); its parts are dropped",
            claim.job_id
        ),
        Err(Error::Cancelled) if shared.stopping() => log::info!(
            "{worker}: job {} batch {batch}: stopping; left to its lease",
            claim.job_id
        ),
        Err(e) => log::error!(
            "{worker}: job {} batch {batch} token {token}: {e}; its parts are dropped and the \
             batch left to its lease",
            claim.job_id
        ),
    }
    shared.batches_dropped.fetch_add(1, Ordering::Relaxed);
    let layout = job.layout.clone();
    let _ =
        actix_rt::task::spawn_blocking(move || files::discard_claim_parts(&layout, batch, token))
            .await;
}

/// Steps 1–4 of the module docs: `Ok(true)` once the batch is committed and its
/// parts published, `Ok(false)` when the claim was lost (its parts are left
/// for [`work`] to delete, as after an error).
async fn fetch_and_commit(shared: &Shared, job: &JobHandle, claim: &BatchClaim) -> Result<bool> {
    let lost = AtomicBool::new(false);
    let written = {
        let write = write_parts(shared, job, claim, &lost);
        let renew = keep_renewed(shared, claim, &lost);
        futures::pin_mut!(write, renew);
        match select(write, renew).await {
            Either::Left((written, _)) => written,
            // Lost: the fetch stops at its next beneficiary.
            Either::Right(((), write)) => write.await,
        }
    };
    let (stats, parts) = match written {
        Err(Error::Cancelled) if lost.load(Ordering::Relaxed) => return Ok(false),
        other => other?,
    };
    let tally = BatchTally {
        processed: stats.processed,
        errored: stats.errored,
        eobs: stats.eobs_written,
        bytes: parts.iter().flatten().map(CompletePart::bytes).sum(),
    };
    if !commit(shared, claim, &tally).await? {
        // Refused: `work` deletes the parts, once they are closed here.
        return Ok(false);
    }
    actix_rt::task::spawn_blocking(move || files::publish_parts(parts))
        .await
        .unwrap_or(Err(Error::ActorGone { actor: "worker" }))?;
    log::debug!(
        "{}: job {} batch {} committed ({} beneficiaries, {} failed)",
        shared.config.worker_id,
        claim.job_id,
        claim.batch,
        stats.processed,
        stats.errored
    );
    Ok(true)
}

/// Writes and fsyncs the claim's parts; [`Error::Cancelled`] once `lost` is set.
async fn write_parts(
    shared: &Shared,
    job: &JobHandle,
    claim: &BatchClaim,
    lost: &AtomicBool,
) -> Result<(BatchStats, [Option<CompletePart>; 2])> {
    let layout = &job.layout;
    let create = |kind| PartWriter::create_fenced(layout, claim.part(kind));
    let (stats, mut parts) = match claim.kind {
        ClaimKind::Fetch => {
            let fetch = Fetch {
                job_id: &claim.job_id,
                batch: claim.batch,
                source: &*job.source,
                request_timeout: shared.config.request_timeout,
                cancel: lost,
                failures_logged: &job.failures_logged,
            };
            fetch.write_parts(&claim.beneficiaries, create).await?
        }
        ClaimKind::Failed => {
            log::error!(
                "{}: job {} batch {} was claimed {} times without completing; counting its \
                 beneficiaries as failed",
                shared.config.worker_id,
                claim.job_id,
                claim.batch,
                claim.attempt - 1
            );
            failed_batch_parts(
                &claim.beneficiaries,
                &format!(
                    "batch {} was claimed {} times and never completed (its workers died or \
                     were cut off)",
                    claim.batch,
                    claim.attempt - 1
                ),
                "the batch's workers stopped unexpectedly",
                create,
            )?
        }
    };
    if lost.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    parts = actix_rt::task::spawn_blocking(move || files::sync_parts(&mut parts).map(|()| parts))
        .await
        .unwrap_or(Err(Error::ActorGone { actor: "worker" }))?;
    Ok((stats, parts))
}

/// Renews the claim's lease every third of its length; returns once it is lost
/// (setting `lost`). Runs until dropped otherwise. While the database is away
/// it keeps trying: the token, not the lease, fences the completion.
async fn keep_renewed(shared: &Shared, claim: &BatchClaim, lost: &AtomicBool) {
    let lease = shared.config.lease;
    loop {
        actix_rt::time::sleep(lease / 3).await;
        match shared
            .ask("renew a lease", || shared.db.renew(claim, lease))
            .await
        {
            Ok(true) => {}
            Ok(false) => break,
            // Stopping: finish the batch; its completion is still fenced.
            Err(Error::Cancelled) => {}
            Err(e) => log::warn!(
                "{}: renewing the lease of job {} batch {}: {e}",
                shared.config.worker_id,
                claim.job_id,
                claim.batch
            ),
        }
    }
    lost.store(true, Ordering::Relaxed);
}

/// Completes the batch under the claim's token: `true` when it counted. A
/// reply lost with the connection is settled by reading the claim back.
async fn commit(shared: &Shared, claim: &BatchClaim, tally: &BatchTally) -> Result<bool> {
    let never = AtomicBool::new(false);
    let mut tried = false;
    let transient = |e: &Error| shared.db.is_transient(e);
    until_answered("complete a batch", &never, transient, || {
        let first = !tried;
        tried = true;
        async move {
            if first {
                return shared.db.complete(claim, tally).await;
            }
            match shared.db.claim_state(claim).await? {
                ClaimState::Committed => Ok(true),
                ClaimState::Lost => Ok(false),
                ClaimState::Held => shared.db.complete(claim, tally).await,
            }
        }
    })
    .await
}
