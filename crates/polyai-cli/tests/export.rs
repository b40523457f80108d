//! `export`: complete runs, and runs interrupted (SIGKILL, SIGINT, faults, the server going
//! away) then resumed, checked to hold exactly the mock's conversations, each once.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Mock, assert_exact_export, journal_ids, stderr};
use polyai_mock::MockConfig;

fn export_args(dir: &Path) -> Vec<String> {
    vec![
        "export".into(),
        "--out".into(),
        dir.to_str().expect("utf-8 path").into(),
        "--with-details".into(),
    ]
}

/// Lines in the journal so far (0 before it exists).
fn lines_so_far(dir: &Path) -> usize {
    std::fs::read(dir.join("conversations.jsonl"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Waits until the running export has written at least `n` lines.
fn wait_for_lines(child: &mut Child, dir: &Path, n: usize) {
    // Only a guard against a hung export; generous because CI machines are shared.
    let deadline = Instant::now() + Duration::from_secs(180);
    while lines_so_far(dir) < n {
        assert!(
            child.try_wait().expect("child status").is_none(),
            "export ended before writing {n} lines"
        );
        assert!(Instant::now() < deadline, "export too slow");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn_export(mock: &Mock, dir: &Path, extra: &[&str]) -> Child {
    mock.std_polyai()
        .args(export_args(dir))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn polyai")
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
    let server = mock.server();
    let with_audio: Vec<u64> = (0..40).filter(|&i| server.has_recording(0, i)).collect();
    let files = std::fs::read_dir(dir.path().join("audio"))
        .expect("audio dir")
        .count();
    assert_eq!(files, with_audio.len());
    let id = server.conversation_id(0, with_audio[0]);
    let served = mock.raw_get(&format!(
        "/v1/agents/{}/conversations/{id}/audio",
        mock.agent()
    ));
    let saved = std::fs::read(dir.path().join("audio").join(format!("{id}.wav"))).expect("wav");
    assert_eq!(saved, served);
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
    assert_eq!(report["inFile"], 40);
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
    let partial = journal_ids(dir.path()).len();
    assert!(
        (30..200).contains(&partial),
        "{partial} lines before the kill"
    );
    // A torn write: half a line at the end, as a crash mid-write could leave.
    let journal = dir.path().join("conversations.jsonl");
    let mut bytes = std::fs::read(&journal).expect("journal");
    bytes.extend_from_slice(b"{\"conversationId\":\"CA_torn\",\"acc");
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
    let server = mock.server();
    let mut expected: Vec<String> = (0..60)
        .filter(|&i| server.has_recording(0, i))
        .map(|i| format!("{}.wav", server.conversation_id(0, i)))
        .collect();
    expected.sort();
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("audio"))
        .expect("audio dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files, expected,
        "recordings differ (or temporary files were left)"
    );
    for name in &expected {
        let id = name.trim_end_matches(".wav");
        let served = mock.raw_get(&format!(
            "/v1/agents/{}/conversations/{id}/audio",
            mock.agent()
        ));
        let saved = std::fs::read(dir.path().join("audio").join(name)).expect("wav");
        assert_eq!(saved, served, "{name} differs from the served bytes");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_the_checkpoint_exits_7_and_resumes() {
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
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
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
fn injected_faults_stop_the_export_and_retries_carry_it_through() {
    let mock = Mock::with_conversations(150);
    let dir = tempfile::tempdir().expect("tempdir");
    // 500 is not retried: the export stops, keeping what it wrote.
    mock.faults().fail_fraction(0.05, &[500]);
    let out = mock
        .polyai()
        .args(export_args(dir.path()))
        .args(["--concurrency", "4", "--page-size", "20"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("export stopped by an error"), "{err}");
    assert!(err.contains("HTTP 500"), "{err}");
    let partial = journal_ids(dir.path()).len();
    assert!(partial < 150, "{partial}");
    // 503s are retried by the client: the resumed export completes through them.
    mock.faults().fail_fraction(0.1, &[503]);
    let out = mock
        .polyai()
        .args(export_args(dir.path()))
        .args(["--concurrency", "4", "--page-size", "20", "--retries", "6"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_exact_export(dir.path(), &mock.conversation_ids());
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
