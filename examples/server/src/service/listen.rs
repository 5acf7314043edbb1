//! The listener: plain HTTP, or HTTPS with rustls when a certificate and key
//! are given. Binding is where the service learns the base of the URLs it
//! hands out (`--public-url`, or the bound address): never from a request's
//! `Host` or `X-Forwarded-*`, which anyone can set. Key material is read once
//! and never logged.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::exports::Exports;
use super::routes;

/// Largest PEM file read.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// How to listen.
pub struct Listen {
    /// Address to bind (`127.0.0.1:8080`; port 0 for any free one).
    pub bind: String,
    /// The TLS configuration, for HTTPS.
    pub tls: Option<rustls::ServerConfig>,
    /// HTTP worker threads; `None`: one per core.
    pub workers: Option<usize>,
    /// Whether Ctrl-C and SIGTERM stop the server (off in tests).
    pub signals: bool,
}

/// Binds the service; answers the server (to run) and the URL of the bound
/// address (which differs from the URLs handed out under `--public-url`).
pub fn serve(exports: Arc<Exports>, listen: Listen) -> Result<(Server, String), String> {
    let data = web::Data::from(exports.clone());
    let mut server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes));
    if let Some(workers) = listen.workers {
        server = server.workers(workers);
    }
    if !listen.signals {
        server = server.disable_signals();
    }
    let scheme = if listen.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let server = match listen.tls {
        Some(tls) => server.bind_rustls_0_23(&listen.bind, tls),
        None => server.bind(&listen.bind),
    }
    .map_err(|e| format!("bind {}: {e}", listen.bind))?;
    let bound = format!("{scheme}://{}", server.addrs()[0]);
    exports.set_bound_url(bound.clone());
    Ok((server.run(), bound))
}

/// The rustls configuration of a PEM certificate chain and private key.
pub fn tls_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, String> {
    let certs = CertificateDer::pem_slice_iter(&read_pem(cert, "--tls-cert")?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("--tls-cert {}: no certificate", cert.display()));
    }
    // The key's error says where, never what it holds.
    let key_der = PrivateKeyDer::from_pem_slice(&read_pem(key, "--tls-key")?)
        .map_err(|_| format!("--tls-key {}: no PEM private key", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key_der))
        .map_err(|e| format!("--tls-cert/--tls-key: {e}"))
}

fn read_pem(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(format!(
            "{flag} {}: larger than {MAX_PEM_BYTES} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}
