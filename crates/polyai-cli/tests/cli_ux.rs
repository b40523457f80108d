//! The CLI as people meet it (issue 25): tables under a real pseudo-terminal at 60 to 120
//! columns, closed pipes on every command, file errors that name the user's path, config
//! init and broken profiles, the QA loop (annotations shown, ids from files, several ids),
//! the chat REPL's commands and Ctrl-C during `chat test`.

mod common;

use std::io::Read;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Mock, polyai, sandbox, std_polyai, stderr, stdout};
use polyai_mock::MockConfig;

/// A conversation of the default sandbox (seed 42) with a recording and two turns.
const SANDBOX_ID: &str = "CAbfb7ebf6d37547be20fdb54ca2677921";

fn fails(out: &Output, code: i32, needles: &[&str]) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}\n{}", stdout(out));
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}\n{}", stderr(out), stdout(out));
    stdout(out)
}

/// A new pseudo-terminal `cols` columns wide: its leader and follower sides.
#[cfg(target_os = "linux")]
fn pty(cols: u16) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut leader, mut follower) = (-1, -1);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two new descriptors, which are owned below.
    let made = unsafe {
        libc::openpty(
            &mut leader,
            &mut follower,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(made, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(leader), OwnedFd::from_raw_fd(follower)) }
}

/// Runs `cmd` with stdout on a pseudo-terminal `cols` columns wide (as a person's terminal,
/// with no COLUMNS override) and returns what it printed, line ends as `\n`.
#[cfg(target_os = "linux")]
fn in_terminal(mut cmd: std::process::Command, cols: u16) -> String {
    let (leader, follower) = pty(cols);
    cmd.env_remove("COLUMNS")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .stdout(Stdio::from(follower));
    let mut child = cmd.spawn().expect("spawn");
    // The child holds the follower now; the parent's copy went into `cmd`.
    drop(cmd);
    let mut reader = std::fs::File::from(leader);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // EIO once the last holder of the follower is gone.
            Err(_) => break,
        }
    }
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

#[cfg(target_os = "linux")]
#[test]
fn tables_fit_a_real_terminal_at_60_to_120_columns() {
    let mock = Mock::start(MockConfig::default().conversations(60));
    let account = mock.server().account_id().to_owned();
    let listings: [&[&str]; 3] = [
        &["conversations", "list", "--limit", "20"],
        &[
            "--account",
            &account,
            "conversations",
            "list",
            "--limit",
            "20",
        ],
        &[
            "--account",
            &account,
            "conversations",
            "list",
            "--search",
            "the",
            "--limit",
            "20",
        ],
    ];
    for cols in [60u16, 80, 100, 120] {
        for args in listings {
            let mut cmd = mock.std_polyai();
            if args.contains(&"--account") {
                cmd.env("POLYAI_API", "v3").env("POLYAI_ENV", "live");
            }
            cmd.args(args);
            let text = in_terminal(cmd, cols);
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines.len() > 2, "{cols} columns, {args:?}:\n{text}");
            // The table's lines; the footer after it is text, which a terminal wraps.
            for line in lines
                .iter()
                .filter(|l| l.starts_with("ID ") || l.starts_with("CA"))
            {
                let width = console::measure_text_width(line);
                assert!(
                    width <= usize::from(cols),
                    "{cols} columns, {args:?}: a line of {width}:\n{text}"
                );
            }
            // Ids are never cut; the free text is, with an ellipsis, when it is long.
            assert!(lines[1].starts_with("CA"), "{text}");
            if cols == 60 && args.contains(&"--account") {
                assert!(text.contains('…'), "{cols} columns, {args:?}:\n{text}");
            }
            assert!(!text.contains("(live)"), "{text}");
        }
    }
}

#[test]
fn closed_stdout_and_stderr_never_panic_on_any_command() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name).display().to_string();
    let scenario = path("s.toml");
    std::fs::write(
        &scenario,
        "[[scenario]]\nname = \"greets\"\n[scenario.greeting]\ncontains = \"\"\n",
    )
    .expect("write");
    let (export, db, key, junit) = (
        path("export"),
        path("x.db"),
        path("sign.key"),
        path("j.xml"),
    );
    let commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["--sandbox", "conversations", "list"],
        vec!["--sandbox", "conversations", "list", "--all", "-O", "csv"],
        vec![
            "--sandbox",
            "conversations",
            "list",
            "--since",
            "7d",
            "--search",
            "a",
        ],
        vec![
            "--sandbox",
            "conversations",
            "get",
            SANDBOX_ID,
            SANDBOX_ID,
            "CA1",
        ],
        vec!["--sandbox", "conversations", "audio", SANDBOX_ID, "-o", "-"],
        vec!["--sandbox", "conversations", "note", SANDBOX_ID, "hi"],
        vec![
            "--sandbox",
            "conversations",
            "annotate",
            SANDBOX_ID,
            "--turn",
            "0",
            "--role",
            "agent",
            "--type",
            "wrong_info",
        ],
        vec!["--sandbox", "chat", "send", "hello"],
        vec!["--sandbox", "chat", "test", &scenario, "--junit", &junit],
        vec!["--sandbox", "chat", "test", "--list", &scenario],
        vec!["--sandbox", "chat", "replay", "--limit", "2"],
        vec!["--sandbox", "export", "--out", &export],
        vec!["--sandbox", "sync", "--db", &db, "-O", "json"],
        vec![
            "--sandbox",
            "reconcile",
            "--since",
            "2026-06-02",
            "--until",
            "2026-06-03",
        ],
        vec!["config", "list"],
        vec!["config", "show"],
        vec!["schema"],
        vec!["schema", "conversation"],
        vec!["completions", "bash"],
        vec!["verify", &export],
        vec!["keygen", "--out", &key],
        vec!["conversations", "list", "--limit", "0"],
    ];
    for args in commands {
        let status = common::with_closed_pipes(std_polyai().args(&args));
        assert!(
            status.code().is_some_and(|c| c != 101),
            "{args:?}: {status} (101 is a panic; no code is a signal)"
        );
    }
}

#[test]
fn file_errors_name_the_users_path_and_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let at = |name: &str| dir.path().join(name);
    // A recording's folder is created, as export --out and --junit create theirs.
    let wav = at("new/folder/x.wav");
    let out = sandbox(&[
        "conversations",
        "audio",
        SANDBOX_ID,
        "-o",
        &wav.display().to_string(),
    ]);
    assert!(ok(&out).contains("x.wav"));
    assert!(wav.is_file());
    // A file in the way of a folder.
    std::fs::write(at("afile"), "x").expect("write");
    let blocked = at("afile/x.wav").display().to_string();
    let out = sandbox(&["conversations", "audio", SANDBOX_ID, "-o", &blocked]);
    let err = fails(&out, 8, &["afile/x.wav"]);
    assert!(!err.contains(".part"), "{err}");
    let afile = at("afile").display().to_string();
    let out = sandbox(&["export", "--out", &afile]);
    let err = fails(&out, 2, &["--out", "afile is a file, not a folder"]);
    assert!(!err.contains("os error"), "{err}");
    // sync: a folder is created; a file that is not a database is refused, no lock left.
    let db = at("dbs/x.db").display().to_string();
    ok(&sandbox(&["sync", "--db", &db]));
    std::fs::write(at("victim.wav"), b"RIFF....WAVEfmt some audio").expect("write");
    let victim = at("victim.wav").display().to_string();
    let out = sandbox(&["sync", "--db", &victim]);
    let err = fails(
        &out,
        8,
        &["--db", "victim.wav", "is not a SQLite database", "new file"],
    );
    assert!(!err.contains(".lock"), "{err}");
    assert!(!at("victim.wav.lock").exists());
    let folder = at("dbs").display().to_string();
    fails(&sandbox(&["sync", "--db", &folder]), 8, &["is a folder"]);
    // An empty key file says so, naming it.
    let empty = at("empty.key");
    std::fs::write(&empty, "\n").expect("write");
    let out = polyai()
        .args([
            "--api-key-file",
            &empty.display().to_string(),
            "conversations",
            "list",
        ])
        .args(["--agent", "PROJECT-1"])
        .output()
        .expect("runs");
    fails(&out, 2, &["empty.key is empty"]);
    let out = polyai()
        .args([
            "--api-key-file",
            "-",
            "--agent",
            "PROJECT-1",
            "conversations",
            "list",
        ])
        .write_stdin("\n")
        .output()
        .expect("runs");
    let err = fails(&out, 2, &["read from stdin (--api-key-file -) is empty"]);
    assert!(!err.contains("pass --api-key-file"), "{err}");
}

#[test]
fn config_init_writes_a_private_key_file_and_a_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("polyai/config.toml");
    std::fs::create_dir_all(config.parent().expect("folder")).expect("mkdir");
    std::fs::write(
        &config,
        "# mine\n[profiles.other]\nagent = \"PROJECT-OTHER\"\n",
    )
    .expect("write");
    let init = |args: &[&str], stdin: &str| {
        polyai()
            .env("POLYAI_CONFIG", &config)
            .args(args)
            .write_stdin(stdin)
            .output()
            .expect("runs")
    };
    let out = init(
        &[
            "--profile",
            "eu",
            "--region",
            "eu",
            "--agent",
            "PROJECT-58RP822I",
            "--api-key-file",
            "-",
            "config",
            "init",
        ],
        "sk-secret-123\n",
    );
    let shown = ok(&out);
    assert!(shown.contains("saved profile `eu`"), "{shown}");
    assert!(!shown.contains("sk-secret") && !stderr(&out).contains("sk-secret"));
    let key = dir.path().join("polyai/eu.key");
    assert_eq!(
        std::fs::read_to_string(&key).expect("key"),
        "sk-secret-123\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.starts_with("# mine\n[profiles.other]\n"), "{text}");
    assert!(text.contains("[profiles.eu]\nregion = \"eu\"\nagent = \"PROJECT-58RP822I\"\napi_key_file = \"eu.key\"\n"), "{text}");
    // Updating keeps the key file when no new key comes; the key is never an argument.
    let out = init(
        &["--profile", "eu", "--account", "ws-1", "config", "init"],
        "",
    );
    ok(&out);
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        text.contains("account = \"ws-1\"") && text.contains("agent = \"PROJECT-58RP822I\""),
        "{text}"
    );
    let shown = ok(&init(&["--profile", "eu", "config", "show"], ""));
    assert!(
        shown.contains("ok") && !shown.contains("sk-secret"),
        "{shown}"
    );
    // No key anywhere: told how to give one.
    let out = init(&["--profile", "new", "config", "init"], "");
    fails(
        &out,
        2,
        &["--api-key-file -", "never a command-line argument"],
    );
    let out = init(
        &["--profile", "new", "--api-key-file", "-", "config", "init"],
        "  \n",
    );
    fails(&out, 2, &["is empty"]);
}

#[test]
fn a_typo_in_one_profile_breaks_only_that_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.good]\nagent = \"PROJECT-1\"\n\n[profiles.typo]\nregoin = \"eu\"\n",
    )
    .expect("write");
    let run = |args: &[&str]| {
        polyai()
            .env("POLYAI_CONFIG", &config)
            .args(args)
            .output()
            .expect("runs")
    };
    let out = run(&["config", "list"]);
    let listed = ok(&out);
    assert!(
        listed.contains("good") && listed.contains("typo"),
        "{listed}"
    );
    assert!(
        stderr(&out).contains("profile `typo` is not usable") && stderr(&out).contains("regoin")
    );
    ok(&run(&["--profile", "good", "config", "show"]));
    let out = run(&["--profile", "typo", "config", "show"]);
    fails(&out, 2, &["[profiles.typo]", "regoin"]);
    // A command using another profile runs (and fails only for want of a key).
    let out = run(&["--profile", "good", "conversations", "list"]);
    fails(&out, 2, &["no API key"]);
}

#[test]
fn annotations_show_in_get_and_files_name_their_conversations() {
    let mock = Mock::with_conversations(10);
    let a = mock.server().conversation_id(0, 1);
    let b = mock.server().conversation_id(0, 2);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("qa.csv");
    std::fs::write(
        &csv,
        format!("conversation_id,turn,role,type\n{a},1,agent,wrong_info\n{b},0,agent,missing_topic\n{a},0,user,wrong_transcript\n"),
    )
    .expect("write");
    let csv_arg = csv.display().to_string();
    // A row for another conversation than the command line's is refused before any call.
    let out = mock.run(&["conversations", "annotate", &a, "--from", &csv_arg]);
    fails(&out, 2, &["qa.csv line 3", &b, &a]);
    assert!(mock.server().state().annotations.is_empty());
    let out = mock.run(&["conversations", "annotate", "--from", &csv_arg]);
    assert_eq!(
        ok(&out),
        format!("added 2 annotations to {a}\nadded 1 annotation to {b}\n")
    );
    let shown = ok(&mock.run(&["conversations", "get", &a]));
    assert!(shown.contains("Annotations  2"), "{shown}");
    assert!(shown.contains("⚑ wrong_info (agent)"), "{shown}");
    assert!(shown.contains("⚑ wrong_transcript (user)"), "{shown}");
    // Several ids, from the command line and stdin.
    let out = mock
        .polyai()
        .args(["conversations", "get", &a, "-", "-O", "json"])
        .write_stdin(format!("# QA\n{b}\n\n{a}\n"))
        .output()
        .expect("runs");
    let records: serde_json::Value = serde_json::from_str(&ok(&out)).expect("JSON array");
    assert_eq!(records.as_array().map(Vec::len), Some(2));
    let csv_out = ok(&mock.run(&["conversations", "get", &a, &b, "-O", "csv"]));
    assert!(
        csv_out.starts_with("conversation_id,turn_index,"),
        "{csv_out}"
    );
    assert_eq!(csv_out.matches("conversation_id").count(), 1, "{csv_out}");
    // One missing id fails with its own exit code; the others are shown.
    let out = mock.run(&["conversations", "get", &a, "CA-nope"]);
    let err = fails(&out, 4, &["CA-nope", "1 of 2 conversations failed"]);
    assert!(stdout(&out).contains(&a), "{err}");
    // The help shows the file layout.
    let help = ok(&polyai()
        .args(["conversations", "annotate", "--help"])
        .output()
        .expect("runs"));
    assert!(help.contains("conversation_id,turn,role,type"), "{help}");
}

#[test]
fn audio_saves_several_recordings_into_a_folder() {
    let mock = Mock::with_conversations(20);
    let ids: Vec<String> = (0..20)
        .map(|i| mock.server().conversation_id(0, i))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("rec");
    let list = dir.path().join("ids.txt");
    std::fs::write(&list, format!("{}\n{}\n", ids[0], ids[1])).expect("write");
    let out = mock
        .polyai()
        .args(["conversations", "audio", "--ids"])
        .arg(&list)
        .arg("-o")
        .arg(&folder)
        .output()
        .expect("runs");
    // The sandbox's conversations without a recording fail alone; the others are saved.
    let saved = std::fs::read_dir(&folder).map(|d| d.count()).unwrap_or(0);
    let reported = stdout(&out).matches("saved ").count();
    assert_eq!(saved, reported, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
    let out = mock.run(&["conversations", "audio", &ids[0], &ids[1], "-o", "-"]);
    fails(&out, 2, &["-o -", "2 ids"]);
}

#[test]
fn the_repl_takes_commands_and_says_so() {
    let out = polyai()
        .args(["--sandbox", "chat"])
        .write_stdin("/help\n/metadata\nhello\n/metadata\n/bogus\n/reset\n/quit\nnever sent\n")
        .output()
        .expect("runs");
    let shown = ok(&out);
    let err = stderr(&out);
    assert!(err.contains("/help lists the commands"), "{err}");
    assert!(err.contains("/reset") && err.contains("/metadata"), "{err}");
    assert!(err.contains("no reply yet"), "{err}");
    assert!(err.contains("unknown command /bogus"), "{err}");
    assert!(err.contains("new debug chat"), "{err}");
    assert!(
        !shown.contains("you>   /help") && !shown.contains("never sent"),
        "{shown}"
    );
    assert!(shown.contains("you>   hello"), "{shown}");
    // Two greetings: the first session's and the reset one's.
    assert!(shown.matches("agent> ").count() >= 3, "{shown}");
}

#[test]
fn ctrl_c_during_chat_test_reports_what_finished() {
    let mock = Mock::start(MockConfig::default().conversations(5));
    mock.faults().set_latency(Duration::from_millis(40));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("many.toml");
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!(
            "[[scenario]]\nname = \"s{i}\"\n[[scenario.turn]]\nuser = \"hello\"\n\n"
        ));
    }
    std::fs::write(&file, text).expect("write");
    let child = mock
        .std_polyai()
        .args(["chat", "test", "--concurrency", "1"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (status, out, err) = common::interrupt_when(child, |lines| lines.len() >= 2);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("polyai: error: interrupted: "), "{err}");
    assert!(
        err.contains("of 40 scenarios finished and reported above"),
        "{err}"
    );
    assert!(!out.is_empty(), "the report of what finished is printed");
}

#[test]
fn help_marks_v3_flags_and_hides_what_a_command_never_uses() {
    let help = |args: &[&str]| ok(&polyai().args(args).output().expect("runs"));
    let list = help(&["conversations", "list", "--help"]);
    let v3 = list
        .find("Conversations API v3 only")
        .expect("a v3 heading");
    let global = list
        .find("Global options")
        .expect("a heading of global options");
    let section = &list[v3..global];
    assert!(
        section.contains("--since") && section.contains("--search"),
        "{list}"
    );
    assert!(!section.contains("--offset <"), "{list}");
    let config = help(&["config", "--help"]);
    for hidden in ["--sandbox", "--retries", "--min-download-rate"] {
        let listed = config.lines().any(|l| l.trim_start().starts_with(hidden));
        assert!(!listed, "{hidden} in:\n{config}");
    }
    assert!(config.contains("      --profile <NAME>"), "{config}");
    let top = help(&["--help"]);
    assert!(
        top.lines().next().is_some_and(|l| l.contains("sync")),
        "{top}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn config_init_asks_on_a_terminal_and_never_echoes_the_key() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    let (leader, follower) = pty(100);
    let mut cmd = std_polyai();
    cmd.env("POLYAI_CONFIG", &config)
        .args(["config", "init"])
        .stdin(Stdio::from(follower.try_clone().expect("dup")))
        .stdout(Stdio::from(follower.try_clone().expect("dup")))
        .stderr(Stdio::from(follower));
    let mut child = cmd.spawn().expect("spawn");
    drop(cmd);
    let mut writer = std::fs::File::from(leader.try_clone().expect("dup"));
    let shown = Arc::new(Mutex::new(String::new()));
    let seen = Arc::clone(&shown);
    let reader = std::thread::spawn(move || {
        let mut reader = std::fs::File::from(leader);
        let mut buf = [0u8; 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&text);
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !shown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(needle)
        {
            assert!(Instant::now() < deadline, "no prompt {needle:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    for (prompt, answer) in [
        ("Region", "eu\n"),
        ("Agent id", "PROJECT-TTY\n"),
        ("Account id", "\n"),
        ("API key", "sk-typed-secret\n"),
    ] {
        wait_for(prompt);
        writer.write_all(answer.as_bytes()).expect("type");
    }
    let status = child.wait().expect("wait");
    drop(writer);
    reader.join().expect("reader");
    let shown = shown.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(status.success(), "{shown}");
    assert!(shown.contains("saved profile `default`"), "{shown}");
    assert!(
        !shown.contains("sk-typed-secret"),
        "the key was echoed:\n{shown}"
    );
    let key = std::fs::read_to_string(dir.path().join("default.key")).expect("key file");
    assert_eq!(key, "sk-typed-secret\n");
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        text.contains("region = \"eu\"") && text.contains("agent = \"PROJECT-TTY\""),
        "{text}"
    );
    assert!(!text.contains("account"), "{text}");
}

#[test]
fn ctrl_c_during_sync_prints_its_summary_and_marks_the_run() {
    let mock = Mock::start(MockConfig::default().conversations(60));
    mock.faults().set_latency(Duration::from_millis(50));
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("x.db");
    let child = mock
        .std_polyai()
        .args(["sync", "--concurrency", "1", "-O", "json", "--db"])
        .arg(&db)
        .arg("--with-audio")
        .arg(dir.path().join("audio"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let (status, out, err) =
        common::interrupt_when(child, |_| started.elapsed() > Duration::from_millis(1500));
    assert_eq!(status.code(), Some(130), "{err}");
    let record: serde_json::Value = serde_json::from_str(&out).expect("a JSON summary");
    assert_eq!(record["status"], "interrupted", "{out}");
    assert!(err.contains("sync interrupted: "), "{err}");
    assert!(err.contains("run it again"), "{err}");
    let conn = rusqlite::Connection::open(&db).expect("open");
    let state: String = conn
        .query_row(
            "SELECT status FROM sync_runs ORDER BY run_id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("a run");
    assert_eq!(state, "interrupted");
}

/// A reader that stops early (`| head -c 10`) ends the listing quietly with success, in every
/// format: the output is larger than a pipe's buffer, so the write after the close fails.
#[test]
fn a_closed_stdout_ends_a_listing_quietly_in_every_format() {
    use std::io::Read;
    for format in ["json", "jsonl", "csv", "table"] {
        let mut child = std_polyai()
            .args([
                "--sandbox",
                "conversations",
                "list",
                "--all",
                "--env",
                "all",
                "-O",
                format,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut head = [0u8; 10];
        child
            .stdout
            .take()
            .expect("stdout")
            .read_exact(&mut head)
            .expect("the first bytes");
        let out = child.wait_with_output().expect("exit");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{format}: {err}");
        assert!(!err.contains("Broken pipe"), "{format}: {err}");
    }
}

/// The ids a sandbox listing prints as JSON Lines.
fn sampled(args: &[&str]) -> (Vec<String>, String) {
    let out = polyai()
        .arg("--sandbox")
        .args(["conversations", "list", "-O", "jsonl"])
        .args(args)
        .output()
        .expect("runs");
    let text = ok(&out);
    let ids = text
        .lines()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("a record");
            record["conversation_id"]
                .as_str()
                .expect("an id")
                .to_owned()
        })
        .collect();
    (ids, stderr(&out))
}

#[test]
fn a_seeded_sample_is_the_same_on_every_run_and_either_api() {
    let (v3, note) = sampled(&["--sample", "--seed", "42", "--limit", "12"]);
    assert_eq!(v3.len(), 12);
    assert!(note.contains("with --seed 42"), "{note}");
    assert_eq!(
        v3,
        sampled(&["--sample", "--seed", "42", "--limit", "12"]).0
    );
    let (data, _) = sampled(&[
        "--sample", "--seed", "42", "--limit", "12", "--api", "data", "--env", "live",
    ]);
    assert_eq!(v3, data, "the same conversations, the same sample");
    let (other, _) = sampled(&["--sample", "--seed", "43", "--limit", "12"]);
    assert_ne!(v3, other);
    // A larger sample of the same seed starts with the smaller one.
    let (larger, _) = sampled(&["--sample", "--seed", "42", "--limit", "30"]);
    assert_eq!(larger[..12], v3[..]);

    // Only conversations with a recording: v3 asks for each, the Data API says so in the
    // record; both draw the same sample, and every one of them has a recording.
    let with_recording = [
        "--sample",
        "--with-recording",
        "--seed",
        "5",
        "--limit",
        "8",
    ];
    let (with, note) = sampled(&with_recording);
    assert_eq!(with.len(), 8);
    assert!(note.contains("each with a recording"), "{note}");
    let (data, _) = sampled(&[&with_recording[..], &["--api", "data", "--env", "live"]].concat());
    assert_eq!(with, data);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = polyai()
        .arg("--sandbox")
        .args(["conversations", "audio"])
        .args(&with)
        .args(["-o", dir.path().to_str().expect("utf-8")])
        .output()
        .expect("runs");
    ok(&out);
    assert_eq!(std::fs::read_dir(dir.path()).expect("folder").count(), 8);
    // Without a seed, one is chosen and printed so the sample can be drawn again.
    let (drawn, note) = sampled(&["--sample", "--with-recording", "--limit", "3"]);
    let seed = note
        .split("--seed ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .expect("the seed is printed");
    assert_eq!(
        drawn,
        sampled(&[
            "--sample",
            "--with-recording",
            "--limit",
            "3",
            "--seed",
            seed
        ])
        .0
    );
    // A seed without --sample, or with --all, is a usage error.
    fails(
        &polyai()
            .arg("--sandbox")
            .args(["conversations", "list", "--seed", "1"])
            .output()
            .expect("runs"),
        2,
        &["--sample"],
    );
    fails(
        &polyai()
            .arg("--sandbox")
            .args(["conversations", "list", "--sample", "--seed", "1", "--all"])
            .output()
            .expect("runs"),
        2,
        &["--all"],
    );
}
