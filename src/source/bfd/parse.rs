//! One searchset page into what it contributes: the EOBs AB2D's filter keeps,
//! as compact lines, and its `next` link. Entries stay borrowed until kept, so
//! a page costs little beyond its body.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::dates::{parse_latest_date, Day};
use crate::source::Resource;

/// What one page contributes.
#[derive(Debug)]
pub(super) struct Page {
    pub(super) resources: Vec<Resource>,
    /// Resources filtered out.
    pub(super) dropped: usize,
    /// The `next` link, as written.
    pub(super) next: Option<String>,
}

/// The few fields of a `Bundle` that are needed; the entries stay raw text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle<'a> {
    #[serde(borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    link: Vec<Link<'a>>,
    #[serde(default, borrow)]
    entry: Vec<Entry<'a>>,
}

#[derive(Deserialize)]
struct Link<'a> {
    #[serde(borrow)]
    relation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

/// The fields of an entry's resource that the filter reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    #[serde(borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    billable_period: Option<PeriodEnd<'a>>,
}

#[derive(Deserialize)]
struct PeriodEnd<'a> {
    #[serde(borrow)]
    end: Option<Cow<'a, str>>,
}

/// AB2D's filter: EOBs only, billing period ending on or after `earliest`.
#[derive(Debug, Clone, Copy)]
pub(super) struct EobFilter {
    pub(super) earliest: Option<Day>,
}

impl EobFilter {
    fn keeps(&self, head: &Head<'_>) -> bool {
        if head.resource_type.as_deref() != Some("ExplanationOfBenefit") {
            return false;
        }
        let Some(earliest) = self.earliest else {
            return true;
        };
        let end = head.billable_period.as_ref().and_then(|p| p.end.as_deref());
        match end.and_then(parse_latest_date) {
            Some(end) => end >= earliest,
            None => false,
        }
    }
}

/// Parses one searchset page: its kept resources as compact lines and its
/// `next` link. The error says what is wrong with the body.
pub(super) fn parse_page(body: &[u8], filter: &EobFilter) -> Result<Page, String> {
    let bundle: Bundle<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_eof() {
            format!("body is cut off ({} bytes): {e}", body.len())
        } else {
            format!("body is not a FHIR Bundle: {e}")
        }
    })?;
    match bundle.resource_type.as_deref() {
        Some("Bundle") => {}
        Some(other) => return Err(format!("body is a FHIR {other}, not a Bundle")),
        None => return Err("body is not a FHIR Bundle: no resourceType".into()),
    }
    let mut resources = Vec::with_capacity(bundle.entry.len());
    let mut dropped = 0;
    for (index, entry) in bundle.entry.iter().enumerate() {
        let Some(raw) = entry.resource else {
            dropped += 1;
            continue;
        };
        let head: Head<'_> = serde_json::from_str(raw.get())
            .map_err(|e| format!("entry {index}: resource is not a FHIR resource: {e}"))?;
        if !filter.keeps(&head) {
            dropped += 1;
            continue;
        }
        resources.push(compact(raw));
    }
    let next = bundle
        .link
        .into_iter()
        .find(|link| link.relation.as_deref() == Some("next"))
        .and_then(|link| link.url)
        .map(Cow::into_owned);
    Ok(Page {
        resources,
        dropped,
        next,
    })
}

/// The resource as one compact line, keys and numbers exactly as received.
/// Its text is a copy of exactly the received bytes (less whitespace), never
/// more: what a beneficiary holds stays within the bytes its pages took.
fn compact(raw: &RawValue) -> Resource {
    let text = raw.get();
    if text.bytes().any(is_json_whitespace) {
        // Valid JSON without its insignificant whitespace is still valid JSON.
        Resource(minify_json(text))
    } else {
        Resource(text.to_owned())
    }
}

fn is_json_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// Removes the whitespace between the tokens of valid JSON text. Strings are
/// copied as they are (a raw newline cannot occur in one: JSON escapes it).
fn minify_json(text: &str) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text.as_bytes() {
        if in_string {
            out.push(byte);
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else if byte == b'"' {
            in_string = true;
            out.push(byte);
        } else if !is_json_whitespace(byte) {
            out.push(byte);
        }
    }
    // Only ASCII bytes outside strings were dropped, so the text is still UTF-8.
    String::from_utf8(out).expect("removing ASCII whitespace keeps UTF-8 valid")
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::bfd::dates::parse_full_date;

    /// A real BFD page (see `tests/fixtures/README.md`).
    const BFD_PAGE: &[u8] = include_bytes!("../../../tests/fixtures/bfd/eob-bundle-page1.json");

    const NO_FILTER: EobFilter = EobFilter { earliest: None };

    #[test]
    fn a_real_bfd_page_parses_into_compact_lines_equal_to_its_entries() {
        let body = BFD_PAGE;
        assert!(body.contains(&b'\n'), "the fixture is pretty-printed");
        let page = parse_page(body, &NO_FILTER).unwrap();
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let entries = value["entry"].as_array().unwrap();
        assert_eq!(page.resources.len(), entries.len());
        assert_eq!(page.resources.len(), 10);
        assert_eq!(page.dropped, 0);
        for (resource, entry) in page.resources.iter().zip(entries) {
            assert!(!resource.as_str().contains('\n'));
            assert!(!resource.as_str().contains(": "));
            assert!(resource
                .as_str()
                .starts_with("{\"resourceType\":\"ExplanationOfBenefit\""));
            let parsed: serde_json::Value = serde_json::from_str(resource.as_str()).unwrap();
            assert_eq!(parsed, entry["resource"]);
        }
        assert_eq!(
            page.next.as_deref(),
            Some("https://prod-sbx.bfd.cms.gov/v2/fhir/ExplanationOfBenefit?startIndex=10&_count=10&patient=-20140000010000&excludeSAMHSA=true")
        );
    }

    #[test]
    fn minify_keeps_strings_keys_and_numbers_as_written() {
        let text = "{\n  \"a b\" : \"x \\\" \\n y\\\\\",\t\"n\": 1.50e+3 ,\r\n \"é\": [ 1 , {} ] }";
        assert_eq!(
            minify_json(text),
            "{\"a b\":\"x \\\" \\n y\\\\\",\"n\":1.50e+3,\"é\":[1,{}]}"
        );
        let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
        assert_eq!(compact(&raw).as_str(), minify_json(text));
        // Already compact text is used as it is.
        let raw: Box<RawValue> = serde_json::from_str("{\"a\":\"b c\"}").unwrap();
        assert_eq!(compact(&raw).as_str(), "{\"a\":\"b c\"}");
    }

    fn eob(id: &str, end: Option<&str>) -> String {
        match end {
            Some(end) => format!(
                r#"{{"resourceType":"ExplanationOfBenefit","id":"{id}","billablePeriod":{{"start":"2019-01-01","end":"{end}"}}}}"#
            ),
            None => format!(r#"{{"resourceType":"ExplanationOfBenefit","id":"{id}"}}"#),
        }
    }

    fn bundle(resources: &[String], next: Option<&str>) -> Vec<u8> {
        let entries: Vec<String> = resources
            .iter()
            .map(|r| format!(r#"{{"fullUrl":"x","resource":{r}}}"#))
            .collect();
        let link = next
            .map(|n| format!(r#"{{"relation":"next","url":"{n}"}},"#))
            .unwrap_or_default();
        format!(
            r#"{{"resourceType":"Bundle","type":"searchset","link":[{link}{{"relation":"self","url":"s"}}],"entry":[{}]}}"#,
            entries.join(",")
        )
        .into_bytes()
    }

    fn ids(page: &Page) -> Vec<String> {
        page.resources
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(r.as_str()).unwrap();
                v["id"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn the_filter_keeps_eobs_ending_on_or_after_the_earliest_date() {
        let filter = EobFilter {
            earliest: parse_full_date("2020-01-01"),
        };
        let body = bundle(
            &[
                eob("before", Some("2019-12-31")),
                eob("on", Some("2020-01-01")),
                eob("after", Some("2021-06-30")),
                eob("datetime", Some("2020-01-01T00:00:00-05:00")),
                eob("year-only-before", Some("2019")),
                eob("month-only-after", Some("2020-01")),
                eob("no-period", None),
                eob("garbage", Some("soon")),
                r#"{"resourceType":"Patient","id":"p"}"#.to_owned(),
                r#"{"resourceType":"OperationOutcome","issue":[]}"#.to_owned(),
            ],
            Some("https://bfd/next"),
        );
        let page = parse_page(&body, &filter).unwrap();
        assert_eq!(ids(&page), ["on", "after", "datetime", "month-only-after"]);
        assert_eq!(page.dropped, 6);
        assert_eq!(page.next.as_deref(), Some("https://bfd/next"));

        let page = parse_page(&body, &NO_FILTER).unwrap();
        assert_eq!(
            ids(&page),
            [
                "before",
                "on",
                "after",
                "datetime",
                "year-only-before",
                "month-only-after",
                "no-period",
                "garbage"
            ]
        );
        assert_eq!(page.dropped, 2);
    }

    #[test]
    fn bodies_that_are_not_bundles_are_errors_that_say_why() {
        let cases: [(&[u8], &str); 6] = [
            (b"<html>502 Bad Gateway</html>", "not a FHIR Bundle"),
            (b"", "cut off"),
            (
                br#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Explan"#,
                "cut off",
            ),
            (
                br#"{"resourceType":"OperationOutcome","issue":[]}"#,
                "is a FHIR OperationOutcome, not a Bundle",
            ),
            (br#"{"entry":[]}"#, "no resourceType"),
            (
                br#"{"resourceType":"Bundle","entry":[{"resource":[1,2]}]}"#,
                "entry 0",
            ),
        ];
        for (body, expected) in cases {
            let error = parse_page(body, &NO_FILTER).unwrap_err();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
        let empty = parse_page(
            br#"{"resourceType":"Bundle","type":"searchset"}"#,
            &NO_FILTER,
        )
        .unwrap();
        assert!(empty.resources.is_empty() && empty.next.is_none());
    }
}
