//! Speed of polyai-data against the mock's default payloads (not a timed test: it prints figures
//! and ratios and asserts nothing about time).
//!
//! 1. Per-call overhead: `conversations().list().limit(50)` and `conversations().get(id)` against a
//!    bare `reqwest` GET + `serde_json::from_slice` into the same model, on the same loopback
//!    mock with no added latency. The two are interleaved call by call, and each round gives a
//!    ratio of mean and of median call times; the min and median over [`ROUNDS`] rounds are
//!    printed.
//! 2. `list().all()` of [`TOTAL`] conversations at [`LATENCY`] mock latency (pages of
//!    `MAX_PAGE_SIZE`, [`DEFAULT_CONCURRENCY`] at once) against a sequential loop of bare
//!    1000-item page requests; best and median of [`WALK_ROUNDS`] rounds, interleaved.
//!
//! ```sh
//! cargo bench -p polyai-data --bench speed          # both; `-- calls` or `-- walk` for one
//! ```
//!
//! `speed loop-ours` and `speed loop-bare` (run the built binary; `N` calls, default 5000) make
//! only `get` calls of one side, for a profiler: the difference of two callgrind counts is the
//! client's work per call over the bare call.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use polyai_data::Client;
use polyai_data::models::{Conversation, GetConversationsResponse};
use polyai_data::paginate::{DEFAULT_CONCURRENCY, MAX_PAGE_SIZE};
use polyai_mock::{MockConfig, MockServer};
use support::{Body, Recorded, Reply, TestServer, limit_offset};

const ROUNDS: usize = 41;
const PAIRS: usize = 100;
const TOTAL: u64 = 100_000;
const LATENCY: Duration = Duration::from_millis(20);
const WALK_ROUNDS: usize = 3;

struct Target {
    _server: MockServer,
    client: Client,
    bare: reqwest::Client,
    key: String,
    base: String,
    agent: String,
}

async fn target(config: MockConfig) -> Target {
    let server = MockServer::start(config.agents(1))
        .await
        .expect("mock starts");
    let key = server.key().expect("key").to_owned();
    let base = server.base_url();
    let client = Client::builder()
        .api_key(key.clone())
        .base_url(base.clone())
        .build()
        .expect("client");
    let agent = server.agent_ids()[0].clone();
    Target {
        _server: server,
        client,
        bare: reqwest::Client::new(),
        key,
        base,
        agent,
    }
}

/// The bare call: a `reqwest` GET of `url` with the key, its body as bytes.
async fn bare_get(bare: &reqwest::Client, key: &str, url: &str) -> bytes::Bytes {
    bare.get(url)
        .header("x-api-key", key)
        .header("accept", "application/json")
        .send()
        .await
        .expect("send")
        .error_for_status()
        .expect("status")
        .bytes()
        .await
        .expect("body")
}

impl Target {
    async fn bare_get(&self, path_and_query: &str) -> bytes::Bytes {
        bare_get(
            &self.bare,
            &self.key,
            &format!("{}{path_and_query}", self.base),
        )
        .await
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `ours` and `bare` interleaved call by call ([`PAIRS`] pairs per round, which side goes
/// first alternating) and prints, over [`ROUNDS`] rounds, the min and median of each round's
/// ratio of mean call times, and of its ratio of median call times (the median call ignores a
/// call the scheduler of a shared machine preempted; the mean counts everything).
async fn ratio<A, B, FA, FB>(name: &str, mut ours: A, mut bare: B)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    for _ in 0..PAIRS {
        ours().await;
        bare().await;
    }
    let (mut mean_ratios, mut median_ratios, mut ours_us, mut bare_us) =
        (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let (mut a, mut b) = (Vec::with_capacity(PAIRS), Vec::with_capacity(PAIRS));
        for pair in 0..PAIRS {
            for ours_now in [pair % 2 == round % 2, pair % 2 != round % 2] {
                let start = Instant::now();
                if ours_now {
                    ours().await;
                    a.push(start.elapsed().as_secs_f64() * 1e6);
                } else {
                    bare().await;
                    b.push(start.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        mean_ratios.push(mean(&a) / mean(&b));
        let (a, b) = (median(&mut a), median(&mut b));
        median_ratios.push(a / b);
        ours_us.push(a);
        bare_us.push(b);
    }
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{name:<18} median call: polyai-data {:>6.1} µs  bare {:>6.1} µs | ratio of means min {:.3}× median {:.3}× | ratio of medians min {:.3}× median {:.3}×  ({ROUNDS} rounds of {PAIRS} calls each side)",
        median(&mut ours_us),
        median(&mut bare_us),
        min(&mean_ratios),
        median(&mut mean_ratios),
        min(&median_ratios),
        median(&mut median_ratios),
    );
}

async fn per_call() {
    let t = target(MockConfig::default()).await;
    let agent = t.client.agent(&t.agent);
    let list_path = format!("/v1/agents/{}/conversations?limit=50&offset=0", t.agent);
    let page = t.bare_get(&list_path).await;
    let listed: GetConversationsResponse = serde_json::from_slice(&page).expect("page");
    let id = listed.conversations[0].conversation_id.clone();
    let get_path = format!("/v1/agents/{}/conversations/{id}", t.agent);
    let detail = t.bare_get(&get_path).await;
    println!(
        "mock default payloads: list page of 50 = {} KB, detail = {} KB",
        page.len() / 1024,
        detail.len() / 1024
    );
    ratio(
        "list (page of 50)",
        || async {
            let page = agent.conversations().list().limit(50).send().await;
            assert_eq!(page.expect("list").items().len(), 50);
        },
        || async {
            let body = t.bare_get(&list_path).await;
            let page: GetConversationsResponse = serde_json::from_slice(&body).expect("page");
            assert_eq!(page.conversations.len(), 50);
        },
    )
    .await;
    ratio(
        "get (detail)",
        || async {
            agent.conversations().get(&id).send().await.expect("get");
        },
        || async {
            let body = t.bare_get(&get_path).await;
            let _: Conversation = serde_json::from_slice(&body).expect("detail");
        },
    )
    .await;
}

async fn loop_get(side: &str) {
    let t = target(MockConfig::default()).await;
    let agent = t.client.agent(&t.agent);
    let list_path = format!("/v1/agents/{}/conversations?limit=50&offset=0", t.agent);
    let page = t.bare_get(&list_path).await;
    let listed: GetConversationsResponse = serde_json::from_slice(&page).expect("page");
    let id = listed.conversations[0].conversation_id.clone();
    let get_path = format!("/v1/agents/{}/conversations/{id}", t.agent);
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let start = Instant::now();
    for _ in 0..n {
        if side == "ours" {
            agent.conversations().get(&id).send().await.expect("get");
        } else if side == "bare" {
            let body = t.bare_get(&get_path).await;
            let _: Conversation = serde_json::from_slice(&body).expect("detail");
        }
    }
    println!(
        "{side}: {:.1} µs/call",
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

/// A client and a bare reqwest client pointed at `base`.
fn clients(key: &str, base: &str) -> (Client, reqwest::Client) {
    let client = Client::builder()
        .api_key(key)
        .base_url(base)
        .build()
        .expect("client");
    (client, reqwest::Client::new())
}

/// Every page a walk of [`TOTAL`] asks for (limit [`MAX_PAGE_SIZE`]), as the mock renders it,
/// served by a loopback server that only waits [`LATENCY`] before answering: the walk then
/// measures the client, not the mock building 1000 conversations per page on the same 2 cores.
async fn fixture(t: &Target) -> TestServer {
    let mut pages = HashMap::new();
    for offset in (0..TOTAL).step_by(MAX_PAGE_SIZE as usize) {
        let query = format!("limit={MAX_PAGE_SIZE}&offset={offset}");
        let body = t
            .bare_get(&format!("/v1/agents/{}/conversations?{query}", t.agent))
            .await;
        pages.insert((MAX_PAGE_SIZE, offset), body.to_vec());
    }
    TestServer::start(
        move |request: &Recorded| match pages.get(&limit_offset(request)) {
            Some(body) => Reply::body("application/json", Body::Bytes(body.clone())).delay(LATENCY),
            None => Reply::error(404, "not_rendered", "the fixture has no such page"),
        },
    )
    .await
}

/// `list --all` against `base` (already at [`LATENCY`]): a sequential bare loop of 1000-item
/// pages, polyai-data at concurrency 1 and at its default, interleaved over [`WALK_ROUNDS`].
async fn walk_against(name: &str, key: &str, base: &str, agent_id: &str) {
    let (client, bare) = clients(key, base);
    let agent = client.agent(agent_id);
    println!("  {name}:");
    let sequential = || async {
        let start = Instant::now();
        let (mut offset, mut read) = (0u64, 0u64);
        loop {
            let url =
                format!("{base}/v1/agents/{agent_id}/conversations?limit=1000&offset={offset}");
            let body = bare_get(&bare, key, &url).await;
            let page: GetConversationsResponse = serde_json::from_slice(&body).expect("page");
            let n = page.conversations.len() as u64;
            read += n;
            offset += n;
            if n == 0 || offset >= page.count as u64 {
                break;
            }
        }
        assert_eq!(read, TOTAL);
        start.elapsed()
    };
    let ours = |concurrency: usize| {
        let agent = agent.clone();
        async move {
            let start = Instant::now();
            let mut items = agent
                .conversations()
                .list()
                .concurrency(concurrency)
                .stream();
            let mut read = 0u64;
            while items.try_next().await.expect("walk").is_some() {
                read += 1;
            }
            assert_eq!(read, TOTAL);
            start.elapsed()
        }
    };
    let (mut seq, mut one, mut default) = (vec![], vec![], vec![]);
    for _ in 0..WALK_ROUNDS {
        seq.push(sequential().await.as_secs_f64());
        one.push(ours(1).await.as_secs_f64());
        default.push(ours(DEFAULT_CONCURRENCY).await.as_secs_f64());
    }
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (seq_best, seq_median) = (best(&seq), median(&mut seq.clone()));
    for (name, times) in [
        ("sequential bare loop, pages of 1000", &mut seq),
        ("polyai-data, concurrency 1 (one page ahead)", &mut one),
        ("polyai-data, default", &mut default),
    ] {
        let (b, m) = (best(times), median(times));
        println!(
            "    {name:<44} best {b:>6.2} s  median {m:>6.2} s  speed-up vs sequential: best {:.2}×  median {:.2}×",
            seq_best / b,
            seq_median / m
        );
    }
}

async fn walk() {
    println!(
        "list --all of {TOTAL} conversations at {} ms latency (pages of MAX_PAGE_SIZE = {MAX_PAGE_SIZE}, default concurrency {DEFAULT_CONCURRENCY}, {WALK_ROUNDS} rounds, interleaved)",
        LATENCY.as_millis()
    );
    let t = target(MockConfig::default().conversations(TOTAL)).await;
    let pages = fixture(&t).await;
    walk_against(
        "pages pre-rendered from the mock, served after the latency",
        &t.key,
        &pages.url(),
        &t.agent,
    )
    .await;
    drop(pages);
    let mut config = MockConfig::default().conversations(TOTAL);
    config.faults.latency = LATENCY;
    let live = target(config).await;
    walk_against(
        "the live mock (renders every page on the same cores)",
        &live.key,
        &live.base,
        &live.agent,
    )
    .await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::args().nth(1).unwrap_or_default();
    runtime.block_on(async {
        if let Some(side) = only.strip_prefix("loop-") {
            return loop_get(side).await;
        }
        if only != "walk" {
            per_call().await;
        }
        if only != "calls" {
            walk().await;
        }
    });
}
