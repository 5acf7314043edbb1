//! A stub BFD server for demos and manual tests: paged R4 `ExplanationOfBenefit`
//! searchset Bundles for any patient id, from the synthetic generator, with
//! fault switches. The server itself is `server.rs` (the tests start the same
//! code in-process).
//!
//! ```text
//! cargo run -p bfd_stub -- --addr 127.0.0.1:8443
//! cargo run --example export -- --source bfd --bfd-url http://127.0.0.1:8443
//!
//! # mutual TLS with a fresh test CA written to ./stub-pki
//! cargo run -p bfd_stub -- --tls-dir stub-pki
//! cargo run --example export -- --source bfd --bfd-url https://localhost:8443 \
//!     --ca-cert stub-pki/ca.pem --client-cert stub-pki/client.pem --client-key stub-pki/client.key
//! ```
//!
//! Patient faults take `ID` or `ID@PAGE` (from that 0-based page on) and may be
//! repeated: `--not-found -1999@1 --slow -2000`. Ctrl-C stops it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bfd_stub::{pki, server};
use claims_aggregator::SyntheticConfig;
use clap::Parser;

use server::{Fault, FaultKind, StubConfig, StubServer};

#[derive(Debug, Parser)]
#[command(about = "Serve a stub BFD (FHIR ExplanationOfBenefit search) with fault switches")]
struct Args {
    /// Address to listen on (8080 is the `server` package's).
    #[arg(
        long,
        value_name = "ADDR",
        help_heading = "Server",
        default_value = "127.0.0.1:8443"
    )]
    addr: SocketAddr,
    /// Worker threads.
    #[arg(long, value_name = "N", help_heading = "Server", default_value_t = 1)]
    workers: usize,
    /// Seed of the synthetic claims (the export's `--seed` gives the same ones).
    #[arg(long, value_name = "N", help_heading = "Claims", default_value_t = 0)]
    seed: u64,
    /// Mean EOBs per patient.
    #[arg(
        long,
        value_name = "MEAN",
        help_heading = "Claims",
        default_value_t = 4.0
    )]
    eobs_per_beneficiary: f64,
    /// Fraction of patients whose every request answers 500.
    #[arg(
        long,
        value_name = "FRACTION",
        help_heading = "Faults",
        default_value_t = 0.0
    )]
    failure_rate: f64,
    /// Page size when a request has no `_count`.
    #[arg(long, value_name = "N", help_heading = "Claims", default_value_t = 10)]
    default_page_size: usize,
    /// Milliseconds added to every answer.
    #[arg(long, value_name = "MS", help_heading = "Faults", default_value_t = 0)]
    latency_ms: u64,
    /// Pretty-print bodies.
    #[arg(long, help_heading = "Server")]
    pretty: bool,
    /// Every Nth request of a patient answers 500.
    #[arg(long, value_name = "N", help_heading = "Faults")]
    error_every: Option<u64>,
    /// Every Nth request of a patient answers 429 with Retry-After.
    #[arg(long, value_name = "N", help_heading = "Faults")]
    throttle_every: Option<u64>,
    /// Retry-After seconds of 429 and 503 answers.
    #[arg(
        long,
        value_name = "SECONDS",
        help_heading = "Faults",
        default_value_t = 1
    )]
    retry_after: u64,
    /// Patients answered 404.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    not_found: Vec<String>,
    /// Patients whose answers wait --slow-ms.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    slow: Vec<String>,
    /// How long slow answers wait, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        help_heading = "Faults",
        default_value_t = 5000
    )]
    slow_ms: u64,
    /// Patients answered 503 (with Retry-After) every time.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    unavailable: Vec<String>,
    /// Patients answered an HTML page.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    not_json: Vec<String>,
    /// Patients answered an OperationOutcome instead of a Bundle.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    not_bundle: Vec<String>,
    /// Patients answered half a page of JSON.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    cut_json: Vec<String>,
    /// Patients whose connection is cut mid-body.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    truncated: Vec<String>,
    /// Patients answered an oversized body with Content-Length.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    oversized: Vec<String>,
    /// Patients answered an oversized chunked body.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    oversized_chunked: Vec<String>,
    /// Size of oversized bodies, in MiB.
    #[arg(
        long,
        value_name = "MIB",
        help_heading = "Faults",
        default_value_t = 64
    )]
    oversize_mb: u64,
    /// Patients whose next link points to --off-origin-base.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    off_origin: Vec<String>,
    /// Where off-origin next links point.
    #[arg(
        long,
        value_name = "URL",
        help_heading = "Faults",
        default_value = "https://bfd.invalid:8443"
    )]
    off_origin_base: String,
    /// Patients whose pages also carry non-EOB entries.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    foreign_entries: Vec<String>,
    /// Patients whose pages link a next page forever.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    endless_next: Vec<String>,
    /// Patients whose pages link a next page forever, each padded to
    /// --huge-page-mb by one more EOB.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    huge_pages: Vec<String>,
    /// Size of huge pages, in MiB.
    #[arg(
        long,
        value_name = "MIB",
        help_heading = "Faults",
        default_value_t = 30
    )]
    huge_page_mb: u64,
    /// Patients whose last page links back to the first.
    #[arg(
        long,
        help_heading = "Faults",
        value_name = "ID[@PAGE]",
        allow_hyphen_values = true
    )]
    repeated_next: Vec<String>,
    /// Accept requests without a BULK-JOB-ID header.
    #[arg(long, help_heading = "Server")]
    no_job_id: bool,
    /// Serve TLS: write a fresh test CA, server and client certificates into
    /// this directory (replacing older ones) and require the client certificate.
    #[arg(long, value_name = "DIR", help_heading = "Server")]
    tls_dir: Option<PathBuf>,
    /// With --tls-dir, do not ask for a client certificate.
    #[arg(long, help_heading = "Server", requires = "tls_dir")]
    no_client_auth: bool,
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let mut config = StubConfig {
        addr: args.addr,
        workers: args.workers,
        synthetic: SyntheticConfig {
            seed: args.seed,
            eobs_per_beneficiary: args.eobs_per_beneficiary,
            failure_rate: args.failure_rate,
            ..SyntheticConfig::default()
        },
        default_page_size: args.default_page_size,
        latency: Duration::from_millis(args.latency_ms),
        pretty: args.pretty,
        error_every: args.error_every.filter(|&n| n > 0),
        throttle_every: args.throttle_every.filter(|&n| n > 0),
        retry_after_secs: args.retry_after,
        oversize_bytes: args.oversize_mb * 1024 * 1024,
        require_job_id: !args.no_job_id,
        ..StubConfig::default()
    };
    let faults = [
        (&args.not_found, FaultKind::NotFound),
        (
            &args.slow,
            FaultKind::Slow(Duration::from_millis(args.slow_ms)),
        ),
        (&args.unavailable, FaultKind::Status(503)),
        (&args.not_json, FaultKind::NotJson),
        (&args.not_bundle, FaultKind::NotBundle),
        (&args.cut_json, FaultKind::CutJson),
        (&args.truncated, FaultKind::Truncated),
        (&args.oversized, FaultKind::Oversized),
        (&args.oversized_chunked, FaultKind::OversizedChunked),
        (
            &args.off_origin,
            FaultKind::OffOrigin(args.off_origin_base.clone()),
        ),
        (&args.foreign_entries, FaultKind::ForeignEntries),
        (&args.endless_next, FaultKind::EndlessNext),
        (
            &args.huge_pages,
            FaultKind::HugePages(args.huge_page_mb * 1024 * 1024),
        ),
        (&args.repeated_next, FaultKind::RepeatedNext),
    ];
    for (patients, kind) in faults {
        for spec in patients {
            let (patient, fault) = parse_fault(spec, kind.clone())?;
            config.faults.insert(patient, fault);
        }
    }
    if let Some(dir) = &args.tls_dir {
        let pki = pki::TestPki::generate("bfd_stub");
        let files = pki.write(dir)?;
        config.tls = Some(pki.server_config(!args.no_client_auth));
        eprintln!(
            "test PKI in {}: --ca-cert {} --client-cert {} --client-key {}",
            dir.display(),
            files.ca_cert.display(),
            files.client_cert.display(),
            files.client_key.display(),
        );
    }
    actix::System::new().block_on(async move {
        let stub = StubServer::start(config)?;
        eprintln!(
            "stub BFD listening on {}{}",
            stub.url(),
            server::SEARCH_PATH
        );
        actix_rt::signal::ctrl_c().await?;
        eprintln!("{:?}", stub.stats().snapshot());
        stub.stop().await;
        Ok(())
    })
}

/// `ID` or `ID@PAGE`. Patient ids may start with `-`, so the page is only what
/// follows the last `@`.
fn parse_fault(spec: &str, kind: FaultKind) -> std::io::Result<(String, Fault)> {
    match spec.rsplit_once('@') {
        Some((patient, page)) => {
            let page = page.parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{spec:?}: the page after @ must be a number"),
                )
            })?;
            Ok((patient.to_owned(), Fault::new(kind).starting_page(page)))
        }
        None => Ok((spec.to_owned(), Fault::new(kind))),
    }
}
