//! The harness: a whole export job on the synthetic claims source, or with
//! `--source bfd` on a BFD server (`cargo run -p bfd_stub` serves a stub one).
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
use std::time::{Duration, Instant};

use actix::{Actor, Context, Handler, Message};
use claims_aggregator::{
    Cancel, JobProgress, JobReport, JobSupervisor, Progress, RunJob, Subscribe,
};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

/// How often a plain progress line is printed when stderr is not a terminal.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[path = "common/flags.rs"]
mod flags;
#[path = "common/job_args.rs"]
mod job_args;

use job_args::JobArgs;

#[path = "export/source_args.rs"]
mod source_args;

#[cfg(feature = "postgres")]
#[path = "export/db.rs"]
mod db;

use source_args::SourceArgs;

#[derive(Debug, Parser)]
#[command(about = "Run a bulk claims export job on the synthetic claims source or a BFD server")]
struct Args {
    /// Job id: the job directory's name.
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Job",
        default_value = "ABC-DEF"
    )]
    job_id: String,
    /// Contract number: the prefix of output names.
    #[arg(long, value_name = "ID", help_heading = "Job", default_value = "Z9000")]
    contract: String,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    source: SourceArgs,
    /// Continue the job if its directory exists (after a crash, failure or
    /// cancel): fetch only the batches not yet done.
    #[arg(long, help_heading = "Job")]
    resume: bool,
    /// Write parts only and leave them in finished/ for another aggregator
    /// (`examples/aggregate.rs`); no outputs are made.
    #[arg(long, help_heading = "Job")]
    parts_only: bool,
    /// Print the JobReport as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[cfg(feature = "postgres")]
    #[command(flatten)]
    db: db::DbArgs,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match actix::System::new().block_on(run(args)) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(report)) if report.status.is_completed() => ExitCode::SUCCESS,
        Ok(Some(_)) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the job here, or with `--db` through the coordination database;
/// `None` when nothing was followed to its end (`--detach`, `--cancel`).
async fn run(args: Args) -> Result<Option<JobReport>, Box<dyn std::error::Error>> {
    #[cfg(feature = "postgres")]
    if let Some(conninfo) = &args.db.db {
        let Some(report) = db::run(&args, conninfo).await? else {
            return Ok(None);
        };
        print_table(&report, &db::job_dir(&args));
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(Some(report));
    }
    args.job.ensure_root()?;
    let config = args
        .job
        .config(&args.job_id, &args.contract)
        .resume(args.resume)
        .parts_only(args.parts_only)
        .build()
        .map_err(|e| flags::in_flag_terms(e, args.job.max_bytes.is_some()))?;
    let source = args.source.source(&args.job.synthetic, &args.job_id)?;
    let (expected, beneficiaries) = args.source.beneficiaries(&args.job).await?;
    let job_dir = config.layout().job_dir().to_owned();
    let supervisor = JobSupervisor::new(config, source).start();
    let job = supervisor.send(RunJob::new(beneficiaries));

    let watcher = supervisor.clone();
    actix_rt::spawn(async move {
        if actix_rt::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: cancelling the job");
            let _ = watcher.send(Cancel).await;
        }
    });
    let view = ProgressView::new(expected).start();
    supervisor.do_send(Subscribe(view.clone().recipient()));

    let report = job.await??;
    let _ = view
        .send(Finish(report.progress, report.completed_earlier))
        .await;
    print_table(&report, &job_dir);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(Some(report))
}

/// Shows the job's progress events: a live bar on a terminal, otherwise a
/// plain line at most every [`PROGRESS_EVERY`].
struct ProgressView {
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
}

impl ProgressView {
    fn new(expected: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(expected);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} beneficiaries {msg} [{elapsed_precise}, eta {eta}]",
                )
                .expect("a valid template"),
            );
            bar
        });
        ProgressView {
            bar,
            last_line: None,
        }
    }
}

impl Actor for ProgressView {
    type Context = Context<Self>;
}

impl Handler<JobProgress> for ProgressView {
    type Result = ();

    fn handle(&mut self, event: JobProgress, _: &mut Context<Self>) {
        if event.status.is_some() {
            return; // the last event: `Finish` prints the final line
        }
        let p = &event.progress;
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.patient_requests_processed + p.patients_resumed);
                bar.set_message(format!(
                    "{} EOBs, {:.1} MiB, {} outputs",
                    p.eobs_written,
                    p.bytes_written as f64 / (1 << 20) as f64,
                    p.aggregations
                ));
            }
            None if self.last_line.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) => {
                self.last_line = Some(Instant::now());
                eprintln!("{}", progress_line(p));
            }
            None => {}
        }
    }
}

/// The job ended: clear the bar, print the final counters (unless the job had
/// completed earlier, when they are all zero).
#[derive(Message)]
#[rtype(result = "()")]
struct Finish(Progress, bool);

impl Handler<Finish> for ProgressView {
    type Result = ();

    fn handle(&mut self, Finish(progress, earlier): Finish, _: &mut Context<Self>) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !earlier {
            eprintln!("{}", progress_line(&progress));
        }
    }
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
        claims_aggregator::JobStatus::Completed => "completed",
        claims_aggregator::JobStatus::Cancelled => "cancelled",
        claims_aggregator::JobStatus::Failed(_) => "failed (why: last line)",
    };
    if report.completed_earlier {
        eprintln!(
            "job {} ({}) was completed earlier: {} outputs in {}",
            report.job_id,
            report.contract,
            report.outputs.len(),
            job_dir.display(),
        );
    } else {
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
    }
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
    // Last, where a user looks first: why the job failed, and where the
    // OperationOutcomes of its failed beneficiaries are.
    if let claims_aggregator::JobStatus::Failed(reason) = &report.status {
        let errors: Vec<&str> = report
            .outputs_of(claims_aggregator::FileKind::Error)
            .map(|o| o.file.as_str())
            .collect();
        if !errors.is_empty() {
            eprintln!(
                "OperationOutcomes of the failed beneficiaries: {} in {}",
                errors.join(", "),
                job_dir.display()
            );
        }
        eprintln!("job {} failed: {reason}", report.job_id);
    }
}
