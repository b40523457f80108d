//! Walking conversation listings against a loopback server.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polyai_data::Error;
use polyai_data::paginate::Position;
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
        (Some(50), 20, Some(100))
    );
    let second = pages.try_next().await.expect("ok").expect("page");
    assert_eq!((second.offset(), second.items().len()), (Some(70), 10));
    assert!(pages.try_next().await.expect("ok").is_none());
    assert_eq!(offsets(&server)[1], ("70".to_owned(), "10".to_owned()));
}

#[tokio::test]
async fn a_walk_resumes_from_a_saved_position() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 95)).await;
    let (client, _) = client_for(&server, "k");
    let whole = list_a(&client).limit(20).all().await.expect("walk");
    // A run that stops after two pages and saves where the next starts, as JSON.
    let mut pages = list_a(&client).limit(20).prefetch(false).pages();
    let mut first_run = Vec::new();
    let mut saved = String::new();
    for _ in 0..2 {
        let page = pages.try_next().await.expect("ok").expect("page");
        first_run.extend(page.items().iter().map(|c| c.conversation_id.clone()));
        saved = serde_json::to_string(&page.next()).expect("json");
    }
    assert_eq!(saved, r#"{"offset":40}"#);
    let resumed: Position = serde_json::from_str(&saved).expect("a position");
    let rest = list_a(&client)
        .limit(20)
        .from(resumed)
        .all()
        .await
        .expect("walk");
    let resumed_ids: Vec<String> = first_run
        .into_iter()
        .chain(rest.iter().map(|c| c.conversation_id.clone()))
        .collect();
    let whole_ids: Vec<String> = whole.iter().map(|c| c.conversation_id.clone()).collect();
    assert_eq!(resumed_ids, whole_ids, "exactly once, in order");

    // The same from text, as a flag would give it.
    let page = list_a(&client)
        .from("offset:90".parse().expect("a position"))
        .await
        .expect("page");
    assert_eq!(page.items().len(), 5);
    assert_eq!(
        (page.position(), page.next()),
        (Some(&Position::Offset(90)), None)
    );
}

#[tokio::test]
async fn a_cursor_position_is_refused_by_the_data_api() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 10)).await;
    let (client, _) = client_for(&server, "k");
    let cursor = Position::Cursor("eyJuZXh0IjoxMH0".into());
    let err = list_a(&client)
        .from(cursor.clone())
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::InvalidRequest(m) if m.contains("pages by offset") && m.contains("cursor:eyJ")),
        "{err}"
    );
    let err = list_a(&client)
        .from(cursor)
        .all()
        .await
        .expect_err("refused");
    assert!(matches!(&err, Error::InvalidRequest(_)), "{err}");
    assert_eq!(server.count(), 0, "nothing sent");
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
    let all = list_a(&client)
        .limit(10)
        .concurrency(1)
        .all()
        .await
        .expect("walk");
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
    // The second page is compared with the first; pages already in flight by then may land.
    assert!(
        server.count() as usize <= 2 + polyai_data::paginate::DEFAULT_CONCURRENCY,
        "stopped after {} requests",
        server.count()
    );
}

#[tokio::test]
async fn prefetch_requests_the_next_page_before_the_caller_asks() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 30)).await;
    let (client, _) = client_for(&server, "k");
    let mut pages = list_a(&client).limit(10).concurrency(1).pages();
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

/// A server that sends at most `cap` conversations per page whatever `limit` asks, while
/// reporting the full `count` (and its cap as `limit`), as gateways in front of real APIs do.
fn capped_reply(request: &Recorded, total: u64, cap: u64) -> Reply {
    let (limit, offset) = limit_offset(request);
    let page = limit.min(cap);
    let items: Vec<_> = (offset..total.min(offset + page))
        .map(|i| summary(&format!("c{i}")))
        .collect();
    page_reply(items, total, page, offset)
}

#[tokio::test]
async fn servers_capping_pages_at_1_100_and_1000_are_walked_to_the_end() {
    for cap in [1u64, 100, 1000] {
        let total = if cap == 1 { 250 } else { 3000 };
        let server = TestServer::start(move |r: &Recorded| capped_reply(r, total, cap)).await;
        let (client, _) = client_for(&server, "k");
        let all = list_a(&client).limit(5000).all().await.expect("walk");
        assert_eq!(all.len() as u64, total, "cap {cap}");
        let unique: std::collections::HashSet<_> =
            all.iter().map(|c| c.conversation_id.as_str()).collect();
        assert_eq!(unique.len() as u64, total, "cap {cap}: each once");
        assert_eq!(
            server.count() as u64,
            total / cap,
            "cap {cap}: one request per page, none after count"
        );
        let asked = offsets(&server);
        assert!(
            asked.iter().enumerate().all(|(i, (offset, limit))| *offset
                == (i as u64 * cap).to_string()
                && limit == "5000"),
            "cap {cap}: offsets advance by what arrived: {:?}",
            &asked[..asked.len().min(4)]
        );
        let first = list_a(&client).limit(5000).await.expect("page");
        assert_eq!(first.limit(), Some(cap), "the server's reported page size");
        assert_eq!(first.next_offset(), Some(cap));
    }
}

#[tokio::test]
async fn dedupe_keeps_memory_bounded_and_still_drops_shifted_repeats() {
    // 30 000 distinct ids, then the last page repeats the previous page's last item.
    let server = TestServer::start(|r: &Recorded| {
        let (limit, offset) = limit_offset(r);
        let total = 30_001;
        let items: Vec<_> = (offset..total.min(offset + limit))
            .map(|i| summary(&format!("c{}", if i == 30_000 { 29_999 } else { i })))
            .collect();
        page_reply(items, total, limit, offset)
    })
    .await;
    let (client, _) = client_for(&server, "k");
    let all = list_a(&client)
        .limit(1000)
        .dedupe(true)
        .all()
        .await
        .expect("walk");
    assert_eq!(all.len(), 30_000, "the repeat on the next page is dropped");
}

#[tokio::test]
async fn concurrent_walks_over_a_server_capping_at_37_are_exact() {
    // The first page asks for 1000 and gets 37: the walk plans the pages after it at 37, so
    // every item comes once and in order, with one request per page of 37.
    let total = 2000;
    let server = TestServer::start(move |r: &Recorded| capped_reply(r, total, 37)).await;
    let (client, _) = client_for(&server, "k");
    for concurrency in [1, 4, 16] {
        let before = server.count() as u64;
        let all = list_a(&client)
            .concurrency(concurrency)
            .all()
            .await
            .expect("walk");
        let ids: Vec<String> = all.into_iter().map(|c| c.conversation_id).collect();
        let want: Vec<String> = (0..total).map(|i| format!("c{i}")).collect();
        assert!(
            ids == want,
            "concurrency {concurrency}: {} items",
            ids.len()
        );
        let requests = server.count() as u64 - before;
        assert_eq!(
            requests,
            total.div_ceil(37),
            "concurrency {concurrency}: one request per page"
        );
    }
}

#[tokio::test]
async fn a_walk_without_a_page_size_asks_for_max_page_size_then_several_at_once() {
    let server = TestServer::start(|r: &Recorded| list_reply(r, 4500)).await;
    let (client, _) = client_for(&server, "k");
    let all = list_a(&client).all().await.expect("walk");
    assert_eq!(all.len(), 4500);
    assert_eq!(all[4499].conversation_id, "c4499");
    let mut asked = offsets(&server);
    asked.sort_by_key(|(offset, _)| offset.parse::<u64>().unwrap_or(u64::MAX));
    let want: Vec<(String, String)> = (0..5)
        .map(|i| ((i * 1000).to_string(), "1000".to_owned()))
        .collect();
    assert_eq!(asked, want, "pages of MAX_PAGE_SIZE, none past count");
    assert_eq!(polyai_data::paginate::MAX_PAGE_SIZE, 1000);
}
