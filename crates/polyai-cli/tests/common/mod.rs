//! Shared test helpers: a polyai-mock on loopback in its own runtime, and `polyai` commands
//! pointed at it.

#![allow(dead_code)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Output;

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

fn std_polyai() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_polyai"));
    for var in [
        "POLYAI_API_KEY",
        "POLYAI_REGION",
        "POLYAI_BASE_URL",
        "POLYAI_AGENT_ID",
        "POLYAI_ACCOUNT_ID",
    ] {
        cmd.env_remove(var);
    }
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

/// The ids in an export's journal (`conversationId`, or `id` for v3 records); panics on a
/// malformed line.
pub fn journal_ids(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("conversations.jsonl")).expect("journal");
    assert!(text.is_empty() || text.ends_with('\n'), "partial last line");
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            value["conversationId"]
                .as_str()
                .or(value["id"].as_str())
                .expect("conversationId or id")
                .to_owned()
        })
        .collect()
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
