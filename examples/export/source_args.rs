//! `export`'s choice of claims source (`--source synthetic|bfd`), the BFD
//! options, and where beneficiary ids come from (`--patients FILE`).

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use claims_aggregator::source::bfd::DEFAULT_PAGE_SIZE;
use claims_aggregator::{BfdConfig, BfdSource, ClaimsSource};

use super::job_args::JobArgs;

/// The base URL used with `--source bfd` when `--bfd-url` is not given: the
/// default address of `examples/bfd_stub.rs`.
const DEFAULT_BFD_URL: &str = "http://127.0.0.1:8080";

/// Where claims come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    /// The embedded synthetic generator (`--seed`, `--eobs-per-beneficiary`, …).
    Synthetic,
    /// A BFD FHIR server over HTTP(S).
    Bfd,
}

/// Source options.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Where claims come from.
    #[arg(long, value_enum, default_value = "synthetic")]
    pub source: SourceKind,
    /// BFD base URL; searches go to {url}/v2/fhir/ExplanationOfBenefit. Plain
    /// http only to a loopback host [default: http://127.0.0.1:8080].
    #[arg(long)]
    pub bfd_url: Option<String>,
    /// File of beneficiary ids, one a line [default: --beneficiaries generated ids].
    #[arg(long, value_name = "FILE")]
    pub patients: Option<PathBuf>,
    /// Only claims updated since then (`_lastUpdated=ge…`): 2020-02-13 or
    /// 2020-02-13T00:00:00.000-05:00.
    #[arg(long)]
    pub since: Option<String>,
    /// PEM CA bundle trusted for BFD [default: the system's roots].
    #[arg(long, value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// EOBs per BFD page (`_count`) [default: 50].
    #[arg(long)]
    pub page_size: Option<u32>,
}

impl SourceArgs {
    /// The claims source; for BFD, `job_id` is sent as `BULK-JOB-ID`. Call it
    /// inside the running actix system (the HTTP client's pool lives there).
    pub fn source(
        &self,
        job: &JobArgs,
        job_id: &str,
    ) -> Result<Arc<dyn ClaimsSource>, Box<dyn Error>> {
        if self.source == SourceKind::Synthetic {
            let bfd_only = [
                ("--bfd-url", self.bfd_url.is_some()),
                ("--since", self.since.is_some()),
                ("--ca-cert", self.ca_cert.is_some()),
                ("--client-cert", self.client_cert.is_some()),
                ("--page-size", self.page_size.is_some()),
            ];
            if let Some((flag, _)) = bfd_only.iter().find(|(_, given)| *given) {
                return Err(format!("{flag} needs --source bfd").into());
            }
            return Ok(job.synthetic()?);
        }
        let url = self.bfd_url.as_deref().unwrap_or(DEFAULT_BFD_URL);
        let mut config = BfdConfig::builder(url)
            .job_id(job_id)
            .page_size(self.page_size.unwrap_or(DEFAULT_PAGE_SIZE));
        if let Some(since) = &self.since {
            config = config.since(since);
        }
        if let Some(ca_cert) = &self.ca_cert {
            config = config.ca_cert(ca_cert);
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            config = config.client_cert(cert).client_key(key);
        }
        Ok(Arc::new(BfdSource::new(config.build()?)?))
    }

    /// How many beneficiaries, and their ids: from `--patients` (read now, so
    /// that a bad file stops the job before it starts), or generated.
    pub fn beneficiaries(
        &self,
        job: &JobArgs,
    ) -> Result<(u64, Box<dyn Iterator<Item = String> + Send>), String> {
        let Some(path) = &self.patients else {
            return Ok((job.beneficiaries, Box::new(job.beneficiary_ids())));
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--patients {}: {e}", path.display()))?;
        let ids: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        if ids.is_empty() {
            return Err(format!(
                "--patients {}: no beneficiary id in it",
                path.display()
            ));
        }
        Ok((ids.len() as u64, Box::new(ids.into_iter())))
    }
}
