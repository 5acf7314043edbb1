//! Crash test of the standalone aggregator: `aggregate` over a parts-only job,
//! killed with SIGKILL at random moments and aborted at each fault point of the
//! aggregation protocol, run again each time; then the outputs must hold the
//! same records as an uninterrupted run's, each once, in contiguous outputs,
//! with nothing left behind (claims, temp outputs,
//! `finished/`, the journal).
//!
//! The children run the example's binary (see `common::example_bin`), which
//! turns on the fault points named in `FAILPOINTS`. `CRASH_SEED` replays a run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use claims_aggregator::{fault, run_job, FileKind, JobLayout};
use common::*;
use rand::{Rng, SeedableRng};

const BENEFICIARIES: u64 = 600;
const MAX_BYTES: u64 = 256 * 1024;
/// SIGKILLs at random moments; the fault points add one abort each.
const RANDOM_KILLS: usize = 24;
/// Longest a child may run before the test gives up on it.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    parent();
    ExitCode::SUCCESS
}

/// Writes the parts of job `J1` under `root` as a parts-only job does.
fn parts_only_job(root: &Path) {
    let config = config(root)
        .batch_size(2)
        .max_failure_rate(1.0)
        .parts_only(true)
        .build()
        .unwrap();
    let source = synthetic_source(11, 0.05);
    let report = actix::System::new()
        .block_on(run_job(config, source, beneficiaries(BENEFICIARIES)))
        .unwrap();
    assert!(report.status.is_completed(), "{:?}", report.status);
}

fn spawn_child(root: &Path, failpoints: Option<String>) -> Child {
    let mut command = Command::new(example_bin("aggregate"));
    command
        .env_remove("FAILPOINTS")
        .env("RUST_LOG", "error")
        .args(["--root", root.to_str().unwrap(), "--job-id", "J1"])
        .args([
            "--contract",
            "Z9000",
            "--multiplier",
            "1",
            "--poll-ms",
            "10",
        ])
        .args(["--max-bytes", &MAX_BYTES.to_string()])
        .stdout(Stdio::null())
        .stderr(child_stderr());
    if let Some(points) = failpoints {
        command.env("FAILPOINTS", points);
    }
    command.spawn().expect("spawn the aggregator")
}

fn wait(child: &mut Child) -> ExitStatus {
    wait_child(child, CHILD_LIMIT, "an aggregator")
}

fn complete(root: &Path) {
    let status = wait(&mut spawn_child(root, None));
    assert!(status.success(), "the last run completes: {status:?}");
}

/// The records of every output, per kind, sorted; checks the outputs'
/// names, the size cap and that nothing else is left.
fn records(root: &Path) -> BTreeMap<FileKind, Vec<Vec<u8>>> {
    let job_dir = root.join("J1");
    let layout = JobLayout::new(job_dir.clone(), "streaming", "finished", "Z9000");
    let mut numbers: BTreeMap<FileKind, Vec<u32>> = BTreeMap::new();
    let mut records: BTreeMap<FileKind, Vec<Vec<u8>>> = BTreeMap::new();
    for name in dir_names(&job_dir) {
        if name == ".lock" {
            continue;
        }
        let (kind, n) = layout
            .parse_output_name(&name)
            .unwrap_or_else(|| panic!("{name} is left behind"));
        numbers.entry(kind).or_default().push(n);
        let body = std::fs::read(job_dir.join(&name)).unwrap();
        assert!(
            body.len() as u64 <= MAX_BYTES,
            "{name}: {} bytes",
            body.len()
        );
        assert!(body.ends_with(b"\n"), "{name} ends a line");
        records
            .entry(kind)
            .or_default()
            .extend(body.split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec));
    }
    for (kind, mut ns) in numbers {
        ns.sort_unstable();
        let expected: Vec<u32> = (1..=ns.len() as u32).collect();
        assert_eq!(ns, expected, "{kind} outputs are contiguous");
    }
    for lines in records.values_mut() {
        lines.sort();
    }
    assert!(leftovers(&job_dir).is_empty(), "{:?}", leftovers(&job_dir));
    records
}

fn parent() {
    init_logging();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("aggregate crash test: CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // An uninterrupted run: the reference records, and how long a run takes.
    let clean = tempfile::tempdir().unwrap();
    parts_only_job(clean.path());
    let started = Instant::now();
    complete(clean.path());
    let duration = started.elapsed();
    let reference = records(clean.path());
    let data = reference.get(&FileKind::Data).map_or(0, Vec::len);
    let errors = reference.get(&FileKind::Error).map_or(0, Vec::len);
    assert!(
        data > 1000 && errors > 10,
        "{data} records, {errors} errors"
    );
    eprintln!("aggregate crash test: a run takes {duration:?}");

    // SIGKILL at random moments, running again each time.
    let mut kills = 0;
    let mut rounds = 0;
    while kills < RANDOM_KILLS {
        let root = tempfile::tempdir().unwrap();
        parts_only_job(root.path());
        rounds += 1;
        loop {
            let mut child = spawn_child(root.path(), None);
            // The moment of the kill, not a wait for a condition.
            std::thread::sleep(duration.mul_f64(rng.gen_range(0.05..0.9)));
            if child.try_wait().unwrap().is_some() {
                break;
            }
            child.kill().unwrap();
            child.wait().unwrap();
            kills += 1;
            if kills >= RANDOM_KILLS {
                break;
            }
        }
        complete(root.path());
        assert!(
            records(root.path()) == reference,
            "round {rounds}: records differ"
        );
    }
    eprintln!("aggregate crash test: {kills} random kills over {rounds} runs");

    // An abort at each fault point of the aggregation, on its k-th passage.
    for point in fault::POINTS
        .iter()
        .filter(|p| p.starts_with("combine::") || p.starts_with("aggregator::"))
    {
        let root = tempfile::tempdir().unwrap();
        parts_only_job(root.path());
        let skip = if point.starts_with("combine::") {
            rng.gen_range(0..3)
        } else {
            0
        };
        let action = format!("{point}={skip}*off->return(abort)");
        let status = wait(&mut spawn_child(root.path(), Some(action)));
        assert!(!status.success(), "{point} was reached and aborted the run");
        kills += 1;
        complete(root.path());
        assert!(records(root.path()) == reference, "{point}: records differ");
    }
    eprintln!("aggregate crash test: {kills} kills in all; every run verified");
}
