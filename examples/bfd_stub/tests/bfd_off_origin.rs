//! A `next` link to another scheme, host or port is refused before anything
//! is sent there: it would present the client certificate to a server that is
//! not BFD. Links on the same origin, relative ones included, are followed.

mod bfd_support;

use bfd_support::stub::{Fault, FaultKind};
use bfd_support::*;

#[actix::test]
async fn an_off_origin_next_link_is_refused_and_never_requested() {
    let claims = synthetic(4, 4.0);
    // The other server the link points to: it must never hear from us.
    let spy = StubServer::start(stub_config(claims.clone())).unwrap();
    let patients = common::beneficiaries(6);
    let lured = &patients[2];
    let stub = StubServer::start(
        stub_config(claims.clone()).fault(lured, Fault::new(FaultKind::OffOrigin(spy.url()))),
    )
    .unwrap();
    let run = export(source(client(&stub.url())), &patients, 2, 3).await;

    let want: Vec<String> = patients
        .iter()
        .filter(|p| *p != lured)
        .flat_map(|p| expected(&claims, p, Some(EARLIEST), None))
        .collect();
    assert_same_lines(&run.data, &want);
    assert_eq!(run.failed(), std::slice::from_ref(lured));
    let (code, text) = issue(run.error_of(lured));
    assert_eq!(code, "security");
    assert!(
        text.contains(&format!(
            "refused next link to another origin ({}): it would receive the client certificate",
            spy.url()
        )),
        "{text}"
    );
    assert_eq!(spy.stats().snapshot().requests, 0);
    assert_eq!(spy.stats().snapshot().connections, 0);
    assert_eq!(stub.stats().requests_for(lured), 1);
    spy.stop().await;
    stub.stop().await;
}

#[actix::test]
async fn another_scheme_host_or_port_is_another_origin() {
    let claims = synthetic(4, 4.0);
    let patient = common::beneficiaries(1).remove(0);
    // Learn a free port, then serve there with next links that differ from
    // the stub's own origin in one part each.
    let probe = StubServer::start(stub_config(claims.clone())).unwrap();
    let port = probe.addr().port();
    probe.stop().await;
    let other_port = if port == u16::MAX { port - 1 } else { port + 1 };
    let elsewhere = [
        format!("https://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://127.0.0.2:{port}"),
        format!("http://127.0.0.1:{other_port}"),
        "https://bfd.invalid:8443".to_owned(),
    ];
    for base in elsewhere {
        let stub = StubServer::start(StubConfig {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            ..stub_config(claims.clone())
                .fault(&*patient, Fault::new(FaultKind::OffOrigin(base.clone())))
        })
        .unwrap();
        let error = fetch(&source(client(&stub.url())), &patient)
            .await
            .unwrap_err();
        assert_eq!(error.code, "security", "{base}: {error}");
        assert!(
            error
                .message
                .contains(&format!("refused next link to another origin ({base})")),
            "{base}: {error}"
        );
        assert_eq!(stub.stats().snapshot().requests, 1, "{base}");
        stub.stop().await;
    }
}

#[actix::test]
async fn relative_next_links_are_followed_on_the_same_origin() {
    let claims = synthetic(4, 4.0);
    let patients = patients_with_pages(&claims, 1, 3, 3);
    let stub = StubServer::start(StubConfig {
        relative_links: true,
        ..stub_config(claims.clone())
    })
    .unwrap();
    let bfd = source(client(&stub.url()).page_size(1).no_earliest_date());
    let mut pages_total = 0;
    for patient in &patients {
        let got = fetch(&bfd, patient).await.unwrap();
        assert_same_lines(&got, &expected(&claims, patient, None, None));
        pages_total += pages(&claims, patient, 1);
    }
    assert_eq!(stub.stats().snapshot().requests, pages_total);
    stub.stop().await;
}
