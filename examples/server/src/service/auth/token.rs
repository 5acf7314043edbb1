//! The token endpoint, `POST /auth/token` (SMART Backend Services, RFC 6749
//! §4.4 with RFC 7523 client authentication): a form with
//! `grant_type=client_credentials`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`,
//! `client_assertion` and `scope`; it answers a bearer token, or an OAuth
//! error (`{"error": …, "error_description": …}`, RFC 6749 §5.2).

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::assertion;
use super::{ACCESS_TOKEN_LIFETIME, SCOPES, TOKEN_PATH};
use crate::service::exports::Exports;

/// The only client assertion type taken.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An OAuth error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": error, "error_description": description }))
}

/// `POST /auth/token`.
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    exports: web::Data<Exports>,
) -> HttpResponse {
    let Some(auth) = &exports.auth else {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "this service runs without authorization (no --clients)",
        );
    };
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_encoded {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request must be application/x-www-form-urlencoded",
        );
    }
    let mut grant_type = None;
    let mut assertion_type = None;
    let mut assertion = None;
    let mut scope = None;
    for (name, value) in url::form_urlencoded::parse(&body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut grant_type,
            "client_assertion_type" => &mut assertion_type,
            "client_assertion" => &mut assertion,
            "scope" => &mut scope,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{name} is given twice"),
            );
        }
    }
    if grant_type.as_deref() != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if assertion_type.as_deref() != Some(JWT_BEARER) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("client_assertion_type must be {JWT_BEARER}"),
        );
    }
    let Some(assertion) = assertion else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_assertion is missing",
        );
    };
    let granted = match scope.as_deref() {
        None | Some("") => vec![SCOPES[0]],
        Some(asked) => {
            let asked: Vec<&str> = asked.split_whitespace().collect();
            let granted: Vec<&str> = SCOPES
                .iter()
                .copied()
                .filter(|s| asked.contains(s))
                .collect();
            if granted.is_empty() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("scope must be one of {}", SCOPES.join(", ")),
                );
            }
            granted
        }
    };
    let token_url = format!("{}{TOKEN_PATH}", exports.base_url());
    let now = jsonwebtoken::get_current_timestamp();
    let verified = {
        let mut seen = auth.seen.lock().unwrap();
        assertion::verify(&assertion, &auth.clients, &token_url, now, &mut seen)
            .map(|client| client.id.clone())
    };
    let client_id = match verified {
        Ok(client_id) => client_id,
        Err(why) => {
            log::warn!("token refused: {why}");
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &why);
        }
    };
    let access_token = auth.issue(&client_id);
    log::info!("token issued to client {client_id}");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME.as_secs(),
            "scope": granted.join(" "),
        }))
}
