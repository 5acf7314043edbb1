//! One HTTP attempt at a page, and whether its failure may pass when asked
//! again (timeouts, cut-off bodies, `5xx`, `429`) or not (TLS, other `4xx`, a
//! body past its limits).

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use url::Url;

use super::retry::retry_after;
use super::{BfdConfig, Problem};

/// Bodies of error responses are read up to this size (for the message, and so
/// that the connection can be reused); larger ones are dropped unread.
const ERROR_BODY_LIMIT: u64 = 64 * 1024;

/// Characters of an error response quoted in a [`SourceError`](crate::source::SourceError) message.
const ERROR_SNIPPET_CHARS: usize = 200;

/// Why an attempt failed, and whether another one may help.
pub(super) enum Failure {
    Retry {
        problem: Problem,
        retry_after: Option<Duration>,
    },
    Fatal(Problem),
}

enum BodyError {
    /// Over the limit; the declared `Content-Length`, if any.
    TooLarge(Option<u64>),
    Transport(reqwest::Error),
}

/// Reads a body of at most `limit` bytes: refused from `Content-Length` when
/// that is known, else cut off as soon as the chunks received exceed it.
async fn read_body(mut response: reqwest::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if let Some(length) = response.content_length() {
        if length > limit {
            return Err(BodyError::TooLarge(Some(length)));
        }
    }
    let capacity = response.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// One HTTP GET of `url`: `Some(body)` for a success, `None` for 404.
/// `received` bytes of the beneficiary's earlier pages leave the rest of
/// [`BfdConfig::max_beneficiary_bytes`] for this one.
pub(super) async fn get(
    client: &reqwest::Client,
    config: &BfdConfig,
    url: &Url,
    received: u64,
) -> Result<Option<Vec<u8>>, Failure> {
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| transport_failure(config, e))?;
    let status = response.status();
    if status.is_success() {
        let left = config.max_beneficiary_bytes().saturating_sub(received);
        let limit = config.max_response_bytes().min(left);
        return match read_body(response, limit).await {
            Ok(body) => Ok(Some(body)),
            Err(BodyError::TooLarge(declared)) => {
                let size = match declared {
                    Some(length) => format!("response of {length} bytes"),
                    None => "response".to_owned(),
                };
                let what = if limit == config.max_response_bytes() {
                    let cut = if declared.is_none() { " (cut off)" } else { "" };
                    format!("{size} is larger than the limit of {limit} bytes{cut}")
                } else {
                    format!(
                        "the pages of this beneficiary are larger than \
                         max_beneficiary_bytes ({} bytes): {received} bytes received \
                         before this page, and its {size} goes past the rest",
                        config.max_beneficiary_bytes()
                    )
                };
                Err(Failure::Fatal(Problem::new("too-costly", what)))
            }
            Err(BodyError::Transport(e)) => Err(transport_failure(config, e)),
        };
    }
    let retry_after = retry_after(response.headers(), SystemTime::now());
    // Reading the (small) body lets the connection go back to the pool.
    let snippet = match read_body(response, ERROR_BODY_LIMIT).await {
        Ok(body) => snippet(&body),
        Err(_) => String::new(),
    };
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let reason = status.canonical_reason().unwrap_or("");
    let what = if snippet.is_empty() {
        format!("HTTP {} {reason}", status.as_u16())
    } else {
        format!("HTTP {} {reason}: {snippet}", status.as_u16())
    };
    Err(match status {
        StatusCode::TOO_MANY_REQUESTS => Failure::Retry {
            problem: Problem::new("throttled", what),
            retry_after,
        },
        s if s.is_server_error() => Failure::Retry {
            problem: Problem::new("transient", what),
            retry_after,
        },
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            Failure::Fatal(Problem::new("security", what))
        }
        _ => Failure::Fatal(Problem::new("processing", what)),
    })
}

fn transport_failure(config: &BfdConfig, error: reqwest::Error) -> Failure {
    if let Some(tls) = find_tls_error(&error) {
        // A certificate problem does not go away by asking again.
        return Failure::Fatal(Problem::new("security", format!("TLS: {tls}")));
    }
    let problem = if error.is_timeout() {
        let (what, limit) = if error.is_connect() {
            ("connect", config.connect_timeout())
        } else {
            ("request", config.request_timeout())
        };
        Problem::new(
            "timeout",
            format!("{what} timed out after {} ms", limit.as_millis()),
        )
    } else if error.is_connect() {
        Problem::new(
            "transient",
            format!("cannot connect: {}", error_chain(&error)),
        )
    } else if error.is_body() || error.is_decode() {
        Problem::new(
            "incomplete",
            format!("response body cut off: {}", error_chain(&error)),
        )
    } else {
        Problem::new("transient", error_chain(&error))
    };
    Failure::Retry {
        problem,
        retry_after: None,
    }
}

/// The causes of a transport error, `: `-separated, without reqwest's own
/// text (which repeats the URL the message already names).
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = std::error::Error::source(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    if parts.is_empty() {
        parts.push("request failed".to_owned());
    }
    parts.join(": ")
}

/// The rustls error somewhere in the causes of `error`, if any. rustls errors
/// travel inside (possibly nested) `io::Error`s, whose `source()` skips them,
/// hence the descent through `get_ref`.
fn find_tls_error(error: &reqwest::Error) -> Option<&rustls::Error> {
    fn inside<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
        inside(inner)
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = inside(e) {
            return Some(tls);
        }
        current = e.source();
    }
    None
}

/// The start of an error body on one line, for a message.
fn snippet(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > ERROR_SNIPPET_CHARS {
        line.chars().take(ERROR_SNIPPET_CHARS).collect::<String>() + "…"
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet(b"  a\n\tb\r\n c \x07"), "a b c");
        let long = "x".repeat(500);
        let cut = snippet(long.as_bytes());
        assert_eq!(cut.chars().count(), ERROR_SNIPPET_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
