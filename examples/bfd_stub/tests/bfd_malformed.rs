//! Bodies that are not what BFD promises — not JSON, not a Bundle, cut JSON,
//! a connection cut mid-body, larger than the limit with or without
//! `Content-Length` — each yield exactly one OperationOutcome for that
//! beneficiary and none of its EOBs, and the rest of the job goes on.

mod bfd_support;

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

const LIMIT: u64 = 1024 * 1024;

#[actix::test]
async fn each_malformed_body_is_one_operation_outcome_for_its_beneficiary() {
    let claims = synthetic(8, 5.0);
    let healthy = common::beneficiaries(10);
    // (fault, from page, FHIR code, words of the message, attempts made)
    let cases = [
        (
            FaultKind::NotJson,
            0,
            "structure",
            "body is not a FHIR Bundle",
            1,
        ),
        (
            FaultKind::NotBundle,
            1,
            "structure",
            "body is a FHIR OperationOutcome, not a Bundle",
            2,
        ),
        (FaultKind::CutJson, 1, "structure", "body is cut off", 2),
        (
            FaultKind::Truncated,
            1,
            "incomplete",
            "response body cut off",
            1 + 3,
        ),
        (
            FaultKind::Oversized,
            0,
            "too-costly",
            "bytes is larger than the limit of 1048576 bytes",
            1,
        ),
        (
            FaultKind::OversizedChunked,
            1,
            "too-costly",
            "larger than the limit of 1048576 bytes (cut off)",
            2,
        ),
    ];
    let mut config = StubConfig {
        pretty: true,
        ..stub_config(claims.clone())
    };
    // Other patients of two pages or more, so that faults from page 1 on
    // follow a good first page.
    let faulty: Vec<String> = patients_with_pages(&claims, 2, 2, 40)
        .into_iter()
        .filter(|p| !healthy.contains(p))
        .take(cases.len())
        .collect();
    assert_eq!(faulty.len(), cases.len());
    for (patient, (kind, from_page, ..)) in faulty.iter().zip(&cases) {
        config = config.fault(patient, Fault::new(kind.clone()).starting_page(*from_page));
    }
    let oversize = config.oversize_bytes;
    let stub = StubServer::start(config).unwrap();
    let mut patients = healthy.clone();
    patients.extend(faulty.iter().cloned());

    let bfd = source(client(&stub.url()).page_size(2).max_response_bytes(LIMIT));
    let run = export(bfd, &patients, 4, 4).await;

    let want: Vec<String> = healthy
        .iter()
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    let mut failed = faulty.clone();
    failed.sort();
    assert_eq!(
        run.failed(),
        failed,
        "exactly one OperationOutcome per faulty beneficiary"
    );
    assert_eq!(run.errors.len(), cases.len());
    for (patient, (kind, _, code, words, attempts)) in faulty.iter().zip(&cases) {
        let (got_code, text) = issue(run.error_of(patient));
        assert_eq!(got_code, *code, "{kind:?}: {text}");
        assert!(text.contains(words), "{kind:?}: {text}");
        assert!(
            text.contains(&format!("BFD: beneficiary {patient}: ")),
            "{text}"
        );
        assert_eq!(
            stub.stats().requests_for(patient),
            *attempts,
            "{kind:?}: {text}"
        );
    }
    assert_eq!(
        run.report.progress.patient_requests_errored,
        cases.len() as u64
    );
    // The chunked giant was cut off early, not read to its end.
    let sent = stub.stats().snapshot().padding_bytes;
    assert!(sent < oversize / 2, "{sent} of {oversize} bytes sent");
    stub.stop().await;
}
