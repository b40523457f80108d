//! Retry sequences. Waits go through an injected sleeper that records the delay and returns at
//! once, so the suite stays fast while the chosen delays are asserted exactly.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use polyai_data::annotations::{AddAnnotations, Annotation, AnnotationType, Role};
use polyai_data::retry::RetryPolicy;
use polyai_data::{Client, Error, TransportKind};
use serde_json::json;
use support::{Recorded, Reply, TestServer, client_for, list_a, list_reply};

/// A server that answers the scripted replies in order, then `fallback`.
async fn scripted(script: Vec<Reply>, fallback: Reply) -> TestServer {
    TestServer::counted(move |i, _: &Recorded| {
        script.get(i).cloned().unwrap_or_else(|| fallback.clone())
    })
    .await
}

/// The acknowledgement of a mutation.
fn ack() -> Reply {
    Reply::json(201, json!({"success": true}))
}

fn ok_list() -> Reply {
    Reply::json(
        200,
        json!({"conversations": [], "count": 0, "limit": 50, "offset": 0}),
    )
}

#[tokio::test]
async fn retries_503_503_then_succeeds_with_one_correlation_id() {
    let server = scripted(vec![Reply::status(503), Reply::status(503)], ok_list()).await;
    let (client, delays) = client_for(&server, "k");
    let page = list_a(&client).await.expect("third attempt succeeds");
    assert_eq!(page.count(), Some(0));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("x-polyai-correlation-id"))
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.is_some()),
        "{ids:?}"
    );
    // Full jitter: attempt n waits in [0, 200ms × 2ⁿ⁻¹).
    let delays = delays.lock().expect("lock").clone();
    assert_eq!(delays.len(), 2);
    assert!(
        delays[0] < Duration::from_millis(200) && delays[1] < Duration::from_millis(400),
        "{delays:?}"
    );
}

#[tokio::test]
async fn each_logical_call_gets_a_fresh_correlation_id() {
    let server = scripted(vec![], ok_list()).await;
    let (client, _) = client_for(&server, "k");
    list_a(&client).await.expect("ok");
    list_a(&client).await.expect("ok");
    let r = server.requests();
    assert_ne!(
        r[0].header("x-polyai-correlation-id"),
        r[1].header("x-polyai-correlation-id")
    );
}

#[tokio::test]
async fn honours_retry_after_seconds_and_http_date() {
    let date = httpdate_in(Duration::from_secs(30));
    let server = scripted(
        vec![
            Reply::error(429, "RATE_LIMITED", "slow down").header("retry-after", "7"),
            Reply::status(503).header("retry-after", &date),
        ],
        ok_list(),
    )
    .await;
    let (client, delays) = client_for(&server, "k");
    list_a(&client).await.expect("succeeds");
    let delays = delays.lock().expect("lock").clone();
    assert_eq!(delays[0], Duration::from_secs(7));
    // HTTP-date has one-second resolution.
    assert!(
        delays[1] > Duration::from_secs(28) && delays[1] <= Duration::from_secs(30),
        "{delays:?}"
    );
}

fn httpdate_in(d: Duration) -> String {
    httpdate::fmt_http_date(SystemTime::now() + d)
}

#[tokio::test]
async fn retry_after_beyond_the_cap_is_returned_not_waited() {
    let server = scripted(
        vec![Reply::error(429, "RATE_LIMITED", "later").header("retry-after", "3600")],
        ok_list(),
    )
    .await;
    let (client, delays) = client_for(&server, "k");
    let err = list_a(&client).await.expect_err("429");
    assert!(err.is_rate_limited() && err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.to_string().contains("retry after 3600s"), "{err}");
    assert_eq!(server.count(), 1);
    assert!(delays.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let server = scripted(vec![], Reply::status(502)).await;
    let (client, delays) = client_for(&server, "k");
    let err = client
        .agent("A")
        .conversations()
        .get("c")
        .retry(RetryPolicy::default().max_attempts(3))
        .await
        .expect_err("502");
    assert_eq!(err.status(), Some(502));
    assert_eq!(server.count(), 3);
    assert_eq!(delays.lock().expect("lock").len(), 2);
}

#[tokio::test]
async fn no_retry_override() {
    let server = scripted(vec![], Reply::status(503)).await;
    let (client, _) = client_for(&server, "k");
    let _ = list_a(&client).no_retry().await;
    assert_eq!(server.count(), 1);
}

/// The non-idempotent call of these tests: one annotation on conversation `c` of agent `A`.
fn annotate(client: &Client) -> AddAnnotations {
    client.agent("A").annotate(
        "c",
        [Annotation::new(
            1,
            Role::Agent,
            AnnotationType::MissingTopic,
        )],
    )
}

#[tokio::test]
async fn non_idempotent_call_is_not_retried_after_the_server_received_it() {
    let server = scripted(vec![Reply::status(503)], ack()).await;
    let (client, _) = client_for(&server, "k");
    let err = annotate(&client).await.expect_err("503");
    assert_eq!(err.status(), Some(503));
    assert_eq!(
        server.count(),
        1,
        "an annotation that may have been applied is not re-sent"
    );

    // The same failure on the idempotent note upsert is retried.
    let server = scripted(vec![Reply::status(503)], ack()).await;
    let (client, _) = client_for(&server, "k");
    client.agent("A").note("c", "n").await.expect("retried");
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn non_idempotent_call_is_retried_on_429_and_on_opt_in() {
    let server = scripted(vec![Reply::status(429)], ack()).await;
    let (client, _) = client_for(&server, "k");
    annotate(&client).await.expect("429 retried");
    assert_eq!(server.count(), 2);

    let server = scripted(vec![Reply::status(503)], ack()).await;
    let (client, _) = client_for(&server, "k");
    annotate(&client)
        .retry(RetryPolicy::default().retry_non_idempotent(true))
        .await
        .expect("opted in");
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn timeouts_are_retried_for_reads_only() {
    // Margins are wide on purpose (a 1 s per-attempt timeout against a 10 s stall): on a loaded CI
    // machine a loopback call can take well over 100 ms, and the second attempt must fit the timeout.
    let server = scripted(vec![ok_list().delay(Duration::from_secs(10))], ok_list()).await;
    let (client, delays) = client_for(&server, "k");
    list_a(&client)
        .timeout(Duration::from_secs(1))
        .await
        .expect("second attempt in time");
    assert_eq!(delays.lock().expect("lock").len(), 1);

    let server = scripted(vec![], ack().delay(Duration::from_secs(10))).await;
    let (client, _) = client_for(&server, "k");
    let err = annotate(&client)
        .timeout(Duration::from_secs(1))
        .await
        .expect_err("timeout");
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retryable());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn connect_errors_are_retried_even_for_non_idempotent_calls() {
    // Bind then drop a listener: the port refuses connections.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let delays = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = delays.clone();
    let client = polyai_data::Client::builder()
        .api_key("k")
        .base_url(format!("http://127.0.0.1:{port}"))
        .sleeper(move |d| {
            seen.lock().expect("lock").push(d);
            Box::pin(async {})
        })
        .build()
        .expect("client");
    let err = annotate(&client).await.expect_err("refused");
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        delays.lock().expect("lock").len(),
        3,
        "4 attempts by default"
    );
    assert!(
        err.correlation_id()
            .is_some_and(|c| c.starts_with("polyai-rs-"))
    );
    // The cause chain reaches the refused connection's io error.
    let mut cause = std::error::Error::source(&err);
    let mut io_kind = None;
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        cause = c.source();
    }
    assert_eq!(
        io_kind,
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
}

#[tokio::test]
async fn retries_work_under_paused_tokio_time_with_the_default_sleeper() {
    // The default sleeper is tokio's, so paused time skips a 5 s Retry-After instantly.
    let server = scripted(
        vec![Reply::status(503).header("retry-after", "5")],
        ok_list(),
    )
    .await;
    let client = polyai_data::Client::builder()
        .api_key("k")
        .base_url(server.url())
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    tokio::time::pause();
    list_a(&client).await.expect("ok");
    tokio::time::resume();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn list_walk_retries_a_failing_page() {
    let server = TestServer::counted(|call, r: &Recorded| {
        if call == 1 {
            Reply::status(504)
        } else {
            list_reply(r, 25)
        }
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let all = list_a(&client).limit(10).all().await.expect("walk");
    assert_eq!(all.len(), 25);
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn http_500_is_retried_for_reads_and_not_for_annotations() {
    let server = scripted(vec![Reply::error(500, "INTERNAL_ERROR", "boom")], ok_list()).await;
    let (client, delays) = client_for(&server, "k");
    list_a(&client).await.expect("500 retried");
    assert_eq!(server.count(), 2);
    assert_eq!(delays.lock().expect("lock").len(), 1);

    let server = scripted(vec![Reply::status(500)], ack()).await;
    let (client, _) = client_for(&server, "k");
    let err = annotate(&client).await.expect_err("not retried");
    assert_eq!(err.status(), Some(500));
    assert!(err.is_retryable(), "500 may succeed when tried again later");
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn an_empty_retry_budget_returns_failures_at_once_until_successes_refill_it() {
    let server = scripted(vec![], Reply::status(503)).await;
    let delays = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = delays.clone();
    let client = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .retry(RetryPolicy::default().max_attempts(4).retry_budget(Some(5)))
        .sleeper(move |d| {
            seen.lock().expect("lock").push(d);
            Box::pin(async {})
        })
        .build()
        .expect("client");
    // The first call retries 3 times, the second takes the last 2 retries, the third none.
    for expected in [4, 3, 1] {
        let before = server.count();
        let err = list_a(&client).await.expect_err("503");
        assert_eq!(err.status(), Some(503));
        assert_eq!(server.count() - before, expected);
    }
    assert_eq!(delays.lock().expect("lock").len(), 5);

    // A client without a budget retries every call in full.
    let unlimited = Client::builder()
        .api_key("k")
        .base_url(server.url())
        .retry(RetryPolicy::default().max_attempts(2).retry_budget(None))
        .sleeper(|_| Box::pin(async {}))
        .build()
        .expect("client");
    for _ in 0..200 {
        let before = server.count();
        let _ = list_a(&unlimited).await;
        assert_eq!(server.count() - before, 2);
    }
}

/// The idempotency of a call follows its method: every GET is retried like a read, including
/// ones named nowhere in this crate (the v3 listing).
#[tokio::test]
async fn reads_of_every_api_are_retried() {
    let v3_page = Reply::json(
        200,
        json!({"conversations": [], "cursor": null, "next_offset": null}),
    );
    let server = scripted(vec![Reply::status(502)], v3_page).await;
    let (client, delays) = client_for(&server, "k");
    let page = client
        .workspace("ws-1")
        .project("P")
        .conversations()
        .send()
        .await
        .expect("the second attempt succeeds");
    assert!(page.items().is_empty());
    assert_eq!(server.count(), 2);
    assert_eq!(delays.lock().expect("lock").len(), 1);
}
