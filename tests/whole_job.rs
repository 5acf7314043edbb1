//! A whole job on the synthetic source: every EOB exactly once in the data
//! outputs, every failed beneficiary exactly once in the error outputs, and the
//! report agreeing with the files.

mod common;

use std::collections::HashSet;

use claims_aggregator::{run_job, FileKind, JobStatus};
use common::*;

#[actix::test]
async fn every_eob_and_every_failure_exactly_once() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .max_bytes(1024 * 1024)
        .batch_size(7)
        .concurrency(5)
        .max_failure_rate(1.0)
        .build()
        .unwrap();
    let ids = beneficiaries(300);
    let source = synthetic_source(11, 0.1);
    let report = run_job(config, source.clone(), ids.clone()).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    let job_dir = root.path().join("J1");

    let expected_eobs: Vec<String> = ids.iter().flat_map(|id| source.eob_ids(id)).collect();
    let expected_failed: HashSet<&String> = ids.iter().filter(|id| source.fails(id)).collect();
    assert!(expected_eobs.len() > 500 && !expected_failed.is_empty());

    let data = output_lines(&job_dir, &report, FileKind::Data);
    let mut seen = HashSet::new();
    for eob in &data {
        assert_eq!(eob["resourceType"], "ExplanationOfBenefit");
        assert!(
            seen.insert(eob["id"].as_str().unwrap().to_owned()),
            "duplicate {}",
            eob["id"]
        );
    }
    assert_eq!(seen, expected_eobs.iter().cloned().collect::<HashSet<_>>());
    assert_eq!(data.len(), expected_eobs.len());

    let failed = failed_beneficiaries(&output_lines(&job_dir, &report, FileKind::Error));
    assert_eq!(failed.len(), expected_failed.len(), "each failure once");
    assert_eq!(failed.iter().collect::<HashSet<_>>(), expected_failed);

    let p = report.progress;
    assert_eq!(p.patients_expected, 300);
    assert_eq!(p.patient_requests_queued, 300);
    assert_eq!(p.patient_requests_processed, 300);
    assert_eq!(p.patient_requests_errored, expected_failed.len() as u64);
    assert_eq!(p.eobs_fetched, expected_eobs.len() as u64);
    assert_eq!(p.eobs_written, expected_eobs.len() as u64);
    assert_eq!(p.parts_finished, 43 + report_error_parts(&ids, &source));
    let data_records: u64 = report.outputs_of(FileKind::Data).map(|o| o.records).sum();
    let output_bytes: u64 = report.outputs.iter().map(|o| o.bytes).sum();
    assert_eq!(data_records, p.eobs_written);
    assert_eq!(output_bytes, p.bytes_written);
    assert_eq!(report.aggregations, report.outputs.len() as u64);
    assert_eq!(p.aggregations, report.aggregations);
    assert_outputs_match_report(&job_dir, &report);

    // Outputs respect the cap and are numbered from 0001 per kind.
    for kind in [FileKind::Data, FileKind::Error] {
        let names: Vec<&str> = report.outputs_of(kind).map(|o| o.file.as_str()).collect();
        let expected: Vec<String> = (1..=names.len())
            .map(|n| match kind {
                FileKind::Data => format!("Z9000_{n:04}.ndjson"),
                FileKind::Error => format!("Z9000_{n:04}_error.ndjson"),
            })
            .collect();
        assert_eq!(names, expected);
    }
    assert!(report.outputs_of(FileKind::Data).count() > 3);
    assert!(report.outputs.iter().all(|o| o.bytes <= 1024 * 1024));

    // The job directory holds the outputs and nothing else.
    let mut files: Vec<String> = report.outputs.iter().map(|o| o.file.clone()).collect();
    files.sort();
    assert_eq!(dir_names(&job_dir), files);

    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "job_id",
        "contract",
        "status",
        "aggregations",
        "outputs",
        "progress",
        "timings_ms",
    ] {
        assert!(json.get(key).is_some(), "report has {key}");
    }
    assert_eq!(json["outputs"][0]["kind"], "data");
    assert_eq!(json["outputs"][0]["sha256"].as_str().unwrap().len(), 64);
}

/// Batches (of 7) that had at least one failure, i.e. wrote an error part.
fn report_error_parts(ids: &[String], source: &claims_aggregator::SyntheticSource) -> u64 {
    ids.chunks(7)
        .filter(|batch| batch.iter().any(|id| source.fails(id)))
        .count() as u64
}

#[actix::test]
async fn a_job_without_beneficiaries_completes_with_no_outputs() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path()).build().unwrap();
    let report = run_job(config, synthetic_source(1, 0.0), Vec::new())
        .await
        .unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert!(report.outputs.is_empty());
    assert!(dir_names(&root.path().join("J1")).is_empty());
}

#[actix::test]
async fn beneficiaries_without_claims_leave_no_empty_outputs() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path()).build().unwrap();
    let source = std::sync::Arc::new(claims_aggregator::SyntheticSource::new(
        claims_aggregator::SyntheticConfig {
            eobs_per_beneficiary: 0.0,
            ..Default::default()
        },
    ));
    let report = run_job(config, source, beneficiaries(25)).await.unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert_eq!(report.progress.patient_requests_processed, 25);
    assert_eq!(report.progress.eobs_written, 0);
    assert!(report.outputs.is_empty(), "{:?}", report.outputs);
    assert!(dir_names(&root.path().join("J1")).is_empty());
}
