//! Helpers of the `tests/bfd_*.rs` tests: the stub BFD and the test PKI (the
//! very code the `bfd_stub` binary runs), BFD client settings with quick
//! retries, whole exports against the stub, and the EOBs a patient must yield.
#![allow(dead_code)]

#[path = "../../../../tests/common/mod.rs"]
pub mod common;
#[allow(unused_imports)]
pub use bfd_stub::{pki, server as stub};

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use claims_aggregator::source::parse_since;
use claims_aggregator::{
    run_job, BfdConfig, BfdConfigBuilder, BfdSource, ClaimsSource, FileKind, JobReport,
    SourceError, SyntheticConfig, SyntheticSource,
};

#[allow(unused_imports)]
pub use stub::{Fault, FaultKind, StubConfig, StubServer};

/// The job id of [`common::config`], sent as `BULK-JOB-ID`.
pub const JOB_ID: &str = "J1";

/// AB2D's earliest allowed billing period end, the client's default.
pub const EARLIEST: &str = "2020-01-01";

/// Client settings for tests: the test job id, retries after 1–20 ms.
pub fn client(url: &str) -> BfdConfigBuilder {
    common::init_logging();
    BfdConfig::builder(url)
        .job_id(JOB_ID)
        .max_attempts(3)
        .backoff_base(Duration::from_millis(1))
        .backoff_max(Duration::from_millis(20))
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(10))
}

/// A source built from `builder`.
pub fn source(builder: BfdConfigBuilder) -> BfdSource {
    BfdSource::new(builder.build().expect("valid BFD config")).expect("BFD source")
}

/// Synthetic claims with this seed and mean count.
pub fn synthetic(seed: u64, eobs_per_beneficiary: f64) -> SyntheticConfig {
    SyntheticConfig {
        seed,
        eobs_per_beneficiary,
        ..SyntheticConfig::default()
    }
}

/// A stub of these claims, with default switches.
pub fn stub_config(synthetic: SyntheticConfig) -> StubConfig {
    StubConfig {
        synthetic,
        ..StubConfig::default()
    }
}

/// The lines `patient` must yield: its synthetic EOBs, exactly as generated,
/// whose billing period ends on or after `earliest` and whose `lastUpdated`
/// is at or after the instant `since` names (each when given), compared here
/// on the parsed instants, not by the generator's own filter.
pub fn expected(
    synthetic: &SyntheticConfig,
    patient: &str,
    earliest: Option<&str>,
    since: Option<&str>,
) -> Vec<String> {
    SyntheticSource::new(synthetic.clone())
        .generate(patient)
        .expect("the stub's patients do not fail")
        .into_iter()
        .map(|eob| eob.as_str().to_owned())
        .filter(|text| {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let end = value["billablePeriod"]["end"].as_str().unwrap();
            let updated = parse_since(value["meta"]["lastUpdated"].as_str().unwrap()).unwrap();
            earliest.is_none_or(|e| end >= e)
                && since.is_none_or(|s| updated >= parse_since(s).unwrap())
        })
        .collect()
}

/// Pages the stub serves for `patient` at `page_size` (an empty result is one page).
pub fn pages(synthetic: &SyntheticConfig, patient: &str, page_size: usize) -> u64 {
    let n = SyntheticSource::new(synthetic.clone())
        .eob_ids(patient)
        .len();
    n.div_ceil(page_size).max(1) as u64
}

/// EOBs the stub holds for `patient` (before any filter).
pub fn generated(synthetic: &SyntheticConfig, patient: &str) -> u64 {
    SyntheticSource::new(synthetic.clone())
        .eob_ids(patient)
        .len() as u64
}

/// What a whole export left behind.
pub struct Export {
    /// Keeps the job directory alive.
    pub root: tempfile::TempDir,
    /// The job's report.
    pub report: JobReport,
    /// Every data line, in output order.
    pub data: Vec<String>,
    /// Every error line, parsed.
    pub errors: Vec<serde_json::Value>,
}

impl Export {
    /// The beneficiaries named by the error lines, sorted.
    pub fn failed(&self) -> Vec<String> {
        let mut failed = common::failed_beneficiaries(&self.errors);
        failed.sort();
        failed
    }

    /// The error line of `patient` (there must be exactly one).
    pub fn error_of(&self, patient: &str) -> &serde_json::Value {
        let lines: Vec<_> = self
            .errors
            .iter()
            .filter(|l| l["issue"][0]["diagnostics"] == format!("Patient/{patient}"))
            .collect();
        assert_eq!(lines.len(), 1, "error lines of {patient}: {lines:?}");
        lines[0]
    }
}

/// `issue[0].code` and `issue[0].details.text` of an OperationOutcome line.
pub fn issue(line: &serde_json::Value) -> (&str, &str) {
    (
        line["issue"][0]["code"].as_str().unwrap(),
        line["issue"][0]["details"]["text"].as_str().unwrap(),
    )
}

/// Runs a whole job of `patients` against `source` (batches of `batch_size`,
/// `concurrency` fetchers) and reads its outputs back.
pub async fn export(
    source: BfdSource,
    patients: &[String],
    concurrency: usize,
    batch_size: usize,
) -> Export {
    let root = tempfile::tempdir().unwrap();
    let config = common::config(root.path())
        .concurrency(concurrency)
        .batch_size(batch_size)
        .max_failure_rate(1.0)
        .build()
        .unwrap();
    let source: Arc<dyn ClaimsSource> = Arc::new(source);
    let report = run_job(config, source, patients.to_vec()).await.unwrap();
    assert!(report.status.is_completed(), "{:?}", report.status);
    let job_dir = root.path().join(JOB_ID);
    common::assert_outputs_match_report(&job_dir, &report);
    let data = raw_lines(&job_dir, &report, FileKind::Data);
    let errors = common::output_lines(&job_dir, &report, FileKind::Error);
    Export {
        root,
        report,
        data,
        errors,
    }
}

/// Every line of the outputs of `kind`, as text.
pub fn raw_lines(job_dir: &Path, report: &JobReport, kind: FileKind) -> Vec<String> {
    report
        .outputs_of(kind)
        .flat_map(|o| {
            std::fs::read_to_string(job_dir.join(&o.file))
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Asserts that `got` holds exactly the lines of `want`, each once, in any order.
pub fn assert_same_lines(got: &[String], want: &[String]) {
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "a line arrived twice");
    let mut got = got.to_vec();
    let mut want = want.to_vec();
    got.sort();
    want.sort();
    if got != want {
        let ids = |lines: &[String]| -> Vec<String> { lines.iter().map(|l| eob_id(l)).collect() };
        panic!(
            "{} lines, {} expected\n got ids: {:?}\nwant ids: {:?}",
            got.len(),
            want.len(),
            ids(&got),
            ids(&want)
        );
    }
}

/// The `id` of an EOB line.
pub fn eob_id(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    value["id"].as_str().unwrap().to_owned()
}

/// Fetches `patient` directly (no job), as text lines.
pub async fn fetch(source: &BfdSource, patient: &str) -> Result<Vec<String>, SourceError> {
    source
        .fetch(patient)
        .await
        .map(|eobs| eobs.iter().map(|e| e.as_str().to_owned()).collect())
}

/// The first `n` patients with at least `min_pages` pages at `page_size`.
pub fn patients_with_pages(
    synthetic: &SyntheticConfig,
    page_size: usize,
    min_pages: u64,
    n: usize,
) -> Vec<String> {
    (0..)
        .map(claims_aggregator::synthetic::beneficiary_id)
        .filter(|p| pages(synthetic, p, page_size) >= min_pages)
        .take(n)
        .collect()
}
