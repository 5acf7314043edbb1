//! Target 7: `select` at growing numbers of waiting parts, and the cost of a `FileFinished`.

use std::fs;
use std::time::{Duration, Instant};

use actix::Actor;
use claims_aggregator::internals::select::{greedy_select, select};
use claims_aggregator::{
    Aggregator, Cancel, FileFinished, FileKind, JobConfig, SyntheticConfig, SyntheticSource,
};

use crate::support::{batch_body, resample};
use crate::{median, Settings, Table, SEED};

/// Slack over the `n log n` growth before target 7 counts as missed.
const NLOGN_SLACK: f64 = 1.25;

pub fn compare_select(settings: &Settings, table: &mut Table) {
    eprintln!("7. selection cost against waiting parts");
    let max_bytes = claims_aggregator::config::DEFAULT_MAX_BYTES;
    let mut timings = Vec::new();
    for &n in &settings.select_sizes {
        let sizes = part_sizes(n);
        let ours = time_per_call(|| select(&sizes, max_bytes).len());
        let greedy = time_per_call(|| greedy_select(&sizes, max_bytes).len());
        eprintln!(
            "   {n:>7} parts: select {:.3} ms, greedy_select {:.3} ms",
            ours * 1e3,
            greedy * 1e3
        );
        timings.push((n, ours, greedy));
    }
    let (n0, t0, g0) = timings[0];
    for &(n, t, g) in &timings[1..] {
        let nlogn = (n as f64 * (n as f64).ln()) / (n0 as f64 * (n0 as f64).ln());
        table.add(
            "7",
            format!("select, {n} waiting parts vs {n0} (greedy: {:.0}×)", g / g0),
            format!("{:.3} ms", t * 1e3),
            format!("{:.3} ms ({n0} parts)", t0 * 1e3),
            format!("{:.0}× (n log n: {nlogn:.0}×)", t / t0),
            format!("≤ {:.0}× (n log n × {NLOGN_SLACK})", nlogn * NLOGN_SLACK),
            Some(t / t0 <= nlogn * NLOGN_SLACK),
        );
    }
    // A FileFinished must not cost in proportion to what waits: a rescan of
    // `finished/` would make it 100× dearer for 100× the parts.
    let (few, many) = (1_000, *settings.select_sizes.last().unwrap());
    let (per_few, per_many) = (file_finished_cost(few), file_finished_cost(many));
    let growth = (many / few) as f64;
    table.add(
        "7",
        format!("FileFinished handling, {many} parts waiting vs {few}"),
        format!("{:.2} µs/message", per_many * 1e6),
        format!("{:.2} µs/message ({few} waiting)", per_few * 1e6),
        format!("{:.1}× (a rescan: ≥ {growth:.0}×)", per_many / per_few),
        format!("< {:.0}× (no rescan per message)", growth / 10.0),
        Some(per_many / per_few < growth / 10.0),
    );
}

/// `n` part sizes drawn from the sizes of real batches of the synthetic source
/// (10 beneficiaries of full EOBs: a few KB to about 1 MB, mean about 440 KB).
fn part_sizes(n: usize) -> Vec<u64> {
    let source = SyntheticSource::new(SyntheticConfig {
        seed: SEED,
        ..SyntheticConfig::default()
    });
    let base: Vec<u64> = (0..400)
        .map(|batch| batch_body(&source, batch).len() as u64)
        .collect();
    resample(&base, n)
}

/// Median seconds per call, over at least 200 ms or 5 calls.
fn time_per_call(mut f: impl FnMut() -> usize) -> f64 {
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < 5
        || (started.elapsed() < Duration::from_millis(200) && samples.len() < 1000)
    {
        let t = Instant::now();
        std::hint::black_box(f());
        samples.push(t.elapsed().as_secs_f64());
    }
    median(samples)
}

/// Seconds per `FileFinished` handled by an aggregator that has `waiting`
/// parts waiting (below its trigger, so nothing is combined).
fn file_finished_cost(waiting: usize) -> f64 {
    let root = tempfile::tempdir().unwrap();
    let config = JobConfig::builder(root.path(), "J", "Z9000")
        .max_bytes(u64::MAX / 4)
        .build()
        .unwrap();
    let layout = config.layout();
    fs::create_dir_all(layout.finished()).unwrap();
    actix::System::new().block_on(async move {
        let aggregator = Aggregator::new(&config).start();
        let message = |batch: usize| FileFinished {
            batch: batch as u64 + 1,
            kind: FileKind::Data,
            bytes: 400_000,
        };
        for batch in 0..waiting {
            aggregator.do_send(message(batch));
        }
        aggregator.send(message(waiting)).await.unwrap();
        // Now time a further thousand messages with `waiting` parts in the map.
        let extra = 1_000;
        let started = Instant::now();
        for batch in waiting + 1..waiting + extra {
            aggregator.do_send(message(batch));
        }
        aggregator.send(message(waiting + extra)).await.unwrap();
        let per_message = started.elapsed().as_secs_f64() / extra as f64;
        aggregator.send(Cancel).await.unwrap();
        per_message
    })
}
