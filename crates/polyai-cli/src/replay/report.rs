//! What `chat replay` prints: a line per conversation on stderr as it ends, then on stdout a
//! table (the first divergence with both replies side by side, shortened to the terminal) and
//! the story of every conversation that did not replay clean, or JSON, JSON Lines or CSV.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use super::compare::{Kind, Side};
use super::run::{ReplayResult, Status, TurnComparison, turn_label};
use crate::cli::OutputFormat;
use crate::output::{Table, truncate, write_json, write_json_line};
use crate::scenario::run::human_duration;

/// Longest reply quoted in a one-line view when the width is not known.
const REPLY_CHARS: usize = 60;
/// Narrowest a shortened column gets, whatever the terminal.
const MIN_COLUMN: usize = 12;

/// The run as a whole: what was replayed against what, and the counts.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The agent replayed against.
    pub agent_id: String,
    /// Environment of the sessions.
    pub environment: &'static str,
    /// `--variant` (`null`: each conversation's own with `own_variant`, else the default).
    pub variant: Option<String>,
    /// Whether each conversation was replayed against the variant it was recorded on.
    pub own_variant: bool,
    /// Replies at least this similar were the same.
    pub threshold: f64,
    /// The text measure: `word_ratio` (2·M/T over normalised words).
    pub similarity_measure: &'static str,
    /// Conversations selected.
    pub total: usize,
    /// Conversations that replayed clean.
    pub clean: usize,
    /// Conversations that diverged.
    pub diverged: usize,
    /// Conversations that could not be replayed.
    pub errored: usize,
    /// Conversations not replayed (in progress, no transcript).
    pub skipped: usize,
    /// Conversations not finished when the run was interrupted.
    pub not_finished: usize,
    /// Whether Ctrl-C or SIGTERM stopped the run.
    pub interrupted: bool,
    /// Debug-chat sessions opened.
    pub sessions: usize,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// Wall time of the run.
    pub duration_ms: u64,
}

impl Summary {
    /// Fills the counts from `results`.
    pub fn count(&mut self, results: &[ReplayResult]) {
        let count = |status| results.iter().filter(|r| r.status == status).count();
        self.clean = count(Status::Clean);
        self.diverged = count(Status::Diverged);
        self.errored = count(Status::Errored);
        self.skipped = count(Status::Skipped);
        self.sessions = results.iter().filter(|r| r.session_id.is_some()).count();
        self.not_finished = self.total.saturating_sub(results.len());
    }

    /// What the sessions ran against: `variant "Next Release" in pre-release`.
    pub fn target(&self) -> String {
        let variant = match (&self.variant, self.own_variant) {
            (_, true) => "each conversation's own variant".to_owned(),
            (Some(v), false) => format!("variant {v:?}"),
            (None, false) => "the default variant".to_owned(),
        };
        format!("{variant} in {}", self.environment)
    }

    /// `20 conversations: 15 clean, 4 diverged, 1 errored, 0 skipped (…, 2.3s)`.
    pub fn line(&self) -> String {
        let head = if self.interrupted {
            format!(
                "interrupted: {} of {} conversations replayed",
                self.total - self.not_finished,
                self.total
            )
        } else {
            format!(
                "{} conversation{}",
                self.total,
                if self.total == 1 { "" } else { "s" }
            )
        };
        format!(
            "{head}: {} clean, {} diverged, {} errored, {} skipped ({}, threshold {:.2}, {})",
            self.clean,
            self.diverged,
            self.errored,
            self.skipped,
            self.target(),
            self.threshold,
            human_duration(Duration::from_millis(self.duration_ms))
        )
    }
}

/// The line printed when a conversation's replay ends.
pub fn progress_line(r: &ReplayResult) -> String {
    let mut line = format!(
        "{:<8}  {}  [{}, {}]",
        r.status.label(),
        r.conversation_id,
        turns(r),
        human_duration(Duration::from_millis(r.duration_ms))
    );
    if let Some(problem) = r.problem() {
        let _ = write!(line, "  {}", truncate(&problem, 2 * REPLY_CHARS));
    }
    line
}

/// `5/6 turns`: agent turns replayed of the original's.
fn turns(r: &ReplayResult) -> String {
    match r.turn_count {
        Some(total) => format!("{}/{total} turns", r.turns_replayed),
        None => format!("{} turns", r.turns_replayed),
    }
}

/// The table's view of what went wrong: `turn 3: function, text`, the error, or why it was
/// skipped.
fn first_divergence(r: &ReplayResult) -> String {
    match r.first_diverged_turn() {
        Some(turn) => {
            let kinds: Vec<&str> = turn.differences.iter().map(|d| d.kind.as_str()).collect();
            format!("{}: {}", turn.label(), kinds.join(", "))
        }
        None => r.problem().unwrap_or_else(|| "-".to_owned()),
    }
}

/// The lowest similarity of the replay's turns, two decimals.
fn lowest_similarity(r: &ReplayResult) -> Option<f64> {
    r.turns
        .iter()
        .filter_map(|t| t.similarity)
        .min_by(f64::total_cmp)
}

/// Writes the report of `results` in `format` (JSON Lines are streamed by the caller).
pub fn write(
    out: &mut impl Write,
    format: OutputFormat,
    results: &[ReplayResult],
    summary: &Summary,
    width: Option<usize>,
) -> io::Result<()> {
    match format {
        OutputFormat::Table => write_table(out, results, summary, width),
        OutputFormat::Json => {
            #[derive(Serialize)]
            struct Report<'a> {
                #[serde(flatten)]
                summary: &'a Summary,
                conversations: &'a [ReplayResult],
            }
            write_json(
                out,
                &Report {
                    summary,
                    conversations: results,
                },
            )
        }
        OutputFormat::Jsonl => results.iter().try_for_each(|r| write_json_line(out, r)),
        OutputFormat::Csv => write_csv(out, results),
    }
}

fn write_csv(out: &mut impl Write, results: &[ReplayResult]) -> io::Result<()> {
    let mut table = Table::new([
        "conversation_id",
        "status",
        "session_id",
        "environment",
        "variant",
        "turn_count",
        "turns_replayed",
        "first_divergence_turn",
        "first_divergence_kinds",
        "lowest_similarity",
        "problem",
        "original_response",
        "replayed_response",
        "duration_ms",
    ]);
    for r in results {
        let first = r.first_diverged_turn();
        table.push(vec![
            r.conversation_id.clone(),
            r.status.as_str().to_owned(),
            r.session_id.clone().unwrap_or_default(),
            r.environment.to_owned(),
            r.variant.clone().unwrap_or_default(),
            r.turn_count.map(|n| n.to_string()).unwrap_or_default(),
            r.turns_replayed.to_string(),
            first.map(|t| t.turn_index.to_string()).unwrap_or_default(),
            first
                .map(|t| {
                    let kinds: Vec<&str> = t.differences.iter().map(|d| d.kind.as_str()).collect();
                    kinds.join(" ")
                })
                .unwrap_or_default(),
            lowest_similarity(r)
                .map(|s| format!("{s:.3}"))
                .unwrap_or_default(),
            r.problem().unwrap_or_default(),
            first
                .and_then(|t| t.original.agent_response.clone())
                .unwrap_or_default(),
            first
                .and_then(|t| t.replayed.agent_response.clone())
                .unwrap_or_default(),
            r.duration_ms.to_string(),
        ]);
    }
    table.write_csv(out)
}

/// The table: one row per conversation, the replies at its first divergence shortened so each
/// row fits `width` (ids are never shortened or wrapped); then the details; then the summary.
fn write_table(
    out: &mut impl Write,
    results: &[ReplayResult],
    summary: &Summary,
    width: Option<usize>,
) -> io::Result<()> {
    let header = [
        "RESULT",
        "CONVERSATION",
        "TURNS",
        "SIM",
        "FIRST DIVERGENCE",
        "ORIGINAL",
        "REPLAYED",
    ];
    let rows: Vec<[String; 7]> = results
        .iter()
        .map(|r| {
            let first = r.first_diverged_turn();
            // What differed besides the words goes first, so shortening keeps it.
            let reply = |side: fn(&TurnComparison) -> &Side| {
                let Some(turn) = first else {
                    return "-".to_owned();
                };
                let text = side(turn).agent_response.clone().unwrap_or_default();
                let kinds: Vec<Kind> = turn.differences.iter().map(|d| d.kind).collect();
                let facts = facts(side(turn), &kinds);
                if facts.is_empty() {
                    text
                } else {
                    format!("[{facts}] {text}")
                }
            };
            [
                r.status.label().to_owned(),
                r.conversation_id.clone(),
                turns(r).trim_end_matches(" turns").to_owned(),
                lowest_similarity(r).map_or_else(|| "-".to_owned(), |s| format!("{s:.2}")),
                first_divergence(r),
                reply(|t| &t.original),
                reply(|t| &t.replayed),
            ]
        })
        .collect();
    // Columns 0..4 keep their width; 4..7 share what is left of the line.
    let fixed: usize = (0..4)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .sum::<usize>()
        + 2 * (header.len() - 1);
    let share = width.map_or(REPLY_CHARS, |w| {
        (w.saturating_sub(fixed) / 3).max(MIN_COLUMN)
    });
    let mut table = Table::new(header);
    for row in rows {
        let [a, b, c, d, e, f, g] = row;
        table.push(vec![
            a,
            b,
            c,
            d,
            truncate(&e, share),
            truncate(&f, share),
            truncate(&g, share),
        ]);
    }
    table.write_within(out, None)?;
    for r in results.iter().filter(|r| r.status != Status::Clean) {
        out.write_all(details(r).as_bytes())?;
    }
    writeln!(out, "\n{}", summary.line())
}

/// The story of a conversation that did not replay clean: where it ran, what differed, and
/// the conversation up to its first divergence with both replies.
pub fn details(r: &ReplayResult) -> String {
    let mut text = format!("\n{} {}", r.status.label(), r.conversation_id);
    let _ = writeln!(text, " ({})", r.how().join(", "));
    if let Some(why) = &r.skipped_reason {
        let _ = writeln!(text, "  {why}");
        return text;
    }
    let first = r.first_diverged_turn().map(|t| t.turn_index);
    for turn in &r.turns {
        if first.is_some_and(|f| turn.turn_index > f) {
            break;
        }
        text.push_str(&turn_view(turn, "  "));
    }
    if let Some(e) = &r.error {
        let at = e.turn_index.map(turn_label).unwrap_or_default();
        let _ = writeln!(
            text,
            "  {}error: {}",
            if at.is_empty() {
                String::new()
            } else {
                format!("{at}: ")
            },
            e.message
        );
    }
    if r.turns_not_sent > 0 {
        let _ = writeln!(
            text,
            "  ({} caller turn{} not sent)",
            r.turns_not_sent,
            if r.turns_not_sent == 1 { "" } else { "s" }
        );
    }
    text
}

/// One turn with both replies: the caller, the original, the replay, and what differed.
pub fn turn_view(turn: &TurnComparison, indent: &str) -> String {
    let mut text = String::new();
    let mark = if turn.diverged() { "≠" } else { "=" };
    let sim = turn
        .similarity
        .map_or_else(String::new, |s| format!(" similarity {s:.2}"));
    let _ = writeln!(text, "{indent}{mark} {}{sim}", turn.label());
    let pad = format!("{indent}    ");
    match turn.user_input.as_deref() {
        Some("") => {
            let _ = writeln!(text, "{pad}caller    (silence)");
        }
        Some(user) => {
            let _ = writeln!(text, "{pad}caller    {user}");
        }
        None => {}
    }
    for (name, side) in [("original", &turn.original), ("replayed", &turn.replayed)] {
        let reply = side.agent_response.as_deref().unwrap_or("(not recorded)");
        let _ = writeln!(text, "{pad}{name:<8}  {reply}");
        let notes = notes(side);
        if !notes.is_empty() {
            let _ = writeln!(text, "{pad}          ({notes})");
        }
    }
    for d in &turn.differences {
        let _ = writeln!(text, "{pad}{}: {}", d.kind.as_str(), d.message);
    }
    text
}

/// What `side` did of what differed (`kinds`): `no function`, `handoff: Escalations`, ….
fn facts(side: &Side, kinds: &[Kind]) -> String {
    let mut facts = Vec::new();
    for kind in kinds {
        match kind {
            Kind::Function => facts.push(match side.functions.as_deref() {
                Some([]) | None => "no function".to_owned(),
                Some(names) => format!("functions: {}", names.join(", ")),
            }),
            Kind::Handoff => facts.push(match side.handoff {
                Some(true) => format!(
                    "handoff: {}",
                    side.handoff_destination
                        .as_deref()
                        .unwrap_or("(no destination)")
                ),
                _ => "no handoff".to_owned(),
            }),
            Kind::Ended => facts.push(
                if side.ended == Some(true) {
                    "ended"
                } else {
                    "went on"
                }
                .to_owned(),
            ),
            Kind::Text => {}
        }
    }
    facts.join("; ")
}

/// `functions: a, b; handoff: Front Desk; ended the conversation`, from what the side says.
pub fn notes(side: &Side) -> String {
    side_notes(side, false).join("; ")
}

/// What a side did besides its words, one note each; with `no_function`, a turn that called
/// nothing says so.
pub fn side_notes(side: &Side, no_function: bool) -> Vec<String> {
    let mut notes = Vec::new();
    match side.functions.as_deref() {
        Some([]) if no_function => notes.push("no function".to_owned()),
        Some([]) | None => {}
        Some(names) => notes.push(format!("functions: {}", names.join(", "))),
    }
    if side.handoff == Some(true) {
        notes.push(format!(
            "handoff: {}",
            side.handoff_destination
                .as_deref()
                .unwrap_or("(no destination)")
        ));
    }
    if side.ended == Some(true) {
        notes.push("ended the conversation".to_owned());
    }
    notes
}
