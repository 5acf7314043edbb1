//! Generation throughput of the synthetic source: [`SyntheticSource::generate`]
//! for a fixed set of beneficiaries, in bytes of JSON produced per second.
//!
//! ```text
//! cargo bench --bench synthetic
//! ```
//!
//! Two modes: "full" (the default configuration, about four EOBs of a few KB a
//! beneficiary, 500 beneficiaries, about 23 MB an iteration) and "small" (one
//! small EOB a beneficiary, 5,000 beneficiaries, about 3.7 MB an iteration).
//! The beneficiary ids are built before timing; everything `generate` does —
//! hashing the id, drawing, serialising — is timed.

use std::hint::black_box;
use std::time::Duration;

use claims_aggregator::source::synthetic::beneficiary_id;
use claims_aggregator::{SyntheticConfig, SyntheticSource};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Bytes of JSON `source` generates for `beneficiaries`.
fn generate_all(source: &SyntheticSource, beneficiaries: &[String]) -> u64 {
    beneficiaries
        .iter()
        .flat_map(|beneficiary| source.generate(beneficiary).unwrap())
        .map(|eob| eob.len() as u64)
        .sum()
}

fn generating(c: &mut Criterion) {
    for (label, small_eobs, count) in [("full", false, 500), ("small", true, 5_000)] {
        let source = SyntheticSource::new(SyntheticConfig {
            small_eobs,
            ..SyntheticConfig::default()
        });
        let beneficiaries: Vec<String> = (0..count).map(beneficiary_id).collect();
        let bytes = generate_all(&source, &beneficiaries);

        let mut group = c.benchmark_group("synthetic");
        group
            .throughput(Throughput::Bytes(bytes))
            .sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(4));
        group.bench_function(label, |b| {
            b.iter(|| generate_all(&source, black_box(&beneficiaries)))
        });
        group.finish();
    }
}

criterion_group!(benches, generating);
criterion_main!(benches);
