//! The stub BFD server, on actix-web: what the `bfd_stub` binary runs from the
//! command line and what the `tests/bfd_*.rs` tests start in-process on
//! `127.0.0.1:0`.
//!
//! It answers `GET /v2/fhir/ExplanationOfBenefit?patient=…&excludeSAMHSA=true&_count=…`
//! like BFD: a searchset `Bundle` page of the patient's EOBs, with `self`,
//! `first`, `next` (while EOBs remain) and `last` links that carry
//! `startIndex`. The EOBs are those of the synthetic generator for the
//! configured seed, so a test knows exactly what every patient must yield. It
//! is strict about what BFD needs: `excludeSAMHSA=true`, `Accept:
//! application/fhir+json` and (unless turned off) a `BULK-JOB-ID` header, or it
//! answers 400/406. `_lastUpdated=ge…` (a date, taken as midnight UTC, or an
//! instant with its offset) keeps the EOBs whose `meta.lastUpdated` is at or
//! after that instant, as the synthetic source's own `since` filters them.
//!
//! Fault switches ([`StubConfig`], [`Fault`]): every Nth request of a patient
//! answers 500 or 429 with `Retry-After` (counted per patient, so with N ≥ 2 a
//! retry never meets the same fault twice in a row, and the counts are known in
//! advance), and chosen patients get a 404, a fixed status, slow answers, a
//! body that is not JSON, not a Bundle, cut JSON, a connection cut mid-body, an
//! oversized body (declared or chunked), an off-origin `next` link, or non-EOB
//! entries, `next` links that never end (with huge pages or empty ones) or
//! that lead back to the first page — each from a chosen page on. Counters
//! ([`StubStats`]) let tests check what the client really did.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use actix_web::dev::ServerHandle;
use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use claims_aggregator::source::parse_since;
use claims_aggregator::{Resource, SyntheticConfig, SyntheticSource};
use futures::stream::{self, Stream, StreamExt};

/// The search endpoint.
pub const SEARCH_PATH: &str = "/v2/fhir/ExplanationOfBenefit";

/// The content type of every FHIR answer.
pub const FHIR_JSON: &str = "application/fhir+json;charset=UTF-8";

/// Largest `_count` honoured; larger ones are cut to it.
pub const MAX_PAGE_SIZE: usize = 10_000;

/// How long a cut body waits before the connection is closed.
const CUT_PAUSE: Duration = Duration::from_millis(20);

/// Size of the chunks of an oversized body.
const PADDING_CHUNK: usize = 64 * 1024;

/// Stands for the narrative of a huge page's padding EOB until it is streamed.
const PADDING_MARK: &str = "@@stub-padding@@";

/// What goes wrong for one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 404 with an OperationOutcome (BFD's answer for an unknown patient).
    NotFound,
    /// Every answer waits this long before it is sent.
    Slow(Duration),
    /// Every answer has this status (an OperationOutcome body; 429 and 503
    /// carry `Retry-After`).
    Status(u16),
    /// 200 with an HTML error page.
    NotJson,
    /// 200 with a FHIR OperationOutcome instead of a Bundle.
    NotBundle,
    /// 200 with the first half of the page (complete transfer, cut JSON).
    CutJson,
    /// `Content-Length` of the whole page, half of it sent, connection closed.
    Truncated,
    /// A Bundle of `oversize_bytes` bytes with its `Content-Length`.
    Oversized,
    /// A Bundle of `oversize_bytes` bytes, chunked (no `Content-Length`).
    OversizedChunked,
    /// The `next` link points to this base URL (a page follows even when the
    /// patient has no more EOBs).
    OffOrigin(String),
    /// Every page also carries a `Patient` and an `OperationOutcome` entry.
    ForeignEntries,
    /// Every page links a next page, past the patient's last EOB and forever
    /// (pages past it are empty).
    EndlessNext,
    /// Every page links a next page forever, and carries one more EOB whose
    /// narrative pads the page to this many bytes (sent with its
    /// `Content-Length`): a server that would fill the client's memory.
    HugePages(u64),
    /// The last page's `next` link leads back to the first page.
    RepeatedNext,
}

/// A fault for one patient, from page `from_page` (0-based) on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// First page it happens on (earlier pages are served normally).
    pub from_page: usize,
}

impl Fault {
    /// `kind` from the first page on.
    pub fn new(kind: FaultKind) -> Fault {
        Fault { kind, from_page: 0 }
    }

    /// The same fault from page `page` (0-based) on.
    pub fn starting_page(mut self, page: usize) -> Fault {
        self.from_page = page;
        self
    }
}

/// Settings of a stub server.
#[derive(Debug, Clone)]
pub struct StubConfig {
    /// Where to listen. Default `127.0.0.1:0` (a free port).
    pub addr: SocketAddr,
    /// actix-web worker threads. Default 1.
    pub workers: usize,
    /// The EOBs served (seed, mean count, …). Its failure rate makes patients
    /// whose every request answers 500.
    pub synthetic: SyntheticConfig,
    /// Page size when the request has no `_count`. Default 10.
    pub default_page_size: usize,
    /// Added to every answer (BFD's round trip). Default zero.
    pub latency: Duration,
    /// Pretty-print bodies (two-space indents), as BFD's may be. Default false.
    pub pretty: bool,
    /// Write links as relative references (`/v2/fhir/…`) instead of absolute
    /// URLs. Default false (BFD writes absolute URLs).
    pub relative_links: bool,
    /// Every Nth request of a patient answers 500. Default none.
    pub error_every: Option<u64>,
    /// Every Nth request of a patient answers 429 with `Retry-After`. Default none.
    pub throttle_every: Option<u64>,
    /// `Retry-After` seconds of 429 and 503 answers. Default 1.
    pub retry_after_secs: u64,
    /// Faults of chosen patients.
    pub faults: HashMap<String, Fault>,
    /// Size of oversized bodies. Default 64 MiB.
    pub oversize_bytes: u64,
    /// Answer 400 to requests without `BULK-JOB-ID`. Default true.
    pub require_job_id: bool,
    /// Serve TLS with this configuration. Default: plain HTTP.
    pub tls: Option<rustls::ServerConfig>,
}

impl Default for StubConfig {
    fn default() -> Self {
        StubConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            workers: 1,
            synthetic: SyntheticConfig::default(),
            default_page_size: 10,
            latency: Duration::ZERO,
            pretty: false,
            relative_links: false,
            error_every: None,
            throttle_every: None,
            retry_after_secs: 1,
            faults: HashMap::new(),
            oversize_bytes: 64 * 1024 * 1024,
            require_job_id: true,
            tls: None,
        }
    }
}

impl StubConfig {
    /// Adds a fault for `patient`.
    pub fn fault(mut self, patient: impl Into<String>, fault: Fault) -> Self {
        self.faults.insert(patient.into(), fault);
        self
    }
}

/// What the stub saw and answered.
#[derive(Debug, Default)]
pub struct StubStats {
    requests: AtomicU64,
    connections: AtomicU64,
    ok: AtomicU64,
    not_found: AtomicU64,
    server_errors: AtomicU64,
    throttled: AtomicU64,
    refused: AtomicU64,
    eobs_served: AtomicU64,
    padding_bytes: AtomicU64,
    per_patient: Mutex<HashMap<String, u64>>,
    job_ids: Mutex<BTreeSet<String>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Search requests received.
    pub requests: u64,
    /// Connections accepted (after the TLS handshake, when TLS).
    pub connections: u64,
    /// 2xx answers.
    pub ok: u64,
    /// 404 answers.
    pub not_found: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// 429 answers.
    pub throttled: u64,
    /// Other 4xx answers (requests missing what BFD needs).
    pub refused: u64,
    /// EOBs in intact 200 pages.
    pub eobs_served: u64,
    /// Bytes of oversized bodies handed to the connection.
    pub padding_bytes: u64,
    /// Distinct `BULK-JOB-ID` values seen.
    pub job_ids: Vec<String>,
}

impl StubStats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            connections: self.connections.load(Relaxed),
            ok: self.ok.load(Relaxed),
            not_found: self.not_found.load(Relaxed),
            server_errors: self.server_errors.load(Relaxed),
            throttled: self.throttled.load(Relaxed),
            refused: self.refused.load(Relaxed),
            eobs_served: self.eobs_served.load(Relaxed),
            padding_bytes: self.padding_bytes.load(Relaxed),
            job_ids: self.job_ids.lock().unwrap().iter().cloned().collect(),
        }
    }

    /// Search requests received for `patient`.
    pub fn requests_for(&self, patient: &str) -> u64 {
        self.per_patient
            .lock()
            .unwrap()
            .get(patient)
            .copied()
            .unwrap_or(0)
    }

    fn bump(&self, patient: &str) -> u64 {
        let mut map = self.per_patient.lock().unwrap();
        let count = map.entry(patient.to_owned()).or_insert(0);
        *count += 1;
        *count
    }

    fn count_status(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            200..=299 => &self.ok,
            404 => &self.not_found,
            429 => &self.throttled,
            500..=599 => &self.server_errors,
            _ => &self.refused,
        };
        counter.fetch_add(1, Relaxed);
    }
}

/// A running stub. Start it inside an actix `System`.
pub struct StubServer {
    addr: SocketAddr,
    scheme: &'static str,
    stats: Arc<StubStats>,
    handle: ServerHandle,
}

impl StubServer {
    /// Binds `config.addr` and starts serving (the server future is spawned
    /// on the current actix system; its workers are threads of their own).
    pub fn start(config: StubConfig) -> io::Result<StubServer> {
        let listener = TcpListener::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(StubStats::default());
        let workers = config.workers.max(1);
        let tls = config.tls.clone();
        let data = web::Data::new(Stub {
            source: SyntheticSource::new(config.synthetic.clone()),
            config,
            stats: stats.clone(),
        });
        let connections = stats.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(SEARCH_PATH, web::get().to(search))
                .default_service(web::to(unknown_path))
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(1)
        .keep_alive(Duration::from_secs(60))
        .on_connect(move |_, _| {
            connections.connections.fetch_add(1, Relaxed);
        });
        let (server, scheme) = match tls {
            Some(tls) => (server.listen_rustls_0_23(listener, tls)?, "https"),
            None => (server.listen(listener)?, "http"),
        };
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Ok(StubServer {
            addr,
            scheme,
            stats,
            handle,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:PORT` or `https://…`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Its counters.
    pub fn stats(&self) -> &StubStats {
        &self.stats
    }

    /// Stops it (open connections are dropped).
    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

struct Stub {
    config: StubConfig,
    source: SyntheticSource,
    stats: Arc<StubStats>,
}

async fn search(req: HttpRequest, stub: web::Data<Stub>) -> HttpResponse {
    stub.stats.requests.fetch_add(1, Relaxed);
    let response = stub.answer(&req).await;
    stub.stats.count_status(response.status());
    response
}

async fn unknown_path(req: HttpRequest) -> HttpResponse {
    outcome(
        StatusCode::NOT_FOUND,
        &format!("stub BFD: no endpoint at {}", req.path()),
    )
}

/// A FHIR OperationOutcome answer.
fn outcome(status: StatusCode, text: &str) -> HttpResponse {
    let text = serde_json::to_string(text).expect("strings serialise");
    HttpResponse::build(status).content_type(FHIR_JSON).body(format!(
        r#"{{"resourceType":"OperationOutcome","issue":[{{"severity":"error","code":"processing","diagnostics":{text}}}]}}"#
    ))
}

/// The parameters of one search.
struct Search {
    patient: String,
    count: usize,
    start: usize,
    /// `_lastUpdated=ge…` as given (repeated in `next` links), and the
    /// instant it names.
    since: Option<(String, SystemTime)>,
}

impl Stub {
    async fn answer(&self, req: &HttpRequest) -> HttpResponse {
        let search = match self.check(req) {
            Ok(search) => search,
            Err((status, reason)) => return outcome(status, &reason),
        };
        let nth = self.stats.bump(&search.patient);
        if !self.config.latency.is_zero() {
            actix_rt::time::sleep(self.config.latency).await;
        }
        let page = search.start / search.count;
        let fault = self
            .config
            .faults
            .get(&search.patient)
            .filter(|fault| page >= fault.from_page)
            .map(|fault| &fault.kind);
        match fault {
            Some(FaultKind::NotFound) => {
                return outcome(
                    StatusCode::NOT_FOUND,
                    &format!("stub BFD: patient {} not found", search.patient),
                )
            }
            Some(FaultKind::Status(code)) => {
                let status =
                    StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return self.with_retry_after(status, outcome(status, "stub BFD: injected status"));
            }
            Some(FaultKind::Slow(delay)) => actix_rt::time::sleep(*delay).await,
            _ => {}
        }
        if self
            .config
            .error_every
            .is_some_and(|n| nth.is_multiple_of(n))
        {
            return outcome(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("stub BFD: injected failure of request {nth} of this patient"),
            );
        }
        if self
            .config
            .throttle_every
            .is_some_and(|n| nth.is_multiple_of(n))
        {
            let status = StatusCode::TOO_MANY_REQUESTS;
            return self.with_retry_after(status, outcome(status, "stub BFD: slow down"));
        }
        match fault {
            Some(FaultKind::Oversized) => return self.oversized(false),
            Some(FaultKind::OversizedChunked) => return self.oversized(true),
            _ => {}
        }
        let generated = match &search.since {
            Some((_, at)) => SyntheticSource::new(SyntheticConfig {
                since: Some(*at),
                ..self.source.config().clone()
            })
            .generate(&search.patient),
            None => self.source.generate(&search.patient),
        };
        let eobs = match generated {
            Ok(eobs) => eobs,
            Err(e) => return outcome(StatusCode::INTERNAL_SERVER_ERROR, &e.message),
        };
        let total = eobs.len();
        let page_eobs = &eobs[search.start.min(total)..(search.start + search.count).min(total)];
        let info = req.connection_info();
        let base = if self.config.relative_links {
            String::new()
        } else {
            format!("{}://{}", info.scheme(), info.host())
        };
        let next = match fault {
            Some(FaultKind::OffOrigin(elsewhere)) => {
                Some(page_url(elsewhere, &search, search.start + search.count))
            }
            Some(FaultKind::EndlessNext | FaultKind::HugePages(_)) => {
                Some(page_url(&base, &search, search.start + search.count))
            }
            _ if search.start + search.count < total => {
                Some(page_url(&base, &search, search.start + search.count))
            }
            Some(FaultKind::RepeatedNext) => Some(page_url(&base, &search, 0)),
            _ => None,
        };
        let last_start = total.saturating_sub(1) / search.count * search.count;
        let links = [
            ("self", Some(page_url(&base, &search, search.start))),
            ("first", Some(page_url(&base, &search, 0))),
            ("next", next),
            ("last", Some(page_url(&base, &search, last_start))),
        ];
        let foreign = matches!(fault, Some(FaultKind::ForeignEntries));
        let padded;
        let page_eobs = match fault {
            Some(FaultKind::HugePages(_)) => {
                padded = [page_eobs, &[padding_eob(&search.patient, page)]].concat();
                &padded[..]
            }
            _ => page_eobs,
        };
        let mut body = bundle(&search.patient, page, total, &links, page_eobs, foreign);
        if self.config.pretty {
            body = pretty(&body);
        }
        let response = || {
            let mut builder = HttpResponse::Ok();
            builder.content_type(FHIR_JSON);
            builder
        };
        match fault {
            Some(FaultKind::NotJson) => HttpResponse::Ok()
                .content_type("text/html")
                .body("<html><body><h1>Gateway Timeout</h1></body></html>"),
            Some(FaultKind::NotBundle) => response().body(
                serde_json::json!({
                    "resourceType": "OperationOutcome",
                    "issue": [{ "severity": "information", "code": "informational" }],
                })
                .to_string(),
            ),
            Some(FaultKind::CutJson) => {
                body.truncate(body.len() / 2);
                response().body(body)
            }
            Some(FaultKind::HugePages(size)) => {
                let (head, tail) = body
                    .split_once(PADDING_MARK)
                    .expect("the padding EOB is in the page");
                let padding = size.saturating_sub((head.len() + tail.len()) as u64);
                let (head, tail) = (Bytes::from(head.to_owned()), Bytes::from(tail.to_owned()));
                let length = (head.len() + tail.len()) as u64 + padding;
                response().no_chunking(length).streaming(padded_body(
                    head,
                    b'x',
                    padding,
                    tail,
                    self.stats.clone(),
                ))
            }
            Some(FaultKind::Truncated) => {
                let bytes = Bytes::from(body);
                let length = bytes.len() as u64;
                response()
                    .no_chunking(length)
                    .streaming(cut_mid_body(bytes.slice(..bytes.len() / 2)))
            }
            _ => {
                self.stats
                    .eobs_served
                    .fetch_add(page_eobs.len() as u64, Relaxed);
                response().body(body)
            }
        }
    }

    /// The search parameters, or the status and reason of the 400/406 answer
    /// BFD would give.
    fn check(&self, req: &HttpRequest) -> Result<Search, (StatusCode, String)> {
        let refuse = |status, text: &str| Err((status, format!("stub BFD: {text}")));
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect();
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !accept.contains("application/fhir+json") {
            return refuse(
                StatusCode::NOT_ACCEPTABLE,
                "Accept must be application/fhir+json",
            );
        }
        if let Some(job_id) = req
            .headers()
            .get("BULK-JOB-ID")
            .and_then(|v| v.to_str().ok())
        {
            self.stats.job_ids.lock().unwrap().insert(job_id.to_owned());
        } else if self.config.require_job_id {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the BULK-JOB-ID header is required",
            );
        }
        let Some(patient) = params.get("patient").filter(|p| !p.is_empty()) else {
            return refuse(StatusCode::BAD_REQUEST, "patient is required");
        };
        if params.get("excludeSAMHSA").map(String::as_str) != Some("true") {
            return refuse(StatusCode::BAD_REQUEST, "excludeSAMHSA=true is required");
        }
        let number = |name: &str, default: usize| match params.get(name) {
            None => Ok(default),
            Some(text) => text.parse::<usize>().map_err(|_| name.to_owned()),
        };
        let count = match number("_count", self.config.default_page_size) {
            Ok(0) | Err(_) => {
                return refuse(StatusCode::BAD_REQUEST, "_count must be a positive number")
            }
            Ok(count) => count.min(MAX_PAGE_SIZE),
        };
        let Ok(start) = number("startIndex", 0) else {
            return refuse(StatusCode::BAD_REQUEST, "startIndex must be a number");
        };
        let since = match params.get("_lastUpdated") {
            None => None,
            Some(value) => match value.strip_prefix("ge").map(|at| (at, parse_since(at))) {
                Some((text, Ok(at))) => Some((text.to_owned(), at)),
                Some((_, Err(reason))) => {
                    return refuse(StatusCode::BAD_REQUEST, &format!("_lastUpdated: {reason}"))
                }
                None => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        "_lastUpdated must be ge<date or instant>",
                    )
                }
            },
        };
        Ok(Search {
            patient: patient.clone(),
            count,
            start,
            since,
        })
    }

    fn with_retry_after(&self, status: StatusCode, mut response: HttpResponse) -> HttpResponse {
        if matches!(status.as_u16(), 429 | 503) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(self.config.retry_after_secs),
            );
        }
        response
    }

    /// A valid Bundle of `oversize_bytes` bytes, mostly whitespace, produced
    /// chunk by chunk as the connection takes it.
    fn oversized(&self, chunked: bool) -> HttpResponse {
        let size = self.config.oversize_bytes;
        let mut response = HttpResponse::Ok();
        response.content_type(FHIR_JSON);
        if !chunked {
            response.no_chunking(size);
        }
        response.streaming(padded_bundle(size, self.stats.clone()))
    }
}

/// Sends `half`, then fails, which makes actix-web close the connection. The
/// pause between the two lets the headers and `half` reach the client first
/// (the server flushes while the body is pending), so that the client sees a
/// body cut short rather than a connection closed before any answer.
fn cut_mid_body(half: Bytes) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let cut = async {
        actix_rt::time::sleep(CUT_PAUSE).await;
        Err(io::Error::other("stub BFD: connection cut mid-body"))
    };
    stream::once(async { Ok(half) }).chain(stream::once(cut))
}

/// `{"resourceType":"Bundle",<spaces>"type":"searchset"}` of exactly `size`
/// bytes (or the bare Bundle when `size` is smaller than that).
fn padded_bundle(size: u64, stats: Arc<StubStats>) -> impl Stream<Item = Result<Bytes, io::Error>> {
    const HEAD: &str = "{\"resourceType\":\"Bundle\",";
    const TAIL: &str = "\"type\":\"searchset\"}";
    let padding = size.saturating_sub((HEAD.len() + TAIL.len()) as u64);
    padded_body(
        Bytes::from_static(HEAD.as_bytes()),
        b' ',
        padding,
        Bytes::from_static(TAIL.as_bytes()),
        stats,
    )
}

/// `head`, `padding` bytes of `fill`, `tail`: produced chunk by chunk as the
/// connection takes them, so that the stub holds no large body itself.
fn padded_body(
    head: Bytes,
    fill: u8,
    padding: u64,
    tail: Bytes,
    stats: Arc<StubStats>,
) -> impl Stream<Item = Result<Bytes, io::Error>> {
    let filler = Bytes::from(vec![fill; PADDING_CHUNK]);
    let chunks = stream::unfold((0u8, padding), move |(state, left)| {
        let filler = filler.clone();
        let stats = stats.clone();
        let (head, tail) = (head.clone(), tail.clone());
        async move {
            match state {
                0 => Some((head, (1, left))),
                1 if left > 0 => {
                    let n = left.min(PADDING_CHUNK as u64);
                    stats.padding_bytes.fetch_add(n, Relaxed);
                    Some((filler.slice(..n as usize), (1, left - n)))
                }
                1 => Some((tail, (2, 0))),
                _ => None,
            }
        }
    });
    chunks.map(Ok)
}

/// The EOB that pads page `page` of a huge-page patient: its narrative is
/// [`PADDING_MARK`], replaced by the padding while the page is sent. Its
/// billing period passes the client's date filter, so the client keeps it.
fn padding_eob(patient: &str, page: usize) -> Resource {
    Resource::from_value(&serde_json::json!({
        "resourceType": "ExplanationOfBenefit",
        "id": format!("stub-huge-{patient}-{page}"),
        "billablePeriod": { "start": "2024-01-01", "end": "2024-01-31" },
        "text": { "status": "generated", "div": PADDING_MARK },
    }))
}

/// The URL of the page starting at `start`, on `base`.
fn page_url(base: &str, search: &Search, start: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("startIndex", &start.to_string())
        .append_pair("_count", &search.count.to_string())
        .append_pair("patient", &search.patient)
        .append_pair("excludeSAMHSA", "true");
    if let Some((since, _)) = &search.since {
        query.append_pair("_lastUpdated", &format!("ge{since}"));
    }
    format!("{base}{SEARCH_PATH}?{}", query.finish())
}

/// The compact JSON text of one searchset page.
fn bundle(
    patient: &str,
    page: usize,
    total: usize,
    links: &[(&str, Option<String>)],
    eobs: &[Resource],
    foreign: bool,
) -> String {
    let json = |text: &str| serde_json::to_string(text).expect("strings serialise");
    let mut body = String::with_capacity(512 + eobs.iter().map(|e| e.len() + 16).sum::<usize>());
    body.push_str("{\"resourceType\":\"Bundle\",\"id\":");
    body.push_str(&json(&format!("stub-page-{page}")));
    body.push_str(",\"meta\":{\"lastUpdated\":\"2024-06-01T00:00:00.000+00:00\"},\"type\":\"searchset\",\"total\":");
    body.push_str(&total.to_string());
    body.push_str(",\"link\":[");
    let mut first = true;
    for (relation, url) in links {
        let Some(url) = url else { continue };
        if !first {
            body.push(',');
        }
        first = false;
        body.push_str(&format!(
            "{{\"relation\":\"{relation}\",\"url\":{}}}",
            json(url)
        ));
    }
    body.push_str("],\"entry\":[");
    let mut entries: Vec<String> = eobs
        .iter()
        .map(|eob| format!("{{\"resource\":{}}}", eob.as_str()))
        .collect();
    if foreign {
        entries.insert(
            0,
            format!(
                "{{\"resource\":{{\"resourceType\":\"Patient\",\"id\":{}}}}}",
                json(patient)
            ),
        );
        entries.push(
            "{\"resource\":{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":\"information\",\"code\":\"informational\"}]}}"
                .to_owned(),
        );
    }
    body.push_str(&entries.join(","));
    body.push_str("]}");
    body
}

/// Re-indents compact JSON text with two spaces, as a pretty-printing server
/// would, keeping everything inside strings as it is.
pub fn pretty(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    for c in compact.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                depth += 1;
                newline(&mut out, depth);
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            _ => out.push(c),
        }
    }
    out
}
