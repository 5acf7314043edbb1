//! The job fails once more than `max_failure_rate` of processed beneficiaries failed.

mod common;

use claims_aggregator::{run_job, FileKind, JobStatus};
use common::*;

#[actix::test]
async fn too_many_failures_fail_the_job_and_keep_their_operation_outcomes() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .max_failure_rate(0.2)
        .batch_size(5)
        .concurrency(2)
        .build()
        .unwrap();
    let source = synthetic_source(3, 0.6);
    let report = run_job(config, source.clone(), beneficiaries(500))
        .await
        .unwrap();
    let JobStatus::Failed(reason) = &report.status else {
        panic!("expected failed, got {:?}", report.status);
    };
    assert!(reason.starts_with("failure threshold exceeded"), "{reason}");
    assert!(reason.contains("max failure rate 0.2"), "{reason}");
    let p = report.progress;
    assert!(p.patient_requests_errored as f64 > 0.2 * p.patient_requests_processed as f64);
    assert!(p.patient_requests_processed < 500, "stopped early");
    let job_dir = root.path().join("J1");
    assert!(!job_dir.join("streaming").exists() && !job_dir.join("finished").exists());
    // The finished parts were combined: one OperationOutcome per failure.
    let failed = failed_beneficiaries(&output_lines(&job_dir, &report, FileKind::Error));
    assert_eq!(failed.len() as u64, p.patient_requests_errored);
    assert!(failed.iter().all(|id| source.fails(id)));
    assert!(reason.contains(&format!(
        "failed: synthetic source: fetch failed (injected failure) ×{} (",
        p.patient_requests_errored
    )));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "failed");
    assert!(json["reason"]
        .as_str()
        .unwrap()
        .contains("failure threshold"));
}

#[actix::test]
async fn failures_under_the_threshold_are_reported_and_the_job_completes() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path()).max_failure_rate(0.5).build().unwrap();
    let source = synthetic_source(3, 0.1);
    let ids = beneficiaries(200);
    let report = run_job(config, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    let expected = ids.iter().filter(|id| source.fails(id)).count() as u64;
    assert!(expected > 0);
    assert_eq!(report.progress.patient_requests_errored, expected);
    let errors: u64 = report.outputs_of(FileKind::Error).map(|o| o.records).sum();
    assert_eq!(errors, expected);
}

#[actix::test]
async fn a_rate_of_zero_fails_on_the_first_failure() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .max_failure_rate(0.0)
        .concurrency(1)
        .build()
        .unwrap();
    let source = synthetic_source(3, 0.3);
    let report = run_job(config, source, beneficiaries(100)).await.unwrap();
    assert!(
        matches!(report.status, JobStatus::Failed(_)),
        "{:?}",
        report.status
    );
}
