//! Requests come from the spec: every operation sends exactly the method, path, query and body
//! that the generated client (`polyai_data_raw`) builds for the same arguments (polyai-data calls
//! the generated methods and executes what they hand to their hooks), and no path, method or
//! parameter name is written by hand in `polyai-data`.

mod support;

use polyai_data::ClientEnv;
use polyai_data::annotations::{Annotation, AnnotationType, Role};
use polyai_data::audio::Direction;
use polyai_data::chat::ChatOptions;
use polyai_data_raw::{Built, Capture, types};
use serde_json::json;
use support::{Recorded, Reply, TestServer, client_for, list_reply, summary};

/// What the generated client builds, as (method, path, query, JSON body).
fn built<T>(
    base: &str,
    call: impl FnOnce(&polyai_data_raw::Client, &Capture) -> Built<T>,
) -> (String, String, String, Option<serde_json::Value>) {
    let capture = Capture::new();
    let spec =
        polyai_data_raw::Client::new_with_client(base, reqwest::Client::new(), capture.hooks());
    let request = call(&spec, &capture).into_request();
    let body = request
        .body()
        .and_then(|b| b.as_bytes())
        .map(|b| serde_json::from_slice(b).expect("JSON body"));
    (
        request.method().to_string(),
        request.url().path().to_owned(),
        request.url().query().unwrap_or("").to_owned(),
        body,
    )
}

fn sent(r: &Recorded) -> (String, String, String, Option<serde_json::Value>) {
    let body = (!r.body.is_empty()).then(|| serde_json::from_slice(&r.body).expect("JSON body"));
    (r.method.clone(), r.path.clone(), r.query.clone(), body)
}

fn chat_reply() -> Reply {
    Reply::json(
        201,
        json!({"conversationId": "AS_CHAT_1", "response": "hi", "userInput": "",
               "metadata": {"currentNode": "start", "nodeTrace": [], "functionEvents": [],
                            "state": {}, "metrics": {}}, "conversationEnded": false, "delayedResponse": false}),
    )
}

#[tokio::test]
async fn every_operation_sends_what_the_spec_builds() {
    let server = TestServer::start(|r: &Recorded| {
        if r.path.ends_with("/audio") {
            Reply::wav(64)
        } else if r.path.ends_with("/conversations") {
            list_reply(r, 3)
        } else if r.path.contains("debug-chat") {
            chat_reply()
        } else if r.method == "POST" {
            Reply::json(201, json!({"success": true}))
        } else {
            Reply::json(200, summary("CA 1/2"))
        }
    })
    .await;
    let base = server.url();
    let (client, _) = client_for(&server, "k");
    let agent = client.agent("PROJECT 1");
    // Ids with characters that must be percent-encoded, so the encoding is compared too.
    let id = "CA 1/2?#%";

    agent
        .conversations()
        .list()
        .limit(7)
        .offset(3)
        .await
        .expect("list");
    agent.conversations().get(id).await.expect("get");
    agent
        .annotate(
            id,
            [Annotation::new(
                1,
                Role::User,
                AnnotationType::WrongTranscript,
            )],
        )
        .await
        .expect("annotate");
    agent.note(id, "called back").await.expect("note");
    agent
        .audio(id)
        .direction(Direction::Agent)
        .redacted(true)
        .send()
        .await
        .expect("audio");
    let mut chat = agent
        .debug_chat(ChatOptions::new(ClientEnv::Sandbox))
        .await
        .expect("chat");
    chat.send("hello").await.expect("send");

    let expected = [
        built(&base, |c, capture| {
            capture
                .take(c.list_conversations(
                    "PROJECT 1",
                    std::num::NonZeroU64::new(7),
                    Some(3),
                    None,
                ))
                .expect("built")
        }),
        built(&base, |c, capture| {
            capture
                .take(c.get_conversation("PROJECT 1", id, None))
                .expect("built")
        }),
        built(&base, |c, capture| {
            let body = types::AddAnnotationsBody {
                annotations: vec![types::AnnotationItem {
                    turn_id: 1,
                    role: types::AnnotationItemRole::User,
                    annotation_type: types::AnnotationItemAnnotationType::WrongTranscript,
                }],
            };
            capture
                .take(c.add_annotations("PROJECT 1", id, None, &body))
                .expect("built")
        }),
        built(&base, |c, capture| {
            let body = types::UpsertNoteBody {
                note: "called back".into(),
            };
            capture
                .take(c.upsert_note("PROJECT 1", id, None, &body))
                .expect("built")
        }),
        built(&base, |c, capture| {
            capture
                .take(c.get_conversation_audio(
                    "PROJECT 1",
                    id,
                    Some(types::GetConversationAudioDirection::Agent),
                    Some(true),
                    None,
                ))
                .expect("built")
        }),
    ];
    let requests = server.requests();
    for (i, want) in expected.iter().enumerate() {
        assert_eq!(&sent(&requests[i]), want, "request {i}");
    }
    // The chat bodies carry defaults of our own; the method and path come from the spec.
    let create = built(&base, |c, capture| {
        let body = serde_json::from_value(json!({"clientEnv": "sandbox"})).expect("body");
        capture
            .take(c.create_debug_chat("PROJECT 1", None, &body))
            .expect("built")
    });
    let reply = built(&base, |c, capture| {
        let body = serde_json::from_value(json!({"clientEnv": "sandbox", "message": "hello"}))
            .expect("body");
        capture
            .take(c.send_debug_chat_message("PROJECT 1", "AS_CHAT_1", None, &body))
            .expect("built")
    });
    for (i, want) in [(5, create), (6, reply)] {
        let got = sent(&requests[i]);
        assert_eq!(
            (&got.0, &got.1, &got.2),
            (&want.0, &want.1, &want.2),
            "request {i}"
        );
    }
    assert_eq!(requests[0].path, "/v1/agents/PROJECT%201/conversations");
    assert_eq!(
        requests[1].path,
        "/v1/agents/PROJECT%201/conversations/CA%201%2F2%3F%23%25"
    );
}

#[test]
fn no_path_method_or_parameter_name_is_written_by_hand() {
    let mut pending = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).expect("source");
        for forbidden in [
            "\"/v1",
            // A path segment pushed or joined by hand (`"v1"` alone may name an API in text).
            "(\"v1\"",
            "\"/v3",
            "\"agents\"",
            "\"annotation\"",
            "\"debug-chat\"",
            "Method::POST",
            "(\"limit\"",
            "(\"offset\"",
            "(\"direction\"",
            "(\"redacted\"",
            "(\"v3\"",
            "(\"cursor\"",
            "(\"query_type\"",
            "(\"channel\"",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} writes {forbidden} by hand; take it from the generated client",
                path.display()
            );
        }
    }
}
