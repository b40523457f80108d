//! A comparison's [`Outcome`] as a table per day and a list of differences (for people), one
//! JSON document (`-O json`: summary, days, differences, and the conversations apart), one
//! finding per line (`-O jsonl`, with a `kind`), or one row per finding (`-O csv`).

use std::io::{self, Write};

use jiff::tz::TimeZone;
use polyai_data::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::compare::{DayCounts, Field, Finding, FindingKind, Outcome, SideCounts, Which};
use crate::cli::OutputFormat;
use crate::output::{Table, truncate, write_json, write_json_line};

/// Longest value shown in a cell of the differences table.
const VALUE_WIDTH: usize = 40;

/// What the report says about the comparison besides its outcome.
#[derive(Debug, Clone)]
pub struct Header {
    /// The agent compared.
    pub agent_id: String,
    /// Each side's short name (`data`, `v3`, `export`, `database`).
    pub labels: [&'static str; 2],
    /// Each side in words.
    pub descriptions: [String; 2],
    /// The window's start…
    pub since: Timestamp,
    /// …and end (exclusive).
    pub until: Timestamp,
    /// The zone of the days.
    pub tz: TimeZone,
    /// Its name (`UTC`, `Europe/London`).
    pub tz_name: String,
    /// `live`, `pre-release`, `sandbox` or `all`.
    pub environment: String,
    /// The facts compared.
    pub fields: Vec<Field>,
    /// Seconds listed beyond each edge.
    pub margin_secs: u64,
    /// Start times this many seconds apart are equal.
    pub tolerance_secs: u64,
    /// Side a is the Data API listing without details (so it carries no turn count).
    pub a_lacks_turns: bool,
    /// What the sides warned about.
    pub warnings: Vec<String>,
}

impl Header {
    fn label(&self, which: Which) -> &'static str {
        match which {
            Which::A => self.labels[0],
            Which::B => self.labels[1],
        }
    }

    /// A time of the window in the report's zone: `2026-06-01 00:00:00 UTC`.
    fn time(&self, t: Timestamp) -> String {
        match jiff::Timestamp::from_microsecond(t.unix_micros()) {
            Ok(t) => format!(
                "{} {}",
                self.tz.to_datetime(t).strftime("%Y-%m-%d %H:%M:%S"),
                self.tz_name
            ),
            Err(_) => t.to_string(),
        }
    }
}

/// Writes the report in `format`; `show` bounds the differences listed in a table.
pub fn write(
    out: &mut impl Write,
    format: OutputFormat,
    header: &Header,
    outcome: &Outcome,
    show: usize,
) -> io::Result<()> {
    match format {
        OutputFormat::Table => table(out, header, outcome, show),
        OutputFormat::Json => write_json(out, &Document { header, outcome }),
        OutputFormat::Jsonl => {
            for finding in &outcome.findings {
                write_json_line(out, &finding_record(header, finding))?;
            }
            Ok(())
        }
        OutputFormat::Csv => csv(out, header, outcome),
    }
}

/// One line that says whether the listings agree, and how they differ.
pub fn summary_line(header: &Header, outcome: &Outcome) -> String {
    let t = &outcome.totals;
    let [a, b] = header.labels;
    let apart = if t.in_progress > 0 {
        format!(
            "; {} reported apart (in progress, or finished or arrived during the run)",
            t.in_progress
        )
    } else {
        String::new()
    };
    if outcome.agree() {
        return format!(
            "The listings agree: {} conversations on both sides, every compared fact equal{apart}.",
            t.both
        );
    }
    let mut parts = Vec::new();
    let mut part = |n: u64, what: String| {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    };
    part(t.only_in_a, format!("only in {a}"));
    part(t.only_in_b, format!("only in {b}"));
    part(
        t.differing,
        format!(
            "with differing facts ({})",
            differing_fields(outcome).join(", ")
        ),
    );
    part(t.duplicates_in_a, format!("listed twice by {a}"));
    part(t.duplicates_in_b, format!("listed twice by {b}"));
    format!(
        "The listings differ: {} (of {} in {a}, {} in {b}){apart}.",
        parts.join(", "),
        t.a,
        t.b
    )
}

/// The fields with a difference.
fn differing_fields(outcome: &Outcome) -> Vec<&'static str> {
    outcome
        .fields
        .iter()
        .filter(|f| f.differing > 0)
        .map(|f| f.field.name())
        .collect()
}

/// What the sides noticed that the reader should know, one sentence each.
pub fn notes(header: &Header, outcome: &Outcome) -> Vec<String> {
    let mut notes = header.warnings.clone();
    for (which, side) in [(Which::A, &outcome.sides[0]), (Which::B, &outcome.sides[1])] {
        let label = header.label(which);
        let mut note = |n: u64, text: &str| {
            if n > 0 {
                notes.push(format!("{label}: {n} {text}"));
            }
        };
        note(
            side.out_of_order,
            "conversations of the window came after older ones: the Data API listing is not in \
             start order, so the walk may have stopped before some",
        );
        note(
            side.details_failed,
            "details could not be read: those conversations were compared on their listing \
             facts, without turn_count",
        );
        note(
            side.unreadable,
            "lines or items were not conversation records (skipped)",
        );
        note(
            side.without_start,
            "records have no start time and belong to no day (not compared)",
        );
        note(
            side.without_environment,
            "records have no environment (not compared; --env all compares them)",
        );
        note(
            side.paging_repeats,
            "items were listed again as offset pages shifted under new conversations (not \
             duplicates)",
        );
    }
    for stat in &outcome.fields {
        if stat.compared > 0 || stat.not_carried == [0, 0] {
            continue;
        }
        let missing: Vec<&str> = [Which::A, Which::B]
            .into_iter()
            .zip(stat.not_carried)
            .filter(|(_, n)| *n > 0)
            .map(|(w, _)| header.label(w))
            .collect();
        let mut text = format!(
            "{} not compared: {} does not carry it",
            stat.field.name(),
            missing.join(" and ")
        );
        if stat.field == Field::TurnCount && header.a_lacks_turns {
            text.push_str(
                " (the Data API listing has no turns; --with-details reads each conversation's)",
            );
        }
        notes.push(text);
    }
    notes
}

fn table(out: &mut impl Write, header: &Header, outcome: &Outcome, show: usize) -> io::Result<()> {
    let [a, b] = header.labels;
    writeln!(
        out,
        "Agent {}: conversations started from {} to {}, environment {}; days in {}",
        header.agent_id,
        header.time(header.since),
        header.time(header.until),
        header.environment,
        header.tz_name
    )?;
    writeln!(out, "  a = {a}: {}", header.descriptions[0])?;
    writeln!(out, "  b = {b}: {}", header.descriptions[1])?;
    let names: Vec<&str> = header.fields.iter().map(|f| f.name()).collect();
    writeln!(out, "  compared: {}", names.join(", "))?;
    writeln!(out)?;
    let upper = |s: &str| s.to_ascii_uppercase();
    let mut days = Table::new(vec![
        "DAY".to_owned(),
        upper(a),
        upper(b),
        "BOTH".to_owned(),
        format!("ONLY {}", upper(a)),
        format!("ONLY {}", upper(b)),
        "DIFFERING".to_owned(),
        "DUPLICATES".to_owned(),
        "IN PROGRESS".to_owned(),
    ])
    .flexible(None);
    let row = |day: String, c: &DayCounts| {
        vec![
            day,
            c.a.to_string(),
            c.b.to_string(),
            c.both.to_string(),
            c.only_in_a.to_string(),
            c.only_in_b.to_string(),
            c.differing.to_string(),
            (c.duplicates_in_a + c.duplicates_in_b).to_string(),
            c.in_progress.to_string(),
        ]
    };
    for (day, counts) in &outcome.days {
        days.push(row(day.to_string(), counts));
    }
    days.push(row("total".to_owned(), &outcome.totals));
    days.write_aligned(out)?;
    let listed: Vec<&Finding> = outcome.findings.iter().take(show).collect();
    if !listed.is_empty() {
        writeln!(out)?;
        let mut details = Table::new(vec![
            "KIND".to_owned(),
            "ID".to_owned(),
            "DAY".to_owned(),
            "FIELD".to_owned(),
            upper(a),
            upper(b),
        ]);
        for f in listed {
            let cell = |v: &Value| match f.kind {
                FindingKind::InProgress => match v {
                    Value::Bool(true) => "in progress".to_owned(),
                    Value::Bool(false) => "finished".to_owned(),
                    _ => "-".to_owned(),
                },
                _ => truncate(&text(v), VALUE_WIDTH),
            };
            details.push(vec![
                kind_words(header, f.kind),
                f.conversation_id.clone(),
                f.day.to_string(),
                f.field.to_owned(),
                cell(&f.a),
                cell(&f.b),
            ]);
        }
        details.write_aligned(out)?;
        let more = outcome.findings.len().saturating_sub(show);
        if more > 0 {
            writeln!(
                out,
                "… and {more} more (-O jsonl or -O csv lists every one, --show N lists more here)"
            )?;
        }
    }
    writeln!(out)?;
    for note in notes(header, outcome) {
        writeln!(out, "note: {note}")?;
    }
    writeln!(out, "{}", summary_line(header, outcome))
}

/// A finding's kind for people: `only in data`, `twice in v3`, `differs`, ….
fn kind_words(header: &Header, kind: FindingKind) -> String {
    match kind {
        FindingKind::OnlyInA => format!("only in {}", header.labels[0]),
        FindingKind::OnlyInB => format!("only in {}", header.labels[1]),
        FindingKind::DuplicateInA => format!("twice in {}", header.labels[0]),
        FindingKind::DuplicateInB => format!("twice in {}", header.labels[1]),
        FindingKind::Differs => "differs".to_owned(),
        FindingKind::InProgress => "in progress".to_owned(),
        FindingKind::Arrived => "arrived".to_owned(),
    }
}

/// A value as text: strings as they are, `-` for null, JSON otherwise.
fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `reconcile -O jsonl` (each line), and each item of `reconcile -O json`'s `differences` and
/// `in_progress`: one finding (`-O csv` writes the same fields as columns).
#[derive(Debug, Serialize, JsonSchema)]
pub struct FindingRecord<'a> {
    /// `only_in_a`, `only_in_b`, `differs`, `duplicate_in_a`, `duplicate_in_b` (differences),
    /// `in_progress` or `arrived` (apart).
    pub kind: &'static str,
    /// The side an `only_in_*` or `duplicate_in_*` finding concerns (`data`, `v3`, `export`,
    /// `database`); null for the others.
    pub side: Option<&'static str>,
    /// The day it is counted on, `YYYY-MM-DD` in the report's zone.
    pub day: String,
    /// The conversation.
    pub conversation_id: &'a str,
    /// The fact, by its record contract name (`started_at` for the one-sided kinds,
    /// `in_progress` for a conversation in progress).
    pub field: &'static str,
    /// Side a's value (null where side a has none).
    pub a: &'a Value,
    /// Side b's value.
    pub b: &'a Value,
}

fn finding_record<'a>(header: &Header, f: &'a Finding) -> FindingRecord<'a> {
    FindingRecord {
        kind: f.kind.name(),
        side: f.kind.side().map(|w| header.label(w)),
        day: f.day.to_string(),
        conversation_id: &f.conversation_id,
        field: f.field,
        a: &f.a,
        b: &f.b,
    }
}

/// `reconcile -O json`: the whole report. It is written finding by finding (see
/// [`Document`]); this type gives its schema and, in the tests, the same document whole.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportRecord<'a> {
    /// The verdict, the window and the counts.
    pub summary: Summary,
    /// One row per day with a conversation, in date order.
    pub days: Vec<DayRow>,
    /// The differences, by day, kind and id.
    pub differences: Vec<FindingRecord<'a>>,
    /// The conversations reported apart (in progress, finished or arrived during the run).
    pub in_progress: Vec<FindingRecord<'a>>,
}

/// The summary of a report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    /// Whether the listings agree (no difference).
    pub agree: bool,
    /// The agent compared.
    pub agent_id: String,
    /// The window's start (RFC 3339, UTC).
    pub since: String,
    /// The window's end, exclusive.
    pub until: String,
    /// The zone of the days (`UTC`, or an IANA name).
    pub time_zone: String,
    /// `live`, `pre-release`, `sandbox` or `all`.
    pub environment: String,
    /// How far past each end of the window both sides were read.
    pub edge_margin_seconds: u64,
    /// Start times this far apart counted as equal.
    pub time_tolerance_seconds: u64,
    /// Side a.
    pub a: SideSummary,
    /// Side b.
    pub b: SideSummary,
    /// Each fact compared.
    pub fields: Vec<FieldSummary>,
    /// The sums of the days.
    pub totals: DayCounts,
    /// Differences in all (ids on one side only, conversations whose facts differ, extra
    /// copies).
    pub differences: u64,
    /// What the sides noticed that a reader should know, one sentence each.
    pub notes: Vec<String>,
}

/// One side of a report.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SideSummary {
    /// `data`, `v3`, `export` or `database`.
    pub side: String,
    /// What it is, in words.
    pub description: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: SideCounts,
}

/// How one fact fared.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldSummary {
    /// The fact, by its record contract name.
    pub field: String,
    /// Conversations in which both sides carried it.
    pub compared: u64,
    /// Conversations in which it differs.
    pub differing: u64,
    /// Conversations in which side a does not carry it (its API does not send it).
    pub not_carried_by_a: u64,
    /// Conversations in which side b does not carry it.
    pub not_carried_by_b: u64,
}

/// The counts of one day.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DayRow {
    /// `YYYY-MM-DD` in the report's zone.
    pub day: String,
    /// Its counts.
    #[serde(flatten)]
    pub counts: DayCounts,
}

/// The findings of one list of the JSON document, serialized one by one (never a second copy of
/// them all).
struct FindingList<'a> {
    header: &'a Header,
    findings: &'a [Finding],
    differences: bool,
}

impl Serialize for FindingList<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.findings
                .iter()
                .filter(|f| f.kind.is_difference() == self.differences)
                .map(|f| finding_record(self.header, f)),
        )
    }
}

/// `-O json`: a [`ReportRecord`], written finding by finding.
struct Document<'a> {
    header: &'a Header,
    outcome: &'a Outcome,
}

impl Serialize for Document<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (header, outcome) = (self.header, self.outcome);
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("summary", &summary(header, outcome))?;
        map.serialize_entry("days", &days(outcome))?;
        for (key, differences) in [("differences", true), ("in_progress", false)] {
            let list = FindingList {
                header,
                findings: &outcome.findings,
                differences,
            };
            map.serialize_entry(key, &list)?;
        }
        map.end()
    }
}

fn summary(header: &Header, outcome: &Outcome) -> Summary {
    let side = |which: Which| {
        let i = usize::from(which == Which::B);
        SideSummary {
            side: header.labels[i].to_owned(),
            description: header.descriptions[i].clone(),
            counts: outcome.sides[i].clone(),
        }
    };
    Summary {
        agree: outcome.agree(),
        agent_id: header.agent_id.clone(),
        since: header.since.to_rfc3339_micros(),
        until: header.until.to_rfc3339_micros(),
        time_zone: header.tz_name.clone(),
        environment: header.environment.clone(),
        edge_margin_seconds: header.margin_secs,
        time_tolerance_seconds: header.tolerance_secs,
        a: side(Which::A),
        b: side(Which::B),
        fields: outcome
            .fields
            .iter()
            .map(|s| FieldSummary {
                field: s.field.name().to_owned(),
                compared: s.compared,
                differing: s.differing,
                not_carried_by_a: s.not_carried[0],
                not_carried_by_b: s.not_carried[1],
            })
            .collect(),
        totals: outcome.totals.clone(),
        differences: outcome.totals.differences(),
        notes: notes(header, outcome),
    }
}

fn days(outcome: &Outcome) -> Vec<DayRow> {
    outcome
        .days
        .iter()
        .map(|(day, counts)| DayRow {
            day: day.to_string(),
            counts: counts.clone(),
        })
        .collect()
}

/// `-O csv`: a header, then one row per finding.
fn csv(out: &mut impl Write, header: &Header, outcome: &Outcome) -> io::Result<()> {
    let mut table = Table::new(["kind", "side", "day", "conversation_id", "field", "a", "b"]);
    for f in &outcome.findings {
        let cell = |v: &Value| match v {
            Value::Null => String::new(),
            other => text(other),
        };
        table.push(vec![
            f.kind.name().to_owned(),
            f.kind
                .side()
                .map_or_else(String::new, |w| header.label(w).to_owned()),
            f.day.to_string(),
            f.conversation_id.clone(),
            f.field.to_owned(),
            cell(&f.a),
            cell(&f.b),
        ]);
    }
    table.write_csv(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::compare::{Comparison, Settings};
    use polyai_data::record::ConversationRecord;
    use serde_json::json;

    #[test]
    fn the_streamed_json_document_is_the_report_record() {
        let at = |t: &str| t.parse::<Timestamp>().unwrap_or_else(|e| panic!("{e}"));
        let mut c = Comparison::new(Settings {
            since: at("2026-06-01T00:00:00Z"),
            until: at("2026-06-03T00:00:00Z"),
            margin_micros: 0,
            tolerance_micros: 0,
            tz: TimeZone::UTC,
            environments: None,
            fields: Field::DEFAULT.to_vec(),
            listed_from: [None, None],
            lag_micros: 0,
        });
        let record = |v: Value| ConversationRecord::from_data_api(&v).unwrap_or_else(|| panic!());
        c.add(Which::A, &record(json!({"conversationId": "CA1", "startedAt": "2026-06-01T10:00:00Z", "totalDuration": 3})));
        c.add(Which::B, &record(json!({"conversationId": "CA1", "startedAt": "2026-06-01T10:00:00Z", "totalDuration": 4})));
        c.add(Which::A, &record(json!({"conversationId": "CA2", "startedAt": "2026-06-02T10:00:00Z", "inProgress": true})));
        let outcome = c.finish();
        let header = Header {
            agent_id: "P".into(),
            labels: ["data", "v3"],
            descriptions: ["the Data API listing".into(), "v3".into()],
            since: at("2026-06-01T00:00:00Z"),
            until: at("2026-06-03T00:00:00Z"),
            tz: TimeZone::UTC,
            tz_name: "UTC".into(),
            environment: "all".into(),
            fields: Field::DEFAULT.to_vec(),
            margin_secs: 0,
            tolerance_secs: 0,
            a_lacks_turns: true,
            warnings: Vec::new(),
        };
        let streamed = serde_json::to_value(Document {
            header: &header,
            outcome: &outcome,
        })
        .unwrap_or_default();
        let (differences, apart): (Vec<&Finding>, Vec<&Finding>) = outcome
            .findings
            .iter()
            .partition(|f| f.kind.is_difference());
        let whole = ReportRecord {
            summary: summary(&header, &outcome),
            days: days(&outcome),
            differences: differences
                .into_iter()
                .map(|f| finding_record(&header, f))
                .collect(),
            in_progress: apart
                .into_iter()
                .map(|f| finding_record(&header, f))
                .collect(),
        };
        assert_eq!(streamed, serde_json::to_value(&whole).unwrap_or_default());
        assert_eq!(streamed["differences"][0]["field"], "total_duration");
        assert_eq!(streamed["in_progress"][0]["conversation_id"], "CA2");
        assert_eq!(streamed["summary"]["a"]["side"], "data");
        assert_eq!(streamed["summary"]["a"]["conversations"], 2);
        assert_eq!(streamed["days"][0]["day"], "2026-06-01");
    }
}
