//! The [`JobSupervisor`] actor: runs one job from directories to report.
//!
//! # Messages
//!
//! | message | sent by | answer |
//! |---|---|---|
//! | [`RunJob`] | the caller | the [`JobReport`] when the job ends; `Err` only when it could not start (nothing touched) |
//! | [`GetProgress`] | anyone, any time | a [`Progress`](crate::Progress) snapshot |
//! | [`Subscribe`] | anyone | — ; [`JobProgress`] events follow each batch and output |
//! | [`Cancel`] | the caller | — ; the report of `RunJob` says `cancelled` |
//! | [`BatchDone`] | each fetcher, exactly once | — |
//! | [`AggregatorEvent`] | the aggregator | — |
//!
//! # States
//!
//! *idle* → *preparing* (job directories created on a blocking thread) →
//! *fetching* (fetchers started on a pool of arbiters, one per CPU by default, at
//! most `concurrency` at a time, beneficiaries pulled `batch_size` at a time from
//! the caller's iterator) → *finalizing* (`streaming/` removed, then
//! [`StreamingClosed`] sent; the aggregator combines what is left and answers with
//! its count) → *reporting* (outputs read back from the journal) → stopped.
//! *Stopping* (cancel, failure threshold, an I/O error) can interrupt any state:
//! fetchers get [`Cancel`]. On cancel the aggregator gets [`Cancel`] too and
//! `streaming/`, `finished/` and temp outputs are removed; on an I/O error every
//! part stays where it is, so that nothing is lost. On the failure threshold
//! `streaming/` is removed and the aggregator gets [`StreamingClosed`], as when
//! the job completes: the finished parts become outputs, so that the error
//! outputs hold an `OperationOutcome` for each failed beneficiary, and the
//! reason names the most frequent causes with counts.
//!
//! Fetchers talk back through `Recipient`s and `do_send`; the supervisor never
//! waits on a child that could be waiting on it.
//!
//! # The lock outlives the job's work
//!
//! The [`JobLock`] promises one owner per job directory, so it is released only
//! once no file work of the job can run any more — also when the supervisor is
//! stopped from outside mid-job (its arbiter or `System` going down), where no
//! [`Cancel`] is handled and nothing is awaited. Then `stopped` cancels the job,
//! stops the fetchers' arbiters and the aggregator's own arbiter and joins their
//! threads: an arbiter's thread ends only after the blocking tasks of its
//! runtime (a part being renamed, an output being combined) have returned. The
//! supervisor's own blocking tasks hold a clone of the lock until they return.
//! Only then is the lock released and `RunJob` answered. (Were the aggregator on
//! the supervisor's arbiter, its steps would run on that runtime's blocking
//! threads, which nothing can wait for from inside the runtime: a new owner could
//! recover the directory while an old step still claims and publishes outputs.)

use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use futures::channel::oneshot;

use crate::actors::aggregator::{Aggregator, STEPS_IN_FLIGHT};
use crate::actors::fetcher::{announce, write_lost_batch, BatchFetcher, FetcherContext};
use crate::actors::messages::{
    AggregatorEvent, BatchDone, BatchOutcome, Cancel, GetProgress, JobProgress, RunJob,
    StreamingClosed, Subscribe,
};
use crate::config::JobConfig;
use crate::error::{Error, IoContext, Result};
use crate::fault::fault_point;
use crate::report::{JobOutput, JobReport, JobStatus, ProgressCounters, Timings};
use crate::source::ClaimsSource;
use crate::store::journal;
use crate::store::layout::{JobLayout, TEMP_SUFFIX};
use crate::store::lock::{JobLock, JobMeta};
use crate::store::recovery::{self, JobState};

mod plan;
mod pool;

use plan::{AfterLoss, Batch, BatchPlan, Pulled};
use pool::{start_arbiter, FetcherPool};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Preparing,
    Fetching,
    Finalizing,
    Stopping,
}

/// What a stopping job does with its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrapup {
    /// Cancelled: `streaming/`, `finished/` and temp outputs are removed.
    Remove,
    /// An I/O or aggregation error: every part stays where it is, so that
    /// nothing is lost.
    Keep,
    /// Too many failures: unfinished parts are removed, finished ones combined
    /// into outputs, so that the job directory holds the `OperationOutcome`s
    /// that explain the failure (and a resumed run goes on after them).
    Combine,
}

/// Runs one job (see the module docs for its messages and states).
pub struct JobSupervisor {
    config: JobConfig,
    layout: JobLayout,
    source: Arc<dyn ClaimsSource>,
    progress: Arc<ProgressCounters>,
    cancel: Arc<AtomicBool>,
    phase: Phase,
    /// The job's batches, made by `RunJob`.
    plan: Option<BatchPlan<Addr<BatchFetcher>>>,
    /// Held for the whole job: one owner per job directory. Shared with the
    /// supervisor's blocking tasks, so that it is released after the last of them.
    lock: Option<Arc<JobLock>>,
    /// The fetchers' arbiters, started once the job directory is open.
    pool: Option<FetcherPool>,
    /// What every fetcher of the job shares, made once when fetching starts:
    /// a batch then hands its fetcher's arbiter nothing of its own but its
    /// beneficiaries (see `spawn_fetcher`).
    fetchers: Option<Arc<FetcherContext>>,
    /// The aggregator's own arbiter, whose blocking threads run its steps; joined
    /// (with the pool) before the lock is released.
    aggregator_arbiter: Option<Arbiter>,
    aggregator: Option<Addr<Aggregator>>,
    reply: Option<oneshot::Sender<Result<JobReport>>>,
    /// The answer to `RunJob`, sent once the job's work has ended and its lock
    /// is released (in `stopped`).
    answer: Option<Result<JobReport>>,
    subscribers: Vec<Recipient<JobProgress>>,
    started: Instant,
    fetch_started: Option<Instant>,
    timings: Timings,
    aggregations: u64,
}

impl JobSupervisor {
    /// A supervisor for the job of `config`, fetching from `source`.
    pub fn new(config: JobConfig, source: Arc<dyn ClaimsSource>) -> Self {
        JobSupervisor {
            layout: config.layout(),
            config,
            source,
            progress: Arc::default(),
            cancel: Arc::new(AtomicBool::new(false)),
            phase: Phase::Idle,
            plan: None,
            lock: None,
            pool: None,
            fetchers: None,
            aggregator_arbiter: None,
            aggregator: None,
            reply: None,
            answer: None,
            subscribers: Vec::new(),
            started: Instant::now(),
            fetch_started: None,
            timings: Timings::default(),
            aggregations: 0,
        }
    }

    /// The job's counters, shared: read them at any time.
    pub fn progress(&self) -> Arc<ProgressCounters> {
        self.progress.clone()
    }

    fn publish(&self, status: Option<JobStatus>) {
        let event = JobProgress {
            job_id: self.config.job_id().to_owned(),
            progress: self.progress.snapshot(),
            status,
        };
        for subscriber in &self.subscribers {
            subscriber.do_send(event.clone());
        }
    }

    fn prepared(&mut self, lock: JobLock, state: JobState, ctx: &mut Context<Self>) {
        self.lock = Some(Arc::new(lock));
        match state {
            JobState::Fresh => {}
            JobState::Resumed { done_batches } => {
                log::info!(
                    "job {}: resuming; {} batches already done",
                    self.config.job_id(),
                    done_batches.len()
                );
                if let Some(plan) = &mut self.plan {
                    plan.skip(done_batches);
                }
            }
            JobState::Completed => {
                log::info!(
                    "job {}: completed earlier; nothing to do",
                    self.config.job_id()
                );
                self.phase = Phase::Finalizing;
                self.report(JobStatus::Completed, ctx);
                return;
            }
        }
        if self.cancel.load(Ordering::Relaxed) {
            self.stop_job(JobStatus::Cancelled, Wrapup::Remove, ctx);
            return;
        }
        if !self.config.parts_only() {
            let aggregator = Aggregator::new(&self.config)
                .progress(self.progress.clone())
                .observer(ctx.address().recipient());
            let arbiter = start_arbiter(STEPS_IN_FLIGHT);
            self.aggregator = Some(Aggregator::start_in_arbiter(&arbiter.handle(), move |_| {
                aggregator
            }));
            self.aggregator_arbiter = Some(arbiter);
        }
        self.pool = Some(FetcherPool::start(
            self.config.arbiters(),
            self.config.concurrency(),
        ));
        self.fetchers = Some(Arc::new(FetcherContext {
            layout: self.layout.clone(),
            source: self.source.clone(),
            request_timeout: self.config.request_timeout(),
            progress: self.progress.clone(),
            cancel: self.cancel.clone(),
            aggregator: self.aggregator.clone().map(Addr::recipient),
            supervisor: ctx.address().recipient(),
            failures_logged: Default::default(),
        }));
        self.phase = Phase::Fetching;
        self.fill(ctx);
    }

    /// Starts fetchers until `concurrency` run or the beneficiaries run out.
    fn fill(&mut self, ctx: &mut Context<Self>) {
        if self.phase != Phase::Fetching {
            return;
        }
        while let Some(plan) = &mut self.plan {
            if plan.running() >= self.config.concurrency() {
                break;
            }
            match plan.pull() {
                Pulled::Fetch(batch) => {
                    self.progress.add_queued(batch.beneficiaries.len() as u64);
                    self.spawn_fetcher(batch);
                }
                Pulled::Skipped(beneficiaries) => self.progress.add_resumed(beneficiaries as u64),
                Pulled::Exhausted => break,
            }
        }
        if self.plan.as_ref().is_some_and(BatchPlan::is_finished) {
            self.finalize(ctx);
        }
    }

    fn spawn_fetcher(&mut self, batch: Batch) {
        // Set before the phase becomes `Fetching`, the only one that spawns.
        let cx = self
            .fetchers
            .clone()
            .expect("the fetchers' context is made first");
        self.fetch_started.get_or_insert_with(Instant::now);
        let arbiter = self
            .pool
            .as_mut()
            .expect("the pool is started first")
            .next();
        let (number, list) = (batch.number, batch.beneficiaries.clone());
        let fetcher = BatchFetcher::start_in_arbiter(&arbiter.handle(), move |_| {
            BatchFetcher::new(number, list, cx)
        });
        if let Some(plan) = &mut self.plan {
            plan.started(batch, fetcher);
        }
    }

    /// Writes a twice-lost batch as failed beneficiaries, then goes on.
    fn record_lost_batch(&mut self, batch: Batch, ctx: &mut Context<Self>) {
        let layout = self.layout.clone();
        let work = spawn_holding(self.lock.clone(), move || {
            write_lost_batch(&layout, batch.number, &batch.beneficiaries)
        });
        ctx.spawn(work.into_actor(self).map(move |written, act, ctx| {
            if let Some(plan) = &mut act.plan {
                plan.recorded();
            }
            if act.phase != Phase::Fetching {
                return;
            }
            match written.unwrap_or(Err(Error::ActorGone { actor: "fetcher" })) {
                Ok((stats, parts)) => {
                    stats.commit(&act.progress);
                    let aggregator = act.aggregator.clone().map(Addr::recipient);
                    announce(aggregator.as_ref(), &parts);
                    act.batch_finished(ctx);
                }
                Err(e) => act.stop_job(JobStatus::Failed(e.to_string()), Wrapup::Keep, ctx),
            }
        }));
    }

    /// After a batch's parts are safe: publish, check the threshold, go on.
    fn batch_finished(&mut self, ctx: &mut Context<Self>) {
        self.publish(None);
        if let Some(error) = self.over_threshold() {
            self.stop_job(JobStatus::Failed(error.to_string()), Wrapup::Combine, ctx);
            return;
        }
        self.fill(ctx);
    }

    fn over_threshold(&self) -> Option<Error> {
        let p = self.progress.snapshot();
        let rate = self.config.max_failure_rate();
        let failed = p.patient_requests_processed > 0
            && p.patient_requests_errored as f64 > rate * p.patient_requests_processed as f64;
        failed.then(|| self.threshold_error())
    }

    /// The failure threshold error, from the counters of this moment.
    fn threshold_error(&self) -> Error {
        let p = self.progress.snapshot();
        Error::FailureThreshold {
            errored: p.patient_requests_errored,
            processed: p.patient_requests_processed,
            max_rate: self.config.max_failure_rate(),
            causes: self.progress.failure_causes(),
        }
    }

    fn finalize(&mut self, ctx: &mut Context<Self>) {
        self.phase = Phase::Finalizing;
        if let Some(started) = self.fetch_started {
            self.timings.fetch = started.elapsed().as_millis() as u64;
        }
        let work = close_streaming(
            self.lock.clone(),
            self.layout.clone(),
            self.aggregator.clone(),
        );
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| {
            if act.phase != Phase::Finalizing {
                return;
            }
            match result {
                Ok((count, finalize_ms)) => {
                    act.aggregations = count;
                    act.timings.finalize = finalize_ms;
                    act.report(JobStatus::Completed, ctx);
                }
                Err(e) => act.stop_job(JobStatus::Failed(e.to_string()), Wrapup::Keep, ctx),
            }
        }));
    }

    /// Stops the fetchers, then wraps up as `wrapup` says, then reports.
    fn stop_job(&mut self, status: JobStatus, wrapup: Wrapup, ctx: &mut Context<Self>) {
        if self.phase == Phase::Stopping {
            return;
        }
        match &status {
            JobStatus::Failed(reason) => {
                log::warn!("job {}: stopping: {reason}", self.config.job_id())
            }
            _ => log::info!("job {}: stopping ({status:?})", self.config.job_id()),
        }
        self.phase = Phase::Stopping;
        self.cancel.store(true, Ordering::Relaxed);
        // Each fetcher answers once no file work of its own is running.
        let fetchers: Vec<_> = self
            .plan
            .iter_mut()
            .flat_map(BatchPlan::stop)
            .map(|fetcher| fetcher.send(Cancel))
            .collect();
        if let Some(started) = self.fetch_started {
            if self.timings.fetch == 0 {
                self.timings.fetch = started.elapsed().as_millis() as u64;
            }
        }
        let aggregator = self.aggregator.take();
        let layout = self.layout.clone();
        let lock = (wrapup != Wrapup::Keep)
            .then(|| self.lock.clone())
            .flatten();
        let work = async move {
            // Once they answer, every finished part has been announced.
            futures::future::join_all(fetchers).await;
            if wrapup == Wrapup::Combine {
                return Some(close_streaming(lock, layout, aggregator).await);
            }
            if let Some(aggregator) = aggregator {
                let _ = aggregator.send(Cancel).await;
            }
            if wrapup == Wrapup::Remove {
                let cleaned = spawn_holding(lock, move || remove_working_files(&layout)).await;
                if let Ok(Err(e)) = cleaned {
                    log::error!("cleanup after stop: {e}");
                }
            }
            None
        };
        ctx.spawn(work.into_actor(self).map(move |combined, act, ctx| {
            // The reason is told again from the final counters, which count
            // the batches that finished while the job stopped: it then agrees
            // with the report's counters and the error outputs.
            let status = match combined {
                None => status,
                Some(Ok((count, finalize_ms))) => {
                    act.aggregations = count;
                    act.timings.finalize = finalize_ms;
                    JobStatus::Failed(act.threshold_error().to_string())
                }
                Some(Err(e)) => {
                    log::error!("combining the finished parts of a failed job: {e}");
                    JobStatus::Failed(format!(
                        "{}; combining the finished parts then failed: {e}",
                        act.threshold_error()
                    ))
                }
            };
            act.report(status, ctx)
        }));
    }

    /// Reads the outputs back from the journal and answers `RunJob`.
    fn report(&mut self, status: JobStatus, ctx: &mut Context<Self>) {
        let layout = self.layout.clone();
        let completed = status.is_completed();
        // A parts-only job's outputs and journal are its aggregator's.
        let sealing = completed && !self.config.parts_only();
        let lock = self.lock.clone();
        let work = spawn_holding(self.lock.clone(), move || {
            list_outputs(&layout, sealing.then_some(lock.as_deref()).flatten())
        });
        ctx.spawn(work.into_actor(self).map(move |listed, act, ctx| {
            let (status, outputs, strays) = match listed {
                Ok(Ok((outputs, strays))) => (status, outputs, strays),
                Ok(Err(e)) => (
                    failed_unless_failed(status, e.to_string()),
                    Vec::new(),
                    Vec::new(),
                ),
                Err(e) => (
                    failed_unless_failed(status, e.to_string()),
                    Vec::new(),
                    Vec::new(),
                ),
            };
            act.timings.total = act.started.elapsed().as_millis() as u64;
            let report = JobReport {
                job_id: act.config.job_id().to_owned(),
                contract: act.config.contract().to_owned(),
                status: status.clone(),
                aggregations: act.aggregations,
                outputs,
                stray_files: strays,
                progress: act.progress.snapshot(),
                timings_ms: act.timings,
            };
            act.publish(Some(status));
            act.answer = Some(Ok(report));
            ctx.stop();
        }));
    }
}

/// Runs `work` on a blocking thread, holding `lock` until it returns: the job's
/// lock is never released while the supervisor's own file work runs (that work
/// runs on the supervisor's runtime, which `stopped` cannot wait for).
fn spawn_holding<R, F>(lock: Option<Arc<JobLock>>, work: F) -> actix_rt::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    actix_rt::task::spawn_blocking(move || {
        let result = work();
        drop(lock);
        result
    })
}

/// Removes `streaming/` (the writers are done), then closes the aggregator
/// with [`StreamingClosed`]: answers its count of aggregations and the time it
/// took. Without an aggregator (parts only) the parts stay in `finished/`.
async fn close_streaming(
    lock: Option<Arc<JobLock>>,
    layout: JobLayout,
    aggregator: Option<Addr<Aggregator>>,
) -> Result<(u64, u64)> {
    spawn_holding(lock, move || {
        let streaming = layout.streaming();
        remove_dir_all_if_exists(streaming)?;
        fault_point!("supervisor::streaming-removed", streaming);
        Ok(())
    })
    .await
    .unwrap_or(Err(Error::ActorGone { actor: "cleanup" }))?;
    let closed = Instant::now();
    let Some(aggregator) = aggregator else {
        return Ok((0, 0));
    };
    let count = aggregator
        .send(StreamingClosed)
        .await
        .map_err(|_| Error::ActorGone {
            actor: "aggregator",
        })??;
    Ok((count, closed.elapsed().as_millis() as u64))
}

fn failed_unless_failed(status: JobStatus, reason: String) -> JobStatus {
    match status {
        JobStatus::Completed => JobStatus::Failed(reason),
        other => other,
    }
}

fn remove_dir_all_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(Error::io("remove", path, e)),
        _ => Ok(()),
    }
}

/// Removes `streaming/`, `finished/` (claims included) and temp outputs: what a
/// cancelled job leaves. `streaming/` goes first, so that no fetcher can move a
/// part into `finished/` after it is gone. Blocking.
fn remove_working_files(layout: &JobLayout) -> Result<()> {
    for dir in [layout.streaming(), layout.finished()] {
        // A fetcher's last rename may race the first attempt.
        let mut attempts = 3;
        while let Err(e) = remove_dir_all_if_exists(dir) {
            attempts -= 1;
            if attempts == 0 {
                return Err(e);
            }
        }
    }
    for entry in fs::read_dir(layout.job_dir()).at("list", layout.job_dir())? {
        let entry = entry.at("list", layout.job_dir())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(TEMP_SUFFIX) {
            fs::remove_file(entry.path()).at("remove", &entry.path())?;
        }
    }
    Ok(())
}

/// The job's outputs from the journal (data first, by number) and the stray
/// files left in `finished/`. A completed job (`completed` holds its lock)
/// records its outputs in its lock file and removes its journal: its directory
/// then holds the outputs only. Blocking.
fn list_outputs(
    layout: &JobLayout,
    completed: Option<&JobLock>,
) -> Result<(Vec<JobOutput>, Vec<String>)> {
    let sealed = match completed {
        Some(lock) => lock.meta()?.and_then(|meta| meta.completed),
        None => None,
    };
    let outputs = if layout.journal().exists() {
        journal::outputs(layout)?
    } else if let Some(sealed) = sealed {
        sealed
    } else {
        recovery::existing_outputs(layout)?
    };
    let mut strays = Vec::new();
    if let Ok(entries) = fs::read_dir(layout.finished()) {
        for entry in entries.flatten() {
            strays.push(entry.file_name().to_string_lossy().into_owned());
        }
        strays.sort();
    }
    if let Some(lock) = completed {
        lock.seal(&outputs)?;
        journal::remove(layout)?;
    }
    Ok((outputs, strays))
}

impl Actor for JobSupervisor {
    type Context = Context<Self>;

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.release();
    }
}

impl Drop for JobSupervisor {
    /// An actor dropped without `stopped` (its context never alive) still
    /// releases in order; after `stopped` there is nothing left to do.
    fn drop(&mut self) {
        self.release();
    }
}

impl JobSupervisor {
    /// Ends the job's work, then releases the lock, then answers `RunJob` (see
    /// the module docs). After a normal end nothing runs any more and the joins
    /// are immediate; when stopped from outside mid-job, this waits for the file
    /// operations in flight, which are short (a cancelled step stops at its next
    /// part). Blocks the supervisor's thread only for that long.
    fn release(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        // Handled even if its arbiter stops first: a dropped actor's context
        // reads its mailbox once more. Wakes steps waiting for their turn.
        let aggregator = self.aggregator.take();
        if let Some(aggregator) = &aggregator {
            aggregator.do_send(Cancel);
        }
        // Both are started together, the aggregator's arbiter first.
        if let Some(pool) = self.pool.take() {
            let panicked = pool.stop_and_join(self.aggregator_arbiter.take());
            for _ in 0..panicked {
                log::error!("job {}: an arbiter panicked", self.config.job_id());
            }
        }
        drop(aggregator);
        self.lock = None;
        let answer = self.answer.take().unwrap_or(Err(Error::ActorGone {
            actor: "supervisor",
        }));
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(answer);
        }
    }
}

impl Handler<RunJob> for JobSupervisor {
    type Result = ResponseFuture<Result<JobReport>>;

    fn handle(&mut self, msg: RunJob, ctx: &mut Context<Self>) -> Self::Result {
        if self.phase != Phase::Idle || self.reply.is_some() {
            let path = self.layout.job_dir().to_owned();
            return Box::pin(async move {
                Err(Error::JobDirectory {
                    path,
                    reason: "this supervisor already runs a job".into(),
                })
            });
        }
        let (tx, rx) = oneshot::channel();
        self.reply = Some(tx);
        self.started = Instant::now();
        self.progress.add_expected(msg.expected);
        self.plan = Some(BatchPlan::new(msg.beneficiaries, self.config.batch_size()));
        self.phase = Phase::Preparing;
        let layout = self.layout.clone();
        let meta = JobMeta {
            job_id: self.config.job_id().to_owned(),
            contract: self.config.contract().to_owned(),
            batch_size: self.config.batch_size(),
            boot_id: crate::store::lock::boot_id().map(str::to_owned),
            sync_parts: layout.sync_parts(),
            completed: None,
        };
        let resume = self.config.resume();
        let parts_only = self.config.parts_only();
        let work = actix_rt::task::spawn_blocking(move || {
            recovery::open_job(&layout, &meta, resume, parts_only)
        });
        ctx.spawn(work.into_actor(self).map(|opened, act, ctx| {
            match opened.unwrap_or(Err(Error::ActorGone { actor: "prepare" })) {
                Ok((lock, state)) => act.prepared(lock, state, ctx),
                Err(e) => {
                    act.answer = Some(Err(e));
                    ctx.stop();
                }
            }
        }));
        Box::pin(async move {
            rx.await.unwrap_or(Err(Error::ActorGone {
                actor: "supervisor",
            }))
        })
    }
}

impl Handler<BatchDone> for JobSupervisor {
    type Result = ();

    fn handle(&mut self, msg: BatchDone, ctx: &mut Context<Self>) {
        if self.phase != Phase::Fetching {
            return;
        }
        let Some(plan) = &mut self.plan else {
            return;
        };
        let Some((batch, _)) = plan.ended(msg.batch) else {
            return;
        };
        match msg.outcome {
            BatchOutcome::Done(_) => self.batch_finished(ctx),
            BatchOutcome::Cancelled => {}
            BatchOutcome::Failed(error) => {
                self.stop_job(JobStatus::Failed(error.to_string()), Wrapup::Keep, ctx);
            }
            BatchOutcome::Lost => match plan.lost(batch) {
                AfterLoss::Retry(batch) => {
                    log::warn!(
                        "batch {}: fetcher stopped unexpectedly; retrying",
                        msg.batch
                    );
                    self.spawn_fetcher(batch);
                }
                AfterLoss::Record(batch) => {
                    log::error!(
                        "batch {}: fetcher lost twice; counting it as failed",
                        msg.batch
                    );
                    self.record_lost_batch(batch, ctx);
                }
            },
        }
    }
}

impl Handler<AggregatorEvent> for JobSupervisor {
    type Result = ();

    fn handle(&mut self, msg: AggregatorEvent, ctx: &mut Context<Self>) {
        match msg {
            AggregatorEvent::Output(_) => self.publish(None),
            AggregatorEvent::Failed(error) => {
                self.stop_job(JobStatus::Failed(error.to_string()), Wrapup::Keep, ctx)
            }
        }
    }
}

impl Handler<GetProgress> for JobSupervisor {
    type Result = MessageResult<GetProgress>;

    fn handle(&mut self, _: GetProgress, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.progress.snapshot())
    }
}

impl Handler<Subscribe> for JobSupervisor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        self.subscribers.push(msg.0);
    }
}

impl Handler<Cancel> for JobSupervisor {
    type Result = ();

    fn handle(&mut self, _: Cancel, ctx: &mut Context<Self>) {
        match self.phase {
            Phase::Idle | Phase::Stopping => {}
            Phase::Preparing => self.cancel.store(true, Ordering::Relaxed),
            Phase::Fetching | Phase::Finalizing => {
                self.stop_job(JobStatus::Cancelled, Wrapup::Remove, ctx)
            }
        }
    }
}

/// Runs a whole job: starts a [`JobSupervisor`], sends [`RunJob`], returns the
/// report. Must be called inside a running actix `System`.
pub async fn run_job<I>(
    config: JobConfig,
    source: Arc<dyn ClaimsSource>,
    beneficiaries: I,
) -> Result<JobReport>
where
    I: IntoIterator<Item = String>,
    I::IntoIter: Send + 'static,
{
    JobSupervisor::new(config, source)
        .start()
        .send(RunJob::new(beneficiaries))
        .await
        .map_err(|_| Error::ActorGone {
            actor: "supervisor",
        })?
}
