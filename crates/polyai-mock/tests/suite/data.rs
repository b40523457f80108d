//! Determinism and scale of the generated data.

use polyai_mock::MockConfig;
use reqwest::{Method, StatusCode};

use crate::common::{Env, rss_kib, start};

async fn raw(env: &Env, path: &str) -> Vec<u8> {
    env.req(Method::GET, &env.agent_path(path))
        .send()
        .await
        .expect("sent")
        .bytes()
        .await
        .expect("body")
        .to_vec()
}

#[tokio::test]
async fn same_seed_same_bytes() {
    let a = start(MockConfig::default().seed(7)).await;
    let b = start(MockConfig::default().seed(7)).await;
    let c = start(MockConfig::default().seed(8)).await;
    assert_eq!(a.server.agent_ids(), b.server.agent_ids());
    assert_ne!(a.server.agent_ids(), c.server.agent_ids());
    assert_eq!(a.server.agent_ids()[0], polyai_mock::SANDBOX_AGENT);
    assert_eq!(c.server.agent_ids()[0], polyai_mock::SANDBOX_AGENT);
    let list = "/conversations?limit=100&offset=20";
    assert_eq!(raw(&a, list).await, raw(&b, list).await);
    let id = a.conv(33);
    let detail = format!("/conversations/{id}");
    assert_eq!(raw(&a, &detail).await, raw(&b, &detail).await);
    let i = a.find_conv(true);
    let audio = format!("/conversations/{}/audio?direction=user", a.conv(i));
    assert_eq!(raw(&a, &audio).await, raw(&b, &audio).await);
}

#[tokio::test]
async fn a_million_conversations_cost_nothing() {
    let before = rss_kib();
    let env = start(MockConfig::default().conversations(1_000_000)).await;
    let (status, body) = env
        .get(&env.agent_path("/conversations?limit=50&offset=999950"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 1_000_000);
    let items = body["conversations"].as_array().expect("array");
    assert_eq!(items.len(), 50);
    assert_eq!(items[49]["conversationId"], env.conv(999_999));
    let last = env.conv(999_999);
    let (status, detail) = env
        .get(&env.agent_path(&format!("/conversations/{last}")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["conversationId"], last);
    let (_, first) = env.get(&env.agent_path("/conversations?limit=1")).await;
    assert!(first["conversations"][0]["createdAt"].as_str() > items[49]["createdAt"].as_str());
    // How fast paging at a deep offset is belongs to scripts/bench-mock.sh, not to a timed test.
    let growth_mib = rss_kib().saturating_sub(before) / 1024;
    assert!(growth_mib < 32, "RSS grew {growth_mib} MiB");
}
