//! Mutual TLS with certificates made at test time (rcgen): a whole export in
//! which every EOB arrives exactly once, and refusals when the client has no
//! certificate, a certificate of another CA, or does not trust the server.

mod bfd_support;

use bfd_support::pki::{PkiFiles, TestPki};
use bfd_support::*;

/// A stub serving TLS with `pki`, requiring a client certificate of its CA.
fn tls_stub(pki: &TestPki, claims: &claims_aggregator::SyntheticConfig) -> StubServer {
    StubServer::start(StubConfig {
        tls: Some(pki.server_config(true)),
        ..stub_config(claims.clone())
    })
    .unwrap()
}

fn write(pki: &TestPki) -> (tempfile::TempDir, PkiFiles) {
    let dir = tempfile::tempdir().unwrap();
    let files = pki.write(dir.path()).unwrap();
    (dir, files)
}

#[actix::test]
async fn a_whole_export_over_mutual_tls_delivers_every_eob_once() {
    let claims = synthetic(13, 5.0);
    let pki = TestPki::generate("export");
    let (_dir, files) = write(&pki);
    let stub = tls_stub(&pki, &claims);
    assert!(stub.url().starts_with("https://127.0.0.1:"));
    let concurrency = 4;
    let patients = common::beneficiaries(24);
    let bfd = source(
        client(&stub.url())
            .page_size(2)
            .ca_cert(&files.ca_cert)
            .client_cert(&files.client_cert)
            .client_key(&files.client_key),
    );
    let run = export(bfd, &patients, concurrency, 4).await;

    let want: Vec<String> = patients
        .iter()
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let stats = stub.stats().snapshot();
    let pages: u64 = patients.iter().map(|p| pages(&claims, p, 2)).sum();
    assert_eq!(stats.requests, pages);
    assert!(
        stats.connections * 4 <= stats.requests,
        "{} TLS connections for {} requests",
        stats.connections,
        stats.requests
    );
    stub.stop().await;
}

/// Fetches three patients through a whole job and checks that each failed
/// with one OperationOutcome whose message contains `words`, and that the stub
/// answered nothing.
async fn assert_refused(bfd: claims_aggregator::BfdSource, stub: &StubServer, words: &str) {
    let patients = common::beneficiaries(3);
    let run = export(bfd, &patients, 2, 2).await;
    assert!(run.data.is_empty(), "{:?}", run.data);
    assert_eq!(run.failed(), patients);
    for patient in &patients {
        let (code, text) = issue(run.error_of(patient));
        assert!(text.contains(words), "{code}: {text}");
        assert!(
            text.contains(&format!("GET {}/v2/fhir/", stub.url())),
            "{text}"
        );
    }
    let stats = stub.stats().snapshot();
    assert_eq!((stats.requests, stats.connections), (0, 0));
}

#[actix::test]
async fn a_client_without_a_certificate_is_refused() {
    let claims = synthetic(13, 5.0);
    let pki = TestPki::generate("server");
    let (_dir, files) = write(&pki);
    let stub = tls_stub(&pki, &claims);
    let bfd = source(client(&stub.url()).ca_cert(&files.ca_cert));
    assert_refused(bfd, &stub, "TLS: received fatal alert: CertificateRequired").await;
    stub.stop().await;
}

#[actix::test]
async fn a_client_certificate_of_another_ca_is_refused() {
    let claims = synthetic(13, 5.0);
    let pki = TestPki::generate("server");
    let (_dir, files) = write(&pki);
    let stranger = TestPki::generate("stranger");
    let (_other_dir, other) = write(&stranger);
    let stub = tls_stub(&pki, &claims);
    let bfd = source(
        client(&stub.url())
            .ca_cert(&files.ca_cert)
            .client_cert(&other.client_cert)
            .client_key(&other.client_key),
    );
    assert_refused(bfd, &stub, "TLS: received fatal alert").await;
    stub.stop().await;
}

#[actix::test]
async fn a_server_the_ca_bundle_does_not_vouch_for_is_refused() {
    let claims = synthetic(13, 5.0);
    let pki = TestPki::generate("server");
    let stub = tls_stub(&pki, &claims);
    // The client trusts another CA only (and presents that CA's certificate).
    let stranger = TestPki::generate("stranger");
    let (_dir, other) = write(&stranger);
    let bfd = source(
        client(&stub.url())
            .ca_cert(&other.ca_cert)
            .client_cert(&other.client_cert)
            .client_key(&other.client_key),
    );
    let error = fetch(&bfd, "-5").await.unwrap_err();
    assert_eq!(error.code, "security", "{error}");
    assert!(
        error
            .message
            .contains("TLS: invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    assert!(!error.message.contains("attempts"), "not retried: {error}");
    assert_refused(bfd, &stub, "TLS: invalid peer certificate").await;
    stub.stop().await;
}
