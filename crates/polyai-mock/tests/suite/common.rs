//! Helpers shared by the suite: a started server plus a loopback client.

use polyai_mock::{MockConfig, MockServer, SANDBOX_KEY};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A running server, a client and the first agent's id.
pub struct Env {
    pub server: MockServer,
    pub client: reqwest::Client,
    pub agent: String,
}

/// A plain client that never goes through a proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client builds")
}

/// Starts a server with `config`.
pub async fn start(config: MockConfig) -> Env {
    let server = MockServer::start(config).await.expect("server starts");
    let agent = server.agent_ids()[0].clone();
    Env {
        server,
        client: client(),
        agent,
    }
}

/// Starts a server with the default configuration.
pub async fn start_default() -> Env {
    start(MockConfig::default()).await
}

impl Env {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    /// `/v1/agents/{agent}` + `rest`.
    pub fn agent_path(&self, rest: &str) -> String {
        format!("/v1/agents/{}{rest}", self.agent)
    }

    /// Id of conversation `index` of the first agent.
    pub fn conv(&self, index: u64) -> String {
        self.server.conversation_id(0, index)
    }

    /// Index of the first conversation of agent 0 with (or without) a recording.
    pub fn find_conv(&self, with_recording: bool) -> u64 {
        (0..200)
            .find(|&i| self.server.has_recording(0, i) == with_recording)
            .expect("some conversation matches")
    }

    /// A request with the sandbox key.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-API-KEY", SANDBOX_KEY)
    }

    /// Sends `req` and returns its status and JSON body.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.expect("request succeeds");
        let status = resp.status();
        let bytes = resp.bytes().await.expect("body reads");
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, body)
    }

    /// GET `path` with the sandbox key.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.req(Method::GET, path)).await
    }

    /// Creates a debug chat on the first agent; returns the session id and its send path.
    pub async fn create_chat(&self) -> (String, String) {
        let (status, created) = self
            .post(
                &self.agent_path("/debug-chat"),
                serde_json::json!({"clientEnv": "sandbox"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["conversationId"].as_str().expect("id").to_string();
        let path = self.agent_path(&format!("/debug-chat/{id}"));
        (id, path)
    }

    /// POST `body` to `path` with the sandbox key.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.req(Method::POST, path).json(&body)).await
    }
}

/// Asserts `body` is the error envelope with `code`.
pub fn assert_error(status: StatusCode, body: &Value, want_status: u16, code: &str) {
    assert_eq!(status.as_u16(), want_status, "status; body: {body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error_code"], code, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert!(
        body["error_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert_eq!(body["error"], body["error_message"], "{body}");
}

/// Resident memory of this process in KiB (0 where `/proc` is missing).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
