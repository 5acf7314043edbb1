//! The aggregator role of one job, held under its aggregator lease.
//!
//! 1. **lock**: the job directory's [`JobLock`], as one process holds it: a
//!    paused holder of an older lease keeps it until it wakes, finds its lease
//!    taken over and lets go, so two aggregators never work one directory
//!    (on NFS, `flock` is a lock of the server's). A held lock gives the role
//!    back at once;
//! 2. **aggregate**: today's [`Aggregator`] in watch mode on the shared
//!    directory: it recovers what an earlier holder left (the journal numbers
//!    outputs on, none repeated) and combines what reaches `finished/`;
//! 3. **every poll**: renew the lease (lost: cancel the aggregator and stop);
//!    record the outputs the journal holds that the database lacks, under the
//!    lease's token; read the job: cancelled — cancel, remove the working
//!    files, end it; over its failure threshold — stop its batches; and now and
//!    then settle the fenced parts in `streaming/`;
//! 4. **close**, once no batch is open: settle the fenced parts (committed ones
//!    adopted into `finished/`, the rest deleted), remove `streaming/` — the
//!    aggregator then packs what is left and ends — seal the job directory with
//!    its outputs, record them, and finish the job in the database.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use super::files::{self, Verdict};
use super::{JobHandle, Shared};
use crate::actors::messages::{AwaitCompletion, Cancel};
use crate::actors::supervisor::{list_outputs, remove_streaming, remove_working_files};
use crate::coordination::{AggregatorLease, JobEnd, JobRecord, OutputRecord};
use crate::error::{Error, Result};
use crate::report::JobOutput;
use crate::store::journal;
use crate::store::layout::JobLayout;
use crate::store::lock::{boot_id, JobLock, JobMeta};
use crate::Aggregator;

/// Polls between two settlements of `streaming/` while the job runs: its
/// leftovers only matter at the close, when they are settled anyway.
const SETTLE_EVERY: u32 = 20;

/// Holds the role until it ends; gives the lease back if it ends on an error.
pub(super) async fn hold(shared: Arc<Shared>, lease: AggregatorLease) {
    let worker = shared.config.worker_id.clone();
    let job_id = lease.job_id.clone();
    match aggregate(&shared, &lease).await {
        Ok(()) => {}
        Err(Error::Cancelled) if shared.stopping() => {}
        Err(e) => {
            log::error!("{worker}: aggregating job {job_id}: {e}; giving the role up");
            if let Err(e) = shared.db.release_aggregator(&lease).await {
                log::warn!("{worker}: releasing the aggregator lease of {job_id}: {e}");
            }
        }
    }
    shared.roles.lock().expect("roles").remove(&job_id);
}

/// How the role ended the job, if it did.
enum Ending {
    /// Every batch is done: the outputs are final.
    Close,
    /// Too many beneficiaries failed: what is done is combined, the job fails.
    Fail(String),
}

async fn aggregate(shared: &Shared, lease: &AggregatorLease) -> Result<()> {
    let job = shared.job(&lease.job_id).await?;
    let lock = lock_job_dir(&job).await?;
    let aggregator = Aggregator::new(&job.config)
        .watch(shared.config.poll)
        .start();
    if let Some(role) = shared.roles.lock().expect("roles").get_mut(&lease.job_id) {
        role.1 = Some(aggregator.clone());
    }
    let mut recorded: HashSet<String> = shared
        .ask("list the outputs", || shared.db.outputs(&lease.job_id))
        .await?
        .into_iter()
        .map(|o| o.name)
        .collect();
    let mut failing: Option<String> = None;
    let mut polls = 0u32;
    let ending = loop {
        actix_rt::time::sleep(shared.config.poll).await;
        if shared.stopping() {
            return Err(Error::Cancelled);
        }
        polls += 1;
        let held = shared
            .ask("renew the aggregator lease", || {
                shared.db.renew_aggregator(lease, shared.config.lease)
            })
            .await?;
        if !held || !record_outputs(shared, &job, lease, &mut recorded).await? {
            log::warn!(
                "{}: the aggregator lease of job {} was taken over; stopping",
                shared.config.worker_id,
                lease.job_id
            );
            let _ = aggregator.send(Cancel).await;
            return Ok(());
        }
        let record = shared
            .ask("read the job", || shared.db.status(&lease.job_id))
            .await?;
        if record.cancel_requested {
            return cancel(shared, &job, lease, aggregator, lock).await;
        }
        if failing.is_none() {
            if let Some(reason) = over_threshold(&record) {
                log::warn!("job {}: failing: {reason}", lease.job_id);
                if !shared
                    .ask("stop the batches", || shared.db.stop_batches(lease))
                    .await?
                {
                    let _ = aggregator.send(Cancel).await;
                    return Ok(());
                }
                failing = Some(reason);
                continue;
            }
        }
        let b = &record.batches;
        if b.pending + b.running + b.failing == 0 {
            break match failing.take() {
                Some(reason) => Ending::Fail(reason),
                None => Ending::Close,
            };
        }
        if polls.is_multiple_of(SETTLE_EVERY) {
            settle(shared, &job, false).await?;
        }
    };
    settle(shared, &job, true).await?;
    let combined = aggregator
        .send(AwaitCompletion)
        .await
        .map_err(|_| Error::ActorGone {
            actor: "aggregator",
        })?;
    if shared.stopping() {
        // The stop cancelled the aggregator: its answer says nothing of the
        // job, which the next holder ends.
        return Err(Error::Cancelled);
    }
    let end = match (&ending, combined) {
        (_, Err(e)) => JobEnd::Failed {
            reason: format!("aggregation failed: {e}; the parts stay in finished/"),
        },
        (Ending::Close, Ok(_)) => JobEnd::Completed,
        (Ending::Fail(reason), Ok(_)) => JobEnd::Failed {
            reason: reason.clone(),
        },
    };
    let layout = job.layout.clone();
    let completed = end == JobEnd::Completed;
    let lock = Arc::new(lock);
    let sealing = lock.clone();
    let outputs = blocking(move || {
        list_outputs(&layout, completed.then_some(&*sealing)).map(|(outputs, _)| outputs)
    })
    .await?;
    drop(lock);
    for output in &outputs {
        if !recorded.contains(&output.file) && !record(shared, lease, output).await? {
            return Ok(());
        }
    }
    finish(shared, lease, &end, outputs.len()).await
}

/// Step 1 of the module docs; records the job in its lock file if new.
async fn lock_job_dir(job: &JobHandle) -> Result<JobLock> {
    let layout = job.layout.clone();
    let meta = JobMeta {
        job_id: job.record.job_id.clone(),
        contract: job.record.contract.clone(),
        batch_size: job.record.batch_size,
        boot_id: boot_id().map(str::to_owned),
        sync_parts: true,
        completed: None,
    };
    blocking(move || {
        let lock = JobLock::acquire(layout.job_dir())?;
        if lock.meta()?.is_none() {
            lock.write_meta(&meta)?;
        }
        Ok(lock)
    })
    .await
}

/// Records the journal's outputs the database lacks. `false` when the lease
/// was taken over.
async fn record_outputs(
    shared: &Shared,
    job: &JobHandle,
    lease: &AggregatorLease,
    recorded: &mut HashSet<String>,
) -> Result<bool> {
    let layout = job.layout.clone();
    let outputs = blocking(move || journal_outputs(&layout)).await?;
    for output in outputs {
        if recorded.contains(&output.file) {
            continue;
        }
        if !record(shared, lease, &output).await? {
            return Ok(false);
        }
        recorded.insert(output.file);
    }
    Ok(true)
}

/// The outputs the journal records; none without a journal. Blocking.
fn journal_outputs(layout: &JobLayout) -> Result<Vec<JobOutput>> {
    if !layout.journal().exists() {
        return Ok(Vec::new());
    }
    journal::outputs(layout)
}

/// Records one output under the lease: `false` when it was taken over.
async fn record(shared: &Shared, lease: &AggregatorLease, output: &JobOutput) -> Result<bool> {
    let record = OutputRecord {
        name: output.file.clone(),
        kind: output.kind,
        bytes: output.bytes,
        records: output.records,
        sha256: output.sha256.clone(),
    };
    shared
        .ask("record an output", || {
            shared.db.record_output(lease, &record)
        })
        .await
}

/// The job's failure, once more than its `max_failure_rate` of the processed
/// beneficiaries failed (the rule of one process).
fn over_threshold(record: &JobRecord) -> Option<String> {
    let t = &record.tally;
    let rate = record.options.max_failure_rate;
    (t.processed > 0 && t.errored as f64 > rate * t.processed as f64).then(|| {
        format!(
            "{} of {} beneficiaries failed, more than the allowed {:.1}%",
            t.errored,
            t.processed,
            rate * 100.0
        )
    })
}

/// Adopts committed fenced parts left in `streaming/` and deletes those nobody
/// will commit; `closing` (no batch open): deletes every other part too and
/// removes `streaming/`, which closes the aggregator.
async fn settle(shared: &Shared, job: &JobHandle, closing: bool) -> Result<()> {
    let layout = job.layout.clone();
    let found = blocking(move || files::fenced_parts(&layout)).await?;
    if !found.is_empty() {
        let mut batches: Vec<u64> = found.iter().map(|p| p.batch).collect();
        batches.dedup();
        let tokens = shared
            .ask("read batch tokens", || {
                shared.db.batch_tokens(&job.record.job_id, &batches)
            })
            .await?;
        let verdicts: Vec<_> = found
            .into_iter()
            .map(|part| {
                let current = tokens.iter().find(|t| t.batch == part.batch);
                let verdict = match current {
                    Some(t) if t.token == part.token && t.committed => Verdict::Adopt,
                    Some(t) if t.token == part.token && t.open && !closing => Verdict::Leave,
                    _ => Verdict::Delete,
                };
                (part, verdict)
            })
            .collect();
        let layout = job.layout.clone();
        let (adopted, deleted) =
            blocking(move || files::settle_fenced_parts(&layout, &verdicts)).await?;
        if adopted + deleted > 0 {
            log::info!(
                "job {}: adopted {adopted} committed parts left in streaming/, deleted {deleted} \
                 that no claim will commit",
                job.record.job_id
            );
        }
    }
    if closing {
        let layout = job.layout.clone();
        blocking(move || remove_streaming(&layout)).await?;
    }
    Ok(())
}

/// The job was cancelled: stops the aggregator, removes `streaming/`,
/// `finished/` and temp outputs (the outputs made stay, as in one process),
/// and ends the job.
async fn cancel(
    shared: &Shared,
    job: &JobHandle,
    lease: &AggregatorLease,
    aggregator: Addr<Aggregator>,
    lock: JobLock,
) -> Result<()> {
    let _ = aggregator.send(Cancel).await;
    let layout = job.layout.clone();
    blocking(move || {
        let removed = remove_working_files(&layout);
        drop(lock);
        removed
    })
    .await?;
    finish(shared, lease, &JobEnd::Cancelled, 0).await
}

async fn finish(
    shared: &Shared,
    lease: &AggregatorLease,
    end: &JobEnd,
    outputs: usize,
) -> Result<()> {
    if shared
        .ask("finish the job", || shared.db.finish(lease, end))
        .await?
    {
        shared
            .jobs_finished
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        log::info!(
            "{}: job {} ended {end:?} with {outputs} outputs",
            shared.config.worker_id,
            lease.job_id
        );
    }
    Ok(())
}

/// Runs file work on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    actix_rt::task::spawn_blocking(work)
        .await
        .unwrap_or(Err(Error::ActorGone { actor: "worker" }))
}
