//! The small formatters the human views share.

use polyai_data::Timestamp;

/// A time field for people, to the second and in UTC with the zone written out:
/// `2026-06-03T16:00:38.580000+02:00` → `2026-06-03 14:00:38 UTC`, whichever of the API's forms it
/// came in (read as [`Timestamp`] reads them); a text that is not a time is shown as sent.
pub fn short_time(text: &str) -> String {
    text.parse::<Timestamp>()
        .map_or_else(|_| text.to_owned(), utc_time)
}

/// `2026-06-03 14:00:38 UTC`.
pub fn utc_time(time: Timestamp) -> String {
    jiff::Timestamp::from_microsecond(time.unix_micros()).map_or_else(
        |_| time.to_string(),
        |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Seconds as `45s`, `1m13s` or `2h03m`.
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// `text` on one line: control characters (newlines, tabs) become spaces.
pub fn flatten(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` on one line, cut to at most `max` columns with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    console::truncate_str(&flatten(text), max, "…").into_owned()
}

/// `n` and the noun, plural unless `n` is 1: `1 conversation`, `2 conversations`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `Some(true)` → `yes`, `Some(false)` → `no`, `None` → `-`.
pub fn yes_no(flag: Option<bool>) -> &'static str {
    match flag {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
}

/// The value, or `-` when absent or empty.
pub fn or_dash(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_owned(),
        _ => "-".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatters() {
        for (sent, shown) in [
            (
                "2026-06-03T14:00:38.580000+00:00",
                "2026-06-03 14:00:38 UTC",
            ),
            ("2026-06-03T14:00:38Z", "2026-06-03 14:00:38 UTC"),
            ("2026-06-03T16:00:38.9+02:00", "2026-06-03 14:00:38 UTC"),
            ("2026-06-03T00:30:00-01:00", "2026-06-03 01:30:00 UTC"),
            ("2026-06-03T14:00:38.757917", "2026-06-03 14:00:38 UTC"),
            ("Wed, 03 Jun 2026 14:00:38 GMT", "2026-06-03 14:00:38 UTC"),
            ("yesterday", "yesterday"),
            ("", ""),
        ] {
            assert_eq!(short_time(sent), shown, "{sent}");
        }
        assert_eq!(duration(4), "4s");
        assert_eq!(duration(73), "1m13s");
        assert_eq!(duration(7380), "2h03m");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("a\nb", 4), "a b");
        assert_eq!(truncate("東京の太郎", 5), "東京…");
        assert_eq!(yes_no(None), "-");
        assert_eq!(or_dash(Some("")), "-");
    }
}
