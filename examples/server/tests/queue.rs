//! Running exports are bounded by `--max-running`: many kick-offs at once
//! never run more than that many jobs at a time; the others wait, and their
//! status says so in `X-Progress`. All of them complete.

mod common;

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::Value;
use server::service;

use common::*;

#[actix::test]
async fn many_kick_offs_run_at_most_max_running_at_once() {
    const KICK_OFFS: usize = 12;
    const MAX_RUNNING: usize = 2;
    let root = tempfile::tempdir().unwrap();
    let args = settings(
        root.path(),
        &[
            "--beneficiaries",
            "30",
            "--latency-ms",
            "10",
            "--concurrency",
            "2",
            "--max-running",
            &MAX_RUNNING.to_string(),
        ],
    );
    let source = args.job.synthetic.source(None).unwrap();
    let exports = service::Exports::start(args.clone()).unwrap();
    let base = serve(exports.clone());

    let responses =
        futures::future::join_all((0..KICK_OFFS).map(|_| kick_off(&base, "/Patient/$export")))
            .await;
    let mut urls: Vec<String> = responses.iter().map(content_location).collect();
    assert_eq!(urls.iter().collect::<HashSet<_>>().len(), KICK_OFFS);

    // The last one waits behind the others.
    let last = client().get(&urls[KICK_OFFS - 1]).send().await.unwrap();
    assert_eq!(last.status(), StatusCode::ACCEPTED);
    let progress = last.headers()["x-progress"].to_str().unwrap().to_owned();
    assert!(progress.starts_with("queued, "), "{progress}");
    let ahead: usize = progress
        .trim_start_matches("queued, ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ahead > 0 && ahead <= KICK_OFFS - 1 - MAX_RUNNING,
        "{progress}"
    );

    // The last export, seen queued above, is deleted before it runs.
    let dropped = urls.pop().unwrap();
    let deleted = client().delete(&dropped).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert_eq!(
        client().get(&dropped).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let dropped_id = dropped.rsplit('/').next().unwrap();

    let expected: HashSet<String> = args
        .job
        .beneficiary_ids()
        .flat_map(|id| source.eob_ids(&id))
        .collect();
    for url in &urls {
        let done = poll(url).await;
        assert_eq!(done.status(), StatusCode::OK);
        let manifest: Value = json(done).await;
        let eobs = download_all(&manifest, "output").await;
        assert_eq!(eobs.len(), expected.len());
    }
    assert!(
        !root.path().join(dropped_id).exists()
            && !root
                .path()
                .join(".exports")
                .join(format!("{dropped_id}.json"))
                .exists(),
        "a deleted queued export leaves nothing"
    );
    assert_eq!(
        exports.peak_running(),
        MAX_RUNNING,
        "at most {MAX_RUNNING} jobs ran at once, and the bound was reached"
    );
}
