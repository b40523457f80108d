//! The `polyai-mock` binary: flags, readiness file, serving, and stopping on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::client;

#[tokio::test]
async fn the_binary_serves_with_its_flags() {
    let dir = std::env::temp_dir().join(format!("polyai-mock-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ready = dir.join("url");
    let _ = std::fs::remove_file(&ready);
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyai-mock"))
        .args([
            "--port",
            "0",
            "--agent-id",
            "PROJECT-CLI",
            "--conversations",
            "7",
        ])
        .args([
            "--key",
            "mine@eu:PROJECT-CLI",
            "--region",
            "eu",
            "--no-sandbox-key",
        ])
        .args(["--fail-next", "1", "--fail-next-status", "502"])
        .args(["--max-page-size", "3"])
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::null())
        .spawn()
        .expect("binary starts");
    let started = Instant::now();
    while !ready.exists() || std::fs::read_to_string(&ready).map_or(true, |s| s.is_empty()) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "binary never became ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let url = std::fs::read_to_string(&ready).expect("url");
    let list = format!("{url}/v1/agents/PROJECT-CLI/conversations");
    let get = |key: &'static str| client().get(&list).header("x-api-key", key).send();
    assert_eq!(get("mine").await.expect("sent").status().as_u16(), 502);
    let ok = get("mine").await.expect("sent");
    assert_eq!(ok.status().as_u16(), 200);
    let body: serde_json::Value = ok.json().await.expect("json");
    assert_eq!(body["count"], 7);
    assert_eq!(body["limit"], 3, "capped at --max-page-size");
    assert_eq!(body["conversations"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        get("sandbox-key").await.expect("sent").status().as_u16(),
        401
    );

    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().expect("binary exits");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_exit_with_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_polyai-mock"))
        .args(["--sample-rate", "44100"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sample-rate"));
}

#[test]
fn bad_disagreements_exit_with_usage_errors() {
    for (args, says) in [
        (&["--disagree-drop-v3", "1.5"][..], "--disagree-drop-v3"),
        (&["--disagree-field", "colour"][..], "unknown field"),
        (&["--disagree-field", "handoff:2"][..], "between 0 and 1"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_polyai-mock"))
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
