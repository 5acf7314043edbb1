//! Registered clients for the tests: key pairs made here (P-384 with rcgen,
//! RSA with rsa), their public JWKs in a clients file, and assertions signed
//! with jsonwebtoken as a SMART backend client signs them.

#![allow(dead_code)] // each test file uses some of them

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

/// A client's key pair.
pub struct Key {
    /// The algorithm it signs.
    pub alg: Algorithm,
    /// Its key id.
    pub kid: String,
    /// The private key, for jsonwebtoken.
    pub private: EncodingKey,
    /// The public key, as a JWK.
    pub jwk: Value,
}

/// A fresh P-384 key pair (ES384).
pub fn es384(kid: &str) -> Key {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    // Uncompressed point: 0x04, x, y.
    let point = pair.public_key_raw();
    assert_eq!(point.len(), 97);
    Key {
        alg: Algorithm::ES384,
        kid: kid.into(),
        private: EncodingKey::from_ec_der(&pair.serialize_der()),
        jwk: json!({
            "kty": "EC", "crv": "P-384", "kid": kid, "alg": "ES384", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..49]),
            "y": URL_SAFE_NO_PAD.encode(&point[49..]),
        }),
    }
}

/// An RSA key pair (RS384). Making one takes a while, so the test binary makes
/// one and every caller shares it.
pub fn rs384() -> &'static Key {
    static KEY: OnceLock<Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        Key {
            alg: Algorithm::RS384,
            kid: "rsa-1".into(),
            private: EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes()),
            jwk: json!({
                "kty": "RSA", "kid": "rsa-1", "alg": "RS384",
                "n": URL_SAFE_NO_PAD.encode(private.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(private.e().to_bytes_be()),
            }),
        }
    })
}

/// Writes a clients file: `(client_id, public keys, contracts)` each.
pub fn clients_file(dir: &Path, clients: &[(&str, Vec<&Value>, &[&str])]) -> PathBuf {
    let entries: Vec<Value> = clients
        .iter()
        .map(|(id, keys, contracts)| {
            json!({ "client_id": id, "jwks": { "keys": keys }, "contracts": contracts })
        })
        .collect();
    let path = dir.join("clients.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&entries).unwrap()).unwrap();
    path
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// The claims of a good assertion of `client` for the token endpoint `aud`.
pub fn claims(client: &str, aud: &str) -> Value {
    json!({
        "iss": client, "sub": client, "aud": aud,
        "exp": now() + 240, "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// `claims` signed with `key`.
pub fn sign(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.private).unwrap()
}

/// The token request form with `assertion`: `(name, value)` pairs.
pub fn token_form(assertion: &str, scope: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".into()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
        ),
        ("client_assertion", assertion.into()),
        ("scope", scope.into()),
    ]
}

/// Posts a token request form; answers the status and the JSON body.
pub async fn request_token(
    client: &reqwest::Client,
    token_url: &str,
    form: &[(&str, String)],
) -> (reqwest::StatusCode, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = client
        .post(token_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

/// An access token for `key`'s client.
pub async fn token(client: &reqwest::Client, token_url: &str, id: &str, key: &Key) -> String {
    let assertion = sign(key, &claims(id, token_url));
    let (status, body) =
        request_token(client, token_url, &token_form(&assertion, "system/*.read")).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}
