//! One job across several worker processes coordinated by a real PostgreSQL:
//! whatever happens to the workers or the database, the job ends with exactly
//! the record set of the same job run in one process (the synthetic source is
//! a pure function of seed and beneficiary), its outputs numbered without gap
//! or repeat, and nothing else left in its directory.
// Each test runs on a runtime and thread of its own; the lock held across its
// awaits serializes whole tests, which each run several processes.
#![allow(clippy::await_holding_lock)]

mod cluster;
mod server;

use std::path::Path;
use std::time::Duration;

use claims_aggregator::coordination::postgres::PgCoordinator;
use claims_aggregator::coordination::JobState;
use cluster::{
    assert_only_outputs, one_at_a_time, record_set, run_export, single_process_record_set, sql,
    text, wait_for, WorkerProcess,
};

/// Worker flags of the tests: short leases, so that a dead worker's batches
/// are taken over within seconds.
const FAST: &[&str] = &[
    "--lease-secs",
    "2",
    "--poll-ms",
    "100",
    "--concurrency",
    "2",
];

/// A job with failures (so error outputs too), cut into many outputs, of the
/// claims updated since 2018 (a job's option, which every worker applies).
const JOB: &[&str] = &[
    "--since",
    "2018-01-01",
    "--beneficiaries",
    "240",
    "--batch-size",
    "8",
    "--max-bytes",
    "300000",
    "--failure-rate",
    "0.04",
    "--max-failure-rate",
    "0.5",
];

fn job_args<'a>(db: &'a str, root: &'a str, job: &'a str) -> Vec<&'a str> {
    let mut args = vec!["--db", db, "--root", root, "--job-id", job];
    args.extend_from_slice(JOB);
    args
}

/// The job's synthetic flags, as every worker must have them (the seed and the
/// failure rate are how the source is reached).
fn worker_flags(latency_ms: &'static str) -> Vec<&'static str> {
    let mut flags = FAST.to_vec();
    flags.extend(["--failure-rate", "0.04", "--latency-ms", latency_ms]);
    flags
}

/// Checks the ended job: the record set of one process, outputs only, and the
/// database's outputs those on disk.
async fn assert_exactly_once(db: &str, scratch: &Path, root: &Path, job: &str) {
    let job_dir = root.join(job);
    let got = record_set(&job_dir);
    let expected = single_process_record_set(scratch, JOB);
    if got != expected {
        panic!(
            "not the records of one process: {} records, {} expected; {}",
            got.len(),
            expected.len(),
            cluster::explain_difference(&job_dir, &got, &expected)
        );
    }
    assert_only_outputs(&job_dir, "Z9000");
    let coordinator = PgCoordinator::connect(db).await.unwrap();
    let mut recorded: Vec<String> = coordinator
        .outputs(job)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    recorded.sort();
    let mut on_disk: Vec<String> = std::fs::read_dir(&job_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".ndjson"))
        .collect();
    on_disk.sort();
    assert_eq!(recorded, on_disk, "the database records every output once");
    assert_eq!(
        coordinator.status(job).await.unwrap().state,
        JobState::Completed
    );
}

#[actix_rt::test]
async fn three_workers_export_exactly_what_one_process_does() {
    let _one = one_at_a_time();
    let db = server::fresh_database("workers_three").await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let _workers: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|name| WorkerProcess::start(&db, &root, name, &worker_flags("2")))
        .collect();
    let output = run_export(&job_args(&db, root.to_str().unwrap(), "J3"));
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("job J3 (Z9000) completed"), "{stderr}");
    assert_exactly_once(&db, scratch.path(), &root, "J3").await;

    // Submitted again: refused, naming the way to follow it.
    let again = run_export(&job_args(&db, root.to_str().unwrap(), "J3"));
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already submitted: pass --resume"),
        "{}",
        text(&again)
    );
    // With --resume: reported as completed earlier, nothing redone.
    let mut resume = job_args(&db, root.to_str().unwrap(), "J3");
    resume.push("--resume");
    let resumed = run_export(&resume);
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        String::from_utf8_lossy(&resumed.stderr).contains("was completed earlier"),
        "{}",
        text(&resumed)
    );
    assert_exactly_once(&db, scratch.path(), &root, "J3").await;
}

#[actix_rt::test]
async fn killed_workers_and_a_killed_aggregator_lose_nothing() {
    let _one = one_at_a_time();
    let db = server::fresh_database("workers_killed").await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut workers: Vec<_> = ["k1", "k2", "k3"]
        .iter()
        .map(|name| WorkerProcess::start(&db, &root, name, &worker_flags("25")))
        .collect();
    let submitter = cluster::export(&job_args(&db, root.to_str().unwrap(), "JK"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = sql(&db).await;

    // Once an output is recorded, kill -9 the aggregator's worker...
    let aggregator: String = wait_for(
        "an output and its aggregator",
        Duration::from_secs(60),
        || async {
            let row = client
                .query_opt(
                    "SELECT l.owner FROM claims_aggregator.aggregator_leases l
                 WHERE l.job_id = 'JK'
                   AND EXISTS (SELECT 1 FROM claims_aggregator.outputs o WHERE o.job_id = 'JK')",
                    &[],
                )
                .await
                .ok()?;
            row.map(|r| r.get(0))
        },
    )
    .await;
    let index = workers.iter().position(|w| w.name == aggregator).unwrap();
    workers[index].kill9();
    // ...and a worker in the middle of a batch.
    let fetching: String = wait_for("a worker mid-batch", Duration::from_secs(60), || async {
        let row = client
            .query_opt(
                "SELECT owner FROM claims_aggregator.batches
                 WHERE job_id = 'JK' AND state = 'running' AND owner <> $1 LIMIT 1",
                &[&aggregator],
            )
            .await
            .ok()?;
        row.map(|r| r.get(0))
    })
    .await;
    let index = workers.iter().position(|w| w.name == fetching).unwrap();
    workers[index].kill9();

    let output = submitter.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_exactly_once(&db, scratch.path(), &root, "JK").await;
    // The survivor took the role over from the journal, numbering on.
    let token: i64 = client
        .query_one(
            "SELECT token FROM claims_aggregator.aggregator_leases WHERE job_id = 'JK'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        token >= 2,
        "the aggregator role was taken over (token {token})"
    );
}

#[actix_rt::test]
async fn a_worker_paused_past_its_lease_cannot_commit() {
    let _one = one_at_a_time();
    let db = server::fresh_database("workers_paused").await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    // Slow batches (8 × 60 ms) against a 2 s lease.
    let paused = WorkerProcess::start(&db, &root, "p1", &worker_flags("60"));
    let client = sql(&db).await;
    let submitter = cluster::export(&job_args(&db, root.to_str().unwrap(), "JP"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (batch, token): (i64, i64) =
        wait_for("a batch held by p1", Duration::from_secs(60), || async {
            let row = client
                .query_opt(
                    "SELECT batch, token FROM claims_aggregator.batches
                 WHERE job_id = 'JP' AND state = 'running' AND owner = 'p1' LIMIT 1",
                    &[],
                )
                .await
                .ok()?;
            row.map(|r| (r.get(0), r.get(1)))
        })
        .await;
    paused.signal(libc::SIGSTOP);
    let _other = WorkerProcess::start(&db, &root, "p2", &worker_flags("60"));
    // The other worker takes the batch over once the lease has expired, and
    // completes it under a newer token.
    let taken: i64 = wait_for("the paused batch taken over", Duration::from_secs(60), || async {
        let row = client
            .query_one(
                "SELECT token, state FROM claims_aggregator.batches WHERE job_id = 'JP' AND batch = $1",
                &[&batch],
            )
            .await
            .ok()?;
        let (now, state): (i64, String) = (row.get(0), row.get(1));
        (now > token && state == "done").then_some(now)
    })
    .await;
    assert!(taken > token);
    paused.signal(libc::SIGCONT);
    let output = submitter.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    // The paused worker woke, found its claim lost, and dropped its parts.
    wait_for(
        "the paused worker to drop its claim",
        Duration::from_secs(30),
        || async {
            let log = paused.log();
            log.contains(&format!("batch {batch} token {token}: the claim was lost"))
                .then_some(())
        },
    )
    .await;
    assert_exactly_once(&db, scratch.path(), &root, "JP").await;
}

#[actix_rt::test]
async fn workers_wait_for_a_restarted_database_and_carry_on() {
    let _one = one_at_a_time();
    let pg = server::PrivateServer::start();
    let db = pg.conninfo();
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let _workers: Vec<_> = ["r1", "r2"]
        .iter()
        .map(|name| WorkerProcess::start(&db, &root, name, &worker_flags("25")))
        .collect();
    let submitter = cluster::export(&job_args(&db, root.to_str().unwrap(), "JR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = sql(&db).await;
    wait_for("some batches done", Duration::from_secs(60), || async {
        let done: i64 = client
            .query_one(
                "SELECT count(*) FROM claims_aggregator.batches WHERE job_id = 'JR' AND state = 'done'",
                &[],
            )
            .await
            .ok()?
            .get(0);
        (done >= 5).then_some(())
    })
    .await;
    drop(client);
    pg.stop();
    // The outage: long enough for every worker to meet it.
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    pg.start_again();
    let output = submitter.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_exactly_once(&db, scratch.path(), &root, "JR").await;
}

#[actix_rt::test]
async fn racing_submitters_make_one_job() {
    let _one = one_at_a_time();
    let db = server::fresh_database("workers_racing").await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let _workers: Vec<_> = ["s1", "s2"]
        .iter()
        .map(|name| WorkerProcess::start(&db, &root, name, &worker_flags("2")))
        .collect();
    let root_text = root.to_str().unwrap();
    // Without --resume: one submits and follows, the other is refused.
    let racers: Vec<_> = (0..2)
        .map(|_| {
            cluster::export(&job_args(&db, root_text, "JS"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut codes: Vec<_> = racers
        .into_iter()
        .map(|r| {
            let output = r.wait_with_output().unwrap();
            (output.status.code(), text(&output))
        })
        .collect();
    codes.sort();
    assert_eq!(codes[0].0, Some(0), "{}", codes[0].1);
    assert_eq!(codes[1].0, Some(2), "{}", codes[1].1);
    assert!(codes[1].1.contains("already submitted"), "{}", codes[1].1);
    assert_exactly_once(&db, scratch.path(), &root, "JS").await;

    // With --resume: both follow the one job to the same report.
    let mut args = job_args(&db, root_text, "JT");
    args.extend(["--resume", "--json"]);
    let racers: Vec<_> = (0..2)
        .map(|_| {
            cluster::export(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let reports: Vec<serde_json::Value> = racers
        .into_iter()
        .map(|r| {
            let output = r.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", text(&output));
            serde_json::from_slice(&output.stdout).unwrap()
        })
        .collect();
    assert_eq!(reports[0]["outputs"], reports[1]["outputs"]);
    assert_exactly_once(&db, scratch.path(), &root, "JT").await;
}

#[actix_rt::test]
async fn a_cancelled_job_stops_everywhere_and_cleans_up() {
    let _one = one_at_a_time();
    let db = server::fresh_database("workers_cancel").await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let _workers: Vec<_> = ["c1", "c2"]
        .iter()
        .map(|name| WorkerProcess::start(&db, &root, name, &worker_flags("40")))
        .collect();
    let root_text = root.to_str().unwrap();
    let submitter = cluster::export(&job_args(&db, root_text, "JC"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let coordinator = PgCoordinator::connect(&db).await.unwrap();
    wait_for("the job under way", Duration::from_secs(60), || async {
        let record = coordinator.status("JC").await.ok()?;
        (record.batches.done >= 2).then_some(())
    })
    .await;
    let cancel = run_export(&["--db", &db, "--job-id", "JC", "--cancel"]);
    assert!(cancel.status.success(), "{}", text(&cancel));
    assert!(
        String::from_utf8_lossy(&cancel.stderr).contains("cancel requested"),
        "{}",
        text(&cancel)
    );
    let output = submitter.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "cancelled: {}",
        text(&output)
    );
    assert_eq!(
        coordinator.status("JC").await.unwrap().state,
        JobState::Cancelled
    );
    // Outputs made before the cancel and their journal stay, as in one
    // process; no working file.
    let left: Vec<String> = std::fs::read_dir(root.join("JC"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".lock" && n != ".journal" && !n.starts_with("Z9000_"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[actix_rt::test]
async fn bad_input_is_refused_in_the_user_s_terms() {
    let db = server::fresh_database("workers_bad_input").await;
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--db", "host=127.0.0.1 port=notaport", "--root", root],
            "--db",
        ),
        (
            &["--db", &db, "--root", root, "--job-id", "../x"],
            "invalid --job-id",
        ),
        (
            &["--db", &db, "--root", root, "--parts-only"],
            "--parts-only does not go with --db",
        ),
        (
            &["--db", &db, "--job-id", "NOPE", "--cancel"],
            "no such job",
        ),
    ];
    for (args, says) in cases {
        let output = run_export(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(says),
            "{args:?} should say {says:?}: {}",
            text(&output)
        );
    }
    let worker = std::process::Command::new(&cluster::binaries().worker)
        .args(["--db", &db, "--root", root, "--lease-secs", "0"])
        .output()
        .unwrap();
    assert_eq!(worker.status.code(), Some(2), "{}", text(&worker));
    assert!(
        String::from_utf8_lossy(&worker.stderr).contains("invalid --lease-secs"),
        "{}",
        text(&worker)
    );
    let worker = std::process::Command::new(&cluster::binaries().worker)
        .args(["--db", &db, "--root", "/proc"])
        .output()
        .unwrap();
    assert_eq!(worker.status.code(), Some(2), "{}", text(&worker));
    assert!(
        String::from_utf8_lossy(&worker.stderr).contains("--root /proc is not writable"),
        "{}",
        text(&worker)
    );
    let worker = std::process::Command::new(&cluster::binaries().worker)
        .args(["--db", &db, "--root", root, "--since", "2024-01-01"])
        .output()
        .unwrap();
    assert_eq!(worker.status.code(), Some(2), "{}", text(&worker));
    assert!(
        String::from_utf8_lossy(&worker.stderr).contains("--since is a job's option"),
        "{}",
        text(&worker)
    );
}
