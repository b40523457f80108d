//! The Conversations API v3 from the command line: `conversations list` with an account and its
//! filters, the sandbox's default account, and `export` through v3 — complete, killed and resumed
//! from its cursor, and rerun after conversations arrived.

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Mock, assert_exact_export, journal_ids_after_kill, polyai, stderr, stdout};
use serde_json::Value;

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn said(record: &Value, side: Option<&str>) -> String {
    record["turns"]
        .as_array()
        .expect("turns")
        .iter()
        .flat_map(|t| {
            let user = side != Some("agent");
            let agent = side != Some("user");
            [
                user.then(|| t["user_input"].as_str().unwrap_or_default().to_owned()),
                agent.then(|| t["agent_response"].as_str().unwrap_or_default().to_owned()),
            ]
        })
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `polyai` against the mock through the Conversations API v3, the default (the common helper
/// reads the Data API for the tests written for it).
fn v3_std(mock: &Mock) -> std::process::Command {
    let mut cmd = mock.std_polyai();
    cmd.env_remove("POLYAI_API").env_remove("POLYAI_ENV");
    cmd
}

/// [`v3_std`] as an `assert_cmd` command.
fn v3(mock: &Mock) -> assert_cmd::Command {
    assert_cmd::Command::from_std(v3_std(mock))
}

/// Runs [`v3`] with `args`.
fn run_v3(mock: &Mock, args: &[&str]) -> std::process::Output {
    v3(mock).args(args).output().expect("polyai runs")
}

#[test]
fn the_sandbox_searches_the_last_week() {
    let out = polyai()
        .args([
            "--sandbox",
            "conversations",
            "list",
            "--since",
            "7d",
            "--search",
            "refund",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("ID  "), "{text}");
    // A search shows the words that matched, not the first request.
    assert!(text.contains("MATCH") && text.contains("live"), "{text}");
    assert!(
        text.lines()
            .filter(|l| l.starts_with("CA"))
            .all(|l| l.to_lowercase().contains("refund")),
        "{text}"
    );
    let rows = text.lines().filter(|l| l.starts_with("CA")).count();
    assert!(rows > 5, "{text}");
    // Start times carry their zone: `2026-06-03 14:00:38 UTC`.
    assert!(
        text.lines()
            .filter(|l| l.starts_with("CA"))
            .all(|l| l
                .split("  ")
                .any(|cell| cell.trim().len() == 23 && cell.trim().ends_with(" UTC"))),
        "{text}"
    );

    let out = polyai()
        .args([
            "--sandbox",
            "-O",
            "jsonl",
            "conversations",
            "list",
            "--since",
            "7d",
            "--search",
            "refund",
            "--all",
        ])
        .output()
        .expect("runs");
    let records = lines(&stdout(&out));
    assert!(records.len() >= rows);
    for r in &records {
        assert!(said(r, None).contains("refund"), "{r}");
        assert_eq!(r["environment"], "live");
        // JSON keeps the time as the API sent it.
        let started = r["started_at"].as_str().expect("started_at");
        assert!(started.contains('T') && !started.contains("UTC"), "{r}");
    }
}

#[test]
fn every_filter_reaches_the_listing() {
    let mock = Mock::with_conversations(300);
    let account = mock.server().account_id().to_owned();
    let list = |args: &[&str]| listed(&mock, &account, args);
    let everything = list(&["--env", "sandbox"]);
    assert!(everything.len() > 30);

    let window = list(&[
        "--env",
        "sandbox",
        "--since",
        "2026-06-03T10:00:00Z",
        "--until",
        "2026-06-03T12:00:00Z",
    ]);
    assert!(!window.is_empty() && window.len() < everything.len());
    for r in &window {
        let at = r["started_at"].as_str().expect("started_at");
        assert!(
            ("2026-06-03T10:00:00".."2026-06-03T12:00:00").contains(&&at[..19]),
            "{at}"
        );
    }
    let chats = list(&[
        "--env",
        "sandbox",
        "--channel",
        "CHAT",
        "--channel",
        "webchat",
    ]);
    assert!(!chats.is_empty());
    assert!(
        chats
            .iter()
            .all(|r| r["channel"] == "CHAT" || r["channel"] == "WEBCHAT")
    );
    let finished = list(&["--env", "sandbox", "--finished"]);
    let going = list(&["--env", "sandbox", "--in-progress"]);
    assert_eq!(finished.len() + going.len(), everything.len());
    assert!(going.iter().all(|r| r["in_progress"] == true));
    let name = everything
        .iter()
        .find_map(|r| r["variant_name"].as_str().filter(|n| !n.is_empty()))
        .expect("a variant")
        .to_owned();
    let by_name = list(&["--env", "sandbox", "--variant", &name]);
    assert!(!by_name.is_empty() && by_name.iter().all(|r| r["variant_name"] == name.as_str()));
    let user_side = list(&["--env", "sandbox", "--search", "order", "--side", "user"]);
    assert!(
        !user_side.is_empty()
            && user_side
                .iter()
                .all(|r| said(r, Some("user")).contains("order"))
    );
    let semantic = list(&[
        "--env",
        "sandbox",
        "--search",
        "parcel delivery",
        "--semantic",
    ]);
    assert!(
        said(&semantic[0], None).contains("parcel"),
        "{}",
        semantic[0]
    );
    let with_latency = list(&["--env", "sandbox", "--latency", "--since", "3h"]);
    assert!(
        with_latency
            .iter()
            .all(|r| r["turns"][0].get("latency").is_some())
    );

    // A sample of 5, then the page after it by cursor.
    let out = v3(&mock)
        .args([
            "--account",
            &account,
            "conversations",
            "list",
            "--sample",
            "--limit",
            "5",
        ])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("CA")).count(),
        5,
        "{text}"
    );
    let cursor = text
        .split("--cursor ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("a next-page cursor")
        .to_owned();
    let out = v3(&mock)
        .args([
            "--account",
            &account,
            "conversations",
            "list",
            "--sample",
            "--limit",
            "5",
            "--cursor",
            &cursor,
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let first: HashSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("CA"))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let next = stdout(&out);
    assert!(
        next.lines()
            .filter(|l| l.starts_with("CA"))
            .all(|l| !first.contains(l.split(' ').next().unwrap_or_default()))
    );
}

#[test]
fn v3_flags_without_an_account_are_a_usage_error() {
    let mock = Mock::with_conversations(10);
    for args in [
        &["conversations", "list", "--since", "1d"][..],
        &["conversations", "list", "--search", "refund", "--semantic"],
        &["export", "--out", "unused", "--until", "1d"],
    ] {
        let out = run_v3(&mock, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("--account") && err.contains("POLYAI_ACCOUNT_ID"),
            "{err}"
        );
    }
    let out = run_v3(
        &mock,
        &[
            "--account",
            "ws-x",
            "conversations",
            "list",
            "--limit",
            "1001",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at most 1000"), "{}", stderr(&out));
    let out = run_v3(&mock, &["--account", "ws-nope", "conversations", "list"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

/// The live conversations of the mock's first agent, through the CLI.
fn live_ids(mock: &Mock, account: &str) -> HashSet<String> {
    listed_ids(mock, account, &[])
}

/// The records `conversations list --all` gives with `args` (e.g. a window).
fn listed(mock: &Mock, account: &str, args: &[&str]) -> Vec<Value> {
    let out = v3(mock)
        .args([
            "--account",
            account,
            "-O",
            "jsonl",
            "conversations",
            "list",
            "--all",
        ])
        .args(args)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    lines(&stdout(&out))
}

#[test]
fn a_killed_v3_export_resumes_from_its_cursor_and_a_rerun_adds_new_arrivals() {
    let mock = Mock::with_conversations(600);
    let account = mock.server().account_id().to_owned();
    let before = live_ids(&mock, &account);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8").to_owned();
    let export = [
        "--account",
        &account,
        "export",
        "--out",
        &out_dir,
        "--since",
        "2026-05-01",
        "--page-size",
        "40",
    ];

    // Slow details (one at a time, 20 ms each) make the export take about 7 s: it is killed at
    // 100 lines, after its first checkpoint (written once a second).
    kill_at_100_lines(
        &mock,
        dir.path(),
        &[&export[..], &["--with-details"]].concat(),
    );
    let partial = journal_ids_after_kill(dir.path()).len();
    assert!(partial < before.len(), "{partial} of {}", before.len());

    // Conversations arrive before the resume: a cursor resume does not see them.
    mock.server().add_conversations(30);
    let checkpoint = checkpoint(dir.path());
    let cursor = checkpoint["lanes"][0]["position"]["cursor"]
        .as_str()
        .expect("a saved cursor");
    assert!(cursor.starts_with("v3."), "{cursor}");
    assert_eq!(checkpoint["source"]["start_time"], "2026-05-01T00:00:00Z");
    let out = v3(&mock)
        .args(export)
        .arg("--with-details")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact_export(dir.path(), &before);
    let record: Value = serde_json::from_str(
        std::fs::read_to_string(dir.path().join("conversations.jsonl"))
            .expect("journal")
            .lines()
            .next()
            .expect("a line"),
    )
    .expect("JSON");
    assert!(
        record["turns"].as_array().is_some_and(|t| !t.is_empty())
            && record["function_events"].is_array()
    );

    // Once complete, a rerun walks again and appends what arrived.
    let out = v3(&mock)
        .args(export)
        .arg("--with-details")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let after = live_ids(&mock, &account);
    assert!(after.len() > before.len(), "some arrivals are live");
    assert_exact_export(dir.path(), &after);
    // The manifest names what produced the export: the API and its document, the account, the
    // environments, the window, and the record contract's version.
    let manifest = common::assert_manifest(dir.path(), "complete");
    let source = &manifest["source"];
    assert_eq!(source["api"], "v3", "{manifest:#}");
    assert_eq!(source["spec_version"], polyai_data::v3::api_version());
    assert_eq!(source["account_id"], account.as_str());
    assert_eq!(source["environments"], "live");
    assert_eq!(source["start_time"], "2026-05-01T00:00:00Z");
    assert_eq!(source["windows"], 1);
    assert_eq!(
        source["with_details_from"],
        format!("PolyAI Data API {}", polyai_data::api_version())
    );
    assert_eq!(
        manifest["record_schema_version"],
        polyai_data::record::SCHEMA_VERSION
    );
    assert!(
        manifest["time_range"]["earliest"].is_string(),
        "{manifest:#}"
    );
}

#[test]
fn a_refused_cursor_restarts_the_walk_without_duplicates() {
    let mock = Mock::with_conversations(120);
    let account = mock.server().account_id().to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8").to_owned();
    let export = [
        "--account",
        &account,
        "export",
        "--out",
        &out_dir,
        "--page-size",
        "10",
    ];
    let out = v3(&mock).args(export).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    // Make the checkpoint say "unfinished, continue from a cursor the server cannot read".
    let path = dir.path().join("export.checkpoint.json");
    let mut checkpoint: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    checkpoint["complete"] = Value::Bool(false);
    checkpoint["lanes"] =
        serde_json::json!([{"position": {"cursor": "v3.0.0.0.0000000000000000"}}]);
    std::fs::write(&path, checkpoint.to_string()).expect("write");
    let out = v3(&mock).args(export).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("saved cursor was refused"),
        "{}",
        stderr(&out)
    );
    assert_exact_export(dir.path(), &live_ids(&mock, &account));
}

/// Runs the export of `args` with slow details (20 ms each, one at a time) and kills it
/// (SIGKILL) once `dir`'s journal holds 100 lines, after its first checkpoint (written once a
/// second); the latency is cleared after.
fn kill_at_100_lines(mock: &Mock, dir: &std::path::Path, args: &[&str]) {
    mock.faults().set_latency(Duration::from_millis(20));
    let mut child = v3_std(mock)
        .args(args)
        .args(["--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(180);
    while journal_len(dir) < 100 {
        assert!(
            child.try_wait().expect("status").is_none(),
            "export ended early"
        );
        assert!(Instant::now() < deadline, "export too slow");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    mock.faults().set_latency(Duration::ZERO);
}

/// `dir`'s export checkpoint.
fn checkpoint(dir: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(dir.join("export.checkpoint.json")).expect("checkpoint");
    serde_json::from_str(&text).expect("JSON")
}

fn journal_len(dir: &std::path::Path) -> usize {
    std::fs::read(dir.join("conversations.jsonl"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// The conversations `conversations list --all` gives with `args` (e.g. a window), by id.
fn listed_ids(mock: &Mock, account: &str, args: &[&str]) -> HashSet<String> {
    listed(mock, account, args)
        .iter()
        .map(|r| r["conversation_id"].as_str().expect("id").to_owned())
        .collect()
}

/// The window of the tests with `--windows`: about 370 of the mock's 600 conversations (228 live).
const WINDOW: [&str; 4] = [
    "--since",
    "2026-06-03T02:00:00Z",
    "--until",
    "2026-06-03T12:00:00Z",
];

/// A mock of 600 conversations, the live ones of [`WINDOW`], an empty folder, and the export of
/// the window into it in `windows` windows, 20 conversations a page.
fn windowed_export(windows: &str) -> (Mock, HashSet<String>, tempfile::TempDir, Vec<String>) {
    let mock = Mock::with_conversations(600);
    let account = mock.server().account_id().to_owned();
    let expected = listed_ids(&mock, &account, &WINDOW);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8").to_owned();
    let mut export: Vec<String> = ["--account", &account, "export", "--out", &out_dir]
        .into_iter()
        .map(str::to_owned)
        .collect();
    export.extend(
        ["--page-size", "20", "--windows", windows]
            .into_iter()
            .chain(WINDOW)
            .map(str::to_owned),
    );
    (mock, expected, dir, export)
}

#[test]
fn an_export_in_windows_writes_each_conversation_of_the_range_once() {
    let (mock, expected, dir, export) = windowed_export("4");
    assert!(expected.len() > 150, "{}", expected.len());
    let out = v3(&mock).args(&export).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact_export(dir.path(), &expected);
    let checkpoint = checkpoint(dir.path());
    assert_eq!(checkpoint["complete"], true);
    assert_eq!(checkpoint["source"]["windows"], 4);
    let manifest = common::assert_manifest(dir.path(), "complete");
    assert_eq!(manifest["source"]["windows"], 4, "{manifest:#}");

    // The number of windows is part of the export: another one is refused, naming it.
    let again: Vec<&str> = export
        .iter()
        .map(|a| if a == "4" { "2" } else { a.as_str() })
        .collect();
    let out = v3(&mock).args(again).output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--windows 4 (this run: --windows 2)"),
        "{}",
        stderr(&out)
    );
    // Through the Data API, windows are refused.
    let out = v3(&mock)
        .args([
            "export",
            "--api",
            "data",
            "--out",
            dir.path().to_str().expect("utf-8"),
            "--windows",
            "2",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--windows needs"), "{}", stderr(&out));
}

#[test]
fn a_killed_export_in_windows_resumes_each_window_exactly() {
    let (mock, expected, dir, mut export) = windowed_export("4");
    export.push("--with-details".into());
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    // Slow details, one at a time: killed at 100 lines, after a checkpoint.
    kill_at_100_lines(&mock, dir.path(), &export);
    let partial = journal_ids_after_kill(dir.path()).len();
    assert!(partial < expected.len(), "{partial} of {}", expected.len());
    let checkpoint = checkpoint(dir.path());
    assert_eq!(checkpoint["version"], 5);
    assert_eq!(checkpoint["complete"], false);
    let lanes = checkpoint["lanes"].as_array().expect("lanes");
    assert!(!lanes.is_empty() && lanes.len() <= 4, "{checkpoint:#}");
    // The window's end was fixed by the first run, and is kept.
    assert_eq!(checkpoint["source"]["end_time"], "2026-06-03T12:00:00Z");

    // Conversations arriving meanwhile are after the window.
    mock.server().add_conversations(30);
    let out = v3(&mock).args(&export).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact_export(dir.path(), &expected);
    common::assert_manifest(dir.path(), "complete");
}

#[test]
fn an_export_in_windows_is_exact_through_5xx_429_and_broken_bodies() {
    let (mock, expected, dir, mut export) = windowed_export("4");
    export.push("--with-details".into());
    let export: Vec<&str> = export.iter().map(String::as_str).collect();
    // A quarter of the answers (list pages of the four lanes walked at once, and details) fail
    // with 500, 502, 503 or 429 (with Retry-After), and a fifth of the bodies that do come are
    // cut off by a connection reset. v3 pages follow cursors, so a page shorter than asked for
    // (a capped page) only moves the next cursor; the Data API's capped pages are in
    // fault_matrix.rs.
    mock.faults().fail_fraction(0.25, &[500, 502, 503, 429]);
    mock.faults().body_fault_fraction(Some(0.2));
    mock.faults().reset_mid_body(true);
    let before = mock.faults().requests();
    let out = v3(&mock)
        .args(["--retries", "12"])
        .args(&export)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = mock.faults().requests() - before;
    // The four lanes' pages and one detail per conversation, plus what failed and was retried.
    assert!(
        requests > expected.len() as u64 + 20,
        "the faults were met: {requests} requests"
    );
    mock.faults().reset();
    assert_exact_export(dir.path(), &expected);
    assert!(!dir.path().join("failures.jsonl").exists());
    common::assert_manifest(dir.path(), "complete");
}

#[test]
fn windows_are_sized_from_a_sample_when_the_calls_are_bunched() {
    // The mock's 600 conversations span the last 16 hours before 2026-06-03T14:00Z; the range
    // is 34 days, so equal slices of time would leave every call to the newest of 4 windows.
    let mock = Mock::with_conversations(600);
    let account = mock.server().account_id().to_owned();
    let range = [
        "--since",
        "2026-05-01T00:00:00Z",
        "--until",
        "2026-06-04T00:00:00Z",
    ];
    let records = listed(&mock, &account, &range);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = v3(&mock)
        .args(["--account", &account, "export", "--out"])
        .arg(dir.path())
        .args(["--page-size", "20", "--windows", "4"])
        .args(range)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("live: 4 windows of about equal counts"),
        "{said}"
    );
    // The first line still names the API, account and environment.
    assert!(
        said.lines()
            .next()
            .is_some_and(|l| l.contains("reading the Conversations API v3")),
        "{said}"
    );
    let ids = records
        .iter()
        .map(|r| r["conversation_id"].as_str().expect("id").to_owned())
        .collect();
    assert_exact_export(dir.path(), &ids);
    // The cuts are kept with the export (a resumed run walks the same windows), and each window
    // holds about a quarter of the calls.
    let checkpoint = checkpoint(dir.path());
    let cuts: Vec<&str> = checkpoint["source"]["cuts"]["live"]
        .as_array()
        .unwrap_or_else(|| panic!("cuts: {checkpoint:#}"))
        .iter()
        .map(|t| t.as_str().expect("a time"))
        .collect();
    assert_eq!(cuts.len(), 3, "{cuts:?}");
    let time = |t: &str| t.parse::<polyai_data::Timestamp>().expect("a time");
    let starts: Vec<polyai_data::Timestamp> = records
        .iter()
        .map(|r| time(r["started_at"].as_str().expect("started_at")))
        .collect();
    let mut bounds = vec![time(range[1])];
    bounds.extend(cuts.iter().map(|t| time(t)));
    bounds.push(time(range[3]));
    for pair in bounds.windows(2) {
        let held = starts
            .iter()
            .filter(|t| pair[0] <= **t && **t < pair[1])
            .count();
        let quarter = records.len() / 4;
        assert!(
            held * 3 >= quarter * 2 && held * 3 <= quarter * 4,
            "{}..{} holds {held} of {}",
            pair[0],
            pair[1],
            records.len()
        );
    }
}

#[test]
fn every_environment_is_exported_in_windows() {
    let mock = Mock::with_conversations(400);
    let account = mock.server().account_id().to_owned();
    let since = ["--env", "all", "--since", "2026-06-03T00:00:00Z"];
    let expected = listed_ids(&mock, &account, &since);
    let live = listed_ids(&mock, &account, &since[2..]);
    assert!(expected.len() > live.len(), "other environments too");
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_str().expect("utf-8").to_owned();
    // Without --until the range ends at the run's start: after every conversation of the mock.
    let export = || {
        let out = v3(&mock)
            .args(["--account", &account, "export", "--out", &out_dir])
            .args(["--page-size", "25", "--windows", "3"])
            .args(since)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        checkpoint(dir.path())["source"]["end_time"]
            .as_str()
            .expect("an end time")
            .to_owned()
    };
    let first_end = export();
    assert_exact_export(dir.path(), &expected);

    // Once complete, a rerun ends its windows at its own start: it adds what arrived, once.
    mock.server().add_conversations(40);
    let after = listed_ids(&mock, &account, &since);
    assert!(after.len() > expected.len(), "arrivals in some environment");
    let second_end = export();
    let time = |t: &str| t.parse::<polyai_data::Timestamp>().expect("a time");
    assert!(
        time(&second_end) > time(&first_end),
        "{second_end} after {first_end}"
    );
    assert_exact_export(dir.path(), &after);
}
