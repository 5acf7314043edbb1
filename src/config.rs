//! [`JobConfig`]: what a job needs to know, with AB2D's defaults, validated once.
//!
//! Every value is checked in [`JobConfigBuilder::build`], so that a job never starts
//! with a setting that would fail halfway (a zero size, a job id that escapes the
//! root, a root that is not a directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::store::layout::JobLayout;

/// One MiB: `max_mb` counts in these, as AB2D does.
pub const MIB: u64 = 1024 * 1024;

/// Default size cap of one output file: 200 MiB (AB2D's `job.file.rollover.ndjson`).
pub const DEFAULT_MAX_BYTES: u64 = 200 * MIB;

/// Default aggregation multiplier: aggregate once more than 2 × `max_bytes` wait.
pub const DEFAULT_MULTIPLIER: u32 = 2;

/// Default number of beneficiaries in one batch (one part file), as AB2D.
pub const DEFAULT_BATCH_SIZE: usize = 10;

/// Default number of fetchers alive at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Default failure threshold: the job fails once more than 10 % of the processed
/// beneficiaries failed (AB2D's default threshold).
pub const DEFAULT_MAX_FAILURE_RATE: f64 = 0.10;

/// Default name of the directory of parts being written.
pub const DEFAULT_STREAMING_DIR: &str = "streaming";

/// Default name of the directory of parts waiting for aggregation.
pub const DEFAULT_FINISHED_DIR: &str = "finished";

/// Longest accepted job id, contract or directory name, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Default per-request timeout of the claims source.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A validated job configuration. Build it with [`JobConfig::builder`].
#[derive(Debug, Clone)]
pub struct JobConfig {
    root: PathBuf,
    job_id: String,
    contract: String,
    streaming_dir: String,
    finished_dir: String,
    max_bytes: u64,
    multiplier: u32,
    batch_size: usize,
    concurrency: usize,
    arbiters: usize,
    max_failure_rate: f64,
    request_timeout: Duration,
    resume: bool,
    parts_only: bool,
    gzip: bool,
}

impl JobConfig {
    /// Starts a configuration for job `job_id` of `contract`, written under `root`
    /// (the job directory is `root/job_id`).
    pub fn builder(
        root: impl Into<PathBuf>,
        job_id: impl Into<String>,
        contract: impl Into<String>,
    ) -> JobConfigBuilder {
        JobConfigBuilder {
            config: JobConfig {
                root: root.into(),
                job_id: job_id.into(),
                contract: contract.into(),
                streaming_dir: DEFAULT_STREAMING_DIR.to_owned(),
                finished_dir: DEFAULT_FINISHED_DIR.to_owned(),
                max_bytes: DEFAULT_MAX_BYTES,
                multiplier: DEFAULT_MULTIPLIER,
                batch_size: DEFAULT_BATCH_SIZE,
                concurrency: DEFAULT_CONCURRENCY,
                arbiters: default_arbiters(),
                max_failure_rate: DEFAULT_MAX_FAILURE_RATE,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                resume: false,
                parts_only: false,
                gzip: false,
            },
            max_mb: None,
        }
    }

    /// The directory that holds job directories.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The job id (a plain file-name component).
    pub fn job_id(&self) -> &str {
        &self.job_id
    }
    /// The contract number, prefix of every output name.
    pub fn contract(&self) -> &str {
        &self.contract
    }
    /// Size cap of one output file in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }
    /// Aggregation multiplier.
    pub fn multiplier(&self) -> u32 {
        self.multiplier
    }
    /// Bytes of one kind that must be waiting (strictly more) before an output is made
    /// while the job runs: `multiplier × max_bytes`, saturating.
    pub fn trigger_bytes(&self) -> u64 {
        self.max_bytes.saturating_mul(u64::from(self.multiplier))
    }
    /// Beneficiaries per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// Fetchers alive at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
    /// Arbiters (threads) the fetchers are spread over.
    pub fn arbiters(&self) -> usize {
        self.arbiters
    }
    /// Largest fraction of failed beneficiaries the job tolerates.
    pub fn max_failure_rate(&self) -> f64 {
        self.max_failure_rate
    }
    /// Time one beneficiary's fetch may take before it counts as failed.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// Whether an existing job directory is resumed.
    pub fn resume(&self) -> bool {
        self.resume
    }
    /// Whether parts are left in `finished/` for another aggregator.
    pub fn parts_only(&self) -> bool {
        self.parts_only
    }
    /// Every path and file name of this job.
    pub fn layout(&self) -> JobLayout {
        JobLayout::new(
            self.root.join(&self.job_id),
            &self.streaming_dir,
            &self.finished_dir,
            &self.contract,
        )
        .with_gzip(self.gzip)
        .with_sync_parts(self.parts_only || crate::store::lock::boot_id().is_none())
    }
    /// Whether outputs are gzipped.
    pub fn gzip(&self) -> bool {
        self.gzip
    }
}

fn default_arbiters() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Builder of [`JobConfig`]; every setter states its default.
#[derive(Debug, Clone)]
pub struct JobConfigBuilder {
    config: JobConfig,
    max_mb: Option<u64>,
}

impl JobConfigBuilder {
    /// Name of the directory of parts being written, inside the job directory.
    /// Default `streaming`.
    pub fn streaming_dir(mut self, name: impl Into<String>) -> Self {
        self.config.streaming_dir = name.into();
        self
    }
    /// Name of the directory of parts waiting for aggregation. Default `finished`.
    pub fn finished_dir(mut self, name: impl Into<String>) -> Self {
        self.config.finished_dir = name.into();
        self
    }
    /// Size cap of one output in bytes. Default 200 MiB. Overridden by [`Self::max_mb`].
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.config.max_bytes = bytes;
        self.max_mb = None;
        self
    }
    /// Size cap of one output in MiB (1,048,576 bytes), as AB2D's `max_mb`.
    /// Default 200. Any value whose byte count fits in a `u64` is accepted.
    pub fn max_mb(mut self, mb: u64) -> Self {
        self.max_mb = Some(mb);
        self
    }
    /// Aggregate while the job runs once more than `multiplier × max_bytes` of one
    /// kind wait. Default 2.
    pub fn multiplier(mut self, multiplier: u32) -> Self {
        self.config.multiplier = multiplier;
        self
    }
    /// Beneficiaries per batch, i.e. per fetcher and part file. Default 10.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.config.batch_size = size;
        self
    }
    /// Fetchers alive at once. Default 16.
    pub fn concurrency(mut self, fetchers: usize) -> Self {
        self.config.concurrency = fetchers;
        self
    }
    /// Arbiters (threads) that run fetchers. Default: the number of CPUs.
    pub fn arbiters(mut self, arbiters: usize) -> Self {
        self.config.arbiters = arbiters;
        self
    }
    /// The job fails once more than this fraction (0.0 ..= 1.0) of processed
    /// beneficiaries failed. Default 0.10; 1.0 never fails.
    pub fn max_failure_rate(mut self, rate: f64) -> Self {
        self.config.max_failure_rate = rate;
        self
    }
    /// Time one beneficiary's fetch may take before it counts as failed.
    /// Default 60 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Continue the job if its directory exists: finish or redo interrupted
    /// aggregations, adopt finished parts, fetch only the batches not yet done.
    /// A job that never started is started; one that completed is reported as it
    /// is. Default `false`: an existing job directory that holds anything is
    /// refused untouched.
    pub fn resume(mut self, resume: bool) -> Self {
        self.config.resume = resume;
        self
    }

    /// Write parts only: fetchers move their parts to `finished/` and the job ends
    /// by removing `streaming/`, leaving the parts for an aggregator in another
    /// process (`examples/aggregate.rs`, AB2D's own) — and a baseline for
    /// measuring what aggregation costs. Default `false`.
    pub fn parts_only(mut self, parts_only: bool) -> Self {
        self.config.parts_only = parts_only;
        self
    }

    /// Gzip outputs (`Z9000_0001.ndjson.gz`, as AB2D's worker can). The size cap,
    /// the checksum, the length and the record count are of the uncompressed
    /// NDJSON; the report adds the compressed size. Default `false`.
    pub fn gzip(mut self, gzip: bool) -> Self {
        self.config.gzip = gzip;
        self
    }

    /// Validates every value and returns the configuration.
    ///
    /// Refuses zero sizes, counts or multiplier; a job id, contract or directory
    /// name that is empty, longer than [`MAX_NAME_LEN`] bytes or not a plain
    /// file-name component; a failure rate outside 0..=1; a root that is not an
    /// existing directory.
    pub fn build(mut self) -> Result<JobConfig> {
        if let Some(mb) = self.max_mb {
            self.config.max_bytes = mb.checked_mul(MIB).ok_or_else(|| {
                Error::config("max_mb", format!("{mb} MiB overflows a byte count"))
            })?;
        }
        let c = &self.config;
        validate_name("job_id", &c.job_id)?;
        validate_name("contract", &c.contract)?;
        validate_name("streaming_dir", &c.streaming_dir)?;
        validate_name("finished_dir", &c.finished_dir)?;
        if c.streaming_dir == c.finished_dir {
            return Err(Error::config(
                "finished_dir",
                format!(
                    "must differ from streaming_dir (both {:?})",
                    c.streaming_dir
                ),
            ));
        }
        for (field, value) in [
            ("max_bytes", c.max_bytes),
            ("multiplier", u64::from(c.multiplier)),
            ("batch_size", c.batch_size as u64),
            ("concurrency", c.concurrency as u64),
            ("arbiters", c.arbiters as u64),
        ] {
            if value == 0 {
                return Err(Error::config(field, "must be greater than zero"));
            }
        }
        if !(0.0..=1.0).contains(&c.max_failure_rate) {
            return Err(Error::config(
                "max_failure_rate",
                format!("{} is not a fraction between 0 and 1", c.max_failure_rate),
            ));
        }
        if c.request_timeout.is_zero() {
            return Err(Error::config(
                "request_timeout",
                "must be greater than zero",
            ));
        }
        match std::fs::metadata(&c.root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::config(
                    "root",
                    format!("{} is not a directory", c.root.display()),
                ))
            }
            Err(e) => return Err(Error::config("root", format!("{}: {e}", c.root.display()))),
        }
        Ok(self.config)
    }
}

/// Checks that `value` is a plain, visible file-name component that cannot
/// escape the directory it is joined to.
pub(crate) fn validate_name(field: &'static str, value: &str) -> Result<()> {
    let reason = if value.is_empty() {
        Some("must not be empty".to_owned())
    } else if value.len() > MAX_NAME_LEN {
        Some(format!(
            "{} bytes is longer than {MAX_NAME_LEN}",
            value.len()
        ))
    } else if value.starts_with('.') {
        Some(format!("{value:?} must not start with '.'"))
    } else {
        value
            .chars()
            .find(|&ch| ch == '/' || ch == '\\' || ch.is_control())
            .map(|bad| format!("{value:?} is not a plain file name (contains {bad:?})"))
    };
    match reason {
        Some(reason) => Err(Error::config(field, reason)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> JobConfigBuilder {
        JobConfig::builder(std::env::temp_dir(), "ABC-DEF", "Z9000")
    }

    #[test]
    fn defaults_are_ab2d_s() {
        let c = builder().build().unwrap();
        assert_eq!(c.max_bytes(), 200 * MIB);
        assert_eq!(c.multiplier(), 2);
        assert_eq!(c.batch_size(), 10);
        assert_eq!(c.trigger_bytes(), 400 * MIB);
        let layout = c.layout();
        assert!(layout.streaming().ends_with("ABC-DEF/streaming"));
        assert!(layout.finished().ends_with("ABC-DEF/finished"));
    }

    #[test]
    fn max_mb_of_4096_and_more_is_exact() {
        let c = builder().max_mb(4096).build().unwrap();
        assert_eq!(c.max_bytes(), 4096 * MIB);
        let c = builder().max_mb(1 << 43).build().unwrap();
        assert_eq!(c.max_bytes(), 1u64 << 63);
        assert_eq!(c.trigger_bytes(), u64::MAX, "trigger saturates");
        let err = builder().max_mb(u64::MAX).build().unwrap_err();
        assert!(err.to_string().contains("max_mb"), "{err}");
    }

    #[test]
    fn names_that_escape_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            "../x",
            "a/b",
            ".hidden",
            "a\0b",
            "a\\b",
            &"x".repeat(65),
        ] {
            let err = validate_name("job_id", bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid config: job_id:"),
                "{err}"
            );
        }
        for good in ["ABC-DEF", "Z9000", "a.b", "x".repeat(64).as_str()] {
            validate_name("job_id", good).unwrap();
        }
    }
}
