//! Every operation against a loopback server: request shapes (snapshotted) and decoded answers.

mod support;

use polyai_data::annotations::{Annotation, AnnotationType, Role};
use polyai_data::audio::Direction;
use polyai_data::chat::ChatOptions;
use polyai_data::models::ConversationExt;
use polyai_data::{Agent, ClientEnv, Error};
use serde_json::{Value, json};
use support::{Recorded, Reply, TestServer, client_for, list_reply, summary};

const KEY: &str = "test-key-Zq9";

/// The request as a stable JSON value: key checked then redacted, correlation id checked then
/// replaced, host (random port) and content-length dropped.
fn shape(r: &Recorded) -> Value {
    let mut headers = serde_json::Map::new();
    for (name, value) in &r.headers {
        let value = match name.as_str() {
            "host" | "content-length" => continue,
            "x-api-key" => {
                assert_eq!(value, KEY);
                "[redacted]".to_owned()
            }
            "x-polyai-correlation-id" => {
                assert!(
                    value.starts_with("polyai-rs-") && value.len() == 46,
                    "{value}"
                );
                "polyai-rs-[uuid]".to_owned()
            }
            "user-agent" => {
                assert_eq!(value, polyai_data::config::USER_AGENT);
                "polyai-rs/[version]".to_owned()
            }
            _ => value.clone(),
        };
        headers.insert(name.clone(), Value::String(value));
    }
    let body = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&r.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into()))
    };
    json!({"method": r.method, "path": r.path, "query": r.query, "headers": headers, "body": body})
}

fn detail() -> Value {
    json!({
        "conversationId": "LOCAL-0725f700", "accountId": "PLATFORM", "projectId": "PROJECT-1",
        "audioUrl": "conversations/LOCAL-0725f700/audio", "handoff": true, "polyScore": 6.0,
        "shortSummary": {"heading": "Check appointment details", "content": "<summary>"},
        "metrics": {"CALL_DURATION": [{"timestamp": "2026-06-03T13:19:19.757917", "value": "73"}]},
        "functionEvents": {"1": [{"id": "e1", "turn_id": 743916318, "name": "start", "duration": 4108,
            "start_time": "Wed, 03 Jun 2026 13:18:09 GMT", "handoff": null, "hangup": null}]},
        "turns": [{"turn_id": 743916318, "user_input": "", "agent_response": "Hello",
            "latency": {"label": null, "perceived_latency": 3.88}, "reviews": [], "entities": null,
            "metadata": {"function_events": [], "safety": {"filters_triggered": {"provider": "azure"}}}}]
    })
}

fn chat_reply(id: &str, text: &str, ended: bool) -> Value {
    json!({
        "conversationId": id, "userInput": "", "response": text,
        "metadata": {"state": {}, "currentNode": "", "nodeTrace": [], "metrics": {}, "functionEvents": [],
            "citedTopic": "", "retrievedTopics": ["Password reset"], "inFlow": null},
        "conversationEnded": ended, "delayedResponse": false
    })
}

/// A server answering with [`router`], and agent `PROJECT-1` of a client pointed at it.
async fn start() -> (TestServer, Agent) {
    let server = TestServer::start(router).await;
    let (client, _) = client_for(&server, KEY);
    (server, client.agent("PROJECT-1"))
}

fn router(r: &Recorded) -> Reply {
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/v1/agents/PROJECT-1/conversations") => list_reply(r, 3),
        ("GET", "/v1/agents/PROJECT-1/conversations/LOCAL-0725f700") => Reply::json(200, detail()),
        ("GET", "/v1/agents/PROJECT-1/conversations/missing") => Reply::error(
            404,
            "CONVERSATIONS_NOT_FOUND",
            "Conversation ID does not exist.",
        ),
        ("GET", "/v1/agents/PROJECT-1/conversations/CA1/audio") => Reply::wav(1000),
        ("POST", "/v1/agents/PROJECT-1/conversations/CA1/annotation") => {
            Reply::json(201, json!({"success": true}))
        }
        ("POST", "/v1/agents/PROJECT-1/conversations/CA1/note") => {
            Reply::json(201, json!({"success": true}))
        }
        ("POST", "/v1/agents/PROJECT-1/debug-chat") => {
            Reply::json(201, chat_reply("AS_CHAT_1", "Hi, how can I help?", false))
        }
        ("POST", "/v1/agents/PROJECT-1/debug-chat/AS_CHAT_1") => {
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let bye = body["message"] == "bye";
            Reply::json(
                200,
                chat_reply(
                    "AS_CHAT_1",
                    if bye { "Goodbye" } else { "Let me help" },
                    bye,
                ),
            )
        }
        _ => Reply::error(404, "NOT_ROUTED", "no route"),
    }
}

#[tokio::test]
async fn list_one_page() {
    let (server, agent) = start().await;
    let page = agent
        .conversations()
        .list()
        .limit(2)
        .offset(0)
        .await
        .expect("page");
    assert_eq!(page.count(), Some(3));
    assert_eq!(page.items().len(), 2);
    assert_eq!(page.items()[0].conversation_id, "c0");
    assert_eq!(page.next_offset(), Some(2));
    insta::assert_json_snapshot!("list_conversations", shape(&server.requests()[0]));
}

#[tokio::test]
async fn list_without_parameters_sends_none() {
    let (server, agent) = start().await;
    let page = agent.conversations().list().await.expect("page");
    assert_eq!(page.items().len(), 3);
    assert_eq!(server.requests()[0].query, "");
}

#[tokio::test]
async fn get_conversation_decodes_the_wire_detail() {
    let (server, agent) = start().await;
    let c = agent
        .conversations()
        .get("LOCAL-0725f700")
        .await
        .expect("detail");
    assert_eq!(c.summary_heading(), Some("Check appointment details"));
    assert_eq!(c.turns.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        c.turns.as_ref().and_then(|t| t[0].typed()?.turn_id),
        Some(743916318)
    );
    assert!(
        c.function_events
            .as_ref()
            .is_some_and(|f| f.contains_key("1"))
    );
    insta::assert_json_snapshot!("get_conversation", shape(&server.requests()[0]));
}

#[tokio::test]
async fn not_found_is_a_typed_error_with_one_line_display() {
    let (server, agent) = start().await;
    let err = agent.conversations().get("missing").await.expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(err.code(), Some("CONVERSATIONS_NOT_FOUND"));
    assert!(!err.is_retryable());
    let sent = server.requests()[0]
        .header("x-polyai-correlation-id")
        .map(str::to_owned);
    assert_eq!(err.correlation_id().map(str::to_owned), sent);
    let text = err.to_string();
    assert!(!text.contains('\n'));
    assert!(
        text.starts_with("get_conversation: HTTP 404 Not Found from 127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("CONVERSATIONS_NOT_FOUND: Conversation ID does not exist."),
        "{text}"
    );
    assert_eq!(server.count(), 1, "404 is not retried");
}

#[tokio::test]
async fn audio_request_shape_and_download() {
    let (server, agent) = start().await;
    let download = agent
        .audio("CA1")
        .direction(Direction::User)
        .redacted(true)
        .send()
        .await
        .expect("download");
    assert_eq!(download.content_length(), Some(1000));
    assert_eq!(download.content_type(), Some("audio/wav"));
    let bytes = download.bytes().await.expect("body");
    assert_eq!(bytes.len(), 1000);
    assert_eq!(&bytes[..4], b"RIFF");
    insta::assert_json_snapshot!("get_conversation_audio", shape(&server.requests()[0]));
}

#[tokio::test]
async fn annotate_sends_typed_items_and_rejects_empty_lists() {
    let (server, agent) = start().await;
    agent
        .annotate(
            "CA1",
            [
                Annotation::new(0, Role::User, AnnotationType::WrongTranscript),
                Annotation::new(2, Role::Agent, AnnotationType::WrongInfo),
            ],
        )
        .await
        .expect("annotate");
    insta::assert_json_snapshot!("add_annotations", shape(&server.requests()[0]));

    let err = agent.annotate("CA1", []).await.expect_err("empty");
    assert!(matches!(err, Error::InvalidRequest(_)), "{err}");
    assert_eq!(server.count(), 1, "nothing sent for an empty list");
}

#[tokio::test]
async fn note_upsert() {
    let (server, agent) = start().await;
    agent
        .note("CA1", "caller wants a refund")
        .await
        .expect("note");
    insta::assert_json_snapshot!("upsert_note", shape(&server.requests()[0]));
}

#[tokio::test]
async fn debug_chat_session_lifecycle() {
    let (server, agent) = start().await;
    let mut chat = agent
        .debug_chat(
            ChatOptions::new(ClientEnv::Sandbox)
                .variant("v1")
                .lang("en-GB")
                .integration_attribute("tier", "gold"),
        )
        .await
        .expect("start");
    assert_eq!(chat.id(), "AS_CHAT_1");
    assert_eq!(chat.greeting().text(), "Hi, how can I help?");
    assert!(!chat.is_ended());

    let reply = chat.send("I forgot my password").await.expect("send");
    assert_eq!(reply.text(), "Let me help");
    assert_eq!(
        reply.metadata().retrieved_topics.as_deref(),
        Some(&["Password reset".to_owned()][..])
    );

    let reply = chat.send("bye").await.expect("send");
    assert!(reply.is_ended() && chat.is_ended());
    let err = chat.send("hello?").await.expect_err("ended");
    assert!(matches!(err, Error::ChatEnded { .. }));
    assert!(err.to_string().contains("AS_CHAT_1 has ended"), "{err}");
    assert_eq!(server.count(), 3, "nothing sent after the end");

    let requests = server.requests();
    insta::assert_json_snapshot!("create_debug_chat", shape(&requests[0]));
    insta::assert_json_snapshot!("send_debug_chat_message", shape(&requests[1]));
}

#[tokio::test]
async fn chat_ended_by_server_410_marks_the_session() {
    let server = TestServer::start(|r: &Recorded| {
        if r.path.ends_with("/debug-chat") {
            Reply::json(201, chat_reply("AS_CHAT_2", "hi", false))
        } else {
            Reply::error(410, "CHAT_CONVERSATION_ENDED", "Chat conversation ended")
        }
    })
    .await;
    let (client, _) = client_for(&server, KEY);
    let mut chat = client
        .agent("PROJECT-1")
        .debug_chat(ChatOptions::new(ClientEnv::Live))
        .await
        .expect("start");
    let err = chat.send("x").await.expect_err("410");
    assert_eq!(err.code(), Some("CHAT_CONVERSATION_ENDED"));
    assert!(chat.is_ended());
    assert!(matches!(chat.send("y").await, Err(Error::ChatEnded { .. })));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn decode_errors_name_the_json_path() {
    let server = TestServer::start(|_: &Recorded| {
        let mut bad = summary("c0");
        bad["totalDuration"] = json!("four");
        Reply::json(
            200,
            json!({"conversations": [summary("ok"), bad], "count": 2, "limit": 50, "offset": 0}),
        )
    })
    .await;
    let (client, _) = client_for(&server, KEY);
    let err = client
        .agent("PROJECT-1")
        .conversations()
        .list()
        .await
        .expect_err("decode");
    let decode = err.as_decode().expect("decode error");
    assert_eq!(decode.path(), "conversations[1].totalDuration");
    assert!(decode.body_snippet().contains("\"four\""));
    assert!(err.to_string().contains("conversations[1].totalDuration"));
    // The decoder's own error is the cause, reachable without naming serde types.
    let cause = std::error::Error::source(&err).expect("a cause");
    let json = cause
        .downcast_ref::<serde_json::Error>()
        .expect("serde_json error");
    assert!(json.is_data(), "{json}");
}

#[tokio::test]
async fn agent_and_conversation_ids_are_path_encoded() {
    let server = TestServer::start(|_: &Recorded| Reply::error(404, "X", "x")).await;
    let (client, _) = client_for(&server, KEY);
    let _ = client
        .agent("my agent/x")
        .conversations()
        .get("a?b#c\\d")
        .await;
    // `\` too: URL parsers would read it as `/`.
    assert_eq!(
        server.requests()[0].path,
        "/v1/agents/my%20agent%2Fx/conversations/a%3Fb%23c%5Cd"
    );
}

/// polyai-data reads every answer itself, so a success status the spec does not declare (200 or 204
/// where it says 201, 203 where it says 200) still succeeds, and an empty acknowledgement is one.
#[tokio::test]
async fn success_statuses_the_spec_does_not_declare_still_succeed() {
    let server = TestServer::start(|r: &Recorded| match r.path.rsplit('/').next() {
        Some("annotation") => Reply::json(200, json!({"success": true})),
        Some("note") => Reply::status(204),
        _ => Reply::json(203, detail()),
    })
    .await;
    let (client, _) = client_for(&server, KEY);
    let agent = client.agent("PROJECT-1");
    let annotation = Annotation::new(0, Role::User, AnnotationType::WrongInfo);
    let ((), meta) = agent
        .annotate("CA1", [annotation])
        .send_with_meta()
        .await
        .expect("200 for a declared 201");
    assert_eq!(meta.status(), 200);
    let ((), meta) = agent.note("CA1", "n").send_with_meta().await.expect("204");
    assert_eq!(meta.status(), 204);
    let (c, meta) = agent
        .conversations()
        .get("CA1")
        .send_with_meta()
        .await
        .expect("203 for a declared 200");
    assert_eq!(
        (meta.status(), c.conversation_id.as_str()),
        (203, "LOCAL-0725f700")
    );
}

/// A failure keeps its status and body even when the body is not the API's envelope (a proxy's
/// HTML page), which the generated error handling would drop.
#[tokio::test]
async fn an_html_error_keeps_its_status_and_body() {
    let server = TestServer::start(|_: &Recorded| Reply {
        status: 401,
        headers: vec![("content-type".into(), "text/html".into())],
        body: support::Body::Bytes(b"<html><h1>401 Authorization Required</h1></html>".to_vec()),
        delay: None,
    })
    .await;
    let (client, _) = client_for(&server, KEY);
    let err = client
        .agent("PROJECT-1")
        .conversations()
        .get("CA1")
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(401));
    let api = err.as_api().expect("an API error");
    assert_eq!(api.operation(), "get_conversation");
    assert!(
        api.body_snippet().contains("401 Authorization Required"),
        "{err}"
    );
}

/// `json_bytes` hands back the body as sent when it is JSON, whatever its shape, and fails with
/// `Error::Decode` when it is not JSON at all (whether or not the generated method decoded it).
#[tokio::test]
async fn json_bytes_returns_the_body_as_sent_and_refuses_what_is_not_json() {
    let cases: [(&[u8], bool); 4] = [
        (
            br#"{"conversationId":"CA1","turns":[],"duration":4108}"#,
            true,
        ),
        (br#"{"conversationId": 7, "odd": [null]}"#, true),
        (br#"{"conversationId":"CA1","turns":["#, false),
        (br#"{"conversationId":"CA1"} trailing"#, false),
    ];
    for (body, is_json) in cases {
        let served = body.to_vec();
        let server = TestServer::start(move |_| {
            Reply::body("application/json", support::Body::Bytes(served.clone()))
        })
        .await;
        let (client, _) = client_for(&server, "k");
        let result = client
            .agent("P")
            .conversations()
            .get("CA1")
            .json_bytes()
            .await;
        let shown = String::from_utf8_lossy(body);
        match result {
            Ok(bytes) => {
                assert!(is_json, "{shown} was accepted");
                assert_eq!(&bytes[..], body, "{shown} came back changed");
            }
            Err(err) => {
                assert!(!is_json, "{shown} failed: {err}");
                assert!(matches!(err, Error::Decode(_)), "{shown}: {err:?}");
            }
        }
    }
}
