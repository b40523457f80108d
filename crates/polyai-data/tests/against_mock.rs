//! End to end against `polyai-mock`, the project's local mock of the Data API: every
//! operation, a full walk, an audio save, and the mock's fault injection.

use std::time::Duration;

use polyai_data::annotations::{Annotation, AnnotationType, Role};
use polyai_data::audio::Direction;
use polyai_data::chat::ChatOptions;
use polyai_data::{Client, ClientEnv};
use polyai_mock::{MockConfig, MockServer, SANDBOX_KEY};

async fn setup(conversations: u64) -> (MockServer, Client, String) {
    let server = MockServer::start(MockConfig::default().conversations(conversations))
        .await
        .expect("mock starts");
    let client = Client::builder()
        .api_key(SANDBOX_KEY)
        .base_url(server.base_url())
        .sleeper(|_| Box::pin(async {}))
        .build()
        .expect("client");
    let agent = server.agent_ids()[0].clone();
    (server, client, agent)
}

#[tokio::test]
async fn every_operation_round_trips() {
    let (server, client, agent_id) = setup(120).await;
    let agent = client.agent(&agent_id);

    let all = agent
        .conversations()
        .list()
        .limit(50)
        .dedupe(true)
        .all()
        .await
        .expect("walk");
    assert_eq!(all.len(), 120);
    let first = all[0].conversation_id.clone();

    let detail = agent.conversations().get(&first).await.expect("detail");
    assert_eq!(detail.conversation_id, first);

    agent
        .note(&first, "checked by polyai-data")
        .await
        .expect("note");
    let detail = agent.conversations().get(&first).await.expect("detail");
    assert_eq!(detail.note.as_deref(), Some("checked by polyai-data"));

    agent
        .annotate(
            &first,
            [Annotation::new(0, Role::User, AnnotationType::MissingTopic)],
        )
        .await
        .expect("annotate");

    let with_audio = (0..120)
        .find(|i| server.has_recording(0, *i))
        .map(|i| server.conversation_id(0, i));
    if let Some(id) = with_audio {
        let dir = tempfile::tempdir().expect("tempdir");
        let download = agent
            .audio(&id)
            .direction(Direction::Agent)
            .await
            .expect("audio");
        let expected = download.content_length();
        let saved = download
            .save_to(dir.path().join("a.wav"))
            .await
            .expect("saved");
        assert_eq!(Some(saved.bytes), expected);
    }

    let mut chat = agent
        .debug_chat(ChatOptions::new(ClientEnv::Sandbox))
        .await
        .expect("chat");
    assert!(!chat.greeting().text().is_empty());
    let reply = chat.send("hello").await.expect("reply");
    assert!(!reply.text().is_empty());

    let missing = agent
        .conversations()
        .get("CA-does-not-exist")
        .await
        .expect_err("404");
    assert!(missing.is_not_found(), "{missing}");
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_key_gets_the_studio_hint() {
    let (server, _, agent_id) = setup(3).await;
    let client = Client::builder()
        .api_key("not-a-key")
        .base_url(server.base_url())
        .build()
        .expect("client");
    let err = client
        .agent(&agent_id)
        .conversations()
        .list()
        .await
        .expect_err("401");
    assert!(err.is_unauthorized(), "{err}");
    assert!(err.to_string().contains("Agent Studio"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn injected_faults_are_retried_or_reported() {
    let (server, client, agent_id) = setup(10).await;
    let agent = client.agent(&agent_id);
    server.faults().fail_next(2, 503);
    let page = agent
        .conversations()
        .list()
        .await
        .expect("retried past two 503s");
    assert_eq!(page.count(), Some(10));

    server.faults().fail_next(1, 503);
    let id = page.items()[0].conversation_id.clone();
    let err = agent
        .annotate(
            &id,
            [Annotation::new(0, Role::Agent, AnnotationType::WrongInfo)],
        )
        .await
        .expect_err("a 503 on a non-idempotent call is reported");
    assert_eq!(err.status(), Some(503));

    server.faults().rate_limit(Some(Duration::from_secs(1)));
    let err = agent.conversations().list().await.expect_err("always 429");
    assert!(err.is_rate_limited(), "{err}");
    server.faults().reset();

    server.faults().truncate_body(true);
    if let Some(i) = (0..10).find(|i| server.has_recording(0, *i)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let result = match agent.audio(server.conversation_id(0, i)).await {
            Ok(download) => download.save_to(dir.path().join("t.wav")).await.map(|_| ()),
            Err(err) => Err(err),
        };
        assert!(result.is_err(), "a truncated recording is not saved");
        assert_eq!(
            std::fs::read_dir(dir.path()).map(|d| d.count()).ok(),
            Some(0)
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn json_returns_the_conversation_as_sent() {
    let (server, client, agent_id) = setup(10).await;
    let id = server.conversation_id(0, 0);
    let conversations = client.agent(&agent_id).conversations();
    let raw = conversations.get(&id).json().await.expect("raw detail");
    let typed = conversations.get(&id).await.expect("typed detail");

    // Every key the server sent is there, nulls included, in the server's order.
    let plain = reqwest::Client::new()
        .get(format!(
            "{}/v1/agents/{agent_id}/conversations/{id}",
            server.base_url()
        ))
        .header("X-API-KEY", SANDBOX_KEY)
        .send()
        .await
        .expect("plain request")
        .json::<serde_json::Value>()
        .await
        .expect("plain body");
    assert_eq!(raw, plain);
    assert!(raw.get("note").is_some_and(serde_json::Value::is_null));
    assert_eq!(raw["conversationId"], typed.conversation_id.as_str());

    let missing = conversations
        .get("CA-nope")
        .json()
        .await
        .expect_err("unknown id");
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test]
async fn successful_calls_carry_their_response_meta() {
    let (server, client, agent_id) = setup(10).await;
    let agent = client.agent(&agent_id);
    let json = |meta: &polyai_data::ResponseMeta| {
        meta.header("content-type")
            .is_some_and(|v| v.starts_with("application/json"))
    };

    let page = agent
        .conversations()
        .list()
        .correlation_id("meta-list")
        .await
        .expect("page");
    assert_eq!(page.meta().status(), 200);
    assert_eq!(page.meta().correlation_id(), "meta-list");
    assert!(json(page.meta()), "{:?}", page.meta());
    let id = page.items()[0].conversation_id.clone();

    let (detail, meta) = agent
        .conversations()
        .get(&id)
        .correlation_id("meta-get")
        .send_with_meta()
        .await
        .expect("detail");
    assert_eq!(detail.conversation_id, id);
    assert_eq!((meta.status(), meta.correlation_id()), (200, "meta-get"));
    assert!(json(&meta), "{meta:?}");
    assert_eq!(meta.header("Content-Type"), meta.header("content-type"));
    assert_eq!(meta.header("X-PolyAI-Correlation-Id"), Some("meta-get"));
    assert!(
        meta.headers()
            .any(|(name, value)| name == "x-polyai-correlation-id" && value == b"meta-get"),
        "{meta:?}"
    );

    let ((), meta) = agent
        .annotate(
            &id,
            [Annotation::new(0, Role::User, AnnotationType::MissingTopic)],
        )
        .correlation_id("meta-annotate")
        .send_with_meta()
        .await
        .expect("annotate");
    assert_eq!(
        (meta.status(), meta.correlation_id()),
        (201, "meta-annotate")
    );
    assert!(json(&meta), "{meta:?}");

    let ((), meta) = agent
        .note(&id, "meta checked")
        .correlation_id("meta-note")
        .send_with_meta()
        .await
        .expect("note");
    assert_eq!((meta.status(), meta.correlation_id()), (201, "meta-note"));
    assert!(json(&meta), "{meta:?}");

    let mut chat = agent
        .debug_chat(ChatOptions::new(ClientEnv::Sandbox))
        .correlation_id("meta-chat")
        .await
        .expect("chat");
    let greeting = chat.greeting().meta();
    assert_eq!(
        (greeting.status(), greeting.correlation_id()),
        (201, "meta-chat")
    );
    let reply = chat.send("hello").await.expect("reply");
    assert_eq!(reply.meta().status(), 200);
    assert!(reply.meta().correlation_id().starts_with("polyai-rs-"));
    assert_ne!(reply.meta().correlation_id(), "meta-chat");
    assert!(json(reply.meta()), "{:?}", reply.meta());
    server.shutdown().await;
}

#[tokio::test]
async fn a_walk_over_the_mock_capping_pages_at_37_is_exact_at_every_concurrency() {
    let mut config = MockConfig::default().conversations(1500);
    config.max_page = 37;
    let server = MockServer::start(config).await.expect("mock starts");
    let client = Client::builder()
        .api_key(SANDBOX_KEY)
        .base_url(server.base_url())
        .build()
        .expect("client");
    let agent = client.agent(&server.agent_ids()[0]);
    let sequential = agent
        .conversations()
        .list()
        .limit(37)
        .concurrency(1)
        .all()
        .await
        .expect("walk");
    assert_eq!(sequential.len(), 1500);
    for concurrency in [4, 16] {
        let all = agent
            .conversations()
            .list()
            .concurrency(concurrency)
            .all()
            .await
            .expect("walk");
        let ids: Vec<_> = all.iter().map(|c| &c.conversation_id).collect();
        let want: Vec<_> = sequential.iter().map(|c| &c.conversation_id).collect();
        assert!(
            ids == want,
            "concurrency {concurrency}: {} items",
            ids.len()
        );
    }
}
