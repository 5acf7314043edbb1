//! The side-by-side harness of issue 5: every performance target measured
//! against a baseline taken **in the same process run**, printed as one table of
//! figures and ratios.
//!
//! ```text
//! cargo bench --bench side_by_side                 # full run (2–3 minutes)
//! cargo bench --bench side_by_side -- --quick      # smaller sizes, fewer repeats (about 30 s)
//! cargo bench --bench side_by_side -- --only combine,finalize
//! ```
//!
//! One module per experiment, named by its `--only` name: `combine` (target 1),
//! `hidden` (2), `finalize` (3), `memory` (4), `throughput` (5), `fill` (6),
//! `select` (7); `jobs` runs the whole jobs that 2, 5 and 6 share. What each
//! compares, and the published figures: `docs/performance.md`.
//!
//! Medians of repeated runs, the two sides of a comparison alternating so that
//! drift on a shared machine hits both. Speed is reported, never asserted: the
//! exit status is 0 even when a target is missed.
//!
//! The scratch root is marked `chattr +T` so that each job starts in a block
//! group of its own: on ext4 without a journal, a job would otherwise pay for
//! the inodes that the jobs before it freed.
//!
//! Full runs write the table to `docs/perf.md` and the plot (throughput and
//! peak RSS against job size) to `docs/perf.svg`; quick runs write them under
//! `target/side_by_side/`. `--out DIR` writes them elsewhere.
//! `SIDE_BY_SIDE_DIR` chooses the scratch location (default: the temp dir).

#[path = "../support/mod.rs"]
mod support;

mod combine;
mod fill;
mod finalize;
mod fixtures;
mod hidden;
mod jobs;
mod memory;
mod plot;
mod procfs;
mod scratch;
mod select;
mod throughput;

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use claims_aggregator::MIB;

use combine::compare_combine;
use fill::report_fill;
use finalize::compare_finalize;
use fixtures::Fixtures;
use hidden::report_hidden;
use jobs::Pairs;
use memory::{compare_memory, memory_child, ChildResult, CHILD_ENV};
use plot::svg_plot;
use procfs::{load_average, machine};
use scratch::Scratch;
use select::compare_select;
use throughput::compare_throughput;

/// Seed of every synthetic claim in this harness.
const SEED: u64 = 5;

fn main() {
    let _ = env_logger::try_init();
    if std::env::var_os(CHILD_ENV).is_some() {
        memory_child();
    }
    let settings = Settings::from_args();
    let scratch = Scratch::new();
    eprintln!(
        "side_by_side: {} mode, scratch {} ({})",
        if settings.quick { "quick" } else { "full" },
        scratch.root.display(),
        scratch.note
    );
    let load_before = load_average();
    let started = Instant::now();
    let mut table = Table::default();
    let mut plot = Vec::new();

    let fixtures = settings
        .wants(&["combine", "finalize", "throughput"])
        .then(|| Fixtures::generate(&scratch, &settings));
    if let Some(fx) = &fixtures {
        if settings.wants(&["combine"]) {
            compare_combine(&settings, &scratch, fx, &mut table);
        }
    }
    if settings.wants(&["hidden", "throughput", "fill"]) {
        compare_jobs(&settings, &scratch, fixtures.as_ref(), &mut table);
    }
    if let Some(fx) = &fixtures {
        if settings.wants(&["finalize"]) {
            compare_finalize(&settings, &scratch, fx, &mut table);
        }
    }
    if settings.wants(&["memory"]) {
        plot = compare_memory(&settings, &scratch, &mut table);
    }
    if settings.wants(&["select"]) {
        compare_select(&settings, &mut table);
    }

    let elapsed = started.elapsed();
    let machine = machine();
    let command = if settings.quick {
        "cargo bench --bench side_by_side -- --quick"
    } else {
        "cargo bench --bench side_by_side"
    };
    let markdown = table.markdown();
    println!("\n{markdown}");
    println!(
        "{} of {} targets met; {} in {:.0} s on {machine}",
        table.passed(),
        table.judged(),
        if settings.quick { "quick" } else { "full" },
        elapsed.as_secs_f64()
    );
    let conditions = format!(
        "1-minute load average {load_before} at the start; scratch on {}",
        scratch.note
    );
    if let Err(e) = write_docs(
        &settings,
        &markdown,
        &machine,
        command,
        elapsed,
        &conditions,
        &plot,
    ) {
        eprintln!("side_by_side: could not write the docs: {e}");
    }
}

/// Sizes and repeats of one run.
struct Settings {
    quick: bool,
    only: Option<Vec<String>>,
    out: Option<PathBuf>,
    /// Repeats of every comparison but the memory jobs.
    reps: usize,
    /// Bytes of regular (about 440 KB) parts for the combine comparisons.
    combine_bytes: u64,
    /// Small (about 7.5 KB) parts for the second combine comparison.
    small_parts: usize,
    /// Beneficiaries of the whole-job comparisons.
    job_beneficiaries: u64,
    /// Output cap of the whole-job comparisons.
    job_max_mb: u64,
    /// Beneficiaries of the whole-job comparison with source latency.
    latency_beneficiaries: u64,
    /// Job sizes of the memory series, ascending; the first is the baseline.
    memory_sizes: Vec<u64>,
    /// The size of the series judged against the first (target 4). Larger
    /// sizes show whether the peak still grows once the trigger is reached.
    memory_judged: u64,
    /// Waiting parts of the selection comparison.
    select_sizes: Vec<usize>,
}

impl Settings {
    fn from_args() -> Self {
        let mut args = std::env::args().skip(1);
        let (mut quick, mut only, mut out) = (false, None, None);
        // Cargo passes `--bench` (and any filter) to harness-less benches: whatever
        // is not ours is ignored.
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--only" => {
                    only = args
                        .next()
                        .map(|list| list.split(',').map(str::to_owned).collect())
                }
                "--out" => out = args.next().map(PathBuf::from),
                _ => {}
            }
        }
        if quick {
            Settings {
                quick,
                only,
                out,
                reps: 3,
                combine_bytes: 64 * MIB,
                small_parts: 2_000,
                job_beneficiaries: 5_000,
                job_max_mb: 20,
                latency_beneficiaries: 3_000,
                memory_sizes: vec![10_000, 50_000, 200_000],
                memory_judged: 200_000,
                select_sizes: vec![1_000, 10_000, 100_000],
            }
        } else {
            Settings {
                quick,
                only,
                out,
                reps: 5,
                combine_bytes: 256 * MIB,
                small_parts: 10_000,
                job_beneficiaries: 20_000,
                job_max_mb: 50,
                latency_beneficiaries: 10_000,
                memory_sizes: vec![10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000],
                memory_judged: 1_000_000,
                select_sizes: vec![1_000, 10_000, 100_000],
            }
        }
    }

    fn wants(&self, names: &[&str]) -> bool {
        match &self.only {
            None => true,
            Some(only) => names.iter().any(|n| only.iter().any(|o| o == n)),
        }
    }
}

/// One line of the table.
struct Row {
    target: &'static str,
    figure: String,
    measured: String,
    baseline: String,
    ratio: String,
    goal: String,
    /// `None` for an informative line.
    pass: Option<bool>,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        target: &'static str,
        figure: impl Into<String>,
        measured: impl Into<String>,
        baseline: impl Into<String>,
        ratio: impl Into<String>,
        goal: impl Into<String>,
        pass: Option<bool>,
    ) {
        let row = Row {
            target,
            figure: figure.into(),
            measured: measured.into(),
            baseline: baseline.into(),
            ratio: ratio.into(),
            goal: goal.into(),
            pass,
        };
        eprintln!(
            "  [{}] {}: {} vs {} → {} ({}) {}",
            row.target,
            row.figure,
            row.measured,
            row.baseline,
            row.ratio,
            row.goal,
            verdict(row.pass)
        );
        self.rows.push(row);
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "| # | figure | measured | baseline (same run) | ratio | target | result |\n\
             |---|---|---:|---:|---:|---|---|\n",
        );
        // In target order (comparisons run in the order their fixtures allow).
        let mut rows: Vec<&Row> = self.rows.iter().collect();
        rows.sort_by_key(|r| r.target);
        for r in rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                r.target,
                r.figure,
                r.measured,
                r.baseline,
                r.ratio,
                r.goal,
                verdict(r.pass)
            ));
        }
        out
    }

    fn judged(&self) -> usize {
        self.rows.iter().filter(|r| r.pass.is_some()).count()
    }

    fn passed(&self) -> usize {
        self.rows.iter().filter(|r| r.pass == Some(true)).count()
    }
}

fn verdict(pass: Option<bool>) -> &'static str {
    match pass {
        Some(true) => "pass",
        Some(false) => "**miss**",
        None => "info",
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "a median of nothing");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn mb_per_s(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / 1e6 / seconds
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn write_docs(
    settings: &Settings,
    markdown: &str,
    machine: &str,
    command: &str,
    elapsed: Duration,
    conditions: &str,
    plot: &[ChildResult],
) -> io::Result<()> {
    let dir = settings.out.clone().unwrap_or_else(|| {
        // The benches are a package in the workspace's benches/: its docs/ and
        // target/ are the workspace root's.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("benches/ lies in the workspace root");
        if settings.quick {
            root.join("target/side_by_side")
        } else {
            root.join("docs")
        }
    });
    fs::create_dir_all(&dir)?;
    let mut md = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("perf.md"))?;
    writeln!(
        md,
        "<!-- written by benches/side_by_side/main.rs; do not edit -->"
    )?;
    writeln!(md, "Machine: {machine}.  ")?;
    writeln!(
        md,
        "Command: `{command}` ({} run, {:.0} s; medians of {} runs, sides alternating).  ",
        if settings.quick { "quick" } else { "full" },
        elapsed.as_secs_f64(),
        settings.reps
    )?;
    writeln!(md, "Conditions: {conditions}.\n")?;
    write!(md, "{markdown}")?;
    if !plot.is_empty() {
        fs::write(dir.join("perf.svg"), svg_plot(plot, machine))?;
    }
    eprintln!("side_by_side: wrote {}", dir.display());
    Ok(())
}

/// Targets 2, 5 and 6 share one set of whole-job runs.
fn compare_jobs(
    settings: &Settings,
    scratch: &Scratch,
    fixtures: Option<&Fixtures>,
    table: &mut Table,
) {
    let job = (settings.job_beneficiaries, settings.job_max_mb);
    eprintln!(
        "2. whole jobs: {} beneficiaries, --max-mb {}, aggregating vs parts-only",
        job.0, job.1
    );
    let pairs = Pairs::run(scratch, settings.reps, job, None, Duration::ZERO);
    if settings.wants(&["hidden"]) {
        report_hidden(settings, scratch, &pairs, table);
    }
    if settings.wants(&["throughput"]) {
        compare_throughput(settings, scratch, &pairs, fixtures, table);
    }
    if settings.wants(&["fill"]) {
        report_fill(settings, &pairs, table);
    }
}
