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
//!
//! # Layout
//!
//! This file holds [`BfdSource`]: the pages of a beneficiary and the attempts
//! at each page. Beside it: `config` (settings, defaults, validation), `client`
//! (the HTTP client, TLS and PEM files), `attempt` (one request and what its
//! failure means), `retry` (backoff, `Retry-After`), `paging` (first page and
//! `next` links), `parse` (bundles and the filter), `dates` (FHIR dates).

mod attempt;
mod client;
mod config;
mod dates;
mod paging;
mod parse;
mod retry;

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::BoxFuture;
use rand::Rng;
use url::Url;

use super::{ClaimsSource, Resource, SourceError};
use crate::error::Result;
use attempt::Failure;
use parse::EobFilter;

pub use client::MAX_PEM_BYTES;
pub use config::{
    BfdConfig, BfdConfigBuilder, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_EARLIEST_DATE, DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BENEFICIARY_BYTES, DEFAULT_MAX_PAGES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_PAGE_SIZE, DEFAULT_REQUEST_TIMEOUT, MAX_PAGE_SIZE,
};

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
    /// Refuses unreadable files ([`Error::Io`](crate::Error::Io)) and PEM
    /// files larger than [`MAX_PEM_BYTES`], without the expected certificates
    /// or key, or a key that does not match the certificate
    /// ([`Error::Config`](crate::Error::Config) naming `ca_cert`, `client_cert`
    /// or `client_key`).
    pub fn new(config: BfdConfig) -> Result<BfdSource> {
        let client = client::build(&config)?;
        let search_url = paging::search_url(config.base_url())?;
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
    fn first_page_url(&self, beneficiary: &str) -> Url {
        paging::first_page_url(&self.search_url, &self.config, beneficiary)
    }

    async fn fetch_all(&self, beneficiary: &str) -> Result<Vec<Resource>, SourceError> {
        let filter = EobFilter {
            earliest: self.config.earliest_day(),
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
            if page_number == self.config.max_pages() {
                return Err(fail(
                    "too-costly",
                    format!(
                        "the server keeps sending next links: more than {} pages (max_pages)",
                        self.config.max_pages()
                    ),
                ));
            }
            visited.insert(paging::page_key(&url));
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
            let page = parse::parse_page(&body, &filter).map_err(|what| fail("structure", what))?;
            drop(body);
            resources.extend(page.resources);
            dropped += page.dropped;
            let Some(next) = page.next else { break };
            url = paging::next_page_url(&url, &next, &visited)
                .map_err(|problem| fail(problem.code, problem.what))?;
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
            let (mut problem, retry_after) =
                match attempt::get(&self.client, &self.config, url, received).await {
                    Ok(body) => return Ok(body),
                    Err(Failure::Fatal(problem)) => return Err(give_up(problem)),
                    Err(Failure::Retry {
                        problem,
                        retry_after,
                    }) => (problem, retry_after),
                };
            if let Some(wait) = retry_after.filter(|wait| *wait > self.config.backoff_max()) {
                // Waiting less than asked would only be refused again, and waiting
                // as asked is longer than this source may wait: give up now.
                return Err(give_up(Problem::new(
                    "throttled",
                    format!(
                        "throttled: server asked to wait {} s, longer than backoff_max \
                         allows ({} ms) ({})",
                        wait.as_secs_f64().ceil(),
                        self.config.backoff_max().as_millis(),
                        problem.what
                    ),
                )));
            }
            if attempt >= self.config.max_attempts() {
                if attempt > 1 {
                    problem
                        .what
                        .push_str(&format!(", after {attempt} attempts"));
                }
                return Err(give_up(problem));
            }
            let wait = retry::backoff(
                attempt,
                self.config.backoff_base(),
                self.config.backoff_max(),
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
}

impl ClaimsSource for BfdSource {
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>> {
        Box::pin(self.fetch_all(beneficiary))
    }
}

/// What went wrong with an attempt or a `next` link: a FHIR issue code and the
/// cause (the beneficiary and the URL are added once the beneficiary is given up).
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

/// `BFD: beneficiary X: what (GET url)`.
fn describe(beneficiary: &str, url: &Url, what: &str) -> String {
    format!("BFD: beneficiary {beneficiary}: {what} (GET {url})")
}
