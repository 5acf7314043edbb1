//! The coordinator's cost (docs/scale.md): 16 claimers, each a thread with its
//! own pool, claim and complete every batch of one job of 1,000,000
//! beneficiaries in batches of 10, against a real PostgreSQL (the one named by
//! `CLAIMS_AGGREGATOR_TEST_DB`, or a throwaway one). Prints the submit time, the
//! claim and complete latencies early and late in the job, and the database
//! transactions per batch.
//!
//! ```text
//! cargo bench -p postgres-tests --bench coordinator
//! ```

#[path = "../tests/server/mod.rs"]
mod pg;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use claims_aggregator::coordination::postgres::PgCoordinator;
use claims_aggregator::coordination::{BatchTally, JobSpec};

/// Leases that must not expire during the run.
const LONG_LEASE: Duration = Duration::from_secs(600);

fn main() {
    env_logger::init();
    actix_rt::System::new().block_on(claim_latency());
}

async fn claim_latency() {
    const CLAIMERS: usize = 16;
    const BENEFICIARIES: usize = 1_000_000;
    const BATCH_SIZE: usize = 10;
    let conninfo = pg::fresh_database("latency").await;
    let c = PgCoordinator::connect(&conninfo)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    let ids = (0..BENEFICIARIES).map(|i| format!("-{i:09}"));
    let mut spec = JobSpec::new("BIG", "Z9000");
    spec.batch_size = BATCH_SIZE;
    c.submit(&spec, ids).await.unwrap();
    let submit = t.elapsed();

    // Transactions committed in the database: each call below is one
    // autocommit statement, so their count per batch is the round trips.
    let (stats, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    actix_rt::spawn(async move {
        let _ = connection.await;
    });
    let commits = || async {
        let row = stats
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
                &[],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    let commits_before = commits().await;

    let barrier = Arc::new(Barrier::new(CLAIMERS));
    let t0 = Instant::now();
    let claimers: Vec<_> = (0..CLAIMERS)
        .map(|i| {
            let (conninfo, barrier) = (conninfo.clone(), barrier.clone());
            std::thread::spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let c = PgCoordinator::connect_with_pool_size(&conninfo, 1)
                        .await
                        .unwrap();
                    barrier.wait();
                    // (started at, claim latency, complete latency)
                    let mut samples = Vec::new();
                    loop {
                        let started = Instant::now();
                        let Some(claim) = c.claim(&format!("w{i}"), LONG_LEASE).await.unwrap()
                        else {
                            break;
                        };
                        let claimed = started.elapsed();
                        let t = Instant::now();
                        assert!(c.complete(&claim, &BatchTally::default()).await.unwrap());
                        samples.push((started, claimed, t.elapsed()));
                    }
                    samples
                })
            })
        })
        .collect();
    let mut samples: Vec<(Instant, Duration, Duration)> = claimers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let wall = t0.elapsed();
    samples.sort_by_key(|s| s.0);
    let batches = samples.len();
    assert_eq!(batches, BENEFICIARIES / BATCH_SIZE);
    let pct = |mut v: Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    let line = |what: &str, v: Vec<Duration>| {
        println!(
            "{what:>32}: p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}",
            pct(v.clone(), 0.5),
            pct(v.clone(), 0.99),
            pct(v, 1.0)
        );
    };
    let tenth = batches / 10;
    println!(
        "submit {BENEFICIARIES} beneficiaries ({batches} batches): {submit:.2?}\n\
         {CLAIMERS} claimers, claim + complete of every batch: {wall:.2?}, {:.0} batches/s",
        batches as f64 / wall.as_secs_f64()
    );
    line("claim", samples.iter().map(|s| s.1).collect());
    line("complete", samples.iter().map(|s| s.2).collect());
    line(
        "claim, first 10% of batches",
        samples[..tenth].iter().map(|s| s.1).collect(),
    );
    line(
        "claim, last 10% of batches",
        samples[batches - tenth..].iter().map(|s| s.1).collect(),
    );
    // The claimers' sessions have ended, which flushes their statistics; the
    // collector view may lag a little more.
    actix_rt::time::sleep(Duration::from_secs(2)).await;
    let _ = stats
        .query_one("SELECT pg_stat_clear_snapshot()", &[])
        .await;
    let commits = commits().await - commits_before;
    println!(
        "{commits} transactions committed: {:.2} per batch",
        commits as f64 / batches as f64
    );
    let status = c.status("BIG").await.unwrap();
    assert_eq!(status.batches.done, batches as u64);
}
