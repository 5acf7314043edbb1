//! EOB ids: `{type}-{stem}-{n}` (see the module documentation for the stem).

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::claim_types::ClaimType;
use super::short::Short;

/// Longest digit-shaped beneficiary id used verbatim in EOB ids; with the longest
/// type prefix and a ten-digit index the id stays within FHIR's 64 characters.
const MAX_DIGIT_STEM: usize = 40;

/// The beneficiary part of EOB ids (see the module documentation).
pub(super) fn id_stem(beneficiary: &str) -> Cow<'_, str> {
    let digits = beneficiary.strip_prefix('-').unwrap_or(beneficiary);
    if !digits.is_empty()
        && beneficiary.len() <= MAX_DIGIT_STEM
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        Cow::Borrowed(beneficiary)
    } else {
        let hash = Sha256::digest(beneficiary.as_bytes());
        Cow::Owned(format!("x{}", hex::encode(&hash[..8])))
    }
}

/// `{type}-{stem}-{index}`, joined without `format!`, whose machinery costs
/// more than the joining itself.
pub(super) fn eob_id(claim: &ClaimType, stem: &str, index: u32) -> String {
    let index = Short::decimal(index);
    let parts = [claim.prefix, "-", stem, "-", index.as_str()];
    let mut id = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    parts.iter().for_each(|part| id.push_str(part));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::synthetic::claim_types::CLAIM_TYPES;

    #[test]
    fn eob_ids_join_type_stem_and_index() {
        let carrier = &CLAIM_TYPES[0];
        assert_eq!(eob_id(carrier, "-12", 0), "carrier--12-0");
        assert_eq!(eob_id(carrier, "-12", 907), "carrier--12-907");
        assert_eq!(
            eob_id(&CLAIM_TYPES[7], "x0a", u32::MAX),
            "pde-x0a-4294967295"
        );
    }
}
