//! Which contract an export is of, and the URLs it hands out: the service
//! knows its contracts (an unknown Group is a 404), a system-level `$export`
//! exports the first, and links are built from the bound address or
//! `--public-url`, never from the request's `Host` or `X-Forwarded-*`.

mod common;

use std::collections::HashSet;

use claims_aggregator::synthetic;
use reqwest::StatusCode;
use serde_json::Value;
use server::service;

use common::*;

/// The EOB ids of generated beneficiaries `range`.
fn expected(args: &service::Settings, range: std::ops::Range<u64>) -> HashSet<String> {
    let source = args.job.synthetic.source(None).unwrap();
    range
        .map(synthetic::beneficiary_id)
        .flat_map(|id| source.eob_ids(&id))
        .collect()
}

fn ids(eobs: &[Value]) -> HashSet<String> {
    eobs.iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix::test]
async fn contracts_have_their_beneficiaries_and_unknown_groups_are_404() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &["--contract", "Z0001=0..12", "--contract", "Z0002=12..20"],
    );
    let base = serve(service::Exports::start(args.clone()).unwrap());

    let unknown = kick_off(&base, "/Group/Z9000/$export").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = json(unknown).await;
    assert_eq!(body["issue"][0]["code"], "not-found");

    for (path, range, prefix) in [
        ("/Group/Z0002/$export", 12..20, "Z0002_"),
        ("/$export", 0..12, "Z0001_"),
        ("/Patient/$export", 0..12, "Z0001_"),
    ] {
        let status_url = content_location(&kick_off(&base, path).await);
        let manifest: Value = json(poll(&status_url).await).await;
        assert!(manifest["request"].as_str().unwrap().ends_with(path));
        for file in manifest["output"].as_array().unwrap() {
            let name = file["url"].as_str().unwrap().rsplit('/').next().unwrap();
            assert!(name.starts_with(prefix), "{path}: {name}");
        }
        let eobs = download_all(&manifest, "output").await;
        assert_eq!(eobs.len(), expected(&args, range.clone()).len(), "{path}");
        assert_eq!(ids(&eobs), expected(&args, range), "{path}");
    }
}

#[actix::test]
async fn urls_come_from_the_bound_address_or_public_url_never_from_host() {
    let root = tempfile::tempdir().unwrap();
    let forged = |request: reqwest::RequestBuilder| {
        request
            .header("Prefer", "respond-async")
            .header("Host", "evil.example")
            .header("X-Forwarded-Host", "evil.example")
            .header("X-Forwarded-Proto", "https")
            .header("Forwarded", "host=evil.example;proto=https")
    };

    let base =
        serve(service::Exports::start(settings(root.path(), &["--beneficiaries", "5"])).unwrap());
    let response = forged(client().get(format!("{base}/Patient/$export")))
        .send()
        .await
        .unwrap();
    let status_url = content_location(&response);
    assert!(
        status_url.starts_with(&format!("{base}/jobs/")),
        "{status_url}"
    );
    let manifest: Value = json(poll(&status_url).await).await;
    let text = manifest.to_string();
    assert!(!text.contains("evil.example"), "{text}");
    assert!(manifest["request"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{base}/Patient/$export")));

    let public = tempfile::tempdir().unwrap();
    let base = serve(
        service::Exports::start(settings(
            public.path(),
            &[
                "--beneficiaries",
                "5",
                "--public-url",
                "https://bulk.example.org/api/",
            ],
        ))
        .unwrap(),
    );
    let response = forged(client().get(format!("{base}/Patient/$export")))
        .send()
        .await
        .unwrap();
    let status_url = content_location(&response);
    assert!(
        status_url.starts_with("https://bulk.example.org/api/jobs/"),
        "{status_url}"
    );
    // The public URL is the proxy's; reach the same job directly.
    let direct = status_url.replace("https://bulk.example.org/api", &base);
    let manifest: Value = json(poll(&direct).await).await;
    for file in manifest["output"].as_array().unwrap() {
        assert!(file["url"]
            .as_str()
            .unwrap()
            .starts_with("https://bulk.example.org/api/files/"));
    }
    let metadata: Value = json(
        client()
            .get(format!("{base}/metadata"))
            .header("Host", "evil.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        metadata["implementation"]["url"],
        "https://bulk.example.org/api"
    );
}
