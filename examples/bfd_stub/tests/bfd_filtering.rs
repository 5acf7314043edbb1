//! Filtering as AB2D does: EOBs whose billing period ends before the earliest
//! allowed date and resources that are not EOBs are dropped; `since` is sent
//! as `_lastUpdated=ge…`.

mod bfd_support;

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

#[actix::test]
async fn eobs_ending_before_the_earliest_date_are_dropped() {
    let claims = synthetic(5, 5.0);
    let stub = StubServer::start(stub_config(claims.clone())).unwrap();
    let patients = common::beneficiaries(25);
    let default = source(client(&stub.url()));
    let later = source(client(&stub.url()).earliest_date("2023-06-01"));
    let unfiltered = source(client(&stub.url()).no_earliest_date());
    let (mut kept, mut all) = (0, 0);
    for patient in &patients {
        let by_default = fetch(&default, patient).await.unwrap();
        assert_same_lines(
            &by_default,
            &expected(&claims, patient, Some(EARLIEST), None),
        );
        assert_same_lines(
            &fetch(&later, patient).await.unwrap(),
            &expected(&claims, patient, Some("2023-06-01"), None),
        );
        let everything = fetch(&unfiltered, patient).await.unwrap();
        assert_same_lines(&everything, &expected(&claims, patient, None, None));
        kept += by_default.len();
        all += everything.len();
    }
    assert!(0 < kept && kept < all, "{kept} of {all} EOBs kept");
    stub.stop().await;
}

#[actix::test]
async fn resources_that_are_not_eobs_are_dropped() {
    let claims = synthetic(5, 5.0);
    let patients = patients_with_pages(&claims, 2, 2, 3);
    let mut config = stub_config(claims.clone());
    for patient in &patients {
        config = config.fault(patient.clone(), Fault::new(FaultKind::ForeignEntries));
    }
    let stub = StubServer::start(config).unwrap();
    let bfd = source(client(&stub.url()).page_size(2).no_earliest_date());
    for patient in &patients {
        let got = fetch(&bfd, patient).await.unwrap();
        assert_same_lines(&got, &expected(&claims, patient, None, None));
        assert!(got
            .iter()
            .all(|l| l.starts_with(r#"{"resourceType":"ExplanationOfBenefit""#)));
    }
    stub.stop().await;
}

#[actix::test]
async fn since_is_sent_as_last_updated() {
    let claims = synthetic(9, 5.0);
    let stub = StubServer::start(stub_config(claims.clone())).unwrap();
    let patients = common::beneficiaries(25);
    for since in ["2022-01-01", "2022-01-01T00:00:00.000-05:00"] {
        let bfd = source(client(&stub.url()).page_size(2).since(since));
        let (mut kept, mut all) = (0, 0);
        for patient in &patients {
            let got = fetch(&bfd, patient).await.unwrap();
            assert_same_lines(
                &got,
                &expected(&claims, patient, Some(EARLIEST), Some("2022-01-01")),
            );
            kept += got.len();
            all += expected(&claims, patient, Some(EARLIEST), None).len();
        }
        assert!(
            0 < kept && kept < all,
            "since {since}: {kept} of {all} EOBs"
        );
    }
    assert_eq!(stub.stats().snapshot().refused, 0);
    stub.stop().await;
}
