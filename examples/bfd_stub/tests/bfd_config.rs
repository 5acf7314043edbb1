//! `BfdConfig` is validated with errors that name the setting, and
//! `BfdSource::new` refuses certificate files it cannot use.

mod bfd_support;

use std::time::Duration;

use bfd_support::pki::TestPki;
use claims_aggregator::source::bfd::{self, BfdConfig};
use claims_aggregator::{BfdSource, Error};

fn refused(builder: bfd::BfdConfigBuilder) -> (String, String) {
    match builder.build() {
        Err(Error::Config { field, reason }) => (field.to_owned(), reason),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let config = BfdConfig::builder("https://prod-sbx.bfd.cms.gov")
        .build()
        .unwrap();
    assert_eq!(config.page_size(), bfd::DEFAULT_PAGE_SIZE);
    assert_eq!(config.since(), None);
    assert_eq!(config.earliest_date(), Some("2020-01-01"));
    assert_eq!(config.job_id(), None);
    assert_eq!(config.connect_timeout(), bfd::DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(config.request_timeout(), bfd::DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(config.max_attempts(), bfd::DEFAULT_MAX_ATTEMPTS);
    assert_eq!(config.backoff_base(), bfd::DEFAULT_BACKOFF_BASE);
    assert_eq!(config.backoff_max(), bfd::DEFAULT_BACKOFF_MAX);
    assert_eq!(config.max_response_bytes(), bfd::DEFAULT_MAX_RESPONSE_BYTES);
    assert_eq!(
        config.max_beneficiary_bytes(),
        bfd::DEFAULT_MAX_BENEFICIARY_BYTES
    );
    assert_eq!(config.max_pages(), bfd::DEFAULT_MAX_PAGES);
    // A sane bound: a few hundred MiB at most, above any one page.
    const {
        assert!(bfd::DEFAULT_MAX_BENEFICIARY_BYTES <= 512 << 20);
        assert!(bfd::DEFAULT_MAX_BENEFICIARY_BYTES > bfd::DEFAULT_MAX_RESPONSE_BYTES);
    }
    assert_eq!(config.ca_cert(), None);
    assert_eq!(config.client_cert(), None);
}

#[test]
fn bad_values_are_refused_with_the_setting_named() {
    let https = || BfdConfig::builder("https://bfd.example");
    let cases: Vec<(bfd::BfdConfigBuilder, &str, &str)> = vec![
        (
            BfdConfig::builder("http://bfd.example"),
            "base_url",
            "plain http is only allowed to a loopback host",
        ),
        (
            BfdConfig::builder("http://192.168.1.10:8080"),
            "base_url",
            "plain http is only allowed to a loopback host",
        ),
        (
            BfdConfig::builder("ftp://bfd.example"),
            "base_url",
            "the scheme must be https",
        ),
        (BfdConfig::builder("not a url"), "base_url", "is not a URL"),
        (
            https().page_size(0),
            "page_size",
            "is not between 1 and 10000",
        ),
        (
            https().page_size(10_001),
            "page_size",
            "is not between 1 and 10000",
        ),
        (https().since("yesterday"), "since", "is not a date"),
        (
            https().since("2020-02-13T00:00:00"),
            "since",
            "is not a date",
        ),
        (
            https().earliest_date("2020-02-30"),
            "earliest_date",
            "is not a date",
        ),
        (
            https().job_id("a\nb"),
            "job_id",
            "cannot be sent as the BULK-JOB-ID header",
        ),
        (https().job_id(""), "job_id", "cannot be sent"),
        (
            https().connect_timeout(Duration::ZERO),
            "connect_timeout",
            "longer than zero",
        ),
        (
            https().request_timeout(Duration::ZERO),
            "request_timeout",
            "longer than zero",
        ),
        (https().max_attempts(0), "max_attempts", "at least 1"),
        (
            https().backoff_base(Duration::from_secs(60)),
            "backoff_base",
            "longer than backoff_max",
        ),
        (
            https().max_response_bytes(0),
            "max_response_bytes",
            "at least 1",
        ),
        (
            https().max_beneficiary_bytes(0),
            "max_beneficiary_bytes",
            "at least 1",
        ),
        (https().max_pages(0), "max_pages", "at least 1"),
        (
            https().client_cert("c.pem"),
            "client_key",
            "needs its private key",
        ),
        (
            https().client_key("k.pem"),
            "client_cert",
            "without its client certificate",
        ),
        (
            BfdConfig::builder("http://127.0.0.1:8080").ca_cert("ca.pem"),
            "ca_cert",
            "is plain http",
        ),
        (
            BfdConfig::builder("http://127.0.0.1:8080")
                .client_cert("c.pem")
                .client_key("k.pem"),
            "client_cert",
            "is plain http",
        ),
    ];
    for (builder, field, words) in cases {
        let (got_field, reason) = refused(builder);
        assert_eq!(got_field, field, "{reason}");
        assert!(reason.contains(words), "{field}: {reason}");
    }
    // The Display form names the field too.
    let error = BfdConfig::builder("http://bfd.example")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().starts_with("invalid config: base_url: "),
        "{error}"
    );
}

#[test]
fn unusable_certificate_files_are_refused_when_the_source_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let files = TestPki::generate("config").write(dir.path()).unwrap();
    let stranger = TestPki::generate("stranger")
        .write(&dir.path().join("stranger"))
        .unwrap();
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let missing = dir.path().join("missing.pem");
    let https = || BfdConfig::builder("https://127.0.0.1:8443");
    let build = |builder: bfd::BfdConfigBuilder| BfdSource::new(builder.build().unwrap());

    match build(https().ca_cert(&missing)) {
        Err(Error::Io { op, path, .. }) => assert_eq!((op, path), ("read", missing.clone())),
        other => panic!("{other:?}"),
    }
    let cases = [
        (https().ca_cert(&not_pem), "ca_cert", "no PEM certificate"),
        (
            https()
                .ca_cert(&files.ca_cert)
                .client_cert(&not_pem)
                .client_key(&files.client_key),
            "client_cert",
            "no PEM certificate",
        ),
        (
            https()
                .ca_cert(&files.ca_cert)
                .client_cert(&files.client_cert)
                .client_key(&files.client_cert),
            "client_key",
            "no usable PEM private key",
        ),
        (
            https()
                .ca_cert(&files.ca_cert)
                .client_cert(&files.client_cert)
                .client_key(&stranger.client_key),
            "client_key",
            "client.key with",
        ),
    ];
    for (builder, field, words) in cases {
        match build(builder) {
            Err(Error::Config { field: got, reason }) => {
                assert_eq!(got, field, "{reason}");
                assert!(reason.contains(words), "{field}: {reason}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    build(
        https()
            .ca_cert(&files.ca_cert)
            .client_cert(&files.client_cert)
            .client_key(&files.client_key),
    )
    .unwrap();
}

#[test]
fn pem_files_are_read_only_up_to_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let files = TestPki::generate("limits").write(dir.path()).unwrap();
    // Sparse: a file one byte over the limit costs no disk.
    let big = dir.path().join("big.pem");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(bfd::MAX_PEM_BYTES + 1)
        .unwrap();
    let zero = std::path::Path::new("/dev/zero");
    let https = || BfdConfig::builder("https://127.0.0.1:8443");
    let cases = [
        (https().ca_cert(zero), "ca_cert", zero),
        (https().ca_cert(&big), "ca_cert", big.as_path()),
        (
            https()
                .ca_cert(&files.ca_cert)
                .client_cert(&big)
                .client_key(&files.client_key),
            "client_cert",
            big.as_path(),
        ),
        (
            https()
                .ca_cert(&files.ca_cert)
                .client_cert(&files.client_cert)
                .client_key(zero),
            "client_key",
            zero,
        ),
    ];
    for (builder, field, path) in cases {
        match BfdSource::new(builder.build().unwrap()) {
            Err(Error::Config { field: got, reason }) => {
                assert_eq!(got, field, "{reason}");
                assert_eq!(
                    reason,
                    format!(
                        "{}: larger than 1048576 bytes, the limit for a PEM file",
                        path.display()
                    )
                );
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}
