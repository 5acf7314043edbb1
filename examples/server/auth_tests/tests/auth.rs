//! SMART Backend Services authorization over real HTTP: the token endpoint's
//! checks of a client assertion (signature, iss/sub, aud, exp, jti replay),
//! bearer tokens on kick-off, status, download and DELETE, and what each
//! client may export and see.

#[path = "../../tests/common/mod.rs"]
mod common;

mod clients;

use reqwest::StatusCode;
use serde_json::{json, Value};
use server::service;

use clients::*;
use common::*;

/// A service with two clients: `ec-client` (an ES384 key, contract Z0001)
/// and `rsa-client` (an RS384 key, contracts Z0002 and Z0003, the second of
/// which the service does not serve). Answers the base URL, the token URL,
/// the EC key and the tempdir.
fn start() -> (String, String, Key, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let ec = es384("ec-1");
    let clients = clients_file(
        root.path(),
        &[
            ("ec-client", vec![&ec.jwk], &["Z0001"]),
            ("rsa-client", vec![&rs384().jwk], &["Z0002", "Z0003"]),
        ],
    );
    let args = settings(
        root.path(),
        &[
            "--contract",
            "Z0001=0..8",
            "--contract",
            "Z0002=8..16",
            "--clients",
            clients.to_str().unwrap(),
        ],
    );
    let base = serve(service::Exports::start(args).unwrap());
    let token_url = format!("{base}/auth/token");
    (base, token_url, ec, root)
}

#[actix::test]
async fn discovery_names_the_token_endpoint_and_the_security_service() {
    let (base, token_url, _, _root) = start();
    let smart: Value = json(
        client()
            .get(format!("{base}/.well-known/smart-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(smart["token_endpoint"], token_url.as_str());
    assert_eq!(
        smart["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES384", "RS384"])
    );
    assert_eq!(
        smart["grant_types_supported"],
        json!(["client_credentials"])
    );
    let metadata: Value = json(
        client()
            .get(format!("{base}/metadata"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let security = &metadata["rest"][0]["security"];
    assert_eq!(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
    assert_eq!(
        security["extension"][0]["extension"][0]["valueUri"],
        token_url.as_str()
    );
}

#[actix::test]
async fn es384_and_rs384_clients_get_tokens_and_export_with_them() {
    let (base, token_url, ec, _root) = start();
    for (id, key, contract) in [
        ("ec-client", &ec, "Z0001"),
        ("rsa-client", rs384(), "Z0002"),
    ] {
        let assertion = sign(key, &claims(id, &token_url));
        let (status, body) = request_token(
            &client(),
            &token_url,
            &token_form(&assertion, "system/ExplanationOfBenefit.read"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{id}: {body}");
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["scope"], "system/ExplanationOfBenefit.read");
        let expires_in = body["expires_in"].as_u64().unwrap();
        assert!(expires_in > 0 && expires_in <= 300, "{body}");
        let token = body["access_token"].as_str().unwrap();

        let path = format!("/Group/{contract}/$export");
        let status_url = content_location(&kick_off_as(&base, &path, Some(token)).await);
        let done = poll_as(&status_url, Some(token)).await;
        assert_eq!(done.status(), StatusCode::OK);
        let manifest: Value = json(done).await;
        assert_eq!(manifest["requiresAccessToken"], true);
        let file_url = manifest["output"][0]["url"].as_str().unwrap();
        assert!(file_url.contains(&format!("/{contract}_0001.ndjson")));
        let file = client()
            .get(file_url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(file.status(), StatusCode::OK);
        assert!(!file.bytes().await.unwrap().is_empty());
        let deleted = client()
            .delete(&status_url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    }
}

#[actix::test]
async fn without_a_valid_token_every_export_request_is_401() {
    let (base, token_url, ec, _root) = start();
    let token = token(&client(), &token_url, "ec-client", &ec).await;
    let status_url = content_location(&kick_off_as(&base, "/$export", Some(&token)).await);
    let manifest: Value = json(poll_as(&status_url, Some(&token)).await).await;
    let file_url = manifest["output"][0]["url"].as_str().unwrap().to_owned();

    for bearer in [None, Some("not-a-token")] {
        let requests = [
            client()
                .get(format!("{base}/Group/Z0001/$export"))
                .header("Prefer", "respond-async"),
            client()
                .get(format!("{base}/$export"))
                .header("Prefer", "respond-async"),
            client().get(&status_url),
            client().get(&file_url),
            client().delete(&status_url),
        ];
        for request in requests {
            let request = match bearer {
                Some(t) => request.bearer_auth(t),
                None => request,
            };
            let response = request.send().await.unwrap();
            let url = response.url().to_string();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{url} {bearer:?}"
            );
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(challenge.starts_with("Bearer "), "{challenge}");
            assert_eq!(
                challenge.contains("invalid_token"),
                bearer.is_some(),
                "{challenge}"
            );
            let body: Value = json(response).await;
            assert_eq!(body["resourceType"], "OperationOutcome");
            assert_eq!(body["issue"][0]["code"], "login");
        }
    }
    // Still there for its owner.
    let again = client()
        .get(&status_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[actix::test]
async fn bad_assertions_are_refused_with_oauth_errors() {
    let (_base, token_url, ec, _root) = start();
    let stranger = es384("ec-1"); // the same kid, another key
    let good = || claims("ec-client", &token_url);
    let with = |changes: Value| {
        let mut claims = good();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good(),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("bad signature", sign(&stranger, &good()), "signature"),
        (
            "expired",
            sign(&ec, &with(json!({ "exp": now() - 120 }))),
            "expired",
        ),
        (
            "more than five minutes ahead",
            sign(&ec, &with(json!({ "exp": now() + 3600 }))),
            "300 s ahead",
        ),
        (
            "wrong audience",
            sign(&ec, &with(json!({ "aud": "https://elsewhere/token" }))),
            "aud",
        ),
        (
            "sub is not the client",
            sign(&ec, &with(json!({ "sub": "rsa-client" }))),
            "sub",
        ),
        (
            "unknown client",
            sign(&ec, &with(json!({ "iss": "nobody", "sub": "nobody" }))),
            "no client nobody",
        ),
        ("no jti", sign(&ec, &with(json!({ "jti": null }))), "jti"),
        ("no exp", sign(&ec, &with(json!({ "exp": null }))), "exp"),
        ("HS256", hs256, "HS256"),
        ("not a JWT", "abc".into(), "not a JWT"),
        (
            "the RSA client's claims under the EC key",
            sign(&ec, &claims("rsa-client", &token_url)),
            "signature",
        ),
    ];
    for (case, assertion, says) in cases {
        let (status, body) = request_token(
            &client(),
            &token_url,
            &token_form(&assertion, "system/*.read"),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_eq!(body["error"], "invalid_client", "{case}: {body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(says), "{case}: {description}");
    }

    // An assertion is good once.
    let assertion = sign(&ec, &good());
    let form = token_form(&assertion, "system/*.read");
    let (first, _) = request_token(&client(), &token_url, &form).await;
    assert_eq!(first, StatusCode::OK);
    let (replayed, body) = request_token(&client(), &token_url, &form).await;
    assert_eq!(replayed, StatusCode::UNAUTHORIZED);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{body}"
    );

    // The request itself.
    let assertion = sign(&ec, &good());
    let mut form = token_form(&assertion, "system/*.read");
    form[0].1 = "authorization_code".into();
    let (status, body) = request_token(&client(), &token_url, &form).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
    let mut form = token_form(&assertion, "system/*.read");
    form[1].1 = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer".into();
    let (status, body) = request_token(&client(), &token_url, &form).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let form = token_form(&assertion, "user/*.write");
    let (status, body) = request_token(&client(), &token_url, &form).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
}

#[actix::test]
async fn a_client_exports_only_its_contracts_and_sees_only_its_exports() {
    let (base, token_url, ec, _root) = start();
    let ec_token = token(&client(), &token_url, "ec-client", &ec).await;
    let rsa_token = token(&client(), &token_url, "rsa-client", rs384()).await;

    // A served contract the client may not export: 403.
    let forbidden = kick_off_as(&base, "/Group/Z0002/$export", Some(&ec_token)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(json(forbidden).await["issue"][0]["code"], "forbidden");
    let forbidden = kick_off_as(&base, "/Group/Z9999/$export", Some(&ec_token)).await;
    assert_eq!(
        forbidden.status(),
        StatusCode::FORBIDDEN,
        "no hint of what exists"
    );
    // A contract of the client that the service does not serve: 404.
    let unknown = kick_off_as(&base, "/Group/Z0003/$export", Some(&rsa_token)).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // A system export is of the client's own contract.
    let status_url = content_location(&kick_off_as(&base, "/$export", Some(&rsa_token)).await);
    let manifest: Value = json(poll_as(&status_url, Some(&rsa_token)).await).await;
    let file_url = manifest["output"][0]["url"].as_str().unwrap().to_owned();
    assert!(file_url.ends_with("/Z0002_0001.ndjson"), "{file_url}");

    // Another client's export is a 404, for status, file and DELETE.
    let status = client()
        .get(&status_url)
        .bearer_auth(&ec_token)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), StatusCode::NOT_FOUND);
    let file = client()
        .get(&file_url)
        .bearer_auth(&ec_token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), StatusCode::NOT_FOUND);
    let delete = client()
        .delete(&status_url)
        .bearer_auth(&ec_token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    // ... and the owner's export is untouched by that DELETE.
    let own = client()
        .get(&file_url)
        .bearer_auth(&rsa_token)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK);
}
