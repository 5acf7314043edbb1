//! A beneficiary's pages are bounded: a server sending huge pages ends that
//! beneficiary with one `too-costly` OperationOutcome once its pages pass
//! `max_beneficiary_bytes` (and no further byte is read), while every other
//! beneficiary is exported exactly once; `next` links that never end stop at
//! `max_pages`, and a `next` link back to a page already fetched is refused.

mod bfd_support;

use std::time::{Duration, Instant};

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

const MIB: u64 = 1024 * 1024;

#[actix::test]
async fn huge_pages_cost_their_beneficiary_alone_one_bounded_outcome() {
    let claims = synthetic(33, 5.0);
    let patients = common::beneficiaries(9);
    let hostile = &patients[4];
    // Pages of 3 MiB forever: after three of them (9 MiB) the fourth would go
    // past the 10 MiB bound, and is refused from its Content-Length.
    let stub = StubServer::start(
        stub_config(claims.clone()).fault(hostile, Fault::new(FaultKind::HugePages(3 * MIB))),
    )
    .unwrap();
    let started = Instant::now();
    let run = export(
        source(
            client(&stub.url())
                .max_response_bytes(4 * MIB)
                .max_beneficiary_bytes(10 * MIB),
        ),
        &patients,
        3,
        2,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.failed(), std::slice::from_ref(hostile));
    let (code, text) = issue(run.error_of(hostile));
    assert_eq!(code, "too-costly", "{text}");
    assert!(
        text.contains(&format!(
            "BFD: beneficiary {hostile}: the pages of this beneficiary are larger than \
             max_beneficiary_bytes (10485760 bytes): 9437184 bytes received before this \
             page, and its response of 3145728 bytes goes past the rest"
        )),
        "{text}"
    );
    assert_eq!(stub.stats().requests_for(hostile), 4);
    assert_eq!(run.report.progress.patient_requests_errored, 1);
    // Everyone else exactly once, and nothing of the hostile beneficiary.
    let want: Vec<String> = patients
        .iter()
        .filter(|p| *p != hostile)
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert!(!want.is_empty());
    assert_same_lines(&run.data, &want);
    stub.stop().await;
}

#[actix::test]
async fn next_links_that_never_end_stop_at_max_pages() {
    let claims = synthetic(33, 5.0);
    let patients = common::beneficiaries(3);
    let endless = &patients[1];
    let stub = StubServer::start(
        stub_config(claims.clone()).fault(endless, Fault::new(FaultKind::EndlessNext)),
    )
    .unwrap();
    let bfd = source(client(&stub.url()).page_size(2).max_pages(25));
    let error = fetch(&bfd, endless).await.unwrap_err();
    assert_eq!(error.code, "too-costly", "{error}");
    assert!(
        error.message.contains(&format!(
            "BFD: beneficiary {endless}: the server keeps sending next links: more than 25 \
             pages (max_pages) (GET {}/v2/fhir/ExplanationOfBenefit?startIndex=50&",
            stub.url()
        )),
        "{error}"
    );
    assert_eq!(stub.stats().requests_for(endless), 25);
    // The bound is per beneficiary: the others are whole.
    for patient in [&patients[0], &patients[2]] {
        assert_same_lines(
            &fetch(&bfd, patient).await.unwrap(),
            &expected(&claims, patient, Some(EARLIEST), None),
        );
    }
    stub.stop().await;
}

#[actix::test]
async fn a_next_link_back_to_a_page_already_fetched_is_refused() {
    let claims = synthetic(33, 5.0);
    let page_size = 2;
    let looping = patients_with_pages(&claims, page_size, 3, 1).remove(0);
    let stub = StubServer::start(
        stub_config(claims.clone()).fault(&*looping, Fault::new(FaultKind::RepeatedNext)),
    )
    .unwrap();
    let bfd = source(client(&stub.url()).page_size(page_size as u32));
    let error = fetch(&bfd, &looping).await.unwrap_err();
    assert_eq!(error.code, "processing", "{error}");
    assert!(
        error.message.contains("?startIndex=2&")
            && error
                .message
                .contains("loops back to a page already fetched"),
        "{error}"
    );
    // The last page links `startIndex=0`, which the first request (without
    // startIndex) did not name: fetched once more, its next link repeats.
    let pages = pages(&claims, &looping, page_size);
    assert_eq!(stub.stats().requests_for(&looping), pages + 1);
    stub.stop().await;
}
