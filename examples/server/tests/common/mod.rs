//! Helpers of the server's tests (and of the package auth_tests, which
//! includes this file): the service started on a free loopback port, and a
//! Bulk Data client's steps over real HTTP.

#![allow(dead_code)] // each test file uses some of them

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use reqwest::StatusCode;
use serde_json::Value;
use server::service;
use sha2::{Digest, Sha256};

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    service: service::Settings,
}

/// The server's settings: its flags, `--root root` and `extra`.
pub fn settings(root: &std::path::Path, extra: &[&str]) -> service::Settings {
    let mut argv = vec!["server", "--root", root.to_str().unwrap()];
    argv.extend_from_slice(extra);
    Flags::parse_from(argv).service
}

/// Starts the service on a free loopback port; returns the URL of that port.
pub fn serve(exports: Arc<service::Exports>) -> String {
    serve_with(exports, None)
}

/// Starts the service on a free loopback port, over TLS when given; returns
/// the URL of that port.
pub fn serve_with(exports: Arc<service::Exports>, tls: Option<rustls::ServerConfig>) -> String {
    let (server, bound) = service::serve(
        exports,
        service::Listen {
            bind: "127.0.0.1:0".into(),
            tls,
            workers: Some(1),
            signals: false,
        },
    )
    .unwrap();
    actix_rt::spawn(server);
    bound
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a default TLS provider: choose ring (plain HTTP
    // here, but the builder wants one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn kick_off(base: &str, path: &str) -> reqwest::Response {
    kick_off_as(base, path, None).await
}

/// A kick-off with the bearer `token`, when given.
pub async fn kick_off_as(base: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .get(format!("{base}{path}"))
        .header("Prefer", "respond-async")
        .header("Accept", "application/fhir+json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// The status URL a kick-off answered.
pub fn content_location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    response.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Polls the status URL as a Bulk Data client does (honouring Retry-After,
/// shortened for the test) until it is no longer 202.
pub async fn poll(status_url: &str) -> reqwest::Response {
    poll_as(status_url, None).await
}

/// [`poll`] with the bearer `token`, when given.
pub async fn poll_as(status_url: &str, token: Option<&str>) -> reqwest::Response {
    for _ in 0..3000 {
        let mut request = client().get(status_url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        if response.status() != StatusCode::ACCEPTED {
            return response;
        }
        let progress = response.headers()["x-progress"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            (progress.contains("% - ") && progress.ends_with(" beneficiaries"))
                || progress.starts_with("queued, "),
            "{progress}"
        );
        assert_eq!(response.headers()["retry-after"], "1");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the export did not finish");
}

/// The body of a response, as JSON.
pub async fn json(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

pub fn extension(file: &Value, url: &str) -> Value {
    file["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == url)
        .cloned()
        .unwrap_or_else(|| panic!("extension {url}"))
}

/// Downloads every file of a manifest; checks it against its checksum and
/// length; returns the NDJSON lines of each list.
pub async fn download_all(manifest: &Value, key: &str) -> Vec<Value> {
    let mut lines = Vec::new();
    for file in manifest[key].as_array().unwrap() {
        let response = client()
            .get(file["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/fhir+ndjson"
        );
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let body = response.bytes().await.unwrap();
        let sha = hex::encode(Sha256::digest(&body));
        assert_eq!(
            extension(file, "https://ab2d.cms.gov/checksum")["valueString"],
            format!("sha256:{sha}")
        );
        assert_eq!(
            extension(file, "https://ab2d.cms.gov/file_length")["valueDecimal"],
            body.len() as u64
        );
        assert_eq!(etag, format!("\"{sha}\""));
        let count = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(file["count"], count as u64);
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            lines.push(serde_json::from_slice(line).unwrap());
        }
    }
    lines
}
