//! Timestamp formatting without a date library: the three formats the wire mixes.

/// Seconds and microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub micros: i64,
}

struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    micro: u32,
    weekday: u32,
}

impl Timestamp {
    /// A timestamp from whole seconds since the epoch.
    pub fn from_secs(secs: i64) -> Self {
        Timestamp {
            micros: secs * 1_000_000,
        }
    }

    /// This timestamp shifted by `micros` microseconds.
    pub fn plus_micros(self, micros: i64) -> Self {
        Timestamp {
            micros: self.micros + micros,
        }
    }

    fn civil(self) -> Civil {
        let secs = self.micros.div_euclid(1_000_000);
        let micro = self.micros.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: sod / 60 % 60,
            second: sod % 60,
            micro,
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    /// ISO 8601 with microseconds and a `+00:00` offset, e.g. `2026-06-03T14:00:38.580000+00:00`.
    pub fn iso_offset(self) -> String {
        format!("{}+00:00", self.iso_naive())
    }

    /// ISO 8601 with microseconds and no offset, e.g. `2026-06-03T13:19:19.757917` (metrics).
    pub fn iso_naive(self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.micro
        )
    }

    /// RFC 1123, e.g. `Wed, 03 Jun 2026 13:18:09 GMT` (function events).
    pub fn rfc1123(self) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let c = self.civil();
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[c.weekday as usize % 7],
            c.day,
            MONTHS[(c.month as usize + 11) % 12],
            c.year,
            c.hour,
            c.minute,
            c.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_the_wire() {
        // 2026-06-03T13:18:09Z
        let t = Timestamp::from_secs(1_780_492_689).plus_micros(580_000);
        assert_eq!(t.iso_offset(), "2026-06-03T13:18:09.580000+00:00");
        assert_eq!(t.iso_naive(), "2026-06-03T13:18:09.580000");
        assert_eq!(t.rfc1123(), "Wed, 03 Jun 2026 13:18:09 GMT");
    }
}
