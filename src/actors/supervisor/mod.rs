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
//! *idle* → *preparing* (the job directory opened — locked, recovered — on a
//! blocking thread) → *fetching* (fetchers started on a pool of arbiters, one
//! per CPU by default, at most `concurrency` at a time; batches of `batch_size`
//! beneficiaries pulled from the caller's iterator, see `plan` and `pool`) →
//! *finalizing* (`streaming/` removed, then [`StreamingClosed`] sent; the
//! aggregator combines what is left and answers with its count) → *reporting*
//! (outputs read back from the journal) → *done* (the supervisor stops; the
//! report answers `RunJob` once the job's work has ended, see below). A job
//! found completed goes from preparing to reporting; a directory that cannot be
//! opened is *refused*, and the error answers `RunJob`. Each state is a variant
//! of `Phase` that carries what the job holds in it.
//!
//! *Stopping* (cancel, failure threshold, an I/O error) interrupts fetching or
//! finalizing (a cancel while preparing, once the directory is open; once
//! reporting, the job has ended): fetchers get [`Cancel`]. On cancel the
//! aggregator gets [`Cancel`] too and `streaming/`, `finished/` and temp
//! outputs are removed; on an I/O error every part stays where it is, so that
//! nothing is lost. On the failure threshold `streaming/` is removed and the
//! aggregator gets [`StreamingClosed`], as when the job completes: the finished
//! parts become outputs, so that the error outputs hold an `OperationOutcome`
//! for each failed beneficiary, and the reason names the most frequent causes
//! with counts.
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

use std::mem;
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
use crate::error::{Error, Result};
use crate::report::{JobReport, JobStatus, ProgressCounters, Timings};
use crate::source::ClaimsSource;
use crate::store::layout::JobLayout;
use crate::store::lock::{JobLock, JobMeta};
use crate::store::recovery::{self, JobState};

mod files;
mod plan;
mod pool;

pub(crate) use files::{list_outputs, remove_streaming, remove_working_files};
use plan::{AfterLoss, Batch, BatchPlan, Pulled};
use pool::{start_arbiter, FetcherPool};

/// The sender of the answer to `RunJob`.
type Reply = oneshot::Sender<Result<JobReport>>;

/// Where the job is (see the module docs), with what it holds there.
enum Phase {
    /// No job yet: waiting for `RunJob`.
    Idle,
    /// The job directory is being opened (locked, recovered) on a blocking
    /// thread. A `Cancel` here sets the cancel flag, read once it is open.
    Preparing {
        reply: Reply,
        /// When `RunJob` arrived.
        started: Instant,
        plan: BatchPlan<Addr<BatchFetcher>>,
    },
    /// Fetchers run, at most `concurrency` at once.
    Fetching { job: Job, fetch: Fetching },
    /// Every batch is done: `streaming/` is being removed, then the
    /// aggregator closed with [`StreamingClosed`].
    Finalizing { job: Job },
    /// Cancelled or failed: the fetchers are being stopped, then the parts
    /// wrapped up (see [`Wrapup`]).
    Stopping { job: Job },
    /// The job has ended: its outputs are being listed for the report. Too
    /// late for `Cancel`.
    Reporting { job: Job },
    /// The report is ready. It answers `RunJob` once the job's work has ended
    /// and its lock is released (in `stopped`).
    Done { job: Job, report: JobReport },
    /// The job directory could not be opened (nothing touched): the error
    /// answers `RunJob` once the supervisor has stopped.
    Refused { reply: Reply, error: Error },
    /// `RunJob` was answered.
    Ended,
}

/// A job whose directory is open: what it holds until its work has ended.
struct Job {
    reply: Reply,
    /// When `RunJob` arrived.
    started: Instant,
    /// One owner per job directory. Shared with the supervisor's blocking
    /// tasks, so that it is released after the last of them.
    lock: Arc<JobLock>,
    /// The fetchers' arbiters; none when the job ended before fetching
    /// (it was found completed, or cancelled while its directory was opened).
    pool: FetcherPool,
    /// The aggregator and its own arbiter, whose blocking threads run its
    /// steps; `None` in a parts-only job and when the job ended before fetching.
    aggregator: Option<(Addr<Aggregator>, Arbiter)>,
}

impl Job {
    fn aggregator(&self) -> Option<Addr<Aggregator>> {
        self.aggregator.as_ref().map(|(addr, _)| addr.clone())
    }

    /// Ends the job's work, then releases its lock, then sends `answer`: see
    /// [`JobSupervisor::release`].
    fn end(self, job_id: &str, answer: Result<JobReport>) {
        let (aggregator, arbiter) = self.aggregator.unzip();
        // Handled even if its arbiter stops first: a dropped actor's context
        // reads its mailbox once more. Wakes steps waiting for their turn.
        if let Some(aggregator) = &aggregator {
            aggregator.do_send(Cancel);
        }
        for _ in 0..self.pool.stop_and_join(arbiter) {
            log::error!("job {job_id}: an arbiter panicked");
        }
        drop(aggregator);
        drop(self.lock);
        let _ = self.reply.send(answer);
    }
}

/// What the fetching phase holds.
struct Fetching {
    /// Which batch comes next; the running ones with their fetchers.
    plan: BatchPlan<Addr<BatchFetcher>>,
    /// What every fetcher of the job shares, made once when fetching starts:
    /// a batch then hands its fetcher's arbiter nothing of its own but its
    /// beneficiaries (see [`Fetching::start`]).
    context: Arc<FetcherContext>,
    /// When the first fetcher started; `None` while none has (a resume may
    /// skip every batch).
    started: Option<Instant>,
}

impl Fetching {
    /// Starts a fetcher of `batch` on the next arbiter of `pool`.
    fn start(&mut self, pool: &mut FetcherPool, batch: Batch) {
        self.started.get_or_insert_with(Instant::now);
        let cx = self.context.clone();
        let (number, list) = (batch.number, batch.beneficiaries.clone());
        let fetcher = BatchFetcher::start_in_arbiter(&pool.next().handle(), move |_| {
            BatchFetcher::new(number, list, cx)
        });
        self.plan.started(batch, fetcher);
    }
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
    /// Set when the job stops: read by its fetchers and blocking tasks.
    cancel: Arc<AtomicBool>,
    subscribers: Vec<Recipient<JobProgress>>,
    /// What the report tells of times, filled in as the job goes.
    timings: Timings,
    /// The aggregator's count, once it has answered [`StreamingClosed`].
    aggregations: u64,
    phase: Phase,
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
            subscribers: Vec::new(),
            timings: Timings::default(),
            aggregations: 0,
            phase: Phase::Idle,
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

    /// Takes the job out of a phase that has one, leaving [`Phase::Ended`]
    /// for the caller to replace; `None` (the phase untouched) otherwise.
    fn take_job(&mut self) -> Option<Job> {
        match mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Fetching { job, .. }
            | Phase::Finalizing { job }
            | Phase::Stopping { job }
            | Phase::Reporting { job } => Some(job),
            other => {
                self.phase = other;
                None
            }
        }
    }

    /// The job directory is open: fetch, or report a job completed earlier,
    /// or stop one cancelled meanwhile.
    fn prepared(&mut self, lock: JobLock, state: JobState, ctx: &mut Context<Self>) {
        let Phase::Preparing {
            reply,
            started,
            mut plan,
        } = mem::replace(&mut self.phase, Phase::Ended)
        else {
            unreachable!("only `RunJob` opens the job directory");
        };
        let mut job = Job {
            reply,
            started,
            lock: Arc::new(lock),
            pool: FetcherPool::none(),
            aggregator: None,
        };
        match state {
            JobState::Fresh => {}
            JobState::Resumed { done_batches } => {
                log::info!(
                    "job {}: resuming; {} batches already done",
                    self.config.job_id(),
                    done_batches.len()
                );
                plan.skip(done_batches);
            }
            JobState::Completed => {
                log::info!(
                    "job {}: completed earlier; nothing to do",
                    self.config.job_id()
                );
                self.report(job, JobStatus::Completed, true, ctx);
                return;
            }
        }
        if self.cancel.load(Ordering::Relaxed) {
            self.stopping(job, Vec::new(), JobStatus::Cancelled, Wrapup::Remove, ctx);
            return;
        }
        if !self.config.parts_only() {
            let aggregator = Aggregator::new(&self.config)
                .progress(self.progress.clone())
                .observer(ctx.address().recipient());
            let arbiter = start_arbiter(STEPS_IN_FLIGHT);
            let addr = Aggregator::start_in_arbiter(&arbiter.handle(), move |_| aggregator);
            job.aggregator = Some((addr, arbiter));
        }
        job.pool = FetcherPool::start(self.config.arbiters(), self.config.concurrency());
        let context = Arc::new(FetcherContext {
            layout: self.layout.clone(),
            source: self.source.clone(),
            request_timeout: self.config.request_timeout(),
            progress: self.progress.clone(),
            cancel: self.cancel.clone(),
            aggregator: job.aggregator().map(Addr::recipient),
            supervisor: ctx.address().recipient(),
            failures_logged: Default::default(),
        });
        let fetch = Fetching {
            plan,
            context,
            started: None,
        };
        self.phase = Phase::Fetching { job, fetch };
        self.fill(ctx);
    }

    /// Starts fetchers until `concurrency` run or the beneficiaries run out;
    /// finalizes once every batch is done.
    fn fill(&mut self, ctx: &mut Context<Self>) {
        let Phase::Fetching { job, fetch } = &mut self.phase else {
            return;
        };
        while fetch.plan.running() < self.config.concurrency() {
            match fetch.plan.pull() {
                Pulled::Fetch(batch) => {
                    self.progress.add_queued(batch.beneficiaries.len() as u64);
                    fetch.start(&mut job.pool, batch);
                }
                Pulled::Skipped(beneficiaries) => self.progress.add_resumed(beneficiaries as u64),
                Pulled::Exhausted => break,
            }
        }
        if fetch.plan.is_finished() {
            self.finalize(ctx);
        }
    }

    /// Writes a twice-lost batch as failed beneficiaries, then goes on.
    fn record_lost_batch(&mut self, batch: Batch, ctx: &mut Context<Self>) {
        let Phase::Fetching { job, .. } = &self.phase else {
            return;
        };
        let layout = self.layout.clone();
        let work = spawn_holding(Some(job.lock.clone()), move || {
            write_lost_batch(&layout, batch.number, &batch.beneficiaries)
        });
        ctx.spawn(work.into_actor(self).map(move |written, act, ctx| {
            let Phase::Fetching { fetch, .. } = &mut act.phase else {
                return;
            };
            fetch.plan.recorded();
            match written.unwrap_or(Err(Error::ActorGone { actor: "fetcher" })) {
                Ok((stats, parts)) => {
                    stats.commit(&act.progress);
                    announce(fetch.context.aggregator.as_ref(), &parts);
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

    /// Every batch is done: removes `streaming/`, closes the aggregator, then
    /// reports.
    fn finalize(&mut self, ctx: &mut Context<Self>) {
        let Phase::Fetching { job, fetch } = mem::replace(&mut self.phase, Phase::Ended) else {
            unreachable!("only a fetching job finalizes");
        };
        if let Some(started) = fetch.started {
            self.timings.fetch = started.elapsed().as_millis() as u64;
        }
        let work = close_streaming(
            Some(job.lock.clone()),
            self.layout.clone(),
            job.aggregator(),
        );
        self.phase = Phase::Finalizing { job };
        ctx.spawn(work.into_actor(self).map(|result, act, ctx| {
            if !matches!(act.phase, Phase::Finalizing { .. }) {
                return;
            }
            match result {
                Ok((count, finalize_ms)) => {
                    act.aggregations = count;
                    act.timings.finalize = finalize_ms;
                    if let Some(job) = act.take_job() {
                        act.report(job, JobStatus::Completed, false, ctx);
                    }
                }
                Err(e) => act.stop_job(JobStatus::Failed(e.to_string()), Wrapup::Keep, ctx),
            }
        }));
    }

    /// Stops a fetching or finalizing job (see [`stopping`](Self::stopping));
    /// in any other phase there is nothing to stop, or it is stopping already.
    fn stop_job(&mut self, status: JobStatus, wrapup: Wrapup, ctx: &mut Context<Self>) {
        let (job, fetchers) = match mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Fetching { job, mut fetch } => {
                if let Some(started) = fetch.started {
                    self.timings.fetch = started.elapsed().as_millis() as u64;
                }
                let fetchers = fetch.plan.stop().collect();
                (job, fetchers)
            }
            Phase::Finalizing { job } => (job, Vec::new()),
            other => {
                self.phase = other;
                return;
            }
        };
        self.stopping(job, fetchers, status, wrapup, ctx);
    }

    /// Stops `fetchers`, then wraps up as `wrapup` says, then reports.
    fn stopping(
        &mut self,
        job: Job,
        fetchers: Vec<Addr<BatchFetcher>>,
        status: JobStatus,
        wrapup: Wrapup,
        ctx: &mut Context<Self>,
    ) {
        match &status {
            JobStatus::Failed(reason) => {
                log::warn!("job {}: stopping: {reason}", self.config.job_id())
            }
            _ => log::info!("job {}: stopping ({status:?})", self.config.job_id()),
        }
        self.cancel.store(true, Ordering::Relaxed);
        // Each fetcher answers once no file work of its own is running.
        let fetchers: Vec<_> = fetchers
            .iter()
            .map(|fetcher| fetcher.send(Cancel))
            .collect();
        let aggregator = job.aggregator();
        let layout = self.layout.clone();
        let lock = (wrapup != Wrapup::Keep).then(|| job.lock.clone());
        self.phase = Phase::Stopping { job };
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
                let job_id = layout.job_id().to_owned();
                let cleaned =
                    spawn_holding(lock, move || files::remove_working_files(&layout)).await;
                if let Ok(Err(e)) = cleaned {
                    log::error!("job {job_id}: cleanup after stop: {e}");
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
                    log::error!(
                        "job {}: combining the finished parts of a failed job: {e}",
                        act.config.job_id()
                    );
                    JobStatus::Failed(format!(
                        "{}; combining the finished parts then failed: {e}",
                        act.threshold_error()
                    ))
                }
            };
            if let Some(job) = act.take_job() {
                act.report(job, status, false, ctx);
            }
        }));
    }

    /// Reads the outputs back from the journal, then stops the supervisor,
    /// which answers `RunJob` (see [`release`](Self::release)). `earlier`: the
    /// job had completed before this run, which did nothing.
    fn report(&mut self, job: Job, status: JobStatus, earlier: bool, ctx: &mut Context<Self>) {
        let layout = self.layout.clone();
        let completed = status.is_completed();
        // A parts-only job's outputs and journal are its aggregator's.
        let sealing = completed && !self.config.parts_only();
        let lock = job.lock.clone();
        let work = spawn_holding(Some(job.lock.clone()), move || {
            files::list_outputs(&layout, sealing.then_some(&*lock))
        });
        self.phase = Phase::Reporting { job };
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
            let Some(job) = act.take_job() else {
                return;
            };
            act.timings.total = job.started.elapsed().as_millis() as u64;
            let report = JobReport {
                job_id: act.config.job_id().to_owned(),
                contract: act.config.contract().to_owned(),
                status: status.clone(),
                completed_earlier: earlier,
                aggregations: act.aggregations,
                outputs,
                stray_files: strays,
                progress: act.progress.snapshot(),
                timings_ms: act.timings,
            };
            act.publish(Some(status));
            act.phase = Phase::Done { job, report };
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
    spawn_holding(lock, move || files::remove_streaming(&layout))
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
        let gone = || {
            Err(Error::ActorGone {
                actor: "supervisor",
            })
        };
        let job_id = self.config.job_id();
        match mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Idle | Phase::Ended => {}
            Phase::Preparing { reply, .. } => {
                let _ = reply.send(gone());
            }
            Phase::Refused { reply, error } => {
                let _ = reply.send(Err(error));
            }
            Phase::Fetching { job, .. }
            | Phase::Finalizing { job }
            | Phase::Stopping { job }
            | Phase::Reporting { job } => job.end(job_id, gone()),
            Phase::Done { job, report } => job.end(job_id, Ok(report)),
        }
    }
}

impl Handler<RunJob> for JobSupervisor {
    type Result = ResponseFuture<Result<JobReport>>;

    fn handle(&mut self, msg: RunJob, ctx: &mut Context<Self>) -> Self::Result {
        if !matches!(self.phase, Phase::Idle) {
            let path = self.layout.job_dir().to_owned();
            return Box::pin(async move {
                Err(Error::JobDirectory {
                    path,
                    reason: "this supervisor already runs a job".into(),
                })
            });
        }
        let (tx, rx) = oneshot::channel();
        self.progress.add_expected(msg.expected);
        self.phase = Phase::Preparing {
            reply: tx,
            started: Instant::now(),
            plan: BatchPlan::new(msg.beneficiaries, self.config.batch_size()),
        };
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
                Err(error) => {
                    if let Phase::Preparing { reply, .. } =
                        mem::replace(&mut act.phase, Phase::Ended)
                    {
                        act.phase = Phase::Refused { reply, error };
                    }
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
        let Phase::Fetching { job, fetch } = &mut self.phase else {
            return;
        };
        let Some((batch, _)) = fetch.plan.ended(msg.batch) else {
            return;
        };
        match msg.outcome {
            BatchOutcome::Done(_) => self.batch_finished(ctx),
            BatchOutcome::Cancelled => {}
            BatchOutcome::Failed(error) => {
                self.stop_job(JobStatus::Failed(error.to_string()), Wrapup::Keep, ctx);
            }
            BatchOutcome::Lost => match fetch.plan.lost(batch) {
                AfterLoss::Retry(batch) => {
                    log::warn!(
                        "job {}: batch {}: fetcher stopped unexpectedly; retrying",
                        self.config.job_id(),
                        msg.batch
                    );
                    fetch.start(&mut job.pool, batch);
                }
                AfterLoss::Record(batch) => {
                    log::error!(
                        "job {}: batch {}: fetcher lost twice; counting it as failed",
                        self.config.job_id(),
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
            Phase::Preparing { .. } => self.cancel.store(true, Ordering::Relaxed),
            Phase::Fetching { .. } | Phase::Finalizing { .. } => {
                self.stop_job(JobStatus::Cancelled, Wrapup::Remove, ctx)
            }
            Phase::Idle
            | Phase::Stopping { .. }
            | Phase::Reporting { .. }
            | Phase::Done { .. }
            | Phase::Refused { .. }
            | Phase::Ended => {}
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
