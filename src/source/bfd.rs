//! [`BfdSource`]: the claims of a beneficiary, fetched over HTTPS from CMS's
//! Beneficiary FHIR Data server (BFD), as AB2D's workers do.
//!
//! # What it asks
//!
//! ```text
//! GET {base}/v2/fhir/ExplanationOfBenefit?patient={id}&excludeSAMHSA=true&_count={page_size}[&_lastUpdated=ge{since}]
//! Accept: application/fhir+json
//! BULK-JOB-ID: {job id}
//! ```
//!
//! BFD answers with a FHIR `Bundle` (searchset) of at most `_count` entries; its
//! `link` with `relation: next` is the next page. Every page is fetched before
//! [`ClaimsSource::fetch`] answers, so a beneficiary contributes either all of
//! its claims or one `OperationOutcome`, never half of them. What one
//! beneficiary may make a fetcher hold is therefore bounded:
//! [`BfdConfigBuilder::max_beneficiary_bytes`] of bodies in all, over at most
//! [`BfdConfigBuilder::max_pages`] pages.
//!
//! # Why `reqwest`
//!
//! One [`reqwest::Client`] is `Send + Sync` and holds one connection pool, so the
//! fetchers of every arbiter share keep-alive connections to BFD. `awc`'s client
//! is `!Send` (one pool per arbiter thread) and its defaults (5 s timeout, 2 MiB
//! body limit) would need undoing. Build the source inside the running actix
//! `System` and share it (`Arc<BfdSource>`): a connection's task runs on the
//! arbiter that opened it, and a connection whose arbiter has stopped is
//! dropped from the pool (a request that meets one is retried).
//!
//! # TLS
//!
//! BFD uses mutual TLS: the client presents a certificate
//! ([`BfdConfigBuilder::client_cert`], [`BfdConfigBuilder::client_key`]) and
//! trusts BFD's certificate through a CA bundle ([`BfdConfigBuilder::ca_cert`];
//! only that bundle is trusted, as AB2D's trust store does; without it, the
//! system's roots). TLS is rustls with the *ring* provider, configured here
//! rather than through a process-wide default provider. Plain `http` is refused
//! unless the host is a loopback address (a local stub). Redirects are not
//! followed and a `next` link to another scheme, host or port is refused: either
//! would present the client certificate to a server that is not BFD.
//!
//! # Robustness
//!
//! - Each HTTP attempt has a connect timeout (TCP and TLS handshake) and a
//!   request timeout (until the last byte of the body).
//! - Connection errors, timeouts, cut-off bodies, `5xx` and `429` are retried,
//!   at most [`BfdConfigBuilder::max_attempts`] attempts per page, waiting
//!   `base × 2ⁿ` (capped, with jitter) between attempts, or what `Retry-After`
//!   says when that is longer. A `Retry-After` longer than
//!   [`BfdConfigBuilder::backoff_max`] ends the beneficiary at once as
//!   `throttled` (`server asked to wait N s`), rather than after a wait that the
//!   server said would be too short.
//! - `404` on the first page means the beneficiary has no claims (no data, no
//!   error). Any other failure is a [`SourceError`] for that beneficiary: the
//!   fetcher writes it as one `OperationOutcome` and goes on. Its message names
//!   the beneficiary and the URL; its `code` is a FHIR issue type (`timeout`,
//!   `transient`, `throttled`, `security`, `structure`, `incomplete`,
//!   `too-costly`, `processing`, `not-found`).
//! - A body larger than [`BfdConfigBuilder::max_response_bytes`] is refused from
//!   its `Content-Length`, or cut off while streaming when it has none; so is a
//!   body that would take the beneficiary past
//!   [`BfdConfigBuilder::max_beneficiary_bytes`] (`too-costly`). More than
//!   [`BfdConfigBuilder::max_pages`] pages are `too-costly` too, and a `next`
//!   link back to a page already fetched is a `processing` error: a server that
//!   never stops paging cannot keep a fetcher.
//! - PEM files are read up to [`MAX_PEM_BYTES`].
//!
//! # Filtering, as AB2D does
//!
//! Resources that are not `ExplanationOfBenefit` are dropped, and so are EOBs
//! whose `billablePeriod.end` is before the earliest allowed date (2020-01-01 by
//! default; a missing or unreadable end counts as too early, since the rule can
//! then not be shown to hold). Each kept EOB becomes one compact line: the JSON
//! text is re-written without insignificant whitespace (BFD's bodies may be
//! pretty-printed), keeping key order and number spelling exactly as BFD sent
//! them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::StatusCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde_json::value::RawValue;
use url::Url;

use super::{ClaimsSource, Resource, SourceError};
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

/// Largest PEM file read (`ca_cert`, `client_cert`, `client_key`): a CA bundle
/// of a few hundred certificates fits; `/dev/zero` fails at once.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The header that tells BFD which bulk job a request belongs to.
pub const BULK_JOB_ID_HEADER: &str = "BULK-JOB-ID";

/// The media type asked for.
pub const FHIR_JSON: &str = "application/fhir+json";

/// The search path below the base URL.
const SEARCH_PATH: &str = "v2/fhir/ExplanationOfBenefit";

/// Bodies of error responses are read up to this size (for the message, and so
/// that the connection can be reused); larger ones are dropped unread.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Characters of an error response quoted in a [`SourceError`] message.
const ERROR_SNIPPET_CHARS: usize = 200;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// TCP keep-alive probes on pooled connections.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Settings of a [`BfdSource`]. Build them with [`BfdConfig::builder`]; every
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
    /// by [`BfdSource::new`].
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

/// `{base}/v2/fhir/ExplanationOfBenefit`, keeping a path prefix of the base.
fn search_url(base: &Url) -> Result<Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(SEARCH_PATH)
        .map_err(|e| Error::config("base_url", format!("{base}: {e}")))
}

fn first_page_url(search_url: &Url, config: &BfdConfig, beneficiary: &str) -> Url {
    let mut url = search_url.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("patient", beneficiary)
            .append_pair("excludeSAMHSA", "true")
            .append_pair("_count", &config.page_size.to_string());
        if let Some(since) = &config.since {
            query.append_pair("_lastUpdated", &format!("ge{since}"));
        }
    }
    url
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A [`ClaimsSource`] that searches a BFD server over HTTP(S) (see the module
/// documentation). Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct BfdSource {
    client: reqwest::Client,
    config: Arc<BfdConfig>,
    search_url: Url,
}

impl BfdSource {
    /// Reads the PEM files and builds the HTTP client. Call it inside the
    /// running actix `System` (see the module documentation).
    ///
    /// Refuses unreadable files ([`Error::Io`]) and PEM files larger than
    /// [`MAX_PEM_BYTES`], without the expected certificates or key, or a key
    /// that does not match the certificate ([`Error::Config`] naming `ca_cert`,
    /// `client_cert` or `client_key`).
    pub fn new(config: BfdConfig) -> Result<BfdSource> {
        let tls = tls_config(&config)?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(FHIR_JSON));
        if let Some(job_id) = &config.job_id {
            let value = HeaderValue::from_str(job_id)
                .map_err(|e| Error::config("job_id", e.to_string()))?;
            headers.insert(HeaderName::from_static("bulk-job-id"), value);
        }
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(config.base_url.scheme() == "https")
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .default_headers(headers)
            .user_agent(concat!("claims-aggregator/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .tcp_keepalive(TCP_KEEPALIVE)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| {
                Error::config("tls", format!("the HTTP client could not be built: {e}"))
            })?;
        let search_url = search_url(&config.base_url)?;
        Ok(BfdSource {
            client,
            config: Arc::new(config),
            search_url,
        })
    }

    /// The settings of this source.
    pub fn config(&self) -> &BfdConfig {
        &self.config
    }

    /// The URL of the first page of `beneficiary`'s claims.
    pub fn first_page_url(&self, beneficiary: &str) -> Url {
        first_page_url(&self.search_url, &self.config, beneficiary)
    }

    async fn fetch_all(&self, beneficiary: &str) -> Result<Vec<Resource>, SourceError> {
        let filter = EobFilter {
            earliest: self.config.earliest_date.as_ref().map(|(_, day)| *day),
        };
        let mut url = self.first_page_url(beneficiary);
        let mut visited = HashSet::new();
        let mut resources = Vec::new();
        let mut dropped = 0;
        // Bytes of bodies received: what this beneficiary holds is never more.
        let mut received = 0;
        for page_number in 0.. {
            let fail =
                |code, what: String| SourceError::new(code, describe(beneficiary, &url, &what));
            if page_number == self.config.max_pages {
                return Err(fail(
                    "too-costly",
                    format!(
                        "the server keeps sending next links: more than {} pages (max_pages)",
                        self.config.max_pages
                    ),
                ));
            }
            visited.insert(page_key(&url));
            let Some(body) = self.get_page(beneficiary, &url, received).await? else {
                if page_number == 0 {
                    log::debug!("BFD: beneficiary {beneficiary}: 404, no claims");
                    return Ok(Vec::new());
                }
                return Err(fail(
                    "not-found",
                    "HTTP 404 Not Found on a next page".into(),
                ));
            };
            received += body.len() as u64;
            let page = parse_page(&body, &filter).map_err(|what| fail("structure", what))?;
            drop(body);
            resources.extend(page.resources);
            dropped += page.dropped;
            let Some(next) = page.next else { break };
            let next = url
                .join(&next)
                .map_err(|e| fail("structure", format!("next link {next:?} is not a URL: {e}")))?;
            if next.origin() != url.origin() {
                return Err(fail(
                    "security",
                    format!(
                        "refused next link to another origin ({}): it would receive the \
                         client certificate",
                        origin_of(&next)
                    ),
                ));
            }
            if visited.contains(&page_key(&next)) {
                return Err(fail(
                    "processing",
                    format!("next link {next} loops back to a page already fetched"),
                ));
            }
            url = next;
        }
        if dropped > 0 {
            log::debug!("BFD: beneficiary {beneficiary}: {dropped} resources filtered out");
        }
        Ok(resources)
    }

    /// One page, with retries: `Some(body)` for a success, `None` for 404.
    /// `received`: bytes of this beneficiary's earlier pages.
    async fn get_page(
        &self,
        beneficiary: &str,
        url: &Url,
        received: u64,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let give_up = |problem: Problem| {
            SourceError::new(problem.code, describe(beneficiary, url, &problem.what))
        };
        let mut attempt = 1;
        loop {
            let (mut problem, retry_after) = match self.attempt(url, received).await {
                Ok(body) => return Ok(body),
                Err(Failure::Fatal(problem)) => return Err(give_up(problem)),
                Err(Failure::Retry {
                    problem,
                    retry_after,
                }) => (problem, retry_after),
            };
            if let Some(wait) = retry_after.filter(|wait| *wait > self.config.backoff_max) {
                // Waiting less than asked would only be refused again, and waiting
                // as asked is longer than this source may wait: give up now.
                return Err(give_up(Problem::new(
                    "throttled",
                    format!(
                        "throttled: server asked to wait {} s, longer than backoff_max \
                         allows ({} ms) ({})",
                        wait.as_secs_f64().ceil(),
                        self.config.backoff_max.as_millis(),
                        problem.what
                    ),
                )));
            }
            if attempt >= self.config.max_attempts {
                if attempt > 1 {
                    problem
                        .what
                        .push_str(&format!(", after {attempt} attempts"));
                }
                return Err(give_up(problem));
            }
            let wait = backoff(
                attempt,
                self.config.backoff_base,
                self.config.backoff_max,
                retry_after,
                rand::thread_rng().gen(),
            );
            log::debug!(
                "BFD: beneficiary {beneficiary}: attempt {attempt} failed ({}), retrying in {} ms",
                problem.what,
                wait.as_millis()
            );
            actix_rt::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One HTTP attempt; `received` bytes of the beneficiary's earlier pages
    /// leave the rest of [`BfdConfig::max_beneficiary_bytes`] for this one.
    async fn attempt(&self, url: &Url, received: u64) -> Result<Option<Vec<u8>>, Failure> {
        let response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.transport_failure(e))?;
        let status = response.status();
        if status.is_success() {
            let left = self.config.max_beneficiary_bytes.saturating_sub(received);
            let limit = self.config.max_response_bytes.min(left);
            return match read_body(response, limit).await {
                Ok(body) => Ok(Some(body)),
                Err(BodyError::TooLarge(declared)) => {
                    let size = match declared {
                        Some(length) => format!("response of {length} bytes"),
                        None => "response".to_owned(),
                    };
                    let what = if limit == self.config.max_response_bytes {
                        let cut = if declared.is_none() { " (cut off)" } else { "" };
                        format!("{size} is larger than the limit of {limit} bytes{cut}")
                    } else {
                        format!(
                            "the pages of this beneficiary are larger than \
                             max_beneficiary_bytes ({} bytes): {received} bytes received \
                             before this page, and its {size} goes past the rest",
                            self.config.max_beneficiary_bytes
                        )
                    };
                    Err(Failure::Fatal(Problem::new("too-costly", what)))
                }
                Err(BodyError::Transport(e)) => Err(self.transport_failure(e)),
            };
        }
        let retry_after = retry_after(response.headers(), SystemTime::now());
        // Reading the (small) body lets the connection go back to the pool.
        let snippet = match read_body(response, ERROR_BODY_LIMIT).await {
            Ok(body) => snippet(&body),
            Err(_) => String::new(),
        };
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let reason = status.canonical_reason().unwrap_or("");
        let what = if snippet.is_empty() {
            format!("HTTP {} {reason}", status.as_u16())
        } else {
            format!("HTTP {} {reason}: {snippet}", status.as_u16())
        };
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => Failure::Retry {
                problem: Problem::new("throttled", what),
                retry_after,
            },
            s if s.is_server_error() => Failure::Retry {
                problem: Problem::new("transient", what),
                retry_after,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Failure::Fatal(Problem::new("security", what))
            }
            _ => Failure::Fatal(Problem::new("processing", what)),
        })
    }

    fn transport_failure(&self, error: reqwest::Error) -> Failure {
        if let Some(tls) = find_tls_error(&error) {
            // A certificate problem does not go away by asking again.
            return Failure::Fatal(Problem::new("security", format!("TLS: {tls}")));
        }
        let problem = if error.is_timeout() {
            let (what, limit) = if error.is_connect() {
                ("connect", self.config.connect_timeout)
            } else {
                ("request", self.config.request_timeout)
            };
            Problem::new(
                "timeout",
                format!("{what} timed out after {} ms", limit.as_millis()),
            )
        } else if error.is_connect() {
            Problem::new(
                "transient",
                format!("cannot connect: {}", error_chain(&error)),
            )
        } else if error.is_body() || error.is_decode() {
            Problem::new(
                "incomplete",
                format!("response body cut off: {}", error_chain(&error)),
            )
        } else {
            Problem::new("transient", error_chain(&error))
        };
        Failure::Retry {
            problem,
            retry_after: None,
        }
    }
}

impl ClaimsSource for BfdSource {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        Box::pin(self.fetch_all(beneficiary))
    }
}

/// What went wrong with one attempt: a FHIR issue code and the cause (the
/// beneficiary and the URL are added once the page is given up).
struct Problem {
    code: &'static str,
    what: String,
}

impl Problem {
    fn new(code: &'static str, what: impl Into<String>) -> Problem {
        Problem {
            code,
            what: what.into(),
        }
    }
}

/// Why an attempt failed, and whether another one may help.
enum Failure {
    Retry {
        problem: Problem,
        retry_after: Option<Duration>,
    },
    Fatal(Problem),
}

enum BodyError {
    /// Over the limit; the declared `Content-Length`, if any.
    TooLarge(Option<u64>),
    Transport(reqwest::Error),
}

/// Reads a body of at most `limit` bytes: refused from `Content-Length` when
/// that is known, else cut off as soon as the chunks received exceed it.
async fn read_body(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if let Some(length) = response.content_length() {
        if length > limit {
            return Err(BodyError::TooLarge(Some(length)));
        }
    }
    let capacity = response.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `BFD: beneficiary X: what (GET url)`.
fn describe(beneficiary: &str, url: &Url, what: &str) -> String {
    format!("BFD: beneficiary {beneficiary}: {what} (GET {url})")
}

/// A page's identity for loop detection: its URL with the query pairs sorted,
/// so that a page asked again with its parameters shuffled is caught too.
fn page_key(url: &Url) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = url.query_pairs().collect();
    pairs.sort();
    let mut key = url.clone();
    key.set_fragment(None);
    if pairs.is_empty() {
        key.set_query(None);
    } else {
        key.query_pairs_mut().clear().extend_pairs(pairs);
    }
    key.into()
}

/// `scheme://host:port` of a URL, for messages.
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The causes of a transport error, `: `-separated, without reqwest's own
/// text (which repeats the URL the message already names).
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = std::error::Error::source(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    if parts.is_empty() {
        parts.push("request failed".to_owned());
    }
    parts.join(": ")
}

/// The rustls error somewhere in the causes of `error`, if any. rustls errors
/// travel inside (possibly nested) `io::Error`s, whose `source()` skips them,
/// hence the descent through `get_ref`.
fn find_tls_error(error: &reqwest::Error) -> Option<&rustls::Error> {
    fn inside<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
        inside(inner)
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = inside(e) {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

/// The start of an error body on one line, for a message.
fn snippet(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > ERROR_SNIPPET_CHARS {
        line.chars().take(ERROR_SNIPPET_CHARS).collect::<String>() + "…"
    } else {
        line
    }
}

/// What `Retry-After` asks for: delay-seconds or an HTTP date (a date in the
/// past means now).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait after failed attempt number `attempt` (1-based): `base × 2^(attempt-1)`
/// capped at `max`, of which the upper half is jittered by `jitter` (uniform in
/// `[0, 1)`), so that fetchers failing together do not retry together; never
/// less than `retry_after` (itself capped at `max`).
fn backoff(
    attempt: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let exponential = base
        .checked_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .unwrap_or(max)
        .min(max);
    let jittered = exponential / 2 + exponential.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
    jittered.max(retry_after.unwrap_or(Duration::ZERO).min(max))
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// The rustls client configuration: the *ring* provider, the CA bundle (or the
/// system's roots for https without one), the client identity, HTTP/1.1.
fn tls_config(config: &BfdConfig) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config("tls", e.to_string()))?;
    let builder = match &config.ca_cert {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(path, "ca_cert")? {
                roots
                    .add(cert)
                    .map_err(|e| Error::config("ca_cert", format!("{}: {e}", path.display())))?;
            }
            builder.with_root_certificates(roots)
        }
        // Plain http to a loopback stub: TLS is never used (https is refused by
        // the origin check), so no system roots are needed.
        None if config.base_url.scheme() == "http" => {
            builder.with_root_certificates(rustls::RootCertStore::empty())
        }
        None => {
            let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|e| {
                Error::config("ca_cert", format!("not given, and the system's roots: {e}"))
            })?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
    let mut tls = match (&config.client_cert, &config.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert, "client_cert")?;
            let key_der = read_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                Error::config(
                    "client_key",
                    format!("{} with {}: {e}", key.display(), cert.display()),
                )
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
}

/// The PEM file of setting `field`, refused past [`MAX_PEM_BYTES`] before more
/// is read (it may be a device or a pipe that never ends).
fn read_pem(path: &Path, field: &'static str) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut pem = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| Error::io("read", path, e))?;
    if pem.len() as u64 > MAX_PEM_BYTES {
        return Err(Error::config(
            field,
            format!(
                "{}: larger than {MAX_PEM_BYTES} bytes, the limit for a PEM file",
                path.display()
            ),
        ));
    }
    Ok(pem)
}

fn read_certs(path: &Path, field: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(path, field)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::config(field, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::config(
            field,
            format!("{}: no PEM certificate in it", path.display()),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read_pem(path, "client_key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        Error::config(
            "client_key",
            format!("{}: no usable PEM private key: {e}", path.display()),
        )
    })
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

/// What one page contributes.
#[derive(Debug)]
struct Page {
    resources: Vec<Resource>,
    /// Resources filtered out.
    dropped: usize,
    /// The `next` link, as written.
    next: Option<String>,
}

/// The few fields of a `Bundle` that are needed; the entries stay raw text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle<'a> {
    #[serde(borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    link: Vec<Link<'a>>,
    #[serde(default, borrow)]
    entry: Vec<Entry<'a>>,
}

#[derive(Deserialize)]
struct Link<'a> {
    #[serde(borrow)]
    relation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

/// The fields of an entry's resource that the filter reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    #[serde(borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    billable_period: Option<PeriodEnd<'a>>,
}

#[derive(Deserialize)]
struct PeriodEnd<'a> {
    #[serde(borrow)]
    end: Option<Cow<'a, str>>,
}

/// AB2D's filter: EOBs only, billing period ending on or after `earliest`.
#[derive(Debug, Clone, Copy)]
struct EobFilter {
    earliest: Option<Day>,
}

impl EobFilter {
    fn keeps(&self, head: &Head<'_>) -> bool {
        if head.resource_type.as_deref() != Some("ExplanationOfBenefit") {
            return false;
        }
        let Some(earliest) = self.earliest else {
            return true;
        };
        let end = head.billable_period.as_ref().and_then(|p| p.end.as_deref());
        match end.and_then(parse_latest_date) {
            Some(end) => end >= earliest,
            None => false,
        }
    }
}

/// Parses one searchset page: its kept resources as compact lines and its
/// `next` link. The error says what is wrong with the body.
fn parse_page(body: &[u8], filter: &EobFilter) -> Result<Page, String> {
    let bundle: Bundle<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            format!("body is cut off ({} bytes): {e}", body.len())
        } else {
            format!("body is not a FHIR Bundle: {e}")
        }
    })?;
    match bundle.resource_type.as_deref() {
        Some("Bundle") => {}
        Some(other) => return Err(format!("body is a FHIR {other}, not a Bundle")),
        None => return Err("body is not a FHIR Bundle: no resourceType".into()),
    }
    let mut resources = Vec::with_capacity(bundle.entry.len());
    let mut dropped = 0;
    for (index, entry) in bundle.entry.iter().enumerate() {
        let Some(raw) = entry.resource else {
            dropped += 1;
            continue;
        };
        let head: Head<'_> = serde_json::from_str(raw.get())
            .map_err(|e| format!("entry {index}: resource is not a FHIR resource: {e}"))?;
        if !filter.keeps(&head) {
            dropped += 1;
            continue;
        }
        resources.push(compact(raw));
    }
    let next = bundle
        .link
        .into_iter()
        .find(|link| link.relation.as_deref() == Some("next"))
        .and_then(|link| link.url)
        .map(Cow::into_owned);
    Ok(Page {
        resources,
        dropped,
        next,
    })
}

/// The resource as one compact line, keys and numbers exactly as received.
/// Its text is a copy of exactly the received bytes (less whitespace), never
/// more: what a beneficiary holds stays within the bytes its pages took.
fn compact(raw: &RawValue) -> Resource {
    let text = raw.get();
    if text.bytes().any(is_json_whitespace) {
        // Valid JSON without its insignificant whitespace is still valid JSON.
        Resource(minify_json(text))
    } else {
        Resource(text.to_owned())
    }
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Removes the whitespace between the tokens of valid JSON text. Strings are
/// copied as they are (a raw newline cannot occur in one: JSON escapes it).
fn minify_json(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text.as_bytes() {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
            out.push(byte);
        } else if !is_json_whitespace(byte) {
            out.push(byte);
        }
    }
    // Only ASCII bytes outside strings were dropped, so the text is still UTF-8.
    String::from_utf8(out).expect("removing ASCII whitespace keeps UTF-8 valid")
}

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

/// A calendar day, ordered; calendar rules come from the `time` crate.
type Day = time::Date;

/// `YYYY-MM-DD`.
const FULL_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD` exactly.
fn parse_full_date(text: &str) -> Option<Day> {
    if text.len() != 10 {
        return None;
    }
    Day::parse(text, FULL_DATE).ok()
}

/// A FHIR `date` or `dateTime` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, optionally
/// followed by a time): the last day it may mean (a partial date is taken at the
/// end of its year or month; the time and offset are ignored).
fn parse_latest_date(text: &str) -> Option<Day> {
    let date = text.split('T').next()?;
    let digits = |part: &str, len: usize| {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i32>().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?, 4)?;
    match (parts.next(), parts.next()) {
        (None, _) => Day::from_calendar_date(year, time::Month::December, 31).ok(),
        (Some(month), None) => {
            let month = time::Month::try_from(u8::try_from(digits(month, 2)?).ok()?).ok()?;
            let last = month.length(year);
            Day::from_calendar_date(year, month, last).ok()
        }
        (Some(_), Some(_)) => parse_full_date(date),
    }
}

/// A full date, or an instant `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`: what
/// `_lastUpdated=ge…` accepts without ambiguity.
fn is_fhir_date_or_instant(text: &str) -> bool {
    if text.contains('T') {
        // RFC 3339 also allows a space or a lower-case `t`; FHIR does not.
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
            && text.as_bytes().get(10) == Some(&b'T')
    } else {
        parse_full_date(text).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real BFD page of the shared fixtures, when they are beside the
    /// project (they are not part of it: a checkout without them skips the one
    /// test whose whole purpose is this data, saying so).
    fn fixture() -> Option<Vec<u8>> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/bfd/r4/eob-bundle-page1.json"
        );
        match std::fs::read(path) {
            Ok(body) => Some(body),
            Err(e) => {
                eprintln!("skipping: the shared BFD fixture {path} is not here ({e})");
                None
            }
        }
    }

    const NO_FILTER: EobFilter = EobFilter { earliest: None };

    #[test]
    fn a_real_bfd_page_parses_into_compact_lines_equal_to_its_entries() {
        let Some(body) = fixture() else {
            return;
        };
        assert!(body.contains(&b'\n'), "the fixture is pretty-printed");
        let page = parse_page(&body, &NO_FILTER).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let entries = value["entry"].as_array().unwrap();
        assert_eq!(page.resources.len(), entries.len());
        assert_eq!(page.resources.len(), 10);
        assert_eq!(page.dropped, 0);
        for (resource, entry) in page.resources.iter().zip(entries) {
            assert!(!resource.as_str().contains('\n'));
            assert!(!resource.as_str().contains(": "));
            assert!(resource
                .as_str()
                .starts_with("{\"resourceType\":\"ExplanationOfBenefit\""));
            let parsed: serde_json::Value = serde_json::from_str(resource.as_str()).unwrap();
            assert_eq!(parsed, entry["resource"]);
        }
        assert_eq!(
            page.next.as_deref(),
            Some("https://prod-sbx.bfd.cms.gov/v2/fhir/ExplanationOfBenefit?startIndex=10&_count=10&patient=-20140000010000&excludeSAMHSA=true")
        );
    }

    #[test]
    fn minify_keeps_strings_keys_and_numbers_as_written() {
        let text = "{\n  \"a b\" : \"x \\\" \\n y\\\\\",\t\"n\": 1.50e+3 ,\r\n \"é\": [ 1 , {} ] }";
        assert_eq!(
            minify_json(text),
            "{\"a b\":\"x \\\" \\n y\\\\\",\"n\":1.50e+3,\"é\":[1,{}]}"
        );
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        assert_eq!(compact(&raw).as_str(), minify_json(text));
        // Already compact text is used as it is.
        let raw: Box<RawValue> = serde_json::from_str("{\"a\":\"b c\"}").unwrap();
        assert_eq!(compact(&raw).as_str(), "{\"a\":\"b c\"}");
    }

    fn eob(id: &str, end: Option<&str>) -> String {
        match end {
            Some(end) => format!(
                r#"{{"resourceType":"ExplanationOfBenefit","id":"{id}","billablePeriod":{{"start":"2019-01-01","end":"{end}"}}}}"#
            ),
            None => format!(r#"{{"resourceType":"ExplanationOfBenefit","id":"{id}"}}"#),
        }
    }

    fn bundle(resources: &[String], next: Option<&str>) -> Vec<u8> {
        let entries: Vec<String> = resources
            .iter()
            .map(|r| format!(r#"{{"fullUrl":"x","resource":{r}}}"#))
            .collect();
        let link = next
            .map(|n| format!(r#"{{"relation":"next","url":"{n}"}},"#))
            .unwrap_or_default();
        format!(
            r#"{{"resourceType":"Bundle","type":"searchset","link":[{link}{{"relation":"self","url":"s"}}],"entry":[{}]}}"#,
            entries.join(",")
        )
        .into_bytes()
    }

    fn ids(page: &Page) -> Vec<String> {
        page.resources
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(r.as_str()).unwrap();
                v["id"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn the_filter_keeps_eobs_ending_on_or_after_the_earliest_date() {
        let filter = EobFilter {
            earliest: parse_full_date("2020-01-01"),
        };
        let body = bundle(
            &[
                eob("before", Some("2019-12-31")),
                eob("on", Some("2020-01-01")),
                eob("after", Some("2021-06-30")),
                eob("datetime", Some("2020-01-01T00:00:00-05:00")),
                eob("year-only-before", Some("2019")),
                eob("month-only-after", Some("2020-01")),
                eob("no-period", None),
                eob("garbage", Some("soon")),
                r#"{"resourceType":"Patient","id":"p"}"#.to_owned(),
                r#"{"resourceType":"OperationOutcome","issue":[]}"#.to_owned(),
            ],
            Some("https://bfd/next"),
        );
        let page = parse_page(&body, &filter).unwrap();
        assert_eq!(ids(&page), ["on", "after", "datetime", "month-only-after"]);
        assert_eq!(page.dropped, 6);
        assert_eq!(page.next.as_deref(), Some("https://bfd/next"));

        let page = parse_page(&body, &NO_FILTER).unwrap();
        assert_eq!(
            ids(&page),
            [
                "before",
                "on",
                "after",
                "datetime",
                "year-only-before",
                "month-only-after",
                "no-period",
                "garbage"
            ]
        );
        assert_eq!(page.dropped, 2);
    }

    #[test]
    fn bodies_that_are_not_bundles_are_errors_that_say_why() {
        let cases: [(&[u8], &str); 6] = [
            (b"<html>502 Bad Gateway</html>", "not a FHIR Bundle"),
            (b"", "cut off"),
            (
                br#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Explan"#,
                "cut off",
            ),
            (
                br#"{"resourceType":"OperationOutcome","issue":[]}"#,
                "is a FHIR OperationOutcome, not a Bundle",
            ),
            (br#"{"entry":[]}"#, "no resourceType"),
            (
                br#"{"resourceType":"Bundle","entry":[{"resource":[1,2]}]}"#,
                "entry 0",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_page(body, &NO_FILTER).unwrap_err();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        let empty = parse_page(
            br#"{"resourceType":"Bundle","type":"searchset"}"#,
            &NO_FILTER,
        )
        .unwrap();
        assert!(empty.resources.is_empty() && empty.next.is_none());
    }

    #[test]
    fn dates_parse_as_the_last_day_they_may_mean() {
        let day =
            |y, m: u8, d| Day::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        assert_eq!(parse_latest_date("2020-02-03"), Some(day(2020, 2, 3)));
        assert_eq!(parse_latest_date("2020-02"), Some(day(2020, 2, 29)));
        assert_eq!(parse_latest_date("2021-02"), Some(day(2021, 2, 28)));
        assert_eq!(parse_latest_date("2019"), Some(day(2019, 12, 31)));
        assert_eq!(
            parse_latest_date("2020-02-03T23:59:59+14:00"),
            Some(day(2020, 2, 3))
        );
        for bad in [
            "",
            "20",
            "2020-13-01",
            "2020-02-30",
            "2020-2-3",
            "2020-02-03-04",
            "x020-01-01",
        ] {
            assert_eq!(parse_latest_date(bad), None, "{bad}");
        }
        assert_eq!(parse_full_date("2020-01"), None);
    }

    #[test]
    fn since_accepts_dates_and_instants_with_offsets() {
        for good in [
            "2020-02-13",
            "2020-02-13T00:00:00Z",
            "2020-02-13T00:00:00.000-05:00",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(is_fhir_date_or_instant(good), "{good}");
        }
        for bad in [
            "2020-02",
            "2020-02-13T00:00:00",
            "2020-02-13T24:00:00Z",
            "2020-02-13T00:00Z",
            "2020-02-13T00:00:00.Z",
            "2020-02-13T00:00:00+5:00",
            "2020-02-13 00:00:00Z",
            "ge2020-02-13",
            "2020-02-13T00:00:00+05:00&x=y",
        ] {
            assert!(!is_fhir_date_or_instant(bad), "{bad}");
        }
    }

    #[test]
    fn backoff_doubles_is_capped_jittered_and_yields_to_retry_after() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        let at = |attempt, jitter| backoff(attempt, base, max, None, jitter);
        assert_eq!(at(1, 0.0), Duration::from_millis(50));
        let almost = at(1, 0.999_999);
        assert!(
            almost > Duration::from_millis(99) && almost < base,
            "{almost:?}"
        );
        assert_eq!(at(2, 0.0), Duration::from_millis(100));
        assert_eq!(at(3, 0.5), Duration::from_millis(300));
        assert_eq!(at(5, 1.0), max);
        assert_eq!(at(40, 0.0), max / 2);
        assert_eq!(at(u32::MAX, 1.0), max);
        let hinted = |hint| backoff(1, base, max, Some(hint), 0.0);
        assert_eq!(
            hinted(Duration::from_millis(700)),
            Duration::from_millis(700)
        );
        assert_eq!(hinted(Duration::from_secs(3600)), max);
        assert_eq!(hinted(Duration::ZERO), Duration::from_millis(50));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            retry_after(&headers, now)
        };
        assert_eq!(with("2"), Some(Duration::from_secs(2)));
        assert_eq!(with(" 0 "), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(with(&later), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(with(&earlier), Some(Duration::ZERO));
        assert_eq!(with("soon"), None);
        assert_eq!(with("-1"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

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

    #[test]
    fn the_first_page_url_carries_every_parameter() {
        let config = BfdConfig::builder("https://bfd.example:8443/base")
            .page_size(7)
            .since("2020-02-13T00:00:00.000+05:00")
            .build()
            .unwrap();
        let search = search_url(config.base_url()).unwrap();
        assert_eq!(
            first_page_url(&search, &config, "-19990000000001").as_str(),
            "https://bfd.example:8443/base/v2/fhir/ExplanationOfBenefit?patient=-19990000000001\
             &excludeSAMHSA=true&_count=7&_lastUpdated=ge2020-02-13T00%3A00%3A00.000%2B05%3A00"
        );
        let plain = BfdConfig::builder("http://127.0.0.1:8080/")
            .build()
            .unwrap();
        assert_eq!(
            first_page_url(&search_url(plain.base_url()).unwrap(), &plain, "a&b=c").as_str(),
            "http://127.0.0.1:8080/v2/fhir/ExplanationOfBenefit?patient=a%26b%3Dc&excludeSAMHSA=true&_count=50"
        );
    }

    #[test]
    fn pages_are_the_same_whatever_the_order_of_their_parameters() {
        let key = |text| page_key(&Url::parse(text).unwrap());
        assert_eq!(
            key("https://b/v2/x?patient=1&startIndex=10&_count=5"),
            key("https://b/v2/x?_count=5&startIndex=10&patient=1#f")
        );
        assert_ne!(
            key("https://b/v2/x?patient=1&startIndex=10"),
            key("https://b/v2/x?patient=1&startIndex=15")
        );
        assert_eq!(key("https://b/v2/x"), "https://b/v2/x");
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet(b"  a\n\tb\r\n c \x07"), "a b c");
        let long = "x".repeat(500);
        let cut = snippet(long.as_bytes());
        assert_eq!(cut.chars().count(), ERROR_SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
