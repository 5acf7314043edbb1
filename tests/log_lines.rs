//! Jobs running side by side in one process (as the server runs exports) log
//! into one stream: every line the engine writes for a job names the job, by
//! its id or by a path inside its directory.

use std::sync::{Arc, Mutex};

use claims_aggregator::{run_job, synthetic, JobConfig, SyntheticConfig, SyntheticSource};

/// Keeps every log record of the engine.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if record.target().starts_with("claims_aggregator") {
            self.0.lock().unwrap().push(format!(
                "{} {}: {}",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }
    fn flush(&self) {}
}

#[test]
fn lines_of_concurrent_jobs_name_their_job() {
    let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
    log::set_logger(capture).unwrap();
    log::set_max_level(log::LevelFilter::Debug);

    let root = tempfile::tempdir().unwrap();
    // Failures make the fetchers log; small outputs make the aggregator log.
    let source = Arc::new(SyntheticSource::new(SyntheticConfig {
        seed: 5,
        failure_rate: 0.2,
        ..Default::default()
    }));
    let job = |id: &str| {
        let config = JobConfig::builder(root.path(), id, "Z9000")
            .max_bytes(50_000)
            .batch_size(5)
            .max_failure_rate(1.0)
            .build()
            .unwrap();
        run_job(
            config,
            source.clone(),
            (0..60).map(synthetic::beneficiary_id),
        )
    };
    let (a, b) =
        actix::System::new().block_on(async { futures::join!(job("JOB-A"), job("JOB-B")) });
    assert!(a.unwrap().status.is_completed());
    assert!(b.unwrap().status.is_completed());

    let lines = capture.0.lock().unwrap().clone();
    for module in ["fetcher", "aggregator"] {
        assert!(
            lines.iter().any(|l| l.contains(module)),
            "no line from the {module}: {lines:#?}"
        );
    }
    for line in &lines {
        assert!(
            ["JOB-A", "JOB-B"].iter().any(|job| line.contains(job)),
            "a line that names no job: {line}"
        );
    }
}
