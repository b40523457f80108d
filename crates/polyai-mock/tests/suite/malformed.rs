//! Malformed requests get 400 (or 404/405) envelopes, never a 500 or a plain-text body.

use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{assert_error, start_default};

#[tokio::test]
async fn bad_bodies() {
    let env = start_default().await;
    let note = env.agent_path(&format!("/conversations/{}/note", env.conv(0)));
    for body in ["{", "", "null", "[]", "\"note\"", "{\"note\": [1]}"] {
        let (status, resp) = env
            .send(
                env.req(Method::POST, &note)
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        assert_error(status, &resp, 400, "CONVERSATIONS_VALIDATION_FAILED");
    }
    let huge = format!("{{\"note\": \"{}\"}}", "x".repeat(1 << 20));
    let (status, resp) = env.send(env.req(Method::POST, &note).body(huge)).await;
    assert_error(status, &resp, 400, "CONVERSATIONS_VALIDATION_FAILED");
    let long = serde_json::json!({"note": "y".repeat(20_000)});
    let (status, resp) = env.post(&note, long).await;
    assert_error(status, &resp, 400, "CONVERSATIONS_VALIDATION_FAILED");
    let chat = env.agent_path("/debug-chat");
    let (status, resp) = env
        .send(env.req(Method::POST, &chat).body("{\"clientEnv\":"))
        .await;
    assert_error(status, &resp, 400, "SCHEMA_VALIDATION_FAILED");
}

#[tokio::test]
async fn bad_query_parameters() {
    let env = start_default().await;
    for q in [
        "limit=0",
        "limit=-5",
        "offset=-1",
        "limit=abc",
        "offset=1.5",
        "limit=",
    ] {
        let (status, resp) = env
            .get(&env.agent_path(&format!("/conversations?{q}")))
            .await;
        assert_error(status, &resp, 400, "CONVERSATIONS_VALIDATION_FAILED");
    }
    let (status, resp) = env
        .get(&env.agent_path("/conversations?limit=1000000"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp["limit"], 1000);
}

#[tokio::test]
async fn odd_paths_and_methods() {
    let env = start_default().await;
    for path in [
        env.agent_path("/conversations/%FF%FE"),
        env.agent_path("/conversations/%00"),
        env.agent_path("/conversations/caf%C3%A9%20%F0%9F%98%80"),
        env.agent_path("/conversations/..%2F..%2Fetc"),
        "/v1/agents/%FF/conversations".to_string(),
    ] {
        let resp = env.req(Method::GET, &path).send().await.expect("sent");
        let status = resp.status();
        assert!(
            status == StatusCode::BAD_REQUEST
                || status == StatusCode::NOT_FOUND
                || status == StatusCode::FORBIDDEN,
            "{path}: {status}"
        );
        let body: serde_json::Value = resp.json().await.expect("json envelope");
        assert_eq!(body["success"], false);
    }
    let (status, resp) = env.get("/v2/nothing").await;
    assert_error(status, &resp, 404, "NOT_FOUND");
    let (status, resp) = env
        .send(env.req(Method::DELETE, &env.agent_path("/conversations")))
        .await;
    assert_error(status, &resp, 405, "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn header_names_are_case_insensitive_on_the_wire() {
    let env = start_default().await;
    let mut sock = tokio::net::TcpStream::connect(env.server.addr())
        .await
        .expect("connect");
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nX-API-KEY: sandbox-key\r\nx-POLYAI-correlation-ID: Mixed-1\r\nConnection: close\r\n\r\n",
        env.agent_path("/conversations?limit=1")
    );
    sock.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    sock.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("x-polyai-correlation-id: Mixed-1"));
}
