//! Retries: 500s and 429s are retried with backoff (429 honouring
//! `Retry-After`) until every EOB has arrived exactly once; a `Retry-After`
//! longer than the longest allowed wait ends the beneficiary as `throttled` at
//! once; attempts are bounded; client errors are not retried; refused
//! connections are retried and then reported.

mod bfd_support;

use std::time::{Duration, Instant};

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

#[actix::test]
async fn every_other_request_failing_with_500_still_delivers_everything_once() {
    let claims = synthetic(21, 5.0);
    let stub = StubServer::start(StubConfig {
        error_every: Some(2),
        ..stub_config(claims.clone())
    })
    .unwrap();
    let page_size = 2;
    let patients = common::beneficiaries(30);
    let run = export(
        source(client(&stub.url()).page_size(page_size as u32)),
        &patients,
        4,
        5,
    )
    .await;

    let want: Vec<String> = patients
        .iter()
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    // Request 2k of each patient fails, and its retry (2k + 1) succeeds: a
    // patient of P pages costs 2P - 1 requests, P - 1 of them failed.
    let pages: Vec<u64> = patients
        .iter()
        .map(|p| pages(&claims, p, page_size))
        .collect();
    let stats = stub.stats().snapshot();
    assert_eq!(
        stats.server_errors,
        pages.iter().map(|p| p - 1).sum::<u64>()
    );
    assert_eq!(stats.requests, pages.iter().map(|p| 2 * p - 1).sum::<u64>());
    assert!(stats.server_errors >= 30, "{} retries", stats.server_errors);
    stub.stop().await;
}

#[actix::test]
async fn throttling_is_retried_after_what_retry_after_says() {
    let claims = synthetic(21, 5.0);
    let stub = StubServer::start(StubConfig {
        throttle_every: Some(2),
        retry_after_secs: 1,
        ..stub_config(claims.clone())
    })
    .unwrap();
    // Two patients of exactly two pages: each meets one 429, on its second request.
    let patients: Vec<String> = patients_with_pages(&claims, 2, 2, 20)
        .into_iter()
        .filter(|p| pages(&claims, p, 2) == 2)
        .take(2)
        .collect();
    assert_eq!(patients.len(), 2);
    // The backoff alone would wait at most 20 ms.
    let bfd = source(
        client(&stub.url())
            .page_size(2)
            .backoff_max(Duration::from_secs(5)),
    );
    let started = Instant::now();
    let fetched = futures::future::join_all(patients.iter().map(|p| fetch(&bfd, p))).await;
    let elapsed = started.elapsed();
    for (patient, got) in patients.iter().zip(fetched) {
        assert_same_lines(
            &got.unwrap(),
            &expected(&claims, patient, Some(EARLIEST), None),
        );
    }
    assert_eq!(stub.stats().snapshot().throttled, 2);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    stub.stop().await;
}

#[actix::test]
async fn a_retry_after_longer_than_the_longest_wait_ends_as_throttled_at_once() {
    let claims = synthetic(21, 5.0);
    let patients = common::beneficiaries(6);
    let (throttled, unavailable) = (&patients[1], &patients[4]);
    let stub = StubServer::start(StubConfig {
        retry_after_secs: 999_999,
        ..stub_config(claims.clone())
            .fault(throttled, Fault::new(FaultKind::Status(429)))
            .fault(unavailable, Fault::new(FaultKind::Status(503)))
    })
    .unwrap();
    let started = Instant::now();
    let run = export(
        source(
            client(&stub.url())
                .max_attempts(5)
                .backoff_max(Duration::from_millis(50)),
        ),
        &patients,
        2,
        2,
    )
    .await;
    // Given up at the first answer: no wait, no second request.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let mut failed = vec![throttled.clone(), unavailable.clone()];
    failed.sort();
    assert_eq!(run.failed(), failed);
    for (patient, status) in [
        (throttled, "HTTP 429 Too Many Requests"),
        (unavailable, "HTTP 503 Service Unavailable"),
    ] {
        assert_eq!(stub.stats().requests_for(patient), 1, "{patient}");
        let (code, text) = issue(run.error_of(patient));
        assert_eq!(code, "throttled", "{text}");
        assert!(
            text.contains(&format!(
                "beneficiary {patient}: throttled: server asked to wait 999999 s, \
                 longer than backoff_max allows (50 ms)"
            )),
            "{text}"
        );
        assert!(text.contains(status), "{text}");
    }
    let want: Vec<String> = patients
        .iter()
        .filter(|p| !failed.contains(p))
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    stub.stop().await;
}

#[actix::test]
async fn attempts_are_bounded_and_client_errors_are_not_retried() {
    let claims = synthetic(21, 5.0);
    let patients = common::beneficiaries(4);
    // `Retry-After: 0`: within the longest wait, so the attempts run out.
    let stub = StubServer::start(StubConfig {
        retry_after_secs: 0,
        ..stub_config(claims.clone())
            .fault(&*patients[0], Fault::new(FaultKind::Status(503)))
            .fault(&*patients[1], Fault::new(FaultKind::Status(429)))
            .fault(&*patients[2], Fault::new(FaultKind::Status(403)))
    })
    .unwrap();
    let bfd = source(client(&stub.url()).max_attempts(4));
    let cases = [
        (&patients[0], 4, "transient", "HTTP 503 Service Unavailable"),
        (&patients[1], 4, "throttled", "HTTP 429 Too Many Requests"),
        (&patients[2], 1, "security", "HTTP 403 Forbidden"),
    ];
    for (patient, attempts, code, text) in cases {
        let error = fetch(&bfd, patient).await.unwrap_err();
        assert_eq!(stub.stats().requests_for(patient), attempts, "{patient}");
        assert_eq!(error.code, code, "{error}");
        assert!(error.message.contains(text), "{error}");
        assert!(
            error.message.contains(&format!("beneficiary {patient}")),
            "{error}"
        );
        assert!(
            error
                .message
                .contains(&format!("GET {}/v2/fhir/", stub.url())),
            "{error}"
        );
        assert_eq!(
            error
                .message
                .contains(&format!(", after {attempts} attempts (GET")),
            attempts > 1,
            "{error}"
        );
        // The server's own words are quoted.
        assert!(
            error.message.contains("stub BFD: injected status"),
            "{error}"
        );
    }
    // A healthy patient on the same stub is unaffected.
    let healthy = &patients[3];
    assert_same_lines(
        &fetch(&bfd, healthy).await.unwrap(),
        &expected(&claims, healthy, Some(EARLIEST), None),
    );
    stub.stop().await;
}

#[actix::test]
async fn a_refused_connection_is_retried_then_reported() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let bfd = source(client(&url));
    let error = fetch(&bfd, "-1").await.unwrap_err();
    assert_eq!(error.code, "transient", "{error}");
    assert!(error.message.contains("cannot connect"), "{error}");
    assert!(error.message.contains(", after 3 attempts (GET"), "{error}");
    assert!(
        error.message.contains(&format!(
            "GET {url}/v2/fhir/ExplanationOfBenefit?patient=-1&"
        )),
        "{error}"
    );
}
