//! What `chat test` prints: a line per scenario as it ends (stderr), then the summary on
//! stdout as a table with the details of every problem, JSON, JSON Lines or CSV.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use super::run::{RunResult, ScenarioResult, Status, human_duration, turn_label};
use crate::cli::OutputFormat;
use crate::output::{Table, truncate, write_json, write_json_line};

/// Longest reply quoted in a one-line view.
const REPLY_CHARS: usize = 100;

/// Counts over a whole run of the suite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Scenarios run.
    pub total: usize,
    /// Scenarios that passed.
    pub passed: usize,
    /// Scenarios that failed.
    pub failed: usize,
    /// Scenarios that errored.
    pub errored: usize,
    /// Debug-chat sessions started (runs).
    pub sessions: usize,
    /// Wall time of the whole run.
    pub duration_ms: u64,
}

impl Summary {
    /// The counts of `results`, which took `elapsed`.
    pub fn of(results: &[ScenarioResult], elapsed: Duration) -> Self {
        let count = |status| results.iter().filter(|r| r.status == status).count();
        Summary {
            total: results.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            errored: count(Status::Errored),
            sessions: results.iter().map(|r| r.runs.len()).sum(),
            duration_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// `7 scenarios: 6 passed, 1 failed, 0 errored (9 sessions, 2.3s)`.
    pub fn line(&self) -> String {
        format!(
            "{} scenario{}: {} passed, {} failed, {} errored ({} session{}, {})",
            self.total,
            plural(self.total),
            self.passed,
            self.failed,
            self.errored,
            self.sessions,
            plural(self.sessions),
            human_duration(Duration::from_millis(self.duration_ms))
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The line printed when a scenario ends: verdict, name, then what went wrong.
pub fn progress_line(r: &ScenarioResult) -> String {
    let runs = if r.repeat > 1 {
        format!(
            "{}/{} runs passed, {} needed; ",
            r.passed_runs, r.repeat, r.must_pass
        )
    } else {
        String::new()
    };
    let mut line = format!(
        "{:<5}  {}  [{runs}{} turn{}, {}]",
        r.status.label(),
        r.name,
        r.turns,
        plural(r.turns),
        human_duration(Duration::from_millis(r.duration_ms))
    );
    if let Some(problem) = r.problem() {
        let _ = write!(line, "  {problem}");
    }
    if let Some(reply) = r.breaking_reply() {
        let _ = write!(line, " — reply: {:?}", truncate(reply, REPLY_CHARS));
    }
    line
}

/// `chat test -O json`: the counts, then every scenario's result.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Report<'a> {
    /// The counts over the whole run.
    #[serde(flatten)]
    pub summary: Summary,
    /// Each scenario's result.
    pub scenarios: &'a [ScenarioResult],
}

/// Writes the summary of `results` in `format`.
pub fn write(
    out: &mut impl Write,
    format: OutputFormat,
    results: &[ScenarioResult],
    summary: &Summary,
) -> io::Result<()> {
    match format {
        OutputFormat::Table => write_table(out, results, summary),
        OutputFormat::Json => write_json(
            out,
            &Report {
                summary: *summary,
                scenarios: results,
            },
        ),
        // `chat test` streams these as scenarios end; this is for a report written after.
        OutputFormat::Jsonl => results.iter().try_for_each(|r| write_json_line(out, r)),
        OutputFormat::Csv => {
            let mut table = Table::new([
                "scenario",
                "file",
                "line",
                "status",
                "agent",
                "environment",
                "variant",
                "language",
                "turns",
                "passed_runs",
                "repeat",
                "must_pass",
                "duration_ms",
                "problem",
                "reply",
            ]);
            for r in results {
                table.push(vec![
                    r.name.clone(),
                    r.file.clone(),
                    r.line.to_string(),
                    r.status.as_str().to_owned(),
                    r.agent.clone(),
                    r.environment.to_owned(),
                    r.variant.clone().unwrap_or_default(),
                    r.language.clone().unwrap_or_default(),
                    r.turns.to_string(),
                    r.passed_runs.to_string(),
                    r.repeat.to_string(),
                    r.must_pass.to_string(),
                    r.duration_ms.to_string(),
                    r.problem().unwrap_or_default(),
                    r.breaking_reply().unwrap_or_default().to_owned(),
                ]);
            }
            table.write_csv(out)
        }
    }
}

fn write_table(
    out: &mut impl Write,
    results: &[ScenarioResult],
    summary: &Summary,
) -> io::Result<()> {
    let mut table = Table::new([
        "RESULT",
        "SCENARIO",
        "FILE",
        "TURNS",
        "RUNS",
        "TIME",
        "FIRST FAILURE",
    ]);
    for r in results {
        let mut problem = r.problem().unwrap_or_else(|| "-".to_owned());
        if let Some(reply) = r.breaking_reply() {
            let _ = write!(problem, " — reply: {:?}", reply);
        }
        table.push(vec![
            r.status.label().to_owned(),
            r.name.clone(),
            format!("{}:{}", r.file, r.line),
            r.turns.to_string(),
            format!("{}/{}", r.passed_runs, r.repeat),
            human_duration(Duration::from_millis(r.duration_ms)),
            truncate(&problem, 2 * REPLY_CHARS),
        ]);
    }
    table.write_aligned(out)?;
    for r in results.iter().filter(|r| r.status != Status::Passed) {
        out.write_all(details(r).as_bytes())?;
    }
    writeln!(out, "\n{}", summary.line())
}

/// The full story of a scenario that did not pass: where it is, how it ran, what broke, and
/// the conversation up to that point.
pub fn details(r: &ScenarioResult) -> String {
    let mut text = format!(
        "\n{} {} ({}:{})\n",
        r.status.label(),
        r.name,
        r.file,
        r.line
    );
    let Some(run) = r.deciding_run() else {
        return text;
    };
    if r.repeat > 1 {
        let _ = writeln!(
            text,
            "  {} of {} runs passed, {} needed; the first {} run:",
            r.passed_runs,
            r.repeat,
            r.must_pass,
            r.status.as_str()
        );
    }
    let _ = writeln!(text, "  {}", run_header(r, run));
    if let Some(f) = &run.failure {
        for e in &f.expectations {
            let _ = writeln!(text, "  {}: {e}", turn_label(f.turn));
        }
    }
    if let Some(e) = &run.error {
        let _ = writeln!(text, "  {}: {}", turn_label(e.turn), e.message);
    }
    text.push_str(&transcript(run, "    "));
    text
}

/// `run 1 of 3, session AS_CHAT_…, agent …, sandbox, variant …, en-GB`.
pub fn run_header(r: &ScenarioResult, run: &RunResult) -> String {
    let mut header = format!("run {} of {}", run.run, r.repeat);
    if let Some(id) = &run.session_id {
        let _ = write!(header, ", session {id}");
    }
    let _ = write!(header, ", agent {}, {}", r.agent, r.environment);
    if let Some(v) = &r.variant {
        let _ = write!(header, ", variant {v}");
    }
    if let Some(l) = &r.language {
        let _ = write!(header, ", {l}");
    }
    header
}

/// The conversation of a run, each reply with the functions it called and whether it handed
/// off or ended.
pub fn transcript(run: &RunResult, indent: &str) -> String {
    let mut text = String::new();
    for exchange in &run.transcript {
        match exchange.user.as_deref() {
            Some("") => {
                let _ = writeln!(text, "{indent}you>   (silence)");
            }
            Some(user) => {
                let _ = writeln!(text, "{indent}you>   {user}");
            }
            None => {}
        }
        let reply = &exchange.reply;
        let _ = writeln!(text, "{indent}agent> {}", reply.agent_response);
        let mut notes = Vec::new();
        if !reply.functions_called.is_empty() {
            notes.push(format!("functions: {}", reply.functions_called.join(", ")));
        }
        if reply.handoff {
            notes.push(format!(
                "handoff: {}",
                reply
                    .handoff_destination
                    .as_deref()
                    .unwrap_or("(no destination)")
            ));
        }
        if reply.conversation_ended {
            notes.push("ended the conversation".to_owned());
        }
        if !notes.is_empty() {
            let _ = writeln!(text, "{indent}       ({})", notes.join("; "));
        }
    }
    if let Some(e) = &run.error {
        let missing = match e.turn {
            0 => "no greeting".to_owned(),
            n => format!("no reply to turn {n}"),
        };
        let _ = writeln!(text, "{indent}({missing})");
    }
    text
}
