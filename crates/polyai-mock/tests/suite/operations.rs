//! Every conversation operation's success and error paths, and authentication.

use polyai_mock::{ApiKey, MockConfig, SANDBOX_KEY};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{assert_error, start, start_default};

#[tokio::test]
async fn list_pages_newest_first_with_total_count() {
    let env = start_default().await;
    let (status, body) = env.get(&env.agent_path("/conversations")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 200);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    let items = body["conversations"].as_array().expect("array");
    assert_eq!(items.len(), 50);
    let created: Vec<&str> = items
        .iter()
        .map(|c| c["createdAt"].as_str().expect("createdAt"))
        .collect();
    assert!(created.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(items[0]["conversationId"], env.conv(0));
    assert_eq!(items[0]["projectId"], env.agent);

    let (_, page) = env
        .get(&env.agent_path("/conversations?limit=2&offset=198"))
        .await;
    assert_eq!(page["conversations"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["conversations"][1]["conversationId"], env.conv(199));
    assert_eq!(page["count"], 200);
    let (_, past) = env.get(&env.agent_path("/conversations?offset=500")).await;
    assert_eq!(past["conversations"], json!([]));
    assert_eq!(past["offset"], 500);
}

#[tokio::test]
async fn list_covers_channels_directions_and_envs() {
    let env = start_default().await;
    let (_, body) = env.get(&env.agent_path("/conversations?limit=200")).await;
    let items = body["conversations"].as_array().expect("array");
    let has = |field: &str, value: serde_json::Value| items.iter().any(|c| c[field] == value);
    for channel in ["VOICE-SIP", "CHAT", "WEBCHAT"] {
        assert!(has("channel", json!(channel)), "{channel}");
    }
    for env_name in ["sandbox", "pre-release", "live"] {
        assert!(has("clientEnv", json!(env_name)), "{env_name}");
    }
    assert!(has("direction", json!("inbound")) && has("direction", json!("outbound")));
    assert!(has("handoff", json!(true)) && has("handoff", json!(false)));
    assert!(has("shortSummary", json!(null)));
    assert!(
        items
            .iter()
            .any(|c| c["shortSummary"]["heading"].is_string())
    );
    assert!(has("audioUrl", json!(null)));
}

#[tokio::test]
async fn in_progress_calls_exist_among_the_newest() {
    let env = start(MockConfig::default().agents(8)).await;
    let mut found = false;
    for agent in env.server.agent_ids() {
        let (_, body) = env
            .get(&format!("/v1/agents/{agent}/conversations?limit=4"))
            .await;
        for c in body["conversations"].as_array().expect("array") {
            if c["inProgress"] == true {
                assert_eq!(c["finishedAt"], json!(null));
                assert_eq!(c["audioUrl"], json!(null));
                found = true;
            }
        }
    }
    assert!(found);
}

#[tokio::test]
async fn get_returns_detail_with_wire_shapes() {
    let env = start_default().await;
    let id = env.conv(7);
    let (status, body) = env
        .get(&env.agent_path(&format!("/conversations/{id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["conversationId"], id);
    assert_eq!(body["accountId"], env.server.account_id());
    let turns = body["turns"].as_array().expect("turns");
    assert!(turns.len() >= 2);
    assert_eq!(turns[0]["user_input"], "");
    assert!(turns[0]["turn_id"].as_u64().expect("turn_id") > 1000);
    assert!(turns[1]["metadata"]["retrieved_topics"].is_array());
    assert!(turns[1]["latency"]["perceived_latency"].is_number());
    let metrics = body["metrics"].as_object().expect("metrics");
    assert_eq!(
        metrics["CALL_DURATION"][0]["value"],
        body["totalDuration"].to_string()
    );
    assert!(metrics["TOTAL_AGENT_TURNS"][0]["value"].is_string());
    for (k, events) in body["functionEvents"].as_object().expect("functionEvents") {
        assert!(k.parse::<usize>().is_ok());
        assert!(
            events[0]["start_time"]
                .as_str()
                .expect("start_time")
                .ends_with(" GMT")
        );
    }
}

#[tokio::test]
async fn unknown_conversations_answer_404() {
    let env = start_default().await;
    for id in [
        "CA00000000000000000000000000000000".to_string(),
        "nope".to_string(),
        env.server.conversation_id(1, 0), // another agent's conversation
        env.server.conversation_id(0, 200), // past the end
    ] {
        let (status, body) = env
            .get(&env.agent_path(&format!("/conversations/{id}")))
            .await;
        assert_error(status, &body, 404, "CONVERSATIONS_NOT_FOUND");
    }
}

#[tokio::test]
async fn notes_are_stored_and_visible() {
    let env = start_default().await;
    let id = env.conv(3);
    let note_path = env.agent_path(&format!("/conversations/{id}/note"));
    let detail_path = env.agent_path(&format!("/conversations/{id}"));
    let (status, body) = env.post(&note_path, json!({"note": "call back"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({"success": true}));
    assert_eq!(env.get(&detail_path).await.1["note"], "call back");
    let (_, page) = env
        .get(&env.agent_path("/conversations?limit=1&offset=3"))
        .await;
    assert_eq!(page["conversations"][0]["note"], "call back");
    // Upsert replaces.
    env.post(&note_path, json!({"note": "done"})).await;
    assert_eq!(env.get(&detail_path).await.1["note"], "done");

    for bad in [json!({}), json!({"note": 5}), json!({"note": null})] {
        let (status, body) = env.post(&note_path, bad).await;
        assert_error(status, &body, 400, "CONVERSATIONS_VALIDATION_FAILED");
    }
    let unknown = env.agent_path("/conversations/CA00000000000000000000000000000000/note");
    let (status, body) = env.post(&unknown, json!({"note": "x"})).await;
    assert_error(status, &body, 404, "CONVERSATIONS_NOT_FOUND");
}

#[tokio::test]
async fn annotations_are_validated_and_visible() {
    let env = start_default().await;
    let id = env.conv(5);
    let turns = env.server.turn_count(0, 5);
    let path = env.agent_path(&format!("/conversations/{id}/annotation"));
    let (status, body) = env
        .post(
            &path,
            json!({"annotations": [
                {"turnId": 0, "role": "agent", "annotationType": "wrong_info"},
                {"turnId": turns - 1, "role": "user", "annotationType": "wrong_transcript"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body, json!({"success": true}));
    let (_, detail) = env
        .get(&env.agent_path(&format!("/conversations/{id}")))
        .await;
    assert_eq!(
        detail["turns"][0]["reviews"],
        json!([{"role": "agent", "annotation_type": "wrong_info"}])
    );
    assert_eq!(env.server.state().annotations[&id].len(), 2);

    let bad = [
        (json!({"annotations": []}), "at least one"),
        (json!({}), "required"),
        (json!({"annotations": {}}), "array"),
        (
            json!({"annotations": [{"turnId": 0, "role": "agent", "annotationType": "wrong_info"}, {"turnId": turns, "role": "user", "annotationType": "missing_topic"}]}),
            "annotations[1]",
        ),
        (
            json!({"annotations": [{"turnId": -1, "role": "user", "annotationType": "missing_topic"}]}),
            "annotations[0]",
        ),
        (
            json!({"annotations": [{"turnId": 0, "role": "bot", "annotationType": "missing_topic"}]}),
            "role",
        ),
        (
            json!({"annotations": [{"turnId": 0, "role": "user", "annotationType": "rude"}]}),
            "annotationType",
        ),
        (
            json!({"annotations": [{"role": "user", "annotationType": "wrong_info"}]}),
            "turnId",
        ),
        (json!({"annotations": ["x"]}), "annotations[0]"),
    ];
    for (body, needle) in bad {
        let (status, resp) = env.post(&path, body.clone()).await;
        assert_error(status, &resp, 400, "CONVERSATIONS_VALIDATION_FAILED");
        let msg = resp["error_message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{body} → {msg}");
    }
}

#[tokio::test]
async fn auth_failures() {
    let env = start(
        MockConfig::default()
            .key(ApiKey::new("eu-key", "eu"))
            .key(ApiKey::new("scoped", "us").scoped_to(["PROJECT-OTHER"])),
    )
    .await;
    let url = env.url(&env.agent_path("/conversations"));
    let (status, body) = env.send(env.client.get(&url)).await;
    assert_error(status, &body, 401, "AUTH_USER_INVALID_TOKEN");
    let (status, body) = env.send(env.client.get(&url).header("x-api-key", "")).await;
    assert_error(status, &body, 401, "AUTH_USER_INVALID_TOKEN");
    let (status, body) = env
        .send(env.client.get(&url).header("X-Api-Key", "wrong"))
        .await;
    assert_error(status, &body, 401, "AUTH_USER_NOT_FOUND");
    let (status, body) = env
        .send(env.client.get(&url).header("x-api-key", "eu-key"))
        .await;
    assert_error(status, &body, 401, "AUTH_USER_NOT_FOUND");
    let (status, body) = env
        .send(env.client.get(&url).header("x-api-key", "scoped"))
        .await;
    assert_error(status, &body, 403, "ACCOUNT_INSUFFICIENT_PERMISSIONS");
    let (status, _) = env
        .send(env.client.get(&url).header("x-api-key", SANDBOX_KEY))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn scoped_keys_reach_their_agents_only() {
    let probe = start_default().await;
    let agents = probe.server.agent_ids();
    let env =
        start(MockConfig::default().key(ApiKey::new("k1", "us").scoped_to([agents[1].clone()])))
            .await;
    let get = |agent: &str| {
        env.client
            .get(env.url(&format!("/v1/agents/{agent}/conversations?limit=1")))
            .header("x-api-key", "k1")
    };
    assert_eq!(env.send(get(&agents[1])).await.0, StatusCode::OK);
    let (status, body) = env.send(get(&agents[0])).await;
    assert_error(status, &body, 403, "ACCOUNT_INSUFFICIENT_PERMISSIONS");
}

#[tokio::test]
async fn unknown_agents() {
    let env = start_default().await;
    let (status, body) = env
        .get("/v1/agents/PROJECT-NOPE/conversations/CA00000000000000000000000000000000")
        .await;
    assert_error(status, &body, 404, "PROJECT_NOT_FOUND");
    // The spec declares no 404 on list and create-chat: those answer 403.
    let (status, body) = env.get("/v1/agents/PROJECT-NOPE/conversations").await;
    assert_error(status, &body, 403, "ACCOUNT_INSUFFICIENT_PERMISSIONS");
    let (status, body) = env
        .post(
            "/v1/agents/PROJECT-NOPE/debug-chat",
            json!({"clientEnv": "sandbox"}),
        )
        .await;
    assert_error(status, &body, 403, "ACCOUNT_INSUFFICIENT_PERMISSIONS");
}

#[tokio::test]
async fn correlation_id_is_echoed() {
    let env = start_default().await;
    let resp = env
        .req(Method::GET, &env.agent_path("/conversations/nope"))
        .header("X-PolyAI-Correlation-Id", "adk-1234")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.headers()["x-polyai-correlation-id"], "adk-1234");
    assert!(resp.headers().contains_key("x-kong-request-id"));
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error_id"], "adk-1234");

    let resp = env
        .req(Method::GET, &env.agent_path("/conversations/nope"))
        .send()
        .await
        .expect("sent");
    let header = resp.headers()["x-polyai-correlation-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error_id"], header);
    assert_eq!(header.len(), 36);
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let env = start_default().await;
    let addr = env.server.addr();
    env.server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());

    let env = start(MockConfig {
        agent_ids: Some(vec!["PROJECT-58RP822I".into()]),
        ..MockConfig::default()
    })
    .await;
    assert_eq!(env.server.agent_ids(), ["PROJECT-58RP822I"]);
    let addr = env.server.addr();
    drop(env);
    // Dropping stops the server in the background: wait for it (bounded) rather than a fixed sleep.
    let mut closed = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(closed, "still accepting connections 10 s after the drop");
}
