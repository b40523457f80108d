//! `--since` / `--until` values: an RFC 3339 time, a date, or an age such as `24h` or `7d`.

use std::time::Duration;

use polyai_data::Timestamp;

use crate::exit::CliError;

/// Reads `text` as a time: RFC 3339 (`2026-06-02T08:00:00Z`, `…+01:00`), a date (`2026-06-02`,
/// midnight UTC), or an age counted back from `now`: a whole number and a unit, `s`, `m`, `h`,
/// `d` or `w` (`90m`, `24h`, `7d`, `2w`). `flag` names the option in errors.
pub fn parse_time(flag: &str, text: &str, now: Timestamp) -> Result<Timestamp, CliError> {
    let text = text.trim();
    if let Some(age) = parse_age(text) {
        return now
            .checked_sub(age)
            .ok_or_else(|| CliError::Usage(format!("{flag} {text}: that is too long ago")));
    }
    text.parse().map_err(|_| {
        CliError::Usage(format!(
            "{flag} {text:?}: give an RFC 3339 time (2026-06-02T08:00:00Z), a date (2026-06-02) \
             or an age such as 90m, 24h, 7d or 2w"
        ))
    })
}

/// An age: a whole number and a unit, `s`, `m`, `h`, `d` or `w` (`90m`, `24h`, `7d`).
pub fn parse_age(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let seconds: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number
        .parse::<u64>()
        .ok()?
        .checked_mul(seconds)
        .map(Duration::from_secs)
}

/// `--since` and `--until` resolved against `now`; an error when the window is empty.
pub fn window(
    since: Option<&str>,
    until: Option<&str>,
    now: Timestamp,
) -> Result<(Option<Timestamp>, Option<Timestamp>), CliError> {
    let since = since.map(|t| parse_time("--since", t, now)).transpose()?;
    let until = until.map(|t| parse_time("--until", t, now)).transpose()?;
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        return Err(CliError::Usage(format!(
            "--since {since} is after --until {until}"
        )));
    }
    Ok((since, until))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-06-03T14:00:00Z"
            .parse()
            .unwrap_or_else(|_| Timestamp::now())
    }

    #[test]
    fn ages_dates_and_times() {
        let at = |t: &str| parse_time("--since", t, now()).map(|t| t.to_string());
        assert_eq!(at("24h").ok().as_deref(), Some("2026-06-02T14:00:00Z"));
        assert_eq!(at("7d").ok().as_deref(), Some("2026-05-27T14:00:00Z"));
        assert_eq!(at("2w").ok().as_deref(), Some("2026-05-20T14:00:00Z"));
        assert_eq!(at("90m").ok().as_deref(), Some("2026-06-03T12:30:00Z"));
        assert_eq!(at("30s").ok().as_deref(), Some("2026-06-03T13:59:30Z"));
        assert_eq!(
            at("2026-06-01").ok().as_deref(),
            Some("2026-06-01T00:00:00Z")
        );
        assert_eq!(
            at("2026-06-01T09:00:00+02:00").ok().as_deref(),
            Some("2026-06-01T07:00:00Z")
        );
        for bad in [
            "",
            "d",
            "-1d",
            "1.5h",
            "7 days",
            "yesterday",
            "99999999999999999999w",
        ] {
            let err = at(bad).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("--since"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_window_must_not_be_inverted() {
        assert!(window(Some("1d"), Some("2d"), now()).is_err());
        assert!(window(Some("2d"), Some("1d"), now()).is_ok());
        assert_eq!(window(None, None, now()).ok(), Some((None, None)));
    }
}
