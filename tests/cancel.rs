//! `Cancel` at any moment stops every fetcher and the aggregator, removes
//! `streaming/`, `finished/` and partial files, and the report says `cancelled`.

mod common;

use actix::Actor;
use claims_aggregator::{
    Cancel, JobProgress, JobStatus, JobSupervisor, RunJob, Subscribe, SyntheticConfig,
    SyntheticSource,
};
use common::*;

#[actix::test]
async fn cancel_mid_job_stops_everything_and_cleans_up() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .max_bytes(32 * 1024)
        .multiplier(1)
        .batch_size(3)
        .concurrency(4)
        .build()
        .unwrap();
    let ids = beneficiaries(200);
    // Batch 10 never finishes until released (never, here): a fetcher is stuck mid-batch.
    let (source, _release) = GatedSource::new(
        SyntheticSource::new(SyntheticConfig::default()),
        &[ids[28].clone()],
    );
    let supervisor = JobSupervisor::new(config, source).start();
    let (events, mut rx) = probe::<JobProgress>();
    supervisor.send(Subscribe(events)).await.unwrap();
    let job = actix_rt::spawn(supervisor.send(RunJob::new(ids)));

    await_event(&mut rx, |e| e.progress.aggregations >= 2).await;
    let job_dir = root.path().join("J1");
    assert!(job_dir.join("streaming").exists() && job_dir.join("finished").exists());
    supervisor.send(Cancel).await.unwrap();

    let report = job.await.unwrap().unwrap().unwrap();
    assert_eq!(report.status, JobStatus::Cancelled);
    assert!(report.progress.patient_requests_processed < 200);
    assert!(!job_dir.join("streaming").exists(), "streaming/ removed");
    assert!(!job_dir.join("finished").exists(), "finished/ removed");
    let stray: Vec<String> = leftovers(&job_dir)
        .into_iter()
        .filter(|p| !p.ends_with("/.journal"))
        .collect();
    assert!(stray.is_empty(), "no part or temp file left: {stray:?}");
    // What was published stays, listed in the report and intact.
    assert!(!report.outputs.is_empty());
    assert_outputs_match_report(&job_dir, &report);
    let final_event = await_event(&mut rx, |e| e.status.is_some()).await;
    assert_eq!(final_event.status, Some(JobStatus::Cancelled));
}

#[actix::test]
async fn cancel_while_every_fetch_hangs() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path()).concurrency(3).build().unwrap();
    let supervisor = JobSupervisor::new(config, std::sync::Arc::new(StuckSource)).start();
    let job = actix_rt::spawn(supervisor.send(RunJob::new(beneficiaries(100))));
    // Cancel goes through the mailbox after RunJob, whatever phase the job is in.
    supervisor.send(Cancel).await.unwrap();
    let report = job.await.unwrap().unwrap().unwrap();
    assert_eq!(report.status, JobStatus::Cancelled);
    assert_eq!(report.progress.patient_requests_processed, 0);
    assert!(report.outputs.is_empty());
    assert!(
        dir_names(&root.path().join("J1")).is_empty(),
        "nothing left"
    );
}

#[actix::test]
async fn cancel_after_fetchers_started() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path()).concurrency(3).build().unwrap();
    let ids = beneficiaries(100);
    let (source, _release) =
        GatedSource::new(SyntheticSource::new(SyntheticConfig::default()), &ids[5..6]);
    let supervisor = JobSupervisor::new(config, source).start();
    let (events, mut rx) = probe::<JobProgress>();
    supervisor.send(Subscribe(events)).await.unwrap();
    let job = actix_rt::spawn(supervisor.send(RunJob::new(ids)));
    // Batch 1 done, batch 2 held, batches 3.. running or queued.
    await_event(&mut rx, |e| e.progress.parts_finished >= 1).await;
    supervisor.send(Cancel).await.unwrap();
    let report = job.await.unwrap().unwrap().unwrap();
    assert_eq!(report.status, JobStatus::Cancelled);
    assert!(report.progress.patient_requests_queued > report.progress.patient_requests_processed);
    let left = dir_names(&root.path().join("J1"));
    assert!(
        left.iter()
            .all(|n| n == ".journal" || n.starts_with("Z9000_")),
        "{left:?}"
    );
}
