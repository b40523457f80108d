//! The key never leaks: not in `Debug`, `Display`, errors or logs, and not to another host
//! through a redirect. A 401 explains which Studio the key must come from.

mod support;

use polyai_data::Client;
use support::{Recorded, Reply, TestServer, client_for, list_a, list_reply};

const KEY: &str = "sk-LEAK-CANARY-8d1f";

#[tokio::test]
async fn unauthorized_names_the_host_and_the_studio_rule() {
    let server = TestServer::start(|_: &Recorded| {
        Reply::error(401, "AUTH_USER_INVALID_TOKEN", "Invalid token")
    })
    .await;
    let (client, _) = client_for(&server, KEY);
    let err = list_a(&client).await.expect_err("401");
    let text = err.to_string();
    assert!(err.is_unauthorized());
    assert!(text.contains(&format!("from {}", server.addr)), "{text}");
    assert!(
        text.contains("Agent Studio") && text.contains("studio.us.poly.ai ↔ api.us.poly.ai"),
        "{text}"
    );
    assert_eq!(server.count(), 1, "401 is not retried");
}

#[tokio::test]
async fn cross_host_redirect_does_not_receive_the_key() {
    let other = TestServer::start(|r: &Recorded| list_reply(r, 1)).await;
    let target = format!(
        "http://localhost:{}/v1/agents/A/conversations",
        other.addr.port()
    );
    let server =
        TestServer::start(move |_: &Recorded| Reply::status(307).header("location", &target)).await;
    let (client, _) = client_for(&server, KEY);
    let err = list_a(&client).await.expect_err("redirect not followed");
    assert_eq!(err.status(), Some(307));
    assert_eq!(other.count(), 0, "the other host received a request");

    // Control: reqwest's default policy would have forwarded the custom header.
    let plain = reqwest::Client::new();
    let _ = plain
        .get(format!("{}/x", server.url()))
        .header("x-api-key", KEY)
        .send()
        .await;
    assert_eq!(
        other
            .requests()
            .first()
            .and_then(|r| r.header("x-api-key").map(str::to_owned))
            .as_deref(),
        Some(KEY)
    );
}

#[tokio::test]
async fn same_host_redirect_is_followed() {
    let server = TestServer::start(|r: &Recorded| {
        if r.path == "/old/v1/agents/A/conversations" {
            Reply::status(308).header("location", "/v1/agents/A/conversations")
        } else {
            list_reply(r, 2)
        }
    })
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/old", server.url()))
        .build()
        .expect("client");
    let page = list_a(&client).await.expect("followed");
    assert_eq!(page.items().len(), 2);
    assert_eq!(server.count(), 2);
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let err = Client::builder()
        .api_key(KEY)
        .base_url("http://api.us.poly.ai")
        .build()
        .expect_err("refused");
    assert!(err.to_string().contains("refusing plain http://"), "{err}");
    assert!(!err.to_string().contains(KEY));
}
