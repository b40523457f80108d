//! Archives an auditor can verify: `export` writes SHA256SUMS (and a minisign signature with
//! `--sign`), `verify` checks the folder and names the file of every problem, `--redacted`
//! masks the records and gets recordings that differ, `--ids` exports exactly a selection.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Mock, journal_ids, polyai, stderr, stdout};
use polyai_mock::MockConfig;
use serde_json::Value;

/// A mock of 12 conversations with short recordings.
fn small_mock() -> Mock {
    let mut config = MockConfig::default().conversations(12);
    config.audio_bytes_override = Some(8 * 1024);
    Mock::start(config)
}

fn export(mock: &Mock, dir: &Path, extra: &[&str]) -> Output {
    mock.polyai()
        .args([
            "export",
            "--out",
            dir.to_str().expect("utf-8"),
            "--with-details",
        ])
        .args(extra)
        .output()
        .expect("runs")
}

fn verify(dir: &Path, extra: &[&str]) -> Output {
    polyai()
        .args(["verify", dir.to_str().expect("utf-8")])
        .args(extra)
        .output()
        .expect("runs")
}

/// A finished export with audio in a new folder.
fn exported(mock: &Mock, extra: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = export(mock, dir.path(), &[&["--with-audio"], extra].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn first_recording(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("audio"))
        .expect("audio")
        .flatten()
        .map(|e| format!("audio/{}", e.file_name().to_string_lossy()))
        .collect();
    names.sort();
    names.into_iter().next().expect("a recording")
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let secret = dir.join(name);
    let out = polyai()
        .args(["keygen", "--out", secret.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let public = dir.join(format!("{name}.pub"));
    (secret, public)
}

/// Asserts `verify` failed with exit 13 and its report names `file` with `words`.
fn assert_fails_naming(out: &Output, file: &str, words: &str) {
    let report = stdout(out);
    assert_eq!(out.status.code(), Some(13), "{report}\n{}", stderr(out));
    assert!(
        report
            .lines()
            .any(|l| l.starts_with(&format!("FAIL  {file}: ")) && l.contains(words)),
        "no FAIL line for {file} with {words:?}:\n{report}"
    );
}

#[test]
fn a_fresh_export_verifies_and_sha256sum_accepts_it() {
    let mock = small_mock();
    let dir = exported(&mock, &[]);
    let out = verify(dir.path(), &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("verified"), "{}", stdout(&out));
    let sums = std::fs::read_to_string(dir.path().join("SHA256SUMS")).expect("SHA256SUMS");
    assert!(sums.contains("  manifest.json\n") && sums.contains("  conversations.jsonl\n"));
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(dir.path())
        .output()
        .expect("sha256sum runs (coreutils)");
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let json = verify(dir.path(), &["-O", "json"]);
    let report: Value = serde_json::from_slice(&json.stdout).expect("JSON report");
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["records"], 12);
    assert_eq!(report["sha256sums"], "checked");
    assert_eq!(report["signature"]["status"], "absent");
}

/// A change made to a copy of an export.
type Tamper = Box<dyn Fn(&Path)>;

#[test]
fn a_tampered_byte_a_missing_file_an_extra_file_and_a_broken_record_each_fail_verify() {
    let mock = small_mock();
    let dir = exported(&mock, &[]);
    let recording = first_recording(dir.path());
    let cases: Vec<(&str, Tamper, String, &str)> = vec![
        (
            "tampered byte",
            Box::new(|d: &Path| {
                let path = d.join(first_recording(d));
                let mut bytes = std::fs::read(&path).expect("read");
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(&path, bytes).expect("write");
            }),
            recording.clone(),
            "SHA-256",
        ),
        (
            "missing file",
            Box::new(|d: &Path| std::fs::remove_file(d.join(first_recording(d))).expect("rm")),
            recording.clone(),
            "absent",
        ),
        (
            "extra file",
            Box::new(|d: &Path| std::fs::write(d.join("audio/extra.wav"), b"RIFF").expect("w")),
            "audio/extra.wav".into(),
            "not listed",
        ),
        (
            "broken record",
            Box::new(|d: &Path| {
                let path = d.join("conversations.jsonl");
                let text = std::fs::read_to_string(&path).expect("read");
                std::fs::write(&path, text.replacen('{', "[", 1)).expect("write");
            }),
            "conversations.jsonl".into(),
            "line 1: not a JSON object",
        ),
        (
            "changed SHA256SUMS",
            Box::new(|d: &Path| {
                let path = d.join("SHA256SUMS");
                let text = std::fs::read_to_string(&path).expect("read");
                let mut lines: Vec<&str> = text.lines().collect();
                lines.pop();
                std::fs::write(&path, lines.join("\n") + "\n").expect("write");
            }),
            "SHA256SUMS".into(),
            "files of the manifest",
        ),
    ];
    for (what, tamper, file, words) in cases {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(dir.path(), copy.path());
        assert!(
            verify(copy.path(), &[]).status.success(),
            "{what}: intact copy"
        );
        tamper(copy.path());
        assert_fails_naming(&verify(copy.path(), &[]), &file, words);
    }
}

#[test]
fn signatures_verify_with_the_right_key_only() {
    let mock = small_mock();
    let keys = tempfile::tempdir().expect("tempdir");
    let (secret, public) = keygen(keys.path(), "archive.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret)
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = polyai()
        .args(["keygen", "--out", secret.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(again.status.code(), Some(8), "never overwrites a key");
    let dir = exported(&mock, &["--sign", secret.to_str().expect("utf-8")]);
    let pubkey = public.to_str().expect("utf-8");
    let out = verify(dir.path(), &["--pubkey", pubkey]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("OK    manifest.json.minisig"),
        "{}",
        stdout(&out)
    );

    let unchecked = verify(dir.path(), &[]);
    assert!(unchecked.status.success());
    assert!(stdout(&unchecked).contains("was not checked: pass --pubkey"));

    let (_, other) = keygen(keys.path(), "other.key");
    let wrong = verify(dir.path(), &["--pubkey", other.to_str().expect("utf-8")]);
    assert_fails_naming(&wrong, "manifest.json.minisig", "signed by another key");

    let copy = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), copy.path());
    let manifest = copy.path().join("manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(&manifest, text.replacen("\"complete\"", "\"completE\"", 1)).expect("write");
    let out = verify(copy.path(), &["--pubkey", pubkey]);
    assert_fails_naming(&out, "manifest.json.minisig", "changed after it was signed");
    assert_fails_naming(&out, "SHA256SUMS", "manifest.json");

    let copy = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), copy.path());
    let signature = copy.path().join("manifest.json.minisig");
    let text = std::fs::read_to_string(&signature).expect("signature");
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("trusted comment: ") {
            Some(comment) => format!("trusted comment: {comment} (edited)"),
            None => l.to_owned(),
        })
        .collect();
    std::fs::write(&signature, lines.join("\n") + "\n").expect("write");
    let out = verify(copy.path(), &["--pubkey", pubkey]);
    assert_fails_naming(&out, "manifest.json.minisig", "trusted comment");

    std::fs::remove_file(&signature).expect("rm");
    let out = verify(copy.path(), &["--pubkey", pubkey]);
    assert_fails_naming(&out, "manifest.json.minisig", "absent");

    let bad_key = verify(copy.path(), &["--pubkey", "/nonexistent/key.pub"]);
    assert_eq!(bad_key.status.code(), Some(2), "{}", stderr(&bad_key));
}

#[cfg(unix)]
#[test]
fn a_signing_key_others_can_read_is_refused_before_anything_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let mock = small_mock();
    let keys = tempfile::tempdir().expect("tempdir");
    let (secret, _) = keygen(keys.path(), "k");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let dir = keys.path().join("out");
    let out = export(&mock, &dir, &["--sign", secret.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    assert!(!dir.exists(), "nothing written");
    let key_text = std::fs::read_to_string(&secret).expect("key");
    let secret_line = key_text.lines().nth(1).unwrap_or_default();
    assert!(!stderr(&out).contains(secret_line), "the key never printed");
}

#[cfg(unix)]
#[test]
fn hostile_manifest_paths_are_refused_by_name_and_never_opened() {
    let outer = tempfile::tempdir().expect("tempdir");
    let dir = outer.path().join("archive");
    std::fs::create_dir_all(dir.join("audio")).expect("mkdir");
    std::fs::write(outer.path().join("outside.txt"), b"secret").expect("write");
    std::os::unix::fs::symlink(outer.path().join("outside.txt"), dir.join("audio/link.wav"))
        .expect("symlink");
    std::os::unix::fs::symlink(outer.path(), dir.join("up")).expect("symlink");
    std::fs::write(
        dir.join("conversations.jsonl"),
        b"{\"conversationId\":\"CA1\"}\n",
    )
    .expect("w");
    let sha = |b: &[u8]| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(b)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let manifest = serde_json::json!({
        "manifest_version": 1,
        "status": "complete",
        "counts": {"conversations": 1, "failed": 0, "recordings": 1},
        "files": [
            {"path": "conversations.jsonl", "bytes": 25, "sha256": sha(b"{\"conversationId\":\"CA1\"}\n")},
            {"path": "../outside.txt", "bytes": 6, "sha256": sha(b"secret")},
            {"path": "/etc/passwd", "bytes": 1, "sha256": sha(b"x")},
            {"path": "audio/../../outside.txt", "bytes": 6, "sha256": sha(b"secret")},
            {"path": "audio/link.wav", "bytes": 6, "sha256": sha(b"secret")},
            {"path": "up/outside.txt", "bytes": 6, "sha256": sha(b"secret")},
        ],
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("write");
    let out = verify(&dir, &[]);
    for (file, words) in [
        ("../outside.txt", "unsafe path (a `..` part"),
        ("/etc/passwd", "unsafe path (absolute)"),
        ("audio/../../outside.txt", "unsafe path"),
        ("audio/link.wav", "symbolic link"),
        ("up/outside.txt", "symbolic link"),
        ("up", "symbolic link the manifest does not list"),
    ] {
        assert_fails_naming(&out, file, words);
    }
    assert!(
        !stdout(&out).contains("FAIL  conversations.jsonl"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn redacted_exports_mask_the_records_and_get_other_recordings() {
    // Recordings long enough (16 s) to reach the first caller turn after the greeting.
    let mut config = MockConfig::default().conversations(12);
    config.audio_bytes_override = Some(256 * 1024);
    let mock = Mock::start(config);
    let plain = exported(&mock, &[]);
    let redacted = exported(&mock, &["--redacted"]);
    let lines = |dir: &Path| -> Vec<Value> {
        std::fs::read_to_string(dir.join("conversations.jsonl"))
            .expect("journal")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    let (plain_lines, redacted_lines) = (lines(plain.path()), lines(redacted.path()));
    assert_eq!(plain_lines.len(), redacted_lines.len());
    let mut masked = 0;
    for line in &redacted_lines {
        let id = &line["conversation_id"];
        let before = plain_lines
            .iter()
            .find(|l| &l["conversation_id"] == id)
            .expect("same conversation");
        for field in ["from_number", "to_number"] {
            let (was, now) = (before[field].as_str(), line[field].as_str());
            if let (Some(was), Some(now)) = (was, now)
                && was.starts_with('+')
            {
                assert_eq!(now.len(), was.len(), "{was} → {now}");
                assert!(now.contains("********") && now.ends_with(&was[was.len() - 2..]));
                assert_eq!(&now[..3], &was[..3], "country code kept");
                masked += 1;
            }
        }
        assert_eq!(
            line["turns"], before["turns"],
            "transcripts as PolyAI returns them"
        );
    }
    assert!(masked >= 12, "every voice call's numbers masked ({masked})");
    let text = std::fs::read_to_string(redacted.path().join("conversations.jsonl")).expect("j");
    for line in &plain_lines {
        if let Some(number) = line["from_number"].as_str().filter(|n| n.starts_with('+')) {
            assert!(
                !text.contains(number),
                "{number} left in the redacted export"
            );
        }
    }
    let differing = std::fs::read_dir(plain.path().join("audio"))
        .expect("audio")
        .flatten()
        .filter(|e| {
            let other = redacted.path().join("audio").join(e.file_name());
            std::fs::read(e.path()).ok() != std::fs::read(other).ok()
        })
        .count();
    assert!(
        differing > 0,
        "redacted recordings differ from the plain ones"
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(redacted.path().join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    let section = &manifest["redaction"];
    assert_eq!(section["requested"], true, "{section:#}");
    let fields: Vec<&str> = section["masked_locally"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert!(fields.contains(&"from_number") && fields.contains(&"to_number"));
    assert!(
        section["server"]["recordings"]
            .as_str()
            .is_some_and(|s| s.contains("redacted=true"))
    );
    assert!(section["not_redacted"].to_string().contains("transcripts"));
    assert!(verify(redacted.path(), &[]).status.success());
    let plain_manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(plain.path().join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(plain_manifest["redaction"]["requested"], false);
    let mixed = export(&mock, redacted.path(), &["--with-audio"]);
    assert_eq!(
        mixed.status.code(),
        Some(2),
        "no unmasked run into a redacted export"
    );
}

#[test]
fn ids_export_exactly_the_selection_and_report_the_missing_ones() {
    let mock = small_mock();
    let server = mock.server();
    let wanted: Vec<String> = [3, 7, 1]
        .iter()
        .map(|&i| server.conversation_id(0, i))
        .collect();
    let missing = format!("CA{}", "0".repeat(32));
    let list = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(
        list.path(),
        format!(
            "# legal hold 42\n{}\n{}\n\n{missing}\n",
            wanted[0], wanted[1]
        ),
    )
    .expect("write");
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = list.path().to_str().expect("utf-8");
    let out = export(
        &mock,
        dir.path(),
        &["--ids", ids, "--id", &wanted[2], "--id", &wanted[0]],
    );
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "not found (HTTP 404), 1 of the ids asked for: {missing}"
        )),
        "{}",
        stderr(&out)
    );
    let mut got = journal_ids(dir.path());
    got.sort();
    let mut want = wanted.clone();
    want.sort();
    assert_eq!(got, want, "exactly the selection");
    let selection =
        std::fs::read_to_string(dir.path().join("selection.txt")).expect("selection.txt");
    assert_eq!(
        selection,
        format!("{}\n{}\n{missing}\n{}\n", wanted[0], wanted[1], wanted[2])
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(manifest["status"], "partial");
    assert_eq!(manifest["selection"]["requested"], 4);
    assert_eq!(manifest["selection"]["exported"], 3);
    assert_eq!(
        manifest["selection"]["not_found"],
        serde_json::json!([missing])
    );
    assert!(
        manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .any(|f| f["path"] == "selection.txt")
    );
    let checked = verify(dir.path(), &[]);
    assert!(checked.status.success(), "{}", stdout(&checked));
    assert!(stdout(&checked).contains("partial"), "{}", stdout(&checked));
    let again = export(
        &mock,
        dir.path(),
        &["--ids", ids, "--id", &wanted[2], "--id", &wanted[0]],
    );
    assert_eq!(
        again.status.code(),
        Some(9),
        "resumes: only the missing one again"
    );
    assert_eq!(journal_ids(dir.path()).len(), 3);
    let other = export(&mock, dir.path(), &["--id", &wanted[0]]);
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("another selection"),
        "{}",
        stderr(&other)
    );
}

/// Runs `minisign ARGS…` and asserts it succeeded; returns its stdout.
fn minisign(args: &[&std::ffi::OsStr]) -> String {
    let out = std::process::Command::new("minisign")
        .args(args)
        .output()
        .expect("minisign runs");
    assert!(
        out.status.success(),
        "minisign {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// minisign itself verifies what `export --sign` signed, and `verify` what minisign signed.
/// Runs where `minisign` is installed (CI installs it); says so and passes elsewhere.
#[test]
fn minisign_interoperates_both_ways() {
    if std::process::Command::new("minisign")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("minisign is not installed: interoperability not checked here");
        return;
    }
    let os = |s: &str| std::ffi::OsString::from(s);
    let mock = small_mock();
    let keys = tempfile::tempdir().expect("tempdir");
    let (secret, public) = keygen(keys.path(), "ours.key");
    let dir = exported(&mock, &["--sign", secret.to_str().expect("utf-8")]);
    let manifest = dir.path().join("manifest.json");
    let checked = minisign(&[
        &os("-V"),
        &os("-m"),
        manifest.as_os_str(),
        &os("-p"),
        public.as_os_str(),
    ]);
    assert!(checked.contains("agent:"), "{checked}");

    let (their_secret, their_public) = (keys.path().join("m.key"), keys.path().join("m.pub"));
    minisign(&[
        &os("-G"),
        &os("-W"),
        &os("-s"),
        their_secret.as_os_str(),
        &os("-p"),
        their_public.as_os_str(),
    ]);
    minisign(&[
        &os("-S"),
        &os("-s"),
        their_secret.as_os_str(),
        &os("-m"),
        manifest.as_os_str(),
        &os("-t"),
        &os("signed by minisign"),
    ]);
    let out = verify(
        dir.path(),
        &["--pubkey", their_public.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("signed by minisign"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&their_secret, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let next = tempfile::tempdir().expect("tempdir");
    let out = export(
        &mock,
        next.path(),
        &["--sign", their_secret.to_str().expect("utf-8")],
    );
    assert!(
        out.status.success(),
        "a minisign -G -W key signs too: {}",
        stderr(&out)
    );
    minisign(&[
        &os("-V"),
        &os("-m"),
        next.path().join("manifest.json").as_os_str(),
        &os("-p"),
        their_public.as_os_str(),
    ]);
}
