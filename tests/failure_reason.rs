//! A job that fails on the failure threshold says why: its reason names the
//! most frequent causes with counts, and its job directory keeps the error
//! outputs, one `OperationOutcome` per failed beneficiary, exactly once.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use claims_aggregator::{
    run_job, synthetic, BfdConfig, BfdSource, ClaimsSource, FileKind, JobReport, JobStatus,
    Resource, SourceError, SyntheticConfig, SyntheticSource,
};
use common::*;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};

/// A port on 127.0.0.1 where nothing listens: bound, then let go.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

fn reason(report: &JobReport) -> &str {
    match &report.status {
        JobStatus::Failed(reason) => reason,
        other => panic!("expected failed, got {other:?}"),
    }
}

/// The OperationOutcomes of the job's error outputs, by beneficiary; each
/// beneficiary once.
fn outcomes(job_dir: &std::path::Path, report: &JobReport) -> HashMap<String, Value> {
    let lines = output_lines(job_dir, report, FileKind::Error);
    let ids = failed_beneficiaries(&lines);
    let mut by_id = HashMap::new();
    for (id, line) in ids.into_iter().zip(lines) {
        assert!(
            by_id.insert(id.clone(), line).is_none(),
            "{id}: two OperationOutcomes"
        );
    }
    by_id
}

/// What a failed job's directory must hold: no working directories, the error
/// outputs of the report on disk, one OperationOutcome per failed beneficiary.
fn assert_failure_kept(job_dir: &std::path::Path, report: &JobReport) -> HashMap<String, Value> {
    assert!(!job_dir.join("streaming").exists(), "streaming/ removed");
    assert!(!job_dir.join("finished").exists(), "finished/ combined");
    assert!(report.stray_files.is_empty(), "{:?}", report.stray_files);
    assert!(report.outputs_of(FileKind::Error).count() > 0, "{report:?}");
    assert_outputs_match_report(job_dir, report);
    let outcomes = outcomes(job_dir, report);
    assert_eq!(
        outcomes.len() as u64,
        report.progress.patient_requests_errored,
        "one OperationOutcome per failed beneficiary"
    );
    outcomes
}

#[actix::test]
async fn a_closed_port_fails_the_job_naming_connection_refused() {
    let port = closed_port();
    let source = BfdSource::new(
        BfdConfig::builder(format!("http://127.0.0.1:{port}"))
            .max_attempts(1)
            .build()
            .unwrap(),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .batch_size(4)
        .concurrency(2)
        .build()
        .unwrap();
    let ids = beneficiaries(20);
    let report = run_job(config, Arc::new(source), ids.clone())
        .await
        .unwrap();
    let reason = reason(&report);
    let p = report.progress;
    assert!(p.patient_requests_errored > 0);
    assert_eq!(p.patient_requests_errored, p.patient_requests_processed);
    assert!(
        reason.contains(&format!(
            "{} of {} beneficiaries failed: connection refused (127.0.0.1:{port}) ×{} (max failure rate 0.1)",
            p.patient_requests_errored, p.patient_requests_processed, p.patient_requests_errored
        )),
        "{reason}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["reason"], reason);

    let outcomes = assert_failure_kept(&root.path().join("J1"), &report);
    for (id, outcome) in &outcomes {
        assert!(ids.contains(id), "{id}");
        let text = outcome["issue"][0]["details"]["text"].as_str().unwrap();
        assert!(text.contains("Connection refused"), "{text}");
    }
}

/// The synthetic source with its failure rate, and chosen beneficiaries that
/// hang (the job's request timeout ends them) or answer an invalid resource.
struct ManyCauses {
    inner: SyntheticSource,
    hang: HashSet<String>,
    invalid: HashSet<String>,
}

impl ClaimsSource for ManyCauses {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        async move {
            if self.hang.contains(beneficiary) {
                futures::future::pending::<()>().await;
            }
            let mut resources = self.inner.generate(beneficiary)?;
            if self.invalid.contains(beneficiary) {
                resources.push(Resource::from_value(&json!({"resourceType": "Patient"})));
            }
            Ok(resources)
        }
        .boxed()
    }
}

#[actix::test]
async fn the_reason_counts_the_failures_of_each_cause() {
    let inner = SyntheticSource::new(SyntheticConfig {
        seed: 11,
        failure_rate: 0.25,
        ..SyntheticConfig::default()
    });
    let batch = beneficiaries(40);
    // Two hang and three answer an invalid resource, among those that would
    // not fail anyway.
    let mut healthy = batch.iter().filter(|id| !inner.fails(id)).cloned();
    let hang: HashSet<String> = healthy.by_ref().take(2).collect();
    let invalid: HashSet<String> = healthy.take(3).collect();
    let injected: Vec<&String> = batch.iter().filter(|id| inner.fails(id)).collect();
    assert!(injected.len() > 3, "{} injected failures", injected.len());
    let source = Arc::new(ManyCauses {
        inner: inner.clone(),
        hang: hang.clone(),
        invalid: invalid.clone(),
    });

    // One fetcher, one batch of 40: the threshold trips once it is done.
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .batch_size(40)
        .concurrency(1)
        .max_failure_rate(0.2)
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let report = run_job(config, source, beneficiaries(400)).await.unwrap();
    let reason = reason(&report);
    let failed = injected.len() + hang.len() + invalid.len();
    assert_eq!(report.progress.patient_requests_processed, 40);
    assert_eq!(report.progress.patient_requests_errored, failed as u64);
    let want = format!(
        "failure threshold exceeded: {failed} of 40 beneficiaries failed: \
         synthetic source: fetch failed (injected failure) ×{}, \
         invalid resource: a Patient, not an ExplanationOfBenefit ×3, \
         fetch timed out after 300 ms ×2 (max failure rate 0.2)",
        injected.len()
    );
    assert_eq!(reason, want);

    // The error outputs hold exactly the failed beneficiaries, the data outputs
    // exactly the claims of the others.
    let job_dir = root.path().join("J1");
    let outcomes = assert_failure_kept(&job_dir, &report);
    let mut codes: HashMap<&str, usize> = HashMap::new();
    for outcome in outcomes.values() {
        *codes
            .entry(outcome["issue"][0]["code"].as_str().unwrap())
            .or_default() += 1;
    }
    assert_eq!(codes["exception"], injected.len());
    assert_eq!(codes["timeout"], 2);
    assert_eq!(codes["invalid"], 3);
    let mut failed_ids: Vec<String> = injected.into_iter().cloned().collect();
    failed_ids.extend(hang);
    failed_ids.extend(invalid);
    assert_exactly_once(&job_dir, &report, &inner, &batch, &failed_ids);

    // What the failed run kept is a resumable job: the resumed run, allowed
    // every failure, adds the rest, each claim and failure still once.
    let again = common::config(root.path())
        .batch_size(40)
        .max_failure_rate(1.0)
        .resume(true)
        .build()
        .unwrap();
    let source = Arc::new(ManyCauses {
        inner: inner.clone(),
        hang: HashSet::new(),
        invalid: HashSet::new(),
    });
    let all = beneficiaries(400);
    let resumed = run_job(again, source, all.clone()).await.unwrap();
    assert_eq!(resumed.status, JobStatus::Completed);
    assert_eq!(resumed.progress.patients_resumed, 40);
    failed_ids.extend(all[40..].iter().filter(|id| inner.fails(id)).cloned());
    assert_exactly_once(&job_dir, &resumed, &inner, &all, &failed_ids);
}

/// The synthetic source, and every beneficiary from index `from` on fails.
struct FailingFrom {
    inner: SyntheticSource,
    from: u64,
}

impl FailingFrom {
    fn fails_late(&self, beneficiary: &str) -> bool {
        let index = beneficiary.trim_start_matches('-').parse::<u64>().unwrap()
            - synthetic::beneficiary_id(0)
                .trim_start_matches('-')
                .parse::<u64>()
                .unwrap();
        index >= self.from
    }
}

impl ClaimsSource for FailingFrom {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        async move {
            if self.fails_late(beneficiary) {
                return Err(SourceError::new(
                    "transient",
                    format!("upstream down for beneficiary {beneficiary}"),
                ));
            }
            self.inner.generate(beneficiary)
        }
        .boxed()
    }
}

#[actix::test]
async fn error_outputs_published_before_the_failure_are_kept_with_the_rest() {
    // A few failures all along, stay under the threshold while error outputs
    // are published; then every beneficiary fails and the job stops.
    let inner = SyntheticSource::new(SyntheticConfig {
        seed: 5,
        failure_rate: 0.1,
        ..SyntheticConfig::default()
    });
    let source = Arc::new(FailingFrom {
        inner: inner.clone(),
        from: 600,
    });
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .batch_size(10)
        .concurrency(4)
        .max_bytes(2_000)
        .max_failure_rate(0.3)
        .build()
        .unwrap();
    let report = run_job(config, source.clone(), beneficiaries(5_000))
        .await
        .unwrap();
    let reason = reason(&report);
    let p = report.progress;
    assert!(p.patient_requests_processed < 5_000, "stopped early");

    let outcomes = assert_failure_kept(&root.path().join("J1"), &report);
    let (late, injected): (Vec<&String>, Vec<&String>) =
        outcomes.keys().partition(|id| source.fails_late(id));
    assert!(injected.iter().all(|id| inner.fails(id)), "{injected:?}");
    assert!(
        report.outputs_of(FileKind::Error).count() > 3,
        "error outputs published while the job ran: {:?}",
        report.outputs
    );
    assert!(
        reason.contains(&format!(
            "{} of {} beneficiaries failed: upstream down ×{}, \
             synthetic source: fetch failed (injected failure) ×{} (",
            p.patient_requests_errored,
            p.patient_requests_processed,
            late.len(),
            injected.len()
        )),
        "{reason}"
    );
    assert!(late.len() > injected.len());
}
