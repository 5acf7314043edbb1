//! `export --db`: the job submitted to a coordination database, where worker
//! processes (`examples/worker.rs`) fetch and aggregate it; followed from the
//! database until it ends. Built with the `postgres` feature.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use claims_aggregator::coordination::postgres::{is_transient, PgCoordinator};
use claims_aggregator::coordination::{
    until_answered, JobOptions, JobSpec, JobState, Submitted, DEFAULT_MAX_ATTEMPTS,
};
use claims_aggregator::{Error, JobReport};

use super::Args;

/// How often the job's state is read while it runs.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// The coordination options of `export`.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Submit the job to this coordination database (libpq form or a
    /// postgresql:// URL) for `worker`s to run, and follow it there.
    #[arg(long, value_name = "CONNINFO", help_heading = "Coordination")]
    pub db: Option<String>,
    /// With --db: submit, print the job id and exit; the job runs on.
    #[arg(long, help_heading = "Coordination", requires = "db")]
    pub detach: bool,
    /// With --db: cancel the job --job-id.
    #[arg(
        long,
        help_heading = "Coordination",
        requires = "db",
        conflicts_with = "detach"
    )]
    pub cancel: bool,
    /// With --db: claims of one batch before its beneficiaries count as failed.
    #[arg(long, value_name = "N", help_heading = "Coordination", default_value_t = DEFAULT_MAX_ATTEMPTS, requires = "db")]
    pub max_attempts: u32,
}

/// Submits (or cancels) the job, then follows it unless detached: its report,
/// or `None` when it was left running (`--detach`) or cancelled (`--cancel`).
pub async fn run(
    args: &Args,
    conninfo: &str,
) -> Result<Option<JobReport>, Box<dyn std::error::Error>> {
    if args.parts_only {
        return Err("--parts-only does not go with --db: workers aggregate".into());
    }
    let never = AtomicBool::new(false);
    let db = until_answered(
        "connect to the coordination database",
        &never,
        is_transient,
        || PgCoordinator::connect(conninfo),
    )
    .await
    .map_err(|e| super::flags::in_flag_terms(e, false))?;
    if args.db.cancel {
        let running =
            until_answered("cancel", &never, is_transient, || db.cancel(&args.job_id)).await?;
        if running {
            eprintln!(
                "job {}: cancel requested; its workers stop and clean up",
                args.job_id
            );
        } else {
            let state = db.status(&args.job_id).await?.state;
            eprintln!("job {} had already ended ({state:?})", args.job_id);
        }
        return Ok(None);
    }
    let spec = spec(args)?;
    let (expected, beneficiaries) = args.source.beneficiaries(&args.job).await?;
    let submitted = if args.resume {
        db.submit_or_resume(&spec, beneficiaries).await
    } else {
        db.submit(&spec, beneficiaries)
            .await
            .map(Submitted::Created)
    }
    .map_err(|e| in_export_terms(e, &args.job_id))?;
    let earlier = match &submitted {
        Submitted::Created(record) => {
            eprintln!(
                "job {} submitted: {} beneficiaries in {} batches",
                record.job_id,
                record.beneficiaries,
                record.batches.total()
            );
            false
        }
        Submitted::Resumed(record) => {
            if record.beneficiaries != expected {
                eprintln!(
                    "note: job {} was submitted with {} beneficiaries; following that",
                    record.job_id, record.beneficiaries
                );
            }
            record.state == JobState::Completed
        }
    };
    if args.db.detach {
        println!("{}", args.job_id);
        return Ok(None);
    }
    let report = follow(&db, &args.job_id).await?;
    Ok(Some(JobReport {
        completed_earlier: earlier,
        ..report
    }))
}

/// The job of `export`'s flags, as the database keeps it.
fn spec(args: &Args) -> Result<JobSpec, Box<dyn std::error::Error>> {
    let job = &args.job;
    if job.arbiters.is_some() {
        return Err("--arbiters does not go with --db: each worker runs its own".into());
    }
    let mut spec = JobSpec::new(&args.job_id, &args.contract);
    spec.batch_size = job.batch_size;
    spec.max_attempts = args.db.max_attempts;
    spec.options = JobOptions {
        since: args.source.since.clone(),
        max_bytes: match job.max_bytes {
            Some(bytes) => bytes,
            None => job.max_mb.saturating_mul(claims_aggregator::MIB),
        },
        multiplier: job.multiplier,
        gzip: job.gzip,
        max_failure_rate: job.max_failure_rate,
    };
    Ok(spec)
}

/// A refusal of the database in the terms of `export`'s flags.
fn in_export_terms(error: Error, job_id: &str) -> Box<dyn std::error::Error> {
    let text = error.to_string();
    if text.contains("submit with resume") {
        return format!(
            "job {job_id} was already submitted: pass --resume to follow it, or choose another \
             --job-id"
        )
        .into();
    }
    super::flags::in_flag_terms(error, false)
}

/// Follows the job until it ends, printing its progress; Ctrl-C cancels it.
async fn follow(db: &PgCoordinator, job_id: &str) -> Result<JobReport, Box<dyn std::error::Error>> {
    let interrupted = std::sync::Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    actix_rt::spawn(async move {
        if actix_rt::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: cancelling the job (--detach leaves a job running)");
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let never = AtomicBool::new(false);
    let mut cancelled = false;
    let mut last_line: Option<Instant> = None;
    loop {
        if interrupted.load(std::sync::atomic::Ordering::Relaxed) && !cancelled {
            until_answered("cancel", &never, is_transient, || db.cancel(job_id)).await?;
            cancelled = true;
        }
        let record =
            until_answered("read the job", &never, is_transient, || db.status(job_id)).await?;
        if record.state != JobState::Running {
            break;
        }
        if last_line.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            last_line = Some(Instant::now());
            let outputs = until_answered("list the outputs", &never, is_transient, || {
                db.outputs(job_id)
            })
            .await?;
            let b = &record.batches;
            eprintln!(
                "{}; batches: {} done, {} running, {} waiting",
                super::progress_line(&record.progress(outputs.len() as u64)),
                b.done + b.failed,
                b.running + b.failing,
                b.pending
            );
        }
        actix_rt::time::sleep(FOLLOW_EVERY).await;
    }
    Ok(until_answered("read the report", &never, is_transient, || {
        db.report(job_id)
    })
    .await?)
}

/// The job directory a report names.
pub fn job_dir(args: &Args) -> std::path::PathBuf {
    args.job.root.join(&args.job_id)
}
