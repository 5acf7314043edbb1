//! Kick-off: `GET /$export`, `/Patient/$export`, `/Group/{contract}/$export`.
//! The parameters are read by a plain function ([`read_parameters`]) so that
//! what is accepted, refused and — under `Prefer: handling=lenient` — dropped
//! is decided in one place.

use std::time::SystemTime;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use claims_aggregator::source::parse_since;

use super::auth::Caller;
use super::exports::{now_ms, Exports, Record};
use super::outcome::outcome;

/// Output formats accepted in `_outputFormat`.
const OUTPUT_FORMATS: [&str; 3] = ["application/fhir+ndjson", "application/ndjson", "ndjson"];
/// The only resource type exported.
pub const EXPORTED_TYPE: &str = "ExplanationOfBenefit";

/// What a kick-off asked for, once read.
#[derive(Debug, Default, PartialEq)]
pub struct Parameters {
    /// `_since`, as given.
    pub since: Option<String>,
    /// What was dropped under lenient handling, one sentence each.
    pub ignored: Vec<String>,
}

/// A refused kick-off: status, issue code, text.
pub type Refusal = (StatusCode, &'static str, String);

/// The preferences of a request (`Prefer: respond-async, handling=lenient`).
fn preferences(req: &HttpRequest) -> Vec<String> {
    req.headers()
        .get_all("Prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| {
            p.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect()
}

/// Reads a kick-off's query. Unsupported `_type` entries, `_typeFilter` and
/// unknown parameters are refused, or dropped and named when `lenient`; values
/// that are wrong (`_outputFormat`, `_since`) are refused either way.
pub fn read_parameters(query: &str, lenient: bool) -> Result<Parameters, Refusal> {
    let unsupported = |what: String| -> Result<(), Refusal> {
        match lenient {
            true => Ok(()),
            false => Err((StatusCode::BAD_REQUEST, "not-supported", what)),
        }
    };
    let mut ignored = Vec::new();
    let mut since = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "_type" => {
                for other in value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| *t != EXPORTED_TYPE)
                {
                    let what =
                        format!("_type {other} is not supported; only {EXPORTED_TYPE} is exported");
                    unsupported(what.clone())?;
                    ignored.push(what);
                }
            }
            "_typeFilter" => {
                let what = format!("_typeFilter {value} is not supported");
                unsupported(what.clone())?;
                ignored.push(what);
            }
            "_outputFormat" => {
                if !OUTPUT_FORMATS.contains(&value.as_ref()) {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "not-supported",
                        format!(
                            "_outputFormat {value} is not supported; use one of {}",
                            OUTPUT_FORMATS.join(", ")
                        ),
                    ));
                }
            }
            "_since" => match parse_since(&value) {
                Ok(at) if at <= SystemTime::now() => since = Some(value.into_owned()),
                Ok(_) => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        format!("_since {value} is in the future"),
                    ))
                }
                Err(reason) => {
                    return Err((
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        format!("invalid _since: {reason}"),
                    ))
                }
            },
            other => {
                let what = format!("parameter {other} is not supported");
                unsupported(what.clone())?;
                ignored.push(what);
            }
        }
    }
    Ok(Parameters { since, ignored })
}

/// `GET /$export`: every claim of the caller's (or the service's) first contract.
pub async fn system(req: HttpRequest, exports: web::Data<Exports>) -> HttpResponse {
    kickoff(req, None, exports).await
}

/// `GET /Patient/$export`: as the system export (AB2D exports a client's
/// contract's beneficiaries).
pub async fn patient(req: HttpRequest, exports: web::Data<Exports>) -> HttpResponse {
    kickoff(req, None, exports).await
}

/// `GET /Group/{contract}/$export`.
pub async fn group(
    req: HttpRequest,
    path: web::Path<String>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    kickoff(req, Some(path.into_inner()), exports).await
}

async fn kickoff(
    req: HttpRequest,
    group: Option<String>,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let caller = match Caller::of(&req, &exports) {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    let preferences = preferences(&req);
    if !preferences.iter().any(|p| p == "respond-async") {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the kick-off request needs the header Prefer: respond-async",
        );
    }
    let lenient = preferences.iter().any(|p| p == "handling=lenient");
    let parameters = match read_parameters(req.query_string(), lenient) {
        Ok(parameters) => parameters,
        Err((status, code, text)) => return outcome(status, code, &text),
    };
    let contract = match group {
        Some(id) => {
            if !caller.may_export(&id) {
                return outcome(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    &format!("this client may not export contract {id}"),
                );
            }
            match exports.contract(&id) {
                Some(contract) => contract.id.clone(),
                None => {
                    return outcome(
                        StatusCode::NOT_FOUND,
                        "not-found",
                        &format!("no Group {id}"),
                    )
                }
            }
        }
        None => match exports.contracts.iter().find(|c| caller.may_export(&c.id)) {
            Some(contract) => contract.id.clone(),
            None => {
                return outcome(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this client may export no contract this service serves",
                )
            }
        },
    };
    let id = uuid::Uuid::new_v4().to_string();
    let base = exports.base_url().to_owned();
    let request = format!("{base}{}", req.uri());
    let record = Record {
        id: id.clone(),
        contract,
        request,
        since: parameters.since,
        started_ms: now_ms(),
        owner: caller.client_id().map(str::to_owned),
        ignored: parameters.ignored,
        ended_ms: None,
        report: None,
    };
    log::info!("export {id}: kick-off of {} ({})", record.contract, caller);
    match exports.into_inner().submit(record) {
        Ok(()) => HttpResponse::Accepted()
            .insert_header((header::CONTENT_LOCATION, format!("{base}/jobs/{id}")))
            .finish(),
        Err(e) => outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_entries_are_refused_unless_lenient() {
        let query = "_type=ExplanationOfBenefit,Patient&_typeFilter=ExplanationOfBenefit%3Fx%3D1&_elements=id";
        let refused = read_parameters(query, false).unwrap_err();
        assert_eq!(refused.0, StatusCode::BAD_REQUEST);
        assert!(refused.2.contains("_type Patient"), "{}", refused.2);
        let read = read_parameters(query, true).unwrap();
        assert_eq!(read.ignored.len(), 3, "{:?}", read.ignored);
        assert!(read.ignored[1].contains("_typeFilter ExplanationOfBenefit?x=1"));
        assert!(read.ignored[2].contains("parameter _elements"));
    }

    #[test]
    fn wrong_values_are_refused_even_when_lenient() {
        for query in ["_outputFormat=text%2Fcsv", "_since=yesterday"] {
            assert!(read_parameters(query, true).is_err(), "{query}");
        }
        assert_eq!(
            read_parameters("_type=ExplanationOfBenefit&_outputFormat=ndjson", false).unwrap(),
            Parameters::default()
        );
    }
}
