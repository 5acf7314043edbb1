//! A throw-away PKI for the stub BFD: a CA, a server certificate for the
//! loopback names, and a client certificate, all made at run time with rcgen
//! (nothing secret is ever committed). Shared by the `bfd_stub` binary and the
//! `tests/bfd_*.rs` tests.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// Names the server certificate is valid for.
pub const SERVER_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A CA with one server and one client certificate, as PEM text.
#[derive(Clone)]
pub struct TestPki {
    /// The CA certificate (what clients and the server trust).
    pub ca_cert: String,
    /// The server certificate, signed by the CA, for [`SERVER_NAMES`].
    pub server_cert: String,
    /// The server certificate's private key (PKCS#8).
    pub server_key: String,
    /// A client certificate signed by the CA.
    pub client_cert: String,
    /// The client certificate's private key (PKCS#8).
    pub client_key: String,
}

/// Where [`TestPki::write`] put the files.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// `ca.pem`
    pub ca_cert: PathBuf,
    /// `server.pem`
    pub server_cert: PathBuf,
    /// `server.key`
    pub server_key: PathBuf,
    /// `client.pem`
    pub client_cert: PathBuf,
    /// `client.key`
    pub client_key: PathBuf,
}

impl TestPki {
    /// A fresh CA named after `name`, and its two certificates.
    pub fn generate(name: &str) -> TestPki {
        let ca_key = KeyPair::generate().expect("generate CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.distinguished_name.push(
            DnType::CommonName,
            format!("claims-aggregator test CA {name}"),
        );
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).expect("self-sign CA").pem();
        let issuer = Issuer::new(ca, ca_key);

        let leaf = |names: Vec<String>, common_name: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("generate key");
            let mut params = CertificateParams::new(names).expect("certificate params");
            params
                .distinguished_name
                .push(DnType::CommonName, common_name);
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let cert = params.signed_by(&key, &issuer).expect("sign certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            SERVER_NAMES.iter().map(|n| n.to_string()).collect(),
            "stub BFD",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(
            Vec::new(),
            "claims-aggregator test client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        TestPki {
            ca_cert,
            server_cert,
            server_key,
            client_cert,
            client_key,
        }
    }

    /// Writes `ca.pem`, `server.pem`, `server.key`, `client.pem` and
    /// `client.key` into `dir` (created if needed), replacing older ones.
    pub fn write(&self, dir: &Path) -> io::Result<PkiFiles> {
        std::fs::create_dir_all(dir)?;
        let files = PkiFiles {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        };
        for (path, text) in [
            (&files.ca_cert, &self.ca_cert),
            (&files.server_cert, &self.server_cert),
            (&files.server_key, &self.server_key),
            (&files.client_cert, &self.client_cert),
            (&files.client_key, &self.client_key),
        ] {
            std::fs::write(path, text)?;
        }
        Ok(files)
    }

    /// The stub's rustls configuration: its certificate, and, when
    /// `require_client_cert`, a client certificate signed by this CA required.
    pub fn server_config(&self, require_client_cert: bool) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions");
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(self.ca_cert.as_bytes()).expect("CA PEM"))
                .expect("CA certificate");
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain =
            vec![CertificateDer::from_pem_slice(self.server_cert.as_bytes()).expect("server PEM")];
        let key =
            PrivateKeyDer::from_pem_slice(self.server_key.as_bytes()).expect("server key PEM");
        builder
            .with_single_cert(chain, key)
            .expect("server certificate and key match")
    }
}
