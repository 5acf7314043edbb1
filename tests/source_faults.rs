//! A beneficiary whose fetch errors, times out or returns something that is not a
//! valid resource becomes one OperationOutcome; a fetcher that panics is retried
//! once from scratch, then its batch is counted as failed; the job never hangs.

mod common;

use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use claims_aggregator::{run_job, FileKind, JobStatus};
use common::*;
use serde_json::json;

#[actix::test]
async fn timeouts_and_invalid_resources_become_operation_outcomes() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(60);
    let hung = ids[7].clone();
    let invalid = [ids[20].clone(), ids[33].clone(), ids[47].clone()];
    let source = ScriptedSource::new(
        5,
        vec![
            (hung.clone(), Script::Hang),
            (
                invalid[0].clone(),
                Script::Invalid(json!({"resourceType": "Patient", "id": "p"})),
            ),
            (invalid[1].clone(), Script::Invalid(json!([1, 2, 3]))),
            (
                invalid[2].clone(),
                Script::Invalid(json!({"resourceType": "ExplanationOfBenefit"})),
            ),
        ],
    );
    let cfg = config(root.path())
        .request_timeout(Duration::from_millis(200))
        .max_failure_rate(1.0)
        .build()
        .unwrap();
    let report = run_job(cfg, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    let job_dir = root.path().join("J1");
    let mut failed = vec![hung.clone()];
    failed.extend(invalid.iter().cloned());
    assert_exactly_once(&job_dir, &report, &source.inner, &ids, &failed);
    assert_eq!(report.progress.patient_requests_errored, 4);

    let errors = output_lines(&job_dir, &report, FileKind::Error);
    let about = |id: &str| {
        errors
            .iter()
            .find(|e| e["issue"][0]["diagnostics"] == format!("Patient/{id}"))
            .unwrap()
            .clone()
    };
    let timeout = about(&hung);
    assert_eq!(timeout["issue"][0]["code"], "timeout");
    assert!(timeout["issue"][0]["details"]["text"]
        .as_str()
        .unwrap()
        .contains("timed out after 200 ms"));
    for (id, says) in invalid
        .iter()
        .zip(["a Patient", "not a JSON object", "without an id"])
    {
        let outcome = about(id);
        assert_eq!(outcome["issue"][0]["code"], "invalid");
        let text = outcome["issue"][0]["details"]["text"].as_str().unwrap();
        assert!(text.contains(says) && text.contains(id.as_str()), "{text}");
    }
}

#[actix::test]
async fn a_panicking_fetcher_is_retried_from_scratch() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(50);
    // The panic hits mid-batch: the batch's first beneficiaries were already written.
    let source = ScriptedSource::new(
        6,
        vec![(ids[14].clone(), Script::Panic(AtomicUsize::new(1)))],
    );
    let cfg = config(root.path()).batch_size(5).build().unwrap();
    let report = run_job(cfg, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert_exactly_once(&root.path().join("J1"), &report, &source.inner, &ids, &[]);
    assert_eq!(
        report.progress.patient_requests_processed, 50,
        "the retried batch counted once"
    );
    assert_eq!(report.progress.patient_requests_errored, 0);
}

#[actix::test]
async fn a_batch_lost_twice_is_counted_as_failed_and_the_job_goes_on() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(50);
    let source = ScriptedSource::new(
        7,
        vec![(ids[22].clone(), Script::Panic(AtomicUsize::new(2)))],
    );
    let cfg = config(root.path())
        .batch_size(5)
        .max_failure_rate(0.5)
        .build()
        .unwrap();
    let report = run_job(cfg, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    // Batch 5 holds beneficiaries 20..25: each is one OperationOutcome.
    let failed: Vec<String> = ids[20..25].to_vec();
    assert_exactly_once(
        &root.path().join("J1"),
        &report,
        &source.inner,
        &ids,
        &failed,
    );
    assert_eq!(report.progress.patient_requests_errored, 5);
    assert_eq!(report.progress.patient_requests_processed, 50);
    let errors = output_lines(&root.path().join("J1"), &report, FileKind::Error);
    assert!(errors[0]["issue"][0]["details"]["text"]
        .as_str()
        .unwrap()
        .contains("stopped unexpectedly twice"));
}
