//! `resume`: continue a job whose directory exists; start one that never
//! started; report a completed one unchanged; one owner per job directory.

mod common;

use std::fs;

use actix::Actor;
use claims_aggregator::{
    run_job, Cancel, JobProgress, JobStatus, JobSupervisor, RunJob, Subscribe, SyntheticConfig,
    SyntheticSource,
};
use common::*;

#[actix::test]
async fn resume_of_a_job_that_never_started_starts_it() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(40);
    let source = synthetic_source(1, 0.0);
    let cfg = config(root.path()).resume(true).build().unwrap();
    let report = run_job(cfg, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert_eq!(report.progress.patients_resumed, 0);
    assert_exactly_once(&root.path().join("J1"), &report, &source, &ids, &[]);
}

#[actix::test]
async fn resume_of_a_completed_job_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(40);
    let source = synthetic_source(2, 0.2);
    let cfg = || config(root.path()).max_bytes(50_000).max_failure_rate(1.0);
    let first = run_job(cfg().build().unwrap(), source.clone(), ids.clone())
        .await
        .unwrap();
    assert_eq!(first.status, JobStatus::Completed);
    assert!(!first.completed_earlier);
    let job_dir = root.path().join("J1");
    let before: Vec<(String, std::time::SystemTime)> = dir_names(&job_dir)
        .into_iter()
        .map(|n| {
            let modified = fs::metadata(job_dir.join(&n)).unwrap().modified().unwrap();
            (n, modified)
        })
        .collect();

    let again = run_job(
        cfg().resume(true).build().unwrap(),
        source.clone(),
        ids.clone(),
    )
    .await
    .unwrap();
    assert_eq!(again.status, JobStatus::Completed);
    assert_eq!(
        again.outputs, first.outputs,
        "the same outputs, described from disk"
    );
    assert!(again.completed_earlier, "the report says so");
    assert_eq!(again.aggregations, 0);
    assert_eq!(
        again.progress.patient_requests_processed, 0,
        "nothing fetched"
    );
    let after: Vec<(String, std::time::SystemTime)> = dir_names(&job_dir)
        .into_iter()
        .map(|n| {
            let modified = fs::metadata(job_dir.join(&n)).unwrap().modified().unwrap();
            (n, modified)
        })
        .collect();
    assert_eq!(before, after, "no file changed");
}

#[actix::test]
async fn resume_after_cancel_fetches_only_what_is_missing() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(120);
    let cfg = || {
        config(root.path())
            .max_bytes(40_000)
            .multiplier(1)
            .batch_size(4)
            .concurrency(3)
    };
    let (gated, _release) = GatedSource::new(
        SyntheticSource::new(SyntheticConfig::default()),
        &[ids[70].clone()],
    );
    let supervisor = JobSupervisor::new(cfg().build().unwrap(), gated).start();
    let (events, mut rx) = probe::<JobProgress>();
    supervisor.send(Subscribe(events)).await.unwrap();
    let job = actix_rt::spawn(supervisor.send(RunJob::new(ids.clone())));
    await_event(&mut rx, |e| e.progress.aggregations >= 3).await;
    supervisor.send(Cancel).await.unwrap();
    let cancelled = job.await.unwrap().unwrap().unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert!(!cancelled.outputs.is_empty());

    let source = std::sync::Arc::new(SyntheticSource::new(SyntheticConfig::default()));
    let report = run_job(
        cfg().resume(true).build().unwrap(),
        source.clone(),
        ids.clone(),
    )
    .await
    .unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    let job_dir = root.path().join("J1");
    assert_exactly_once(&job_dir, &report, &source, &ids, &[]);
    let p = report.progress;
    assert!(
        p.patients_resumed > 0,
        "batches in published outputs are not fetched again"
    );
    assert_eq!(p.patients_resumed + p.patient_requests_processed, 120);
    assert!(report.outputs.len() > cancelled.outputs.len());
    assert_eq!(
        &report.outputs[..cancelled.outputs.len()],
        &cancelled.outputs[..],
        "earlier outputs kept"
    );
    assert!(leftovers(&job_dir).is_empty(), "{:?}", leftovers(&job_dir));
}

#[actix::test]
async fn a_second_owner_is_refused_while_the_first_runs() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(30);
    let (gated, release) = GatedSource::new(
        SyntheticSource::new(SyntheticConfig::default()),
        &[ids[3].clone()],
    );
    let supervisor = JobSupervisor::new(config(root.path()).build().unwrap(), gated).start();
    let (events, mut rx) = probe::<JobProgress>();
    supervisor.send(Subscribe(events)).await.unwrap();
    let job = actix_rt::spawn(supervisor.send(RunJob::new(ids.clone())));
    await_event(&mut rx, |e| e.progress.parts_finished >= 1).await;

    let second = config(root.path()).resume(true).build().unwrap();
    let err = run_job(second, synthetic_source(0, 0.0), ids.clone())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("in use by another running job") && text.contains("J1"),
        "{text}"
    );

    release.send(()).unwrap();
    let report = job.await.unwrap().unwrap().unwrap();
    assert_eq!(
        report.status,
        JobStatus::Completed,
        "the first owner was not disturbed"
    );
    let source = SyntheticSource::new(SyntheticConfig::default());
    assert_exactly_once(&root.path().join("J1"), &report, &source, &ids, &[]);
}

#[actix::test]
async fn resume_with_another_batch_size_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let job_dir = root.path().join("J1");
    fs::create_dir_all(job_dir.join("finished")).unwrap();
    fs::write(job_dir.join("finished/tmp_000001.ndjson"), b"{}\n").unwrap();
    fs::write(
        job_dir.join(".lock"),
        br#"{"job_id":"J1","contract":"Z9000","batch_size":10}"#,
    )
    .unwrap();
    let cfg = config(root.path())
        .batch_size(20)
        .resume(true)
        .build()
        .unwrap();
    let err = run_job(cfg, synthetic_source(0, 0.0), beneficiaries(5))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("batch size 10"), "{err}");
    assert!(
        job_dir.join("finished/tmp_000001.ndjson").exists(),
        "nothing touched"
    );
}
