//! Selection cost against the number of waiting parts (issue 5, target 7):
//! [`select`] (greedy start, then a bounded branch and bound) against AB2D's
//! [`greedy_select`], at 1k, 10k and 100k waiting parts, for two realistic size
//! distributions; and [`plan_all`], which packs what is left when streaming
//! closes.
//!
//! ```text
//! cargo bench --bench select
//! cargo bench --bench select -- 'select/regular'      # one group
//! ```
//!
//! Sizes are those of real batches of the synthetic source (10 beneficiaries
//! per part), resampled: "regular" parts of full EOBs (a few KB to about
//! 1 MB, mean about 440 KB) and "small" parts of one small EOB per
//! beneficiary (about 7.5 KB). The cap is the default 200 MiB.

use std::time::Duration;

use claims_aggregator::config::DEFAULT_MAX_BYTES;
use claims_aggregator::internals::select::{greedy_select, plan_all, select};
use claims_aggregator::{SyntheticConfig, SyntheticSource};
#[path = "support/mod.rs"]
mod support;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use support::{batch_body, resample};

/// Distinct batches whose sizes are resampled.
const BATCHES: u64 = 300;

/// The sizes of `BATCHES` real parts of the synthetic source.
fn batch_sizes(small_eobs: bool) -> Vec<u64> {
    let source = SyntheticSource::new(SyntheticConfig {
        seed: 5,
        small_eobs,
        ..SyntheticConfig::default()
    });
    (0..BATCHES)
        .map(|batch| batch_body(&source, batch).len() as u64)
        .collect()
}

fn selection(c: &mut Criterion) {
    for (label, small) in [("regular", false), ("small", true)] {
        let base = batch_sizes(small);
        let mut group = c.benchmark_group(format!("select/{label}"));
        group
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for n in [1_000, 10_000, 100_000] {
            let sizes = resample(&base, n);
            group.bench_with_input(BenchmarkId::new("select", n), &sizes, |b, sizes| {
                b.iter(|| select(black_box(sizes), DEFAULT_MAX_BYTES))
            });
            group.bench_with_input(BenchmarkId::new("greedy_select", n), &sizes, |b, sizes| {
                b.iter(|| greedy_select(black_box(sizes), DEFAULT_MAX_BYTES))
            });
        }
        group.finish();
    }
}

fn packing(c: &mut Criterion) {
    // What a job leaves at close is at most the trigger (2 × max_bytes) plus
    // the parts that arrived during the last combine: a few thousand regular
    // parts, tens of thousands of small ones.
    let mut group = c.benchmark_group("plan_all");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for (label, small, n) in [("regular", false, 1_000), ("small", true, 10_000)] {
        let sizes = resample(&batch_sizes(small), n);
        group.bench_with_input(BenchmarkId::new(label, n), &sizes, |b, sizes| {
            b.iter(|| plan_all(black_box(sizes), DEFAULT_MAX_BYTES))
        });
    }
    group.finish();
}

criterion_group!(benches, selection, packing);
criterion_main!(benches);
