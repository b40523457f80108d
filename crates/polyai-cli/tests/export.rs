//! `export`: complete runs, and runs interrupted (SIGKILL, SIGINT, failures, the server going
//! away) then resumed, checked to hold exactly the mock's conversations, each once. The fault
//! matrix is in `fault_matrix.rs`.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use common::{
    Mock, assert_exact_export, assert_manifest, journal_ids, journal_ids_after_kill, journal_lines,
    stderr, wait_until,
};
use polyai_mock::MockConfig;

fn export_args(dir: &Path) -> Vec<String> {
    vec![
        "export".into(),
        "--out".into(),
        dir.to_str().expect("utf-8 path").into(),
        "--with-details".into(),
    ]
}

/// Waits until the running export has written at least `n` lines.
fn wait_for_lines(child: &mut Child, dir: &Path, n: usize) {
    wait_until(child, &format!("{n} lines"), || journal_lines(dir) >= n);
}

fn spawn_export(mock: &Mock, dir: &Path, extra: &[&str]) -> Child {
    let args: Vec<&str> = ["--with-details"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    mock.spawn_export(dir, &args)
}

fn resume(mock: &Mock, dir: &Path) -> std::process::Output {
    resume_with(mock, dir, &[])
}

fn resume_with(mock: &Mock, dir: &Path, extra: &[&str]) -> std::process::Output {
    let out = mock
        .polyai()
        .args(export_args(dir))
        .args(["--concurrency", "8"])
        .args(extra)
        .output()
        .expect("runs");
    assert!(out.status.success(), "resume failed: {}", stderr(&out));
    out
}

#[test]
fn full_export_with_audio_then_incremental_rerun() {
    let mock = Mock::with_conversations(40);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = mock
        .polyai()
        .args(export_args(dir.path()))
        .args(["--with-audio", "--concurrency", "4", "--page-size", "7"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = stderr(&out);
    assert!(
        summary.contains("export complete: 40 new, 0 already present, 40 in file"),
        "{summary}"
    );
    assert!(summary.contains("conversations/s"), "{summary}");
    assert_exact_export(dir.path(), &mock.conversation_ids());
    mock.assert_recordings_complete(dir.path());
    let manifest = assert_manifest(dir.path(), "complete");
    assert_eq!(manifest["agent_id"], mock.agent().as_str());
    assert_eq!(manifest["base_url"], mock.server().base_url().as_str());
    assert_eq!(manifest["options"]["with_details"], true);
    assert_eq!(manifest["options"]["redacted"], false);
    assert_eq!(manifest["counts"]["failed"], 0);
    assert_eq!(
        manifest["source"]["spec_version"],
        polyai_data::api_version()
    );
    assert_eq!(manifest["tool"]["version"], env!("CARGO_PKG_VERSION"));
    let range = &manifest["time_range"];
    assert!(
        range["earliest"].as_str() <= range["latest"].as_str() && range["earliest"].is_string(),
        "{range}"
    );
    assert!(!dir.path().join("failures.jsonl").exists());
    // Lines are details: they carry turns.
    let first = std::fs::read_to_string(dir.path().join("conversations.jsonl")).expect("journal");
    let line: serde_json::Value =
        serde_json::from_str(first.lines().next().unwrap_or_default()).expect("line");
    assert!(line["turns"].is_array());
    let checkpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("export.checkpoint.json")).expect("checkpoint"),
    )
    .expect("checkpoint JSON");
    assert_eq!(checkpoint["complete"], true);
    assert_eq!(checkpoint["records"], 40);

    let out = resume_with(&mock, dir.path(), &["--with-audio", "-O", "json"]);
    assert!(
        stderr(&out).contains("0 new, 40 already present"),
        "{}",
        stderr(&out)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON summary on stdout");
    assert_eq!(report["status"], "complete");
    assert_eq!(report["new"], 0);
    assert_eq!(report["in_file"], 40);
    assert_exact_export(dir.path(), &mock.conversation_ids());
}

#[test]
fn killed_export_resumes_without_duplicates_or_gaps() {
    let mock = Mock::with_conversations(200);
    mock.faults().set_latency(Duration::from_millis(8));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_export(&mock, dir.path(), &["--concurrency", "2"]);
    wait_for_lines(&mut child, dir.path(), 30);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let partial = journal_ids_after_kill(dir.path()).len();
    assert!(
        (30..200).contains(&partial),
        "{partial} lines before the kill"
    );
    // A torn write: half a line at the end, as a crash mid-write could leave.
    let journal = dir.path().join("conversations.jsonl");
    let mut bytes = std::fs::read(&journal).expect("journal");
    bytes.extend_from_slice(b"{\"conversation_id\":\"CA_torn\",\"acc");
    std::fs::write(&journal, bytes).expect("write");

    mock.faults().set_latency(Duration::ZERO);
    let out = resume(&mock, dir.path());
    let summary = stderr(&out);
    assert!(summary.contains("dropped an incomplete tail"), "{summary}");
    assert!(
        summary.contains(&format!("{} new, {partial} already present", 200 - partial)),
        "{summary}"
    );
    assert_exact_export(dir.path(), &mock.conversation_ids());
}

#[test]
fn killed_audio_export_leaves_no_partial_recordings() {
    let mut config = MockConfig::default().conversations(60);
    config.audio_bytes_override = Some(48 * 1024);
    let mock = Mock::start(config);
    mock.faults().slow_body(Some(256 * 1024));
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = ["--with-audio"];
    let mut child = spawn_export(&mock, dir.path(), &["--with-audio", "--concurrency", "4"]);
    wait_for_lines(&mut child, dir.path(), 5);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let parts = std::fs::read_dir(dir.path().join("audio"))
        .expect("audio dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .count();
    eprintln!("temporary recordings left by the kill: {parts}");
    mock.faults().reset();
    resume_with(&mock, dir.path(), &audio);
    assert_exact_export(dir.path(), &mock.conversation_ids());
    mock.assert_recordings_complete(dir.path());
    assert_manifest(dir.path(), "complete");
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_the_checkpoint_exits_130_and_resumes() {
    let mock = Mock::with_conversations(150);
    mock.faults().set_latency(Duration::from_millis(8));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_export(&mock, dir.path(), &["--concurrency", "2"]);
    wait_for_lines(&mut child, dir.path(), 20);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(status.success());
    let out = child.wait_with_output().expect("exit");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("export interrupted"),
        "{}",
        stderr(&out)
    );
    let checkpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("export.checkpoint.json")).expect("checkpoint"),
    )
    .expect("checkpoint JSON");
    let written = journal_ids(dir.path()).len();
    assert_eq!(
        checkpoint["records"], written,
        "checkpoint saved on the way out"
    );
    assert_eq!(checkpoint["complete"], false);

    mock.faults().set_latency(Duration::ZERO);
    resume(&mock, dir.path());
    assert_exact_export(dir.path(), &mock.conversation_ids());
}

#[test]
fn failed_conversations_are_listed_the_run_goes_on_and_the_next_run_retries_exactly_those() {
    let mock = Mock::with_conversations(150);
    let dir = tempfile::tempdir().expect("tempdir");
    // Without retries, a seeded fifth of the detail requests fail with HTTP 500. The one list
    // request (page size above the total) is the first request, which the seed lets through.
    mock.faults().fail_fraction(0.2, &[500]);
    let out = mock
        .polyai()
        .args(export_args(dir.path()))
        .args(["--concurrency", "4", "--page-size", "500", "--retries", "0"])
        .args(["-O", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("export partial"), "{err}");
    assert!(err.contains("failures.jsonl"), "{err}");
    assert!(err.contains("retry exactly those"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(report["status"], "partial");
    let failed: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("failures.jsonl"))
        .expect("failures file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("failure line"))
        .collect();
    assert!(!failed.is_empty() && failed.len() < 150, "{}", failed.len());
    assert_eq!(report["failed"], failed.len());
    assert!(failed.iter().all(|f| f["status"] == 500
        && f["error"].as_str().is_some_and(|e| e.contains("HTTP 500"))
        && f["correlation_id"].is_string()));
    let written = journal_ids(dir.path());
    assert_eq!(
        written.len() + failed.len(),
        150,
        "every conversation is in one of the two"
    );
    let manifest = assert_manifest(dir.path(), "partial");
    assert_eq!(manifest["counts"]["failed"], failed.len());

    // The next run fetches exactly the failed ones (plus the one list page, to find new ones).
    mock.faults().reset();
    let before = mock.faults().requests();
    let out = resume_with(&mock, dir.path(), &["--page-size", "500", "-O", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON summary");
    assert_eq!(report["status"], "complete", "{}", stderr(&out));
    assert_eq!(report["retried"], failed.len());
    assert_eq!(report["recovered"], failed.len());
    assert_eq!(report["new"], failed.len());
    assert_eq!(mock.faults().requests() - before, failed.len() as u64 + 1);
    assert_exact_export(dir.path(), &mock.conversation_ids());
    assert!(!dir.path().join("failures.jsonl").exists());
    assert_manifest(dir.path(), "complete");
}

#[test]
fn an_interrupted_export_resumes_its_listing_where_it_stopped() {
    let mock = Mock::with_conversations(200);
    mock.faults().set_latency(Duration::from_millis(20));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_export(
        &mock,
        dir.path(),
        &["--concurrency", "2", "--page-size", "10"],
    );
    // Kill once a checkpoint records a listing position (they are saved about once a second).
    let checkpointed = || {
        std::fs::read_to_string(dir.path().join("export.checkpoint.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|c| c["lanes"][0]["position"]["offset"].as_u64())
            .unwrap_or(0)
    };
    wait_until(&mut child, "a checkpoint past offset 40", || {
        checkpointed() >= 40
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let partial = journal_ids_after_kill(dir.path()).len();
    mock.faults().set_latency(Duration::ZERO);
    let before = mock.faults().requests();
    let out = resume_with(&mock, dir.path(), &["--page-size", "10"]);
    let err = stderr(&out);
    let start: u64 = err
        .split("listing resumes at offset ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no resume offset in: {err}"));
    assert!(start >= 30, "resumed at {start} after {partial} records");
    assert_exact_export(dir.path(), &mock.conversation_ids());
    // One list request per page from `start`, one detail request per missing conversation:
    // nothing before `start` is listed again.
    let pages = (200 - start).div_ceil(10);
    assert_eq!(
        mock.faults().requests() - before,
        pages + (200 - partial as u64),
        "{err}"
    );
}

#[test]
fn detail_ids_in_another_case_are_not_fetched_again_on_resume() {
    let mock = Mock::with_conversations(30);
    mock.faults().upper_case_detail_ids(true);
    let dir = tempfile::tempdir().expect("tempdir");
    resume(&mock, dir.path());
    let before = mock.faults().requests();
    let out = resume(&mock, dir.path());
    assert!(
        stderr(&out).contains("0 new, 30 already present, 30 in file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        mock.faults().requests() - before,
        1,
        "one list page, no detail"
    );
    let ids = journal_ids(dir.path());
    assert_eq!(ids.len(), 30);
    let upper: std::collections::HashSet<String> = mock
        .conversation_ids()
        .iter()
        .map(|id| format!("CA{}", id[2..].to_ascii_uppercase()))
        .collect();
    assert_eq!(
        ids.into_iter().collect::<std::collections::HashSet<_>>(),
        upper,
        "records kept as the server sent them"
    );
}

#[test]
fn redacted_recordings_are_exported_and_recorded_in_the_manifest() {
    let mut config = MockConfig::default().conversations(12);
    config.audio_bytes_override = Some(16 * 1024);
    let mock = Mock::start(config);
    let dir = tempfile::tempdir().expect("tempdir");
    resume_with(&mock, dir.path(), &["--with-audio", "--redacted"]);
    let manifest = assert_manifest(dir.path(), "complete");
    assert_eq!(manifest["options"]["redacted"], true);
    let server = mock.server();
    let i = (0..12)
        .find(|&i| server.has_recording(0, i))
        .expect("a recording");
    let id = server.conversation_id(0, i);
    let served = mock.raw_get(&format!(
        "/v1/agents/{}/conversations/{id}/audio?redacted=true",
        mock.agent()
    ));
    let saved = std::fs::read(dir.path().join("audio").join(format!("{id}.wav"))).expect("wav");
    assert_eq!(saved, served);
    let out = mock
        .polyai()
        .args(export_args(dir.path()))
        .arg("--with-audio")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--redacted on"), "{}", stderr(&out));
}

#[test]
fn server_going_away_exits_5_then_resumes_against_a_new_one() {
    let config = MockConfig::default().conversations(150);
    let mock = Mock::start(config.clone());
    mock.faults().set_latency(Duration::from_millis(8));
    let expected = mock.conversation_ids();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_export(&mock, dir.path(), &["--concurrency", "2", "--retries", "1"]);
    wait_for_lines(&mut child, dir.path(), 20);
    drop(mock);
    let out = child.wait_with_output().expect("exit");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let again = Mock::start(config);
    resume(&again, dir.path());
    assert_exact_export(dir.path(), &expected);
}

#[test]
fn other_options_in_the_same_directory_are_refused() {
    let mock = Mock::with_conversations(5);
    let dir = tempfile::tempdir().expect("tempdir");
    resume(&mock, dir.path());
    let out = mock.run(&["export", "--out", dir.path().to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--with-details on"),
        "{}",
        stderr(&out)
    );
    assert_eq!(journal_ids(dir.path()).len(), 5);
}

#[test]
fn odd_ids_get_distinct_portable_files_recorded_in_each_line() {
    let long = "x".repeat(300);
    // Seed 42 gives recordings to conversations 1, 4, 5, 7, 9, 10 and 11 (checked below): the
    // ids that once shared `a_b.wav`, the long one and the escaping one sit there.
    let odd = [
        "é",
        "a/b",
        "-rf",
        "A_B",
        "a_b",
        "a?b",
        "a*b",
        long.as_str(),
        "a:b",
        "../escaped_from_cwd",
        "CON",
        "a b",
    ];
    let mock = Mock::start(
        MockConfig::default()
            .conversations(12)
            .conversation_ids(odd),
    );
    for index in [1usize, 4, 5, 7, 9, 10] {
        assert!(
            mock.server().has_recording(0, index as u64),
            "{}",
            odd[index]
        );
    }
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("out");
    let run = || {
        mock.polyai()
            .args(export_args(&dir))
            .args(["--with-audio", "--concurrency", "4"])
            .output()
            .expect("runs")
    };
    let out = run();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact_export(&dir, &mock.conversation_ids());

    let server = mock.server();
    let recordings = (0..12).filter(|&i| server.has_recording(0, i)).count();
    let journal = std::fs::read_to_string(dir.join("conversations.jsonl")).expect("journal");
    let mut files = std::collections::HashSet::new();
    for line in journal.lines() {
        let record: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let id = record["conversation_id"].as_str().expect("id").to_owned();
        let index = (0..12)
            .find(|&i| server.conversation_id(0, i) == id)
            .expect("known id");
        match record["audio_file"].as_str() {
            None => assert!(!server.has_recording(0, index), "{id}: no file recorded"),
            Some(file) => {
                assert!(server.has_recording(0, index), "{id}");
                assert!(
                    file.starts_with("audio/") && file.len() <= 6 + 118,
                    "{file}"
                );
                let wav = std::fs::read(dir.join(file)).expect("recorded file exists");
                assert_eq!(&wav[..4], b"RIFF", "{file}");
                assert!(files.insert(file.to_owned()), "{file} recorded twice");
            }
        }
    }
    assert_eq!(files.len(), recordings, "one file per recording");
    let on_disk = std::fs::read_dir(dir.join("audio"))
        .expect("audio dir")
        .count();
    assert_eq!(on_disk, recordings, "files on disk");
    let outside: Vec<_> = std::fs::read_dir(root.path())
        .expect("root")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(outside, ["out"], "nothing written outside --out");

    // Resuming works with every name (a 300-character id once failed on every resume).
    let again = run();
    assert!(
        stderr(&again).contains("0 new, 12 already present"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn keep_raw_keeps_each_detail_as_the_api_sent_it() {
    // Pages of 7 at 3 at once: the listing is concurrent; each line is a record of the contract
    // with the detail as served under `raw`.
    let mock = Mock::with_conversations(30);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = mock
        .polyai()
        .args(export_args(dir.path()))
        .args(["--page-size", "7", "--page-concurrency", "3", "--keep-raw"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact_export(dir.path(), &mock.conversation_ids());
    let file = std::fs::read(dir.path().join("conversations.jsonl")).expect("journal");
    let mut lines = 0;
    for line in file.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let record: serde_json::Value = serde_json::from_slice(line).expect("line");
        let id = record["conversation_id"].as_str().expect("id");
        let served = mock.raw_get(&format!("/v1/agents/{}/conversations/{id}", mock.agent()));
        let served: serde_json::Value = serde_json::from_slice(&served).expect("detail");
        assert_eq!(record["raw"], served, "{id}");
        assert_eq!(record["api"], "data", "{id}");
        assert_eq!(
            record["turn_count"],
            served["turns"].as_array().map_or(0, Vec::len),
            "{id}"
        );
        lines += 1;
    }
    assert_eq!(lines, 30);
}
