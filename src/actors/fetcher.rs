//! The [`BatchFetcher`] actor: fetches one batch of beneficiaries into a data part
//! and (when a beneficiary fails) an error part.
//!
//! The supervisor starts each fetcher on one arbiter of its pool. The fetcher
//! runs its batch as one future tied to its context (`ctx.spawn`, so stopping the
//! actor drops it), beneficiary after beneficiary:
//!
//! - claims go to the data part, one line each; a failed or timed-out fetch
//!   becomes one `OperationOutcome` line in the error part, is counted by its
//!   short cause ([`SourceError::cause`]) and logged at warn level (the first
//!   [`WARN_FAILURES`] of the job; the rest at debug), and the batch goes on;
//! - at the end both parts are finished (fsynced if the job says so, see
//!   [`crate::store::part`]) and renamed into `finished/` on a blocking
//!   thread (error part first: the data part reaching `finished/` marks the batch
//!   done), then announced to the aggregator with [`FileFinished`];
//! - the supervisor hears [`BatchDone`] exactly once: with the outcome, or — if
//!   the actor stops without finishing (a panic, its arbiter gone) — as
//!   [`BatchOutcome::Lost`], sent from `Drop`.
//!
//! It handles [`Cancel`]: it stops at once, its unfinished parts are left in
//! `streaming/` for the supervisor to remove — unless its parts are being
//! finished on a blocking thread: then it answers once that work has ended (the
//! work sees the cancel flag and discards the parts, unless it has moved one
//! already: then it finishes the batch), so that no file operation of a stopped
//! job outlives the stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::channel::oneshot;

use crate::actors::messages::{BatchDone, BatchOutcome, Cancel, FileFinished};
use crate::error::{Error, Result};
use crate::fault::fault_point;
use crate::report::{BatchStats, FailureCauses, ProgressCounters};
use crate::source::{operation_outcome, ClaimsSource, SourceError};
use crate::store::layout::{FileKind, JobLayout};
use crate::store::part::{CompletePart, FinishedPart, PartWriter};

/// Beneficiary failures of a job logged at warn level, each with its cause;
/// later ones go to debug, so that a failing job does not flood the log (the
/// report counts every failure by cause).
pub const WARN_FAILURES: u64 = 100;

/// Everything a fetcher needs but its batch: made once per job by the
/// supervisor and shared by every fetcher (an `Arc`), so that starting a
/// fetcher on another arbiter copies nothing from the supervisor's heap but
/// the batch's beneficiaries, also shared. What one thread allocates and
/// another frees, for every batch of a long job, spreads glibc's arenas.
pub struct FetcherContext {
    /// The job's paths.
    pub layout: JobLayout,
    /// Where claims come from.
    pub source: Arc<dyn ClaimsSource>,
    /// Time one beneficiary may take.
    pub request_timeout: Duration,
    /// The job's counters.
    pub progress: Arc<ProgressCounters>,
    /// Set when the job stops; checked between beneficiaries and before renames.
    pub cancel: Arc<AtomicBool>,
    /// The aggregator; `None` in parts-only mode.
    pub aggregator: Option<Recipient<FileFinished>>,
    /// The supervisor.
    pub supervisor: Recipient<BatchDone>,
    /// Beneficiary failures logged so far, for the [`WARN_FAILURES`] limit.
    pub failures_logged: AtomicU64,
}

/// Fetches one batch (see the module docs).
pub struct BatchFetcher {
    batch: u64,
    /// Taken by the fetch, which lets go of it before reporting: the last
    /// reference is then the supervisor's, which frees the list it made.
    beneficiaries: Option<Arc<[String]>>,
    cx: Arc<FetcherContext>,
    /// `BatchDone` was sent (or must not be: the job is cancelled).
    reported: bool,
    /// Set while the parts are finished on a blocking thread.
    finishing: Arc<AtomicBool>,
    /// `Cancel`s waiting for that work to end.
    stop_waiters: Vec<oneshot::Sender<()>>,
}

impl BatchFetcher {
    /// A fetcher of `beneficiaries` as batch number `batch`.
    pub fn new(batch: u64, beneficiaries: Arc<[String]>, cx: Arc<FetcherContext>) -> Self {
        BatchFetcher {
            batch,
            beneficiaries: Some(beneficiaries),
            cx,
            reported: false,
            finishing: Arc::new(AtomicBool::new(false)),
            stop_waiters: Vec::new(),
        }
    }

    fn report(&mut self, outcome: BatchOutcome) {
        if !self.reported {
            self.reported = true;
            self.cx.supervisor.do_send(BatchDone {
                batch: self.batch,
                outcome,
            });
        }
    }
}

async fn fetch_batch(
    batch: u64,
    beneficiaries: Arc<[String]>,
    cx: Arc<FetcherContext>,
    finishing: Arc<AtomicBool>,
) -> Result<BatchStats> {
    let fetch = Fetch {
        job_id: cx.layout.job_id(),
        batch,
        source: &*cx.source,
        request_timeout: cx.request_timeout,
        cancel: &cx.cancel,
        failures_logged: &cx.failures_logged,
    };
    let (mut stats, parts) = fetch
        .write_parts(&beneficiaries, |kind| {
            PartWriter::create(&cx.layout, batch, kind)
        })
        .await?;
    drop(beneficiaries);
    let shared = cx.clone();
    finishing.store(true, Ordering::Relaxed);
    let finished = actix_rt::task::spawn_blocking(move || finish_parts(parts, &shared.cancel))
        .await
        .unwrap_or_else(|e| {
            log::error!(
                "job {}: batch {batch}: finishing parts panicked: {e}",
                cx.layout.job_id()
            );
            Err(Error::ActorGone { actor: "fetcher" })
        })?;
    for part in finished.iter().flatten() {
        stats.bytes += part.bytes;
        stats.parts += 1;
    }
    stats.commit(&cx.progress);
    announce(cx.aggregator.as_ref(), finished.iter().flatten());
    Ok(stats)
}

/// The fetch of one batch's beneficiaries into its parts: what a
/// [`BatchFetcher`] and a worker's claim (`crate::coordination::worker`) share.
pub(crate) struct Fetch<'a> {
    /// The job, for logs.
    pub job_id: &'a str,
    /// The batch number, for logs.
    pub batch: u64,
    /// Where claims come from.
    pub source: &'a dyn ClaimsSource,
    /// Time one beneficiary may take.
    pub request_timeout: Duration,
    /// Checked between beneficiaries: the fetch then ends with
    /// [`Error::Cancelled`].
    pub cancel: &'a AtomicBool,
    /// Beneficiary failures logged so far, for the [`WARN_FAILURES`] limit.
    pub failures_logged: &'a AtomicU64,
}

impl Fetch<'_> {
    /// Fetches `beneficiaries` one after the other: claims into the data part,
    /// each failure as one `OperationOutcome` into the error part (made by
    /// `create` when the first one comes). Answers the batch's figures (but
    /// `bytes` and `parts`, counted once the parts are finished) and its
    /// complete parts, the error part first: the data part reaching
    /// `finished/` marks the batch done.
    pub async fn write_parts(
        &self,
        beneficiaries: &[String],
        create: impl Fn(FileKind) -> Result<PartWriter>,
    ) -> Result<(BatchStats, [Option<CompletePart>; 2])> {
        let batch = self.batch;
        let mut stats = BatchStats::default();
        let mut data = create(FileKind::Data)?;
        let mut errors: Option<PartWriter> = None;
        for beneficiary in beneficiaries {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let fetched =
                match actix_rt::time::timeout(self.request_timeout, self.source.fetch(beneficiary))
                    .await
                {
                    Ok(result) => result,
                    Err(_) => Err(SourceError::new(
                        "timeout",
                        format!(
                            "fetch of beneficiary {beneficiary} timed out after {} ms",
                            self.request_timeout.as_millis()
                        ),
                    )),
                };
            // The failure and its short cause.
            let checked = match fetched {
                Err(error) => {
                    let cause = error.cause(beneficiary);
                    Err((error, cause))
                }
                Ok(resources) => match resources
                    .iter()
                    .enumerate()
                    .find_map(|(i, r)| r.check_eob().err().map(|e| (i, e)))
                {
                    None => Ok(resources),
                    Some((index, problem)) => Err((
                        SourceError::new(
                            "invalid",
                            format!(
                                "the source returned an invalid resource for beneficiary \
                                 {beneficiary}: resource {index} is {problem}"
                            ),
                        ),
                        format!("invalid resource: {problem}"),
                    )),
                },
            };
            match checked {
                Ok(resources) => {
                    let count = resources.len() as u64;
                    stats.eobs_fetched += count;
                    for resource in &resources {
                        data.write_record(resource.as_str().as_bytes())?;
                    }
                    stats.eobs_written += count;
                    stats.with_eobs += u64::from(count > 0);
                }
                Err((error, cause)) => {
                    log_failure(self.failures_logged, self.job_id, batch, &error);
                    stats.causes.add(&cause, 1);
                    let outcome = operation_outcome(beneficiary, &error);
                    let part = match &mut errors {
                        Some(part) => part,
                        None => errors.insert(create(FileKind::Error)?),
                    };
                    part.write_record(outcome.as_str().as_bytes())?;
                    stats.errored += 1;
                }
            }
            stats.processed += 1;
        }
        // Completed here, so that the blocking thread gets nothing on the heap
        // (see `crate::store::part`).
        let parts = [
            errors.map(PartWriter::complete).transpose()?,
            Some(data.complete()?),
        ];
        Ok((stats, parts))
    }
}

/// Logs a beneficiary's failure: at warn level while the job has logged
/// fewer than [`WARN_FAILURES`], then at debug.
fn log_failure(logged: &AtomicU64, job: &str, batch: u64, error: &SourceError) {
    match logged.fetch_add(1, Ordering::Relaxed) {
        n if n < WARN_FAILURES => log::warn!("job {job}: batch {batch}: {error}"),
        WARN_FAILURES => {
            log::warn!("job {job}: batch {batch}: {error}");
            log::warn!(
                "job {job}: {WARN_FAILURES} beneficiary failures logged; further ones at debug \
                 level (the job's report counts them by cause)"
            );
        }
        _ => log::debug!("job {job}: batch {batch}: {error}"),
    }
}

/// Moves the complete parts of a batch into `finished/` in order, unless the
/// job is cancelled before the first: then they are deleted. Once one is
/// moved the batch is finished, so that no error part sits in `finished/`
/// without its batch (a job stopped on the failure threshold combines what
/// is finished). Blocking.
fn finish_parts(
    parts: [Option<CompletePart>; 2],
    cancel: &AtomicBool,
) -> Result<[Option<FinishedPart>; 2]> {
    let mut done = [None, None];
    let mut parts = parts.into_iter().flatten().zip(&mut done);
    let mut first = true;
    while let Some((part, done)) = parts.next() {
        if first && cancel.load(Ordering::Relaxed) {
            part.discard();
            parts.for_each(|(rest, _)| rest.discard());
            return Err(Error::Cancelled);
        }
        first = false;
        let finished = part.finish()?;
        if finished.kind == FileKind::Error {
            fault_point!("fetcher::error-part-finished", finished.path());
        }
        *done = Some(finished);
    }
    Ok(done)
}

/// Tells the aggregator (if there is one: none in parts-only jobs) of parts
/// that reached `finished/`.
pub(crate) fn announce<'a>(
    aggregator: Option<&Recipient<FileFinished>>,
    parts: impl IntoIterator<Item = &'a FinishedPart>,
) {
    let Some(aggregator) = aggregator else {
        return;
    };
    for part in parts {
        aggregator.do_send(FileFinished {
            batch: part.batch,
            kind: part.kind,
            bytes: part.bytes,
        });
    }
}

/// Records a batch whose fetcher was lost twice: one `OperationOutcome` per
/// beneficiary in its error part, an empty data part to mark it done. Blocking.
pub(crate) fn write_lost_batch(
    layout: &JobLayout,
    batch: u64,
    beneficiaries: &[String],
) -> Result<(BatchStats, Vec<FinishedPart>)> {
    let (mut stats, parts) = failed_batch_parts(
        beneficiaries,
        &format!("the fetcher of batch {batch} stopped unexpectedly twice"),
        "the fetcher stopped unexpectedly twice",
        |kind| PartWriter::create(layout, batch, kind),
    )?;
    let parts = parts
        .into_iter()
        .flatten()
        .map(CompletePart::finish)
        .collect::<Result<Vec<_>>>()?;
    stats.bytes = parts.iter().map(|p| p.bytes).sum();
    stats.parts = parts.len() as u64;
    Ok((stats, parts))
}

/// The parts of a batch given up on: one `OperationOutcome` per beneficiary
/// (saying `diagnostics`) in its error part, an empty data part to mark it
/// done, and its figures (every beneficiary failed, for `cause`). Blocking.
pub(crate) fn failed_batch_parts(
    beneficiaries: &[String],
    diagnostics: &str,
    cause: &str,
    create: impl Fn(FileKind) -> Result<PartWriter>,
) -> Result<(BatchStats, [Option<CompletePart>; 2])> {
    let error = SourceError::new("exception", diagnostics);
    let mut errors = create(FileKind::Error)?;
    for beneficiary in beneficiaries {
        errors.write_record(operation_outcome(beneficiary, &error).as_str().as_bytes())?;
    }
    let data = create(FileKind::Data)?;
    let mut causes = FailureCauses::default();
    causes.add(cause, beneficiaries.len() as u64);
    let stats = BatchStats {
        processed: beneficiaries.len() as u64,
        errored: beneficiaries.len() as u64,
        causes,
        ..BatchStats::default()
    };
    Ok((stats, [Some(errors.complete()?), Some(data.complete()?)]))
}

impl Actor for BatchFetcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let work = fetch_batch(
            self.batch,
            self.beneficiaries.take().unwrap_or_else(|| Arc::new([])),
            self.cx.clone(),
            self.finishing.clone(),
        );
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| {
            act.report(match result {
                Ok(stats) => BatchOutcome::Done(stats),
                Err(Error::Cancelled) => BatchOutcome::Cancelled,
                Err(e) => BatchOutcome::Failed(Arc::new(e)),
            });
            for waiter in act.stop_waiters.drain(..) {
                let _ = waiter.send(());
            }
            ctx.stop();
        }));
    }
}

impl Drop for BatchFetcher {
    fn drop(&mut self) {
        self.report(BatchOutcome::Lost);
    }
}

impl Handler<Cancel> for BatchFetcher {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Cancel, ctx: &mut Context<Self>) -> Self::Result {
        self.cx.cancel.store(true, Ordering::Relaxed);
        self.reported = true;
        if !self.finishing.load(Ordering::Relaxed) {
            ctx.stop();
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.stop_waiters.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
