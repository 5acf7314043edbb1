//! The FHIR Bulk Data export service of the `server` binary, as a reusable
//! actix-web configuration (the integration tests mount the same routes).
//!
//! | request | answer |
//! |---|---|
//! | `GET /Group/{contract}/$export`, `GET /Patient/$export` with `Prefer: respond-async` | `202` + `Content-Location` of the status URL; `400` + OperationOutcome for unsupported parameters |
//! | `GET /jobs/{id}` | `202` + `X-Progress`, `Retry-After` while running; `200` + manifest; `500` + OperationOutcome when failed; `404` unknown or deleted |
//! | `DELETE /jobs/{id}` | `202`: cancels a running job or deletes a finished one's files |
//! | `GET /files/{id}/{file}` | the output (`application/fhir+ndjson`), `ETag` from its checksum; `404` for anything that is not one of the job's outputs |
//!
//! `_since` (a date, midnight UTC, or an instant with its offset; not in the
//! future) exports only the claims whose `meta.lastUpdated` is at or after it.
//! The manifest's `transactionTime` is the kick-off instant, which the claims
//! are complete up to: a client passes it as its next export's `_since`.
//!
//! Every job is its own `JobSupervisor`. Each export is recorded in
//! `<root>/.exports/<id>.json` (its request, and its report once it ended), so
//! that after a restart finished exports are served again and unfinished ones are
//! resumed — exactly once, through the engine's resume.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix::{Actor, Addr};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use claims_aggregator::manifest::BulkDataManifest;
use claims_aggregator::source::parse_since;
use claims_aggregator::{Cancel, GetProgress, JobReport, JobStatus, JobSupervisor, RunJob};
use futures::channel::oneshot;
use futures::future::{FutureExt, Shared};
use serde::{Deserialize, Serialize};

use crate::job_args::JobArgs;

/// Media type of NDJSON outputs.
const NDJSON: &str = "application/fhir+ndjson";
/// Media type of FHIR JSON bodies.
const FHIR_JSON: &str = "application/fhir+json";
/// Seconds a client should wait between status requests.
const RETRY_AFTER_SECS: u32 = 1;
/// Output formats accepted in `_outputFormat`.
const OUTPUT_FORMATS: [&str; 3] = ["application/fhir+ndjson", "application/ndjson", "ndjson"];
/// The only resource type exported.
const EXPORTED_TYPE: &str = "ExplanationOfBenefit";
/// Longest a DELETE waits for a running job to stop and its files to go.
const DELETE_WAIT: Duration = Duration::from_secs(30);
/// Directory of export records inside the root (a job id never starts with a dot).
const RECORDS_DIR: &str = ".exports";

/// An export as recorded on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    contract: String,
    /// The kick-off URL.
    request: String,
    /// `_since`, when given: only claims updated at or after it are exported.
    since: Option<String>,
    /// Kick-off time, milliseconds since the Unix epoch: the manifest's
    /// `transactionTime`, the instant the export's claims are complete up to,
    /// so that a client can pass it as the next export's `_since`.
    started_ms: u64,
    /// The report, once the job ended.
    report: Option<JobReport>,
}

/// Whether a job runs; a finished one's report is in its record.
enum State {
    Running(Addr<JobSupervisor>),
    Done,
}

struct Export {
    record: Record,
    state: State,
    /// Resolves once the job has ended and its end was handled.
    ended: Shared<oneshot::Receiver<()>>,
}

/// Every export of this server.
pub struct Exports {
    defaults: JobArgs,
    jobs: Mutex<HashMap<String, Export>>,
}

impl Exports {
    /// The service over `defaults.root`; reloads recorded exports and resumes
    /// those that had not ended. Call inside a running actix `System`.
    pub fn start(defaults: JobArgs) -> Result<Arc<Exports>, String> {
        defaults.ensure_root()?;
        let records_dir = defaults.root.join(RECORDS_DIR);
        std::fs::create_dir_all(&records_dir)
            .map_err(|e| format!("create {}: {e}", records_dir.display()))?;
        let exports = Arc::new(Exports {
            defaults,
            jobs: Mutex::new(HashMap::new()),
        });
        let entries = std::fs::read_dir(&records_dir)
            .map_err(|e| format!("list {}: {e}", records_dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
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
                    let (done, ended) = oneshot::channel();
                    let _ = done.send(());
                    exports.jobs.lock().unwrap().insert(
                        record.id.clone(),
                        Export {
                            record,
                            state: State::Done,
                            ended: ended.shared(),
                        },
                    );
                }
                None => {
                    log::info!("resuming export {}", record.id);
                    if let Err(e) = exports.launch(record, true) {
                        log::error!("could not resume an export: {e}");
                    }
                }
            }
        }
        Ok(exports)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.defaults
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

    /// Starts (or resumes) the job of `record` and tracks it.
    fn launch(self: &Arc<Self>, record: Record, resume: bool) -> Result<(), String> {
        let config = self
            .defaults
            .config(&record.id, &record.contract)
            .resume(resume)
            .build()
            .map_err(|e| e.to_string())?;
        // Checked at kick-off; read again from the record on a resume.
        let since = record.since.as_deref().map(parse_since).transpose()?;
        let source = self.defaults.synthetic_since(since)?;
        self.persist(&record)
            .map_err(|e| format!("record export {}: {e}", record.id))?;
        let supervisor = JobSupervisor::new(config, source).start();
        let job = supervisor.send(RunJob::new(self.defaults.beneficiary_ids()));
        let id = record.id.clone();
        let (done, ended) = oneshot::channel();
        self.jobs.lock().unwrap().insert(
            id.clone(),
            Export {
                record,
                state: State::Running(supervisor),
                ended: ended.shared(),
            },
        );
        let exports = self.clone();
        actix_rt::spawn(async move {
            let report = match job.await {
                Ok(Ok(report)) => report,
                Ok(Err(e)) => failed_report(&id, &e.to_string()),
                Err(e) => failed_report(&id, &e.to_string()),
            };
            exports.ended(&id, report).await;
            let _ = done.send(());
        });
        Ok(())
    }

    /// Records how a job ended; removes the files of a job deleted meanwhile.
    async fn ended(&self, id: &str, report: JobReport) {
        let record = {
            let mut jobs = self.jobs.lock().unwrap();
            match jobs.get_mut(id) {
                Some(export) => {
                    export.record.report = Some(report);
                    export.state = State::Done;
                    Some(export.record.clone())
                }
                None => None,
            }
        };
        match record {
            Some(record) => {
                if let Err(e) = self.persist(&record) {
                    log::error!("record export {id}: {e}");
                }
            }
            None => self.remove_files(id).await,
        }
    }

    async fn remove_files(&self, id: &str) {
        let job_dir = self.defaults.root.join(id);
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
            log::error!("remove export {id}: {e}");
        }
    }
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

/// Mounts the service's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/Group/{contract}/$export", web::get().to(kickoff_group))
        .route("/Patient/$export", web::get().to(kickoff_patient))
        .route("/jobs/{id}", web::get().to(status))
        .route("/jobs/{id}", web::delete().to(delete))
        .route("/files/{id}/{file}", web::get().to(download));
}

/// An OperationOutcome response.
fn outcome(status: StatusCode, code: &str, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .json(serde_json::json!({
            "resourceType": "OperationOutcome",
            "issue": [{ "severity": "error", "code": code, "details": { "text": text } }],
        }))
}

fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

async fn kickoff_group(
    req: HttpRequest,
    path: web::Path<String>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    kickoff(req, path.into_inner(), exports).await
}

async fn kickoff_patient(req: HttpRequest, exports: web::Data<Exports>) -> HttpResponse {
    let contract = exports.defaults.contract.clone();
    kickoff(req, contract, exports).await
}

async fn kickoff(req: HttpRequest, contract: String, exports: web::Data<Exports>) -> HttpResponse {
    let prefer = req
        .headers()
        .get("Prefer")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !prefer.split(',').any(|p| p.trim() == "respond-async") {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the kick-off request needs the header Prefer: respond-async",
        );
    }
    let mut since = None;
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "_type" => {
                if let Some(other) = value
                    .split(',')
                    .map(str::trim)
                    .find(|t| *t != EXPORTED_TYPE)
                {
                    return outcome(
                        StatusCode::BAD_REQUEST,
                        "not-supported",
                        &format!(
                            "_type {other} is not supported; only {EXPORTED_TYPE} is exported"
                        ),
                    );
                }
            }
            "_outputFormat" => {
                if !OUTPUT_FORMATS.contains(&value.as_ref()) {
                    return outcome(
                        StatusCode::BAD_REQUEST,
                        "not-supported",
                        &format!(
                            "_outputFormat {value} is not supported; use one of {}",
                            OUTPUT_FORMATS.join(", ")
                        ),
                    );
                }
            }
            "_since" => match parse_since(&value) {
                Ok(at) if at <= SystemTime::now() => since = Some(value.into_owned()),
                Ok(_) => {
                    return outcome(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        &format!("_since {value} is in the future"),
                    )
                }
                Err(reason) => {
                    return outcome(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        &format!("invalid _since: {reason}"),
                    )
                }
            },
            other => {
                return outcome(
                    StatusCode::BAD_REQUEST,
                    "not-supported",
                    &format!("parameter {other} is not supported"),
                )
            }
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let base = base_url(&req);
    let request = format!("{base}{}", req.uri());
    let record = Record {
        id: id.clone(),
        contract,
        request,
        since,
        started_ms: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64,
        report: None,
    };
    match exports.into_inner().launch(record, false) {
        Ok(()) => HttpResponse::Accepted()
            .insert_header((header::CONTENT_LOCATION, format!("{base}/jobs/{id}")))
            .finish(),
        Err(e) => outcome(StatusCode::BAD_REQUEST, "invalid", &e),
    }
}

async fn status(
    req: HttpRequest,
    path: web::Path<String>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let id = path.into_inner();
    let (record, supervisor) = {
        let jobs = exports.jobs.lock().unwrap();
        let Some(export) = jobs.get(&id) else {
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("no export {id}"),
            );
        };
        match &export.state {
            State::Running(supervisor) => (export.record.clone(), Some(supervisor.clone())),
            State::Done => (export.record.clone(), None),
        }
    };
    if let Some(supervisor) = supervisor {
        let progress = supervisor.send(GetProgress).await.unwrap_or_default();
        let done = progress.patient_requests_processed + progress.patients_resumed;
        let percent = (done * 100)
            .checked_div(progress.patients_expected)
            .unwrap_or(0);
        return HttpResponse::Accepted()
            .insert_header((
                "X-Progress",
                format!(
                    "{percent}% - {done} of {} beneficiaries",
                    progress.patients_expected
                ),
            ))
            .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
            .finish();
    }
    let report = record
        .report
        .clone()
        .expect("a finished export has its report");
    match &report.status {
        JobStatus::Completed => {
            let base = base_url(&req);
            let started = SystemTime::UNIX_EPOCH + Duration::from_millis(record.started_ms);
            let manifest =
                BulkDataManifest::from_report(&report, started, &record.request, false, |o| {
                    format!("{base}/files/{id}/{}", o.file)
                });
            HttpResponse::Ok()
                .content_type("application/json")
                .json(manifest)
        }
        JobStatus::Failed(reason) => outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            &format!("export {id} failed: {reason}"),
        ),
        JobStatus::Cancelled => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("export {id} was cancelled"),
        ),
    }
}

async fn delete(path: web::Path<String>, exports: web::Data<Exports>) -> HttpResponse {
    let id = path.into_inner();
    let removed = exports.jobs.lock().unwrap().remove(&id);
    match removed {
        None => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no export {id}"),
        ),
        Some(Export {
            state: State::Running(supervisor),
            ended,
            ..
        }) => {
            // The job's end (see `ended`) removes its files; answer once it has.
            supervisor.do_send(Cancel);
            if actix_rt::time::timeout(DELETE_WAIT, ended).await.is_err() {
                log::warn!("export {id}: still stopping after {DELETE_WAIT:?}");
            }
            HttpResponse::Accepted().finish()
        }
        Some(Export { .. }) => {
            exports.remove_files(&id).await;
            HttpResponse::Accepted().finish()
        }
    }
}

async fn download(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let (id, file) = path.into_inner();
    let output = {
        let jobs = exports.jobs.lock().unwrap();
        jobs.get(&id)
            .filter(|export| matches!(export.state, State::Done))
            .and_then(|export| export.record.report.as_ref())
            .filter(|report| report.status.is_completed())
            .and_then(|report| report.outputs.iter().find(|o| o.file == file).cloned())
    };
    // Only names listed in the job's report are served: no path ever comes
    // from the request.
    let Some(output) = output else {
        return outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("no file {file} in export {id}"),
        );
    };
    let gzipped = output.compressed_bytes.is_some();
    let accepts_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    // One ETag per representation: the checksum, marked when sent gzipped.
    let etag = if gzipped && accepts_gzip {
        format!("\"{}.gz\"", output.sha256)
    } else {
        format!("\"{}\"", output.sha256)
    };
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    let path = exports.defaults.root.join(&id).join(&output.file);
    if gzipped && !accepts_gzip {
        return HttpResponse::Ok()
            .content_type(NDJSON)
            .insert_header((header::ETAG, etag))
            .insert_header((header::VARY, "Accept-Encoding"))
            .streaming(gunzip(path));
    }
    let opened = web::block({
        let path = path.clone();
        move || actix_files::NamedFile::open(path)
    })
    .await;
    let named = match opened {
        Ok(Ok(named)) => named,
        Ok(Err(e)) => {
            log::error!("open {}: {e}", path.display());
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("file {file} is gone"),
            );
        }
        Err(e) => {
            log::error!("open {}: {e}", path.display());
            return outcome(
                StatusCode::NOT_FOUND,
                "not-found",
                &format!("file {file} is gone"),
            );
        }
    };
    let mut named = named
        .use_etag(false)
        .use_last_modified(false)
        .disable_content_disposition()
        .set_content_type(NDJSON.parse().expect("a valid media type"));
    if gzipped {
        named = named.set_content_encoding(header::ContentEncoding::Gzip);
    }
    let mut response = named.into_response(&req);
    let headers = response.headers_mut();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a valid header value"),
    );
    if gzipped {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    response
}

/// Streams the NDJSON inside a gzipped file, decompressed on a blocking thread.
fn gunzip(
    path: PathBuf,
) -> impl futures::Stream<Item = Result<web::Bytes, std::io::Error>> + 'static {
    let (mut tx, rx) = futures::channel::mpsc::channel(4);
    actix_rt::task::spawn_blocking(move || {
        use futures::SinkExt;
        use std::io::Read;
        let mut send = |item| futures::executor::block_on(tx.send(item)).is_ok();
        let mut reader = match std::fs::File::open(&path) {
            Ok(file) => flate2::read::MultiGzDecoder::new(file),
            Err(e) => {
                send(Err(e));
                return;
            }
        };
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if !send(Ok(web::Bytes::copy_from_slice(&buf[..n]))) {
                        return; // the client went away
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}
