//! The key is absent from every `Debug`, `Display`, error and log line.
//!
//! Alone in its own test binary: `tracing` caches per-callsite interest process-wide, so a
//! concurrently running test without a subscriber could hide the spans this test captures.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use polyai_data::Client;
use polyai_data::retry::RetryPolicy;
use serde_json::json;
use support::{Recorded, Reply, TestServer, client_for, list_a, list_reply};

const KEY: &str = "sk-LEAK-CANARY-8d1f";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test]
async fn key_is_absent_from_debug_display_errors_and_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::start(|r: &Recorded| match r.path.as_str() {
        "/v1/agents/A/conversations" => list_reply(r, 3),
        "/v1/agents/A/conversations/u" => {
            Reply::error(401, "AUTH_USER_INVALID_TOKEN", "Invalid token")
        }
        "/v1/agents/A/conversations/bad" => Reply::json(200, json!({"nope": true})),
        _ => Reply::status(503),
    })
    .await;
    let (client, _) = client_for(&server, KEY);
    let builder = Client::builder().api_key(KEY);
    let mut seen = vec![
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{:?}", client.agent("A")),
    ];

    list_a(&client).limit(2).all().await.expect("walk");
    for id in ["u", "bad", "retry"] {
        let err = client
            .agent("A")
            .conversations()
            .get(id)
            .retry(RetryPolicy::default().max_attempts(2))
            .await
            .expect_err("error");
        seen.push(err.to_string());
        seen.push(format!("{err:?}"));
        seen.push(format!("{:?}", std::error::Error::source(&err)));
    }
    let download = client.agent("A").audio("x").await;
    seen.push(format!("{download:?}"));

    let logs = capture.text();
    assert!(logs.contains("polyai.call"), "spans are logged: {logs}");
    assert!(logs.contains("correlation_id=polyai-rs-"), "{logs}");
    assert!(
        logs.contains("operation=\"get_conversation\"")
            || logs.contains("operation=get_conversation"),
        "{logs}"
    );
    seen.push(logs);
    for text in &seen {
        assert!(
            !text.contains(KEY) && !text.contains("LEAK-CANARY"),
            "key leaked in: {text}"
        );
    }
    // The key did reach the server, as a header.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some(KEY))
    );
}
