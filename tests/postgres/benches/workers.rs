//! Scale-out (docs/scale.md): the same latency-bound job — synthetic source,
//! 20 ms per beneficiary — run by 1, 2 and 4 worker processes against a real
//! PostgreSQL (the one named by `CLAIMS_AGGREGATOR_TEST_DB`, or a throwaway
//! one), timed from submission to the submitter's exit. Prints each run, the
//! median per worker count, and the speed-up over one worker against the goal
//! of 0.8 × workers.
//!
//! ```text
//! cargo bench -p postgres-tests --bench workers [-- --rounds N --beneficiaries N]
//! ```

#[path = "../tests/cluster/mod.rs"]
mod cluster;
#[path = "../tests/server/mod.rs"]
mod pg;

use std::time::Instant;

/// Beneficiaries of the job, by default: 24 s of fetching for one worker of 4
/// batches at once.
const BENEFICIARIES: u64 = 4800;

/// Batches each worker fetches at once.
const CONCURRENCY: &str = "4";

fn main() {
    let mut rounds = 3;
    let mut beneficiaries = BENEFICIARIES;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--rounds N")
            }
            "--beneficiaries" => {
                beneficiaries = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--beneficiaries N")
            }
            // What cargo bench passes on.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    actix_rt::System::new().block_on(scale_out(rounds, beneficiaries));
}

async fn scale_out(rounds: usize, beneficiaries: u64) {
    cluster::binaries();
    println!(
        "job: {beneficiaries} beneficiaries, 20 ms each, batches of 10, {CONCURRENCY} batches \
         at once per worker; {rounds} rounds, interleaved"
    );
    let counts = [1usize, 2, 4];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    for round in 0..rounds {
        for (i, &workers) in counts.iter().enumerate() {
            let seconds = run(workers, beneficiaries, round).await;
            println!("round {round}: {workers} workers: {seconds:.2} s");
            times[i].push(seconds);
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    println!("\nworkers  median s  speed-up  goal (0.8 × workers)");
    for (i, &workers) in counts.iter().enumerate() {
        let speed_up = medians[0] / medians[i];
        let goal = 0.8 * workers as f64;
        println!(
            "{workers:>7}  {:>8.2}  {speed_up:>7.2}×  {goal:.1}× {}",
            medians[i],
            if speed_up >= goal { "met" } else { "MISSED" }
        );
    }
}

/// One job run by `workers` worker processes: seconds from submission to the
/// end.
async fn run(workers: usize, beneficiaries: u64, round: usize) -> f64 {
    let db = pg::fresh_database(&format!("scale_{workers}_{round}")).await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let flags = [
        "--latency-ms",
        "20",
        "--concurrency",
        CONCURRENCY,
        "--poll-ms",
        "100",
        "--lease-secs",
        "30",
    ];
    let running: Vec<_> = (0..workers)
        .map(|i| cluster::WorkerProcess::start(&db, &root, &format!("b{i}"), &flags))
        .collect();
    // Workers run long before a job comes: their start is not the job's time.
    for worker in &running {
        worker.ready().await;
    }
    let count = beneficiaries.to_string();
    let args = [
        "--db",
        &db,
        "--root",
        root.to_str().unwrap(),
        "--job-id",
        "SCALE",
        "--beneficiaries",
        &count,
        "--max-mb",
        "20",
    ];
    let started = Instant::now();
    let output = cluster::run_export(&args);
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{}", cluster::text(&output));
    drop(running);
    seconds
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
