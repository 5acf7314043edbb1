//! The service's flags: which contracts it serves and to whom, where its links
//! point, how many exports run at once and how long finished ones are kept.
//! They sit beside the job options (`JobArgs`) every example shares, which are
//! the defaults of each export's job.

use std::path::PathBuf;
use std::time::Duration;

use crate::job_args::JobArgs;

use super::contracts::ContractSpec;

/// The contract served when no `--contract` is given (AB2D's sandbox contract).
pub const DEFAULT_CONTRACT: &str = "Z9000";
/// Exports running at once unless `--max-running` says otherwise: enough to keep
/// two cores busy, few enough that each job's arbiters stay a handful of threads.
pub const DEFAULT_MAX_RUNNING: usize = 4;
/// How long a finished export is kept unless `--retention-secs` says otherwise:
/// 72 hours, as AB2D keeps its files.
pub const DEFAULT_RETENTION_SECS: u64 = 72 * 3600;

/// The server's options.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// A contract served: ID (with the --beneficiaries generated ids) or
    /// ID=FIRST..END (generated ids FIRST to END-1); repeat for more [default: Z9000]
    #[arg(
        long = "contract",
        value_name = "ID[=FIRST..END]",
        help_heading = "Service"
    )]
    pub contracts: Vec<ContractSpec>,
    /// Base of every URL handed out [default: the bound address]
    #[arg(long, value_name = "URL", help_heading = "Service")]
    pub public_url: Option<url::Url>,
    /// Exports running at once; the others wait in a queue
    #[arg(long, value_name = "N", help_heading = "Service", default_value_t = DEFAULT_MAX_RUNNING)]
    pub max_running: usize,
    /// Seconds a finished export is kept (then its files and record are deleted)
    #[arg(long, value_name = "SECS", help_heading = "Service", default_value_t = DEFAULT_RETENTION_SECS)]
    pub retention_secs: u64,
    /// Registered clients (JSON); without it the service is open to anyone
    #[arg(long, value_name = "FILE", help_heading = "Service")]
    pub clients: Option<PathBuf>,
    #[command(flatten)]
    pub job: JobArgs,
}

impl Settings {
    /// How long a finished export is kept.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_secs)
    }

    /// Checks what clap cannot: a usable `--max-running` and `--public-url`.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_running == 0 {
            return Err("--max-running must be at least 1".into());
        }
        if let Some(url) = &self.public_url {
            if !matches!(url.scheme(), "http" | "https")
                || url.host().is_none()
                || url.query().is_some()
                || url.fragment().is_some()
            {
                return Err(format!(
                    "--public-url {url}: an http or https URL without query or fragment"
                ));
            }
        }
        Ok(())
    }
}
