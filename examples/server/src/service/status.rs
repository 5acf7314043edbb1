//! The status URL, `/jobs/{id}`: `GET` tells where an export is (queued,
//! running, done) and `DELETE` cancels or deletes it. A client sees only its
//! own exports: another's is a 404, as an unknown one is.

use std::time::Duration;

use actix_web::http::header::{self, HttpDate};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use claims_aggregator::{Cancel, GetProgress, JobStatus};

use super::auth::Caller;
use super::exports::{Export, Exports, State};
use super::manifest::manifest;
use super::outcome::outcome;

/// Seconds a client should wait between status requests.
const RETRY_AFTER_SECS: u32 = 1;
/// Longest a DELETE waits for a running job to stop and its files to go.
const DELETE_WAIT: Duration = Duration::from_secs(30);

fn no_export(id: &str) -> HttpResponse {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!("no export {id}"),
    )
}

/// Where the export is, as the caller may see it.
enum Seen {
    Queued { ahead: usize },
    Running(actix::Addr<claims_aggregator::JobSupervisor>),
    Done(Box<super::exports::Record>),
}

/// `GET /jobs/{id}`.
pub async fn status(
    req: HttpRequest,
    path: web::Path<String>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let caller = match Caller::of(&req, &exports) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let id = path.into_inner();
    let seen = {
        let jobs = exports.jobs.lock().unwrap();
        let Some(export) = jobs.exports.get(&id).filter(|e| caller.owns(&e.record)) else {
            return no_export(&id);
        };
        match &export.state {
            State::Queued { .. } => Seen::Queued {
                ahead: jobs.queue.iter().take_while(|q| **q != id).count(),
            },
            State::Running { supervisor, .. } => Seen::Running(supervisor.clone()),
            State::Done => Seen::Done(Box::new(export.record.clone())),
        }
    };
    let record = match seen {
        Seen::Queued { ahead } => {
            return HttpResponse::Accepted()
                .insert_header(("X-Progress", format!("queued, {ahead} exports ahead")))
                .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()))
                .finish()
        }
        Seen::Running(supervisor) => {
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
        Seen::Done(record) => record,
    };
    let report = record
        .report
        .as_ref()
        .expect("a finished export has its report");
    match &report.status {
        JobStatus::Completed => {
            let manifest = manifest(&record, exports.base_url(), exports.auth.is_some());
            HttpResponse::Ok()
                .insert_header(header::Expires(HttpDate::from(exports.expires(&record))))
                .content_type("application/json")
                .json(manifest)
        }
        // `processing`, not `exception` or `transient`: clients retry those.
        JobStatus::Failed(reason) => outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "processing",
            &format!("export {id} failed: {reason}"),
        ),
        JobStatus::Cancelled => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            &format!("export {id} was cancelled"),
        ),
    }
}

/// `DELETE /jobs/{id}`: cancels a queued or running export, or deletes a
/// finished one's files; answers once they are gone.
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let caller = match Caller::of(&req, &exports) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let id = path.into_inner();
    let running = {
        let mut jobs = exports.jobs.lock().unwrap();
        match jobs.exports.get(&id) {
            Some(export) if caller.owns(&export.record) => match &export.state {
                State::Running { .. } => match jobs.exports.remove(&id) {
                    Some(Export {
                        state: State::Running { supervisor, ended },
                        ..
                    }) => Some((supervisor, ended)),
                    _ => unreachable!("the export was running under the lock"),
                },
                _ => None,
            },
            _ => return no_export(&id),
        }
    };
    match running {
        Some((supervisor, ended)) => {
            // The job's end removes its files; answer once it has.
            log::info!("export {id}: cancelled by {caller}");
            supervisor.do_send(Cancel);
            if actix_rt::time::timeout(DELETE_WAIT, ended).await.is_err() {
                log::warn!("export {id}: still stopping after {DELETE_WAIT:?}");
            }
        }
        None => {
            log::info!("export {id}: deleted by {caller}");
            exports.forget(&id).await;
        }
    }
    HttpResponse::Accepted().finish()
}
