//! Filtering as AB2D does: EOBs whose billing period ends before the earliest
//! allowed date and resources that are not EOBs are dropped; `since` is sent
//! as `_lastUpdated=ge…`, and the stub BFD keeps exactly the EOBs updated at
//! or after that instant, offsets and milliseconds included.

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
                &expected(&claims, patient, Some(EARLIEST), Some(since)),
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

#[actix::test]
async fn since_reaches_bfd_as_an_instant_with_its_offset() {
    let claims = synthetic(9, 5.0);
    let stub = StubServer::start(stub_config(claims.clone())).unwrap();
    // An EOB the client keeps, and its lastUpdated instant.
    let (patient, eob) = common::beneficiaries(25)
        .into_iter()
        .find_map(|patient| {
            let line = expected(&claims, &patient, Some(EARLIEST), None).pop()?;
            Some((
                patient,
                serde_json::from_str::<serde_json::Value>(&line).unwrap(),
            ))
        })
        .expect("a patient with EOBs");
    let id = eob["id"].as_str().unwrap().to_owned();
    let updated = time::OffsetDateTime::parse(
        eob["meta"]["lastUpdated"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // The same instant seen from UTC−5, then one millisecond later from UTC+14:
    // kept, then not. A comparison of days, or of texts, gets one of them wrong.
    let in_zone = |at: time::OffsetDateTime, hours: i8| {
        let offset = time::UtcOffset::from_hms(hours, 0, 0).unwrap();
        let text = at
            .to_offset(offset)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert!(text.ends_with(":00"), "{text} has its offset");
        text
    };
    for (since, kept) in [
        (in_zone(updated, -5), true),
        (
            in_zone(updated + time::Duration::milliseconds(1), 14),
            false,
        ),
    ] {
        let bfd = source(client(&stub.url()).since(&since));
        let got = fetch(&bfd, &patient).await.unwrap();
        let ids: Vec<String> = got
            .iter()
            .map(|line| {
                serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids.contains(&id), kept, "since {since}: {ids:?}");
        assert_same_lines(
            &got,
            &expected(&claims, &patient, Some(EARLIEST), Some(&since)),
        );
    }
    assert_eq!(stub.stats().snapshot().refused, 0);
    stub.stop().await;
}
