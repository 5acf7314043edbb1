//! Crash test: real jobs in child processes, killed at random moments with
//! SIGKILL and aborted at every fault point of the aggregation protocol, resumed
//! each time; then the outputs must hold every EOB exactly once, every failed
//! beneficiary exactly once, contiguous output names, and nothing else.
//!
//! The test binary is its own child: with `CRASH_CHILD_ROOT` set it runs one job
//! (with `resume`) and prints the report as JSON. `CRASH_SEED` replays a run.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use claims_aggregator::{
    fault, run_job, FileKind, JobConfig, JobLayout, JobReport, SyntheticSource,
};
use common::*;
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "CRASH_CHILD_ROOT";
const BENEFICIARIES: u64 = 400;
const SEED: u64 = 42;
const FAILURE_RATE: f64 = 0.05;
/// SIGKILLs at random moments; the fault points add one abort each.
const RANDOM_KILLS: usize = 24;
/// Longest a child may run before the test gives up on it.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

fn source() -> Arc<SyntheticSource> {
    synthetic_source(SEED, FAILURE_RATE)
}

fn job_config(root: &Path) -> JobConfig {
    JobConfig::builder(root, "J1", "Z9000")
        .max_bytes(48 * 1024)
        .multiplier(1)
        .batch_size(5)
        .concurrency(4)
        .max_failure_rate(1.0)
        .resume(true)
        .build()
        .unwrap()
}

fn main() {
    match std::env::var(CHILD_ENV) {
        Ok(root) => child(Path::new(&root)),
        Err(_) => parent(),
    }
}

/// One run of the job; the fault points come from `FAILPOINTS`.
fn child(root: &Path) {
    let scenario = fail::FailScenario::setup();
    let ids = beneficiaries(BENEFICIARIES);
    let report = actix::System::new()
        .block_on(run_job(job_config(root), source(), ids))
        .unwrap_or_else(|e| panic!("job refused: {e}"));
    println!("{}", serde_json::to_string(&report).unwrap());
    scenario.teardown();
    std::process::exit(if report.status.is_completed() { 0 } else { 1 });
}

fn spawn_child(root: &Path, failpoints: Option<String>) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env(CHILD_ENV, root)
        .env_remove("FAILPOINTS")
        .stdout(Stdio::piped())
        .stderr(child_stderr());
    if let Some(points) = failpoints {
        command.env("FAILPOINTS", points);
    }
    command.spawn().expect("spawn the child job")
}

fn wait(child: &mut Child) -> ExitStatus {
    wait_child(child, CHILD_LIMIT, "a child job")
}

/// Runs the job to completion without faults; returns its report.
fn complete(root: &Path) -> JobReport {
    let mut child = spawn_child(root, None);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut text).unwrap();
        text
    });
    let status = wait(&mut child);
    assert!(status.success(), "the final resume completes: {status:?}");
    serde_json::from_slice(&reader.join().unwrap()).expect("the child prints its report")
}

fn parent() {
    common::init_logging();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("crash test: CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0;

    // A clean run tells how long a job takes here.
    let clean = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let report = complete(clean.path());
    let duration = started.elapsed();
    verify(clean.path(), &report);
    eprintln!("crash test: a whole job takes {duration:?}");

    // SIGKILL at random moments, resuming each time; a new job once one completes.
    let mut rounds = 0;
    while kills < RANDOM_KILLS {
        let root = tempfile::tempdir().unwrap();
        rounds += 1;
        loop {
            let mut child = spawn_child(root.path(), None);
            let delay = duration.mul_f64(rng.gen_range(0.02..0.6));
            std::thread::sleep(delay);
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                if kills >= RANDOM_KILLS {
                    break;
                }
            } else {
                break;
            }
        }
        let report = complete(root.path());
        verify(root.path(), &report);
    }
    eprintln!("crash test: {kills} random kills over {rounds} jobs");

    // An abort at each fault point, in a job of its own, on the k-th time the
    // point is reached (the finalization points are reached once a job).
    for point in fault::POINTS {
        let root = tempfile::tempdir().unwrap();
        let skip = if point.starts_with("combine::") || point.starts_with("part::") {
            rng.gen_range(0..3)
        } else {
            0
        };
        let action = format!("{point}={skip}*off->return(abort)");
        let mut child = spawn_child(root.path(), Some(action));
        let status = wait(&mut child);
        assert!(!status.success(), "{point} was reached and aborted the job");
        kills += 1;
        let report = complete(root.path());
        verify(root.path(), &report);
    }
    eprintln!("crash test: {kills} kills in all; every job verified");
    assert!(kills >= 30, "at least 30 kills ({kills})");
}

/// Everything the promise says, checked from the files.
fn verify(root: &Path, report: &JobReport) {
    let job_dir = root.join("J1");
    let source = source();
    let ids = beneficiaries(BENEFICIARIES);
    let failed: Vec<String> = ids.iter().filter(|id| source.fails(id)).cloned().collect();
    assert!(report.status.is_completed());
    assert_exactly_once(&job_dir, report, &source, &ids, &failed);

    // Outputs on disk are exactly the reported ones, named contiguously from 0001.
    let layout = JobLayout::new(job_dir.clone(), "streaming", "finished", "Z9000");
    let mut numbers: BTreeMap<FileKind, Vec<u32>> = BTreeMap::new();
    let mut on_disk = HashSet::new();
    for name in dir_names(&job_dir) {
        let (kind, n) = layout
            .parse_output_name(&name)
            .unwrap_or_else(|| panic!("{name} is not an output"));
        numbers.entry(kind).or_default().push(n);
        on_disk.insert(name);
    }
    for (kind, mut ns) in numbers {
        ns.sort_unstable();
        assert_eq!(
            ns,
            (1..=ns.len() as u32).collect::<Vec<_>>(),
            "{kind} outputs are contiguous"
        );
    }
    let reported: HashSet<String> = report.outputs.iter().map(|o| o.file.clone()).collect();
    assert_eq!(on_disk, reported);
    assert!(leftovers(&job_dir).is_empty(), "{:?}", leftovers(&job_dir));
    assert!(!job_dir.join("streaming").exists() && !job_dir.join("finished").exists());
}
