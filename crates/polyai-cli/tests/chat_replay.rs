//! `polyai chat replay`: the sandbox's conversations replayed clean against their own variant
//! and with the documented divergences against `Next Release`, in every output; conversations
//! that cannot be replayed (404, 410, time limit, broken connection) as errors of their own;
//! ids from arguments, a file and stdin; listing filters; JUnit; the HTML report's escaping;
//! saved scenarios passing `chat test`; Ctrl-C; closed pipes.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Mock, polyai, sandbox, stderr, stdout};
use polyai_mock::MockConfig;
use serde_json::{Value, json};

const CANDIDATE: &str = polyai_mock::script::CANDIDATE_VARIANT;

/// `polyai --sandbox -O json chat replay --since 7d --limit N --variant "Next Release" EXTRA…`.
fn candidate(limit: &str, extra: &[&str]) -> Output {
    let args = [
        "-O",
        "json",
        "chat",
        "replay",
        "--since",
        "7d",
        "--limit",
        limit,
        "--variant",
        CANDIDATE,
    ];
    sandbox(&[&args[..], extra].concat())
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn conversations(report: &Value) -> &Vec<Value> {
    report["conversations"].as_array().expect("conversations")
}

/// Every difference of every compared turn of `report`: `(turn's caller text, kind, result)`.
fn differences(report: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for c in conversations(report) {
        for turn in c["turns"].as_array().expect("turns") {
            for d in turn["differences"].as_array().expect("differences") {
                found.push((
                    turn["user_input"].as_str().unwrap_or_default().to_owned(),
                    d["kind"].as_str().unwrap_or_default().to_owned(),
                    turn,
                ));
            }
        }
    }
    found
}

#[test]
fn the_sandbox_replays_clean_against_its_own_variant() {
    // The v3 listing (the sandbox's account), live conversations of the last week.
    let out = sandbox(&[
        "-O", "json", "chat", "replay", "--since", "7d", "--limit", "40",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(report["total"], 40);
    assert_eq!(report["clean"], 40, "{report:#}");
    assert_eq!(report["diverged"], 0);
    assert_eq!(report["similarity_measure"], "word_ratio");
    assert_eq!(report["threshold"], 0.8);
    let first = &conversations(&report)[0];
    // The conversation is embedded in the record contract.
    let record = &first["conversation"];
    assert_eq!(record["conversation_id"], first["conversation_id"]);
    assert_eq!(record["environment"], "live");
    assert!(record["function_events"].is_array(), "{record:#}");
    assert_eq!(first["status"], "clean");
    assert_eq!(first["turns_not_sent"], 0);
    assert_eq!(
        first["turns_replayed"], record["turn_count"],
        "every agent turn compared"
    );
    for turn in first["turns"].as_array().expect("turns") {
        assert_eq!(turn["similarity"], 1.0, "{turn:#}");
        assert_eq!(turn["original"]["functions"], turn["replayed"]["functions"]);
    }
    // Each conversation against the variant it was recorded on: clean too.
    let own = sandbox(&[
        "-O",
        "json",
        "chat",
        "replay",
        "--limit",
        "30",
        "--own-variant",
    ]);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    let own = json_of(&own);
    assert_eq!(own["clean"], 30);
    let variants: Vec<&Value> = conversations(&own)
        .iter()
        .map(|c| &c["variant"])
        .filter(|v| v.is_string())
        .collect();
    assert!(!variants.is_empty(), "some conversations have a variant");
    for c in conversations(&own) {
        assert_eq!(c["variant"], c["conversation"]["variant_id"]);
    }
}

#[test]
fn the_candidate_variant_shows_each_documented_divergence() {
    let out = candidate("60", &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let report = json_of(&out);
    assert!(
        report["diverged"].as_u64() > Some(10),
        "{}",
        report["diverged"]
    );
    assert_eq!(report["errored"], 0);
    assert!(
        report["clean"].as_u64() > Some(0),
        "some never touch what changed"
    );
    let found = differences(&report);
    let function = found
        .iter()
        .find(|(_, kind, _)| kind == "function")
        .expect("a missing function call");
    assert_eq!(
        function.2["original"]["functions"],
        json!(["lookup_account"])
    );
    assert_eq!(function.2["replayed"]["functions"], json!([]));
    assert_eq!(
        function.2["original"]["agent_response"], function.2["replayed"]["agent_response"],
        "same words, no call"
    );
    let handoff = found
        .iter()
        .find(|(_, kind, _)| kind == "handoff")
        .expect("another handoff destination");
    assert_eq!(handoff.2["original"]["handoff_destination"], "Front Desk");
    assert_eq!(handoff.2["replayed"]["handoff_destination"], "Escalations");
    let text = found
        .iter()
        .find(|(_, kind, _)| kind == "text")
        .expect("another wording");
    assert!(text.2["similarity"].as_f64() < Some(0.8), "{:#}", text.2);
    // Only those three kinds, and every text divergence is an order-status reply.
    for (user, kind, turn) in &found {
        assert!(
            ["function", "handoff", "text"].contains(&kind.as_str()),
            "{kind}"
        );
        if kind == "text" {
            let topic = polyai_mock::script::route(user).map(|t| t.name);
            assert_eq!(topic, Some("Order status"), "{turn:#}");
        }
    }
    // The reworded opening hours stay above the default threshold: the same reply.
    let reworded: Vec<f64> = conversations(&report)
        .iter()
        .flat_map(|c| c["turns"].as_array().expect("turns"))
        .filter(|t| {
            polyai_mock::script::route(t["user_input"].as_str().unwrap_or_default())
                .is_some_and(|topic| topic.name == "Opening hours")
        })
        .map(|t| {
            assert_eq!(t["differences"], json!([]), "{t:#}");
            t["similarity"].as_f64().expect("similarity")
        })
        .collect();
    assert!(reworded.iter().any(|&s| s > 0.8 && s < 0.9), "{reworded:?}");
    // A stricter threshold makes the lighter rewording diverge too: the threshold matters.
    let strict = candidate("60", &["--threshold", "0.9"]);
    let strict = json_of(&strict);
    let hours = differences(&strict)
        .into_iter()
        .filter(|(user, kind, _)| {
            kind == "text"
                && polyai_mock::script::route(user).is_some_and(|t| t.name == "Opening hours")
        })
        .count();
    assert!(hours > 0, "0.85 is below 0.9");
    assert!(strict["diverged"].as_u64() > report["diverged"].as_u64());
}

#[test]
fn the_mock_candidate_wording_has_the_documented_similarities() {
    use polyai_mock::script::{
        CANDIDATE_OPENING_HOURS_LINES, CANDIDATE_ORDER_STATUS_LINES, TOPICS,
    };
    let lines = |name: &str| {
        TOPICS
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.agent_lines)
            .expect("topic")
    };
    let out = sandbox(&["chat", "replay", "--help"]);
    assert!(stdout(&out).contains("2*M/T"), "the measure is in --help");
    // The documented values, through the command's own measure (one JSON turn each).
    for (recorded, candidate, want) in [
        (
            lines("Opening hours"),
            CANDIDATE_OPENING_HOURS_LINES,
            [0.92, 0.85],
        ),
        (
            lines("Order status"),
            CANDIDATE_ORDER_STATUS_LINES,
            [0.17, 0.29],
        ),
    ] {
        for ((a, b), want) in recorded.iter().zip(candidate.iter()).zip(want) {
            let got = word_ratio(a, b);
            assert!((got - want).abs() < 0.005, "{a:?} ~ {b:?}: {got}");
        }
    }
}

/// The command's measure, written again independently: 2·LCS/T over normalised words.
fn word_ratio(a: &str, b: &str) -> f64 {
    let words = |t: &str| -> Vec<String> {
        t.to_lowercase()
            .replace(['\'', '’'], "")
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in 0..a.len() {
        for j in 0..b.len() {
            table[i + 1][j + 1] = if a[i] == b[j] {
                table[i][j] + 1
            } else {
                table[i][j + 1].max(table[i + 1][j])
            };
        }
    }
    2.0 * table[a.len()][b.len()] as f64 / (a.len() + b.len()) as f64
}

#[test]
fn every_output_reports_the_same_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("reports/replay.xml");
    let html = dir.path().join("reports/replay.html");
    let args = [
        "chat",
        "replay",
        "--since",
        "7d",
        "--limit",
        "25",
        "--variant",
        CANDIDATE,
    ];
    let table = polyai()
        .arg("--sandbox")
        .args(args)
        .arg("--junit")
        .arg(&junit)
        .arg("--html")
        .arg(&html)
        .env("COLUMNS", "140")
        .output()
        .expect("runs");
    assert_eq!(table.status.code(), Some(11));
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("RESULT"), "{text}");
    assert!(lines[0].contains("FIRST DIVERGENCE"), "{text}");
    let rows: Vec<&str> = lines[1..=25].to_vec();
    for row in &rows {
        assert!(
            row.chars().count() <= 140,
            "shortened to the width: {row:?}"
        );
        let id = row.split_whitespace().nth(1).unwrap_or_default();
        assert!(id.starts_with("CA") && id.len() == 34, "ids whole: {row:?}");
    }
    let diverged = rows.iter().filter(|r| r.starts_with("DIVERGED")).count();
    for kind in ["function", "handoff", "text"] {
        assert!(
            rows.iter().any(|r| r.contains(&format!(": {kind} "))),
            "a row whose first divergence is {kind}: {text}"
        );
    }
    assert!(text.contains("handoff: Escalations"), "{text}");
    assert!(text.contains(&format!(
        "25 conversations: {} clean, {diverged} diverged, 0 errored, 0 skipped (variant \"{CANDIDATE}\" in sandbox, threshold 0.80,",
        25 - diverged
    )), "{text}");
    // Details: the turns up to the first divergence, both replies.
    assert!(text.contains("      original  "), "{text}");
    assert!(text.contains("function: no call to lookup_account (the original called it)"));
    let err = stderr(&table);
    assert_eq!(err.matches("DIVERGED  CA").count(), diverged, "{err}");
    assert!(
        err.contains("polyai: error: ") && err.contains("did not replay clean"),
        "{err}"
    );

    // JSON Lines: one result per conversation, as JSON.
    let jsonl = sandbox(&[&["-O", "jsonl"][..], &args].concat());
    assert_eq!(jsonl.status.code(), Some(11));
    let results: Vec<Value> = stdout(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(results.len(), 25);
    assert_eq!(
        results.iter().filter(|r| r["status"] == "diverged").count(),
        diverged
    );
    assert!(
        results
            .iter()
            .all(|r| r["conversation"]["conversation_id"] == r["conversation_id"])
    );

    // CSV: one row per conversation.
    let csv = sandbox(&[&["-O", "csv"][..], &args].concat());
    let csv = stdout(&csv);
    assert!(
        csv.starts_with("conversation_id,status,session_id,"),
        "{csv}"
    );
    assert_eq!(csv.matches("\r\n").count(), 26, "{csv}");

    // JUnit: well-formed, one test case per conversation, a failure per divergence.
    let xml = std::fs::read_to_string(&junit).expect("JUnit written");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed JUnit XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("25"));
    assert_eq!(
        root.attribute("failures"),
        Some(diverged.to_string().as_str())
    );
    assert_eq!(root.attribute("errors"), Some("0"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 25);
    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), diverged);
    let types: Vec<&str> = failures
        .iter()
        .filter_map(|f| f.attribute("type"))
        .collect();
    for kind in ["function", "handoff", "text"] {
        assert!(types.contains(&kind), "{types:?}");
    }
    assert!(
        cases[0]
            .attribute("classname")
            .is_some_and(|c| c == format!("chat_replay.sandbox.{CANDIDATE}")),
        "{xml}"
    );
    let out = cases
        .iter()
        .find_map(|c| c.children().find(|n| n.has_tag_name("system-out")))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(out.contains("original  Hello, thanks for calling"), "{out}");

    // HTML: self-contained, one section per conversation, divergences marked.
    let page = std::fs::read_to_string(&html).expect("HTML written");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<section class=\"conversation ").count(), 25);
    assert_eq!(
        page.matches("class=\"turn diverged first-divergence\"")
            .count(),
        diverged
    );
    for kind in ["function", "handoff", "text"] {
        assert!(
            page.contains(&format!("data-divergence=\"{kind}")),
            "{kind}"
        );
    }
    for external in ["<script", "src=", "href=\"http", "@import", "url("] {
        assert!(!page.contains(external), "{external} in the report");
    }
}

#[test]
fn ids_come_from_arguments_a_file_or_stdin_each_once() {
    let mock = Mock::with_conversations(30);
    let ids: Vec<String> = (10..14)
        .map(|i| mock.server().conversation_id(0, i))
        .collect();
    let out = mock
        .polyai()
        .args(["-O", "jsonl", "chat", "replay", &ids[0], &ids[1], &ids[0]])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON")["conversation_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    let mut want = vec![ids[0].clone(), ids[1].clone()];
    want.sort();
    assert_eq!(sorted, want, "each id once");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ids.txt");
    std::fs::write(
        &file,
        format!(
            "# last week's refunds\n{}\n\n  {}  \n{}\n",
            ids[2], ids[3], ids[2]
        ),
    )
    .expect("write ids");
    let out = mock
        .polyai()
        .args(["-O", "json", "chat", "replay", &ids[1], "--ids"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json_of(&out);
    let order: Vec<&str> = conversations(&report)
        .iter()
        .filter_map(|c| c["conversation_id"].as_str())
        .collect();
    assert_eq!(order, [&ids[1], &ids[2], &ids[3]], "in the order named");

    let out = mock
        .polyai()
        .args(["-O", "json", "chat", "replay", "--ids", "-"])
        .write_stdin(format!("{}\n{}\n", ids[3], ids[0]))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_of(&out)["total"], 2);

    // A line that is not an id says where it is.
    std::fs::write(&file, format!("{}\nnot an id\n", ids[0])).expect("write");
    let out = mock
        .polyai()
        .args(["chat", "replay", "--ids"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("ids.txt:2: \"not an id\" is not a conversation id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn filters_select_through_the_v3_listing() {
    let search = sandbox(&[
        "-O", "json", "chat", "replay", "--since", "7d", "--search", "refund", "--limit", "5",
    ]);
    assert_eq!(search.status.code(), Some(0), "{}", stderr(&search));
    let search = json_of(&search);
    assert!(
        search["total"]
            .as_u64()
            .is_some_and(|n| (1..=5).contains(&n))
    );
    for c in conversations(&search) {
        let said = c["conversation"]["turns"].to_string().to_lowercase();
        assert!(said.contains("refund"), "{said}");
    }
    let env = sandbox(&[
        "-O",
        "json",
        "chat",
        "replay",
        "--since",
        "7d",
        "--source-env",
        "pre-release",
        "--sample",
        "--limit",
        "4",
    ]);
    assert_eq!(env.status.code(), Some(0), "{}", stderr(&env));
    let env = json_of(&env);
    assert_eq!(env["total"], 4);
    for c in conversations(&env) {
        assert_eq!(c["conversation"]["environment"], "pre-release");
        assert_eq!(c["conversation"]["in_progress"], false);
    }
    let first = conversations(&env)[0]["conversation"]["variant_name"].clone();
    if let Some(name) = first.as_str() {
        let variant = sandbox(&[
            "-O",
            "json",
            "chat",
            "replay",
            "--since",
            "7d",
            "--source-variant",
            name,
            "--limit",
            "3",
        ]);
        for c in conversations(&json_of(&variant)) {
            assert_eq!(c["conversation"]["variant_name"], name);
        }
    }
    // Nothing matches: an error, not a green run of nothing.
    let none = sandbox(&[
        "chat",
        "replay",
        "--since",
        "7d",
        "--search",
        "zebra crossing",
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no finished conversation matches"),
        "{}",
        stderr(&none)
    );
    // Mistakes are usage errors that say what to do.
    for (args, want) in [
        (&["chat", "replay"][..], "which conversations?"),
        (&["chat", "replay", "CA1", "--since", "7d"], "not both"),
        (
            &["chat", "replay", "CA1", "--threshold", "1.5"],
            "not a similarity from 0 to 1",
        ),
        (
            &["chat", "replay", "CA1", "--attribute", "tier"],
            "is not KEY=VALUE",
        ),
        (
            &["chat", "replay", "CA1", "--own-variant", "--variant", "x"],
            "cannot be used with",
        ),
    ] {
        let out = sandbox(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn saved_scenarios_pass_chat_test_against_the_same_variant() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (variant, code) in [(None, 0), (Some(CANDIDATE), 11)] {
        let saved = dir.path().join(variant.unwrap_or("own"));
        let mut args = vec!["chat", "replay", "--since", "7d", "--limit", "20"];
        if let Some(v) = variant {
            args.extend(["--variant", v]);
        }
        let out = polyai()
            .arg("--sandbox")
            .args(&args)
            .arg("--save-scenarios")
            .arg(&saved)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("20 scenario files in"),
            "{}",
            stderr(&out)
        );
        let files: Vec<_> = std::fs::read_dir(&saved).expect("dir").flatten().collect();
        assert_eq!(files.len(), 20);
        let sample = std::fs::read_to_string(files[0].path()).expect("scenario");
        assert!(
            sample.contains("[[scenario]]\nname = \"Replay of CA"),
            "{sample}"
        );
        assert!(sample.contains("\n[[scenario.turn]]\nuser = "), "{sample}");
        let mut test = vec!["chat", "test"];
        if let Some(v) = variant {
            test.extend(["--variant", v]);
        }
        let check = polyai()
            .arg("--sandbox")
            .args(&test)
            .arg(&saved)
            .output()
            .expect("runs");
        assert_eq!(
            check.status.code(),
            Some(0),
            "{}\n{}",
            stdout(&check),
            stderr(&check)
        );
        assert!(
            stdout(&check).contains("20 scenarios: 20 passed"),
            "{}",
            stdout(&check)
        );
    }
    // What held is all a saved scenario checks: the candidate's billing turn keeps its words
    // but not the function it no longer calls.
    let candidate = dir.path().join(CANDIDATE);
    let texts: Vec<String> = std::fs::read_dir(&candidate)
        .expect("dir")
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).expect("read"))
        .collect();
    let all = texts.concat();
    assert!(all.contains("function = \"check_availability\""), "{all}");
    assert!(!all.contains("lookup_account"), "did not hold");
    assert!(
        !all.contains("\"Escalations\"") && !all.contains("\"Front Desk\""),
        "did not hold"
    );
    assert!(all.contains("handoff = false") && all.contains("ended = false"));
    assert!(all.contains("contains = ["), "{all}");
}

/// A loopback stand-in for the Data API and debug chat that misbehaves on cue, for the
/// conversations whose replay cannot run: the caller's `gone` answers 410, `hang` never
/// answers, `drop` closes the connection; a conversation id it does not know answers 404.
struct FakeApi {
    url: String,
}

const XSS: &str = "<script>document.title='pwned'</script>";

fn fake_conversations() -> HashMap<String, Value> {
    let detail = |id: &str, turns: &[(&str, &str)]| {
        let turns: Vec<Value> = turns
            .iter()
            .map(|(user, agent)| json!({"user_input": user, "agent_response": agent}))
            .collect();
        (
            id.to_owned(),
            json!({"conversationId": id, "accountId": "A", "projectId": "PROJECT-FAKE",
                   "clientEnv": "live", "inProgress": false, "handoff": false,
                   "turns": turns, "functionEvents": {}}),
        )
    };
    let greeting = ("", "Hello from the fake agent.");
    HashMap::from([
        detail("CAok", &[greeting, ("hello", "Hi there, how can I help?")]),
        detail(
            "CAgone",
            &[
                greeting,
                ("hello", "Hi there, how can I help?"),
                ("gone", "Bye."),
            ],
        ),
        detail("CAhang", &[greeting, ("hang", "…")]),
        detail("CAdrop", &[greeting, ("drop", "…")]),
        detail(
            "CAxss",
            &[
                (
                    "",
                    "Hello from the fake agent. <script>document.title='pwned'</script>",
                ),
                (XSS, "<b>bold</b> & <img src=x onerror=alert(1)> done"),
            ],
        ),
    ])
}

impl FakeApi {
    fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let conversations = Arc::new(fake_conversations());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let conversations = Arc::clone(&conversations);
                std::thread::spawn(move || serve(stream, &conversations));
            }
        });
        FakeApi { url }
    }

    fn polyai(&self) -> assert_cmd::Command {
        let mut cmd = polyai();
        cmd.env("POLYAI_API_KEY", "fake-key").args([
            "--base-url",
            &self.url,
            "--agent",
            "PROJECT-FAKE",
        ]);
        cmd
    }
}

fn serve(stream: TcpStream, conversations: &HashMap<String, Value>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
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
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let message = request["message"].as_str().unwrap_or_default().to_owned();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut stream = reader.into_inner();
    let reply = |status: &str, body: Value| {
        let body = body.to_string();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let error = |status: &str, code: &str| {
        reply(
            status,
            json!({"success": false, "error": code, "error_id": "fake", "error_code": code,
                   "error_message": code, "data": null}),
        )
    };
    let chat = |user: &str, text: &str| {
        json!({
            "conversationId": "AS_CHAT_fake", "userInput": user, "response": text,
            "metadata": {"state": {}, "currentNode": "", "nodeTrace": [], "metrics": {}, "functionEvents": []},
            "conversationEnded": false, "delayedResponse": false,
        })
    };
    let response = if let Some(id) = path.strip_prefix("/v1/agents/PROJECT-FAKE/conversations/") {
        match conversations.get(id) {
            Some(detail) => reply("200 OK", detail.clone()),
            None => error("404 Not Found", "CONVERSATIONS_NOT_FOUND"),
        }
    } else if path.ends_with("/debug-chat") {
        reply("201 Created", chat("", "Hello from the fake agent."))
    } else {
        match message.as_str() {
            "gone" => error("410 Gone", "CHAT_CONVERSATION_ENDED"),
            "hang" => {
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            "drop" => return,
            "hello" => reply("200 OK", chat(&message, "Hi there, how can I help?")),
            other => reply("200 OK", chat(other, &format!("You said: {other}"))),
        }
    };
    let _ = stream.write_all(response.as_bytes());
}

#[test]
fn a_replay_that_cannot_run_is_an_error_of_that_conversation_only() {
    let fake = FakeApi::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("replay.xml");
    let out = fake
        .polyai()
        .args([
            "-O",
            "json",
            "chat",
            "replay",
            "CAok",
            "CAgone",
            "CAhang",
            "CAdrop",
            "CAmissing",
            "--timeout",
            "1s",
            "--concurrency",
            "5",
            "--junit",
        ])
        .arg(&junit)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(12), "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(
        (report["clean"].as_u64(), report["errored"].as_u64()),
        (Some(1), Some(4))
    );
    let by_id: HashMap<&str, &Value> = conversations(&report)
        .iter()
        .map(|c| (c["conversation_id"].as_str().unwrap_or_default(), c))
        .collect();
    assert_eq!(by_id["CAok"]["status"], "clean");
    let error = |id: &str| &by_id[id]["error"];
    assert_eq!(error("CAgone")["kind"], "session_ended");
    assert_eq!(error("CAgone")["status"], 410);
    assert_eq!(error("CAgone")["turn_index"], 2);
    assert_eq!(
        by_id["CAgone"]["turns_replayed"], 2,
        "what ran before is kept"
    );
    assert_eq!(error("CAhang")["kind"], "timeout");
    assert!(
        error("CAhang")["message"].as_str().is_some_and(
            |m| m.contains("time limit of 1s reached while waiting for the reply to turn 1")
        ),
        "{}",
        error("CAhang")
    );
    assert_eq!(error("CAdrop")["kind"], "network");
    assert_eq!(error("CAmissing")["stage"], "read");
    assert_eq!(error("CAmissing")["status"], 404);
    assert!(by_id["CAmissing"]["conversation"].is_null());
    let xml = std::fs::read_to_string(&junit).expect("JUnit");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let types: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("error"))
        .filter_map(|n| n.attribute("type"))
        .collect();
    for kind in ["session_ended", "timeout", "network", "http"] {
        assert!(types.contains(&kind), "{types:?}");
    }
}

/// Writes the reports the headless-browser check opens (`scripts/replay-html.sh`) into
/// `$POLYAI_REPLAY_HTML_DIR` when set; checks their escaping either way.
#[test]
fn html_reports_escape_every_transcript() {
    let keep = std::env::var_os("POLYAI_REPLAY_HTML_DIR");
    let temp = tempfile::tempdir().expect("temp dir");
    let dir = keep.as_deref().map_or(temp.path(), Path::new);
    std::fs::create_dir_all(dir).expect("report dir");
    let hostile = dir.join("hostile.html");
    let fake = FakeApi::start();
    let out = fake
        .polyai()
        .args(["chat", "replay", "CAxss", "CAok", "--html"])
        .arg(&hostile)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let page = std::fs::read_to_string(&hostile).expect("report");
    assert!(
        !page.contains("<script"),
        "a transcript's script must not become one"
    );
    assert!(!page.contains("<img"), "nor its markup");
    assert!(page.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(page.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("class=\"turn diverged first-divergence\""));
    assert!(
        page.contains(
            "<title>polyai chat replay: 1 diverged, 0 errored of 2 conversations</title>"
        )
    );
    assert!(page.contains("default-src 'none'"), "a CSP as second guard");
    let candidate = dir.join("candidate.html");
    let out = sandbox(&[
        "chat",
        "replay",
        "--since",
        "7d",
        "--limit",
        "30",
        "--variant",
        CANDIDATE,
        "--html",
        candidate.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
}

#[test]
fn ctrl_c_stops_starting_replays_and_reports_what_finished() {
    let mock = Mock::start(MockConfig::default().conversations(40));
    // Slow enough that the run is still going when the signal comes.
    mock.faults().set_latency(Duration::from_millis(60));
    let ids: Vec<String> = (4..40)
        .map(|i| mock.server().conversation_id(0, i))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("partial.xml");
    let child = mock
        .std_polyai()
        .args(["chat", "replay", "--concurrency", "1", "--junit"])
        .arg(&junit)
        .args(&ids)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (status, out, err) = common::interrupt_when(child, |lines| {
        lines.iter().filter(|l| l.starts_with("CLEAN")).count() >= 2
    });
    assert_eq!(status.code(), Some(130), "{out}");
    let finished = err.lines().filter(|l| l.starts_with("CLEAN")).count();
    assert!(finished >= 2 && finished < ids.len(), "{err}");
    let rows = out.lines().filter(|l| l.starts_with("CLEAN")).count();
    assert_eq!(rows, finished, "the table holds what finished:\n{out}");
    assert!(
        out.contains(&format!(
            "interrupted: {finished} of {} conversations replayed: {finished} clean",
            ids.len()
        )),
        "{out}"
    );
    assert!(err.contains("polyai: error: interrupted:"), "{err}");
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report is written too");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    assert_eq!(
        doc.root_element().attribute("tests"),
        Some(finished.to_string().as_str())
    );
}

#[test]
fn closed_pipes_end_quietly_with_the_verdict() {
    for (variant, code) in [(None, 0), (Some(CANDIDATE), 11)] {
        let mut cmd = common::std_polyai();
        cmd.args(["--sandbox", "chat", "replay", "--limit", "30"]);
        if let Some(v) = variant {
            cmd.args(["--variant", v]);
        }
        // Both readers leave at once.
        let status = common::with_closed_pipes(&mut cmd);
        assert_eq!(status.code(), Some(code), "no panic (101), the verdict");
    }
}
