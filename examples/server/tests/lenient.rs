//! `Prefer: handling=lenient`: unsupported `_type` entries, `_typeFilter` and
//! unknown parameters are dropped and each is reported as an information
//! OperationOutcome in the manifest's `error` list; without it they are a 400.

mod common;

use reqwest::StatusCode;
use serde_json::Value;
use server::service;

use common::*;

const QUERY: &str =
    "_type=ExplanationOfBenefit,Patient&_typeFilter=ExplanationOfBenefit%3Fstatus%3Dactive";

#[actix::test]
async fn strict_type_is_400_and_lenient_drops_and_reports() {
    let root = tempfile::tempdir().unwrap();
    let base =
        serve(service::Exports::start(settings(root.path(), &["--beneficiaries", "10"])).unwrap());

    let strict = kick_off(&base, &format!("/Patient/$export?{QUERY}")).await;
    assert_eq!(strict.status(), StatusCode::BAD_REQUEST);
    let body: Value = json(strict).await;
    assert_eq!(body["issue"][0]["code"], "not-supported");
    assert!(body["issue"][0]["details"]["text"]
        .as_str()
        .unwrap()
        .contains("_type Patient"));
    let strict_filter = kick_off(&base, "/Patient/$export?_typeFilter=x").await;
    assert_eq!(strict_filter.status(), StatusCode::BAD_REQUEST);

    let lenient = client()
        .get(format!("{base}/Group/Z9000/$export?{QUERY}"))
        .header("Prefer", "respond-async, handling=lenient")
        .send()
        .await
        .unwrap();
    let status_url = content_location(&lenient);
    let done = poll(&status_url).await;
    assert_eq!(done.status(), StatusCode::OK);
    let manifest: Value = json(done).await;
    assert!(!manifest["output"].as_array().unwrap().is_empty());
    let outcomes = download_all(&manifest, "error").await;
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    for (outcome, names) in outcomes.iter().zip([
        "_type Patient",
        "_typeFilter ExplanationOfBenefit?status=active",
    ]) {
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(outcome["issue"][0]["severity"], "information");
        let text = outcome["issue"][0]["details"]["text"].as_str().unwrap();
        assert!(text.contains(names) && text.contains("ignored"), "{text}");
    }

    // Lenient handling does not excuse a wrong value.
    let wrong = client()
        .get(format!("{base}/Patient/$export?_outputFormat=text%2Fcsv"))
        .header("Prefer", "respond-async")
        .header("Prefer", "handling=lenient")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
}
