//! The IG's error semantics: every 4xx and 5xx has an OperationOutcome body —
//! unknown routes and wrong methods included — and a failed export answers
//! its status with `processing`, a code clients do not retry.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use server::service;

use common::*;

async fn assert_outcome(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "{}", response.url());
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let body: Value = json(response).await;
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    assert_eq!(body["issue"][0]["severity"], "error", "{body}");
    assert_eq!(body["issue"][0]["code"], code, "{body}");
    assert!(
        !body["issue"][0]["details"]["text"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{body}"
    );
    body
}

#[actix::test]
async fn unknown_routes_and_wrong_methods_answer_operation_outcomes() {
    let root = tempfile::tempdir().unwrap();
    let base = serve(service::Exports::start(settings(root.path(), &[])).unwrap());
    for path in ["/", "/nothing/here", "/Group/Z9000", "/jobs", "/files/x"] {
        let response = client().get(format!("{base}{path}")).send().await.unwrap();
        let body = assert_outcome(response, StatusCode::NOT_FOUND, "not-found").await;
        assert!(
            body["issue"][0]["details"]["text"]
                .as_str()
                .unwrap()
                .contains(path),
            "{body}"
        );
    }
    for (method, path) in [
        (Method::POST, "/Patient/$export"),
        (Method::PUT, "/jobs/x"),
        (Method::DELETE, "/metadata"),
        (Method::POST, "/files/x/y"),
        (Method::GET, "/auth/token"),
    ] {
        let response = client()
            .request(method.clone(), format!("{base}{path}"))
            .send()
            .await
            .unwrap();
        assert_outcome(response, StatusCode::METHOD_NOT_ALLOWED, "not-supported").await;
    }
    // A request actix-web refuses before any handler (a path segment that is
    // not UTF-8) is answered the same way.
    let response = client()
        .get(format!("{base}/jobs/%FF"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    assert_eq!(json(response).await["resourceType"], "OperationOutcome");
}

#[actix::test]
async fn a_failed_export_answers_processing_not_exception() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "20",
            "--failure-rate",
            "1",
            "--max-failure-rate",
            "0.1",
        ],
    );
    let base = serve(service::Exports::start(args).unwrap());
    let status_url = content_location(&kick_off(&base, "/Patient/$export").await);
    let body = assert_outcome(
        poll(&status_url).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "processing",
    )
    .await;
    assert!(
        body["issue"][0]["details"]["text"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{body}"
    );
}
