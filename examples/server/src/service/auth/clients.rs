//! The registered clients (`--clients FILE`): who may ask for a token, with
//! which public keys, and which contracts each may export. The file is a JSON
//! list, read once at start, at most [`MAX_CLIENTS_BYTES`]:
//!
//! ```json
//! [{ "client_id": "acme", "contracts": ["Z0001"],
//!    "jwks": { "keys": [{ "kty": "EC", "crv": "P-384", "kid": "k1", "x": "…", "y": "…" }] } }]
//! ```
//!
//! Only keys that sign ES384 (EC P-384) or RS384 (RSA, 2048 bits or more) are
//! taken: anything else is refused at start, naming the client, rather than
//! found out at the first token request.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::Algorithm;
use serde::Deserialize;

/// Largest clients file read.
pub const MAX_CLIENTS_BYTES: u64 = 1024 * 1024;
/// Smallest RSA modulus taken, in bits (SMART asks for 2048).
const MIN_RSA_BITS: usize = 2048;

/// One entry of the clients file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The client's id.
    client_id: String,
    /// Its public keys.
    jwks: JwkSet,
    /// The contracts it may export.
    contracts: Vec<String>,
}

/// A registered client.
#[derive(Debug)]
pub struct Client {
    /// Its id: the `iss` and `sub` of its assertions.
    pub id: String,
    /// Its public keys, each with the one algorithm it verifies.
    pub keys: Vec<(Algorithm, Jwk)>,
    /// The contracts it may export.
    pub contracts: Vec<String>,
}

/// Reads and checks the clients file.
pub fn load(path: &Path) -> Result<HashMap<String, Client>, String> {
    let what = |e: &dyn std::fmt::Display| format!("--clients {}: {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CLIENTS_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| what(&e))?;
    if bytes.len() as u64 > MAX_CLIENTS_BYTES {
        return Err(what(&format!("larger than {MAX_CLIENTS_BYTES} bytes")));
    }
    let entries: Vec<Entry> = serde_json::from_slice(&bytes).map_err(|e| what(&e))?;
    let mut clients = HashMap::new();
    for entry in entries {
        let id = entry.client_id;
        if id.is_empty() {
            return Err(what(&"a client_id is empty"));
        }
        let mut keys = Vec::new();
        for (n, jwk) in entry.jwks.keys.into_iter().enumerate() {
            let alg = algorithm_of(&jwk)
                .map_err(|e| what(&format!("client {id}: key {}: {e}", n + 1)))?;
            keys.push((alg, jwk));
        }
        if keys.is_empty() {
            return Err(what(&format!("client {id} has no key")));
        }
        let client = Client {
            id: id.clone(),
            keys,
            contracts: entry.contracts,
        };
        if clients.insert(id.clone(), client).is_some() {
            return Err(what(&format!("client {id} is registered twice")));
        }
    }
    Ok(clients)
}

/// The algorithm a key verifies, or why it is not taken.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, String> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => {
            Algorithm::ES384
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            return Err(format!("curve {:?} (only P-384, for ES384)", ec.curve))
        }
        AlgorithmParameters::RSA(rsa) => {
            // base64url without padding: 4 characters for 3 bytes.
            let bits = rsa.n.trim_end_matches('=').len() * 6;
            if bits < MIN_RSA_BITS - 7 {
                return Err(format!(
                    "an RSA key of about {bits} bits (at least {MIN_RSA_BITS})"
                ));
            }
            Algorithm::RS384
        }
        _ => return Err("not an EC P-384 or RSA key".into()),
    };
    match &jwk.common.key_algorithm {
        None => Ok(alg),
        Some(KeyAlgorithm::ES384) if alg == Algorithm::ES384 => Ok(alg),
        Some(KeyAlgorithm::RS384) if alg == Algorithm::RS384 => Ok(alg),
        Some(other) => Err(format!("\"alg\": {other:?} (only ES384 and RS384)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_json(json: &str) -> Result<HashMap<String, Client>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clients.json");
        std::fs::write(&path, json).unwrap();
        load(&path)
    }

    /// A P-384 or P-256 key's coordinates are not checked at load, only its kind.
    const EC: &str = r#"{"kty": "EC", "crv": "P-384", "x": "AAAA", "y": "AAAA"}"#;

    #[test]
    fn es384_and_rs384_keys_are_taken() {
        let rsa = format!(
            r#"{{"kty": "RSA", "alg": "RS384", "n": "{}", "e": "AQAB"}}"#,
            "A".repeat(342)
        );
        let clients = load_json(&format!(
            r#"[{{"client_id": "a", "contracts": ["Z1"], "jwks": {{"keys": [{EC}, {rsa}]}}}}]"#
        ))
        .unwrap();
        let keys: Vec<Algorithm> = clients["a"].keys.iter().map(|(alg, _)| *alg).collect();
        assert_eq!(keys, [Algorithm::ES384, Algorithm::RS384]);
        assert_eq!(clients["a"].contracts, ["Z1"]);
    }

    #[test]
    fn other_keys_and_bad_files_are_refused_naming_the_client() {
        let p256 = r#"{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}"#;
        let small_rsa = format!(
            r#"{{"kty": "RSA", "n": "{}", "e": "AQAB"}}"#,
            "A".repeat(171)
        );
        let es256 = r#"{"kty": "EC", "crv": "P-384", "alg": "ES256", "x": "AAAA", "y": "AAAA"}"#;
        let secret = r#"{"kty": "oct", "k": "c2VjcmV0"}"#;
        for (key, says) in [
            (p256, "P256"),
            (small_rsa.as_str(), "at least 2048"),
            (es256, "ES256"),
            (secret, "not an EC P-384 or RSA key"),
        ] {
            let error = load_json(&format!(
                r#"[{{"client_id": "acme", "contracts": [], "jwks": {{"keys": [{key}]}}}}]"#
            ))
            .unwrap_err();
            assert!(
                error.contains("client acme") && error.contains(says),
                "{error}"
            );
        }
        let twice = format!(
            r#"[{{"client_id": "a", "contracts": [], "jwks": {{"keys": [{EC}]}}}},
                {{"client_id": "a", "contracts": [], "jwks": {{"keys": [{EC}]}}}}]"#
        );
        assert!(load_json(&twice).unwrap_err().contains("twice"));
        let no_key = r#"[{"client_id": "a", "contracts": [], "jwks": {"keys": []}}]"#;
        assert!(load_json(no_key).unwrap_err().contains("no key"));
        assert!(load_json("{").is_err());
        assert!(load_json(r#"[{"client_id": "a", "jwks": {"keys": []}}]"#).is_err());
    }
}
