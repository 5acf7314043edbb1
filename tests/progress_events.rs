//! Progress events pushed to subscribers: one after each batch and each output,
//! then a last one with the job's status.

mod common;

use actix::Actor;
use claims_aggregator::{JobProgress, JobStatus, JobSupervisor, RunJob, Subscribe};
use common::*;
use futures::StreamExt;

#[actix::test]
async fn subscribers_see_every_batch_and_output_then_the_end() {
    let root = tempfile::tempdir().unwrap();
    let cfg = config(root.path())
        .max_bytes(100_000)
        .multiplier(1)
        .batch_size(5)
        .build()
        .unwrap();
    let supervisor = JobSupervisor::new(cfg, synthetic_source(8, 0.0)).start();
    let (events, mut rx) = probe::<JobProgress>();
    supervisor.send(Subscribe(events)).await.unwrap();
    let (second, mut rx2) = probe::<JobProgress>();
    supervisor.send(Subscribe(second)).await.unwrap();
    let report = supervisor
        .send(RunJob::new(beneficiaries(60)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.status, JobStatus::Completed);

    let mut seen = Vec::new();
    while let Some(event) = rx.next().await {
        let last = event.status.is_some();
        seen.push(event);
        if last {
            break;
        }
    }
    let last = seen.last().unwrap();
    assert_eq!(last.status, Some(JobStatus::Completed));
    assert_eq!(last.progress, report.progress);
    assert_eq!(last.job_id, "J1");
    let running = &seen[..seen.len() - 1];
    assert!(running.iter().all(|e| e.status.is_none()));
    assert!(
        running.len() as u64 >= 12 + report.aggregations,
        "one per batch and per output: {}",
        running.len()
    );
    assert!(running
        .windows(2)
        .all(|w| w[0].progress.patient_requests_processed
            <= w[1].progress.patient_requests_processed));
    assert!(
        running
            .iter()
            .any(|e| e.progress.patient_requests_processed == 60),
        "the last batch is reported before the end"
    );
    let other = await_event(&mut rx2, |e| e.status.is_some()).await;
    assert_eq!(other.progress, report.progress, "every subscriber is told");
}
