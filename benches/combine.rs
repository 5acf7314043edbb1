//! Combine throughput (issue 5, target 1): [`combine_parts`] against a plain
//! buffered copy of the same parts — every part through a 128 KiB `BufReader`
//! into one 128 KiB `BufWriter`, what `cat parts > out` does — page cache warm,
//! in bytes per second.
//!
//! ```text
//! cargo bench --bench combine
//! ```
//!
//! Two sets of parts made of real synthetic EOBs, 10 beneficiaries a part:
//! "regular" (full EOBs, about 440 KB a part, 64 MiB in all) and "small" (one
//! small EOB per beneficiary, about 7.5 KB a part, 2,000 parts). Each iteration
//! copies every part into a freshly truncated output (the truncation is not
//! timed), without fsync: that is the same for both, and `side_by_side` measures
//! whole aggregations.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use claims_aggregator::internals::combine::combine_parts;
use claims_aggregator::{FileKind, JobLayout, SyntheticConfig, SyntheticSource, MIB};
#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use support::{batch_body, buffered_copy};

/// Writes parts of `BATCH` beneficiaries each into `dir` until `bytes` are
/// written or `max_parts` parts made; returns them and their total size.
fn make_parts(dir: &Path, small_eobs: bool, bytes: u64, max_parts: u64) -> (Vec<PathBuf>, u64) {
    fs::create_dir_all(dir).unwrap();
    let source = SyntheticSource::new(SyntheticConfig {
        seed: 5,
        small_eobs,
        ..SyntheticConfig::default()
    });
    let (mut parts, mut total) = (Vec::new(), 0);
    let mut batch = 0;
    while total < bytes && batch < max_parts {
        let body = batch_body(&source, batch);
        let path = dir.join(JobLayout::part_name(batch + 1, FileKind::Data));
        fs::write(&path, &body).unwrap();
        total += body.len() as u64;
        parts.push(path);
        batch += 1;
    }
    (parts, total)
}

fn combining(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(false);
    for (label, small, bytes, max_parts) in [
        ("regular", false, 64 * MIB, u64::MAX),
        ("small", true, u64::MAX, 2_000),
    ] {
        let (parts, total) = make_parts(&dir.path().join(label), small, bytes, max_parts);
        let out_path = dir.path().join(format!("{label}.out"));
        // Warm the page cache, and check that both sides write the same bytes.
        let out = File::create(&out_path).unwrap();
        assert_eq!(buffered_copy(&parts, &out).unwrap(), total);

        let mut group = c.benchmark_group(format!("combine/{label}"));
        group
            .throughput(Throughput::Bytes(total))
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        // Truncating the previous output (freeing its pages) is setup, not timed.
        let truncated = || File::create(&out_path).unwrap();
        group.bench_function("combine_parts", |b| {
            b.iter_batched(
                truncated,
                |mut out| combine_parts(&parts, &mut out, &out_path, &cancel).unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("buffered_copy", |b| {
            b.iter_batched(
                truncated,
                |out| buffered_copy(&parts, &out).unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, combining);
criterion_main!(benches);
