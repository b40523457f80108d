//! Debug chat: create, scripted answers, handoff, goodbye and 410, timeout, unknown sessions, validation.

use std::time::Duration;

use polyai_mock::MockConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

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

/// Replays a seeded conversation's caller turns in a debug chat with `variant`; the chat's
/// replies and the conversation's agent turns, side by side, with each turn's function names.
async fn replay(
    env: &crate::common::Env,
    index: u64,
    variant: Option<&str>,
) -> Vec<((Value, Vec<Value>), (Value, Vec<Value>))> {
    let (_, detail) = env
        .get(&env.agent_path(&format!("/conversations/{}", env.conv(index))))
        .await;
    let mut body = json!({"clientEnv": "sandbox"});
    if let Some(v) = variant {
        body["variantId"] = json!(v);
    }
    let (status, created) = env.post(&env.agent_path("/debug-chat"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["conversationId"].as_str().expect("id").to_owned();
    let path = env.agent_path(&format!("/debug-chat/{id}"));
    let names = |events: &Value| -> Vec<Value> {
        events
            .as_array()
            .map(|e| e.iter().map(|e| e["name"].clone()).collect())
            .unwrap_or_default()
    };
    let turns = detail["turns"].as_array().expect("turns");
    let mut pairs = vec![(
        (turns[0]["agent_response"].clone(), vec![]),
        (created["response"].clone(), vec![]),
    )];
    for (k, turn) in turns.iter().enumerate().skip(1) {
        let (status, reply) = env
            .post(
                &path,
                json!({"clientEnv": "sandbox", "message": turn["user_input"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        let recorded = names(&detail["functionEvents"][k.to_string()]);
        pairs.push((
            (turn["agent_response"].clone(), recorded),
            (
                reply["response"].clone(),
                names(&reply["metadata"]["functionEvents"]),
            ),
        ));
        if reply["conversationEnded"] == true {
            assert_eq!(k, turns.len() - 1, "the chat ends where the recording does");
            assert!(
                detail["handoff"] == true
                    || turn["user_input"]
                        .as_str()
                        .is_some_and(|u| u.contains("Bye")),
                "{turn}"
            );
        }
    }
    pairs
}

#[tokio::test]
async fn seeded_conversations_are_what_the_debug_chat_answers() {
    let env = start_default().await;
    let mut handoffs = 0;
    for index in 4..40 {
        for (recorded, replayed) in replay(&env, index, None).await {
            assert_eq!(recorded, replayed, "conversation {index}");
        }
        let (_, detail) = env
            .get(&env.agent_path(&format!("/conversations/{}", env.conv(index))))
            .await;
        if detail["handoff"] == true {
            handoffs += 1;
            assert_eq!(detail["handoffDestination"], "Front Desk");
        }
        // One of the agent's own variants answers the same.
        if let Some(v) = detail["variantId"].as_str() {
            for (recorded, replayed) in replay(&env, index, Some(v)).await {
                assert_eq!(recorded, replayed, "conversation {index} on {v}");
            }
        }
    }
    assert!(handoffs > 0);
}

#[tokio::test]
async fn the_candidate_variant_differs_in_the_documented_ways() {
    let env = start_default().await;
    let (status, created) = env
        .post(
            &env.agent_path("/debug-chat"),
            json!({"clientEnv": "pre-release", "variantId": polyai_mock::script::CANDIDATE_VARIANT}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["conversationId"].as_str().expect("id");
    let path = env.agent_path(&format!("/debug-chat/{id}"));
    let (_, billing) = env
        .post(
            &path,
            json!({"clientEnv": "pre-release", "message": "I think I was charged twice this month"}),
        )
        .await;
    assert_eq!(billing["metadata"]["functionEvents"], json!([]));
    assert_eq!(billing["metadata"]["citedTopic"], "Billing question");
    let (_, handoff) = env
        .post(
            &path,
            json!({"clientEnv": "pre-release", "message": "Can I speak to a real person?"}),
        )
        .await;
    assert_eq!(handoff["metadata"]["handoffDestination"], "Escalations");
    assert_eq!(
        handoff["metadata"]["functionEvents"][0]["arguments"],
        json!({"destination": "Escalations"})
    );
    assert_eq!(handoff["conversationEnded"], true);
    // Replayed on the candidate, the seeded conversations differ only where documented.
    let mut kinds = std::collections::BTreeSet::new();
    for index in 4..40 {
        for ((text, functions), (now_text, now_functions)) in
            replay(&env, index, Some("Next Release")).await
        {
            if functions != now_functions {
                assert_eq!(functions, [json!("lookup_account")]);
                kinds.insert("function");
            }
            if text != now_text {
                let known = polyai_mock::script::CANDIDATE_OPENING_HOURS_LINES
                    .iter()
                    .chain(polyai_mock::script::CANDIDATE_ORDER_STATUS_LINES)
                    .any(|l| now_text == *l);
                assert!(known, "{text} → {now_text}");
                kinds.insert("text");
            }
        }
    }
    assert_eq!(kinds.len(), 2, "{kinds:?}");
}
