//! Where claims come from.
//!
//! A [`ClaimsSource`] turns one beneficiary id into that beneficiary's
//! ExplanationOfBenefit resources, already serialised as single-line JSON
//! ([`Resource`]), or into a [`SourceError`] that the fetcher records as a FHIR
//! `OperationOutcome` line in its batch's error part. The trait is object safe and
//! `Send + Sync` so that one source is shared by every fetcher on every arbiter.
//!
//! [`SyntheticSource`] is the embedded default: deterministic for a seed, with
//! configurable latency and failure rate, so that the expected output of any job
//! is known in advance. [`BfdSource`] fetches from CMS's BFD FHIR server over
//! HTTPS with mutual TLS. Both can be asked for only the claims updated since
//! an instant ([`parse_since`] reads one as clients write it).

pub mod bfd;
mod since;
pub mod synthetic;

use std::fmt;

use futures::future::BoxFuture;

pub use bfd::{BfdConfig, BfdConfigBuilder, BfdSource};
pub use since::parse_since;
pub use synthetic::{SyntheticConfig, SyntheticSource};

/// One FHIR resource serialised as compact JSON on a single line (no `\n`).
///
/// Records are written to part files exactly as they are held here, followed by
/// one newline.
#[derive(Clone, PartialEq, Eq)]
pub struct Resource(String);

impl Resource {
    /// Serialises `value` compactly; compact `serde_json` output never contains a
    /// raw newline, so the result is always one NDJSON line.
    pub fn from_value(value: &serde_json::Value) -> Self {
        Resource(serde_json::to_string(value).expect("a JSON value always serialises"))
    }

    /// Serialises any `Serialize` type compactly.
    pub fn from_serialize<T: serde::Serialize>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Resource)
    }

    /// The JSON text of the resource.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length of the JSON text in bytes (without the trailing newline).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the JSON text is empty (never true for a resource built by this crate).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks that this is an `ExplanationOfBenefit` with an id: a JSON object
    /// whose `resourceType` says so. Returns what is wrong otherwise.
    pub fn check_eob(&self) -> Result<(), String> {
        // A resource is only ever made by serde_json, so its text is valid JSON:
        // an object that opens with these bytes is an EOB with a non-empty id.
        // That is the shape of BFD's and the synthetic source's resources; any
        // other shape takes the full parse below.
        const EOB_HEAD: &str = r#"{"resourceType":"ExplanationOfBenefit","id":""#;
        if let Some(rest) = self.0.strip_prefix(EOB_HEAD) {
            if !rest.starts_with('"') {
                return Ok(());
            }
        }
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(rename = "resourceType", borrow)]
            resource_type: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            id: Option<std::borrow::Cow<'a, str>>,
        }
        let head: Head<'_> =
            serde_json::from_str(&self.0).map_err(|e| format!("not a JSON object: {e}"))?;
        match (head.resource_type.as_deref(), head.id.as_deref()) {
            (Some("ExplanationOfBenefit"), Some(id)) if !id.is_empty() => Ok(()),
            (Some("ExplanationOfBenefit"), _) => {
                Err("an ExplanationOfBenefit without an id".into())
            }
            (Some(other), _) => Err(format!("a {other}, not an ExplanationOfBenefit")),
            (None, _) => Err("a JSON object without resourceType".into()),
        }
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: String = self.0.chars().take(80).collect();
        write!(f, "Resource({head}… {} bytes)", self.0.len())
    }
}

/// Why a source could not deliver one beneficiary's claims.
///
/// A source error concerns one beneficiary only: the fetcher writes it as an
/// `OperationOutcome` and goes on with the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    /// FHIR `OperationOutcome.issue.code` that fits the failure
    /// (`exception`, `timeout`, `processing`, `not-found`, …).
    pub code: &'static str,
    /// Human-readable cause, naming the beneficiary and what went wrong.
    pub message: String,
}

impl SourceError {
    /// A failure with FHIR issue code `code` and the given message.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        SourceError {
            code,
            message: message.into(),
        }
    }

    /// The cause of this failure of `beneficiary`'s fetch without what differs
    /// from one beneficiary to the next (the id, a URL's path and query), so that
    /// a job counts its failures by cause: `connection refused (127.0.0.1:9)`,
    /// `BFD: HTTP 500 Internal Server Error, after 5 attempts (bfd.example)`.
    pub fn cause(&self, beneficiary: &str) -> String {
        // The OS's words for a refused or broken connection, as the transport
        // errors carry them deep in their chain: the part that matters.
        const TRANSPORT: [(&str, &str); 6] = [
            ("connection refused", "connection refused"),
            ("connection reset", "connection reset"),
            ("no route to host", "no route to host"),
            ("network is unreachable", "network unreachable"),
            ("failed to lookup address", "host name not resolved"),
            ("dns error", "host name not resolved"),
        ];
        let (mut text, host) = without_url(&self.message);
        let lower = text.to_lowercase();
        if let Some((_, cause)) = TRANSPORT.iter().find(|(words, _)| lower.contains(words)) {
            return match host {
                Some(host) => format!("{cause} ({host})"),
                None => (*cause).to_owned(),
            };
        }
        if !beneficiary.is_empty() {
            for (with, instead) in [
                (format!("beneficiary {beneficiary}: "), ""),
                (format!(" of beneficiary {beneficiary}"), ""),
                (format!(" for beneficiary {beneficiary}"), ""),
                (format!("beneficiary {beneficiary}"), "beneficiary"),
                (beneficiary.to_owned(), "<id>"),
            ] {
                text = text.replace(&with, instead);
            }
        }
        text
    }
}

/// `message` with its first URL (and a `GET ` before it) replaced by the
/// URL's `host:port`, and that `host:port`.
fn without_url(message: &str) -> (String, Option<String>) {
    let Some(start) = message.find("https://").or_else(|| message.find("http://")) else {
        return (message.to_owned(), None);
    };
    let len = message[start..]
        .find(|c: char| c.is_whitespace() || c == ')')
        .unwrap_or(message.len() - start);
    let Ok(url) = url::Url::parse(&message[start..start + len]) else {
        return (message.to_owned(), None);
    };
    let host = url[url::Position::BeforeHost..url::Position::AfterPort].to_owned();
    let before = message[..start]
        .strip_suffix("GET ")
        .unwrap_or(&message[..start]);
    let text = format!("{before}{host}{}", &message[start + len..]);
    (text, Some(host))
}

/// An async supplier of one beneficiary's ExplanationOfBenefit resources.
///
/// Implementations must be cheap to share (`Arc<dyn ClaimsSource>`): one source
/// serves every fetcher of a job, on every arbiter of the fetcher pool.
/// A beneficiary's claims are answered whole, so an implementation bounds what
/// one beneficiary may make it hold ([`BfdSource`]: `max_beneficiary_bytes`),
/// answering a [`SourceError`] past it: a fetcher's memory must not follow
/// what a server chooses to send.
pub trait ClaimsSource: Send + Sync + 'static {
    /// Fetches every claim of `beneficiary`. An empty vector means the
    /// beneficiary has no claims (not an error).
    fn fetch<'a>(
        &'a self,
        beneficiary: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Resource>, SourceError>>;
}

/// The FHIR `OperationOutcome` line recorded for a beneficiary whose fetch
/// failed. `issue[0].diagnostics` names the beneficiary as `Patient/<id>`, so the
/// failed beneficiaries of a job can be listed from its error outputs.
///
/// The texts come from anywhere (a server's answer, an id in a file), but the
/// line must stay valid FHIR R4: a `string` is never empty and holds no control
/// character but tab, CR and LF.
pub(crate) fn operation_outcome(beneficiary: &str, error: &SourceError) -> Resource {
    let message = if error.message.is_empty() {
        "the fetch failed without a message".to_owned()
    } else {
        fhir_string(&error.message)
    };
    Resource::from_value(&serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{
            "severity": "error",
            "code": error.code,
            "details": { "text": message },
            "diagnostics": fhir_string(&format!("Patient/{beneficiary}")),
        }],
    }))
}

/// `text` with each control character FHIR strings may not hold (all but tab,
/// CR and LF) replaced by U+FFFD.
fn fhir_string(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\r' | '\n' => c,
            c if c.is_control() && c < ' ' => char::REPLACEMENT_CHARACTER,
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_explanation_of_benefit_resources_with_ids_pass() {
        let ok = Resource::from_value(&json!({"id": "x", "resourceType": "ExplanationOfBenefit"}));
        assert_eq!(ok.check_eob(), Ok(()));
        #[derive(serde::Serialize)]
        struct Eob<'a> {
            #[serde(rename = "resourceType")]
            resource_type: &'a str,
            id: &'a str,
        }
        let eob = |id| {
            Resource::from_serialize(&Eob {
                resource_type: "ExplanationOfBenefit",
                id,
            })
            .unwrap()
        };
        assert_eq!(eob("carrier-1").check_eob(), Ok(()), "the fast path");
        assert!(eob("").check_eob().unwrap_err().contains("without an id"));
        for (value, says) in [
            (json!([1, 2]), "not a JSON object"),
            (json!({"resourceType": "Patient", "id": "p"}), "a Patient"),
            (
                json!({"resourceType": "ExplanationOfBenefit"}),
                "without an id",
            ),
            (json!({"id": "x"}), "without resourceType"),
            (json!("text"), "not a JSON object"),
        ] {
            let problem = Resource::from_value(&value).check_eob().unwrap_err();
            assert!(problem.contains(says), "{value}: {problem}");
        }
    }

    #[test]
    fn causes_leave_out_the_beneficiary_and_the_url() {
        let refused = SourceError::new(
            "transient",
            "BFD: beneficiary -1999: cannot connect: client error (Connect): tcp connect \
             error: Connection refused (os error 111), after 5 attempts \
             (GET http://127.0.0.1:9/v2/fhir/ExplanationOfBenefit?patient=-1999&_count=50)",
        );
        assert_eq!(refused.cause("-1999"), "connection refused (127.0.0.1:9)");
        let status = SourceError::new(
            "transient",
            "BFD: beneficiary -1999: HTTP 500 Internal Server Error, after 5 attempts \
             (GET https://bfd.example/v2/fhir/ExplanationOfBenefit?patient=-1999)",
        );
        assert_eq!(
            status.cause("-1999"),
            "BFD: HTTP 500 Internal Server Error, after 5 attempts (bfd.example)"
        );
        let injected = SourceError::new(
            "exception",
            "synthetic source: fetch of beneficiary -7 failed (injected failure)",
        );
        assert_eq!(
            injected.cause("-7"),
            "synthetic source: fetch failed (injected failure)"
        );
        let odd = SourceError::new("exception", "no answer about -7; not a URL: http://[");
        assert_eq!(odd.cause("-7"), "no answer about <id>; not a URL: http://[");
        assert_eq!(odd.cause(""), odd.message, "an empty id replaces nothing");
    }

    #[test]
    fn operation_outcomes_name_the_beneficiary() {
        let line = operation_outcome("-1999", &SourceError::new("timeout", "slow"));
        let v: serde_json::Value = serde_json::from_str(line.as_str()).unwrap();
        assert_eq!(v["resourceType"], "OperationOutcome");
        assert_eq!(v["issue"][0]["code"], "timeout");
        assert_eq!(v["issue"][0]["diagnostics"], "Patient/-1999");
        assert!(!line.as_str().contains('\n'));
    }

    #[test]
    fn operation_outcomes_hold_only_what_fhir_strings_may() {
        let line = operation_outcome("a\u{1}b", &SourceError::new("exception", ""));
        let v: serde_json::Value = serde_json::from_str(line.as_str()).unwrap();
        assert_eq!(
            v["issue"][0]["details"]["text"],
            "the fetch failed without a message"
        );
        assert_eq!(v["issue"][0]["diagnostics"], "Patient/a\u{fffd}b");
        let error = SourceError::new("processing", "bad\u{0}body:\tline\r\n\u{1b}[31m");
        let v: serde_json::Value =
            serde_json::from_str(operation_outcome("-1", &error).as_str()).unwrap();
        assert_eq!(
            v["issue"][0]["details"]["text"],
            "bad\u{fffd}body:\tline\r\n\u{fffd}[31m"
        );
    }
}
