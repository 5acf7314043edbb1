//! A whole export against the stub BFD over loopback HTTP: every EOB of every
//! page arrives exactly once, byte for byte, through pooled connections.

mod bfd_support;

use bfd_support::*;

#[actix::test]
async fn every_eob_of_every_page_arrives_exactly_once() {
    let claims = synthetic(11, 6.0);
    let stub = StubServer::start(StubConfig {
        pretty: true,
        ..stub_config(claims.clone())
    })
    .unwrap();
    let page_size = 3;
    let concurrency = 8;
    let patients = common::beneficiaries(60);
    let run = export(
        source(client(&stub.url()).page_size(page_size as u32)),
        &patients,
        concurrency,
        5,
    )
    .await;

    let want: Vec<String> = patients
        .iter()
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    for line in &run.data {
        assert!(
            !line.contains('\n') && !line.contains(": "),
            "compact: {line}"
        );
    }

    let progress = run.report.progress;
    assert_eq!(progress.patient_requests_processed, 60);
    assert_eq!(progress.patient_requests_errored, 0);
    assert_eq!(progress.eobs_written, want.len() as u64);

    // Every page was asked for once, and the test covers what it claims to.
    let generated: u64 = patients.iter().map(|p| generated(&claims, p)).sum();
    let pages: u64 = patients.iter().map(|p| pages(&claims, p, page_size)).sum();
    let stats = stub.stats().snapshot();
    assert_eq!(stats.requests, pages);
    assert_eq!(stats.ok, pages);
    assert_eq!(stats.eobs_served, generated);
    assert!(
        patients
            .iter()
            .filter(|p| bfd_support::pages(&claims, p, page_size) >= 3)
            .count()
            >= 10,
        "many patients have three pages or more"
    );
    assert!(
        (want.len() as u64) < generated,
        "the date filter dropped EOBs ending before {EARLIEST}"
    );
    assert_eq!(stats.job_ids, [JOB_ID]);
    // One pool for every fetcher on every arbiter: connections are reused.
    assert!(
        stats.connections * 4 <= stats.requests,
        "{} connections for {} requests",
        stats.connections,
        stats.requests
    );
    stub.stop().await;
}
