//! The harness: a whole export job on the synthetic claims source.
//!
//! With no flags it is AB2D's scenario: contract Z9000, job ABC-DEF, 85
//! beneficiaries, 10 at a time, 200 MiB outputs, under `./efsmount`.
//!
//! ```text
//! cargo run --release --example export -- --beneficiaries 10000 --max-mb 5 --json
//! ```
//!
//! Progress and the output table go to stderr; `--json` prints the JobReport on
//! stdout. Ctrl-C cancels the job (cleaning up) and exits non-zero. The exit
//! status is 0 only when the job completed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use claims_aggregator::{
    synthetic, Cancel, GetProgress, JobConfig, JobReport, JobSupervisor, Progress, RunJob,
    SyntheticConfig, SyntheticSource,
};
use clap::Parser;

/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Parser)]
#[command(about = "Run a bulk claims export job on the synthetic claims source")]
struct Args {
    /// Directory holding job directories.
    #[arg(long, default_value = "./efsmount")]
    root: PathBuf,
    /// Job id: the job directory's name.
    #[arg(long, default_value = "ABC-DEF")]
    job_id: String,
    /// Contract number: the prefix of output names.
    #[arg(long, default_value = "Z9000")]
    contract: String,
    /// Beneficiaries in the job.
    #[arg(long, default_value_t = 85)]
    beneficiaries: u64,
    /// Beneficiaries per batch (per fetcher and part file).
    #[arg(long, default_value_t = 10)]
    batch_size: usize,
    /// Output size cap in MiB.
    #[arg(long, default_value_t = 200, conflicts_with = "max_bytes")]
    max_mb: u64,
    /// Output size cap in bytes (instead of --max-mb).
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Aggregate while running once more than multiplier × max bytes wait.
    #[arg(long, default_value_t = 2)]
    multiplier: u32,
    /// Fetchers alive at once [default: 16].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Arbiters (threads) running fetchers [default: CPUs].
    #[arg(long)]
    arbiters: Option<usize>,
    /// Seed of the synthetic claims.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Mean EOBs per beneficiary.
    #[arg(long, default_value_t = 4.0)]
    eobs_per_beneficiary: f64,
    /// One small EOB per beneficiary (for very large jobs).
    #[arg(long)]
    small_eobs: bool,
    /// Latency of each synthetic request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of beneficiaries whose fetch fails.
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    /// The job fails once more than this fraction of beneficiaries failed.
    #[arg(long, default_value_t = claims_aggregator::config::DEFAULT_MAX_FAILURE_RATE)]
    max_failure_rate: f64,
    /// Continue the job if its directory exists (after a crash, failure or
    /// cancel): fetch only the batches not yet done.
    #[arg(long)]
    resume: bool,
    /// Write parts only and leave them in finished/ for another aggregator
    /// (`examples/aggregate.rs`); no outputs are made.
    #[arg(long)]
    parts_only: bool,
    /// Print the JobReport as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match actix::System::new().block_on(run(args)) {
        Ok(report) if report.status.is_completed() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<JobReport, Box<dyn std::error::Error>> {
    if !args.root.exists() {
        std::fs::create_dir_all(&args.root)
            .map_err(|e| format!("create root {}: {e}", args.root.display()))?;
    }
    let mut builder = JobConfig::builder(&args.root, &args.job_id, &args.contract)
        .batch_size(args.batch_size)
        .multiplier(args.multiplier)
        .max_failure_rate(args.max_failure_rate)
        .resume(args.resume)
        .parts_only(args.parts_only);
    builder = match args.max_bytes {
        Some(bytes) => builder.max_bytes(bytes),
        None => builder.max_mb(args.max_mb),
    };
    if let Some(concurrency) = args.concurrency {
        builder = builder.concurrency(concurrency);
    }
    if let Some(arbiters) = args.arbiters {
        builder = builder.arbiters(arbiters);
    }
    let config = builder.build()?;
    if !(0.0..=1.0).contains(&args.failure_rate) {
        return Err(format!(
            "--failure-rate {} is not a fraction between 0 and 1",
            args.failure_rate
        )
        .into());
    }
    let source = Arc::new(SyntheticSource::new(SyntheticConfig {
        seed: args.seed,
        eobs_per_beneficiary: args.eobs_per_beneficiary,
        latency: Duration::from_millis(args.latency_ms),
        failure_rate: args.failure_rate,
        small_eobs: args.small_eobs,
    }));
    let job_dir = config.layout().job_dir().to_owned();
    let supervisor = JobSupervisor::new(config, source).start();
    let beneficiaries = (0..args.beneficiaries).map(synthetic::beneficiary_id);
    let job = supervisor.send(RunJob::new(beneficiaries));

    let watcher = supervisor.clone();
    actix_rt::spawn(async move {
        if actix_rt::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: cancelling the job");
            let _ = watcher.send(Cancel).await;
        }
    });
    let progress = supervisor.clone();
    let terminal = std::io::stderr().is_terminal();
    actix_rt::spawn(async move {
        let mut tick = actix_rt::time::interval(PROGRESS_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            match progress.send(GetProgress).await {
                // On a terminal the line is redrawn in place; elsewhere one line a tick.
                Ok(p) if terminal => eprint!("\r\x1b[2K{}", progress_line(&p)),
                Ok(p) => eprintln!("{}", progress_line(&p)),
                Err(_) => break,
            }
        }
    });

    let report = job.await??;
    if terminal {
        eprint!("\r\x1b[2K");
    }
    eprintln!("{}", progress_line(&report.progress));
    print_table(&report, &job_dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(report)
}

fn progress_line(p: &Progress) -> String {
    format!(
        "beneficiaries {}/{} ({} failed), EOBs {}, {:.1} MiB written, {} parts, {} outputs",
        p.patient_requests_processed,
        p.patients_expected,
        p.patient_requests_errored,
        p.eobs_written,
        p.bytes_written as f64 / (1 << 20) as f64,
        p.parts_finished,
        p.aggregations,
    )
}

fn print_table(report: &JobReport, job_dir: &std::path::Path) {
    let status = match &report.status {
        claims_aggregator::JobStatus::Failed(reason) => format!("failed: {reason}"),
        other => format!("{other:?}").to_lowercase(),
    };
    eprintln!(
        "job {} ({}) {status} in {} ms (fetch {} ms, finalize {} ms), {} aggregations in {}",
        report.job_id,
        report.contract,
        report.timings_ms.total,
        report.timings_ms.fetch,
        report.timings_ms.finalize,
        report.aggregations,
        job_dir.display(),
    );
    eprintln!(
        "{:<28} {:>5} {:>14} {:>9}  sha256",
        "file", "kind", "bytes", "records"
    );
    for o in &report.outputs {
        eprintln!(
            "{:<28} {:>5} {:>14} {:>9}  {}",
            o.file, o.kind, o.bytes, o.records, o.sha256
        );
    }
    for stray in &report.stray_files {
        eprintln!("left alone in finished/: {stray}");
    }
}
