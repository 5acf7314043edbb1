//! The Bulk Data export service of the `server` binary, over real HTTP on
//! `127.0.0.1:0`: kick-off → status → manifest → download → DELETE, cancel,
//! every 400 and 404, gzip, and a restart that resumes an unfinished export.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::time::{Duration, SystemTime};

use claims_aggregator::source::parse_since;
use claims_aggregator::SyntheticSource;
use reqwest::StatusCode;
use serde_json::Value;
use server::service;
use sha2::{Digest, Sha256};

use common::*;

#[actix::test]
async fn kick_off_poll_download_delete() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "150",
            "--max-bytes",
            "300000",
            "--failure-rate",
            "0.05",
            "--max-failure-rate",
            "0.5",
            "--seed",
            "3",
        ],
    );
    let source = args.job.synthetic.source(None).unwrap();
    let base = serve(service::Exports::start(args.clone()).unwrap());

    let response = kick_off(
        &base,
        "/Group/Z9000/$export?_type=ExplanationOfBenefit&_outputFormat=application%2Ffhir%2Bndjson&_since=2020-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let status_url = response.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(status_url.starts_with(&format!("{base}/jobs/")));

    let done = poll(&status_url).await;
    assert_eq!(done.status(), StatusCode::OK);
    let manifest: Value = json(done).await;
    assert!(manifest["request"]
        .as_str()
        .unwrap()
        .ends_with("_since=2020-01-01T00:00:00Z"));
    assert_eq!(manifest["requiresAccessToken"], false);
    assert!(manifest["transactionTime"].as_str().unwrap().ends_with('Z'));
    assert!(manifest["output"].as_array().unwrap().len() > 1);
    assert!(manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["type"] == "ExplanationOfBenefit"));
    assert!(manifest["error"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["type"] == "OperationOutcome"));

    let ids: Vec<String> = args.job.beneficiary_ids().collect();
    let expected: HashSet<String> = ids
        .iter()
        .flat_map(|id| updated_since(&source, id, "2020-01-01T00:00:00Z"))
        .collect();
    let eobs = download_all(&manifest, "output").await;
    let seen: HashSet<String> = eobs
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(eobs.len(), expected.len(), "no duplicate");
    assert_eq!(seen, expected, "every EOB");
    let errors = download_all(&manifest, "error").await;
    assert_eq!(
        errors.len(),
        ids.iter().filter(|id| source.fails(id)).count()
    );

    // A conditional download answers 304.
    let first = &manifest["output"][0];
    let etag = format!(
        "\"{}\"",
        extension(first, "https://ab2d.cms.gov/checksum")["valueString"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
    );
    let again = client()
        .get(first["url"].as_str().unwrap())
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let deleted = client().delete(&status_url).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(
        client().get(&status_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client()
            .get(first["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        client().delete(&status_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let job_id = status_url.rsplit('/').next().unwrap();
    assert!(
        !root.path().join(job_id).exists(),
        "the job's files are deleted"
    );
}

#[actix::test]
async fn delete_cancels_a_running_export() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "100000",
            "--latency-ms",
            "20",
            "--concurrency",
            "2",
        ],
    );
    let base = serve(service::Exports::start(args).unwrap());
    let response = kick_off(&base, "/Patient/$export").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let status_url = response.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned();
    let running = client().get(&status_url).send().await.unwrap();
    assert_eq!(running.status(), StatusCode::ACCEPTED);
    assert!(running.headers()["x-progress"]
        .to_str()
        .unwrap()
        .ends_with("of 100000 beneficiaries"));

    let deleted = client().delete(&status_url).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(
        client().get(&status_url).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let job_id = status_url.rsplit('/').next().unwrap();
    assert!(
        !root.path().join(job_id).exists(),
        "a cancelled export leaves nothing"
    );
}

#[actix::test]
async fn bad_requests_are_400_and_unknown_things_404() {
    let root = tempfile::tempdir().unwrap();
    let base =
        serve(service::Exports::start(settings(root.path(), &["--beneficiaries", "5"])).unwrap());
    let no_prefer = client()
        .get(format!("{base}/Patient/$export"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_prefer.status(), StatusCode::BAD_REQUEST);
    let body: Value = json(no_prefer).await;
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert!(body["issue"][0]["details"]["text"]
        .as_str()
        .unwrap()
        .contains("respond-async"));

    for (query, says) in [
        ("_type=Patient", "_type Patient"),
        ("_type=ExplanationOfBenefit,Coverage", "_type Coverage"),
        ("_outputFormat=text%2Fcsv", "_outputFormat text/csv"),
        (
            "_since=yesterday",
            "invalid _since: \"yesterday\" is neither a date nor an instant; give a date \
             (2024-01-01, taken as midnight UTC) or an instant",
        ),
        (
            "_since=2024-01-01T00:00:00",
            "\"2024-01-01T00:00:00\" has no time zone",
        ),
        (
            "_since=2024-02-30",
            "\"2024-02-30\" is not a day of the calendar",
        ),
        (
            "_since=2024-01-01T00:00:00+05:00",
            "(in a URL, write + as %2B)",
        ),
        ("_since=2999-01-01T00:00:00Z", "in the future"),
        ("_since=2999-01-01", "in the future"),
        ("_since=2999-01-01T00:00:00Z", "in the future"),
        ("_elements=id", "parameter _elements"),
    ] {
        let response = kick_off(&base, &format!("/Patient/$export?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: Value = json(response).await;
        let text = body["issue"][0]["details"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.contains(says), "{query}: {text}");
    }
    let unknown_group = kick_off(&base, "/Group/.hidden/$export").await;
    assert_eq!(unknown_group.status(), StatusCode::NOT_FOUND);
    let body: Value = json(unknown_group).await;
    assert_eq!(body["issue"][0]["details"]["text"], "no Group .hidden");

    for path in [
        "/jobs/no-such-job",
        "/files/no-such-job/Z9000_0001.ndjson",
        "/files/..%2F..%2Fetc/passwd",
        "/files/x/..%2F.exports",
    ] {
        let response = client().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = client()
        .delete(format!("{base}/jobs/no-such-job"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A finished job's directory holds more than its outputs (the lock file):
    // only listed outputs are served.
    let done = poll(
        kick_off(&base, "/Patient/$export").await.headers()["content-location"]
            .to_str()
            .unwrap(),
    )
    .await;
    let manifest: Value = json(done).await;
    let url = manifest["output"][0]["url"].as_str().unwrap();
    let job_files = url.rsplit_once('/').unwrap().0;
    for name in [".lock", "..%2F.exports", "Z9000_9999.ndjson"] {
        let response = client()
            .get(format!("{job_files}/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
    }
}

#[actix::test]
async fn gzip_outputs_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &["--beneficiaries", "60", "--max-bytes", "400000", "--gzip"],
    );
    let source = args.job.synthetic.source(None).unwrap();
    let base = serve(service::Exports::start(args.clone()).unwrap());
    let status_url = kick_off(&base, "/Patient/$export").await.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned();
    let manifest: Value = json(poll(&status_url).await).await;
    let mut ids = HashSet::new();
    for file in manifest["output"].as_array().unwrap() {
        let url = file["url"].as_str().unwrap();
        assert!(url.ends_with(".ndjson.gz"), "{url}");
        let checksum = extension(file, "https://ab2d.cms.gov/checksum")["valueString"]
            .as_str()
            .unwrap()
            .to_owned();
        let length = extension(file, "https://ab2d.cms.gov/file_length")["valueDecimal"]
            .as_u64()
            .unwrap();

        // Stored gzipped and accepted so: sent as it is, with Content-Encoding.
        let _ = client();
        let raw = reqwest::Client::builder()
            .no_proxy()
            .no_gzip()
            .build()
            .unwrap();
        let response = raw
            .get(url)
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-encoding"], "gzip");
        let compressed = response.bytes().await.unwrap();
        let mut ndjson = Vec::new();
        flate2::read::MultiGzDecoder::new(&compressed[..])
            .read_to_end(&mut ndjson)
            .unwrap();
        assert_eq!(
            checksum,
            format!("sha256:{}", hex::encode(Sha256::digest(&ndjson)))
        );
        assert_eq!(length, ndjson.len() as u64, "the length is of the NDJSON");
        assert!(compressed.len() < ndjson.len() / 2, "it is compressed");

        // Not accepted: decompressed on the way.
        let plain = raw.get(url).send().await.unwrap();
        assert!(plain.headers().get("content-encoding").is_none());
        assert_eq!(plain.bytes().await.unwrap(), ndjson);

        for line in ndjson.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).unwrap();
            assert!(ids.insert(v["id"].as_str().unwrap().to_owned()));
        }
    }
    let expected: HashSet<String> = args
        .job
        .beneficiary_ids()
        .flat_map(|id| source.eob_ids(&id))
        .collect();
    assert_eq!(ids, expected);
}

#[test]
fn an_unfinished_export_resumes_after_a_restart() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "400",
            "--latency-ms",
            "5",
            "--max-bytes",
            "200000",
            "--concurrency",
            "2",
        ],
    );
    let source = args.job.synthetic.source(None).unwrap();

    // The first server runs in its own actix system; it is stopped mid-job.
    let (tx, rx) = std::sync::mpsc::channel();
    let first_args = args.clone();
    let first = std::thread::spawn(move || {
        let system = actix_rt::System::new();
        system.block_on(async move {
            let base = serve(service::Exports::start(first_args).unwrap());
            let status_url = kick_off(&base, "/Patient/$export").await.headers()
                ["content-location"]
                .to_str()
                .unwrap()
                .to_owned();
            // Some progress is made before the stop.
            loop {
                let response = client().get(&status_url).send().await.unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::ACCEPTED,
                    "the job outlives the first server"
                );
                if !response.headers()["x-progress"]
                    .to_str()
                    .unwrap()
                    .starts_with("0%")
                {
                    break;
                }
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
            tx.send(status_url).unwrap();
            actix_rt::System::current().stop();
        });
    });
    let old_status_url = rx.recv().unwrap();
    first.join().unwrap();
    // The first server's job ran on its HTTP worker's arbiter, a thread of its
    // own that nothing joins: it may still be going down. A restarted process
    // starts once the old one is gone, its lock released with it; here, wait for
    // the old job to release its lock (which it does only once none of its file
    // work runs any more).
    let id = old_status_url.rsplit('/').next().unwrap().to_owned();
    let lock_file = std::fs::File::open(
        root.path()
            .join(&id)
            .join(claims_aggregator::internals::lock::LOCK_NAME),
    )
    .unwrap();
    lock_file.lock().unwrap();
    drop(lock_file);

    actix_rt::System::new().block_on(async move {
        let base = serve(service::Exports::start(args.clone()).unwrap());
        let done = poll(&format!("{base}/jobs/{id}")).await;
        let status = done.status();
        let manifest: Value = json(done).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the resumed export completes: {manifest}"
        );
        let eobs = download_all(&manifest, "output").await;
        let expected: HashSet<String> = args
            .job
            .beneficiary_ids()
            .flat_map(|id| source.eob_ids(&id))
            .collect();
        let seen: HashSet<String> = eobs
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            eobs.len(),
            expected.len(),
            "nothing duplicated across the restart"
        );
        assert_eq!(seen, expected, "nothing lost across the restart");
    });
}

#[actix::test]
async fn several_exports_run_at_once() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "200",
            "--latency-ms",
            "1",
            "--max-bytes",
            "500000",
            "--contract",
            "Z9000",
            "--contract",
            "Z9001",
        ],
    );
    let source = args.job.synthetic.source(None).unwrap();
    let base = serve(service::Exports::start(args.clone()).unwrap());
    let first = kick_off(&base, "/Group/Z9000/$export").await;
    let second = kick_off(&base, "/Group/Z9001/$export").await;
    let urls: Vec<String> = [first, second]
        .iter()
        .map(|r| r.headers()["content-location"].to_str().unwrap().to_owned())
        .collect();
    assert_ne!(urls[0], urls[1]);
    // Both run side by side: the second is still running when the first is polled.
    assert_eq!(
        client().get(&urls[1]).send().await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    let expected: HashSet<String> = args
        .job
        .beneficiary_ids()
        .flat_map(|id| source.eob_ids(&id))
        .collect();
    for (url, contract) in urls.iter().zip(["Z9000", "Z9001"]) {
        let manifest = json(poll(url).await).await;
        let eobs = download_all(&manifest, "output").await;
        let seen: HashSet<String> = eobs
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(eobs.len(), expected.len());
        assert_eq!(seen, expected);
        assert!(manifest["output"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{contract}_0001.ndjson")));
    }
}

/// The ids of `beneficiary`'s EOBs updated at or after `since`, found by
/// reading each EOB's `meta.lastUpdated`, not through the source's own filter.
fn updated_since(source: &SyntheticSource, beneficiary: &str, since: &str) -> Vec<String> {
    let since = parse_since(since).unwrap();
    source
        .generate(beneficiary)
        .unwrap_or_default()
        .iter()
        .map(|eob| serde_json::from_str::<Value>(eob.as_str()).unwrap())
        .filter(|eob| parse_since(eob["meta"]["lastUpdated"].as_str().unwrap()).unwrap() >= since)
        .map(|eob| eob["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The status URL of an accepted kick-off.
async fn accepted(base: &str, path: &str) -> String {
    let response = kick_off(base, path).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{path}");
    response.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Polls an export to its end; its manifest.
async fn manifest_of(status_url: &str) -> Value {
    let done = poll(status_url).await;
    assert_eq!(done.status(), StatusCode::OK);
    json(done).await
}

#[actix::test]
async fn since_exports_the_claims_updated_since_and_transaction_time_is_the_next_since() {
    let root = tempfile::tempdir().unwrap();
    let args = settings(root.path(), &["--beneficiaries", "300", "--seed", "4"]);
    let source = args.job.synthetic.source(None).unwrap();
    let ids: Vec<String> = args.job.beneficiary_ids().collect();
    let every: usize = ids.iter().map(|id| source.eob_ids(id).len()).sum();
    let mut expected: Vec<String> = ids
        .iter()
        .flat_map(|id| updated_since(&source, id, "2024-01-01T00:00:00Z"))
        .collect();
    expected.sort();
    assert!(
        !expected.is_empty() && expected.len() < every / 4,
        "{} of {every}",
        expected.len()
    );
    let base = serve(service::Exports::start(args).unwrap());

    // A plain date is midnight UTC: the same instant as 19:00 the day before
    // in New York; both export exactly the claims updated since then.
    let mut checksums = Vec::new();
    for since in [
        "2024-01-01",
        "2023-12-31T19:00:00.000-05:00",
        "2024-01-01T00:00:00Z",
    ] {
        let before = SystemTime::now();
        let status_url = accepted(&base, &format!("/Patient/$export?_since={since}")).await;
        let after = SystemTime::now();
        let manifest = manifest_of(&status_url).await;
        let eobs = download_all(&manifest, "output").await;
        let mut got: Vec<String> = eobs
            .iter()
            .map(|eob| eob["id"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, expected, "_since={since}");
        checksums.push(manifest["output"][0]["extension"].clone());

        // transactionTime is the kick-off instant (to the millisecond).
        let transaction = parse_since(manifest["transactionTime"].as_str().unwrap()).unwrap();
        assert!(
            transaction + Duration::from_millis(1) > before && transaction <= after,
            "{}",
            manifest["transactionTime"]
        );
    }
    assert!(checksums.windows(2).all(|pair| pair[0] == pair[1]));

    // The next export since the last one's transactionTime: accepted as
    // `_since` as it is, and nothing was updated since.
    let status_url = accepted(&base, "/Patient/$export").await;
    let first = manifest_of(&status_url).await;
    assert_eq!(download_all(&first, "output").await.len(), every);
    let next_since = first["transactionTime"].as_str().unwrap();
    let status_url = accepted(&base, &format!("/Patient/$export?_since={next_since}")).await;
    let next = manifest_of(&status_url).await;
    assert_eq!(next["output"], serde_json::json!([]), "{next}");
    assert!(next["request"].as_str().unwrap().ends_with(next_since));
}
