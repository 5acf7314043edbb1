//! FHIR dates and instants of the EOBs, as day numbers since 1970-01-01: `time`
//! does the calendar, and dates are copied from a table made once.

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::{Serialize, Serializer};
use time::macros::date;
use time::Month;

use super::short::{put_digits, Short};

/// First possible day of a billable period (days since 1970-01-01).
pub(super) const FIRST_DAY: i64 = days_from_civil(2015, 1, 1);

/// Last possible first day of a billable period: periods last at most 30 days,
/// so they all end in 2024 at the latest.
pub(super) const LAST_START_DAY: i64 = days_from_civil(2024, 12, 1);

/// Last day an EOB can name: `lastUpdated` is at most 30 days after
/// `created`, at most 45 days after the end of a period of at most 30 days.
const LAST_DAY: i64 = LAST_START_DAY + 30 + 45 + 30;

/// `YYYY-MM-DD` of every day from [`FIRST_DAY`] to [`LAST_DAY`], one after
/// the other, made on first use: copying a date costs less than formatting it.
static DATES: LazyLock<String> = LazyLock::new(|| {
    (FIRST_DAY..=LAST_DAY)
        .flat_map(date_text)
        .map(char::from)
        .collect()
});

#[derive(Serialize)]
pub(super) struct Period {
    start: Date,
    end: Date,
}

impl Period {
    pub(super) fn days(start: i64, end: i64) -> Self {
        Period {
            start: Date(start),
            end: Date(end),
        }
    }
}

/// A FHIR `date` (`YYYY-MM-DD`), held as days since 1970-01-01.
#[derive(Clone, Copy)]
pub(super) struct Date(pub(super) i64);

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&date_str(self.0))
    }
}

/// A FHIR `dateTime` / `instant` in UTC (`YYYY-MM-DDThh:mm:ss[.mmm]+00:00`).
#[derive(Clone, Copy)]
pub(super) struct Stamp {
    pub(super) day: i64,
    second: u32,
    millis: Option<u16>,
}

impl Stamp {
    pub(super) fn new(day: i64, second: u32, millis: Option<u16>) -> Self {
        Stamp {
            day,
            second,
            millis,
        }
    }

    /// The instant, in milliseconds since 1970-01-01T00:00:00Z (stamps are UTC).
    pub(super) fn epoch_millis(&self) -> i64 {
        (self.day * 86_400 + i64::from(self.second)) * 1000 + i64::from(self.millis.unwrap_or(0))
    }
}

/// The clock is written digit by digit: `time`'s formatter is slower on this
/// path, which every EOB takes at least twice.
impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut text = Short::new();
        text.push_str(&date_str(self.day));
        let mut time = *b"T00:00:00";
        put_digits(&mut time[1..3], self.second / 3600);
        put_digits(&mut time[4..6], self.second / 60 % 60);
        put_digits(&mut time[7..9], self.second % 60);
        text.push_bytes(&time);
        if let Some(millis) = self.millis {
            let mut fraction = *b".000";
            put_digits(&mut fraction[1..], u32::from(millis));
            text.push_bytes(&fraction);
        }
        text.push_bytes(b"+00:00");
        text.serialize(serializer)
    }
}

/// `YYYY-MM-DD` of `day`: a slice of [`DATES`] for every day an EOB names,
/// formatted on the spot for any other.
fn date_str(day: i64) -> Cow<'static, str> {
    if (FIRST_DAY..=LAST_DAY).contains(&day) {
        let at = (day - FIRST_DAY) as usize * 10;
        Cow::Borrowed(&DATES[at..at + 10])
    } else {
        Cow::Owned(date_text(day).into_iter().map(char::from).collect())
    }
}

/// `YYYY-MM-DD` of a day number.
fn date_text(day: i64) -> [u8; 10] {
    let (year, month, day) = civil_from_days(day);
    let mut text = *b"0000-00-00";
    put_digits(&mut text[..4], year as u32);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..], day);
    text
}

/// Julian day of 1970-01-01, day 0 of the day numbers here.
const EPOCH: i64 = date!(1970 - 01 - 01).to_julian_day() as i64;

/// Days since 1970-01-01 of a proleptic Gregorian date; `time` does the
/// calendar. Panics on an invalid date (at compile time for a `const`).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    assert!(1 <= month && month <= 12, "not a month");
    let month = Month::December.nth_next(month as u8);
    match time::Date::from_calendar_date(year as i32, month, day as u8) {
        Ok(date) => date.to_julian_day() as i64 - EPOCH,
        Err(_) => panic!("not a date"),
    }
}

/// The date `(year, month, day)` of a day number, inverse of
/// [`days_from_civil`]. Panics outside `time`'s years -9999 to 9999, which no
/// EOB names.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let date = i32::try_from(days + EPOCH)
        .ok()
        .and_then(|julian| time::Date::from_julian_day(julian).ok())
        .expect("a day within time's years -9999 to 9999");
    let (year, month, day) = date.to_calendar_date();
    (i64::from(year), u32::from(u8::from(month)), u32::from(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::synthetic::claim_types::CLAIM_TYPES;
    use crate::source::synthetic::model::Money;

    #[test]
    fn calendar_conversions_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2015, 1, 1), 16_436);
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(
            civil_from_days(days_from_civil(2024, 2, 29) + 1),
            (2024, 3, 1)
        );
        let mut previous = civil_from_days(days_from_civil(1899, 12, 31));
        for day in days_from_civil(1900, 1, 1)..days_from_civil(2101, 1, 1) {
            let date = civil_from_days(day);
            assert_eq!(
                days_from_civil(date.0, i64::from(date.1), i64::from(date.2)),
                day
            );
            assert!(date > previous);
            previous = date;
        }
    }

    #[test]
    fn stamps_and_amounts_are_formatted_as_fhir_expects() {
        let stamp = Stamp::new(days_from_civil(2021, 7, 4), 3600 + 2 * 60 + 3, Some(7));
        assert_eq!(
            serde_json::to_string(&stamp).unwrap(),
            "\"2021-07-04T01:02:03.007+00:00\""
        );
        let stamp = Stamp::new(days_from_civil(2021, 7, 4), 86_399, None);
        assert_eq!(
            serde_json::to_string(&stamp).unwrap(),
            "\"2021-07-04T23:59:59+00:00\""
        );
        assert_eq!(
            serde_json::to_string(&Money::usd(12_345)).unwrap(),
            r#"{"value":123.45,"currency":"USD"}"#
        );
        // Outside the table of dates, the same text is made on the spot.
        for day in [days_from_civil(2014, 12, 31), LAST_DAY + 1] {
            let stamp = Stamp::new(day, 0, None);
            let (year, month, day) = civil_from_days(day);
            assert_eq!(
                serde_json::to_string(&stamp).unwrap(),
                format!("\"{year:04}-{month:02}-{day:02}T00:00:00+00:00\"")
            );
        }
    }

    #[test]
    fn the_table_of_dates_holds_every_day_an_eob_names() {
        let longest_span = CLAIM_TYPES.iter().map(|claim| claim.max_span_days).max();
        // Period end, then `created` up to 45 days later, `lastUpdated` up to 30.
        assert_eq!(LAST_START_DAY + longest_span.unwrap() + 45 + 30, LAST_DAY);
        for day in FIRST_DAY..=LAST_DAY {
            let (year, month, date) = civil_from_days(day);
            assert!(matches!(date_str(day), Cow::Borrowed(_)));
            assert_eq!(date_str(day), format!("{year:04}-{month:02}-{date:02}"));
        }
    }
}
