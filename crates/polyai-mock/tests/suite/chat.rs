//! Debug chat: create, scripted answers, handoff, goodbye and 410, timeout, unknown sessions, validation.

use std::time::Duration;

use polyai_mock::MockConfig;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{assert_error, start, start_default};

#[tokio::test]
async fn chat_lifecycle() {
    let env = start_default().await;
    let (status, created) = env
        .post(
            &env.agent_path("/debug-chat"),
            json!({"clientEnv": "sandbox"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["conversationId"].as_str().expect("id").to_string();
    assert!(id.starts_with("AS_CHAT_") && id.len() == 8 + 36, "{id}");
    assert_eq!(created["userInput"], "");
    assert!(
        created["response"]
            .as_str()
            .is_some_and(|r| r.contains("How can I help"))
    );
    assert_eq!(created["conversationEnded"], false);
    assert_eq!(created["metadata"]["nodeTrace"], json!(["start"]));

    let path = env.agent_path(&format!("/debug-chat/{id}"));
    let (status, reply) = env
        .post(
            &path,
            json!({"clientEnv": "sandbox", "message": "I forgot my password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["userInput"], "I forgot my password");
    assert_eq!(
        reply["metadata"]["retrievedTopics"],
        json!(["Password reset"])
    );
    assert_eq!(reply["metadata"]["citedTopic"], "Password reset");
    assert_eq!(reply["metadata"]["currentNode"], "password_reset");
    assert_eq!(
        reply["metadata"]["nodeTrace"],
        json!(["start", "password_reset"])
    );
    assert_eq!(
        reply["metadata"]["functionEvents"][0]["name"],
        "send_reset_link"
    );
    assert!(reply["metadata"]["state"]["account_email"].is_string());
    assert_eq!(reply["conversationEnded"], false);

    // Slow topics are sometimes deferred.
    let mut delayed = false;
    for _ in 0..12 {
        let (_, r) = env
            .post(
                &path,
                json!({"clientEnv": "sandbox", "message": "where is my order?"}),
            )
            .await;
        delayed |= r["delayedResponse"] == true;
    }
    assert!(delayed);

    let (_, bye) = env
        .post(
            &path,
            json!({"clientEnv": "sandbox", "message": "ok, bye!"}),
        )
        .await;
    assert_eq!(bye["conversationEnded"], true);
    let (status, body) = env
        .post(&path, json!({"clientEnv": "sandbox", "message": "hello?"}))
        .await;
    assert_error(status, &body, 410, "CHAT_CONVERSATION_ENDED");
}

#[tokio::test]
async fn asking_for_a_person_hands_off_to_the_front_desk_and_ends() {
    let env = start_default().await;
    for _ in 0..3 {
        let (_, path) = env.create_chat().await;
        let (status, reply) = env
            .post(
                &path,
                json!({"clientEnv": "sandbox", "message": "Can I speak to a real person?"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let metadata = &reply["metadata"];
        assert_eq!(metadata["handoffDestination"], "Front Desk");
        assert_eq!(metadata["currentNode"], "handoff");
        let event = &metadata["functionEvents"][0];
        assert_eq!(event["name"], "transfer_call");
        assert_eq!(event["arguments"], json!({"destination": "Front Desk"}));
        assert_eq!(
            event["handoff"],
            json!({"reason": "CALLER_REQUESTED_HUMAN", "type": "transfer"})
        );
        assert_eq!(event["hangup"], true);
        assert_eq!(reply["conversationEnded"], true);
        let (status, body) = env
            .post(&path, json!({"clientEnv": "sandbox", "message": "hello?"}))
            .await;
        assert_error(status, &body, 410, "CHAT_CONVERSATION_ENDED");
    }
}

#[tokio::test]
async fn chat_ids_are_deterministic_and_caller_ids_honoured() {
    let a = start_default().await;
    let b = start_default().await;
    let (_, x) = a
        .post(&a.agent_path("/debug-chat"), json!({"clientEnv": "live"}))
        .await;
    let (_, y) = b
        .post(&b.agent_path("/debug-chat"), json!({"clientEnv": "live"}))
        .await;
    assert_eq!(x["conversationId"], y["conversationId"]);
    let (status, z) = a
        .post(
            &a.agent_path("/debug-chat"),
            json!({"clientEnv": "live", "conversationId": "my-session", "asrLangCode": "en-GB"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(z["conversationId"], "my-session");
    assert_eq!(z["metadata"]["asrLangCode"], "en-GB");
}

#[tokio::test]
async fn idle_sessions_time_out() {
    let env = start(MockConfig {
        // Wide enough that the first message always arrives in time on a loaded machine.
        chat_idle_timeout: Duration::from_secs(3),
        ..MockConfig::default()
    })
    .await;
    let (_, path) = env.create_chat().await;
    let (status, _) = env
        .post(&path, json!({"clientEnv": "sandbox", "message": "hi"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (status, body) = env
        .post(&path, json!({"clientEnv": "sandbox", "message": "hi"}))
        .await;
    assert_error(status, &body, 400, "CHAT_TIMEOUT");
}

#[tokio::test]
async fn chat_errors() {
    let env = start_default().await;
    let (status, body) = env
        .post(
            &env.agent_path("/debug-chat/AS_CHAT_unknown"),
            json!({"clientEnv": "sandbox"}),
        )
        .await;
    assert_error(status, &body, 404, "CONVERSATIONS_NOT_FOUND");
    for bad in [
        json!({}),
        json!({"clientEnv": 3}),
        json!({"clientEnv": "prod"}),
        json!({"clientEnv": "live", "asrLangCode": null}),
        json!({"clientEnv": "live", "integrationAttributes": []}),
        json!([1]),
    ] {
        let (status, body) = env.post(&env.agent_path("/debug-chat"), bad).await;
        assert_error(status, &body, 400, "SCHEMA_VALIDATION_FAILED");
    }
    let (status, body) = env
        .post(
            &env.agent_path("/debug-chat"),
            json!({"clientEnv": "live", "variantId": "No Such Variant"}),
        )
        .await;
    assert_error(status, &body, 400, "CHAT_DRAFT_NOT_EXIST");
    let (id, path) = env.create_chat().await;
    for bad in [
        json!({"message": "hi"}),
        json!({"clientEnv": "live", "message": 1}),
        json!({"clientEnv": "live", "metadata": "x"}),
    ] {
        let (status, body) = env.post(&path, bad).await;
        assert_error(status, &body, 400, "SCHEMA_VALIDATION_FAILED");
    }
    // A session belongs to its agent.
    let other = env.server.agent_ids()[1].clone();
    let (status, body) = env
        .post(
            &format!("/v1/agents/{other}/debug-chat/{id}"),
            json!({"clientEnv": "sandbox"}),
        )
        .await;
    assert_error(status, &body, 404, "CONVERSATIONS_NOT_FOUND");
}
