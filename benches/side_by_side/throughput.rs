//! Target 5: whole-job throughput against one `BufWriter` and against the CPU work alone;
//! the default arbiters against one.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use claims_aggregator::{synthetic, SyntheticConfig, SyntheticSource};

use crate::fixtures::Fixtures;
use crate::jobs::{cores, eobs_per_s, median_of, wall_ms, Pairs};
use crate::scratch::Scratch;
use crate::{mb_per_s, median, Settings, Table, SEED};

/// Buffer of the one-`BufWriter` write baseline: large writes are the fastest
/// way into the page cache, so this is the strict I/O bound.
const WRITE_BUFFER: usize = 1024 * 1024;

/// Target 5: the job against one `BufWriter` writing its bytes, and against
/// the CPU work alone; EOBs/s with one arbiter against the default.
pub fn compare_throughput(
    settings: &Settings,
    scratch: &Scratch,
    pairs: &Pairs,
    fixtures: Option<&Fixtures>,
    table: &mut Table,
) {
    eprintln!("5. whole-job throughput vs one BufWriter; 1 arbiter vs the default");
    let (n, max_mb) = (settings.job_beneficiaries, settings.job_max_mb);
    let full = &pairs.aggregating;
    let bytes = full[0].report.progress.bytes_written;
    let job_rate = mb_per_s(bytes, median_of(full, wall_ms) / 1e3);
    let pool = fixtures.map(record_pool).unwrap_or_default();
    let mut write_rate = None;
    if !pool.is_empty() {
        let writes = (0..settings.reps)
            .map(|_| write_with_one_bufwriter(scratch, &pool, bytes, false))
            .collect();
        let write_rate = *write_rate.insert(median(writes));
        let durable_writes = (0..settings.reps)
            .map(|_| write_with_one_bufwriter(scratch, &pool, bytes, true))
            .collect();
        let durable_rate = median(durable_writes);
        table.add(
            "5",
            format!(
                "whole-job EOB MB/s ({} EOBs, {} cores)",
                full[0].report.progress.eobs_written,
                cores()
            ),
            format!("{job_rate:.0} MB/s"),
            format!("{write_rate:.0} MB/s (one BufWriter, same bytes)"),
            format!("{:.2}×", job_rate / write_rate),
            "≥ 0.50×",
            Some(job_rate >= 0.5 * write_rate),
        );
        table.add(
            "5",
            "the same, against writing the bytes durably (as the job's outputs are)",
            format!("{job_rate:.0} MB/s"),
            format!("{durable_rate:.0} MB/s (one BufWriter, then fsync)"),
            format!("{:.2}×", job_rate / durable_rate),
            "≥ 0.50×",
            Some(job_rate >= 0.5 * durable_rate),
        );
    }
    let source_rate = generate_and_check_rate(n, cores());
    table.add(
        "5",
        "the same job's EOB MB/s against its CPU work alone",
        format!("{job_rate:.0} MB/s"),
        format!(
            "{source_rate:.0} MB/s (generate + check on {} threads, no I/O)",
            cores()
        ),
        format!("{:.2}×", job_rate / source_rate),
        "",
        None,
    );
    if let Some(write_rate) = write_rate {
        // The most a job could make with no other cost and no core idle: every
        // byte generated and checked, written once, read back and hashed.
        let read_back_rate = mb_per_s(bytes, median_of(&pairs.parts_only, |r| r.read_back_cpu));
        let bound =
            1.0 / (1.0 / source_rate + (1.0 / write_rate + 1.0 / read_back_rate) / cores() as f64);
        table.add(
            "5",
            format!(
                "the most {} cores allow: generate + check, write once, read back and hash ({read_back_rate:.0} MB/s on one core)",
                cores()
            ),
            format!("{bound:.0} MB/s"),
            format!("{write_rate:.0} MB/s (one BufWriter, same bytes)"),
            format!("{:.2}×", bound / write_rate),
            "",
            None,
        );
    }
    let one = Pairs::run(
        scratch,
        settings.reps.div_ceil(2).max(2),
        (n, max_mb),
        Some(1),
        Duration::ZERO,
    );
    let (two_rate, one_rate) = (
        median_of(full, eobs_per_s),
        median_of(&one.aggregating, eobs_per_s),
    );
    table.add(
        "5",
        format!("EOBs/s, arbiters = {} (default) vs 1", cores()),
        format!("{two_rate:.0} EOBs/s"),
        format!("{one_rate:.0} EOBs/s (1 arbiter)"),
        format!("{:.2}×", two_rate / one_rate),
        "> 1.00× (scales)",
        Some(two_rate > one_rate),
    );
    let (two_rate, one_rate) = (
        median_of(&pairs.parts_only, eobs_per_s),
        median_of(&one.parts_only, eobs_per_s),
    );
    table.add(
        "5",
        "the same, parts-only (fetching alone)",
        format!("{two_rate:.0} EOBs/s"),
        format!("{one_rate:.0} EOBs/s (1 arbiter)"),
        format!("{:.2}×", two_rate / one_rate),
        "",
        None,
    );
}

/// MB/s of the CPU work a job does per EOB without any I/O: generating the
/// EOBs of `beneficiaries` and checking each as the fetchers do, on `threads`
/// threads.
fn generate_and_check_rate(beneficiaries: u64, threads: usize) -> f64 {
    let source = SyntheticSource::new(SyntheticConfig {
        seed: SEED,
        ..SyntheticConfig::default()
    });
    let started = Instant::now();
    let bytes: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads as u64)
            .map(|t| {
                let source = &source;
                scope.spawn(move || {
                    let mut bytes = 0;
                    for i in (t..beneficiaries).step_by(threads) {
                        for eob in source.generate(&synthetic::beneficiary_id(i)).unwrap() {
                            eob.check_eob().unwrap();
                            bytes += eob.len() as u64 + 1;
                        }
                    }
                    bytes
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    mb_per_s(bytes, started.elapsed().as_secs_f64())
}

/// Every record line of the regular fixtures, as a pool to write from.
fn record_pool(fx: &Fixtures) -> Vec<Vec<u8>> {
    let mut pool = Vec::new();
    for part in &fx.regular {
        let body = fs::read(part).unwrap();
        pool.extend(
            body.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    pool
}

/// MB/s of writing `bytes` of records (cycling through `pool`), each followed by
/// a newline, with one `BufWriter` into one file: the I/O bound of a job. With
/// `durable`, the time includes the fsync that makes the bytes survive a power
/// loss, as the job's bytes do when it ends.
fn write_with_one_bufwriter(scratch: &Scratch, pool: &[Vec<u8>], bytes: u64, durable: bool) -> f64 {
    let dir = scratch.fresh("write");
    let path = dir.join("all.ndjson");
    let file = File::create(&path).unwrap();
    let started = Instant::now();
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, &file);
    let mut written = 0;
    for record in pool.iter().cycle() {
        if written >= bytes {
            break;
        }
        out.write_all(record).unwrap();
        out.write_all(b"\n").unwrap();
        written += record.len() as u64 + 1;
    }
    out.flush().unwrap();
    if durable {
        file.sync_all().unwrap();
    }
    let rate = mb_per_s(written, started.elapsed().as_secs_f64());
    drop(out);
    drop(file);
    fs::remove_dir_all(&dir).unwrap();
    rate
}
