//! 404: BFD's answer for a beneficiary it does not know. On the first page it
//! means no claims (no data, no error); on a later page it is an error.

mod bfd_support;

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

#[actix::test]
async fn a_404_beneficiary_yields_no_data_and_no_error() {
    let claims = synthetic(3, 4.0);
    let patients = common::beneficiaries(12);
    // Three patients that do have claims the client would keep.
    let unknown: Vec<&String> = patients
        .iter()
        .filter(|p| !expected(&claims, p, Some(EARLIEST), None).is_empty())
        .take(3)
        .collect();
    assert_eq!(unknown.len(), 3);
    let mut config = stub_config(claims.clone());
    for patient in &unknown {
        config = config.fault(*patient, Fault::new(FaultKind::NotFound));
    }
    let stub = StubServer::start(config).unwrap();
    let run = export(source(client(&stub.url())), &patients, 3, 4).await;

    let want: Vec<String> = patients
        .iter()
        .filter(|p| !unknown.contains(p))
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    assert_eq!(
        run.report
            .outputs_of(claims_aggregator::FileKind::Error)
            .count(),
        0
    );
    assert_eq!(run.report.progress.patient_requests_processed, 12);
    assert_eq!(run.report.progress.patient_requests_errored, 0);
    let stats = stub.stats().snapshot();
    assert_eq!(stats.not_found, 3);
    for patient in unknown {
        assert_eq!(
            stub.stats().requests_for(patient),
            1,
            "a 404 is not retried"
        );
    }
    stub.stop().await;
}

#[actix::test]
async fn a_404_on_a_later_page_is_an_error_and_keeps_no_partial_data() {
    let claims = synthetic(3, 4.0);
    let patient = patients_with_pages(&claims, 2, 2, 1).remove(0);
    let stub = StubServer::start(
        stub_config(claims.clone())
            .fault(&*patient, Fault::new(FaultKind::NotFound).starting_page(1)),
    )
    .unwrap();
    let run = export(
        source(client(&stub.url()).page_size(2).no_earliest_date()),
        std::slice::from_ref(&patient),
        1,
        1,
    )
    .await;
    assert!(
        run.data.is_empty(),
        "page 1 must not be written alone: {:?}",
        run.data
    );
    let (code, text) = issue(run.error_of(&patient));
    assert_eq!(code, "not-found");
    assert!(text.contains("HTTP 404 Not Found on a next page"), "{text}");
    assert!(text.contains("startIndex=2"), "{text}");
    stub.stop().await;
}
