//! RFC 4180 CSV: written with CRLF record ends, read for `annotate --from`.

use std::io::{self, Write};

/// A CSV writer with RFC 4180's CRLF record ends; fields are quoted when they hold a comma,
/// quote, CR or LF, with quotes doubled.
pub(super) fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

/// Writes one CSV record (for output printed page by page).
pub fn write_csv_record<'a>(
    out: &mut impl Write,
    fields: impl IntoIterator<Item = &'a str>,
) -> io::Result<()> {
    let mut csv = writer(out);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_an_open_quote() {
        let mut out = Vec::new();
        write_csv_record(&mut out, ["plain", "has, comma \"and\" quote\nline"])
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_default();
        let parsed = parse_csv(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed[0][1], "has, comma \"and\" quote\nline");
        let open = parse_csv("turn,role\n1,\"user\n").err().unwrap_or_default();
        assert!(
            open.contains("never closed") && open.contains("line 2"),
            "{open}"
        );
        let parsed = parse_csv("turn,role\n\n1,user\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed, vec![vec!["turn", "role"], vec!["1", "user"]]);
    }
}
