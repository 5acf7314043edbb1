//! Every export of the service, and its life: queued, running, done, expired.
//!
//! Each export is recorded in `<root>/.exports/<id>.json` (its request, owner
//! and, once it ended, its report), so that after a restart finished exports
//! are served again and unfinished ones are resumed — exactly once, through
//! the engine's resume. At most `--max-running` jobs run at once (each job has
//! its own arbiters, so unbounded kick-offs would mean unbounded threads); the
//! others wait in a first-in, first-out queue. A finished export is deleted,
//! files and record, once its retention has passed.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use actix::{Actor, Addr};
use claims_aggregator::source::parse_since;
use claims_aggregator::{JobReport, JobStatus, JobSupervisor, RunJob};
use futures::channel::oneshot;
use futures::future::{FutureExt, Shared};
use serde::{Deserialize, Serialize};

use super::auth::Auth;
use super::contracts::Contract;
use super::settings::{Settings, DEFAULT_CONTRACT};

/// Directory of export records inside the root (a job id never starts with a dot).
const RECORDS_DIR: &str = ".exports";

/// An export as recorded on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// The export id: also the job id and the job directory's name.
    pub id: String,
    /// The contract exported.
    pub contract: String,
    /// The kick-off URL.
    pub request: String,
    /// `_since`, when given: only claims updated at or after it are exported.
    pub since: Option<String>,
    /// Kick-off time, milliseconds since the Unix epoch: the manifest's
    /// `transactionTime`, the instant the export's claims are complete up to,
    /// so that a client can pass it as the next export's `_since`.
    pub started_ms: u64,
    /// The client that asked for it (`None` when the service runs open): only
    /// that client sees it.
    #[serde(default)]
    pub owner: Option<String>,
    /// Parameters dropped under `Prefer: handling=lenient`, each reported as an
    /// information OperationOutcome in the manifest's `error` list.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// When the job ended, milliseconds since the Unix epoch: the retention
    /// counts from here.
    #[serde(default)]
    pub ended_ms: Option<u64>,
    /// The report, once the job ended.
    pub report: Option<JobReport>,
}

/// Where an export is in its life; a finished one's report is in its record.
pub enum State {
    /// Waiting for a free slot; `resume` when it was recorded before a restart.
    Queued { resume: bool },
    /// Its job runs; `ended` resolves once the job's end was handled.
    Running {
        supervisor: Addr<JobSupervisor>,
        ended: Shared<oneshot::Receiver<()>>,
    },
    /// Its job ended (completed, failed or cancelled).
    Done,
}

/// One export.
pub struct Export {
    /// What is recorded on disk.
    pub record: Record,
    /// Where it is.
    pub state: State,
}

/// The exports and the queue, under one lock so that a slot is taken and given
/// back in one step with the state change that causes it.
#[derive(Default)]
pub struct Jobs {
    /// Every export the service knows, by id.
    pub exports: HashMap<String, Export>,
    /// Ids of queued exports, oldest first.
    pub queue: VecDeque<String>,
    /// Jobs started and not yet ended (deleted ones included until they stop).
    running: usize,
}

/// The service's state: its settings, contracts, clients and exports.
pub struct Exports {
    /// The flags.
    pub settings: Settings,
    /// The contracts served, the first one for `Patient` and system exports.
    pub contracts: Vec<Contract>,
    /// Registered clients and their tokens; `None`: the service runs open.
    pub auth: Option<Auth>,
    /// The base of every URL handed out, set once the listener is bound.
    base_url: OnceLock<String>,
    /// The exports.
    pub jobs: Mutex<Jobs>,
    /// The most jobs that ever ran at once.
    peak_running: AtomicUsize,
    /// When the service started (FHIR instant): the CapabilityStatement's date.
    started: String,
}

impl Exports {
    /// The service over `settings.job.root`; reloads recorded exports and
    /// resumes (queues) those that had not ended. Call inside a running actix
    /// `System`.
    pub fn start(settings: Settings) -> Result<Arc<Exports>, String> {
        settings.validate()?;
        settings.job.ensure_root()?;
        let contracts = Contract::from_specs(
            &settings.contracts,
            DEFAULT_CONTRACT,
            settings.job.beneficiaries,
        )?;
        for contract in &contracts {
            settings
                .job
                .config("check", &contract.id)
                .build()
                .map_err(|e| format!("--contract {}: {e}", contract.id))?;
        }
        let auth = match &settings.clients {
            Some(path) => Some(Auth::load(path)?),
            None => {
                log::warn!(
                    "no --clients: the service runs OPEN, without authorization; \
                     anyone who reaches it can export every contract's claims"
                );
                None
            }
        };
        let records_dir = settings.job.root.join(RECORDS_DIR);
        std::fs::create_dir_all(&records_dir)
            .map_err(|e| format!("create {}: {e}", records_dir.display()))?;
        let exports = Arc::new(Exports {
            settings,
            contracts,
            auth,
            base_url: OnceLock::new(),
            jobs: Mutex::new(Jobs::default()),
            peak_running: AtomicUsize::new(0),
            started: claims_aggregator::manifest::fhir_instant(SystemTime::now()),
        });
        let entries = std::fs::read_dir(&records_dir)
            .map_err(|e| format!("list {}: {e}", records_dir.display()))?;
        let mut unfinished = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let record: Record = match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
            {
                Ok(record) => record,
                Err(e) => {
                    log::warn!("ignoring export record {}: {e}", path.display());
                    continue;
                }
            };
            match record.report {
                Some(_) => {
                    let expires = exports.expires(&record);
                    let id = record.id.clone();
                    exports.jobs.lock().unwrap().exports.insert(
                        id.clone(),
                        Export {
                            record,
                            state: State::Done,
                        },
                    );
                    exports.expire_at(id, expires);
                }
                None => unfinished.push(record),
            }
        }
        // Oldest first, as they were queued before the restart.
        unfinished.sort_by_key(|r| r.started_ms);
        for record in unfinished {
            log::info!("export {}: resuming", record.id);
            exports.enqueue(record, true);
        }
        exports.pump();
        Ok(exports)
    }

    /// Sets the base of the URLs handed out: `--public-url` when given, else
    /// `bound` (the listener's own address). Never the request's `Host`.
    pub fn set_bound_url(&self, bound: String) {
        let base = match &self.settings.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => bound,
        };
        let _ = self.base_url.set(base);
    }

    /// The base of every URL handed out (`http://127.0.0.1:8080`).
    pub fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .expect("the listener is bound before requests are served")
    }

    /// The contract `id`, if served.
    pub fn contract(&self, id: &str) -> Option<&Contract> {
        self.contracts.iter().find(|c| c.id == id)
    }

    /// When the service started, as a FHIR instant.
    pub fn started(&self) -> &str {
        &self.started
    }

    /// The most jobs that ever ran at once since the start.
    pub fn peak_running(&self) -> usize {
        self.peak_running.load(Ordering::SeqCst)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.settings
            .job
            .root
            .join(RECORDS_DIR)
            .join(format!("{id}.json"))
    }

    /// Writes a record atomically (temp file, rename).
    fn persist(&self, record: &Record) -> std::io::Result<()> {
        let path = self.record_path(&record.id);
        let temp = path.with_extension("json.tmp");
        std::fs::write(
            &temp,
            serde_json::to_vec(record).expect("records serialise"),
        )?;
        std::fs::rename(&temp, &path)
    }

    /// Records a new export and queues it; it starts when a slot is free.
    pub fn submit(self: &Arc<Self>, record: Record) -> Result<(), String> {
        self.persist(&record)
            .map_err(|e| format!("record export {}: {e}", record.id))?;
        self.enqueue(record, false);
        self.pump();
        Ok(())
    }

    fn enqueue(&self, record: Record, resume: bool) {
        let mut jobs = self.jobs.lock().unwrap();
        jobs.queue.push_back(record.id.clone());
        jobs.exports.insert(
            record.id.clone(),
            Export {
                record,
                state: State::Queued { resume },
            },
        );
    }

    /// Starts queued exports while slots are free.
    fn pump(self: &Arc<Self>) {
        let mut jobs = self.jobs.lock().unwrap();
        while jobs.running < self.settings.max_running {
            let Some(id) = jobs.queue.pop_front() else {
                break;
            };
            let Some(export) = jobs.exports.get_mut(&id) else {
                continue;
            };
            let State::Queued { resume } = export.state else {
                continue;
            };
            match self.start_job(&export.record, resume) {
                Ok(state) => {
                    export.state = state;
                    jobs.running += 1;
                    self.peak_running.fetch_max(jobs.running, Ordering::SeqCst);
                    log::info!("export {id}: started ({} running)", jobs.running);
                }
                Err(reason) => {
                    log::error!("export {id}: could not start: {reason}");
                    let report = failed_report(&id, &reason);
                    export.record.report = Some(report);
                    export.record.ended_ms = Some(now_ms());
                    export.state = State::Done;
                    if let Err(e) = self.persist(&export.record) {
                        log::error!("export {id}: record: {e}");
                    }
                    let expires = self.expires(&export.record);
                    self.expire_at(id, expires);
                }
            }
        }
    }

    /// Starts the job of `record`; the returned state tracks it.
    fn start_job(self: &Arc<Self>, record: &Record, resume: bool) -> Result<State, String> {
        let contract = self
            .contract(&record.contract)
            .ok_or_else(|| format!("contract {} is no longer served", record.contract))?;
        let config = self
            .settings
            .job
            .config(&record.id, &record.contract)
            .resume(resume)
            .build()
            .map_err(|e| e.to_string())?;
        // Checked at kick-off; read again from the record on a resume.
        let since = record.since.as_deref().map(parse_since).transpose()?;
        let source = self.settings.job.synthetic.source(since)?;
        let supervisor = JobSupervisor::new(config, source).start();
        let job = supervisor.send(RunJob::new(contract.beneficiary_ids()));
        let (done, ended) = oneshot::channel();
        let exports = self.clone();
        let id = record.id.clone();
        actix_rt::spawn(async move {
            let report = match job.await {
                Ok(Ok(report)) => report,
                Ok(Err(e)) => failed_report(&id, &e.to_string()),
                Err(e) => failed_report(&id, &e.to_string()),
            };
            exports.ended(&id, report).await;
            let _ = done.send(());
        });
        Ok(State::Running {
            supervisor,
            ended: ended.shared(),
        })
    }

    /// Records how a job ended, frees its slot and starts the next; removes the
    /// files of a job deleted meanwhile.
    async fn ended(self: &Arc<Self>, id: &str, report: JobReport) {
        match &report.status {
            JobStatus::Failed(reason) => log::warn!("export {id}: failed: {reason}"),
            status => log::info!("export {id}: {status:?}"),
        }
        let record = {
            let mut jobs = self.jobs.lock().unwrap();
            jobs.running -= 1;
            match jobs.exports.get_mut(id) {
                Some(export) => {
                    export.record.report = Some(report);
                    export.record.ended_ms = Some(now_ms());
                    export.state = State::Done;
                    Some(export.record.clone())
                }
                None => None,
            }
        };
        self.pump();
        match record {
            Some(record) => {
                if let Err(e) = self.persist(&record) {
                    log::error!("export {id}: record: {e}");
                }
                let expires = self.expires(&record);
                self.expire_at(id.to_owned(), expires);
            }
            None => self.remove_files(id).await,
        }
    }

    /// When a finished export expires.
    pub fn expires(&self, record: &Record) -> SystemTime {
        let ended = record.ended_ms.unwrap_or(record.started_ms);
        SystemTime::UNIX_EPOCH + Duration::from_millis(ended) + self.settings.retention()
    }

    /// Deletes the finished export `id` at `at`, unless it is gone by then.
    fn expire_at(self: &Arc<Self>, id: String, at: SystemTime) {
        let exports = Arc::downgrade(self);
        actix_rt::spawn(async move {
            let wait = at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            actix_rt::time::sleep(wait).await;
            let Some(exports) = exports.upgrade() else {
                return;
            };
            let expired = {
                let mut jobs = exports.jobs.lock().unwrap();
                let done = jobs
                    .exports
                    .get(&id)
                    .is_some_and(|e| matches!(e.state, State::Done));
                done && jobs.exports.remove(&id).is_some()
            };
            if expired {
                log::info!("export {id}: expired, deleting its files");
                exports.remove_files(&id).await;
            }
        });
    }

    /// Removes a queued or finished export: its record and its files. (A
    /// running one is cancelled by the caller; its end removes its files.)
    pub async fn forget(&self, id: &str) {
        let known = {
            let mut jobs = self.jobs.lock().unwrap();
            jobs.queue.retain(|q| q != id);
            jobs.exports.remove(id).is_some()
        };
        if known {
            self.remove_files(id).await;
        }
    }

    /// Removes the record and the job directory of export `id`.
    pub async fn remove_files(&self, id: &str) {
        let job_dir = self.settings.job.root.join(id);
        let record = self.record_path(id);
        let removed = actix_rt::task::spawn_blocking(move || {
            let _ = std::fs::remove_file(record);
            match std::fs::remove_dir_all(&job_dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await;
        if let Ok(Err(e)) = removed {
            log::error!("export {id}: remove: {e}");
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn failed_report(id: &str, reason: &str) -> JobReport {
    JobReport {
        job_id: id.to_owned(),
        contract: String::new(),
        status: JobStatus::Failed(reason.to_owned()),
        completed_earlier: false,
        aggregations: 0,
        outputs: Vec::new(),
        stray_files: Vec::new(),
        progress: Default::default(),
        timings_ms: Default::default(),
    }
}
