//! HTTPS: with `--tls-cert`/`--tls-key` the service speaks TLS only (rustls),
//! its URLs are `https`, and the whole client flow (token, kick-off, status,
//! download) works over it with the certificate as the only trusted root.

#[path = "../../tests/common/mod.rs"]
mod common;

mod clients;

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use server::service;

use clients::*;
use common::{content_location, settings};

/// A client that trusts only `ca` (DER).
fn tls_client(ca: &[u8]) -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.to_vec().into()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

#[actix::test]
async fn the_service_serves_https_and_the_flow_works_over_it() {
    let root = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let cert_path = root.path().join("cert.pem");
    let key_path = root.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let tls = service::tls_config(&cert_path, &key_path).unwrap();

    let key = es384("k");
    let clients = clients_file(root.path(), &[("acme", vec![&key.jwk], &["Z9000"])]);
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "6",
            "--clients",
            clients.to_str().unwrap(),
        ],
    );
    let base = common::serve_with(service::Exports::start(args).unwrap(), Some(tls));
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let https = tls_client(certified.cert.der());

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = base.replace("https://", "http://");
    let _ = common::client();
    let refused = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{plain}/metadata"))
        .send()
        .await;
    assert!(
        refused.is_err() || !refused.unwrap().status().is_success(),
        "plain HTTP is not served"
    );
    // Nor does a client that does not trust the certificate get one.
    let untrusting = tls_client(
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()])
            .unwrap()
            .cert
            .der(),
    );
    assert!(untrusting
        .get(format!("{base}/metadata"))
        .send()
        .await
        .is_err());

    let smart: Value = common::json(
        https
            .get(format!("{base}/.well-known/smart-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let token_url = smart["token_endpoint"].as_str().unwrap().to_owned();
    assert_eq!(token_url, format!("{base}/auth/token"));
    let token = token(&https, &token_url, "acme", &key).await;
    let kicked = https
        .get(format!("{base}/Group/Z9000/$export"))
        .header("Prefer", "respond-async")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let status_url = content_location(&kicked);
    assert!(status_url.starts_with(&format!("{base}/jobs/")));
    let mut manifest = None;
    for _ in 0..500 {
        let response = https
            .get(&status_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::OK {
            manifest = Some(common::json(response).await);
            break;
        }
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let manifest = manifest.expect("the export completes");
    let file_url = manifest["output"][0]["url"].as_str().unwrap();
    assert!(file_url.starts_with(&format!("{base}/files/")));
    let file = https
        .get(file_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert!(!file.bytes().await.unwrap().is_empty());
}
