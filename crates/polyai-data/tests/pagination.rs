//! Walking conversation listings against a loopback server.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polyai_data::Error;
use serde_json::json;
use support::{
    Recorded, Reply, TestServer, client_for, limit_offset, list_a, list_reply, page_reply, summary,
};

fn offsets(server: &TestServer) -> Vec<(String, String)> {
    server
        .requests()
        .iter()
        .map(|r| {
            (
                r.query_param("offset").unwrap_or_default(),
                r.query_param("limit").unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn empty_listing() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 0)).await;
    let (client, _) = client_for(&server, "k");
    let all = list_a(&client).all().await.expect("walk");
    assert!(all.is_empty());
    assert_eq!(server.count(), 1);
    let mut pages = list_a(&client).pages();
    assert!(pages.try_next().await.expect("ok").is_none());
}

#[tokio::test]
async fn exact_multiple_of_the_page_size_needs_no_extra_request() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 30)).await;
    let (client, _) = client_for(&server, "k");
    let all = list_a(&client).limit(10).all().await.expect("walk");
    let ids: Vec<_> = all.iter().map(|c| c.conversation_id.clone()).collect();
    assert_eq!(ids.len(), 30);
    assert_eq!(ids[29], "c29");
    assert_eq!(
        offsets(&server),
        [("0", "10"), ("10", "10"), ("20", "10")].map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

#[tokio::test]
async fn pages_stream_with_start_offset_and_max_items() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 100)).await;
    let (client, _) = client_for(&server, "k");
    let mut pages = list_a(&client).limit(20).offset(50).max_items(30).pages();
    let first = pages.try_next().await.expect("ok").expect("page");
    assert_eq!(
        (first.offset(), first.items().len(), first.count()),
        (50, 20, 100)
    );
    let second = pages.try_next().await.expect("ok").expect("page");
    assert_eq!((second.offset(), second.items().len()), (70, 10));
    assert!(pages.try_next().await.expect("ok").is_none());
    assert_eq!(offsets(&server)[1], ("70".to_owned(), "10".to_owned()));
}

#[tokio::test]
async fn count_growing_mid_walk_yields_duplicates_that_dedupe_removes() {
    // Newest first: each request after the first sees one more conversation at the front.
    let arrivals = Arc::new(AtomicU64::new(0));
    let make = |arrivals: Arc<AtomicU64>| {
        move |r: &Recorded| {
            let new = arrivals.fetch_add(1, Ordering::SeqCst);
            let (limit, offset) = limit_offset(r);
            let total = 25 + new;
            let all: Vec<String> = (0..new)
                .rev()
                .map(|i| format!("new{i}"))
                .chain((0..25).map(|i| format!("c{i}")))
                .collect();
            let items: Vec<_> = all
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|id| summary(id))
                .collect();
            page_reply(items, total, limit, offset)
        }
    };
    let server = TestServer::start(make(arrivals.clone())).await;
    let (client, _) = client_for(&server, "k");
    let plain = list_a(&client)
        .limit(10)
        .prefetch(false)
        .all()
        .await
        .expect("walk");
    let unique: std::collections::HashSet<_> =
        plain.iter().map(|c| c.conversation_id.clone()).collect();
    assert!(
        plain.len() > unique.len(),
        "offset paging repeats shifted items"
    );

    arrivals.store(0, Ordering::SeqCst);
    let deduped = list_a(&client)
        .limit(10)
        .prefetch(false)
        .dedupe(true)
        .all()
        .await
        .expect("walk");
    let unique: std::collections::HashSet<_> =
        deduped.iter().map(|c| c.conversation_id.clone()).collect();
    assert_eq!(deduped.len(), unique.len());
    assert!(
        unique.contains("c24"),
        "the walk reaches the oldest conversation"
    );
}

#[tokio::test]
async fn count_shrinking_mid_walk_ends_the_walk() {
    let server = TestServer::counted(|call, r: &Recorded| {
        let total = if call == 0 { 100 } else { 15 };
        list_reply(r, total)
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let all = list_a(&client).limit(10).all().await.expect("walk");
    assert_eq!(all.len(), 15);
    assert_eq!(server.count(), 2);
}

#[tokio::test]
async fn a_server_repeating_the_same_page_forever_is_stopped() {
    let server = TestServer::start(|_: &Recorded| {
        Reply::json(200, json!({"conversations": [summary("a"), summary("b")], "count": 1_000_000, "limit": 2, "offset": 0}))
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let err = list_a(&client).limit(2).all().await.expect_err("loop");
    assert!(
        matches!(err, Error::Pagination(ref m) if m.contains("same page")),
        "{err}"
    );
    assert!(
        server.count() <= 3,
        "stopped after {} requests",
        server.count()
    );
}

#[tokio::test]
async fn prefetch_requests_the_next_page_before_the_caller_asks() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 30)).await;
    let (client, _) = client_for(&server, "k");
    let mut pages = list_a(&client).limit(10).pages();
    let _first = pages.try_next().await.expect("ok").expect("page");
    // Poll for up to 20 s: the prefetch runs on its own task, which a loaded machine may start late.
    for _ in 0..2000 {
        if server.count() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.count(),
        2,
        "second page fetched while the first is being consumed"
    );
    drop(pages);
}
