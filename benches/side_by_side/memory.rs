//! Target 4: peak RSS against job size, each job in a child process (this binary,
//! re-executed with `SIDE_BY_SIDE_CHILD` set).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use claims_aggregator::{JobConfig, SyntheticConfig};

use crate::jobs::run_synthetic_job;
use crate::procfs::vm_hwm_kib;
use crate::scratch::Scratch;
use crate::{mb_per_s, median, Settings, Table};

/// Set in a child process: run one memory job and report.
pub const CHILD_ENV: &str = "SIDE_BY_SIDE_CHILD";

/// The child's job size (beneficiaries).
const CHILD_BENEFICIARIES_ENV: &str = "SIDE_BY_SIDE_BENEFICIARIES";

/// Where the child's job directory goes.
const CHILD_ROOT_ENV: &str = "SIDE_BY_SIDE_ROOT";

/// Prefix of the child's one result line on stdout.
const CHILD_RESULT: &str = "side-by-side-result";

/// Runs of each of the two judged memory jobs (the smallest and the judged one).
const MEMORY_RUNS: usize = 3;

/// What a memory child reports.
pub struct ChildResult {
    pub beneficiaries: u64,
    pub peak_kib: u64,
    pub wall_ms: u64,
    pub bytes: u64,
    pub eobs: u64,
    pub finalize_ms: u64,
}

/// The child: one job of small EOBs with the default configuration, then its
/// peak RSS on stdout. Never returns.
pub fn memory_child() -> ! {
    let beneficiaries: u64 = std::env::var(CHILD_BENEFICIARIES_ENV)
        .ok()
        .and_then(|n| n.parse().ok())
        .expect("the child's job size");
    let root = PathBuf::from(std::env::var_os(CHILD_ROOT_ENV).expect("the child's root"));
    let config = JobConfig::builder(&root, "J", "Z9000")
        .build()
        .expect("a valid config");
    let (report, wall) = run_synthetic_job(
        config,
        SyntheticConfig {
            small_eobs: true,
            ..SyntheticConfig::default()
        },
        beneficiaries,
    );
    if !report.status.is_completed() {
        eprintln!("memory child: {:?}", report.status);
        std::process::exit(1);
    }
    println!(
        "{CHILD_RESULT} {} {} {} {} {}",
        vm_hwm_kib(),
        wall.as_millis(),
        report.progress.bytes_written,
        report.progress.eobs_written,
        report.timings_ms.finalize
    );
    std::process::exit(0);
}

fn run_memory_child(scratch: &Scratch, beneficiaries: u64) -> Option<ChildResult> {
    let root = scratch.fresh("memory");
    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "1")
        .env(CHILD_BENEFICIARIES_ENV, beneficiaries.to_string())
        .env(CHILD_ROOT_ENV, &root)
        .stderr(Stdio::inherit())
        .output()
        .expect("spawn the memory child");
    let _ = fs::remove_dir_all(&root);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(CHILD_RESULT))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    (output.status.success() && f.len() == 5).then(|| ChildResult {
        beneficiaries,
        peak_kib: f[0],
        wall_ms: f[1],
        bytes: f[2],
        eobs: f[3],
        finalize_ms: f[4],
    })
}

pub fn compare_memory(
    settings: &Settings,
    scratch: &Scratch,
    table: &mut Table,
) -> Vec<ChildResult> {
    eprintln!("4. peak RSS against job size (child processes, small EOBs, default config)");
    let mut results = Vec::new();
    for &n in &settings.memory_sizes {
        match run_memory_child(scratch, n) {
            Some(r) => {
                eprintln!(
                    "   {n:>9} beneficiaries: peak {:.1} MiB, {:.1} s, {:.1} MB/s, {:.0} EOBs/s, finalize {} ms",
                    r.peak_kib as f64 / 1024.0,
                    r.wall_ms as f64 / 1e3,
                    mb_per_s(r.bytes, r.wall_ms as f64 / 1e3),
                    r.eobs as f64 / (r.wall_ms as f64 / 1e3),
                    r.finalize_ms
                );
                results.push(r);
            }
            None => eprintln!("   {n:>9} beneficiaries: the child failed"),
        }
    }
    let judged = results
        .iter()
        .find(|r| r.beneficiaries == settings.memory_judged);
    if judged.is_none() {
        eprintln!(
            "   no judged job of {} beneficiaries: target 4 is not compared",
            settings.memory_judged
        );
    }
    if let (Some(small), Some(big)) = (results.first(), judged) {
        if small.beneficiaries != big.beneficiaries {
            // The judged pair again, alternating, for medians: one run's peak
            // moves by a few hundred KiB with what the allocator keeps.
            let (mut small_peaks, mut big_peaks) = (vec![small.peak_kib], vec![big.peak_kib]);
            for _ in 1..MEMORY_RUNS {
                for (n, peaks) in [
                    (small.beneficiaries, &mut small_peaks),
                    (big.beneficiaries, &mut big_peaks),
                ] {
                    if let Some(r) = run_memory_child(scratch, n) {
                        peaks.push(r.peak_kib);
                    }
                }
            }
            eprintln!("   peaks (KiB): {small_peaks:?} and {big_peaks:?}");
            let mib =
                |peaks: Vec<u64>| median(peaks.into_iter().map(|p| p as f64).collect()) / 1024.0;
            let runs = small_peaks.len().min(big_peaks.len());
            let (small_mib, big_mib) = (mib(small_peaks), mib(big_peaks));
            let ratio = big_mib / small_mib;
            table.add(
                "4",
                format!(
                    "peak RSS, {} beneficiaries (one small EOB each, defaults), median of {runs}",
                    big.beneficiaries
                ),
                format!("{big_mib:.1} MiB"),
                format!("{small_mib:.1} MiB ({} beneficiaries)", small.beneficiaries),
                format!("{ratio:.2}×"),
                "≤ 1.20× and < 100 MiB",
                Some(ratio <= 1.2 && big_mib < 100.0),
            );
            table.add(
                "4",
                format!("of which: finalize at {} beneficiaries", big.beneficiaries),
                format!("{} ms of {} ms", big.finalize_ms, big.wall_ms),
                format!("{} ms of {} ms", small.finalize_ms, small.wall_ms),
                "",
                "",
                None,
            );
            // Past the trigger, the parts waiting at once no longer grow with
            // the job: neither should the peak.
            if let Some(past) = results
                .last()
                .filter(|r| r.beneficiaries > big.beneficiaries)
            {
                let past_mib = past.peak_kib as f64 / 1024.0;
                table.add(
                    "4",
                    format!(
                        "peak RSS past the trigger: {} beneficiaries, one run",
                        past.beneficiaries
                    ),
                    format!("{past_mib:.1} MiB"),
                    format!("{big_mib:.1} MiB ({} beneficiaries)", big.beneficiaries),
                    format!("{:.2}×", past_mib / big_mib),
                    "",
                    None,
                );
            }
        }
    }
    results
}
