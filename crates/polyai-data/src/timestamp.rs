//! [`Timestamp`]: an instant in UTC, as the APIs take and return them.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::error::Error;

/// An instant, with microsecond precision, written as RFC 3339 in UTC (`2026-06-02T00:00:00Z`).
///
/// Our own type so that no date library's types reach the public API: it converts to and from
/// [`SystemTime`], and parses every form PolyAI's APIs send: ISO 8601 with `Z` or an offset
/// (`2026-06-03T14:00:38.580000+00:00`), without an offset (metric timestamps, read as UTC), a
/// bare date (midnight UTC), and RFC 1123 / RFC 2822 (function events'
/// `Wed, 03 Jun 2026 13:18:09 GMT`). The models' time fields are read through
/// [`ConversationExt`](crate::models::ConversationExt), [`TurnExt`](crate::models::TurnExt),
/// [`FunctionEventExt`](crate::models::FunctionEventExt) and
/// [`MetricPointExt`](crate::models::MetricPointExt). The date arithmetic inside is
/// [jiff](https://docs.rs/jiff)'s.
///
/// ```
/// use std::time::Duration;
/// use polyai_data::Timestamp;
///
/// let start: Timestamp = "2026-06-02T09:30:00+01:00".parse()?;
/// assert_eq!(start.to_string(), "2026-06-02T08:30:00Z");
/// assert_eq!("2026-06-02".parse::<Timestamp>()?.to_string(), "2026-06-02T00:00:00Z");
/// let event: Timestamp = "Wed, 03 Jun 2026 13:18:09 GMT".parse()?;
/// assert_eq!(event.to_string(), "2026-06-03T13:18:09Z");
/// let day_before = start.checked_sub(Duration::from_secs(86_400)).expect("in range");
/// assert_eq!(day_before.to_string(), "2026-06-01T08:30:00Z");
/// let _yesterday = Timestamp::now().checked_sub(Duration::from_secs(86_400));
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(jiff::Timestamp);

impl Timestamp {
    /// The current time.
    pub fn now() -> Timestamp {
        Timestamp(jiff::Timestamp::now())
    }

    /// The instant `micros` microseconds after (or before) 1970-01-01T00:00:00Z; `None` outside
    /// the years -9999..=9999.
    ///
    /// ```
    /// let t = polyai_data::Timestamp::from_unix_micros(1_780_495_200_000_000).expect("in range");
    /// assert_eq!(t.to_string(), "2026-06-03T14:00:00Z");
    /// assert_eq!(t.unix_micros(), 1_780_495_200_000_000);
    /// ```
    pub fn from_unix_micros(micros: i64) -> Option<Timestamp> {
        jiff::Timestamp::from_microsecond(micros)
            .ok()
            .map(Timestamp)
    }

    /// Microseconds since 1970-01-01T00:00:00Z (sub-microsecond digits dropped).
    pub fn unix_micros(self) -> i64 {
        self.0.as_microsecond()
    }

    /// This instant minus `duration`, or `None` when that falls out of range.
    pub fn checked_sub(self, duration: Duration) -> Option<Timestamp> {
        self.0.checked_sub(duration).ok().map(Timestamp)
    }

    /// This instant plus `duration`, or `None` when that falls out of range.
    pub fn checked_add(self, duration: Duration) -> Option<Timestamp> {
        self.0.checked_add(duration).ok().map(Timestamp)
    }

    /// RFC 3339 in UTC with exactly six fraction digits (`2026-06-03T14:00:38.580000Z`): the
    /// form records are written in (see [`record`](crate::record)), the same width for every
    /// instant of the years 0000 to 9999, so such times sort as text.
    ///
    /// ```
    /// let t: polyai_data::Timestamp = "2026-06-03T15:00:38.58+01:00".parse()?;
    /// assert_eq!(t.to_rfc3339_micros(), "2026-06-03T14:00:38.580000Z");
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn to_rfc3339_micros(self) -> String {
        let mut buffer = [0; RFC3339_MICROS_LEN];
        match self.rfc3339_micros_in(&mut buffer) {
            Some(text) => text.to_owned(),
            None => self.rfc3339_micros_formatted(),
        }
    }

    /// [`to_rfc3339_micros`](Self::to_rfc3339_micros) through `format!`, for any year.
    fn rfc3339_micros_formatted(self) -> String {
        let d = jiff::tz::Offset::UTC.to_datetime(self.0);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.subsec_nanosecond() / 1000
        )
    }

    /// [`to_rfc3339_micros`](Self::to_rfc3339_micros) written into `buffer`, without an
    /// allocation (records hold many times, and a fingerprint writes them all); `None` for a
    /// year outside 0000–9999.
    fn rfc3339_micros_in(self, buffer: &mut [u8; RFC3339_MICROS_LEN]) -> Option<&str> {
        let d = jiff::tz::Offset::UTC.to_datetime(self.0);
        let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
        let mut put = |at: usize, width: usize, mut value: u32| {
            for i in (at..at + width).rev() {
                buffer[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, d.month() as u32);
        put(8, 2, d.day() as u32);
        put(11, 2, d.hour() as u32);
        put(14, 2, d.minute() as u32);
        put(17, 2, d.second() as u32);
        put(20, 6, d.subsec_nanosecond().unsigned_abs() / 1000);
        for (at, separator) in [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (26, b'Z'),
        ] {
            buffer[at] = separator;
        }
        std::str::from_utf8(buffer).ok()
    }
}

/// `2026-06-03T14:00:38.580000Z`.
const RFC3339_MICROS_LEN: usize = 27;

/// Written as [`Timestamp::to_rfc3339_micros`]; read from any form [`FromStr`] takes.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0; RFC3339_MICROS_LEN];
        match self.rfc3339_micros_in(&mut buffer) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.to_rfc3339_micros()),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> String {
        "Timestamp".to_owned()
    }

    fn json_schema(_: &mut schemars::r#gen::SchemaGenerator) -> schemars::schema::Schema {
        schemars::schema::SchemaObject {
            instance_type: Some(schemars::schema::InstanceType::String.into()),
            format: Some("date-time".to_owned()),
            metadata: Some(Box::new(schemars::schema::Metadata {
                description: Some(
                    "RFC 3339 in UTC with six fraction digits, e.g. 2026-06-03T14:00:38.580000Z"
                        .to_owned(),
                ),
                ..Default::default()
            })),
            ..Default::default()
        }
        .into()
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

/// A time field of a model: `None` when it is absent or not a date-time in any form
/// [`Timestamp`] reads.
pub(crate) fn field_time(text: Option<&str>) -> Option<Timestamp> {
    text?.parse().ok()
}

/// The RFC 2822 / RFC 1123 parser.
static RFC2822: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();

/// `YYYY-MM-DDTHH:MM:SS[.F…]Z` (or `+00:00`), the form the records and the APIs write most,
/// read without a general parser (a conversion reads a dozen per record). Anything else — an
/// offset, a leap second, an impossible date — is `None`, and left to jiff.
fn utc_fast(b: &[u8]) -> Option<Timestamp> {
    let digits = |at: usize, n: usize| -> Option<u32> {
        b.get(at..at + n)?.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-')
        && at(7, b'-')
        && (at(10, b'T') || at(10, b't'))
        && at(13, b':')
        && at(16, b':'))
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let mut i = 19;
    let mut nanos = 0u32;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start == 9 {
                // Finer than nanoseconds: jiff refuses it too.
                return None;
            }
            nanos = nanos * 10 + u32::from(c - b'0');
            i += 1;
        }
        if i == start {
            return None;
        }
        nanos *= 10u32.pow(9u32.saturating_sub((i - start) as u32));
    }
    match &b[i..] {
        b"Z" | b"z" | b"+00:00" => {}
        _ => return None,
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= month_days[month as usize - 1]
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years).
    let (y, m) = (i64::from(year) - i64::from(month <= 2), i64::from(month));
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    jiff::Timestamp::new(secs, nanos as i32).ok().map(Timestamp)
}

impl FromStr for Timestamp {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Some(t) = utc_fast(text.as_bytes()) {
            return Ok(t);
        }
        if let Ok(t) = text.parse::<jiff::Timestamp>() {
            return Ok(Timestamp(t));
        }
        let utc = jiff::tz::Offset::UTC;
        let naive = text
            .parse::<jiff::civil::DateTime>()
            .or_else(|_| {
                text.parse::<jiff::civil::Date>()
                    .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
            })
            .ok()
            .and_then(|dt| utc.to_timestamp(dt).ok());
        // RFC 1123 (HTTP dates) is RFC 2822 with `GMT`; only tried on a text that starts like it.
        let rfc2822 = || {
            text.starts_with(|c: char| c.is_ascii_alphanumeric())
                .then(|| RFC2822.parse_timestamp(text).ok())
                .flatten()
        };
        naive.or_else(rfc2822).map(Timestamp).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "`{text}` is not a date-time: write RFC 3339, e.g. 2026-06-02T00:00:00Z, or a date, e.g. 2026-06-02"
            ))
        })
    }
}

impl From<SystemTime> for Timestamp {
    /// Saturates at the range ends (years -9999 and 9999).
    fn from(time: SystemTime) -> Self {
        jiff::Timestamp::try_from(time)
            .map(Timestamp)
            .unwrap_or_else(|_| {
                if time < SystemTime::UNIX_EPOCH {
                    Timestamp(jiff::Timestamp::MIN)
                } else {
                    Timestamp(jiff::Timestamp::MAX)
                }
            })
    }
}

impl From<Timestamp> for SystemTime {
    fn from(time: Timestamp) -> Self {
        let micros = time.unix_micros();
        let magnitude = Duration::from_micros(micros.unsigned_abs());
        if micros >= 0 {
            SystemTime::UNIX_EPOCH + magnitude
        } else {
            SystemTime::UNIX_EPOCH - magnitude
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_text_without_allocation_is_the_formatted_one() {
        let formatted = Timestamp::rfc3339_micros_formatted;
        let first = -62_167_219_200_000_000i64; // 0000-01-01
        let last = 253_402_300_799_999_999i64; // 9999-12-31T23:59:59.999999
        let mut micros = first;
        while micros <= last {
            let t = Timestamp::from_unix_micros(micros).unwrap_or_else(|| panic!("{micros}"));
            assert_eq!(t.to_rfc3339_micros(), formatted(t));
            assert_eq!(
                serde_json::to_string(&t).ok(),
                Some(format!("\"{}\"", formatted(t)))
            );
            micros += 7_777_777_777_777 + micros.rem_euclid(1_000_003);
        }
        for edge in [first, first - 1, last, last + 1, 0, -1] {
            if let Some(t) = Timestamp::from_unix_micros(edge) {
                assert_eq!(t.to_rfc3339_micros(), formatted(t));
            }
        }
    }

    #[test]
    fn the_fast_reading_of_utc_times_agrees_with_jiff() {
        let mut texts = vec![
            "2026-06-03T14:00:38.580000Z".to_owned(),
            "2026-06-03T14:00:38Z".to_owned(),
            "2026-06-03t14:00:38.5z".to_owned(),
            "2024-02-29T23:59:59.999999999+00:00".to_owned(),
            "0001-01-01T00:00:00Z".to_owned(),
            "1969-12-31T23:59:59.000001Z".to_owned(),
            "2000-03-01T00:00:00.123456789Z".to_owned(),
        ];
        // Every day of four years, at odd times.
        let mut t =
            jiff::Timestamp::new(1_700_000_000, 123_456_000).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..1461 {
            texts.push(t.to_string());
            t = t
                .checked_add(jiff::SignedDuration::new(86_400 + 3_601, 7_000))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for text in &texts {
            let fast = utc_fast(text.as_bytes()).unwrap_or_else(|| panic!("{text}: not read"));
            let jiff: jiff::Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(fast.0, jiff, "{text}");
        }
        // Left to jiff (which reads or refuses them): offsets, leap seconds, impossible dates,
        // stray characters.
        for text in [
            "2026-06-03T15:00:38+01:00",
            "2016-12-31T23:59:60Z",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-06-31T00:00:00Z",
            "2026-06-03T24:00:00Z",
            "2026-06-03T14:00:38.Z",
            "2000-03-01T00:00:00.1234567891Z",
            "2026-06-03T14:00:38",
            "2026-06-03 14:00:38Z",
            "2026-06-03T14:00:38Zx",
            "+2026-06-03T14:00:38Z",
            "2026-06-03",
        ] {
            assert_eq!(utc_fast(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn parses_what_the_wire_and_people_write() {
        let want = "2026-06-03T14:00:38.58Z";
        for text in [
            "2026-06-03T14:00:38.580000+00:00",
            "2026-06-03T14:00:38.58Z",
            "2026-06-03T15:00:38.58+01:00",
            "2026-06-03T14:00:38.580000",
            " 2026-06-03T14:00:38.58Z\n",
        ] {
            let t: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.to_string(), want, "{text}");
        }
        for (text, want) in [
            ("Wed, 03 Jun 2026 13:18:09 GMT", "2026-06-03T13:18:09Z"),
            ("Wed, 03 Jun 2026 14:18:09 +0100", "2026-06-03T13:18:09Z"),
            ("03 Jun 2026 13:18:09 GMT", "2026-06-03T13:18:09Z"),
        ] {
            let t: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.to_string(), want, "{text}");
        }
        for garbage in [
            "yesterday",
            "2026-13-01",
            "",
            "Thu, 03 Jun 2026 13:18:09 GMT", // the wrong weekday
            "Wed, 32 Jun 2026 13:18:09 GMT",
            "2026-06-03T25:00:00Z",
            "\u{0}",
        ] {
            assert!(garbage.parse::<Timestamp>().is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn round_trips_through_system_time() {
        let t: Timestamp = "1969-12-31T23:59:59.5Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Timestamp::from(SystemTime::from(t)), t);
        let now = Timestamp::now();
        assert_eq!(
            Timestamp::from(SystemTime::from(now)).unix_micros(),
            now.unix_micros()
        );
    }
}
