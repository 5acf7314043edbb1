//! Timeouts fire: a slow answer hits the request timeout on every attempt, a
//! server that never finishes the TLS handshake hits the connect timeout; the
//! beneficiary then gets one `timeout` OperationOutcome, long before the slow
//! server would have answered.

mod bfd_support;

use std::time::{Duration, Instant};

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

/// How long the slow stub takes; far beyond every timeout below.
const SLOW: Duration = Duration::from_secs(30);

#[actix::test]
async fn a_slow_answer_hits_the_request_timeout_on_every_attempt() {
    let claims = synthetic(6, 4.0);
    let healthy = common::beneficiaries(6);
    // Slow from its second page on: its first page must not be written alone.
    let slow = patients_with_pages(&claims, 2, 2, 20)
        .into_iter()
        .find(|p| !healthy.contains(p))
        .unwrap();
    let stub = StubServer::start(
        stub_config(claims.clone())
            .fault(&*slow, Fault::new(FaultKind::Slow(SLOW)).starting_page(1)),
    )
    .unwrap();
    let bfd = source(
        client(&stub.url())
            .page_size(2)
            .request_timeout(Duration::from_millis(300))
            .max_attempts(2),
    );
    let mut patients = healthy.clone();
    patients.push(slow.clone());
    let started = Instant::now();
    let run = export(bfd, &patients, 3, 7).await;
    let elapsed = started.elapsed();

    let want: Vec<String> = healthy
        .iter()
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    assert_eq!(run.failed(), std::slice::from_ref(&slow));
    let (code, text) = issue(run.error_of(&slow));
    assert_eq!(code, "timeout");
    assert!(
        text.contains("request timed out after 300 ms, after 2 attempts"),
        "{text}"
    );
    assert!(text.contains("startIndex=2"), "{text}");
    assert_eq!(stub.stats().requests_for(&slow), 1 + 2);
    assert!(
        elapsed < SLOW / 2,
        "the job waited for the slow server: {elapsed:?}"
    );
    stub.stop().await;
}

#[actix::test]
async fn a_server_that_never_completes_the_handshake_hits_the_connect_timeout() {
    // The kernel accepts the TCP connection; nobody ever answers the TLS hello.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = pki::TestPki::generate("timeouts")
        .write(dir.path())
        .unwrap();
    let url = format!("https://{}", silent.local_addr().unwrap());
    let bfd = source(
        client(&url)
            .ca_cert(&files.ca_cert)
            .connect_timeout(Duration::from_millis(200))
            .request_timeout(SLOW)
            .max_attempts(2),
    );
    let started = Instant::now();
    let error = fetch(&bfd, "-7").await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(error.code, "timeout", "{error}");
    assert!(
        error
            .message
            .contains("connect timed out after 200 ms, after 2 attempts"),
        "{error}"
    );
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < SLOW / 2, "{elapsed:?}");
    drop(silent);
}
