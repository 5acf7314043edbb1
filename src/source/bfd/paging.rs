//! Where a beneficiary's search goes: its first page, then `next` links, which
//! must stay on BFD's origin (they get the client certificate) and not loop.

use std::borrow::Cow;
use std::collections::HashSet;

use url::Url;

use super::{BfdConfig, Problem};
use crate::error::{Error, Result};

/// The search path below the base URL.
const SEARCH_PATH: &str = "v2/fhir/ExplanationOfBenefit";

/// `{base}/v2/fhir/ExplanationOfBenefit`, keeping a path prefix of the base.
pub(super) fn search_url(base: &Url) -> Result<Url> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(SEARCH_PATH)
        .map_err(|e| Error::config("base_url", format!("{base}: {e}")))
}

/// The search for `beneficiary`'s claims (see the module documentation of
/// [`bfd`](super) for its parameters).
pub(super) fn first_page_url(search_url: &Url, config: &BfdConfig, beneficiary: &str) -> Url {
    let mut url = search_url.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("patient", beneficiary)
            .append_pair("excludeSAMHSA", "true")
            .append_pair("_count", &config.page_size().to_string());
        if let Some(since) = config.since() {
            query.append_pair("_lastUpdated", &format!("ge{since}"));
        }
    }
    url
}

/// Where `next`, the link on page `current`, leads. Refused when it is not a
/// URL (`structure`), when it leaves `current`'s origin (`security`: it would
/// receive the client certificate), or when it comes back to a page whose
/// [`page_key`] is in `visited` (`processing`).
pub(super) fn next_page_url(
    current: &Url,
    next: &str,
    visited: &HashSet<String>,
) -> Result<Url, Problem> {
    let next = current
        .join(next)
        .map_err(|e| Problem::new("structure", format!("next link {next:?} is not a URL: {e}")))?;
    if next.origin() != current.origin() {
        return Err(Problem::new(
            "security",
            format!(
                "refused next link to another origin ({}): it would receive the \
                 client certificate",
                origin_of(&next)
            ),
        ));
    }
    if visited.contains(&page_key(&next)) {
        return Err(Problem::new(
            "processing",
            format!("next link {next} loops back to a page already fetched"),
        ));
    }
    Ok(next)
}

/// A page's identity for loop detection: its URL with the query pairs sorted,
/// so that a page asked again with its parameters shuffled is caught too.
pub(super) fn page_key(url: &Url) -> String {
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = url.query_pairs().collect();
    pairs.sort();
    let mut key = url.clone();
    key.set_fragment(None);
    if pairs.is_empty() {
        key.set_query(None);
    } else {
        key.query_pairs_mut().clear().extend_pairs(pairs);
    }
    key.into()
}

/// `scheme://host:port` of a URL, for messages.
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_url_carries_every_parameter() {
        let config = BfdConfig::builder("https://bfd.example:8443/base")
            .page_size(7)
            .since("2020-02-13T00:00:00.000+05:00")
            .build()
            .unwrap();
        let search = search_url(config.base_url()).unwrap();
        assert_eq!(
            first_page_url(&search, &config, "-19990000000001").as_str(),
            "https://bfd.example:8443/base/v2/fhir/ExplanationOfBenefit?patient=-19990000000001\
             &excludeSAMHSA=true&_count=7&_lastUpdated=ge2020-02-13T00%3A00%3A00.000%2B05%3A00"
        );
        let plain = BfdConfig::builder("http://127.0.0.1:8080/")
            .build()
            .unwrap();
        assert_eq!(
            first_page_url(&search_url(plain.base_url()).unwrap(), &plain, "a&b=c").as_str(),
            "http://127.0.0.1:8080/v2/fhir/ExplanationOfBenefit?patient=a%26b%3Dc&excludeSAMHSA=true&_count=50"
        );
    }

    #[test]
    fn pages_are_the_same_whatever_the_order_of_their_parameters() {
        let key = |text| page_key(&Url::parse(text).unwrap());
        assert_eq!(
            key("https://b/v2/x?patient=1&startIndex=10&_count=5"),
            key("https://b/v2/x?_count=5&startIndex=10&patient=1#f")
        );
        assert_ne!(
            key("https://b/v2/x?patient=1&startIndex=10"),
            key("https://b/v2/x?patient=1&startIndex=15")
        );
        assert_eq!(key("https://b/v2/x"), "https://b/v2/x");
    }
}
