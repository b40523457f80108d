//! Aligned tables for people, CSV for machines.
//!
//! Columns are measured in display width (a CJK character or an emoji takes two columns, a
//! combining accent none). A row is always one line. On a terminal narrower than the table, the
//! free-text column (by default the last: a summary, a first request) is cut first, with `…`,
//! then the columns marked optional are left out, least useful first; ids, times and numbers
//! are never wrapped or cut, as `gh` and `kubectl` do. Piped or redirected, nothing is cut or
//! left out, so `grep` and `cut` see whole values.

use std::io::{self, Write};

use super::text::flatten;

/// Narrowest the free-text column is cut to; below that the line is left longer than the
/// terminal rather than showing nothing.
const MIN_FLEXIBLE: usize = 12;

/// A table of text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The column cut to fit a narrow terminal (`None`: no column is).
    flexible: Option<usize>,
    /// Columns left out on a narrow terminal, first to go first.
    optional: Vec<usize>,
}

impl Table {
    /// An empty table with these column names; its last column is the one cut to fit.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        let header: Vec<String> = header.into_iter().map(Into::into).collect();
        let flexible = header.len().checked_sub(1);
        Table {
            header,
            rows: Vec::new(),
            flexible,
            optional: Vec::new(),
        }
    }

    /// Columns that may be left out when the terminal is too narrow for the table even with
    /// its free-text column cut, first to go first.
    #[must_use]
    pub fn optional(mut self, columns: &[usize]) -> Self {
        self.optional = columns
            .iter()
            .copied()
            .filter(|&c| c < self.header.len() && Some(c) != self.flexible)
            .collect();
        self
    }

    /// Makes column `index` the one cut to fit (`None`: cut nothing; every column holds values
    /// that must stay whole).
    #[must_use]
    pub fn flexible(mut self, index: Option<usize>) -> Self {
        self.flexible = index.filter(|&i| i < self.header.len());
        self
    }

    /// Appends a row (extra cells are dropped, missing ones left empty).
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.header.len(), String::new());
        self.rows.push(row);
    }

    /// Writes aligned columns, fitted to the terminal when stdout is one.
    pub fn write_aligned(&self, out: &mut impl Write) -> io::Result<()> {
        self.write_within(out, super::stdio::stdout_width())
    }

    /// Writes aligned columns separated by two spaces; with `width`, the flexible column is cut
    /// so that lines fit (as far as the other columns allow); without, nothing is cut.
    pub fn write_within(&self, out: &mut impl Write, width: Option<usize>) -> io::Result<()> {
        let header: Vec<String> = self.header.iter().map(|h| flatten(h)).collect();
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|c| flatten(c)).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        let mut shown: Vec<usize> = (0..widths.len()).collect();
        if let Some(limit) = width {
            let total = |shown: &[usize], widths: &[usize]| {
                shown.iter().map(|&c| widths[c]).sum::<usize>() + 2 * shown.len().saturating_sub(1)
            };
            if let Some(f) = self.flexible {
                let floor = MIN_FLEXIBLE.max(display_width(&header[f])).min(widths[f]);
                let others = total(&shown, &widths) - widths[f];
                widths[f] = limit.saturating_sub(others).clamp(floor, widths[f]);
            }
            for &column in &self.optional {
                if total(&shown, &widths) <= limit {
                    break;
                }
                shown.retain(|&c| c != column);
                if let Some(f) = self.flexible {
                    // The room the column took goes to the free text first.
                    let others = total(&shown, &widths) - widths[f];
                    let full = rows
                        .iter()
                        .map(|r| display_width(&r[f]))
                        .chain([display_width(&header[f])])
                        .max()
                        .unwrap_or(0);
                    widths[f] = limit.saturating_sub(others).clamp(widths[f], full);
                }
            }
        }
        let last = shown.last().copied().unwrap_or(0);
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for &i in &shown {
                let cell = match self.flexible {
                    Some(f) if f == i => console::truncate_str(&row[i], widths[i], "…"),
                    _ => row[i].as_str().into(),
                };
                if !line.is_empty() || i != shown[0] {
                    line.push_str("  ");
                }
                line.push_str(&cell);
                if i != last {
                    let pad = widths[i].saturating_sub(display_width(&cell));
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
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
        let mut csv = super::csv::writer(&mut *out);
        csv.write_record(&self.header)?;
        csv.flush()?;
        drop(csv);
        self.write_csv_rows(out)
    }

    /// Writes the rows as CSV without the header row: more rows of a CSV already begun.
    pub fn write_csv_rows(&self, out: &mut impl Write) -> io::Result<()> {
        let mut csv = super::csv::writer(out);
        for row in &self.rows {
            csv.write_record(row)?;
        }
        csv.flush()
    }
}

/// Columns `text` takes on a terminal.
fn display_width(text: &str) -> usize {
    console::measure_text_width(text)
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
    fn a_narrow_terminal_cuts_the_free_text_never_an_id() {
        let id = "CA681f3ad0d037c1884614548178a5bc1b";
        let summary = "The caller asked to move a booking to Friday and was told it is full";
        let mut t = Table::new(vec!["ID", "STARTED", "CHANNEL", "SUMMARY"]).optional(&[2]);
        t.push(vec![
            id.into(),
            "2026-06-03 14:00:38 UTC".into(),
            "VOICE-SIP".into(),
            summary.into(),
        ]);
        for width in [80, 100, 120] {
            let shown = text(|o| t.write_within(o, Some(width)));
            assert_eq!(
                shown.lines().count(),
                2,
                "one line per row at {width}:\n{shown}"
            );
            assert!(shown.contains(id), "{shown}");
            assert!(shown.contains("2026-06-03 14:00:38 UTC"), "{shown}");
            for line in shown.lines() {
                assert!(display_width(line) <= width, "{line:?} at {width}");
            }
        }
        let narrow = text(|o| t.write_within(o, Some(80)));
        assert!(
            narrow.contains('…') && !narrow.contains(summary),
            "{narrow}"
        );
        assert!(
            !narrow.contains("CHANNEL"),
            "the optional column goes: {narrow}"
        );
        let fits = text(|o| t.write_within(o, Some(110)));
        assert!(fits.contains("CHANNEL") && fits.contains('…'), "{fits}");
        let wide = text(|o| t.write_within(o, Some(200)));
        assert!(
            wide.contains(summary) && wide.contains("VOICE-SIP"),
            "{wide}"
        );
        let piped = text(|o| t.write_within(o, None));
        assert!(
            piped.contains(summary) && piped.contains("VOICE-SIP"),
            "{piped}"
        );
    }

    #[test]
    fn too_narrow_for_the_fixed_columns_keeps_them_whole() {
        let mut t = Table::new(vec!["ID", "SUMMARY"]);
        t.push(vec![
            "CA681f3ad0d037c1884614548178a5bc1b".into(),
            "x".repeat(50),
        ]);
        let shown = text(|o| t.write_within(o, Some(20)));
        assert_eq!(shown.lines().count(), 2, "{shown}");
        assert!(shown.contains("CA681f3ad0d037c1884614548178a5bc1b"));
        let t = t.flexible(None);
        let shown = text(|o| t.write_within(o, Some(20)));
        assert!(shown.contains(&"x".repeat(50)), "nothing cut: {shown}");
    }

    #[test]
    fn newlines_in_cells_never_break_a_row() {
        let mut t = Table::new(vec!["ID", "TEXT"]);
        t.push(vec!["1".into(), "a\nb\tc".into()]);
        assert_eq!(text(|o| t.write_within(o, None)), "ID  TEXT\n1   a b c\n");
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let mut t = Table::new(vec!["a", "b"]);
        t.push(vec![
            "plain".into(),
            "has, comma \"and\" quote\nline".into(),
        ]);
        assert_eq!(
            text(|o| t.write_csv(o)),
            "a,b\r\nplain,\"has, comma \"\"and\"\" quote\nline\"\r\n"
        );
    }
}
