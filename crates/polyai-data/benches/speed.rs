//! Speed of polyai-data against the mock's default payloads (not a timed test: it prints figures
//! and ratios and asserts nothing about time).
//!
//! 1. Per-call overhead: `conversations().list().limit(50)` and `conversations().get(id)` against a
//!    bare `reqwest` GET + `serde_json::from_slice` into the same model, on the same loopback
//!    mock with no added latency. The two are interleaved in blocks of [`BLOCK`] calls, and each
//!    round gives a ratio; the min and median over [`ROUNDS`] rounds are printed.
//! 2. `list().all()` of [`TOTAL`] conversations at [`LATENCY`] mock latency (pages of
//!    `MAX_PAGE_SIZE`, [`DEFAULT_CONCURRENCY`] at once) against a sequential loop of bare
//!    1000-item page requests; best and median of [`WALK_ROUNDS`] rounds, interleaved.
//!
//! ```sh
//! cargo bench -p polyai-data --bench speed
//! ```

use std::time::{Duration, Instant};

use polyai_data::Client;
use polyai_data::models::{Conversation, GetConversationsResponse};
use polyai_data::paginate::{DEFAULT_CONCURRENCY, MAX_PAGE_SIZE};
use polyai_mock::{MockConfig, MockServer};

const ROUNDS: usize = 15;
const BLOCK: usize = 20;
const BLOCKS_PER_ROUND: usize = 5;
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

impl Target {
    async fn bare_get(&self, path_and_query: &str) -> bytes::Bytes {
        self.bare
            .get(format!("{}{path_and_query}", self.base))
            .header("x-api-key", &self.key)
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
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `ours` and `bare` interleaved in blocks; per round, the ratio of their mean times.
async fn ratio<A, B, FA, FB>(name: &str, mut ours: A, mut bare: B)
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    for _ in 0..BLOCK * 4 {
        ours().await;
        bare().await;
    }
    let (mut ratios, mut ours_us, mut bare_us) = (vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for block in 0..BLOCKS_PER_ROUND {
            // Alternate which side goes first, so neither always follows the other.
            for side in [block % 2 == round % 2, block % 2 != round % 2] {
                let start = Instant::now();
                for _ in 0..BLOCK {
                    if side {
                        ours().await;
                    } else {
                        bare().await;
                    }
                }
                if side {
                    a += start.elapsed();
                } else {
                    b += start.elapsed();
                }
            }
        }
        let calls = (BLOCK * BLOCKS_PER_ROUND) as f64;
        ours_us.push(a.as_secs_f64() * 1e6 / calls);
        bare_us.push(b.as_secs_f64() * 1e6 / calls);
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
    }
    let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{name:<28} polyai-data {:>7.1} µs  bare {:>7.1} µs  ratio min {min:.3}×  median {:.3}×  ({ROUNDS} rounds of {} calls each side)",
        median(&mut ours_us),
        median(&mut bare_us),
        median(&mut ratios),
        BLOCK * BLOCKS_PER_ROUND
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

async fn walk() {
    let mut config = MockConfig::default().conversations(TOTAL);
    config.faults.latency = LATENCY;
    let t = target(config).await;
    let agent = t.client.agent(&t.agent);
    println!(
        "list --all of {TOTAL} conversations at {} ms mock latency",
        LATENCY.as_millis()
    );
    let sequential = || async {
        let start = Instant::now();
        let (mut offset, mut read) = (0u64, 0u64);
        loop {
            let body = t
                .bare_get(&format!(
                    "/v1/agents/{}/conversations?limit=1000&offset={offset}",
                    t.agent
                ))
                .await;
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
        ("polyai-data, default (concurrency 4)", &mut default),
    ] {
        let (b, m) = (best(times), median(times));
        println!(
            "  {name:<44} best {b:>6.2} s  median {m:>6.2} s  speed-up vs sequential: best {:.2}×  median {:.2}×",
            seq_best / b,
            seq_median / m
        );
    }
    println!("  (pages of MAX_PAGE_SIZE = {MAX_PAGE_SIZE}, {WALK_ROUNDS} rounds, interleaved)");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::args().nth(1).unwrap_or_default();
    runtime.block_on(async {
        if only != "walk" {
            per_call().await;
        }
        if only != "calls" {
            walk().await;
        }
    });
}
