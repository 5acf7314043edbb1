//! The aggregator alone, over a job directory written by other processes (AB2D's
//! Java workers, or several `export` processes).
//!
//! It adopts every part that appears in `finished/`, combines as the job runs,
//! and finishes when `streaming/` is gone; then it prints the number of
//! aggregations (and with `--json` the outputs, read from the job journal). An
//! error (a refused setting, an output that does not match the journal) exits 2.
//!
//! ```text
//! cargo run --release --example aggregate -- --root ./efsmount --job-id ABC-DEF --contract Z9000
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use actix::Actor;
use claims_aggregator::{journal, Aggregator, AwaitCompletion, JobConfig};
use clap::Parser;

#[path = "common/flags.rs"]
mod flags;

#[derive(Debug, Parser)]
#[command(about = "Aggregate the finished parts of a job directory written by other processes")]
struct Args {
    /// Directory holding job directories; must exist.
    #[arg(long, value_name = "DIR", default_value = "./efsmount")]
    root: PathBuf,
    /// Job id: the job directory's name.
    #[arg(long, value_name = "ID", default_value = "ABC-DEF")]
    job_id: String,
    /// Contract number: the prefix of output names.
    #[arg(long, value_name = "ID", default_value = "Z9000")]
    contract: String,
    /// Output size cap in MiB.
    #[arg(
        long,
        value_name = "MIB",
        default_value_t = 200,
        conflicts_with = "max_bytes"
    )]
    max_mb: u64,
    /// Output size cap in bytes (instead of --max-mb).
    #[arg(long, value_name = "BYTES")]
    max_bytes: Option<u64>,
    /// Aggregate once more than multiplier × max bytes wait.
    #[arg(long, value_name = "N", default_value_t = 2)]
    multiplier: u32,
    /// How often finished/ is scanned for new parts, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    poll_ms: u64,
    /// Print the outputs as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // Fault points named in FAILPOINTS (compiled in only with the `fail`
    // crate's `failpoints` feature, as in this crate's examples): the crash
    // test aborts the aggregator at each step of its protocol.
    let _faults = fail::FailScenario::setup();
    let args = Args::parse();
    match actix::System::new().block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        // 2, as `export` answers an error: the job was not aggregated.
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.poll_ms == 0 {
        return Err("--poll-ms must be greater than zero".into());
    }
    let mut builder =
        JobConfig::builder(&args.root, &args.job_id, &args.contract).multiplier(args.multiplier);
    builder = match args.max_bytes {
        Some(bytes) => builder.max_bytes(bytes),
        None => builder.max_mb(args.max_mb),
    };
    let config = builder
        .build()
        .map_err(|e| flags::in_flag_terms(e, args.max_bytes.is_some()))?;
    let layout = config.layout();
    if !layout.job_dir().is_dir() {
        return Err(format!(
            "job directory {} does not exist",
            layout.job_dir().display()
        )
        .into());
    }
    let aggregator = Aggregator::new(&config)
        .watch(Duration::from_millis(args.poll_ms))
        .start();
    let count = aggregator.send(AwaitCompletion).await??;
    let outputs = actix_rt::task::spawn_blocking(move || {
        let outputs = journal::outputs(&layout)?;
        journal::remove(&layout)?;
        Ok::<_, claims_aggregator::Error>(outputs)
    })
    .await??;
    eprintln!("{count} aggregations");
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outputs)?);
    } else {
        println!("{count}");
    }
    Ok(())
}
