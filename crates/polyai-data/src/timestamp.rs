//! [`Timestamp`]: an instant in UTC, as the Conversations API v3 takes and returns them.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::error::Error;

/// An instant, with microsecond precision, written as RFC 3339 in UTC (`2026-06-02T00:00:00Z`).
///
/// Our own type so that no date library's types reach the public API: it converts to and from
/// [`SystemTime`], and parses the ISO 8601 forms PolyAI uses (a time with `Z` or an offset; a
/// time without an offset, or a bare date, read as UTC). The date arithmetic inside is
/// [jiff](https://docs.rs/jiff)'s.
///
/// ```
/// use std::time::Duration;
/// use polyai_data::Timestamp;
///
/// let start: Timestamp = "2026-06-02T09:30:00+01:00".parse()?;
/// assert_eq!(start.to_string(), "2026-06-02T08:30:00Z");
/// assert_eq!("2026-06-02".parse::<Timestamp>()?.to_string(), "2026-06-02T00:00:00Z");
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

impl FromStr for Timestamp {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
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
        naive.map(Timestamp).ok_or_else(|| {
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
    fn parses_what_the_wire_and_people_write() {
        let want = "2026-06-03T14:00:38.58Z";
        for text in [
            "2026-06-03T14:00:38.580000+00:00",
            "2026-06-03T14:00:38.58Z",
            "2026-06-03T15:00:38.58+01:00",
            "2026-06-03T14:00:38.580000",
        ] {
            let t: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.to_string(), want, "{text}");
        }
        assert!("yesterday".parse::<Timestamp>().is_err());
        assert!("2026-13-01".parse::<Timestamp>().is_err());
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
