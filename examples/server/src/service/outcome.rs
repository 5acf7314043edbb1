//! Error answers. Bulk Data clients read an `OperationOutcome` from every 4xx
//! and 5xx, so each error this service makes is one, and [`fhir_errors`] turns
//! the rest (actix-web's own: an unknown route, a wrong method, a bad path)
//! into one too. The token endpoint's OAuth errors are JSON and pass as they are.

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse};

/// Media type of FHIR JSON bodies.
pub const FHIR_JSON: &str = "application/fhir+json";

/// An OperationOutcome response with one `error` issue.
pub fn outcome(status: StatusCode, code: &str, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .json(operation_outcome("error", code, text))
}

/// An OperationOutcome resource with one issue.
pub fn operation_outcome(severity: &str, code: &str, text: &str) -> serde_json::Value {
    serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{ "severity": severity, "code": code, "details": { "text": text } }],
    })
}

/// The answer to a path the service does not serve.
pub async fn unknown_route(req: HttpRequest) -> HttpResponse {
    outcome(
        StatusCode::NOT_FOUND,
        "not-found",
        &format!("no such endpoint: {}", req.path()),
    )
}

/// The answer to a method a served path does not take.
pub async fn wrong_method(req: HttpRequest) -> HttpResponse {
    outcome(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        &format!("{} is not supported on {}", req.method(), req.path()),
    )
}

/// Middleware handler: an error response whose body is not JSON already becomes
/// an OperationOutcome saying what actix-web said.
pub fn fhir_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(FHIR_JSON) || v.starts_with("application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let text = match res.response().error() {
        Some(error) => error.to_string(),
        None => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned(),
    };
    let code = match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "not-supported",
        StatusCode::PAYLOAD_TOO_LARGE => "too-costly",
        s if s.is_server_error() => "exception",
        _ => "invalid",
    };
    let (req, old) = res.into_parts();
    let mut new = outcome(status, code, &text);
    // Keep what the handler said besides its body (WWW-Authenticate, Allow, …).
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let new: HttpResponse<EitherBody<B, BoxBody>> = new.map_into_right_body();
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(
        req, new,
    )))
}
