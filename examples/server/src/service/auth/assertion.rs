//! Client authentication by a signed JWT assertion (RFC 7523, as SMART
//! Backend Services uses it): the signature by one of the client's registered
//! keys, `iss` = `sub` = the client id, `aud` = the token endpoint's URL, `exp`
//! at most five minutes ahead, and a `jti` never seen before within its
//! validity. The JOSE work is jsonwebtoken's; this module only decides.

use std::collections::HashMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::clients::Client;

/// Longest an assertion may be valid ahead (SMART: five minutes).
pub const MAX_ASSERTION_LIFETIME_SECS: u64 = 300;
/// Clock difference tolerated between a client and this service.
pub const CLOCK_SKEW_SECS: u64 = 30;
/// Longest `jti` taken.
const MAX_JTI_LEN: usize = 256;

/// The claims read from an assertion.
#[derive(Debug, Deserialize)]
struct Claims {
    /// The client that claims to have signed it.
    iss: String,
    /// When it expires (seconds since the Unix epoch).
    exp: u64,
    /// Its id, for replay detection; optional here to refuse its absence by name.
    jti: Option<String>,
}

/// Ids of the assertions already used, with when each expires: an assertion is
/// good once.
#[derive(Debug, Default)]
pub struct SeenAssertions {
    /// `(client, jti)` → when the assertion expires; pruned once expired, as
    /// an expired assertion is refused anyway.
    expiries: HashMap<(String, String), u64>,
}

impl SeenAssertions {
    /// Records `(client, jti)` valid until `exp`; false when it was used already.
    fn first_use(&mut self, client: &str, jti: &str, exp: u64, now: u64) -> bool {
        self.expiries
            .retain(|_, expires| *expires + CLOCK_SKEW_SECS >= now);
        self.expiries
            .insert((client.to_owned(), jti.to_owned()), exp)
            .is_none()
    }
}

/// Checks `assertion`; answers the client it authenticates, or why not (as
/// an OAuth `error_description`).
pub fn verify<'c>(
    assertion: &str,
    clients: &'c HashMap<String, Client>,
    token_url: &str,
    now: u64,
    seen: &mut SeenAssertions,
) -> Result<&'c Client, String> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| format!("the assertion is not a JWT: {e}"))?;
    if !matches!(header.alg, Algorithm::ES384 | Algorithm::RS384) {
        return Err(format!(
            "the assertion is signed with {:?}; ES384 or RS384 are taken",
            header.alg
        ));
    }
    // Who claims to have signed it, to know which keys to try.
    let mut unverified = Validation::new(header.alg);
    unverified.insecure_disable_signature_validation();
    unverified.validate_exp = false;
    unverified.validate_aud = false;
    unverified.required_spec_claims.clear();
    let iss =
        jsonwebtoken::decode::<Claims>(assertion, &DecodingKey::from_secret(&[]), &unverified)
            .map_err(|e| format!("the assertion's claims: {e}"))?
            .claims
            .iss;
    let client = clients
        .get(&iss)
        .ok_or_else(|| format!("no client {iss} is registered"))?;

    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[&client.id]);
    validation.sub = Some(client.id.clone());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = CLOCK_SKEW_SECS;
    let keys = client.keys.iter().filter(|(alg, jwk)| {
        *alg == header.alg
            && (header.kid.is_none() || jwk.common.key_id.as_deref() == header.kid.as_deref())
    });
    let mut claims = None;
    for (_, jwk) in keys {
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("a registered key: {e}"))?;
        match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
            Ok(data) => {
                claims = Some(data.claims);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature | ErrorKind::Crypto(_)) => {}
            Err(e) => return Err(refusal(e.kind(), token_url)),
        }
    }
    let claims = claims.ok_or_else(|| {
        format!(
            "the signature is not by a registered {:?} key of client {}",
            header.alg, client.id
        )
    })?;
    if claims.exp > now + MAX_ASSERTION_LIFETIME_SECS + CLOCK_SKEW_SECS {
        return Err(format!(
            "the assertion expires more than {MAX_ASSERTION_LIFETIME_SECS} s ahead"
        ));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI_LEN)
        .ok_or_else(|| format!("the assertion needs a jti (1 to {MAX_JTI_LEN} characters)"))?;
    if !seen.first_use(&client.id, &jti, claims.exp, now) {
        return Err(format!("the assertion {jti} was used already"));
    }
    Ok(client)
}

/// What a failed claim check means, in the client's terms.
fn refusal(kind: &ErrorKind, token_url: &str) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the assertion has expired".into(),
        ErrorKind::InvalidAudience => format!("the assertion's aud must be {token_url}"),
        ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
            "the assertion's iss and sub must both be the client id".into()
        }
        ErrorKind::MissingRequiredClaim(claim) => format!("the assertion has no {claim}"),
        ErrorKind::ImmatureSignature => "the assertion is not valid yet".into(),
        other => format!("the assertion: {other:?}"),
    }
}
