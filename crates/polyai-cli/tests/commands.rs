//! Every non-export command against the mock: outputs (with snapshots), files, and errors
//! with their exit codes.

mod common;

use common::{Mock, polyai, sandbox, stderr, stdout};
use polyai_mock::{ApiKey, MockConfig};

/// A conversation of the default sandbox (seed 42) with a recording and two turns.
const SANDBOX_ID: &str = "CAbfb7ebf6d37547be20fdb54ca2677921";

/// Runs `polyai` with `key` in `POLYAI_API_KEY` and nothing else from the environment.
fn run_with_key(key: &str, args: &[&str]) -> std::process::Output {
    polyai()
        .env("POLYAI_API_KEY", key)
        .args(args)
        .output()
        .expect("polyai runs")
}

/// Asserts the exit code and a piece of the error message.
fn assert_fails(out: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "no `{needle}` in: {err}");
}

fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        stderr(&output)
    );
    stdout(&output)
}

#[test]
fn readme_first_command_lists_conversations_as_a_table() {
    insta::assert_snapshot!(ok(sandbox(&["conversations", "list", "--limit", "8"])));
}

#[test]
fn list_as_json_jsonl_and_csv() {
    let list = |format: &str| {
        ok(sandbox(&[
            "conversations",
            "list",
            "--limit",
            "3",
            "-O",
            format,
        ]))
    };
    let json = list("json");
    insta::assert_snapshot!(json);
    let page: serde_json::Value = serde_json::from_str(&json).expect("JSON object");
    assert_eq!(
        (page["api"].as_str(), page["environments"].as_str()),
        (Some("v3"), Some("live"))
    );
    assert_eq!(page["count"], 3);
    assert!(page["next"]["cursor"].is_string(), "{page:#}");
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let lines = list("jsonl");
    let parsed: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(parsed, items);
    let csv = list("csv");
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[0].starts_with("conversation_id,api,account_id,project_id,environment,"));
    assert!(rows[1].starts_with(items[0]["conversation_id"].as_str().unwrap_or("?")));
}

/// `list -O json` and `-O jsonl` print records of the contract; with `--keep-raw` each keeps the
/// item exactly as the server sent it (every field, `null`s included, numbers in their form), and
/// `-O json` says where the next page starts.
#[test]
fn list_as_json_prints_records_with_the_raw_items_and_the_next_position() {
    let mock = Mock::with_conversations(8);
    let served: serde_json::Value = serde_json::from_slice(&mock.raw_get(&format!(
        "/v1/agents/{}/conversations?limit=5&offset=2",
        mock.agent()
    )))
    .expect("JSON page");
    let sent = served["conversations"].as_array().expect("items");
    assert!(
        sent.iter().any(|c| c
            .as_object()
            .is_some_and(|o| o.values().any(serde_json::Value::is_null))),
        "the fixture must hold nulls"
    );
    let args = |format| {
        [
            "conversations",
            "list",
            "--limit",
            "5",
            "--offset",
            "2",
            "--keep-raw",
            "-O",
            format,
        ]
    };
    let json: serde_json::Value = serde_json::from_str(&ok(mock.run(&args("json")))).expect("JSON");
    let items = json["items"].as_array().expect("items");
    let raw: Vec<&serde_json::Value> = items.iter().map(|item| &item["raw"]).collect();
    assert_eq!(raw, sent.iter().collect::<Vec<_>>());
    assert_eq!(json["next"], serde_json::json!({"offset": 7}));
    for (item, sent) in items.iter().zip(sent) {
        assert_eq!(item["conversation_id"], sent["conversationId"]);
        assert_eq!(item["environment"], sent["clientEnv"]);
        assert_eq!(item["api"], "data");
    }
    let jsonl = ok(mock.run(&args("jsonl")));
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(&lines, items);
}

#[test]
fn list_all_and_offset_cover_every_conversation() {
    let mock = Mock::with_conversations(120);
    let list_all = |format: &str| {
        ok(mock.run(&[
            "conversations",
            "list",
            "--all",
            "--limit",
            "50",
            "-O",
            format,
        ]))
    };
    let ids: std::collections::HashSet<String> = list_all("jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("line");
            v["conversation_id"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(ids, mock.conversation_ids());
    let all = list_all("csv");
    let first = ok(mock.run(&["conversations", "list", "--limit", "2", "-O", "csv"]));
    assert_eq!(all.split("\r\n").filter(|r| !r.is_empty()).count(), 121);
    assert!(
        all.starts_with(&first),
        "streamed CSV differs from one page's"
    );
    let page = ok(mock.run(&["conversations", "list", "--limit", "10", "--offset", "115"]));
    assert!(page.contains("116-120 of 120 conversations"), "{page}");
    assert!(!page.contains("next page"), "{page}");
}

#[test]
fn get_shows_header_and_transcript() {
    insta::assert_snapshot!(ok(sandbox(&["conversations", "get", SANDBOX_ID])));
}

#[test]
fn get_as_json_is_the_record() {
    let json = ok(sandbox(&["conversations", "get", SANDBOX_ID, "-O", "json"]));
    insta::assert_snapshot!(json);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    common::assert_valid("conversation", &value);
    assert_eq!(value["conversation_id"], SANDBOX_ID);
    assert_eq!(value["turns"].as_array().map(Vec::len), Some(2));
    assert!(value.get("raw").is_none());
    let raw = ok(sandbox(&[
        "conversations",
        "get",
        SANDBOX_ID,
        "--keep-raw",
        "-O",
        "json",
    ]));
    let raw: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert_eq!(raw["raw"]["conversationId"], SANDBOX_ID, "the body as sent");
}

#[test]
fn audio_is_byte_identical_and_not_overwritten_without_force() {
    let mock = Mock::with_conversations(20);
    let server = mock.server();
    let index = (0..20)
        .find(|&i| server.has_recording(0, i))
        .expect("a recording");
    let id = server.conversation_id(0, index);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("call.wav");
    let file_arg = file.to_str().expect("utf-8 path");
    // `conversations audio <id> -o <file>`, then `extra`.
    let audio = |extra: &[&str]| {
        let mut args = vec!["conversations", "audio", id.as_str(), "-o", file_arg];
        args.extend_from_slice(extra);
        mock.run(&args)
    };
    let out = audio(&["--direction", "agent"]);
    assert!(ok(out).starts_with("saved "));
    let served = mock.raw_get(&format!(
        "/v1/agents/{}/conversations/{id}/audio?direction=agent",
        mock.agent()
    ));
    let saved = std::fs::read(&file).expect("saved file");
    assert!(saved.starts_with(b"RIFF"));
    assert_eq!(saved, served, "saved audio differs from the served bytes");

    std::fs::write(&file, b"keep me").expect("write");
    let out = audio(&[]);
    assert_fails(&out, 8, "already exists");
    assert!(stderr(&out).contains("--force"));
    assert_eq!(std::fs::read(&file).expect("file"), b"keep me");

    let out = audio(&["--force", "-O", "json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(out)).expect("JSON");
    assert_eq!(report["direction"], "combined");
    let combined = mock.raw_get(&format!(
        "/v1/agents/{}/conversations/{id}/audio",
        mock.agent()
    ));
    assert_eq!(report["bytes"], combined.len());
    assert_eq!(std::fs::read(&file).expect("file"), combined);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
}

#[test]
fn annotate_from_flags_and_files_reaches_the_server() {
    let mock = Mock::with_conversations(10);
    let id = mock.server().conversation_id(0, 1);
    let out = mock
        .polyai()
        .args(["conversations", "annotate", &id])
        .args([
            "--turn",
            "1",
            "--role",
            "user",
            "--type",
            "wrong_transcript",
        ])
        .args(["--turn", "0", "--role", "agent", "--type", "wrong_info"])
        .output()
        .expect("runs");
    assert_eq!(ok(out), format!("added 2 annotations to {id}\n"));

    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("qa.csv");
    std::fs::write(&csv, "turn,role,type\r\n0,agent,missing_topic\r\n").expect("write");
    let json = dir.path().join("qa.json");
    std::fs::write(&json, r#"[{"turn":1,"role":"agent","type":"wrong_info"}]"#).expect("write");
    for file in [&csv, &json] {
        let out = mock
            .polyai()
            .args(["conversations", "annotate", &id, "--from"])
            .arg(file)
            .output()
            .expect("runs");
        ok(out);
    }
    let stored = mock.server().state().annotations;
    let mine = stored.get(&id).expect("annotations stored");
    let got: Vec<(u64, &str, &str)> = mine
        .iter()
        .map(|a| (a.turn_id, a.role.as_str(), a.annotation_type.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (1, "user", "wrong_transcript"),
            (0, "agent", "wrong_info"),
            (0, "agent", "missing_topic"),
            (1, "agent", "wrong_info"),
        ]
    );

    let out = mock.run(&[
        "conversations",
        "annotate",
        &id,
        "--turn",
        "1",
        "--role",
        "user",
    ]);
    assert_fails(&out, 2, "--type");
}

#[test]
fn note_from_argument_and_stdin() {
    let mock = Mock::with_conversations(10);
    let id = mock.server().conversation_id(0, 2);
    let out = mock.run(&["conversations", "note", &id, "caller asked for a refund"]);
    assert_eq!(ok(out), format!("note saved on {id}\n"));
    assert_eq!(
        mock.server().state().notes.get(&id).map(String::as_str),
        Some("caller asked for a refund")
    );
    let out = mock
        .polyai()
        .args(["conversations", "note", &id, "--file", "-", "-O", "jsonl"])
        .write_stdin("escalate to billing\n")
        .output()
        .expect("runs");
    let value: serde_json::Value = serde_json::from_str(&ok(out)).expect("JSON");
    assert_eq!(value["note"], "escalate to billing");
    let shown = ok(mock.run(&["conversations", "get", &id]));
    assert!(
        shown.contains("Note         escalate to billing"),
        "{shown}"
    );
}

#[test]
fn completions_and_help() {
    let out = polyai()
        .args(["completions", "bash"])
        .output()
        .expect("runs");
    assert!(ok(out).contains("_polyai"));
    let out = polyai().arg("--help").output().expect("runs");
    let help = ok(out);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("130  interrupted by Ctrl-C"), "{help}");
    // A subcommand's help lists its own options first, the shared ones under their own heading.
    let out = polyai()
        .args(["conversations", "list", "--help"])
        .output()
        .expect("runs");
    let help = ok(out);
    let (own, global) = help
        .split_once("\nGlobal options:\n")
        .unwrap_or_else(|| panic!("no Global options heading: {help}"));
    assert!(own.contains("--limit") && own.contains("--since"), "{own}");
    assert!(
        !own.contains("--region") && !own.contains("--api-key-file"),
        "{own}"
    );
    assert!(
        global.contains("--region") && global.contains("--profile"),
        "{global}"
    );
    assert!(!global.contains("--limit <LIMIT>"), "{global}");
}

#[test]
fn wrong_key_exits_3_with_code_correlation_id_and_hint() {
    let mock = Mock::with_conversations(5);
    let out = mock.run_with_key("not-a-key", &["conversations", "list"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(err.contains("AUTH_USER_NOT_FOUND"), "{err}");
    assert!(err.contains("correlation id polyai-rs-"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("not-a-key"), "the key leaked: {err}");
}

#[test]
fn key_from_another_region_exits_3() {
    let mut config = MockConfig::default().conversations(5);
    config.region = "eu".into();
    config.keys = vec![ApiKey::new("eu-key", "eu"), ApiKey::new("us-key", "us")];
    let mock = Mock::start(config);
    let out = mock.run_with_key("us-key", &["conversations", "list"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("not valid for this region"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    let out = mock.run_with_key("eu-key", &["conversations", "list", "--limit", "1"]);
    ok(out);
}

#[test]
fn unknown_region_is_a_usage_error() {
    let out = run_with_key(
        "k",
        &["--region", "mars", "--agent", "A", "conversations", "list"],
    );
    assert_fails(&out, 2, "mars");
}

#[test]
fn unknown_conversation_exits_4() {
    let out = sandbox(&["conversations", "get", "CA00000000000000000000000000000000"]);
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    assert!(err.contains("CONVERSATIONS_NOT_FOUND"), "{err}");
    assert!(err.contains("correlation id"), "{err}");
    assert!(err.contains("hint: check the conversation id"), "{err}");
}

#[test]
fn unreachable_host_exits_5() {
    let out = polyai()
        .env("POLYAI_API_KEY", "k")
        .args([
            "--base-url",
            "http://127.0.0.1:9",
            "--agent",
            "A",
            "--retries",
            "0",
        ])
        .args(["conversations", "list", "--api", "data"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(5));
    let err = stderr(&out);
    assert!(err.contains("connect"), "{err}");
    assert!(err.contains("hint: cannot reach 127.0.0.1:9"), "{err}");
}

#[test]
fn server_errors_after_retries_exit_6() {
    let mock = Mock::with_conversations(5);
    mock.faults().fail_fraction(1.0, &[503]);
    let out = mock.run(&["--retries", "1", "conversations", "list"]);
    assert_fails(&out, 6, "503");
}

#[test]
fn missing_key_and_agent_are_usage_errors_with_hints() {
    let out = polyai()
        .args(["--agent", "A", "conversations", "list"])
        .output()
        .expect("runs");
    assert_fails(&out, 2, "POLYAI_API_KEY");
    let mock = Mock::with_conversations(5);
    let out = run_with_key(
        mock.server().key().expect("key"),
        &[
            "--base-url",
            &mock.server().base_url(),
            "conversations",
            "list",
        ],
    );
    assert_fails(&out, 2, "POLYAI_AGENT_ID");
}

#[test]
fn api_key_file_reads_a_file_or_stdin() {
    let mock = Mock::with_conversations(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("key");
    std::fs::write(
        &key_file,
        format!("{}\n", mock.server().key().expect("key")),
    )
    .expect("write");
    let base = mock.server().base_url();
    let agent = mock.agent();
    let out = polyai()
        .args(["--base-url", &base, "--agent", &agent, "--api-key-file"])
        .arg(&key_file)
        .args(["conversations", "list", "--api", "data", "--limit", "1"])
        .output()
        .expect("runs");
    ok(out);
    let out = polyai()
        .args([
            "--base-url",
            &base,
            "--agent",
            &agent,
            "--api-key-file",
            "-",
        ])
        .args([
            "conversations",
            "list",
            "--api",
            "data",
            "--limit",
            "1",
            "-O",
            "jsonl",
        ])
        .write_stdin(mock.server().key().expect("key"))
        .output()
        .expect("runs");
    assert_eq!(ok(out).lines().count(), 1);
}

#[test]
fn rate_limited_exits_6_with_a_hint() {
    let mock = Mock::with_conversations(5);
    mock.faults()
        .rate_limit(Some(std::time::Duration::from_secs(1)));
    let out = mock.run(&["--retries", "0", "conversations", "list"]);
    assert_fails(&out, 6, "HTTP 429");
    assert!(
        stderr(&out).contains("hint: rate limited"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn verbose_logs_calls_but_never_the_key() {
    let secret = "s3cr3t-key-0123456789";
    let mock = Mock::start(
        MockConfig::default()
            .conversations(5)
            .key(ApiKey::new(secret, "us")),
    );
    let out = mock.run_with_key(secret, &["-vv", "conversations", "get", "CA-nope"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("get_conversation"), "{err}");
    assert!(err.contains("correlation_id"), "{err}");
    assert!(!err.contains(secret), "the key leaked: {err}");
    assert!(!stdout(&out).contains(secret));
}

#[test]
fn empty_polyai_variables_count_as_unset() {
    let mock = Mock::with_conversations(3);
    // An empty POLYAI_BASE_URL neither overrides --region nor conflicts with --sandbox.
    let out = polyai()
        .env("POLYAI_API_KEY", "k")
        .env("POLYAI_BASE_URL", "")
        .args(["--region", "mars", "--agent", "A", "conversations", "list"])
        .output()
        .expect("runs");
    assert_fails(&out, 2, "--region");
    assert!(!stderr(&out).contains("base URL"), "{}", stderr(&out));
    let out = polyai()
        .env("POLYAI_BASE_URL", "")
        .env("POLYAI_REGION", "")
        .env("POLYAI_AGENT_ID", "")
        .args([
            "--sandbox",
            "conversations",
            "list",
            "--limit",
            "1",
            "-O",
            "jsonl",
        ])
        .output()
        .expect("runs");
    assert_eq!(ok(out).lines().count(), 1);
    // An empty POLYAI_REGION falls back to the default region instead of failing to parse.
    let out = mock
        .polyai()
        .env("POLYAI_REGION", "")
        .args([
            "conversations",
            "list",
            "--api",
            "data",
            "--limit",
            "1",
            "-O",
            "jsonl",
        ])
        .output()
        .expect("runs");
    assert_eq!(ok(out).lines().count(), 1);
    // An empty POLYAI_AGENT_ID is a missing agent, not an agent named "".
    let out = polyai()
        .env("POLYAI_API_KEY", "k")
        .env("POLYAI_AGENT_ID", "")
        .args([
            "--base-url",
            &mock.server().base_url(),
            "conversations",
            "list",
        ])
        .output()
        .expect("runs");
    assert_fails(&out, 2, "no agent id");
}

#[test]
fn a_failed_annotate_says_it_may_have_been_applied_and_how_to_check() {
    let mock = Mock::with_conversations(3);
    let id = mock.server().conversation_id(0, 1);
    let annotate = |id: &str| {
        mock.run(&[
            "conversations",
            "annotate",
            id,
            "--turn",
            "0",
            "--role",
            "user",
            "--type",
            "wrong_info",
        ])
    };
    mock.faults().fail_next(1, 502);
    let out = annotate(&id);
    assert_fails(&out, 6, "HTTP 502");
    let err = stderr(&out);
    assert!(
        err.contains("may have carried out the annotations of")
            && err.contains(&format!("`polyai conversations get {id}`"))
            && !err.contains("try again"),
        "{err}"
    );
    // A failure that surely changed nothing keeps its usual hint.
    let out = annotate("CA-nope");
    assert_fails(&out, 4, "HTTP 404");
    assert!(
        !stderr(&out).contains("may have carried out"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failed_chat_start_says_it_may_have_been_applied() {
    let mock = Mock::with_conversations(3);
    mock.faults().fail_next(1, 503);
    let out = mock.run(&["chat", "send", "hello"]);
    assert_fails(&out, 6, "HTTP 503");
    let err = stderr(&out);
    assert!(
        err.contains("may have carried out the start of a debug chat session")
            && err.contains("polyai conversations list"),
        "{err}"
    );
}

#[test]
fn audio_never_leaves_the_folder_follows_links_or_replaces_special_files() {
    // Hostile ids: every one tries to climb out of the working folder.
    let ids: Vec<String> = (0..20).map(|i| format!("../escaped_from_cwd{i}")).collect();
    let mock = Mock::start(
        MockConfig::default()
            .conversations(20)
            .conversation_ids(ids),
    );
    let server = mock.server();
    let index = (0..20)
        .find(|&i| server.has_recording(0, i))
        .expect("a recording");
    let id = server.conversation_id(0, index);
    assert!(id.starts_with("../"), "{id}");
    let served = mock.raw_get(&format!(
        "/v1/agents/{}/conversations/{}/audio",
        mock.agent(),
        id.replace('/', "%2F")
    ));
    let root = tempfile::tempdir().expect("tempdir");
    let work = root.path().join("work");
    std::fs::create_dir(&work).expect("work dir");
    let run = |args: &[&str]| {
        mock.polyai()
            .current_dir(&work)
            .args(["conversations", "audio", &id])
            .args(args)
            .output()
            .expect("runs")
    };
    let names = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    };

    // No -o: a file in the working folder, named safely; nothing beside the folder.
    ok(run(&[]));
    let name = polyai_data::file_name_for_id(&id, "wav");
    assert_eq!(names(&work), vec![name.clone()]);
    assert_eq!(names(root.path()), vec!["work".to_owned()]);
    assert_eq!(std::fs::read(work.join(&name)).expect("saved"), served);

    // -o -: the recording on stdout, no file named `-`.
    let out = run(&["-o", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, served);
    assert!(stderr(&out).contains("saved"), "{}", stderr(&out));
    assert!(!work.join("-").exists());

    // A symbolic link is refused without --force; with it the link, not its target, is replaced.
    let victim = root.path().join("victim.txt");
    std::fs::write(&victim, b"precious").expect("victim");
    let link = work.join("link.wav");
    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
    let out = run(&["-o", "link.wav"]);
    assert_fails(&out, 8, "symbolic link");
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    ok(run(&["-o", "link.wav", "--force"]));
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("file")
            .file_type()
            .is_file()
    );
    assert_eq!(std::fs::read(&link).expect("saved"), served);
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");

    // A FIFO is written to in place, not replaced by a regular file.
    let fifo = work.join("pipe.wav");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).expect("read fifo"))
    };
    ok(run(&["-o", "pipe.wav"]));
    assert_eq!(reader.join().expect("reader"), served);
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("fifo")
            .file_type()
            .is_fifo()
    );
}

/// A hostile server on loopback: answers every request on its own thread by writing `head`,
/// then calling `body` with the connection until it returns (or the client hangs up).
fn hostile_server(
    head: &'static str,
    body: fn(&mut std::net::TcpStream) -> std::io::Result<()>,
) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => request.push(byte[0]),
                        _ => return,
                    }
                }
                if stream.write_all(head.as_bytes()).is_ok() {
                    let _ = body(&mut stream);
                }
            });
        }
    });
    url
}

#[test]
fn an_endless_json_body_stops_at_max_body_mib() {
    let url = hostile_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        |stream| {
            use std::io::Write;
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "[".repeat(64 * 1024));
            stream.write_all(b"1\r\n{\r\n")?;
            loop {
                stream.write_all(chunk.as_bytes())?;
            }
        },
    );
    let out = polyai()
        .env("POLYAI_API_KEY", "k")
        .args(["--base-url", &url, "--agent", "A", "--max-body-mib", "1"])
        .args(["conversations", "get", "CA1"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("runs");
    assert_fails(&out, 1, "larger than the limit of 1048576 bytes");
    assert!(stderr(&out).contains("--max-body-mib"), "{}", stderr(&out));
}

#[test]
fn a_trickling_recording_ends_at_the_download_timeout() {
    // A valid WAV header, then one byte every 200 ms of a body announced as 1 MB.
    let url = hostile_server(
        "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: 1000000\r\n\r\n",
        |stream| {
            use std::io::Write;
            let mut header = b"RIFF".to_vec();
            header.extend_from_slice(&(1_000_000u32 - 8).to_le_bytes());
            header.extend_from_slice(b"WAVEfmt ");
            header.extend_from_slice(&16u32.to_le_bytes());
            // PCM, mono, 8 kHz, 16 000 bytes/s, block 2, 16 bits.
            for (value, width) in [(1u32, 2), (1, 2), (8000, 4), (16000, 4), (2, 2), (16, 2)] {
                header.extend_from_slice(&value.to_le_bytes()[..width]);
            }
            header.extend_from_slice(b"data");
            header.extend_from_slice(&(1_000_000u32 - 44).to_le_bytes());
            stream.write_all(&header)?;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                stream.write_all(b"\0")?;
            }
        },
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let started = std::time::Instant::now();
    let out = polyai()
        .current_dir(dir.path())
        .env("POLYAI_API_KEY", "k")
        .args(["--base-url", &url, "--agent", "A", "--retries", "0"])
        .args(["--download-timeout", "2", "conversations", "audio", "CA1"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("runs");
    assert_fails(&out, 5, "did not finish within 2s");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

/// `list --all` as a table keeps at most 10 000 rows (memory stays bounded) and says so; JSON
/// streams every record.
#[test]
fn a_long_table_is_capped_and_says_so() {
    let mock = Mock::with_conversations(10_050);
    let table = ok(mock.run(&["conversations", "list", "--all"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("CA")).count(), 10_000);
    let footer = lines.last().copied().unwrap_or_default();
    assert!(
        footer.starts_with("10050 conversations")
            && footer.contains("the table shows the first 10000"),
        "{footer}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(mock.run(&[
        "conversations",
        "list",
        "--all",
        "-O",
        "json",
    ])))
    .expect("JSON");
    assert_eq!(json["count"], 10_050);
    assert_eq!(json["items"].as_array().map(Vec::len), Some(10_050));
    assert_eq!(json["next"], serde_json::Value::Null);
}
