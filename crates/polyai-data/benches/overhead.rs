//! Benchmarks (not timed tests): per-call overhead of polyai-data versus a bare reqwest call
//! against the same loopback server, the cost of a hook, and a full listing of 100 000 conversations with and
//! without page prefetch.
//!
//! ```sh
//! cargo bench -p polyai-data --bench overhead
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use polyai_data::Client;
use polyai_data::models::Conversation;
use support::{Recorded, Reply, TestServer, list_reply};

const CALLS: u32 = 3_000;
const TOTAL: u64 = 100_000;
const PAGE: u64 = 500;
const LATENCY: Duration = Duration::from_millis(5);
const WORK_PER_PAGE: Duration = Duration::from_millis(5);

fn detail() -> serde_json::Value {
    serde_json::json!({
        "conversationId": "CA1", "accountId": "PLATFORM", "projectId": "P",
        "shortSummary": {"heading": "h", "content": "c"}, "totalDuration": 73,
        "turns": [{"turn_id": 1, "user_input": "hi", "agent_response": "hello"}],
        "metrics": {"CALL_DURATION": [{"timestamp": "2026-06-03T13:19:19.757917", "value": "73"}]}
    })
}

async fn per_call_overhead() {
    let body = detail();
    let server = TestServer::start(move |_: &Recorded| Reply::json(200, body.clone())).await;
    let client = Client::builder()
        .api_key("bench")
        .base_url(server.url())
        .build()
        .expect("client");
    let bare = reqwest::Client::new();
    let url = format!("{}/v1/agents/P/conversations/CA1", server.url());

    let agent = client.agent("P");
    let bare_call = || async {
        let bytes = bare
            .get(&url)
            .header("x-api-key", "bench")
            .header("accept", "application/json")
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        let _: Conversation = serde_json::from_slice(&bytes).expect("decode");
    };
    // Warm up both paths (connections, allocator).
    for _ in 0..200 {
        bare_call().await;
        agent.conversations().get("CA1").await.expect("call");
    }
    let mut bare_best = Duration::MAX;
    let mut ours_best = Duration::MAX;
    for _round in 0..3 {
        let start = Instant::now();
        for _ in 0..CALLS {
            bare_call().await;
        }
        bare_best = bare_best.min(start.elapsed());
        let start = Instant::now();
        for _ in 0..CALLS {
            agent.conversations().get("CA1").await.expect("call");
        }
        ours_best = ours_best.min(start.elapsed());
    }
    let bare_us = bare_best.as_secs_f64() * 1e6 / f64::from(CALLS);
    let ours_us = ours_best.as_secs_f64() * 1e6 / f64::from(CALLS);
    println!("per-call (GET conversation, {CALLS} sequential calls, best of 3):");
    println!("  bare reqwest + serde_json : {bare_us:8.1} µs/call");
    println!("  polyai-data               : {ours_us:8.1} µs/call");
    println!(
        "  overhead                  : {:+8.1} µs/call ({:.2}x)",
        ours_us - bare_us,
        ours_us / bare_us
    );
}

/// Adds a header and counts attempts: the cost of a typical hook.
#[derive(Default)]
struct CountingHook(std::sync::atomic::AtomicU64);

impl polyai_data::hook::Hook for CountingHook {
    fn on_request(&self, request: &mut polyai_data::hook::RequestParts<'_>) {
        let _ = request.insert_header("x-team", "bench");
    }

    fn on_response(&self, response: &polyai_data::hook::ResponseInfo<'_>) {
        if response.is_success() {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The same call with and without a hook.
async fn hook_overhead() {
    let body = detail();
    let server = TestServer::start(move |_: &Recorded| Reply::json(200, body.clone())).await;
    let hook = std::sync::Arc::new(CountingHook::default());
    let plain = Client::builder()
        .api_key("bench")
        .base_url(server.url())
        .build()
        .expect("client");
    let hooked = Client::builder()
        .api_key("bench")
        .base_url(server.url())
        .hook(hook.clone())
        .build()
        .expect("client");
    let (plain, hooked) = (plain.agent("P"), hooked.agent("P"));
    for _ in 0..200 {
        plain.conversations().get("CA1").await.expect("call");
        hooked.conversations().get("CA1").await.expect("call");
    }
    let (mut plain_best, mut hooked_best) = (Duration::MAX, Duration::MAX);
    for _round in 0..3 {
        let start = Instant::now();
        for _ in 0..CALLS {
            plain.conversations().get("CA1").await.expect("call");
        }
        plain_best = plain_best.min(start.elapsed());
        let start = Instant::now();
        for _ in 0..CALLS {
            hooked.conversations().get("CA1").await.expect("call");
        }
        hooked_best = hooked_best.min(start.elapsed());
    }
    assert_eq!(
        hook.0.load(std::sync::atomic::Ordering::Relaxed),
        u64::from(200 + 3 * CALLS)
    );
    let plain_us = plain_best.as_secs_f64() * 1e6 / f64::from(CALLS);
    let hooked_us = hooked_best.as_secs_f64() * 1e6 / f64::from(CALLS);
    println!("hook (adds a header, counts responses), same call, best of 3:");
    println!("  no hook   : {plain_us:8.1} µs/call");
    println!(
        "  one hook  : {hooked_us:8.1} µs/call ({:+.1} µs, {:.2}x)",
        hooked_us - plain_us,
        hooked_us / plain_us
    );
}

async fn listing(prefetch: bool, work: Duration) -> (Duration, usize, usize) {
    let server = TestServer::start(|r: &Recorded| list_reply(r, TOTAL).delay(LATENCY)).await;
    let client = Client::builder()
        .api_key("bench")
        .base_url(server.url())
        .build()
        .expect("client");
    let start = Instant::now();
    let mut pages = client
        .agent("P")
        .conversations()
        .list()
        .limit(PAGE)
        .prefetch(prefetch)
        .pages();
    let mut items = 0;
    while let Some(page) = pages.try_next().await.expect("page") {
        items += page.items().len();
        if !work.is_zero() {
            tokio::time::sleep(work).await;
        }
    }
    (start.elapsed(), items, server.count())
}

async fn listing_report() {
    println!(
        "list {TOTAL} conversations, page size {PAGE}, {} ms server latency per page:",
        LATENCY.as_millis()
    );
    for work in [Duration::ZERO, WORK_PER_PAGE] {
        let (off, n_off, req_off) = listing(false, work).await;
        let (on, n_on, req_on) = listing(true, work).await;
        assert_eq!((n_off, n_on), (TOTAL as usize, TOTAL as usize));
        println!(
            "  consumer work {:>2} ms/page: no prefetch {:7.1} ms ({req_off} requests), prefetch {:7.1} ms ({req_on} requests), speed-up {:.2}x",
            work.as_millis(),
            off.as_secs_f64() * 1e3,
            on.as_secs_f64() * 1e3,
            off.as_secs_f64() / on.as_secs_f64()
        );
    }
}

fn main() {
    // `cargo test --benches` passes `--bench`-less args; run quickly then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        if quick {
            println!("(run with `cargo bench` for figures)");
            return;
        }
        per_call_overhead().await;
        hook_overhead().await;
        listing_report().await;
    });
}
