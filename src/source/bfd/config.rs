//! [`BfdConfig`] and its builder: every default, and the checks that refuse a
//! bad value before any request is made.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::HeaderValue;
use url::Url;

use super::client::BULK_JOB_ID_HEADER;
use super::dates::{is_fhir_date_or_instant, parse_full_date, Day};
use crate::error::{Error, Result};

/// Default number of EOBs asked for per page (`_count`).
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// Largest accepted page size.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// Default earliest allowed end of an EOB's billing period: AB2D's
/// `2020-01-01`, before which Part D sponsors may not see claims.
pub const DEFAULT_EARLIEST_DATE: &str = "2020-01-01";

/// Default time allowed to open a connection, TLS handshake included.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time allowed for one HTTP attempt, from sending the request to the
/// last byte of the body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default number of attempts per page (the first one included).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Default wait after the first failed attempt; it doubles after each failure.
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(250);

/// Default longest wait between two attempts, whether it comes from the backoff
/// or from `Retry-After`.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Default largest accepted response body: 32 MiB, far above a page of 50 EOBs
/// (BFD's EOBs are a few KB to a few tens of KB each).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;

/// Default most pages followed for one beneficiary: with the default page
/// size, 50,000 EOBs, far above any beneficiary's claims since 2020, while a
/// server that keeps sending `next` links cannot keep a fetcher forever.
pub const DEFAULT_MAX_PAGES: u32 = 1_000;

/// Default most bytes of pages received for one beneficiary: 256 MiB. A
/// beneficiary's claims are held until its last page (it contributes all of them
/// or none), so this bounds what one beneficiary can make a fetcher hold,
/// whatever a server sends.
pub const DEFAULT_MAX_BENEFICIARY_BYTES: u64 = 256 * 1024 * 1024;

/// Settings of a [`BfdSource`](super::BfdSource). Build them with [`BfdConfig::builder`]; every
/// value is checked in [`BfdConfigBuilder::build`].
#[derive(Debug, Clone)]
pub struct BfdConfig {
    base_url: Url,
    page_size: u32,
    since: Option<String>,
    earliest_date: Option<(String, Day)>,
    job_id: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_response_bytes: u64,
    max_beneficiary_bytes: u64,
    max_pages: u32,
    ca_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

impl BfdConfig {
    /// Starts a configuration for the BFD server at `base_url` (scheme, host,
    /// port and an optional path prefix: searches go to
    /// `{base_url}/v2/fhir/ExplanationOfBenefit`).
    pub fn builder(base_url: impl Into<String>) -> BfdConfigBuilder {
        BfdConfigBuilder {
            base_url: base_url.into(),
            page_size: DEFAULT_PAGE_SIZE,
            since: None,
            earliest_date: Some(DEFAULT_EARLIEST_DATE.to_owned()),
            job_id: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            backoff_base: DEFAULT_BACKOFF_BASE,
            backoff_max: DEFAULT_BACKOFF_MAX,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_beneficiary_bytes: DEFAULT_MAX_BENEFICIARY_BYTES,
            max_pages: DEFAULT_MAX_PAGES,
            ca_cert: None,
            client_cert: None,
            client_key: None,
        }
    }

    /// The base URL, as parsed.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }
    /// EOBs asked for per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }
    /// Only claims updated at or after this instant are asked for.
    pub fn since(&self) -> Option<&str> {
        self.since.as_deref()
    }
    /// EOBs whose billing period ends before this date are dropped.
    pub fn earliest_date(&self) -> Option<&str> {
        self.earliest_date.as_ref().map(|(text, _)| text.as_str())
    }
    /// Value of the `BULK-JOB-ID` header.
    pub fn job_id(&self) -> Option<&str> {
        self.job_id.as_deref()
    }
    /// Time allowed to open a connection.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// Time allowed for one HTTP attempt.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// Attempts per page.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }
    /// Wait after the first failure.
    pub fn backoff_base(&self) -> Duration {
        self.backoff_base
    }
    /// Longest wait between attempts.
    pub fn backoff_max(&self) -> Duration {
        self.backoff_max
    }
    /// Largest accepted response body.
    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes
    }
    /// Most bytes of pages received for one beneficiary.
    pub fn max_beneficiary_bytes(&self) -> u64 {
        self.max_beneficiary_bytes
    }
    /// Most pages followed for one beneficiary.
    pub fn max_pages(&self) -> u32 {
        self.max_pages
    }
    /// The trusted CA bundle, when not the system's roots.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca_cert.as_deref()
    }
    /// The client certificate chain presented to the server.
    pub fn client_cert(&self) -> Option<&Path> {
        self.client_cert.as_deref()
    }
    /// The private key of the client certificate.
    pub fn client_key(&self) -> Option<&Path> {
        self.client_key.as_deref()
    }
    /// [`earliest_date`](Self::earliest_date), as the day it was parsed into.
    pub(super) fn earliest_day(&self) -> Option<Day> {
        self.earliest_date.as_ref().map(|(_, day)| *day)
    }
}

/// Builds a [`BfdConfig`]; every setter states its default.
#[derive(Debug, Clone)]
#[must_use]
pub struct BfdConfigBuilder {
    base_url: String,
    page_size: u32,
    since: Option<String>,
    earliest_date: Option<String>,
    job_id: Option<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_attempts: u32,
    backoff_base: Duration,
    backoff_max: Duration,
    max_response_bytes: u64,
    max_beneficiary_bytes: u64,
    max_pages: u32,
    ca_cert: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

impl BfdConfigBuilder {
    /// EOBs per page, sent as `_count`, 1 to [`MAX_PAGE_SIZE`]. Default
    /// [`DEFAULT_PAGE_SIZE`].
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// Asks only for claims updated at or after `since`
    /// (`_lastUpdated=ge{since}`): a FHIR date (`2020-02-13`) or an instant with
    /// its offset (`2020-02-13T00:00:00.000-05:00`). Default: none.
    pub fn since(mut self, since: impl Into<String>) -> Self {
        self.since = Some(since.into());
        self
    }

    /// Drops EOBs whose `billablePeriod.end` is before this date
    /// (`YYYY-MM-DD`). Default [`DEFAULT_EARLIEST_DATE`], as AB2D.
    pub fn earliest_date(mut self, date: impl Into<String>) -> Self {
        self.earliest_date = Some(date.into());
        self
    }

    /// Keeps EOBs whatever their billing period (for test data). Default: the
    /// date filter is on.
    pub fn no_earliest_date(mut self) -> Self {
        self.earliest_date = None;
        self
    }

    /// Sends `BULK-JOB-ID: {job_id}` with every request, as AB2D does. Default:
    /// the header is not sent.
    pub fn job_id(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }

    /// Time allowed to open a connection, TLS handshake included. Default
    /// [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one HTTP attempt, up to the last byte of the body.
    /// Default [`DEFAULT_REQUEST_TIMEOUT`]. The job's own per-beneficiary
    /// timeout (`JobConfig::request_timeout`) bounds all pages and retries.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Attempts per page, the first one included (1 = no retries). Default
    /// [`DEFAULT_MAX_ATTEMPTS`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Wait after the first failed attempt, doubled after each further one.
    /// Default [`DEFAULT_BACKOFF_BASE`].
    pub fn backoff_base(mut self, wait: Duration) -> Self {
        self.backoff_base = wait;
        self
    }

    /// Longest wait between two attempts, `Retry-After` included. Default
    /// [`DEFAULT_BACKOFF_MAX`].
    pub fn backoff_max(mut self, wait: Duration) -> Self {
        self.backoff_max = wait;
        self
    }

    /// Largest accepted response body in bytes. Default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`].
    pub fn max_response_bytes(mut self, bytes: u64) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Most bytes of response bodies received for one beneficiary, all its
    /// pages together. A beneficiary whose pages would go past it gets one
    /// `too-costly` `OperationOutcome` instead of its claims, and no further
    /// byte of its pages is read. Default [`DEFAULT_MAX_BENEFICIARY_BYTES`].
    pub fn max_beneficiary_bytes(mut self, bytes: u64) -> Self {
        self.max_beneficiary_bytes = bytes;
        self
    }

    /// Most pages followed for one beneficiary; a beneficiary with more `next`
    /// links gets one `too-costly` `OperationOutcome`. Default
    /// [`DEFAULT_MAX_PAGES`].
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages;
        self
    }

    /// PEM file of the CA certificates trusted for the server (only these are
    /// trusted). Default: the system's roots.
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }

    /// PEM file of the client certificate (chain) for mutual TLS; needs
    /// [`client_key`](Self::client_key). Default: no client certificate.
    pub fn client_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_cert = Some(path.into());
        self
    }

    /// PEM file of the client certificate's private key (PKCS#8, PKCS#1 or
    /// SEC1). Default: none.
    pub fn client_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.client_key = Some(path.into());
        self
    }

    /// Checks every value and returns the configuration. The PEM files are read
    /// by [`BfdSource::new`](super::BfdSource::new).
    pub fn build(self) -> Result<BfdConfig> {
        let base_url = parse_base_url(&self.base_url)?;
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::config(
                "page_size",
                format!("{} is not between 1 and {MAX_PAGE_SIZE}", self.page_size),
            ));
        }
        if let Some(since) = &self.since {
            if !is_fhir_date_or_instant(since) {
                return Err(Error::config(
                    "since",
                    format!(
                        "{since:?} is not a date (YYYY-MM-DD) nor an instant with offset \
                         (YYYY-MM-DDThh:mm:ss[.sss](Z|+hh:mm|-hh:mm))"
                    ),
                ));
            }
        }
        let earliest_date = match self.earliest_date {
            None => None,
            Some(text) => match parse_full_date(&text) {
                Some(day) => Some((text, day)),
                None => {
                    return Err(Error::config(
                        "earliest_date",
                        format!("{text:?} is not a date (YYYY-MM-DD)"),
                    ))
                }
            },
        };
        if let Some(job_id) = &self.job_id {
            if job_id.is_empty() || HeaderValue::from_str(job_id).is_err() {
                return Err(Error::config(
                    "job_id",
                    format!("{job_id:?} cannot be sent as the {BULK_JOB_ID_HEADER} header"),
                ));
            }
        }
        for (field, value) in [
            ("connect_timeout", self.connect_timeout),
            ("request_timeout", self.request_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::config(field, "must be longer than zero"));
            }
        }
        if self.max_attempts == 0 {
            return Err(Error::config("max_attempts", "must be at least 1"));
        }
        if self.backoff_base > self.backoff_max {
            return Err(Error::config(
                "backoff_base",
                format!(
                    "{} ms is longer than backoff_max ({} ms)",
                    self.backoff_base.as_millis(),
                    self.backoff_max.as_millis()
                ),
            ));
        }
        for (field, value) in [
            ("max_response_bytes", self.max_response_bytes),
            ("max_beneficiary_bytes", self.max_beneficiary_bytes),
            ("max_pages", u64::from(self.max_pages)),
        ] {
            if value == 0 {
                return Err(Error::config(field, "must be at least 1"));
            }
        }
        match (&self.client_cert, &self.client_key) {
            (Some(_), None) => {
                return Err(Error::config(
                    "client_key",
                    "a client certificate needs its private key",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::config(
                    "client_cert",
                    "a private key was given without its client certificate",
                ))
            }
            _ => {}
        }
        if base_url.scheme() == "http" {
            for (field, given) in [
                ("ca_cert", self.ca_cert.is_some()),
                ("client_cert", self.client_cert.is_some()),
            ] {
                if given {
                    return Err(Error::config(
                        field,
                        format!("given, but base_url {base_url} is plain http"),
                    ));
                }
            }
        }
        Ok(BfdConfig {
            base_url,
            page_size: self.page_size,
            since: self.since,
            earliest_date,
            job_id: self.job_id,
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            max_attempts: self.max_attempts,
            backoff_base: self.backoff_base,
            backoff_max: self.backoff_max,
            max_response_bytes: self.max_response_bytes,
            max_beneficiary_bytes: self.max_beneficiary_bytes,
            max_pages: self.max_pages,
            ca_cert: self.ca_cert,
            client_cert: self.client_cert,
            client_key: self.client_key,
        })
    }
}

/// The base URL, refused unless it is https, or http to a loopback host (a
/// local stub), without credentials, query nor fragment.
fn parse_base_url(text: &str) -> Result<Url> {
    let refuse = |reason: String| Err(Error::config("base_url", reason));
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(e) => return refuse(format!("{text:?} is not a URL: {e}")),
    };
    if url.scheme() != "https" && url.scheme() != "http" {
        return refuse(format!(
            "{text:?}: the scheme must be https (or http to loopback)"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the URL: it holds the credentials.
        return refuse("credentials in the URL are not supported (BFD uses mutual TLS)".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return refuse(format!("{text:?}: a base URL has no query nor fragment"));
    }
    let Some(host) = url.host() else {
        return refuse(format!("{text:?} has no host"));
    };
    if url.scheme() == "http" && !is_loopback(&host) {
        return refuse(format!(
            "{text:?}: plain http is only allowed to a loopback host \
             (127.0.0.0/8, [::1], localhost); use https"
        ));
    }
    Ok(url)
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        for good in [
            "https://prod-sbx.bfd.cms.gov",
            "https://bfd.example:8443/prefix",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:80/",
            "http://localhost:8080",
        ] {
            parse_base_url(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for (bad, expected) in [
            (
                "http://10.0.0.1:8080",
                "plain http is only allowed to a loopback host",
            ),
            (
                "http://bfd.example",
                "plain http is only allowed to a loopback host",
            ),
            (
                "http://localhost.example",
                "plain http is only allowed to a loopback host",
            ),
            ("ftp://bfd.example", "scheme must be https"),
            ("https://user:secret@bfd.example", "credentials in the URL"),
            ("https://bfd.example/?a=b", "no query nor fragment"),
            ("bfd.example", "is not a URL"),
        ] {
            let error = parse_base_url(bad).unwrap_err().to_string();
            assert!(error.contains(expected), "{bad}: {error}");
            assert!(error.starts_with("invalid config: base_url: "), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
