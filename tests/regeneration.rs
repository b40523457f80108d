//! Requests come from the spec, proven end to end on a copy of the workspace: change the document,
//! regenerate, build `polyai-data` against the new generated client, and look at what it does.
//!
//! - The annotation path is renamed (`…/annotation` → `…/annotations`): after regenerating, the
//!   request `polyai-data` sends to a loopback server goes to the new path. No line of
//!   `polyai-data` changes.
//! - A query parameter is added to that operation: `polyai-data` no longer builds, and the compiler
//!   names the call in `AddAnnotations` (`crates/polyai-data/src/annotations.rs`), the builder that
//!   must expose the parameter — it cannot be dropped silently.
//!
//! The copy lives in the target directory's `tmp/spec-probe/` and builds into the workspace's own
//! target directory (cargo holds its lock only while compiling, not while tests run), so the
//! dependencies are the ones already built; only the copied path crates compile.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

#[path = "common/workspace.rs"]
mod workspace;

use workspace::{cargo, copy_workspace, root};

const ANNOTATION: &str = "/v1/agents/{agentId}/conversations/{conversationId}/annotation";

fn probe_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("spec-probe")
}

/// Regenerates the Data API client of the copy at `work` from `spec` and `overlay`.
fn regenerate(work: &Path, spec: Value, overlay: &Value) {
    let output = xtask::run(spec, overlay, "spec", "overlay").expect("the changed spec generates");
    let layout = xtask::Layout::new(work);
    std::fs::write(&layout.generated, output.code).expect("write generated.rs");
    std::fs::write(&layout.normalized, output.normalized).expect("write the normalized spec");
}

/// A small program in the copy's workspace: sends one annotation with polyai-data to the loopback
/// address given as its argument.
fn add_probe(work: &Path) {
    let dir = work.join("crates/spec-probe");
    std::fs::create_dir_all(dir.join("src")).expect("probe folder");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"spec-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\npolyai-data = { path = \"../polyai-data\" }\n\
         tokio = { version = \"1\", features = [\"rt\", \"time\"] }\n",
    )
    .expect("probe manifest");
    std::fs::write(
        dir.join("src/main.rs"),
        r#"use polyai_data::Client;
use polyai_data::annotations::{Annotation, AnnotationType, Role};

fn main() {
    let base = std::env::args().nth(1).expect("base URL");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = Client::builder().api_key("probe-key").base_url(base).build().expect("client");
        client
            .agent("PROJECT-1")
            .annotate("CA1", [Annotation::new(0, Role::User, AnnotationType::WrongInfo)])
            .no_retry()
            .await
            .expect("annotated");
    });
}
"#,
    )
    .expect("probe source");
}

/// Runs the probe against a one-shot loopback server; returns the request line it received.
fn probe_request_line(work: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("the probe connects");
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).expect("request line");
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).expect("header");
            if header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let reply = "{\"success\":true}";
        write!(
            reader.get_mut(),
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .expect("reply");
        request_line.trim_end().to_owned()
    });
    let run = cargo(work, &["run", "-p", "spec-probe", "--", &base]);
    assert!(
        run.status.success(),
        "the probe failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    server.join().expect("server thread")
}

#[test]
fn a_changed_spec_changes_what_polyai_data_sends() {
    let work = probe_dir().join("workspace");
    copy_workspace(&work, "spec-probe");
    add_probe(&work);
    let layout = xtask::Layout::new(root());
    let spec = xtask::read_json(&layout.spec).expect("spec");
    let overlay = xtask::read_json(&layout.overlay).expect("overlay");

    // As checked in: the probe's request goes where the spec says today.
    assert_eq!(
        probe_request_line(&work),
        "POST /v1/agents/PROJECT-1/conversations/CA1/annotation HTTP/1.1"
    );

    // PolyAI renames the path; the corrections that target the operation follow it.
    let mut renamed = spec.clone();
    let paths = renamed["paths"].as_object_mut().expect("paths");
    let item = paths.shift_remove(ANNOTATION).expect("the annotation path");
    paths.insert(format!("{ANNOTATION}s"), item);
    let mut followed = overlay.clone();
    for action in followed["actions"].as_array_mut().expect("actions") {
        if let Some(target) = action["target"].as_str() {
            let target = target.replace(&format!("'{ANNOTATION}'"), &format!("'{ANNOTATION}s'"));
            action["target"] = json!(target);
        }
    }
    regenerate(&work, renamed.clone(), &followed);
    assert_eq!(
        probe_request_line(&work),
        "POST /v1/agents/PROJECT-1/conversations/CA1/annotations HTTP/1.1",
        "the request follows the renamed path with no change to polyai-data"
    );

    // PolyAI adds a parameter: polyai-data stops building at the builder that must expose it.
    renamed["paths"][format!("{ANNOTATION}s")]["post"]["parameters"] = json!([
        {"name": "dryRun", "in": "query", "required": false, "schema": {"type": "boolean"}}
    ]);
    regenerate(&work, renamed, &followed);
    let build = cargo(
        &work,
        &["build", "-p", "polyai-data", "--message-format", "short"],
    );
    let errors = String::from_utf8_lossy(&build.stderr);
    assert!(
        !build.status.success(),
        "a new parameter must not build silently"
    );
    // The first error is at the call of the generated method: its arguments no longer match
    // (a type mismatch where the new parameter shifted them, or their count).
    let at_builder = errors
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or_else(|| panic!("no error reported:\n{errors}"));
    assert!(
        at_builder.starts_with("crates/polyai-data/src/annotations.rs:"),
        "the first error names the annotations builder's file: {at_builder}\n{errors}"
    );
    // The line the compiler names is the generated method's call inside `impl AddAnnotations`.
    let line: usize = at_builder
        .split(':')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line number in {at_builder}"));
    let source = std::fs::read_to_string(work.join("crates/polyai-data/src/annotations.rs"))
        .expect("source");
    let before: Vec<&str> = source.lines().take(line).collect();
    let builder = before
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("impl "))
        .expect("an impl block above the call");
    assert!(builder.starts_with("AddAnnotations"), "{builder}");
    assert!(
        before
            .iter()
            .rev()
            .take(6)
            .any(|l| l.contains(".add_annotations(")),
        "the named line is an argument of the generated add_annotations call"
    );
}
