//! `since`: the instant from which a client wants claims, as Bulk Data's
//! `_since` and the examples' `--since` give it.
//!
//! Clients write it in two ways: a FHIR instant with its offset
//! (`2024-01-01T00:00:00Z`, `2024-01-01T00:00:00.000-05:00`), or a plain date
//! (`2024-01-01`), which the Bulk Data IG's examples use too and which is taken
//! as that day's midnight UTC. Anything else is refused with a message that
//! shows the two accepted forms rather than a parser's words: the person who
//! typed it must see what to type instead.

use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// The accepted forms, as the messages show them.
const FORMS: &str = "a date (2024-01-01, taken as midnight UTC) or an instant with its time \
                     zone (2024-01-01T00:00:00Z, 2024-01-01T00:00:00.000-05:00)";

/// The instant `text` names: a FHIR instant `YYYY-MM-DDThh:mm:ss[.fraction]`
/// followed by `Z` or `±hh:mm`, or a date `YYYY-MM-DD` (midnight UTC). The
/// error says what is wrong in the user's terms, quoting `text`.
pub fn parse_since(text: &str) -> Result<SystemTime, String> {
    parse(text).map(SystemTime::from)
}

fn parse(text: &str) -> Result<OffsetDateTime, String> {
    let refuse = |why: &str| Err(format!("{text:?} {why}; give {FORMS}"));
    let Some((day, clock)) = text.split_once('T') else {
        if text.len() == 10 && text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' {
            return match Date::parse(text, format_description!("[year]-[month]-[day]")) {
                Ok(date) => Ok(date.midnight().assume_utc()),
                Err(_) => refuse("is not a day of the calendar"),
            };
        }
        return refuse("is neither a date nor an instant");
    };
    if Date::parse(day, format_description!("[year]-[month]-[day]")).is_err() || day.len() != 10 {
        return refuse("does not start with a day of the calendar (YYYY-MM-DD)");
    }
    // RFC 3339 is FHIR's instant, but for the `T`, which FHIR wants in upper case
    // (checked above) and RFC 3339 lets be a space or a `t`.
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at);
    }
    if clock.contains(' ') {
        // A `+` in a URL's query that was not written `%2B` arrives as a space.
        return refuse("has a space where its offset's + should be (in a URL, write + as %2B)");
    }
    let zoned = clock.ends_with('Z') || clock.contains('+') || clock.contains('-');
    if !zoned {
        return refuse("has no time zone (end it with Z for UTC, or an offset such as -05:00)");
    }
    refuse("is not a time of day with seconds and a time zone (hh:mm:ss then Z or ±hh:mm)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos)
    }

    #[test]
    fn dates_and_instants_with_offsets_name_the_same_instants() {
        // 2024-01-01T00:00:00Z
        let new_year = 1_704_067_200;
        for (text, expected) in [
            ("2024-01-01", at(new_year, 0)),
            ("2024-01-01T00:00:00Z", at(new_year, 0)),
            ("2024-01-01T00:00:00+00:00", at(new_year, 0)),
            ("2024-01-01T05:00:00+05:00", at(new_year, 0)),
            ("2023-12-31T19:00:00.000-05:00", at(new_year, 0)),
            ("2024-01-01T00:00:00.5Z", at(new_year, 500_000_000)),
            ("2024-01-01T00:00:00.000001Z", at(new_year, 1_000)),
            ("1970-01-01", SystemTime::UNIX_EPOCH),
        ] {
            assert_eq!(parse_since(text), Ok(expected), "{text}");
        }
        let before_1970 = parse_since("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(
            SystemTime::UNIX_EPOCH.duration_since(before_1970).unwrap(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn anything_else_is_refused_in_the_users_terms() {
        for (text, says) in [
            ("2024-01-01T00:00:00", "has no time zone"),
            ("2024-01-01T00:00Z", "is not a time of day with seconds"),
            ("2024-01-01T25:00:00Z", "is not a time of day"),
            ("2024-01-01T00:00:00+5:00", "is not a time of day"),
            (
                "2024-01-01T00:00:00 05:00",
                "has a space where its offset's + should be",
            ),
            ("2024-02-30", "is not a day of the calendar"),
            (
                "2024-13-01T00:00:00Z",
                "does not start with a day of the calendar",
            ),
            ("2024-1-1T00:00:00Z", "does not start with a day"),
            ("2024-01", "is neither a date nor an instant"),
            ("2024-01-01 00:00:00Z", "is neither a date nor an instant"),
            ("yesterday", "is neither a date nor an instant"),
            ("", "is neither a date nor an instant"),
        ] {
            let message = parse_since(text).unwrap_err();
            assert!(
                message.starts_with(&format!("{text:?} {says}")),
                "{message}"
            );
            assert!(message.contains("2024-01-01T00:00:00Z"), "{message}");
            assert!(!message.contains("component"), "{message}");
        }
    }
}
