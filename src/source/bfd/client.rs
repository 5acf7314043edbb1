//! The HTTP client every clone of a [`BfdSource`](super::BfdSource) shares.
//! TLS is set up here (rustls with *ring*, only the given CA bundle trusted),
//! not by a process-wide default; no redirect nor proxy may take the client
//! certificate anywhere but the configured server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::BfdConfig;
use crate::error::{Error, Result};

/// Largest PEM file read (`ca_cert`, `client_cert`, `client_key`): a CA bundle
/// of a few hundred certificates fits; `/dev/zero` fails at once.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// The header that tells BFD which bulk job a request belongs to.
pub(super) const BULK_JOB_ID_HEADER: &str = "BULK-JOB-ID";

/// The media type asked for.
const FHIR_JSON: &str = "application/fhir+json";

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// TCP keep-alive probes on pooled connections.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The client of a new [`BfdSource`](super::BfdSource): its TLS, headers,
/// timeouts and pool.
pub(super) fn build(config: &BfdConfig) -> Result<reqwest::Client> {
    let tls = tls_config(config)?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static(FHIR_JSON));
    if let Some(job_id) = config.job_id() {
        let value =
            HeaderValue::from_str(job_id).map_err(|e| Error::config("job_id", e.to_string()))?;
        headers.insert(HeaderName::from_static("bulk-job-id"), value);
    }
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .https_only(config.base_url().scheme() == "https")
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .default_headers(headers)
        .user_agent(concat!("claims-aggregator/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(config.connect_timeout())
        .timeout(config.request_timeout())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_keepalive(TCP_KEEPALIVE)
        .tcp_nodelay(true)
        .build()
        .map_err(|e| Error::config("tls", format!("the HTTP client could not be built: {e}")))
}

/// The rustls client configuration: the *ring* provider, the CA bundle (or the
/// system's roots for https without one), the client identity, HTTP/1.1.
fn tls_config(config: &BfdConfig) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config("tls", e.to_string()))?;
    let builder = match config.ca_cert() {
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
        None if config.base_url().scheme() == "http" => {
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
    let mut tls = match (config.client_cert(), config.client_key()) {
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
