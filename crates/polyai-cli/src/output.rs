//! Output building blocks: aligned tables, RFC 4180 CSV, JSON and JSON Lines, and the small
//! formatters (times, durations, truncation) the human views share.

use std::io::{self, Write};

use serde::Serialize;

/// A table of text cells, printed with aligned columns (for people) or as CSV (for machines).
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (extra cells are dropped, missing ones left empty).
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// Writes aligned columns separated by two spaces; the last column is not padded.
    pub fn write_aligned(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
            let mut text = String::new();
            for (i, (cell, width)) in cells.zip(&widths).enumerate() {
                if i + 1 == widths.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    let pad = width - cell.chars().count() + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(out, &mut self.header.iter().map(String::as_str))?;
        for row in &self.rows {
            line(out, &mut row.iter().map(String::as_str))?;
        }
        Ok(())
    }

    /// Writes RFC 4180 CSV: a header row, then one record per row, CRLF line ends.
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        write_csv_record(out, self.header.iter().map(String::as_str))?;
        for row in &self.rows {
            write_csv_record(out, row.iter().map(String::as_str))?;
        }
        Ok(())
    }
}

/// Writes one CSV record: fields holding a comma, quote, CR or LF are quoted, quotes doubled.
pub fn write_csv_record<'a>(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if field.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(field);
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// Parses RFC 4180 CSV text into records (quoted fields may hold commas, quotes and newlines).
/// Blank lines are skipped.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                line += 1;
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.is_empty()) || record.len() > 1 {
                    records.push(std::mem::take(&mut record));
                } else {
                    record.clear();
                }
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quoted field at line {line}"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// Writes `value` as pretty-printed JSON and a newline.
pub fn write_json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// Writes `value` as one compact JSON line.
pub fn write_json_line<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// `2026-06-03T14:00:38.580000+00:00` → `2026-06-03 14:00:38` (other shapes are kept as sent).
pub fn short_time(iso: &str) -> String {
    let bytes = iso.as_bytes();
    if bytes.len() >= 19 && bytes[10] == b'T' && iso.is_char_boundary(19) {
        format!("{} {}", &iso[..10], &iso[11..19])
    } else {
        iso.to_owned()
    }
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

/// `text` cut to at most `max` characters, with `…` when cut; newlines become spaces.
pub fn truncate(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
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

    fn text(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn aligned_columns() {
        let mut t = Table::new(vec!["ID", "NAME", "NOTE"]);
        t.push(vec!["1".into(), "Ada".into(), "x".into()]);
        t.push(vec!["22".into(), "Bé".into()]);
        assert_eq!(
            text(|o| t.write_aligned(o)),
            "ID  NAME  NOTE\n1   Ada   x\n22  Bé\n"
        );
    }

    #[test]
    fn csv_quotes_only_when_needed_and_round_trips() {
        let mut t = Table::new(vec!["a", "b"]);
        t.push(vec![
            "plain".into(),
            "has, comma \"and\" quote\nline".into(),
        ]);
        let csv = text(|o| t.write_csv(o));
        assert_eq!(
            csv,
            "a,b\r\nplain,\"has, comma \"\"and\"\" quote\nline\"\r\n"
        );
        let parsed = parse_csv(&csv).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed[1][1], "has, comma \"and\" quote\nline");
        assert_eq!(parsed.len(), 2);
    }

    #[test]
    fn csv_parse_rejects_open_quote_and_skips_blank_lines() {
        assert!(parse_csv("a,\"b\n").is_err());
        let parsed = parse_csv("turn,role\n\n1,user\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, vec![vec!["turn", "role"], vec!["1", "user"]]);
    }

    #[test]
    fn formatters() {
        assert_eq!(
            short_time("2026-06-03T14:00:38.580000+00:00"),
            "2026-06-03 14:00:38"
        );
        assert_eq!(short_time("yesterday"), "yesterday");
        assert_eq!(duration(4), "4s");
        assert_eq!(duration(73), "1m13s");
        assert_eq!(duration(7380), "2h03m");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("a\nb", 4), "a b");
        assert_eq!(yes_no(None), "-");
        assert_eq!(or_dash(Some("")), "-");
    }
}
