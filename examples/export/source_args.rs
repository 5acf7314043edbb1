//! `export`'s choice of claims source (`--source synthetic|bfd`), the BFD
//! options, and where beneficiary ids come from (`--patients FILE`).

use std::error::Error;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use claims_aggregator::source::bfd::DEFAULT_PAGE_SIZE;
use claims_aggregator::source::parse_since;
use claims_aggregator::{BfdConfig, BfdSource, ClaimsSource};

/// Longest line of a `--patients` file, in bytes: a FHIR id has at most 64
/// characters, the rest is room for surrounding blanks. A file without line
/// breaks (`/dev/zero`) fails here, after reading this much.
pub const MAX_PATIENTS_LINE_BYTES: usize = 1024;

/// Largest `--patients` file: the ids are held to refuse a repeated one before
/// the job starts; 256 MiB is some 15 million ids of BFD's length.
pub const MAX_PATIENTS_FILE_BYTES: u64 = 256 * 1024 * 1024;

use super::job_args::{JobArgs, SyntheticArgs};

/// The base URL used with `--source bfd` when `--bfd-url` is not given: the
/// default address of the stub BFD (`examples/bfd_stub`).
const DEFAULT_BFD_URL: &str = "http://127.0.0.1:8443";

/// Where claims come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    // The embedded synthetic generator (no doc comment: clap would turn the
    // help into its long, multi-line layout to show it).
    Synthetic,
    // A BFD FHIR server over HTTP(S).
    Bfd,
}

/// Source options.
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Where claims come from: synthetic or bfd.
    #[arg(
        long,
        value_name = "KIND",
        help_heading = "Source",
        value_enum,
        default_value = "synthetic"
    )]
    pub source: SourceKind,
    /// BFD base URL; searches go to {url}/v2/fhir/ExplanationOfBenefit. Plain
    /// http only to a loopback host [default: http://127.0.0.1:8443].
    #[arg(long, value_name = "URL", help_heading = "Source")]
    pub bfd_url: Option<String>,
    /// File of beneficiary ids, one a line, each listed once (at most 1 KiB a
    /// line, 256 MiB in all) [default: --beneficiaries generated ids].
    #[arg(long, help_heading = "Source", value_name = "FILE")]
    pub patients: Option<PathBuf>,
    /// Only claims updated at or after then (from BFD: `_lastUpdated=ge…`):
    /// 2020-02-13 (midnight UTC) or 2020-02-13T00:00:00.000-05:00.
    #[arg(long, value_name = "DATE", help_heading = "Source")]
    pub since: Option<String>,
    /// PEM CA bundle trusted for BFD [default: the system's roots].
    #[arg(long, help_heading = "Source", value_name = "PEM")]
    pub ca_cert: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    #[arg(
        long,
        help_heading = "Source",
        value_name = "PEM",
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(
        long,
        help_heading = "Source",
        value_name = "PEM",
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,
    /// EOBs per BFD page (`_count`) [default: 50].
    #[arg(long, value_name = "N", help_heading = "Source")]
    pub page_size: Option<u32>,
}

impl SourceArgs {
    /// The claims source; for BFD, `job_id` is sent as `BULK-JOB-ID`. Call it
    /// inside the running actix system (the HTTP client's pool lives there).
    pub fn source(
        &self,
        synthetic: &SyntheticArgs,
        job_id: &str,
    ) -> Result<Arc<dyn ClaimsSource>, Box<dyn Error>> {
        // Read here for both sources, so that a bad one is refused in the same
        // words whichever source it was meant for.
        let since = self
            .since
            .as_deref()
            .map(parse_since)
            .transpose()
            .map_err(|reason| format!("invalid --since: {reason}"))?;
        if self.source == SourceKind::Synthetic {
            let bfd_only = [
                ("--bfd-url", self.bfd_url.is_some()),
                ("--ca-cert", self.ca_cert.is_some()),
                ("--client-cert", self.client_cert.is_some()),
                ("--page-size", self.page_size.is_some()),
            ];
            if let Some((flag, _)) = bfd_only.iter().find(|(_, given)| *given) {
                return Err(format!("{flag} needs --source bfd").into());
            }
            return Ok(synthetic.source(since)?);
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
        // PEM files are small (bounded by MAX_PEM_BYTES), so reading them here
        // does not hold up the arbiter.
        let config = config
            .build()
            .map_err(|e| super::flags::in_flag_terms(e, false))?;
        let source = BfdSource::new(config).map_err(|e| self.name_the_flag(e))?;
        Ok(Arc::new(source))
    }

    /// An error about a PEM file, prefixed with its flag and file: the library
    /// names its setting (`ca_cert`) or only the path, the user gave
    /// `--ca-cert FILE`. Any other error in flag terms.
    fn name_the_flag(&self, error: claims_aggregator::Error) -> Box<dyn Error> {
        let pem_files = [
            ("--ca-cert", &self.ca_cert),
            ("--client-cert", &self.client_cert),
            ("--client-key", &self.client_key),
        ];
        let named = pem_files.iter().find_map(|(flag, file)| {
            let file = file.as_deref()?;
            let about = match &error {
                claims_aggregator::Error::Config { field, reason } => {
                    (super::flags::flag_of(field, false) == Some(*flag)).then(|| reason.clone())
                }
                claims_aggregator::Error::Io { path, .. } => {
                    (file == path.as_path()).then(|| error.to_string())
                }
                _ => None,
            }?;
            Some(format!("{flag} {}: {about}", file.display()))
        });
        match named {
            Some(message) => message.into(),
            None => super::flags::in_flag_terms(error, false),
        }
    }

    /// How many beneficiaries, and their ids: from `--patients` (read now, on
    /// a blocking thread, so that a bad file stops the job before it starts),
    /// or generated.
    pub async fn beneficiaries(
        &self,
        job: &JobArgs,
    ) -> Result<(u64, Box<dyn Iterator<Item = String> + Send>), String> {
        let Some(path) = self.patients.clone() else {
            return Ok((job.beneficiaries, Box::new(job.beneficiary_ids())));
        };
        let ids = actix_rt::task::spawn_blocking(move || read_patients(&path))
            .await
            .map_err(|e| format!("--patients: reading the file failed: {e}"))??;
        Ok((ids.len() as u64, Box::new(ids.into_iter())))
    }
}

/// The beneficiary ids of a `--patients` file, one a line (blank lines and
/// surrounding blanks ignored), in file order. Refuses a file or a line over
/// its limit ([`MAX_PATIENTS_FILE_BYTES`], [`MAX_PATIENTS_LINE_BYTES`]), text
/// that is not UTF-8 or holds control characters, no id at all, and an id
/// listed twice (its claims would be written twice). Blocking.
pub fn read_patients(path: &Path) -> Result<Vec<String>, String> {
    let refuse = |what: String| format!("--patients {}: {what}", path.display());
    let file = std::fs::File::open(path).map_err(|e| refuse(e.to_string()))?;
    let mut reader = BufReader::new(file);
    let mut ids = Vec::new();
    // The line of each id, for the message about a repeated one.
    let mut lines: Vec<u32> = Vec::new();
    let mut line = Vec::with_capacity(MAX_PATIENTS_LINE_BYTES + 1);
    let (mut number, mut total) = (0u32, 0u64);
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_PATIENTS_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| refuse(e.to_string()))?;
        if read == 0 {
            break;
        }
        number += 1;
        total += read as u64;
        if total > MAX_PATIENTS_FILE_BYTES {
            return Err(refuse(format!(
                "larger than {MAX_PATIENTS_FILE_BYTES} bytes, the limit for a patients file"
            )));
        }
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        if content.len() > MAX_PATIENTS_LINE_BYTES {
            return Err(refuse(format!(
                "line {number} is longer than {MAX_PATIENTS_LINE_BYTES} bytes \
                 (one beneficiary id a line)"
            )));
        }
        let text = std::str::from_utf8(content)
            .map_err(|e| refuse(format!("line {number} is not UTF-8 text: {e}")))?;
        let id = text.trim();
        if id.is_empty() {
            continue;
        }
        if let Some(c) = id.chars().find(|c| c.is_control()) {
            return Err(refuse(format!(
                "line {number}: the id {id:?} holds the control character {c:?}"
            )));
        }
        ids.push(id.to_owned());
        lines.push(number);
    }
    if ids.is_empty() {
        return Err(refuse("no beneficiary id in it".into()));
    }
    if let Some((first, again)) = first_repeat(&ids) {
        return Err(refuse(format!(
            "line {} repeats beneficiary id {:?} of line {}: each beneficiary must be \
             listed once, or its claims would be written twice",
            lines[again], ids[again], lines[first]
        )));
    }
    Ok(ids)
}

/// The indices of the earliest repeat in `ids` — `(first, again)`, with `again`
/// as small as possible — found by sorting indices (four bytes an id) rather
/// than hashing the ids.
fn first_repeat(ids: &[String]) -> Option<(usize, usize)> {
    let mut order: Vec<u32> = (0..ids.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| ids[a as usize].cmp(&ids[b as usize]).then(a.cmp(&b)));
    order
        .windows(2)
        .filter(|pair| ids[pair[0] as usize] == ids[pair[1] as usize])
        .map(|pair| (pair[0] as usize, pair[1] as usize))
        .min_by_key(|&(_, again)| again)
}
