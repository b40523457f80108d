//! The JUnit XML report CI systems read (Jenkins, GitLab, GitHub test reporters, Azure).
//!
//! One `<testsuite>` per scenario file, one `<testcase>` per scenario. A failed scenario has a
//! `<failure>` (its message: the first broken expectation; its text: every broken expectation,
//! the run and the transcript), an errored one an `<error>`, and every test case carries its
//! transcripts in `<system-out>`. Text is escaped for XML 1.0, and characters XML cannot hold
//! at all (most control characters) become U+FFFD.

use std::fmt::Write as _;
use std::path::Path;

use super::report::{Summary, details, run_header, transcript};
use super::run::{ScenarioResult, Status};
use crate::exit::CliError;

/// The report for `results`, which started at `timestamp` (ISO 8601, UTC, no offset).
pub fn render(results: &[ScenarioResult], summary: &Summary, timestamp: &str) -> String {
    let mut xml = Xml::document();
    xml.open(
        "testsuites",
        &[
            ("name", "polyai chat test".to_owned()),
            ("tests", summary.total.to_string()),
            ("failures", summary.failed.to_string()),
            ("errors", summary.errored.to_string()),
            ("skipped", "0".to_owned()),
            ("time", seconds(summary.duration_ms)),
            ("timestamp", timestamp.to_owned()),
        ],
    );
    let mut files: Vec<&str> = Vec::new();
    for r in results {
        if !files.contains(&r.file.as_str()) {
            files.push(&r.file);
        }
    }
    for file in files {
        let cases: Vec<&ScenarioResult> = results.iter().filter(|r| r.file == file).collect();
        let count = |status| {
            cases
                .iter()
                .filter(|r| r.status == status)
                .count()
                .to_string()
        };
        xml.open(
            "testsuite",
            &[
                ("name", file.to_owned()),
                ("tests", cases.len().to_string()),
                ("failures", count(Status::Failed)),
                ("errors", count(Status::Errored)),
                ("skipped", "0".to_owned()),
                ("time", seconds(cases.iter().map(|r| r.duration_ms).sum())),
                ("timestamp", timestamp.to_owned()),
            ],
        );
        for case in cases {
            test_case(&mut xml, case);
        }
        xml.close("testsuite");
    }
    xml.close("testsuites");
    xml.out
}

fn test_case(xml: &mut Xml, r: &ScenarioResult) {
    xml.open(
        "testcase",
        &[
            ("name", r.name.clone()),
            ("classname", class_name(&r.file)),
            ("file", r.file.clone()),
            ("line", r.line.to_string()),
            ("time", seconds(r.duration_ms)),
        ],
    );
    let message = r.problem().unwrap_or_default();
    match r.status {
        Status::Passed => {}
        Status::Failed => {
            let kind = "expectation".to_owned();
            xml.leaf(
                "failure",
                &[("message", message), ("type", kind)],
                &details(r),
            );
        }
        Status::Errored => {
            let kind = r
                .deciding_run()
                .and_then(|run| run.error.as_ref())
                .map_or("", |e| e.kind.as_str())
                .to_owned();
            xml.leaf(
                "error",
                &[("message", message), ("type", kind)],
                &details(r),
            );
        }
    }
    let mut out = String::new();
    if r.repeat > 1 {
        let _ = writeln!(
            out,
            "{} of {} runs passed ({} needed)",
            r.passed_runs, r.repeat, r.must_pass
        );
    }
    for run in &r.runs {
        let _ = writeln!(out, "{}: {}", run_header(r, run), run.status.as_str());
        out.push_str(&transcript(run, "  "));
    }
    xml.leaf("system-out", &[], &out);
    xml.close("testcase");
}

/// `crates/polyai-cli/scenarios/account.toml` → `crates.polyai-cli.scenarios.account`, the
/// dotted form CI tools group test classes by.
fn class_name(file: &str) -> String {
    let stem = file.strip_suffix(".toml").unwrap_or(file);
    stem.trim_start_matches("./").replace(['/', '\\'], ".")
}

/// Milliseconds as JUnit's seconds: `1.234`.
pub(crate) fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// A minimal XML writer: indented elements, escaped attributes and text.
#[derive(Default)]
pub(crate) struct Xml {
    pub(crate) out: String,
    depth: usize,
}

impl Xml {
    /// A document with its XML declaration.
    pub(crate) fn document() -> Self {
        let mut xml = Xml::default();
        xml.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.out.push_str(&"  ".repeat(self.depth));
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            let _ = write!(self.out, " {key}=\"{}\"", escape(value, true));
        }
    }

    /// Opens an element; its children follow, indented.
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, String)]) {
        self.start_tag(name, attrs);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// Closes the element `open` opened last.
    pub(crate) fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        let _ = writeln!(self.out, "{}</{name}>", "  ".repeat(self.depth));
    }

    /// An element holding only text (empty: `<name/>`).
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, String)], text: &str) {
        self.start_tag(name, attrs);
        if text.is_empty() {
            self.out.push_str("/>\n");
        } else {
            let _ = writeln!(self.out, ">{}</{name}>", escape(text, false));
        }
    }
}

/// Escapes `text` for XML 1.0 content or (with `attribute`) a double-quoted attribute value.
/// Characters XML 1.0 cannot represent become U+FFFD.
pub fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'.. => {
                out.push(c)
            }
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Creates the report's directory and makes sure a file can be written there, so a suite
/// does not run for minutes only to lose its report.
pub fn prepare(path: &Path) -> Result<(), CliError> {
    prepare_report(path, "--junit", "chat-test.xml")
}

/// [`prepare`] for the report `flag` names; `example` is a file name to suggest.
pub fn prepare_report(path: &Path, flag: &str, example: &str) -> Result<(), CliError> {
    if path.is_dir() {
        return Err(CliError::Usage(format!(
            "{flag} {} is a directory: name the report file, e.g. {}",
            path.display(),
            path.join(example).display()
        )));
    }
    let temp = temp_path(path)?;
    std::fs::write(&temp, "").map_err(|e| CliError::file("writing", path, e))?;
    std::fs::remove_file(&temp).map_err(|e| CliError::file("removing", &temp, e))
}

/// Writes the report to `path` through a temporary file renamed into place, so a reader never
/// sees half a report.
pub fn write(path: &Path, xml: &str) -> Result<(), CliError> {
    let temp = temp_path(path)?;
    std::fs::write(&temp, xml).map_err(|e| CliError::file("writing", &temp, e))?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        CliError::file("writing", path, e)
    })
}

/// `DIR/.NAME.PID.tmp` beside `path`, after creating `DIR`.
fn temp_path(path: &Path) -> Result<std::path::PathBuf, CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| CliError::file("creating", dir, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| CliError::Usage(format!("{}: not a file name", path.display())))?;
    Ok(path.with_file_name(format!(".{name}.{}.tmp", std::process::id())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::run::{ErrorKind, Exchange, Failure, RunError, RunResult};

    const NASTY: &str = "a <b> & \"c\" 'd' ]]> \u{1}\u{8}\u{B}\u{FFFE} tab\there\r\nline 🎧";

    fn reply(text: &str, ended: bool) -> crate::records::ChatTurn {
        let response: polyai_data::models::DebugChatResponse =
            serde_json::from_value(serde_json::json!({
                "conversationId": "AS_CHAT_1", "userInput": "", "response": text,
                "conversationEnded": ended, "delayedResponse": false,
                "metadata": {"state": {}, "currentNode": "", "nodeTrace": [], "metrics": {},
                    "functionEvents": [{"name": "send_reset_link"}]},
            }))
            .unwrap_or_else(|e| panic!("{e}"));
        crate::records::ChatTurn::from_response(&response)
    }

    fn result(name: &str, file: &str, status: Status) -> ScenarioResult {
        let (failure, error) = match status {
            Status::Passed => (None, None),
            Status::Failed => (
                Some(Failure {
                    turn: 1,
                    expectations: vec![format!("expected the reply to contain {NASTY:?}")],
                    reply: NASTY.to_owned(),
                }),
                None,
            ),
            Status::Errored => (
                None,
                Some(RunError {
                    kind: ErrorKind::SessionEnded,
                    turn: 2,
                    message: "the server ended the session: HTTP 410 <Gone>".into(),
                    status: Some(410),
                    code: Some("CHAT_CONVERSATION_ENDED".into()),
                    correlation_id: Some("c-1".into()),
                }),
            ),
        };
        ScenarioResult {
            name: name.to_owned(),
            file: file.to_owned(),
            line: 3,
            agent: "PROJECT-1".into(),
            environment: "sandbox",
            variant: None,
            language: Some("en-GB".into()),
            turns: 2,
            repeat: 1,
            must_pass: 1,
            passed_runs: u32::from(status == Status::Passed),
            status,
            duration_ms: 1234,
            runs: vec![RunResult {
                run: 1,
                session_id: Some("AS_CHAT_1".into()),
                status,
                turns_sent: 1,
                duration_ms: 1234,
                failure,
                error,
                transcript: vec![
                    Exchange {
                        turn: 0,
                        user: None,
                        reply: reply("Hello", false),
                    },
                    Exchange {
                        turn: 1,
                        user: Some(NASTY.to_owned()),
                        reply: reply(NASTY, false),
                    },
                ],
            }],
        }
    }

    #[test]
    fn escaping_keeps_text_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape("<a href=\"x\">&</a>\n", true),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;&#10;"
        );
        assert_eq!(
            escape("a\u{0}b\u{1F}c\r\n", false),
            "a\u{FFFD}b\u{FFFD}c&#13;\n"
        );
        assert_eq!(escape("ok 🎧 ]]>", false), "ok 🎧 ]]&gt;");
    }

    #[test]
    fn report_is_well_formed_and_counts_add_up() {
        let results = [
            result("passes", "scenarios/a.toml", Status::Passed),
            result(
                &format!("fails {NASTY}"),
                "scenarios/a.toml",
                Status::Failed,
            ),
            result("errors", "./scenarios/sub/b.toml", Status::Errored),
        ];
        let summary = Summary::of(&results, std::time::Duration::from_millis(2500));
        let xml = render(&results, &summary, "2026-08-01T10:00:00");
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert_eq!(root.attribute("tests"), Some("3"));
        assert_eq!(root.attribute("failures"), Some("1"));
        assert_eq!(root.attribute("errors"), Some("1"));
        assert_eq!(root.attribute("time"), Some("2.500"));
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(suites.len(), 2);
        assert_eq!(suites[0].attribute("name"), Some("scenarios/a.toml"));
        assert_eq!(suites[0].attribute("tests"), Some("2"));
        assert_eq!(suites[1].attribute("errors"), Some("1"));
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].attribute("classname"), Some("scenarios.a"));
        assert_eq!(cases[2].attribute("classname"), Some("scenarios.sub.b"));
        assert_eq!(cases[0].attribute("time"), Some("1.234"));
        assert_eq!(cases[0].attribute("line"), Some("3"));
        let kept = "a <b> & \"c\" 'd' ]]> \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} tab\there\r\nline 🎧";
        assert_eq!(
            cases[1].attribute("name"),
            Some(format!("fails {kept}").as_str())
        );
        let failure = cases[1]
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("failure element");
        assert_eq!(failure.attribute("type"), Some("expectation"));
        assert!(
            failure
                .attribute("message")
                .is_some_and(|m| m.starts_with("turn 1: expected the reply to contain")),
            "{xml}"
        );
        let body = failure.text().unwrap_or_default();
        assert!(body.contains("run 1 of 1, session AS_CHAT_1"), "{body}");
        assert!(body.contains(&format!("agent> {kept}")), "{body}");
        let error = cases[2]
            .children()
            .find(|n| n.has_tag_name("error"))
            .expect("error element");
        assert_eq!(error.attribute("type"), Some("session_ended"));
        assert_eq!(
            error.attribute("message"),
            Some("turn 2: the server ended the session: HTTP 410 <Gone>")
        );
        let out = cases[0]
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(out.contains("agent> Hello\n"), "{out}");
        assert!(out.contains("(functions: send_reset_link)"), "{out}");
        assert!(!cases[0].children().any(|n| n.has_tag_name("failure")));
    }

    #[test]
    fn writes_atomically_into_a_new_directory() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("reports/chat.xml");
        prepare(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!path.exists(), "prepare leaves no report");
        write(&path, "<testsuites/>").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            "<testsuites/>"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path().join("reports"))
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert_eq!(left.len(), 1, "temporary file left behind");
        let blocked = dir.path().join("reports/chat.xml/x.xml");
        assert!(
            prepare(&blocked).is_err(),
            "a file where the directory should be"
        );
    }
}
