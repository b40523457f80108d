//! Hooks (`ClientBuilder::hook`): headers they add reach the server, they see every attempt
//! (retries, transport failures, audio, the v3 listing) and never the key, and a header they may
//! not set fails the call with a clear error before anything is sent.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use polyai_data::chat::ChatOptions;
use polyai_data::hook::{AttemptOutcome, Hook, RequestParts, ResponseInfo};
use polyai_data::{Client, ClientEnv, Error, TransportKind};
use polyai_mock::{MockConfig, MockServer, SANDBOX_KEY};
use serde_json::json;
use support::{Recorded, Reply, TestServer, list_a};

const KEY: &str = "secret-key-never-shown";

/// What a hook saw of one request.
#[derive(Debug, Clone, PartialEq)]
struct SeenRequest {
    operation: &'static str,
    method: String,
    path: String,
    attempt: u32,
    correlation_id: String,
    /// Every way a hook could look for the key.
    key_headers: Vec<Option<String>>,
    debug: String,
}

/// What a hook saw of one attempt's end.
#[derive(Debug, Clone, PartialEq)]
struct SeenResponse {
    operation: &'static str,
    method: String,
    path: String,
    attempt: u32,
    correlation_id: String,
    outcome: AttemptOutcome,
    status: Option<u16>,
    duration: Duration,
    content_type: Option<String>,
    debug: String,
}

/// Records everything, optionally adding one header to each request.
#[derive(Default)]
struct Recorder {
    add: Option<(String, String)>,
    /// What `insert_header` returned, as text.
    insert_results: Mutex<Vec<Result<(), String>>>,
    requests: Mutex<Vec<SeenRequest>>,
    responses: Mutex<Vec<SeenResponse>>,
}

impl Recorder {
    fn adding(name: &str, value: &str) -> Arc<Recorder> {
        Arc::new(Recorder {
            add: Some((name.into(), value.into())),
            ..Recorder::default()
        })
    }

    fn requests(&self) -> Vec<SeenRequest> {
        self.requests.lock().expect("lock").clone()
    }

    fn responses(&self) -> Vec<SeenResponse> {
        self.responses.lock().expect("lock").clone()
    }

    fn outcomes(&self) -> Vec<(u32, AttemptOutcome)> {
        self.responses()
            .iter()
            .map(|r| (r.attempt, r.outcome))
            .collect()
    }
}

impl Hook for Recorder {
    fn on_request(&self, request: &mut RequestParts<'_>) {
        let key_headers = ["x-api-key", "X-API-KEY", "authorization"]
            .iter()
            .map(|name| request.header(name).map(str::to_owned))
            .collect();
        self.requests.lock().expect("lock").push(SeenRequest {
            operation: request.operation(),
            method: request.method().to_owned(),
            path: request.path().to_owned(),
            attempt: request.attempt(),
            correlation_id: request.correlation_id().to_owned(),
            key_headers,
            debug: format!("{request:?}"),
        });
        if let Some((name, value)) = &self.add {
            let result = request
                .insert_header(name, value)
                .map_err(|e| e.to_string());
            self.insert_results.lock().expect("lock").push(result);
        }
    }

    fn on_response(&self, response: &ResponseInfo<'_>) {
        self.responses.lock().expect("lock").push(SeenResponse {
            operation: response.operation(),
            method: response.method().to_owned(),
            path: response.path().to_owned(),
            attempt: response.attempt(),
            correlation_id: response.correlation_id().to_owned(),
            outcome: response.outcome(),
            status: response.status(),
            duration: response.duration(),
            content_type: response.header("content-type").map(str::to_owned),
            debug: format!("{response:?}"),
        });
    }
}

fn client(base_url: &str, hooks: impl IntoIterator<Item = Arc<Recorder>>) -> Client {
    client_with_key(base_url, KEY, hooks)
}

fn client_with_key(
    base_url: &str,
    key: &str,
    hooks: impl IntoIterator<Item = Arc<Recorder>>,
) -> Client {
    hooks
        .into_iter()
        .fold(Client::builder(), |builder, hook| builder.hook(hook))
        .api_key(key)
        .base_url(base_url)
        .timeout(Duration::from_secs(10))
        .sleeper(|_| Box::pin(async {}))
        .build()
        .expect("client")
}

fn ok_list() -> Reply {
    Reply::json(
        200,
        json!({"conversations": [], "count": 0, "limit": 50, "offset": 0}),
    )
}

#[tokio::test]
async fn headers_hooks_add_reach_the_server_in_hook_order() {
    let server = TestServer::start(|_: &Recorded| ok_list()).await;
    let first = Recorder::adding("X-Team", "qa-analytics");
    let second = Recorder::adding("x-team", "replaced by the second hook");
    let third = Recorder::adding("x-pipeline", "nightly export ✓");
    let client = client(&server.url(), [first.clone(), second.clone(), third]);
    list_a(&client).limit(5).await.expect("listed");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let got = &requests[0];
    assert_eq!(got.header("x-team"), Some("replaced by the second hook"));
    assert_eq!(
        got.header("x-pipeline").map(str::as_bytes),
        Some("nightly export ✓".as_bytes())
    );
    // The client's own headers are intact.
    assert_eq!(got.header("x-api-key"), Some(KEY));
    assert_eq!(got.header("accept"), Some("application/json"));
    let sent_id = got
        .header("x-polyai-correlation-id")
        .expect("correlation id");
    assert!(sent_id.starts_with("polyai-rs-"), "{sent_id}");
    // Hooks saw the call as it went out: no query string in the path.
    let seen = &first.requests()[0];
    assert_eq!(
        (seen.operation, seen.method.as_str(), seen.path.as_str()),
        ("list_conversations", "GET", "/v1/agents/A/conversations")
    );
    assert_eq!(got.query_param("limit").as_deref(), Some("5"));
    assert_eq!(seen.correlation_id, sent_id);
    assert_eq!(*first.insert_results.lock().expect("lock"), [Ok(())]);
}

#[tokio::test]
async fn hooks_never_see_the_key() {
    let server = TestServer::start(|_: &Recorded| ok_list()).await;
    let hook = Arc::new(Recorder::default());
    let client = client(&server.url(), [hook.clone()]);
    list_a(&client).await.expect("listed");
    let request = &hook.requests()[0];
    assert_eq!(request.key_headers, [None, None, None]);
    assert!(!request.debug.contains(KEY), "{}", request.debug);
    // Only names are in the Debug output: the correlation id header is there, no key header.
    assert!(request.debug.contains("x-polyai-correlation-id"));
    assert!(!request.debug.contains("x-api-key"), "{}", request.debug);
    let response = &hook.responses()[0];
    assert!(!response.debug.contains(KEY), "{}", response.debug);
    assert_eq!(server.requests()[0].header("x-api-key"), Some(KEY));
}

/// A hook that tries to set `name`: the call fails before sending, naming the header, and the
/// hook sees the attempt end as `Stopped`.
async fn refused(name: &str, value: &str) -> (Error, Arc<Recorder>, usize) {
    let server = TestServer::start(|_: &Recorded| ok_list()).await;
    let hook = Recorder::adding(name, value);
    let client = client(&server.url(), [hook.clone()]);
    let err = list_a(&client).await.expect_err("refused");
    (err, hook, server.count())
}

#[tokio::test]
async fn a_hook_cannot_set_the_key_or_the_correlation_id() {
    for name in [
        "X-API-KEY",
        "authorization",
        "X-PolyAI-Correlation-Id",
        "api-version",
        "user-agent",
        "Content-Length",
    ] {
        let (err, hook, sent) = refused(name, "mine").await;
        assert_eq!(sent, 0, "{name}: nothing reaches the server");
        let text = err.to_string();
        assert!(
            matches!(err, Error::InvalidRequest(_))
                && text.contains(&name.to_ascii_lowercase())
                && text.contains("set by the client")
                && text.contains("list_conversations"),
            "{name}: {text}"
        );
        // The hook got the same error back from `insert_header`, and the attempt ended once,
        // without a retry.
        assert_eq!(
            *hook.insert_results.lock().expect("lock"),
            [Err(text.clone())]
        );
        assert_eq!(hook.outcomes(), [(1, AttemptOutcome::Stopped)], "{name}");
        assert_eq!(hook.responses()[0].status, None);
    }
}

#[tokio::test]
async fn an_invalid_header_fails_the_call_without_quoting_the_value() {
    let (err, _, sent) = refused("x-token", "s3cr3t\r\ninjected: yes").await;
    let text = err.to_string();
    assert_eq!(sent, 0);
    assert!(
        matches!(err, Error::InvalidRequest(_))
            && text.contains("`x-token`")
            && text.contains("not a valid HTTP header value")
            && !text.contains("s3cr3t"),
        "{text}"
    );
    let (err, _, sent) = refused("bad name", "v").await;
    assert_eq!(sent, 0);
    assert!(
        err.to_string()
            .contains("\"bad name\" is not a valid HTTP header name"),
        "{err}"
    );
}

#[tokio::test]
async fn every_retry_is_observed_with_its_status_and_attempt_number() {
    let server = TestServer::counted(|i, _: &Recorded| match i {
        0 => Reply::status(503),
        1 => Reply::error(429, "RATE_LIMITED", "slow down").header("retry-after", "1"),
        _ => ok_list().header("x-polyai-correlation-id", "echoed"),
    })
    .await;
    let hook = Arc::new(Recorder::default());
    let client = client(&server.url(), [hook.clone()]);
    list_a(&client).await.expect("third attempt succeeds");

    assert_eq!(
        hook.outcomes(),
        [
            (1, AttemptOutcome::Status(503)),
            (2, AttemptOutcome::Status(429)),
            (3, AttemptOutcome::Success(200)),
        ]
    );
    let requests = hook.requests();
    let responses = hook.responses();
    assert_eq!(
        requests.iter().map(|r| r.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // One correlation id across the call, the one each request carried.
    let sent: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.header("x-polyai-correlation-id").map(str::to_owned))
        .collect();
    for (i, response) in responses.iter().enumerate() {
        assert_eq!(Some(&response.correlation_id), sent[i].as_ref());
        assert_eq!(response.correlation_id, requests[i].correlation_id);
        assert_eq!(
            (response.method.as_str(), response.path.as_str()),
            ("GET", "/v1/agents/A/conversations")
        );
    }
    assert_eq!(
        responses[1].content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(
        responses.iter().map(|r| r.status).collect::<Vec<_>>(),
        [Some(503), Some(429), Some(200)]
    );
}

#[tokio::test]
async fn transport_failures_are_observed() {
    // A port nobody listens on: every attempt is refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let hook = Arc::new(Recorder::default());
    let refusing = client(&format!("http://{closed}"), [hook.clone()]);
    let err = list_a(&refusing).await.expect_err("refused");
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err}"
    );
    let outcomes = hook.outcomes();
    assert!(outcomes.len() > 1, "retried: {outcomes:?}");
    for (i, (attempt, outcome)) in outcomes.iter().enumerate() {
        assert_eq!(*attempt, i as u32 + 1);
        assert_eq!(*outcome, AttemptOutcome::Transport(TransportKind::Connect));
    }
    assert!(hook.responses().iter().all(|r| r.status.is_none()));

    // An answer later than the per-attempt timeout.
    let server = TestServer::start(|_: &Recorded| ok_list().delay(Duration::from_secs(5))).await;
    let hook = Arc::new(Recorder::default());
    let client = client(&server.url(), [hook.clone()]);
    let timeout = Duration::from_millis(200);
    let err = list_a(&client)
        .timeout(timeout)
        .no_retry()
        .await
        .expect_err("timed out");
    assert!(err.to_string().contains("timeout"), "{err}");
    let responses = hook.responses();
    assert_eq!(
        hook.outcomes(),
        [(1, AttemptOutcome::Transport(TransportKind::Timeout))]
    );
    assert!(responses[0].duration >= timeout, "{responses:?}");
    assert_eq!(
        AttemptOutcome::Transport(TransportKind::Timeout).to_string(),
        "timeout error"
    );
}

#[tokio::test]
async fn audio_debug_chat_and_the_v3_listing_are_observed_against_the_mock() {
    let server = MockServer::start(MockConfig::default().conversations(20))
        .await
        .expect("mock starts");
    let hook = Arc::new(Recorder::default());
    let client = client_with_key(&server.base_url(), SANDBOX_KEY, [hook.clone()]);
    let agent_id = server.agent_ids()[0].clone();
    let agent = client.agent(&agent_id);
    let page = agent
        .conversations()
        .list()
        .limit(20)
        .await
        .expect("listed");
    let id = page
        .items()
        .iter()
        .find(|c| c.audio_url.is_some())
        .map(|c| c.conversation_id.clone())
        .expect("a conversation with a recording");
    let audio = agent.audio(&id).await.expect("audio");
    let dir = tempfile::tempdir().expect("tempdir");
    audio
        .save_to(dir.path().join("call.wav"))
        .await
        .expect("saved");
    let mut chat = agent
        .debug_chat(ChatOptions::new(ClientEnv::Sandbox))
        .await
        .expect("chat started");
    chat.send("hello").await.expect("chat reply");
    client
        .workspace(server.account_id())
        .project(&agent_id)
        .conversations()
        .limit(2)
        .await
        .expect("v3 listing");

    let responses = hook.responses();
    let seen: Vec<_> = responses
        .iter()
        .map(|r| (r.operation, r.outcome, r.content_type.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "list_conversations",
                AttemptOutcome::Success(200),
                Some("application/json")
            ),
            (
                "get_conversation_audio",
                AttemptOutcome::Success(200),
                Some("audio/wav")
            ),
            (
                "create_debug_chat",
                AttemptOutcome::Success(201),
                Some("application/json")
            ),
            (
                "send_debug_chat_message",
                AttemptOutcome::Success(200),
                Some("application/json")
            ),
            (
                "list_conversations_v3",
                AttemptOutcome::Success(200),
                Some("application/json")
            ),
        ]
    );
    assert_eq!(
        responses[1].path,
        format!("/v1/agents/{agent_id}/conversations/{id}/audio")
    );
    assert_eq!(
        responses[4].path,
        format!("/v3/{}/{agent_id}/conversations", server.account_id())
    );
    assert!(
        hook.requests()
            .iter()
            .all(|r| r.key_headers == [None, None, None])
    );
}

/// The blocking client drives the same client, so its calls run the hooks too.
#[cfg(feature = "blocking")]
#[test]
fn the_blocking_client_runs_the_hooks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(TestServer::counted(|i, _: &Recorded| match i {
        0 => Reply::status(503),
        _ => ok_list(),
    }));
    let hook = Recorder::adding("x-team", "blocking");
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.url())
        .sleeper(|_| Box::pin(async {}))
        .hook(hook.clone())
        .build_blocking()
        .expect("blocking client");
    let listed = client
        .agent("A")
        .conversations()
        .list()
        .all()
        .expect("listed");
    assert!(listed.is_empty());
    assert_eq!(
        hook.outcomes(),
        [
            (1, AttemptOutcome::Status(503)),
            (2, AttemptOutcome::Success(200))
        ]
    );
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("x-team") == Some("blocking"))
    );
    assert_eq!(hook.requests()[0].key_headers, [None, None, None]);
    drop(server);
}
