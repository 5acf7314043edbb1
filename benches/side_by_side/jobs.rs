//! Whole jobs, aggregating and parts-only, shared by targets 2, 5 and 6.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use claims_aggregator::internals::combine::describe;
use claims_aggregator::{
    run_job, synthetic, JobConfig, JobLayout, JobReport, SyntheticConfig, SyntheticSource,
};

use crate::procfs::cpu_seconds;
use crate::scratch::Scratch;
use crate::{median, ms, SEED};

pub struct JobRun {
    pub wall: Duration,
    /// CPU seconds (user + system, every thread) the job took.
    pub cpu: f64,
    pub report: JobReport,
    /// Sizes of the parts left in `finished/` (parts-only jobs), by batch.
    pub part_sizes: Vec<u64>,
    /// CPU seconds that reading those parts back and hashing them took on
    /// one thread (parts-only jobs; see [`read_back_and_hash`]).
    pub read_back_cpu: f64,
}

/// Runs `config` in a system of its own over `beneficiaries` synthetic
/// beneficiaries (seed [`SEED`]); the report and the wall time.
pub fn run_synthetic_job(
    config: JobConfig,
    source: SyntheticConfig,
    beneficiaries: u64,
) -> (JobReport, Duration) {
    let source = Arc::new(SyntheticSource::new(SyntheticConfig {
        seed: SEED,
        ..source
    }));
    let started = Instant::now();
    let report = actix::System::new()
        .block_on(run_job(
            config,
            source,
            (0..beneficiaries).map(synthetic::beneficiary_id),
        ))
        .expect("the job starts");
    (report, started.elapsed())
}

fn run_one_job(
    scratch: &Scratch,
    beneficiaries: u64,
    max_mb: u64,
    parts_only: bool,
    arbiters: Option<usize>,
    latency: Duration,
) -> JobRun {
    let root = scratch.fresh("job");
    let mut builder = JobConfig::builder(&root, "J", "Z9000")
        .max_mb(max_mb)
        .parts_only(parts_only);
    if let Some(arbiters) = arbiters {
        builder = builder.arbiters(arbiters);
    }
    let config = builder.build().expect("a valid config");
    let layout = config.layout();
    let cpu_before = cpu_seconds();
    let (report, wall) = run_synthetic_job(
        config,
        SyntheticConfig {
            latency,
            ..SyntheticConfig::default()
        },
        beneficiaries,
    );
    let cpu = cpu_seconds() - cpu_before;
    assert!(report.status.is_completed(), "{:?}", report.status);
    let mut part_sizes = Vec::new();
    let mut read_back_cpu = 0.0;
    if parts_only {
        let mut parts: Vec<(u64, u64)> = fs::read_dir(layout.finished())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                let batch = JobLayout::batch_of_part(&name).unwrap_or(u64::MAX);
                (batch, e.metadata().unwrap().len())
            })
            .collect();
        parts.sort_unstable();
        part_sizes = parts.into_iter().map(|(_, size)| size).collect();
        read_back_cpu = read_back_and_hash(layout.finished());
    }
    fs::remove_dir_all(&root).unwrap();
    JobRun {
        wall,
        cpu,
        report,
        part_sizes,
        read_back_cpu,
    }
}

/// CPU seconds, on this thread, of reading every part in `finished` back and
/// summarizing it with [`describe`] (bytes, lines, SHA-256) as a step does its
/// output: the least work that aggregating adds to a job.
fn read_back_and_hash(finished: &Path) -> f64 {
    let before = cpu_seconds();
    for entry in fs::read_dir(finished).unwrap() {
        std::hint::black_box(describe(&entry.unwrap().path()).unwrap());
    }
    cpu_seconds() - before
}

/// Runs of one job, aggregating and parts-only.
pub struct Pairs {
    pub aggregating: Vec<JobRun>,
    pub parts_only: Vec<JobRun>,
}

impl Pairs {
    /// `reps` runs of each mode, alternating which goes first.
    pub fn run(
        scratch: &Scratch,
        reps: usize,
        (beneficiaries, max_mb): (u64, u64),
        arbiters: Option<usize>,
        latency: Duration,
    ) -> Self {
        let (mut aggregating, mut parts_only) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            let first = rep % 2 == 0;
            for aggregate in [first, !first] {
                let run = run_one_job(
                    scratch,
                    beneficiaries,
                    max_mb,
                    !aggregate,
                    arbiters,
                    latency,
                );
                eprintln!(
                    "   {} ({} arbiters, latency {} ms): {:.0} ms (fetch {} ms, finalize {} ms), CPU {:.2} s",
                    if aggregate { "aggregating" } else { "parts-only " },
                    arbiters.map_or_else(|| "default".to_owned(), |a| a.to_string()),
                    latency.as_millis(),
                    ms(run.wall),
                    run.report.timings_ms.fetch,
                    run.report.timings_ms.finalize,
                    run.cpu
                );
                if aggregate {
                    aggregating.push(run);
                } else {
                    parts_only.push(run);
                }
            }
        }
        Pairs {
            aggregating,
            parts_only,
        }
    }
}

/// Median of `f` over runs.
pub fn median_of(runs: &[JobRun], f: impl Fn(&JobRun) -> f64) -> f64 {
    median(runs.iter().map(f).collect())
}

pub fn wall_ms(run: &JobRun) -> f64 {
    ms(run.wall)
}

pub fn eobs_per_s(run: &JobRun) -> f64 {
    run.report.progress.eobs_written as f64 / run.wall.as_secs_f64()
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
