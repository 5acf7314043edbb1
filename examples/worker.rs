//! A worker of the jobs in a PostgreSQL coordination database: it takes batches
//! of any running job, and aggregator roles, until Ctrl-C (or SIGTERM).
//!
//! ```text
//! cargo run --release --features postgres --example worker -- \
//!     --db 'host=127.0.0.1 user=postgres dbname=claims' --root /mnt/efs/jobs
//! ```
//!
//! Run as many as you like, on as many machines as share `--root` (NFS/EFS);
//! `export --db` submits jobs and follows them. A job says what to export (its
//! beneficiaries, `--since`, output options); a worker says how to reach the
//! claims source: `--source synthetic` with its seed and latency, or
//! `--source bfd` with URL and certificates. Every worker of a job must reach
//! the same source alike: with the synthetic source, the same seed.
//!
//! The first Ctrl-C stops claiming, finishes the batches in hand and gives its
//! aggregator roles back; a second one exits at once (nothing is lost: the
//! leases expire and other workers take over). Exit status 2 on an error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use claims_aggregator::coordination::postgres::{is_transient, PgCoordinator};
use claims_aggregator::coordination::worker::{SourceFor, StopWorker, Worker, WorkerConfig};
use claims_aggregator::coordination::{until_answered, JobRecord};
use claims_aggregator::Error;
use clap::Parser;

#[path = "common/flags.rs"]
mod flags;
#[allow(dead_code)] // the worker takes the synthetic settings only
#[path = "common/job_args.rs"]
mod job_args;
#[allow(dead_code)] // a worker reads no patients file
#[path = "export/source_args.rs"]
mod source_args;

use job_args::{SyntheticArgs, DEFAULT_ROOT};
use source_args::SourceArgs;

#[derive(Debug, Parser)]
#[command(about = "Take batches and aggregator roles of the jobs in a coordination database")]
struct Args {
    /// The coordination database: libpq form (`host=… user=… dbname=…`) or a
    /// postgresql:// URL.
    #[arg(long, value_name = "CONNINFO", help_heading = "Worker")]
    db: String,
    /// Directory of job directories, shared by every worker (NFS/EFS); must
    /// exist unless --create-root.
    #[arg(long, value_name = "DIR", help_heading = "Worker", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Create --root (and its parents) if it is missing.
    #[arg(long, help_heading = "Worker")]
    create_root: bool,
    /// Batches fetched at once.
    #[arg(long, value_name = "N", help_heading = "Worker", default_value_t = claims_aggregator::coordination::worker::DEFAULT_WORKER_CONCURRENCY)]
    concurrency: usize,
    /// Lease of a batch or aggregator role, in seconds: renewed every third of
    /// it; a dead worker's batches wait this long.
    #[arg(long, value_name = "S", help_heading = "Worker", default_value_t = 30)]
    lease_secs: u64,
    /// How often an idle worker asks for a batch, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        help_heading = "Worker",
        default_value_t = 500
    )]
    poll_ms: u64,
    /// This worker's name in the database [default: host:pid:start-millis].
    #[arg(long, value_name = "NAME", help_heading = "Worker")]
    worker_id: Option<String>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    synthetic: SyntheticArgs,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    match actix::System::new().block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    for (flag, given) in [
        ("--patients", args.source.patients.is_some()),
        ("--since", args.source.since.is_some()),
    ] {
        if given {
            return Err(format!("{flag} is a job's option: give it to `export --db`").into());
        }
    }
    job_args::ensure_root(&args.root, args.create_root)?;
    check_writable(&args.root)?;
    let mut config = WorkerConfig::new(&args.root);
    config.concurrency = args.concurrency;
    config.lease = Duration::from_secs(args.lease_secs);
    config.poll = Duration::from_millis(args.poll_ms);
    if let Some(id) = &args.worker_id {
        config.worker_id = id.clone();
    }
    config.validate().map_err(worker_flag)?;
    // The source is checked once now, so that a bad flag stops the worker
    // before it claims anything.
    args.source.source(&args.synthetic, "check")?;
    let sources: SourceFor = {
        let (source, synthetic) = (args.source.clone(), args.synthetic.clone());
        Arc::new(move |job: &JobRecord| {
            let mut source = source.clone();
            source.since = job.options.since.clone();
            source
                .source(&synthetic, &job.job_id)
                .map_err(|e| Error::config("source", e.to_string()))
        })
    };
    let never = AtomicBool::new(false);
    let db = until_answered(
        "connect to the coordination database",
        &never,
        is_transient,
        || PgCoordinator::connect(&args.db),
    )
    .await
    .map_err(|e| flags::in_flag_terms(e, false))?;
    let worker = Worker::new(Arc::new(db), config, sources)?.start();

    wait_for_stop().await;
    eprintln!("stopping: finishing the batches in hand (Ctrl-C again to exit now)");
    let stopped = worker.send(StopWorker);
    futures::pin_mut!(stopped);
    let again = wait_for_stop();
    futures::pin_mut!(again);
    if let futures::future::Either::Right(_) = futures::future::select(stopped, again).await {
        eprintln!("exiting now; the leases will expire and other workers take over");
    }
    Ok(())
}

/// Refuses a `--root` the worker cannot write: every batch it claimed would
/// fail, over and over, until its attempts ran out.
fn check_writable(root: &std::path::Path) -> Result<(), String> {
    let probe = root.join(format!(".worker-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("--root {} is not writable: {e}", root.display()))
}

/// Ctrl-C or SIGTERM.
async fn wait_for_stop() {
    let mut term = actix_rt::signal::unix::signal(actix_rt::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    let interrupt = actix_rt::signal::ctrl_c();
    futures::pin_mut!(interrupt);
    futures::future::select(interrupt, Box::pin(term.recv())).await;
}

/// A worker setting's error in the terms of its flag.
fn worker_flag(error: Error) -> Box<dyn std::error::Error> {
    match &error {
        Error::Config { field, reason } => {
            let flag = match *field {
                "lease" => "--lease-secs",
                "poll" => "--poll-ms",
                "worker_id" => "--worker-id",
                "concurrency" => "--concurrency",
                _ => return error.into(),
            };
            format!("invalid {flag}: {reason}").into()
        }
        _ => error.into(),
    }
}
