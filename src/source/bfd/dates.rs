//! FHIR dates, as far as the filter (an EOB's billing-period end) and `since`
//! (sent to BFD, so it must be unambiguous) need them.

/// A calendar day, ordered; calendar rules come from the `time` crate.
pub(super) type Day = time::Date;

/// `YYYY-MM-DD`.
const FULL_DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// `YYYY-MM-DD` exactly.
pub(super) fn parse_full_date(text: &str) -> Option<Day> {
    if text.len() != 10 {
        return None;
    }
    Day::parse(text, FULL_DATE).ok()
}

/// A FHIR `date` or `dateTime` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`, optionally
/// followed by a time): the last day it may mean (a partial date is taken at the
/// end of its year or month; the time and offset are ignored).
pub(super) fn parse_latest_date(text: &str) -> Option<Day> {
    let date = text.split('T').next()?;
    let digits = |part: &str, len: usize| {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i32>().ok())
            .flatten()
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?, 4)?;
    match (parts.next(), parts.next()) {
        (None, _) => Day::from_calendar_date(year, time::Month::December, 31).ok(),
        (Some(month), None) => {
            let month = time::Month::try_from(u8::try_from(digits(month, 2)?).ok()?).ok()?;
            let last = month.length(year);
            Day::from_calendar_date(year, month, last).ok()
        }
        (Some(_), Some(_)) => parse_full_date(date),
    }
}

/// A full date, or an instant `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`: what
/// `_lastUpdated=ge…` accepts without ambiguity.
pub(super) fn is_fhir_date_or_instant(text: &str) -> bool {
    if text.contains('T') {
        // RFC 3339 also allows a space or a lower-case `t`; FHIR does not.
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
            && text.as_bytes().get(10) == Some(&b'T')
    } else {
        parse_full_date(text).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_as_the_last_day_they_may_mean() {
        let day =
            |y, m: u8, d| Day::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap();
        assert_eq!(parse_latest_date("2020-02-03"), Some(day(2020, 2, 3)));
        assert_eq!(parse_latest_date("2020-02"), Some(day(2020, 2, 29)));
        assert_eq!(parse_latest_date("2021-02"), Some(day(2021, 2, 28)));
        assert_eq!(parse_latest_date("2019"), Some(day(2019, 12, 31)));
        assert_eq!(
            parse_latest_date("2020-02-03T23:59:59+14:00"),
            Some(day(2020, 2, 3))
        );
        for bad in [
            "",
            "20",
            "2020-13-01",
            "2020-02-30",
            "2020-2-3",
            "2020-02-03-04",
            "x020-01-01",
        ] {
            assert_eq!(parse_latest_date(bad), None, "{bad}");
        }
        assert_eq!(parse_full_date("2020-01"), None);
    }

    #[test]
    fn since_accepts_dates_and_instants_with_offsets() {
        for good in [
            "2020-02-13",
            "2020-02-13T00:00:00Z",
            "2020-02-13T00:00:00.000-05:00",
            "2016-12-31T23:59:60Z",
        ] {
            assert!(is_fhir_date_or_instant(good), "{good}");
        }
        for bad in [
            "2020-02",
            "2020-02-13T00:00:00",
            "2020-02-13T24:00:00Z",
            "2020-02-13T00:00Z",
            "2020-02-13T00:00:00.Z",
            "2020-02-13T00:00:00+5:00",
            "2020-02-13 00:00:00Z",
            "ge2020-02-13",
            "2020-02-13T00:00:00+05:00&x=y",
        ] {
            assert!(!is_fhir_date_or_instant(bad), "{bad}");
        }
    }
}
