//! Shared test helpers: a polyai-mock on loopback in its own runtime, and `polyai` commands
//! pointed at it.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use polyai_mock::{Faults, MockConfig, MockServer};

/// A mock server running on a private multi-thread runtime, so tests can block on child
/// processes while it serves.
pub struct Mock {
    server: MockServer,
    _runtime: tokio::runtime::Runtime,
}

impl Mock {
    /// Starts a mock with `config`.
    pub fn start(config: MockConfig) -> Mock {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let server = runtime
            .block_on(MockServer::start(config))
            .expect("mock server starts");
        Mock {
            server,
            _runtime: runtime,
        }
    }

    /// A mock with `n` conversations per agent and default everything else.
    pub fn with_conversations(n: u64) -> Mock {
        Mock::start(MockConfig::default().conversations(n))
    }

    /// The server.
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Fault control.
    pub fn faults(&self) -> &Faults {
        self.server.faults()
    }

    /// The first agent's id.
    pub fn agent(&self) -> String {
        self.server.agent_ids()[0].clone()
    }

    /// Every conversation id of the first agent.
    pub fn conversation_ids(&self) -> HashSet<String> {
        (0..self.server.config().conversations)
            .map(|i| self.server.conversation_id(0, i))
            .collect()
    }

    /// `polyai --base-url URL --agent AGENT` with the mock's key in `POLYAI_API_KEY`.
    pub fn polyai(&self) -> Command {
        Command::from_std(self.std_polyai())
    }

    /// Runs `polyai` against the mock with `args` and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.polyai().args(args).output().expect("polyai runs")
    }

    /// Runs `polyai` against the mock with another API key.
    pub fn run_with_key(&self, key: &str, args: &[&str]) -> Output {
        let mut cmd = self.polyai();
        cmd.env("POLYAI_API_KEY", key);
        cmd.args(args).output().expect("polyai runs")
    }

    /// The same as a `std::process::Command`, for tests that kill the child.
    pub fn std_polyai(&self) -> std::process::Command {
        let mut cmd = std_polyai();
        cmd.env("POLYAI_API_KEY", self.server.key().expect("key"));
        cmd.args(["--base-url", &self.server.base_url()]);
        cmd.args(["--agent", &self.agent()]);
        // The tests written for the Data API's paths, over every environment of the mock.
        cmd.env("POLYAI_API", "data").env("POLYAI_ENV", "all");
        cmd
    }

    /// The raw bytes the mock serves at `path_and_query`, read over plain HTTP/1.1.
    pub fn raw_get(&self, path_and_query: &str) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.server.addr()).expect("connect");
        write!(
            stream,
            "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nX-API-KEY: {}\r\nConnection: close\r\n\r\n",
            self.server.addr(),
            self.server.key().expect("key")
        )
        .expect("send");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read");
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("transfer-encoding: chunked"), "{head}");
        response[split + 4..].to_vec()
    }
}

/// `polyai` with no PolyAI variables from the environment.
pub fn polyai() -> Command {
    Command::from_std(std_polyai())
}

pub fn std_polyai() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_polyai"));
    for var in [
        "POLYAI_API_KEY",
        "POLYAI_REGION",
        "POLYAI_BASE_URL",
        "POLYAI_AGENT_ID",
        "POLYAI_ACCOUNT_ID",
        "POLYAI_PROFILE",
        "POLYAI_CONFIG",
        "POLYAI_API",
        "POLYAI_ENV",
    ] {
        cmd.env_remove(var);
    }
    // No profile of the machine's own config file reaches a test: the folder does not exist.
    cmd.env(
        "XDG_CONFIG_HOME",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-polyai-config"),
    );
    cmd
}

/// Stdout of a finished command as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr of a finished command as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The ids in an export's journal (`conversation_id`); panics on a malformed line.
pub fn journal_ids(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("conversations.jsonl")).expect("journal");
    assert!(text.is_empty() || text.ends_with('\n'), "partial last line");
    ids_of_lines(&text)
}

/// The ids of the journal's complete lines after a SIGKILL: the kernel may cut a write of a
/// record longer than a page when a fatal signal arrives, so a torn last line is expected here
/// (the resume drops it); every complete line must still be a record.
pub fn journal_ids_after_kill(dir: &Path) -> Vec<String> {
    // Bytes, not text: the cut may fall inside a character.
    let bytes = std::fs::read(dir.join("conversations.jsonl")).expect("journal");
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    ids_of_lines(std::str::from_utf8(&bytes[..complete]).expect("complete lines are UTF-8"))
}

fn ids_of_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            assert_valid("conversation", &value);
            value["conversation_id"]
                .as_str()
                .expect("conversation_id")
                .to_owned()
        })
        .collect()
}

/// Asserts that `record` validates against `schemas/{schema}.schema.json`, the JSON Schema the
/// `polyai schema` command publishes (validators are built once per schema and test binary).
pub fn assert_valid(schema: &str, record: &serde_json::Value) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static VALIDATORS: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> =
        OnceLock::new();
    let validator = {
        let mut cache = VALIDATORS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cache
            .entry(schema.to_owned())
            .or_insert_with(|| {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../schemas")
                    .join(format!("{schema}.schema.json"));
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let root: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
                Arc::new(jsonschema::validator_for(&root).expect("a valid schema"))
            })
            .clone()
    };
    let errors: Vec<String> = validator
        .iter_errors(record)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {schema} record: {errors:?}\n{record}"
    );
}

/// Asserts that the journal holds exactly `expected`, each once.
pub fn assert_exact_export(dir: &Path, expected: &HashSet<String>) {
    let ids = journal_ids(dir);
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "duplicate records in the journal");
    assert_eq!(
        &unique, expected,
        "journal differs from the mock's conversations"
    );
}

impl Mock {
    /// Asserts that `dir/audio` holds exactly the recordings of the first agent's
    /// conversations, each byte-identical to what the mock serves (a complete WAV), and no
    /// temporary file. Call with the faults cleared.
    pub fn assert_recordings_complete(&self, dir: &Path) {
        let server = self.server();
        let mut expected: Vec<String> = (0..server.config().conversations)
            .filter(|&i| server.has_recording(0, i))
            .map(|i| format!("{}.wav", server.conversation_id(0, i)))
            .collect();
        expected.sort();
        let mut files: Vec<String> = std::fs::read_dir(dir.join("audio"))
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
            let served = self.raw_get(&format!(
                "/v1/agents/{}/conversations/{id}/audio",
                self.agent()
            ));
            let saved = std::fs::read(dir.join("audio").join(name)).expect("wav");
            assert!(
                saved.starts_with(b"RIFF") && saved[8..12] == *b"WAVE",
                "{name}"
            );
            assert_eq!(saved, served, "{name} differs from the served bytes");
        }
    }
}

/// The export's manifest, checked against the folder: every file listed exists with the
/// listed size and SHA-256, the journal and every recording are listed, and the conversation
/// count matches the journal. Returns the manifest.
pub fn assert_manifest(dir: &Path, status: &str) -> serde_json::Value {
    use sha2::Digest;
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json"),
    )
    .expect("manifest JSON");
    assert_eq!(manifest["status"], status, "{manifest:#}");
    assert_eq!(
        manifest["counts"]["conversations"],
        journal_ids(dir).len(),
        "{manifest:#}"
    );
    let files = manifest["files"].as_array().expect("files");
    let mut listed = HashSet::new();
    for file in files {
        let path = file["path"].as_str().expect("path");
        let bytes = std::fs::read(dir.join(path)).expect("listed file exists");
        assert_eq!(file["bytes"], bytes.len(), "{path}");
        let sha: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(file["sha256"], sha.as_str(), "{path}");
        assert!(listed.insert(path.to_owned()), "{path} listed twice");
    }
    assert!(listed.contains("conversations.jsonl"));
    if let Ok(audio) = std::fs::read_dir(dir.join("audio")) {
        for entry in audio.flatten() {
            let path = format!("audio/{}", entry.file_name().to_string_lossy());
            assert!(listed.contains(&path), "{path} missing from the manifest");
        }
        assert_eq!(
            manifest["counts"]["recordings"],
            listed.len() - 1 - usize::from(listed.contains("failures.jsonl")),
        );
    }
    manifest
}

impl Mock {
    /// Starts `polyai export --out DIR ARGS…` in the background (stderr piped), for tests that
    /// stop, freeze or kill it.
    pub fn spawn_export(&self, dir: &Path, args: &[&str]) -> Child {
        self.std_polyai()
            .args(["export", "--out"])
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn polyai")
    }
}

/// Lines in an export's journal so far (0 before it exists).
pub fn journal_lines(dir: &Path) -> usize {
    std::fs::read(dir.join("conversations.jsonl"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Polls until `ready` holds; panics if `child` ends first or it takes over 180 s (only a
/// guard against a hung export; generous because CI machines are shared).
pub fn wait_until(child: &mut Child, what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !ready() {
        if let Some(status) = child.try_wait().expect("child status") {
            panic!("export ended ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "export too slow to reach {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Reads `child`'s stderr line by line until `ready` holds for the lines so far, sends it
/// SIGINT (Ctrl-C), and returns its exit status, its stdout and its stderr lines. `child` must
/// have been spawned with both piped. Fails the test when `child` ends first or nothing is
/// ready within two minutes.
#[cfg(unix)]
pub fn interrupt_when(
    mut child: Child,
    ready: impl Fn(&[String]) -> bool,
) -> (std::process::ExitStatus, String, String) {
    use std::io::BufRead;
    use std::sync::{Arc, Mutex};
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let err = child.stderr.take().expect("stderr");
    let seen = Arc::clone(&lines);
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            seen.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready(&lines.lock().unwrap_or_else(|e| e.into_inner())) {
        assert!(Instant::now() < deadline, "never ready to interrupt");
        assert!(child.try_wait().expect("status").is_none(), "ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: signals our own child, which is still running.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    let status = child.wait().expect("wait");
    reader.join().expect("reader");
    let err = lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
    (status, out, err)
}

/// Runs `cmd` with its stdout and stderr closed by the reader at once (`polyai … | head -0`,
/// a closed terminal) and returns how it ended.
pub fn with_closed_pipes(cmd: &mut std::process::Command) -> std::process::ExitStatus {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().expect("wait")
}

/// `polyai --sandbox ARGS…`, waited for.
pub fn sandbox(args: &[&str]) -> Output {
    polyai()
        .arg("--sandbox")
        .args(args)
        .output()
        .expect("polyai runs")
}
