//! An I/O error at any step — writing a part, fsyncing, combining, journaling,
//! publishing, removing a directory — stops the job as `failed`, naming the OS
//! error and the path, with every byte still recoverable; a resume then
//! completes the job with every record exactly once and nothing left behind.
//! Faults are injected with the `fail` crate's failpoints (see `src/fault.rs`).

mod common;

use claims_aggregator::{fault, run_job, JobStatus};
use common::*;

#[actix::test]
async fn every_fault_point_fails_cleanly_and_resume_completes() {
    let scenario = fail::FailScenario::setup();
    for (i, point) in fault::POINTS.iter().enumerate() {
        let (action, says) = if i % 3 == 2 {
            ("return(eio)", "Input/output error (os error 5)")
        } else {
            ("return(enospc)", "No space left on device (os error 28)")
        };
        let root = tempfile::tempdir().unwrap();
        let job_dir = root.path().join("J1");
        let ids = beneficiaries(120);
        let source = synthetic_source(21 + i as u64, 0.1);
        let cfg = || {
            config(root.path())
                .max_bytes(64 * 1024)
                .multiplier(1)
                .batch_size(5)
                .concurrency(4)
                .max_failure_rate(1.0)
        };

        fail::cfg(*point, action).unwrap();
        let report = run_job(cfg().build().unwrap(), source.clone(), ids.clone())
            .await
            .unwrap();
        fail::remove(*point);
        let JobStatus::Failed(reason) = &report.status else {
            panic!("{point}: expected failed, got {:?}", report.status);
        };
        assert!(reason.contains(says), "{point}: {reason}");
        assert!(
            reason.contains(&job_dir.display().to_string()),
            "{point}: names the path: {reason}"
        );
        assert!(
            reason.starts_with(point),
            "{point}: names the step: {reason}"
        );

        // A plain rerun is refused: the directory holds the failed job.
        let err = run_job(cfg().build().unwrap(), source.clone(), ids.clone())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("resume"), "{err}");

        let report = run_job(
            cfg().resume(true).build().unwrap(),
            source.clone(),
            ids.clone(),
        )
        .await
        .unwrap();
        assert_eq!(
            report.status,
            JobStatus::Completed,
            "{point}: resume completes"
        );
        let failed: Vec<String> = ids.iter().filter(|id| source.fails(id)).cloned().collect();
        assert_exactly_once(&job_dir, &report, &source, &ids, &failed);
        assert!(
            leftovers(&job_dir).is_empty(),
            "{point}: {:?}",
            leftovers(&job_dir)
        );
        assert!(!job_dir.join("streaming").exists() && !job_dir.join("finished").exists());
    }
    scenario.teardown();
}
