//! The JUnit XML report of a replay: one `<testsuite>` for the run, one `<testcase>` per
//! conversation (named by its id). A diverged conversation has a `<failure>` (its type: what
//! differed at the first divergence; its text: the conversation up to there with both
//! replies), one that could not be replayed an `<error>` (its type: the kind of problem), a
//! skipped one `<skipped>`; every test case carries all its compared turns in `<system-out>`.
//! Text is escaped for XML 1.0 by the writer `chat test` uses.

use std::fmt::Write as _;

use super::report::{Summary, details, turn_view};
use super::run::{ReplayResult, Status};
use crate::scenario::junit::{Xml, seconds};

/// The report for `results`; `timestamp` is when the run started (ISO 8601, UTC, no offset).
pub fn render(results: &[ReplayResult], summary: &Summary, timestamp: &str) -> String {
    let mut xml = Xml::document();
    let suite_name = format!("polyai chat replay ({})", summary.target());
    let counts = [
        ("tests", results.len().to_string()),
        ("failures", summary.diverged.to_string()),
        ("errors", summary.errored.to_string()),
        ("skipped", summary.skipped.to_string()),
        ("time", seconds(summary.duration_ms)),
        ("timestamp", timestamp.to_owned()),
    ];
    let mut attrs = vec![("name", suite_name.clone())];
    attrs.extend(counts.iter().cloned());
    xml.open("testsuites", &attrs);
    xml.open("testsuite", &attrs);
    let mut properties = vec![
        ("agent_id", summary.agent_id.clone()),
        ("environment", summary.environment.to_owned()),
        ("threshold", format!("{}", summary.threshold)),
        ("similarity_measure", summary.similarity_measure.to_owned()),
        ("interrupted", summary.interrupted.to_string()),
        ("not_finished", summary.not_finished.to_string()),
    ];
    if let Some(variant) = &summary.variant {
        properties.push(("variant", variant.clone()));
    }
    xml.open("properties", &[]);
    for (name, value) in properties {
        xml.leaf(
            "property",
            &[("name", name.to_owned()), ("value", value)],
            "",
        );
    }
    xml.close("properties");
    for r in results {
        test_case(&mut xml, r, &summary.environment_class());
    }
    xml.close("testsuite");
    xml.close("testsuites");
    xml.out
}

impl Summary {
    /// `chat_replay.pre-release.Next Release`: how CI tools group the test cases.
    fn environment_class(&self) -> String {
        let variant = match (&self.variant, self.own_variant) {
            (_, true) => "own-variant",
            (Some(v), false) => v.as_str(),
            (None, false) => "default-variant",
        };
        format!("chat_replay.{}.{variant}", self.environment)
    }
}

fn test_case(xml: &mut Xml, r: &ReplayResult, class: &str) {
    xml.open(
        "testcase",
        &[
            ("name", r.conversation_id.clone()),
            ("classname", class.to_owned()),
            ("time", seconds(r.duration_ms)),
        ],
    );
    let message = r.problem().unwrap_or_default();
    match r.status {
        Status::Clean => {}
        Status::Diverged => {
            let kinds = r
                .first_divergence
                .as_ref()
                .map(|f| {
                    f.kinds
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            xml.leaf(
                "failure",
                &[("message", message), ("type", kinds)],
                &details(r),
            );
        }
        Status::Errored => {
            let kind = r.error.as_ref().map_or("", |e| e.kind.as_str()).to_owned();
            xml.leaf(
                "error",
                &[("message", message), ("type", kind)],
                &details(r),
            );
        }
        Status::Skipped => xml.leaf("skipped", &[("message", message)], ""),
    }
    let mut out = String::new();
    if let Some(id) = &r.session_id {
        let _ = writeln!(out, "session {id}");
    }
    for turn in &r.turns {
        out.push_str(&turn_view(turn, ""));
    }
    xml.leaf("system-out", &[], &out);
    xml.close("testcase");
}
