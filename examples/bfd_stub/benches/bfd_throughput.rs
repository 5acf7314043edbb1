//! EOBs per second through the stub BFD: whole export jobs (fetch over
//! loopback HTTP, parse, filter, write parts, aggregate) with 1, 8 and 64
//! concurrent fetchers, with and without a simulated BFD latency per page.
//!
//! ```text
//! cargo bench --bench bfd_throughput
//! BFD_BENCH_SECONDS=5 cargo bench --bench bfd_throughput   # longer runs
//! ```
//!
//! Each row is one job, sized from a short trial so that it lasts about
//! `BFD_BENCH_SECONDS` (default 3). The client, the stub (actix-web, one worker
//! per CPU) and the job share the machine, so the figures are for the whole
//! loop, not for the client alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bfd_stub::server::{StubConfig, StubServer};
use claims_aggregator::{
    run_job, synthetic, BfdConfig, BfdSource, ClaimsSource, JobConfig, SyntheticConfig,
};

const FETCHERS: [usize; 3] = [1, 8, 64];
const LATENCIES_MS: [u64; 2] = [0, 20];
const BATCH_SIZE: usize = 10;

struct Row {
    beneficiaries: u64,
    eobs: u64,
    elapsed: Duration,
}

impl Row {
    fn rate(&self) -> f64 {
        self.eobs as f64 / self.elapsed.as_secs_f64()
    }
}

/// One whole job of `beneficiaries` with `fetchers` fetchers.
async fn job(stub: &StubServer, fetchers: usize, beneficiaries: u64) -> Row {
    let root = tempfile::tempdir().expect("temp dir");
    let config = JobConfig::builder(root.path(), "BENCH", "Z9000")
        .batch_size(BATCH_SIZE)
        .concurrency(fetchers)
        .build()
        .expect("job config");
    let bfd = BfdConfig::builder(stub.url())
        .job_id("BENCH")
        .no_earliest_date()
        .build()
        .expect("BFD config");
    let source: Arc<dyn ClaimsSource> = Arc::new(BfdSource::new(bfd).expect("BFD source"));
    let served_before = stub.stats().snapshot().eobs_served;
    let ids = (0..beneficiaries).map(synthetic::beneficiary_id);
    let started = Instant::now();
    let report = run_job(config, source, ids).await.expect("job");
    let elapsed = started.elapsed();
    assert!(report.status.is_completed(), "{:?}", report.status);
    let progress = report.progress;
    assert_eq!(progress.patient_requests_errored, 0);
    // Every EOB the stub served was written, once.
    let served = stub.stats().snapshot().eobs_served - served_before;
    assert_eq!(progress.eobs_written, served);
    Row {
        beneficiaries,
        eobs: progress.eobs_written,
        elapsed,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then one
    // small job per row proves the bench still runs, and says nothing of speed.
    let quick = !std::env::args().any(|a| a == "--bench");
    let seconds: f64 = std::env::var("BFD_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bfd_throughput: EOBs/s of whole export jobs through the stub BFD over loopback HTTP \
         ({} build, {cpus} CPUs, page size {}, batch size {BATCH_SIZE}, ~{seconds} s a row)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        claims_aggregator::source::bfd::DEFAULT_PAGE_SIZE,
    );
    actix::System::new().block_on(async move {
        for latency_ms in LATENCIES_MS {
            let stub = StubServer::start(StubConfig {
                workers: cpus,
                latency: Duration::from_millis(latency_ms),
                synthetic: SyntheticConfig::default(),
                ..StubConfig::default()
            })
            .expect("stub");
            println!("\nstub latency {latency_ms} ms per page");
            println!(
                "{:>8} {:>13} {:>8} {:>8} {:>10} {:>6}",
                "fetchers", "beneficiaries", "EOBs", "seconds", "EOBs/s", "vs 1"
            );
            let mut base = None;
            for fetchers in FETCHERS {
                let row = if quick {
                    // One small job per row: the bench still runs end to end.
                    job(&stub, fetchers, fetchers as u64 * 2).await
                } else {
                    // A trial sizes the measured job.
                    let trial_size = (fetchers as u64 * BATCH_SIZE as u64 * 2).max(50);
                    let trial = job(&stub, fetchers, trial_size).await;
                    let per_second = trial.beneficiaries as f64 / trial.elapsed.as_secs_f64();
                    let size = ((per_second * seconds) as u64).max(trial_size);
                    job(&stub, fetchers, size).await
                };
                let rate = row.rate();
                let base = *base.get_or_insert(rate);
                println!(
                    "{fetchers:>8} {:>13} {:>8} {:>8.2} {:>10.0} {:>5.1}×",
                    row.beneficiaries,
                    row.eobs,
                    row.elapsed.as_secs_f64(),
                    rate,
                    rate / base
                );
            }
            stub.stop().await;
        }
    });
}
