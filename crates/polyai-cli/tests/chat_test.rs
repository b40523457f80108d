//! `polyai chat test`: the shipped suite against the sandbox, failing expectations, sessions
//! that error (410, server timeout, time limit, broken connection), broken files, `--list`
//! and `--filter`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Mock, polyai, stderr, stdout};
use polyai_mock::MockConfig;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn junit(path: &Path) -> String {
    std::fs::read_to_string(path).expect("JUnit report written")
}

/// Attribute `name` of the `<testsuites>` root.
fn totals(xml: &str, name: &str) -> String {
    let doc = roxmltree::Document::parse(xml).expect("well-formed JUnit XML");
    doc.root_element()
        .attribute(name)
        .unwrap_or_default()
        .to_owned()
}

/// The `(name, child element)` of each test case: `failure`, `error` or `ok`.
fn cases(xml: &str) -> Vec<(String, String, String)> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed JUnit XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|case| {
            let verdict = case
                .children()
                .find(|c| c.has_tag_name("failure") || c.has_tag_name("error"));
            (
                case.attribute("name").unwrap_or_default().to_owned(),
                verdict.map_or("ok".to_owned(), |v| v.tag_name().name().to_owned()),
                verdict
                    .and_then(|v| v.attribute("type"))
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_shipped_suite_passes_against_the_sandbox_with_a_junit_report() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("reports/report.xml");
    let out = polyai()
        .current_dir(workspace_root())
        .args([
            "--sandbox",
            "chat",
            "test",
            "crates/polyai-cli/scenarios",
            "--junit",
        ])
        .arg(&report)
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("7 scenarios: 7 passed, 0 failed, 0 errored (11 sessions,"),
        "{text}"
    );
    for line in text.lines().skip(1).take(7) {
        assert!(line.starts_with("PASS "), "{line}");
    }
    // Live progress: one line per scenario on stderr as it ends.
    assert_eq!(stderr(&out).matches("PASS ").count(), 7, "{}", stderr(&out));

    let xml = junit(&report);
    assert_eq!(totals(&xml, "tests"), "7");
    assert_eq!(totals(&xml, "failures"), "0");
    assert_eq!(totals(&xml, "errors"), "0");
    let names: Vec<String> = cases(&xml).into_iter().map(|c| c.0).collect();
    assert!(
        names.contains(&"Caller asking for a person is handed off to the front desk".to_owned()),
        "{names:?}"
    );
    assert!(
        xml.contains("(functions: transfer_call; handoff: Front Desk; ended the conversation)")
    );
}

#[test]
fn json_output_carries_every_run_and_its_transcript() {
    let out = polyai()
        .current_dir(workspace_root())
        .args([
            "--sandbox",
            "-O",
            "json",
            "chat",
            "test",
            "crates/polyai-cli/scenarios",
        ])
        .args(["--filter", "booking", "--filter", "HANDED OFF"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(report["total"], 2);
    assert_eq!(report["passed"], 2);
    assert_eq!(report["sessions"], 6);
    let booking = &report["scenarios"][0];
    assert_eq!(booking["name"], "Booking request checks availability");
    assert_eq!(booking["status"], "passed");
    assert_eq!(booking["runs"].as_array().map(Vec::len), Some(5));
    assert_eq!(booking["passed_runs"], 5);
    let handoff = &report["scenarios"][1];
    assert_eq!(handoff["environment"], "sandbox");
    let reply = &handoff["runs"][0]["transcript"][1]["reply"];
    assert_eq!(reply["handoff_destination"], "Front Desk");
    assert_eq!(reply["handoff"], true);
    assert_eq!(reply["conversation_ended"], true);
    assert!(
        handoff["runs"][0]["session_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("AS_CHAT_"))
    );

    let lines = polyai()
        .current_dir(workspace_root())
        .args([
            "--sandbox",
            "-O",
            "jsonl",
            "chat",
            "test",
            "crates/polyai-cli/scenarios",
        ])
        .output()
        .expect("runs");
    assert!(lines.status.success(), "{}", stderr(&lines));
    let scenarios: Vec<serde_json::Value> = stdout(&lines)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(scenarios.len(), 7);
    assert!(scenarios.iter().all(|s| s["status"] == "passed"));
}

#[test]
fn a_failing_expectation_is_reported_with_the_reply_that_broke_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "suite.toml",
        r#"
[[scenario]]
name = "Reset mentions a refund"
[[scenario.turn]]
user = "I forgot my password"
contains = ["reset", "refund"]
function = "lookup_account"

[[scenario]]
name = "Opening hours"
[[scenario.turn]]
user = "What time do you open on Saturday?"
regex = '(?i)\b(open|closed)\b'

[[scenario]]
name = "Says goodbye too early"
[[scenario.turn]]
user = "bye"
[[scenario.turn]]
user = "are you still there?"
"#,
    );
    let report = dir.path().join("report.xml");
    let out = polyai()
        .current_dir(dir.path())
        .args([
            "--sandbox",
            "chat",
            "test",
            "suite.toml",
            "--junit",
            "report.xml",
        ])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(11), "{text}\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("polyai: error: 2 of 3 scenarios did not pass (2 failed, 0 errored)"),
        "{}",
        stderr(&out)
    );
    assert!(
        text.contains("3 scenarios: 1 passed, 2 failed, 0 errored"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("FAIL    Reset mentions a refund"))
        .unwrap_or_else(|| panic!("no FAIL row: {text}"));
    assert!(
        row.contains("turn 1: expected the reply to contain \"refund\" — reply: \""),
        "{row}"
    );
    // The details name every broken expectation of the turn and show the conversation.
    for want in [
        "FAIL Reset mentions a refund (suite.toml:3)",
        "  run 1 of 1, session AS_CHAT_",
        "  turn 1: expected the reply to contain \"refund\"",
        "  turn 1: expected a call to function \"lookup_account\"; called: send_reset_link",
        "    you>   I forgot my password",
        "           (functions: send_reset_link)",
        "FAIL Says goodbye too early (suite.toml:16)",
        "  turn 1: the agent ended the conversation, so turn 2 (\"are you still there?\") was never sent",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("PASS    Opening hours")),
        "{text}"
    );

    let xml = junit(&report);
    assert_eq!(totals(&xml, "failures"), "2");
    assert_eq!(totals(&xml, "errors"), "0");
    let verdicts = cases(&xml);
    assert_eq!(verdicts[0].1, "failure");
    assert_eq!(verdicts[1].1, "ok");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .expect("failure");
    assert_eq!(
        failure.attribute("message"),
        Some("turn 1: expected the reply to contain \"refund\"")
    );
    assert!(failure.text().unwrap_or_default().contains("agent> "));
}

#[test]
fn json_failure_quotes_the_breaking_reply_from_the_transcript() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "s.toml",
        "[[scenario]]\nname = \"x\"\n[[scenario.turn]]\nuser = \"I forgot my password\"\nnot_contains = \"reset\"\n",
    );
    let out = polyai()
        .args(["--sandbox", "-O", "json", "chat", "test"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let run = &report["scenarios"][0]["runs"][0];
    assert_eq!(run["status"], "failed");
    assert_eq!(run["failure"]["turn"], 1);
    assert_eq!(
        run["failure"]["expectations"][0],
        "expected the reply not to contain \"reset\""
    );
    assert_eq!(
        run["failure"]["reply"],
        run["transcript"][1]["reply"]["agent_response"]
    );
}

/// A loopback stand-in for the debug-chat API that misbehaves on cue: the message `gone`
/// answers 410, `hang` never answers, `drop` closes the connection without an answer, `slow`
/// answers after 200 ms, and anything else gets a friendly reply at once. Counts the requests
/// it sees and the most `slow` messages it had in hand at once.
struct FakeChat {
    url: String,
    requests: Arc<AtomicUsize>,
    slow: Arc<Slow>,
}

/// `slow` messages being answered now, and the most at once.
#[derive(Default)]
struct Slow {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl FakeChat {
    fn start() -> FakeChat {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(AtomicUsize::new(0));
        let slow = Arc::new(Slow::default());
        let (counter, shared) = (Arc::clone(&requests), Arc::clone(&slow));
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                counter.fetch_add(1, Ordering::SeqCst);
                let slow = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, n, &slow));
            }
        });
        FakeChat {
            url,
            requests,
            slow,
        }
    }
}

fn serve(stream: TcpStream, n: usize, slow: &Slow) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let message = request["message"].as_str().unwrap_or_default().to_owned();
    let mut stream = reader.into_inner();
    let reply = |status: &str, body: serde_json::Value| {
        let body = body.to_string();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let chat = |id: &str, user: &str, text: &str| {
        serde_json::json!({
            "conversationId": id, "userInput": user, "response": text,
            "metadata": {"state": {}, "currentNode": "", "nodeTrace": [], "metrics": {}, "functionEvents": []},
            "conversationEnded": false, "delayedResponse": false,
        })
    };
    let response = if !head.contains("/debug-chat/") {
        reply(
            "201 Created",
            chat(
                &format!("AS_CHAT_fake-{n}"),
                "",
                "Hello from the fake agent.",
            ),
        )
    } else {
        match message.as_str() {
            "gone" => reply(
                "410 Gone",
                serde_json::json!({
                    "success": false, "error": "Chat conversation ended", "error_id": "fake-410",
                    "error_code": "CHAT_CONVERSATION_ENDED", "error_message": "Chat conversation ended",
                    "data": null,
                }),
            ),
            "hang" => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            "drop" => return,
            "slow" => {
                let now = slow.now.fetch_add(1, Ordering::SeqCst) + 1;
                slow.most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(200));
                // Counted out before the answer leaves, so the client cannot be faster.
                slow.now.fetch_sub(1, Ordering::SeqCst);
                reply(
                    "200 OK",
                    chat("AS_CHAT_fake", &message, "Sorry for the wait."),
                )
            }
            _ => reply(
                "200 OK",
                chat("AS_CHAT_fake", &message, "Hi there, how can I help?"),
            ),
        }
    };
    let _ = stream.write_all(response.as_bytes());
}

fn fake_polyai(fake: &FakeChat) -> assert_cmd::Command {
    let mut cmd = polyai();
    cmd.env("POLYAI_API_KEY", "fake-key").args([
        "--base-url",
        &fake.url,
        "--agent",
        "PROJECT-FAKE",
    ]);
    cmd
}

const ERRORING: &str = r#"
[[scenario]]
name = "Answers hello"
[[scenario.turn]]
user = "hello"
contains = "hi there"

[[scenario]]
name = "Session ended on the server"
[[scenario.turn]]
user = "hello"
[[scenario.turn]]
user = "gone"

[[scenario]]
name = "Agent never answers"
timeout = "300ms"
[[scenario.turn]]
user = "hang"

[[scenario]]
name = "Connection dropped"
[[scenario.turn]]
user = "drop"
"#;

#[test]
fn erroring_sessions_are_errors_of_their_scenario_not_of_the_run() {
    let fake = FakeChat::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "errors.toml", ERRORING);
    let report = dir.path().join("report.xml");
    let out = fake_polyai(&fake)
        .args(["chat", "test", "--concurrency", "2", "--junit"])
        .arg(&report)
        .arg(&file)
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(12), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("4 scenarios: 1 passed, 0 failed, 3 errored"),
        "{text}"
    );
    for want in [
        "turn 2: the server ended the session: send_debug_chat_message: HTTP 410 Gone",
        "CHAT_CONVERSATION_ENDED",
        "turn 1: time limit of 300ms reached while waiting for the reply to turn 1",
        "(no reply to turn 1)",
        "turn 1: send_debug_chat_message: connection error",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let xml = junit(&report);
    assert_eq!(totals(&xml, "errors"), "3");
    let verdicts = cases(&xml);
    let kinds: Vec<(&str, &str)> = verdicts
        .iter()
        .map(|(_, v, k)| (v.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ok", ""),
            ("error", "session_ended"),
            ("error", "timeout"),
            ("error", "network"),
        ]
    );
}

#[test]
fn a_failure_outranks_errors_in_the_exit_code() {
    let fake = FakeChat::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "mixed.toml",
        &format!(
            "{ERRORING}\n[[scenario]]\nname = \"Wrong words\"\n[[scenario.turn]]\nuser = \"hello\"\ncontains = \"goodbye\"\n"
        ),
    );
    let out = fake_polyai(&fake)
        .args([
            "-O", "csv", "chat", "test", "--filter", "wrong", "--filter", "ended",
        ])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let csv = stdout(&out);
    assert!(csv.starts_with("scenario,file,line,status,"), "{csv}");
    assert!(csv.contains("Session ended on the server,"), "{csv}");
    assert!(csv.contains(",errored,"), "{csv}");
    assert!(csv.contains(",failed,"), "{csv}");
}

#[test]
fn a_server_side_chat_timeout_is_an_error_of_the_scenario() {
    let mock = Mock::start(MockConfig {
        chat_idle_timeout: Duration::ZERO,
        ..MockConfig::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "t.toml",
        "[[scenario]]\nname = \"slow caller\"\n[scenario.greeting]\ncontains = \"help\"\n[[scenario.turn]]\nuser = \"hi\"\n",
    );
    let out = mock
        .polyai()
        .args(["-O", "json", "chat", "test"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(12), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let error = &report["scenarios"][0]["runs"][0]["error"];
    assert_eq!(error["kind"], "chat_timeout");
    assert_eq!(error["status"], 400);
    assert_eq!(error["code"], "CHAT_TIMEOUT");
    assert_eq!(error["turn"], 1);
    assert!(error["correlation_id"].is_string(), "{error}");
}

#[test]
fn broken_files_are_reported_with_line_and_column_and_nothing_runs() {
    let fake = FakeChat::start();
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "good.toml",
        "[[scenario]]\nname = \"fine\"\n[[scenario.turn]]\nuser = \"hello\"\n",
    );
    write(
        dir.path(),
        "typo.toml",
        "[[scenario]]\nname = \"typo\"\n[[scenario.turn]]\nuser = \"hello\"\ncontain = \"hi\"\n",
    );
    write(
        dir.path(),
        "syntax.toml",
        "[[scenario]]\nname = \"unterminated\n",
    );
    write(
        dir.path(),
        "regex.toml",
        "[[scenario]]\nname = \"regex\"\nrepeat = 2\nmust_pass = 3\n[[scenario.turn]]\nuser = \"x\"\nregex = \"(open\"\n",
    );
    let report = dir.path().join("report.xml");
    let out = fake_polyai(&fake)
        .args(["chat", "test", "--junit"])
        .arg(&report)
        .arg(dir.path())
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("polyai: error: 4 mistakes in 3 scenario files; no scenario was run:"),
        "{err}"
    );
    let shown = |name: &str| dir.path().join(name).display().to_string();
    for want in [
        format!(
            "{}:4:13: `must_pass` (3) is more than the runs asked for with `repeat` (2)",
            shown("regex.toml")
        ),
        format!(
            "{}:7:9: invalid regex \"(open\": unclosed group",
            shown("regex.toml")
        ),
        format!("{}:2:21: invalid basic string", shown("syntax.toml")),
        format!("{}:5:1: unknown field `contain`", shown("typo.toml")),
        "      5 | contain = \"hi\"\n        | ^^^^^^^".to_owned(),
    ] {
        assert!(err.contains(&want), "missing {want:?} in\n{err}");
    }
    assert_eq!(
        fake.requests.load(Ordering::SeqCst),
        0,
        "a session was started"
    );
    assert!(!report.exists(), "no report for a suite that did not run");
}

#[test]
fn list_checks_the_files_without_a_key_or_a_session() {
    let out = polyai()
        .current_dir(workspace_root())
        .args([
            "chat",
            "test",
            "--list",
            "--env",
            "live",
            "crates/polyai-cli/scenarios",
        ])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(text.lines().count(), 8, "{text}");
    let billing = text
        .lines()
        .find(|l| l.starts_with("Double charge looks the account up"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        billing.contains("pre-release  PDS Test Office  en-GB"),
        "{billing}"
    );
    let handoff = text
        .lines()
        .find(|l| l.starts_with("Caller asking"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(handoff.contains(" live "), "--env fills in: {handoff}");
    let booking = text
        .lines()
        .find(|l| l.starts_with("Booking"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(booking.contains("5 of 5"), "{booking}");

    let none = polyai()
        .current_dir(workspace_root())
        .args([
            "chat",
            "test",
            "--list",
            "--filter",
            "nothing like this",
            "crates/polyai-cli/scenarios",
        ])
        .output()
        .expect("runs");
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("no scenario name contains \"nothing like this\""));
}

#[test]
fn scenarios_without_an_agent_are_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "s.toml",
        "[[scenario]]\nname = \"who\"\n[[scenario.turn]]\nuser = \"hi\"\n",
    );
    let out = polyai()
        .env("POLYAI_API_KEY", "k")
        .args(["--base-url", "http://127.0.0.1:9", "chat", "test"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no agent id for who ("),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_more_sessions_than_the_concurrency_at_once() {
    let fake = FakeChat::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let suite: String = (1..=6)
        .map(|i| format!("[[scenario]]\nname = \"slow {i}\"\n[[scenario.turn]]\nuser = \"slow\"\n"))
        .collect();
    let file = write(dir.path(), "slow.toml", &suite);
    let out = fake_polyai(&fake)
        .args(["chat", "test", "--concurrency", "2"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    // Each session is a create then a slow send: 12 requests, and never more than 2 slow
    // sends in hand at once (with no bound, the six 200 ms answers overlap: this fails with 6).
    assert_eq!(fake.requests.load(Ordering::SeqCst), 12);
    let most = fake.slow.most.load(Ordering::SeqCst);
    assert!((1..=2).contains(&most), "{most} sessions at once");
}
