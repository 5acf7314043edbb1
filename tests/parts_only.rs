//! Parts-only jobs leave their parts in `finished/` and remove `streaming/`; an
//! aggregator started later (another process, in production) combines them.

mod common;

use std::time::Duration;

use actix::Actor;
use claims_aggregator::{journal, run_job, Aggregator, AwaitCompletion, JobStatus};
use common::*;

#[actix::test]
async fn parts_only_then_a_standalone_aggregator() {
    let root = tempfile::tempdir().unwrap();
    let ids = beneficiaries(80);
    let source = synthetic_source(4, 0.1);
    let cfg = config(root.path())
        .max_bytes(100_000)
        .max_failure_rate(1.0)
        .parts_only(true)
        .build()
        .unwrap();
    let report = run_job(cfg.clone(), source.clone(), ids.clone())
        .await
        .unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert!(report.outputs.is_empty());
    assert_eq!(report.aggregations, 0);
    let layout = cfg.layout();
    assert!(
        !layout.streaming().exists(),
        "streaming/ removed: the writers are done"
    );
    let parts = dir_names(layout.finished());
    assert!(
        parts
            .iter()
            .filter(|p| !p.ends_with("_error.ndjson"))
            .count()
            == 8,
        "{parts:?}"
    );

    let aggregator = Aggregator::new(&cfg)
        .watch(Duration::from_millis(10))
        .start();
    let count = aggregator.send(AwaitCompletion).await.unwrap().unwrap();
    let outputs = journal::outputs(&layout).unwrap();
    assert_eq!(count, outputs.len() as u64);
    let combined = claims_aggregator::JobReport { outputs, ..report };
    let failed: Vec<String> = ids.iter().filter(|id| source.fails(id)).cloned().collect();
    assert_exactly_once(layout.job_dir(), &combined, &source, &ids, &failed);
    assert!(!layout.finished().exists());
}
