//! The job options shared by the example programs (`export`, `server`): where
//! jobs live, how outputs are cut, and the synthetic claims source.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use claims_aggregator::{synthetic, JobConfig, JobConfigBuilder, SyntheticConfig, SyntheticSource};

/// Where jobs live unless `--root` says otherwise; created on first use.
pub const DEFAULT_ROOT: &str = "./efsmount";

/// Checks that `root` exists, creating it only when asked to (`create_root`,
/// from `--create-root`) or when it is the default one: a mistyped `--root`
/// must not quietly grow a tree somewhere else.
pub fn ensure_root(root: &Path, create_root: bool) -> Result<(), String> {
    if root.exists() {
        return Ok(());
    }
    if !create_root && root != Path::new(DEFAULT_ROOT) {
        return Err(format!(
            "--root {} does not exist (pass --create-root to create it)",
            root.display()
        ));
    }
    std::fs::create_dir_all(root)
        .map_err(|e| format!("--root {}: cannot create it: {e}", root.display()))
}

/// Job options, with AB2D's scenario as defaults. The contract is each
/// program's own flag: `export` runs one, the server serves several.
#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    /// Directory of job directories; must exist unless --create-root (the
    /// default is created on first use).
    #[arg(long, help_heading = "Job", value_name = "DIR", default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Create --root (and its parents) if it is missing.
    #[arg(long, help_heading = "Job")]
    pub create_root: bool,
    /// Beneficiaries in the job (ids generated from the seed).
    #[arg(
        long,
        value_name = "N",
        help_heading = "Synthetic source",
        default_value_t = 85
    )]
    pub beneficiaries: u64,
    /// Beneficiaries per batch (per fetcher and part file).
    #[arg(long, value_name = "N", help_heading = "Job", default_value_t = 10)]
    pub batch_size: usize,
    /// Output size cap in MiB.
    #[arg(
        long,
        value_name = "MIB",
        help_heading = "Job",
        default_value_t = 200,
        conflicts_with = "max_bytes"
    )]
    pub max_mb: u64,
    /// Output size cap in bytes (instead of --max-mb).
    #[arg(long, value_name = "BYTES", help_heading = "Job")]
    pub max_bytes: Option<u64>,
    /// Aggregate while running once more than multiplier × max bytes wait.
    #[arg(long, value_name = "N", help_heading = "Job", default_value_t = 2)]
    pub multiplier: u32,
    /// Fetchers alive at once.
    #[arg(long, value_name = "N", help_heading = "Job", default_value_t = claims_aggregator::config::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Arbiters (threads) running fetchers [default: CPUs].
    #[arg(long, value_name = "N", help_heading = "Job")]
    pub arbiters: Option<usize>,
    #[command(flatten)]
    pub synthetic: SyntheticArgs,
    /// The job fails once more than this fraction of beneficiaries failed.
    #[arg(long, value_name = "FRACTION", help_heading = "Job", default_value_t = claims_aggregator::config::DEFAULT_MAX_FAILURE_RATE)]
    pub max_failure_rate: f64,
    /// Gzip outputs (`.ndjson.gz`).
    #[arg(long, help_heading = "Job")]
    pub gzip: bool,
}

impl JobArgs {
    /// Checks that the root directory exists (see [`ensure_root`]).
    pub fn ensure_root(&self) -> Result<(), String> {
        ensure_root(&self.root, self.create_root)
    }

    /// A config builder for job `job_id` of `contract` with these options.
    pub fn config(&self, job_id: &str, contract: &str) -> JobConfigBuilder {
        let mut builder = JobConfig::builder(&self.root, job_id, contract)
            .batch_size(self.batch_size)
            .multiplier(self.multiplier)
            .max_failure_rate(self.max_failure_rate)
            .gzip(self.gzip);
        builder = match self.max_bytes {
            Some(bytes) => builder.max_bytes(bytes),
            None => builder.max_mb(self.max_mb),
        };
        builder = builder.concurrency(self.concurrency);
        if let Some(arbiters) = self.arbiters {
            builder = builder.arbiters(arbiters);
        }
        builder
    }

    /// The generated beneficiary ids of a job.
    pub fn beneficiary_ids(&self) -> impl Iterator<Item = String> + Send + 'static {
        (0..self.beneficiaries).map(synthetic::beneficiary_id)
    }
}

/// The synthetic claims source's settings: part of a job's options for
/// `export` and `server`, a worker's own for `worker` (its jobs say only what
/// to export).
#[derive(Debug, Clone, clap::Args)]
pub struct SyntheticArgs {
    /// Seed of the synthetic claims.
    #[arg(
        long,
        value_name = "N",
        help_heading = "Synthetic source",
        default_value_t = 0
    )]
    pub seed: u64,
    /// Mean EOBs per beneficiary.
    #[arg(
        long,
        value_name = "MEAN",
        help_heading = "Synthetic source",
        default_value_t = 4.0
    )]
    pub eobs_per_beneficiary: f64,
    /// One small EOB per beneficiary (for very large jobs).
    #[arg(long, help_heading = "Synthetic source")]
    pub small_eobs: bool,
    /// Latency of each synthetic request, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        help_heading = "Synthetic source",
        default_value_t = 0
    )]
    pub latency_ms: u64,
    /// Fraction of beneficiaries whose fetch fails.
    #[arg(
        long,
        value_name = "FRACTION",
        help_heading = "Synthetic source",
        default_value_t = 0.0
    )]
    pub failure_rate: f64,
}

impl SyntheticArgs {
    /// The synthetic claims source these options describe.
    /// The synthetic claims source these options describe, with only the
    /// claims updated at or after `since` when given.
    pub fn source(&self, since: Option<SystemTime>) -> Result<Arc<SyntheticSource>, String> {
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(format!(
                "--failure-rate {} is not a fraction between 0 and 1",
                self.failure_rate
            ));
        }
        Ok(Arc::new(SyntheticSource::new(SyntheticConfig {
            seed: self.seed,
            eobs_per_beneficiary: self.eobs_per_beneficiary,
            latency: Duration::from_millis(self.latency_ms),
            failure_rate: self.failure_rate,
            small_eobs: self.small_eobs,
            since,
        })))
    }
}
