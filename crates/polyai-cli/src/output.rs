//! Output building blocks: aligned tables (comfy-table), RFC 4180 CSV (the csv crate), JSON and
//! JSON Lines, and the small formatters (times, durations, truncation) the human views share.

use std::io::{self, Write};

use polyai_data::Timestamp;
use serde::Serialize;

/// A table of text cells, printed with aligned columns (for people) or as CSV (for machines).
///
/// Columns are laid out by `comfy-table`, which measures display width (a CJK character or an
/// emoji takes two columns, a combining accent none). On a terminal the table fits its width,
/// wrapping the widest cells; piped or redirected, lines are never wrapped, so `grep` and `cut`
/// see one row per line.
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

    /// Writes aligned columns separated by two spaces, fitted to the terminal when stdout is one.
    pub fn write_aligned(&self, out: &mut impl Write) -> io::Result<()> {
        self.write_within(out, stdout_width())
    }

    /// Writes aligned columns separated by two spaces; with `width`, cells wrap so that no
    /// line is wider (as far as the narrowest columns allow); without, lines are never wrapped.
    pub fn write_within(&self, out: &mut impl Write, width: Option<u16>) -> io::Result<()> {
        use comfy_table::{CellAlignment, ContentArrangement, presets};
        let mut table = comfy_table::Table::new();
        table
            .load_preset(presets::NOTHING)
            .force_no_tty()
            .set_header(&self.header)
            .add_rows(&self.rows);
        match width {
            Some(width) => {
                table
                    .set_content_arrangement(ContentArrangement::Dynamic)
                    .set_width(width);
            }
            None => {
                table.set_content_arrangement(ContentArrangement::Disabled);
            }
        }
        let last = self.header.len().saturating_sub(1);
        for (i, column) in table.column_iter_mut().enumerate() {
            // Two spaces between columns, none at the edges.
            column.set_padding((u16::from(i > 0), u16::from(i < last)));
            column.set_cell_alignment(CellAlignment::Left);
        }
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// Writes CSV for `-O csv`, aligned columns otherwise.
    pub fn write_as(
        &self,
        out: &mut impl Write,
        format: crate::cli::OutputFormat,
    ) -> io::Result<()> {
        match format {
            crate::cli::OutputFormat::Csv => self.write_csv(out),
            _ => self.write_aligned(out),
        }
    }

    /// Writes RFC 4180 CSV: a header row, then one record per row, CRLF line ends.
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        let mut csv = csv_writer(out);
        csv.write_record(&self.header)?;
        for row in &self.rows {
            csv.write_record(row)?;
        }
        csv.flush()
    }
}

/// The width a line should fit in: the terminal's when stdout is one, else `COLUMNS` when it
/// is set to a number (as shells export it), else none.
pub fn terminal_width() -> Option<u16> {
    stdout_width().or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|&c| c > 0)
    })
}

/// The width tables fit in: the terminal's when stdout is one, else none (never wrapped).
/// Unit tests render as piped output, whatever runs them.
fn stdout_width() -> Option<u16> {
    if cfg!(test) {
        return None;
    }
    let probe = comfy_table::Table::new();
    if probe.is_tty() { probe.width() } else { None }
}

/// A CSV writer with RFC 4180's CRLF record ends; fields are quoted when they hold a comma,
/// quote, CR or LF, with quotes doubled.
fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

/// Writes one CSV record (for output printed page by page).
pub fn write_csv_record<'a>(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    let mut csv = csv_writer(out);
    csv.write_record(fields)?;
    csv.flush()
}

/// Parses RFC 4180 CSV text into records (quoted fields may hold commas, quotes and newlines).
/// Blank lines are skipped; records may differ in length (the caller checks them).
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    // The csv crate reads an unclosed quote to the end of the input; in well-formed CSV every
    // quote is paired (enclosing pairs and doubled quotes alike), so an odd count is one left open.
    if text.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
        let line = text[..text.rfind('"').unwrap_or(0)].matches('\n').count() + 1;
        return Err(format!(
            "a quoted field is never closed (the last quote is on line {line})"
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| e.to_string())?;
            Ok(record.iter().map(str::to_owned).collect())
        })
        .collect()
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
    fn wide_characters_take_two_columns() {
        let mut t = Table::new(vec!["NAME", "CITY"]);
        t.push(vec!["東京の太郎".into(), "Tokyo".into()]);
        t.push(vec!["Zoë 🙂".into(), "Paris".into()]);
        t.push(vec!["Bob".into(), "Leeds".into()]);
        // 東京の太郎 is 10 columns wide; every CITY starts at column 12.
        assert_eq!(
            text(|o| t.write_within(o, None)),
            "NAME        CITY\n東京の太郎  Tokyo\nZoë 🙂      Paris\nBob         Leeds\n"
        );
    }

    #[test]
    fn a_width_wraps_the_widest_cells_and_none_never_wraps() {
        let mut t = Table::new(vec!["ID", "SUMMARY"]);
        let summary = "The caller asked to move a booking to Friday and was told it is full";
        t.push(vec!["CA1".into(), summary.into()]);
        let piped = text(|o| t.write_within(o, None));
        assert_eq!(piped.lines().count(), 2, "{piped}");
        assert!(piped.contains(summary));
        let narrow = text(|o| t.write_within(o, Some(30)));
        assert!(narrow.lines().count() > 2, "{narrow}");
        for line in narrow.lines() {
            assert!(line.chars().count() <= 30, "{line:?} in\n{narrow}");
        }
        let words: Vec<&str> = narrow
            .lines()
            .skip(1)
            .flat_map(|l| l.split_whitespace())
            .filter(|w| *w != "CA1")
            .collect();
        assert_eq!(words.join(" "), summary, "nothing lost to wrapping");
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
        let open = parse_csv("turn,role\n1,\"user\n").err().unwrap_or_default();
        assert!(
            open.contains("never closed") && open.contains("line 2"),
            "{open}"
        );
        let parsed = parse_csv("turn,role\n\n1,user\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, vec![vec!["turn", "role"], vec!["1", "user"]]);
    }

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
        assert_eq!(yes_no(None), "-");
        assert_eq!(or_dash(Some("")), "-");
    }
}
