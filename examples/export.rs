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
use std::process::ExitCode;
use std::time::Duration;

use actix::Actor;
use claims_aggregator::{Cancel, GetProgress, JobReport, JobSupervisor, Progress, RunJob};
use clap::Parser;

/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[path = "common/job_args.rs"]
mod job_args;

use job_args::JobArgs;

#[derive(Debug, Parser)]
#[command(about = "Run a bulk claims export job on the synthetic claims source")]
struct Args {
    /// Job id: the job directory's name.
    #[arg(long, default_value = "ABC-DEF")]
    job_id: String,
    #[command(flatten)]
    job: JobArgs,
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
    args.job.ensure_root()?;
    let config = args
        .job
        .config(&args.job_id, &args.job.contract)
        .resume(args.resume)
        .parts_only(args.parts_only)
        .build()?;
    let source = args.job.synthetic()?;
    let job_dir = config.layout().job_dir().to_owned();
    let supervisor = JobSupervisor::new(config, source).start();
    let job = supervisor.send(RunJob::new(args.job.beneficiary_ids()));

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
