//! The [`Worker`] actor: one process's share of every job in the coordination
//! database.
//!
//! A worker runs until it is stopped ([`StopWorker`], or its `System` going
//! down), doing two things at once:
//!
//! - **fetching**: `concurrency` slots each claim a batch of any running job
//!   ([`Coordinator::claim`]), fetch it into parts under fenced names in the
//!   job's `streaming/`, renew the lease while they do, fsync the parts,
//!   complete the batch under its token, and only then move the parts into
//!   `finished/` under the batch's plain name (see `claim.rs`). A claim that was
//!   taken over, or whose job was cancelled, drops its parts. A slot with
//!   nothing to claim waits `poll` and asks again.
//! - **aggregating**: every `poll` it tries to take the aggregator lease of each
//!   running job that has no live holder; for a job it holds, it runs today's
//!   aggregator on the shared job directory in watch mode, records each output
//!   in the database under the lease's token, adopts committed parts that their
//!   worker left behind, and ends the job (see `aggregate.rs`).
//!
//! The database decides what is done; the files follow it. A part reaches
//! `finished/` only after its (batch, token) was committed, so the aggregator
//! combines nothing a fenced-out worker wrote. Every call to the coordinator
//! waits while it is away ([`until_answered`]), so a restart of PostgreSQL
//! pauses the work and nothing more.
//!
//! The coordinator is any [`Coordinator`]: `PgCoordinator` for workers on many
//! machines, [`MemoryCoordinator`](crate::coordination::MemoryCoordinator) for
//! workers that share one process.
//!
//! What the job exports (beneficiaries, `since`, output options) comes from its
//! record; how to reach the claims source (URL, certificates, the synthetic
//! seed) is the worker's: [`SourceFor`] makes a job's source from its record.

mod aggregate;
mod claim;
mod files;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use futures::channel::mpsc;
use futures::stream::{FuturesUnordered, StreamExt};

use crate::config::{validate_name, JobConfig, DEFAULT_REQUEST_TIMEOUT};
use crate::coordination::{until_answered, AggregatorLease, Coordinator, JobRecord};
use crate::error::{Error, Result};
use crate::source::ClaimsSource;
use crate::store::layout::JobLayout;

/// Batches a worker fetches at once, by default.
pub const DEFAULT_WORKER_CONCURRENCY: usize = 4;

/// A claim's lease, by default: renewed every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How often an idle slot asks for a batch, and the aggregator role looks at
/// its job, by default.
pub const DEFAULT_POLL: Duration = Duration::from_millis(500);

/// Makes the claims source of a job from its record: the record says what to
/// export (its `since`), the worker how to reach the source.
pub type SourceFor = Arc<dyn Fn(&JobRecord) -> Result<Arc<dyn ClaimsSource>> + Send + Sync>;

/// How a worker runs: [`WorkerConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The directory of job directories, shared by every worker (NFS/EFS).
    pub root: PathBuf,
    /// This worker's name, recorded as the owner of its claims and leases.
    /// Default: `host:pid:start-millis`, unique across restarts.
    pub worker_id: String,
    /// Batches fetched at once. Default [`DEFAULT_WORKER_CONCURRENCY`].
    pub concurrency: usize,
    /// Lease of a claim and of an aggregator role; renewed every third of it.
    /// A dead worker's batches wait this long. Default [`DEFAULT_LEASE`].
    pub lease: Duration,
    /// How often an idle slot asks for a batch and the aggregator role looks
    /// at its job. Default [`DEFAULT_POLL`].
    pub poll: Duration,
    /// Time one beneficiary may take. Default 60 s, as in one process.
    pub request_timeout: Duration,
}

impl WorkerConfig {
    /// A worker over the job directories under `root`, with the defaults.
    pub fn new(root: impl Into<PathBuf>) -> WorkerConfig {
        WorkerConfig {
            root: root.into(),
            worker_id: default_worker_id(),
            concurrency: DEFAULT_WORKER_CONCURRENCY,
            lease: DEFAULT_LEASE,
            poll: DEFAULT_POLL,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Refuses a setting that cannot work, naming it.
    pub fn validate(&self) -> Result<()> {
        if self.worker_id.is_empty() || self.worker_id.len() > 256 {
            return Err(Error::config(
                "worker_id",
                "must be between 1 and 256 bytes",
            ));
        }
        if self.concurrency == 0 {
            return Err(Error::config("concurrency", "must be greater than zero"));
        }
        if self.lease < Duration::from_secs(1) {
            return Err(Error::config(
                "lease",
                format!("{:?} is shorter than a second", self.lease),
            ));
        }
        if self.poll.is_zero() || self.poll >= self.lease / 3 {
            return Err(Error::config(
                "poll",
                format!(
                    "{:?} must be above zero and below a third of the lease ({:?})",
                    self.poll, self.lease
                ),
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(Error::config(
                "request_timeout",
                "must be greater than zero",
            ));
        }
        Ok(())
    }
}

/// `host:pid:start-millis`.
fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{host}:{}:{started}", std::process::id())
}

/// What a worker has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Batches it completed.
    pub batches_completed: u64,
    /// Claims it lost (taken over, cancelled) or gave up on an error.
    pub batches_dropped: u64,
    /// Jobs it ended as their aggregator.
    pub jobs_finished: u64,
}

/// Stops the worker: no more claims; the batches being fetched are finished
/// (or dropped, if their claims are lost meanwhile); its aggregators are
/// cancelled and their leases released, for other workers to take at once.
/// Answered once done. (A worker that dies instead loses nothing either: its
/// leases expire and others take over.)
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct StopWorker;

/// Asks for the worker's [`WorkerStats`].
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "WorkerStats")]
pub struct GetWorkerStats;

/// Takes batches and aggregator roles of every job in the database (see the
/// module docs).
pub struct Worker {
    shared: Arc<Shared>,
    /// Ends (`None`) once every fetching slot has returned.
    slots_done: Option<mpsc::Receiver<()>>,
}

impl Worker {
    /// A worker on `db`, fetching from the source `sources` makes for each job.
    /// Refuses a config that cannot work ([`WorkerConfig::validate`]).
    pub fn new(
        db: Arc<dyn Coordinator>,
        config: WorkerConfig,
        sources: SourceFor,
    ) -> Result<Worker> {
        config.validate()?;
        Ok(Worker {
            slots_done: None,
            shared: Arc::new(Shared {
                db,
                config,
                sources,
                jobs: Mutex::default(),
                stopping: AtomicBool::new(false),
                roles: Mutex::default(),
                batches_completed: AtomicU64::new(0),
                batches_dropped: AtomicU64::new(0),
                jobs_finished: AtomicU64::new(0),
            }),
        })
    }
}

/// What the worker's tasks share.
struct Shared {
    db: Arc<dyn Coordinator>,
    config: WorkerConfig,
    sources: SourceFor,
    /// The jobs this worker has met, by id, while they run.
    jobs: Mutex<HashMap<String, Arc<JobHandle>>>,
    /// Set by [`StopWorker`]: no more claims, waits end.
    stopping: AtomicBool,
    /// The aggregator roles held, by job.
    roles: Mutex<HashMap<String, Role>>,
    batches_completed: AtomicU64,
    batches_dropped: AtomicU64,
    jobs_finished: AtomicU64,
}

/// An aggregator role held: its lease, and its aggregator once started.
type Role = (AggregatorLease, Option<Addr<crate::Aggregator>>);

/// A job as a worker works on it: made from its record once.
struct JobHandle {
    record: JobRecord,
    config: JobConfig,
    layout: JobLayout,
    source: Arc<dyn ClaimsSource>,
    /// Beneficiary failures this worker logged at warn level for the job.
    failures_logged: AtomicU64,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// A database call, repeated while the database is away.
    async fn ask<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        until_answered(what, &self.stopping, |e| self.db.is_transient(e), call).await
    }

    /// The job `job_id` as this worker works on it, its directory readied.
    async fn job(&self, job_id: &str) -> Result<Arc<JobHandle>> {
        if let Some(job) = self.jobs.lock().expect("jobs").get(job_id) {
            return Ok(job.clone());
        }
        // An id from the database names a directory: checked as a submitter's is.
        validate_name("job_id", job_id)?;
        let record = self.ask("read a job", || self.db.status(job_id)).await?;
        let options = &record.options;
        let config = JobConfig::builder(&self.config.root, job_id, &record.contract)
            .batch_size(record.batch_size)
            .max_bytes(options.max_bytes)
            .multiplier(options.multiplier)
            .gzip(options.gzip)
            .max_failure_rate(options.max_failure_rate)
            .request_timeout(self.config.request_timeout)
            .build()?;
        let layout = config.layout().with_sync_parts(true);
        let source = (self.sources)(&record)?;
        let dirs = layout.clone();
        actix_rt::task::spawn_blocking(move || files::ready_job_dirs(&dirs))
            .await
            .unwrap_or(Err(Error::ActorGone { actor: "worker" }))?;
        let job = Arc::new(JobHandle {
            record,
            config,
            layout,
            source,
            failures_logged: AtomicU64::new(0),
        });
        self.jobs
            .lock()
            .expect("jobs")
            .insert(job_id.to_owned(), job.clone());
        Ok(job)
    }

    /// Forgets the jobs that no longer run.
    fn keep_jobs(&self, running: &[String]) {
        self.jobs
            .lock()
            .expect("jobs")
            .retain(|id, _| running.contains(id));
    }
}

/// Waits `period`, or less once the worker is stopping.
async fn pause(shared: &Shared, period: Duration) {
    if !shared.stopping() {
        actix_rt::time::sleep(period).await;
    }
}

/// One fetching slot: claims and works batches one after the other, until the
/// worker stops. Drops `_alive` when it returns.
async fn fetch_slot(shared: Arc<Shared>, _alive: mpsc::Sender<()>) {
    let id = shared.config.worker_id.clone();
    while !shared.stopping() {
        let claimed = shared
            .ask("claim a batch", || {
                shared.db.claim(&id, shared.config.lease)
            })
            .await;
        match claimed {
            Ok(Some(claim)) => claim::work(&shared, claim).await,
            Ok(None) => pause(&shared, shared.config.poll).await,
            Err(Error::Cancelled) => return,
            Err(e) => {
                log::error!("{id}: claiming a batch: {e}");
                pause(&shared, shared.config.poll).await;
            }
        }
    }
}

/// Takes the aggregator role of every running job without a live holder, and
/// runs the roles it holds.
async fn aggregator_roles(shared: Arc<Shared>) {
    let id = shared.config.worker_id.clone();
    let mut held = FuturesUnordered::new();
    while !shared.stopping() {
        match shared
            .ask("list the running jobs", || shared.db.running_jobs())
            .await
        {
            Ok(jobs) => {
                shared.keep_jobs(&jobs);
                for job in jobs {
                    if shared.roles.lock().expect("roles").contains_key(&job) {
                        continue;
                    }
                    match shared
                        .ask("acquire an aggregator lease", || {
                            shared.db.acquire_aggregator(&job, &id, shared.config.lease)
                        })
                        .await
                    {
                        Ok(Some(lease)) => {
                            log::info!(
                                "{id}: aggregating job {job} (aggregator token {})",
                                lease.token
                            );
                            shared
                                .roles
                                .lock()
                                .expect("roles")
                                .insert(job, (lease.clone(), None));
                            held.push(aggregate::hold(shared.clone(), lease));
                        }
                        Ok(None) => {}
                        Err(Error::Cancelled) => return,
                        Err(e) => log::error!("{id}: taking the aggregator role of {job}: {e}"),
                    }
                }
            }
            Err(Error::Cancelled) => return,
            Err(e) => log::error!("{id}: listing the running jobs: {e}"),
        }
        // Wait a poll, going on with the roles held meanwhile.
        let tick = actix_rt::time::sleep(shared.config.poll);
        futures::pin_mut!(tick);
        loop {
            if held.is_empty() {
                tick.await;
                break;
            }
            match futures::future::select(tick.as_mut(), held.next()).await {
                futures::future::Either::Left(_) => break,
                futures::future::Either::Right(_) => {}
            }
        }
    }
}

impl Actor for Worker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let config = &self.shared.config;
        log::info!(
            "{}: working on {} ({} batches at once, lease {:?}) under {}",
            config.worker_id,
            self.shared.db.describe(),
            config.concurrency,
            config.lease,
            config.root.display()
        );
        let (alive, done) = mpsc::channel(0);
        for _ in 0..config.concurrency {
            ctx.spawn(fetch_slot(self.shared.clone(), alive.clone()).into_actor(self));
        }
        self.slots_done = Some(done);
        ctx.spawn(aggregator_roles(self.shared.clone()).into_actor(self));
    }
}

impl Handler<StopWorker> for Worker {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: StopWorker, _: &mut Context<Self>) -> Self::Result {
        let shared = self.shared.clone();
        shared.stopping.store(true, Ordering::Relaxed);
        let slots_done = self.slots_done.take();
        let work = async move {
            let roles: Vec<_> = shared.roles.lock().expect("roles").drain().collect();
            for (job, (lease, aggregator)) in roles {
                if let Some(aggregator) = aggregator {
                    let _ = aggregator.send(crate::Cancel).await;
                }
                if let Err(e) = shared.db.release_aggregator(&lease).await {
                    log::warn!("job {job}: releasing the aggregator lease: {e}");
                }
            }
            if let Some(mut slots_done) = slots_done {
                while slots_done.next().await.is_some() {}
            }
        };
        Box::pin(work.into_actor(self).map(|(), _, ctx| ctx.stop()))
    }
}

impl Handler<GetWorkerStats> for Worker {
    type Result = MessageResult<GetWorkerStats>;

    fn handle(&mut self, _: GetWorkerStats, _: &mut Context<Self>) -> Self::Result {
        let s = &self.shared;
        MessageResult(WorkerStats {
            batches_completed: s.batches_completed.load(Ordering::Relaxed),
            batches_dropped: s.batches_dropped.load(Ordering::Relaxed),
            jobs_finished: s.jobs_finished.load(Ordering::Relaxed),
        })
    }
}
