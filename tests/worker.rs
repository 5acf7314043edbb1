//! The scale-out worker in one process, on the in-process coordinator: two
//! workers export exactly what one supervisor does, and a dead worker's
//! leftovers — a committed part it did not move, a part of a claim taken over —
//! are adopted and deleted as the database says. (The same worker against
//! PostgreSQL, in processes that are killed, paused and cut off, is tested in
//! tests/postgres/tests/workers.rs.)

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Actor;
use claims_aggregator::coordination::worker::{
    GetWorkerStats, SourceFor, StopWorker, Worker, WorkerConfig,
};
use claims_aggregator::coordination::{
    BatchTally, Coordinator, FencedPart, JobRecord, JobSpec, JobState, MemoryCoordinator,
};
use claims_aggregator::{run_job, ClaimsSource, FileKind};

const SEED: u64 = 11;

fn spec(job: &str, failure_rate: f64) -> JobSpec {
    let mut spec = JobSpec::new(job, "Z9000");
    spec.options.max_bytes = 200_000;
    spec.options.max_failure_rate = failure_rate.max(0.5);
    spec
}

fn sources(failure_rate: f64) -> SourceFor {
    Arc::new(move |_: &JobRecord| {
        Ok(common::synthetic_source(SEED, failure_rate) as Arc<dyn ClaimsSource>)
    })
}

fn worker_config(root: &Path, name: &str) -> WorkerConfig {
    let mut config = WorkerConfig::new(root);
    config.worker_id = name.to_owned();
    config.lease = Duration::from_secs(2);
    config.poll = Duration::from_millis(20);
    config
}

/// Every record of the job's outputs, sorted.
fn record_set(job_dir: &Path) -> Vec<String> {
    let mut records = Vec::new();
    for name in common::dir_names(job_dir) {
        if name.ends_with(".ndjson") {
            let body = std::fs::read_to_string(job_dir.join(name)).unwrap();
            records.extend(body.lines().map(str::to_owned));
        }
    }
    records.sort();
    records
}

/// The record set of the same job run by one supervisor.
async fn one_process(root: &Path, n: u64, failure_rate: f64) -> Vec<String> {
    let config = common::config(root)
        .max_bytes(200_000)
        .max_failure_rate(failure_rate.max(0.5))
        .build()
        .unwrap();
    let report = run_job(
        config,
        common::synthetic_source(SEED, failure_rate),
        common::beneficiaries(n),
    )
    .await
    .unwrap();
    assert!(report.status.is_completed(), "{report:?}");
    record_set(&root.join("J1"))
}

/// Waits until the job has ended, for at most a minute.
async fn ended(coordinator: &MemoryCoordinator, job: &str) -> JobRecord {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let record = coordinator.status(job).await.unwrap();
        if record.state != JobState::Running {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "job {job} did not end: {record:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn two_workers_in_one_process_export_what_one_supervisor_does() {
    let root = tempfile::tempdir().unwrap();
    let coordinator = Arc::new(MemoryCoordinator::new());
    let ids = common::beneficiaries(150);
    coordinator
        .submit_job(&spec("W1", 0.05), Box::new(ids.into_iter()), false)
        .await
        .unwrap();
    let workers: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            Worker::new(
                coordinator.clone(),
                worker_config(root.path(), name),
                sources(0.05),
            )
            .unwrap()
            .start()
        })
        .collect();
    let record = ended(&coordinator, "W1").await;
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    assert_eq!(record.tally.processed, 150);

    let got = record_set(&root.path().join("W1"));
    let single = tempfile::tempdir().unwrap();
    assert!(
        got == one_process(single.path(), 150, 0.05).await,
        "the same records"
    );
    // Only outputs are left (and the lock file, which `dir_names` skips),
    // each recorded once.
    let outputs = coordinator.outputs("W1").await.unwrap();
    let mut names: Vec<String> = outputs.iter().map(|o| o.name.clone()).collect();
    names.sort();
    assert_eq!(common::dir_names(&root.path().join("W1")), names);
    let mut completed = 0;
    for worker in &workers {
        completed += worker.send(GetWorkerStats).await.unwrap().batches_completed;
    }
    assert_eq!(completed, 15, "each batch completed once");
    for worker in workers {
        worker.send(StopWorker).await.unwrap();
    }
}

#[actix_rt::test]
async fn a_dead_worker_s_parts_are_adopted_or_deleted_as_committed() {
    let root = tempfile::tempdir().unwrap();
    let coordinator = Arc::new(MemoryCoordinator::new());
    coordinator
        .submit_job(
            &spec("W2", 0.0),
            Box::new(common::beneficiaries(60).into_iter()),
            false,
        )
        .await
        .unwrap();
    let streaming = root.path().join("W2/streaming");
    std::fs::create_dir_all(&streaming).unwrap();
    std::fs::create_dir_all(root.path().join("W2/finished")).unwrap();
    // A dead worker claimed batch 1 and wrote half of it: its lease expires
    // and its part must never be adopted.
    let lost = coordinator
        .claim("ghost", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    let lost_part = streaming.join(lost.part(FileKind::Data).file_name());
    std::fs::write(
        &lost_part,
        "{\"resourceType\":\"ExplanationOfBenefit\",\"id\":\"junk\"}\n",
    )
    .unwrap();
    // Another committed batch 2 and died before moving its part.
    let committed = coordinator
        .claim("ghost", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let source = common::synthetic_source(SEED, 0.0);
    let mut body = String::new();
    for id in &committed.beneficiaries {
        for resource in source.generate(id).unwrap() {
            body.push_str(resource.as_str());
            body.push('\n');
        }
    }
    let committed_part = FencedPart {
        batch: committed.batch,
        token: committed.token,
        kind: FileKind::Data,
    };
    std::fs::write(streaming.join(committed_part.file_name()), &body).unwrap();
    let tally = BatchTally {
        processed: committed.beneficiaries.len() as u64,
        ..BatchTally::default()
    };
    assert!(coordinator.complete(&committed, &tally).await.unwrap());

    let worker = Worker::new(
        coordinator.clone(),
        worker_config(root.path(), "alive"),
        sources(0.0),
    )
    .unwrap()
    .start();
    let record = ended(&coordinator, "W2").await;
    assert_eq!(record.state, JobState::Completed, "{record:?}");
    let got = record_set(&root.path().join("W2"));
    assert!(
        !got.iter().any(|r| r.contains("junk")),
        "the lost part adopted"
    );
    let single = tempfile::tempdir().unwrap();
    assert!(
        got == one_process(single.path(), 60, 0.0).await,
        "the same records"
    );
    assert!(!streaming.exists(), "streaming/ removed");
    let stats = worker.send(GetWorkerStats).await.unwrap();
    assert_eq!(stats.batches_completed, 5, "batch 2 was not fetched again");
    worker.send(StopWorker).await.unwrap();
}
