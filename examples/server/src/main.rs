//! A FHIR Bulk Data export service on the library: kick-off, status with
//! progress, manifest, downloads and DELETE, as AB2D's API serves them, with
//! SMART Backend Services authorization when clients are registered.
//!
//! ```text
//! cargo run --release -p server -- --bind 127.0.0.1:8080 --root ./efsmount
//! curl -i -H 'Prefer: respond-async' 'http://127.0.0.1:8080/Group/Z9000/$export?_type=ExplanationOfBenefit'
//! ```
//!
//! The job options of the `export` example (`--beneficiaries`, `--max-mb`, …) are the
//! defaults of every job. Exports survive a restart (see `service/exports.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use server::service;

#[derive(Debug, Parser)]
#[command(about = "Serve FHIR Bulk Data exports of claims")]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    bind: String,
    /// PEM certificate chain: serve HTTPS (with --tls-key)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    service: service::Settings,
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let result = actix_web::rt::System::new().block_on(async move {
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(service::tls_config(cert, key)?),
            _ => None,
        };
        let exports = service::Exports::start(args.service)?;
        let listen = service::Listen {
            bind: args.bind,
            tls,
            workers: None,
            signals: true,
        };
        let (server, bound) = service::serve(exports.clone(), listen)?;
        log::info!(
            "listening on {bound}; links point to {}",
            exports.base_url()
        );
        server.await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
