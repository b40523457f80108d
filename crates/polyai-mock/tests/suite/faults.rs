//! Each fault kind, programmatic control, and determinism under a seed.

use std::time::{Duration, Instant};

use polyai_mock::{FaultConfig, MockConfig};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Env, assert_error, start, start_default};

async fn status_of(env: &Env) -> StatusCode {
    env.req(Method::GET, &env.agent_path("/conversations?limit=1"))
        .send()
        .await
        .expect("sent")
        .status()
}

#[tokio::test]
async fn latency_is_added() {
    let env = start_default().await;
    env.server.faults().set_latency(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(status_of(&env).await, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Reset removes it: with a minute of latency set and then reset, the answer comes long before
    // the minute (no upper bound near the real cost of a call, which a loaded machine can exceed).
    env.server.faults().set_latency(Duration::from_secs(60));
    env.server.faults().reset();
    let answer = tokio::time::timeout(Duration::from_secs(30), status_of(&env)).await;
    assert_eq!(
        answer.expect("answered without the reset latency"),
        StatusCode::OK
    );
}

#[tokio::test]
async fn fail_next_then_recover() {
    let env = start_default().await;
    env.server.faults().fail_next(2, 503);
    for _ in 0..2 {
        let (status, body) = env.get(&env.agent_path("/conversations")).await;
        assert_error(status, &body, 503, "SERVICE_UNAVAILABLE");
    }
    assert_eq!(status_of(&env).await, StatusCode::OK);
    env.server.faults().fail_next(1, 429);
    let resp = env
        .req(Method::GET, &env.agent_path("/conversations"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "1");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let env = start_default().await;
    env.server.faults().rate_limit(Some(Duration::from_secs(3)));
    let resp = env
        .req(Method::GET, &env.agent_path("/conversations"))
        .header("X-PolyAI-Correlation-Id", "rl-1")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "3");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error_id"], "rl-1");
    env.server.faults().rate_limit(None);
    assert_eq!(status_of(&env).await, StatusCode::OK);
}

#[tokio::test]
async fn fail_fraction_is_deterministic() {
    async fn run() -> Vec<u16> {
        let env = start(MockConfig {
            faults: FaultConfig {
                fail_fraction: 0.5,
                fail_statuses: vec![500, 502],
                ..FaultConfig::default()
            },
            ..MockConfig::default()
        })
        .await;
        let mut out = Vec::new();
        for _ in 0..40 {
            out.push(status_of(&env).await.as_u16());
        }
        out
    }
    let a = run().await;
    assert_eq!(a, run().await);
    let failed = a.iter().filter(|&&s| s != 200).count();
    assert!((8..=32).contains(&failed), "{a:?}");
    assert!(a.iter().all(|s| [200, 500, 502].contains(s)));
}

/// Sends a raw GET and reads until the connection ends: (declared length, body bytes received, read error?).
async fn raw_get(env: &Env, path: &str) -> (usize, usize, bool) {
    let mut sock = tokio::net::TcpStream::connect(env.server.addr())
        .await
        .expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nX-API-KEY: sandbox-key\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut errored = false;
    loop {
        match sock.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => {
                errored = true;
                break;
            }
        }
    }
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers")
        + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let declared = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    (declared, buf.len() - head_end, errored)
}

#[tokio::test]
async fn truncated_bodies_declare_more_than_they_send() {
    let env = start_default().await;
    env.server.faults().truncate_body(true);
    let path = env.agent_path("/conversations?limit=5");
    let (declared, got, _) = raw_get(&env, &path).await;
    assert!(got < declared, "{got} < {declared}");
    assert!(got > 0);
    // The audio stream too.
    let i = env.find_conv(true);
    let (declared, got, _) = raw_get(
        &env,
        &env.agent_path(&format!("/conversations/{}/audio", env.conv(i))),
    )
    .await;
    assert!(got < declared && got > 44);
    let err = env
        .req(Method::GET, &path)
        .send()
        .await
        .expect("headers")
        .bytes()
        .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn connections_reset_mid_body() {
    let env = start_default().await;
    env.server.faults().reset_mid_body(true);
    let path = env.agent_path("/conversations?limit=5");
    let resp = env
        .req(Method::GET, &path)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.is_err());
    let (declared, got, _) = raw_get(&env, &path).await;
    assert!(got < declared && got > 0);
}

#[tokio::test]
async fn slow_bodies_are_throttled() {
    let env = start_default().await;
    env.server.faults().slow_body(Some(8_000));
    let t = Instant::now();
    let (status, body) = env.get(&env.agent_path("/conversations?limit=2")).await;
    assert_eq!(status, StatusCode::OK);
    let len = body.to_string().len() as f64;
    let expected = len / 8_000.0;
    assert!(
        t.elapsed().as_secs_f64() >= expected * 0.7,
        "{:?} for {len} bytes",
        t.elapsed()
    );
}

#[tokio::test]
async fn body_faults_hit_only_their_fraction_and_the_same_requests_each_run() {
    async fn run() -> Vec<bool> {
        let env = start_default().await;
        env.server.faults().truncate_body(true);
        env.server.faults().body_fault_fraction(Some(0.3));
        let path = env.agent_path("/conversations?limit=5");
        let mut broken = Vec::new();
        for _ in 0..40 {
            let (declared, got, _) = raw_get(&env, &path).await;
            broken.push(got < declared);
        }
        broken
    }
    let a = run().await;
    assert_eq!(a, run().await, "seeded: the same requests break");
    let hit = a.iter().filter(|&&b| b).count();
    assert!((4..=24).contains(&hit), "{hit} of 40 broken");
}

#[tokio::test]
async fn detail_ids_can_differ_in_case_from_the_listing() {
    let env = start_default().await;
    let id = env.conv(0);
    assert_eq!(env.server.faults().requests(), 0);
    env.server.faults().upper_case_detail_ids(true);
    let (status, body) = env
        .get(&env.agent_path(&format!("/conversations/{id}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let upper = format!("CA{}", id[2..].to_ascii_uppercase());
    assert_ne!(upper, id);
    assert_eq!(body["conversationId"], upper.as_str());
    let (_, list) = env.get(&env.agent_path("/conversations?limit=1")).await;
    assert_eq!(list["conversations"][0]["conversationId"], id.as_str());
    assert_eq!(env.server.faults().requests(), 2, "requests are counted");
}
