//! How long to wait before asking for a page again: jittered exponential
//! backoff, or what the server's `Retry-After` asks for.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// What `Retry-After` asks for: delay-seconds or an HTTP date (a date in the
/// past means now).
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait after failed attempt number `attempt` (1-based): `base × 2^(attempt-1)`
/// capped at `max`, of which the upper half is jittered by `jitter` (uniform in
/// `[0, 1)`), so that fetchers failing together do not retry together; never
/// less than `retry_after` (itself capped at `max`).
pub(super) fn backoff(
    attempt: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let exponential = base
        .checked_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .unwrap_or(max)
        .min(max);
    let jittered = exponential / 2 + exponential.mul_f64(jitter.clamp(0.0, 1.0) / 2.0);
    jittered.max(retry_after.unwrap_or(Duration::ZERO).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_is_capped_jittered_and_yields_to_retry_after() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        let at = |attempt, jitter| backoff(attempt, base, max, None, jitter);
        assert_eq!(at(1, 0.0), Duration::from_millis(50));
        let almost = at(1, 0.999_999);
        assert!(
            almost > Duration::from_millis(99) && almost < base,
            "{almost:?}"
        );
        assert_eq!(at(2, 0.0), Duration::from_millis(100));
        assert_eq!(at(3, 0.5), Duration::from_millis(300));
        assert_eq!(at(5, 1.0), max);
        assert_eq!(at(40, 0.0), max / 2);
        assert_eq!(at(u32::MAX, 1.0), max);
        let hinted = |hint| backoff(1, base, max, Some(hint), 0.0);
        assert_eq!(
            hinted(Duration::from_millis(700)),
            Duration::from_millis(700)
        );
        assert_eq!(hinted(Duration::from_secs(3600)), max);
        assert_eq!(hinted(Duration::ZERO), Duration::from_millis(50));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            retry_after(&headers, now)
        };
        assert_eq!(with("2"), Some(Duration::from_secs(2)));
        assert_eq!(with(" 0 "), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(with(&later), Some(Duration::from_secs(90)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(with(&earlier), Some(Duration::ZERO));
        assert_eq!(with("soon"), None);
        assert_eq!(with("-1"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
