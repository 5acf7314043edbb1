//! Outputs appear while fetchers still run, before `StreamingClosed`.

mod common;

use std::fs;

use actix::Actor;
use claims_aggregator::{
    Aggregator, AggregatorEvent, FileFinished, FileKind, JobLayout, JobProgress, JobStatus,
    JobSupervisor, RunJob, StreamingClosed, Subscribe, SyntheticConfig, SyntheticSource,
};
use common::*;

#[actix::test]
async fn outputs_are_made_while_the_last_batch_is_still_fetching() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .max_bytes(64 * 1024)
        .multiplier(1)
        .batch_size(2)
        .concurrency(4)
        .build()
        .unwrap();
    let ids = beneficiaries(40);
    let held = ids.last().unwrap().clone();
    let (source, release) =
        GatedSource::new(SyntheticSource::new(SyntheticConfig::default()), &[held]);
    let supervisor = JobSupervisor::new(config, source).start();
    let (events, mut rx) = probe::<JobProgress>();
    supervisor.send(Subscribe(events)).await.unwrap();
    let job = actix_rt::spawn(supervisor.send(RunJob::new(ids)));

    let event = await_event(&mut rx, |e| e.progress.aggregations >= 1).await;
    assert!(event.status.is_none(), "the job is still running");
    assert!(
        event.progress.patient_requests_processed < 40,
        "the held beneficiary is not processed"
    );
    let job_dir = root.path().join("J1");
    // Several steps may run at once: whichever output was published first.
    let outputs = fs::read_dir(&job_dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("Z9000_") && name.ends_with(".ndjson")
        })
        .count();
    assert!(outputs >= 1, "an output exists before the job ends");
    assert!(
        job_dir.join("streaming").exists(),
        "streaming is not closed yet"
    );

    release.send(()).unwrap();
    let report = job.await.unwrap().unwrap().unwrap();
    assert_eq!(report.status, JobStatus::Completed);
    assert!(report.aggregations >= 2);
    assert!(!job_dir.join("finished").exists());
}

#[actix::test]
async fn the_aggregator_combines_once_more_than_the_trigger_waits() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path())
        .max_bytes(100)
        .multiplier(2)
        .build()
        .unwrap();
    let layout = config.layout();
    fs::create_dir_all(layout.finished()).unwrap();
    let (observer, mut rx) = probe::<AggregatorEvent>();
    let aggregator = Aggregator::new(&config).observer(observer).start();

    // Parts are written elsewhere and renamed into finished/ one by one, as a
    // fetcher does, each announced right after.
    let staging = root.path().join("staging");
    fs::create_dir(&staging).unwrap();
    let mut parts = Vec::new();
    for batch in 1..=5u64 {
        let name = JobLayout::part_name(batch, FileKind::Data);
        let line = format!("{{\"batch\":{batch},\"pad\":\"{}\"}}\n", "x".repeat(50));
        fs::write(staging.join(&name), &line).unwrap();
        parts.push((name, line.len() as u64));
    }
    let finish = |(name, bytes): &(String, u64)| {
        fs::rename(staging.join(name), layout.finished().join(name)).unwrap();
        FileFinished {
            batch: JobLayout::batch_of_part(name).unwrap(),
            kind: FileKind::Data,
            bytes: *bytes,
        }
    };
    // Two parts (136 bytes) are under the trigger of 200: nothing happens.
    for part in &parts[..2] {
        aggregator.send(finish(part)).await.unwrap();
    }
    assert!(!layout.output(FileKind::Data, 1).exists());
    // One more part pushes the waiting bytes over 2 × max_bytes.
    aggregator.do_send(finish(&parts[2]));
    let event = await_event(&mut rx, |_| true).await;
    match event {
        AggregatorEvent::Output(output) => {
            assert_eq!(output.file, "Z9000_0001.ndjson");
            assert_eq!(output.records, 1, "one 68-byte part fits a 100-byte output");
        }
        AggregatorEvent::Failed(e) => panic!("{e}"),
    }
    assert!(layout.output(FileKind::Data, 1).exists());

    for part in &parts[3..] {
        aggregator.do_send(finish(part));
    }
    let count = aggregator.send(StreamingClosed).await.unwrap().unwrap();
    assert_eq!(
        count, 5,
        "68-byte parts under a 100-byte cap go one an output"
    );
    assert!(!layout.finished().exists());
}
