//! Benchmark (not a timed test): what wire tolerance costs when decoding conversation details.
//!
//! The bodies are the mock server's default conversations (turns with metadata and latency,
//! function events, metrics), fetched once over loopback. Each is decoded three ways:
//! - into `polyai_data::models::Conversation`, whose turns, function events and metrics are `Lenient`
//!   (typed when they have the expected shape, kept as JSON otherwise);
//! - into the same fields typed strictly (`Vec<Turn>`, …), as before `Lenient` — a value of another
//!   shape would fail the whole body;
//! - into `serde_json::Value`.
//!
//! ```sh
//! cargo bench -p polyai-data --bench decode
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use polyai_data::models::{Conversation, FunctionEvent, MetricPoint, Turn};
use polyai_mock::{MockConfig, MockServer};

/// The detail's untyped values, typed strictly: what `Conversation` decoded before `Lenient`.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Strict {
    #[serde(rename = "conversationId")]
    conversation_id: String,
    turns: Option<Vec<Turn>>,
    #[serde(rename = "functionEvents")]
    function_events: Option<BTreeMap<String, Vec<FunctionEvent>>>,
    metrics: Option<BTreeMap<String, Vec<MetricPoint>>>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

async fn details(n: u64) -> Vec<bytes::Bytes> {
    let server = MockServer::start(MockConfig::default())
        .await
        .expect("mock starts");
    let agent = server.agent_ids()[0].clone();
    let key = server.key().expect("key").to_owned();
    let http = reqwest::Client::new();
    let mut bodies = Vec::new();
    for i in 0..n {
        let id = server.conversation_id(0, i);
        let url = format!("{}/v1/agents/{agent}/conversations/{id}", server.base_url());
        let body = http
            .get(url)
            .header("x-api-key", &key)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        bodies.push(body);
    }
    bodies
}

/// Best of `rounds` passes over `bodies`, in µs per body.
fn best(rounds: u32, bodies: &[bytes::Bytes], decode: impl Fn(&[u8])) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        for body in bodies {
            decode(body);
        }
        best = best.min(start.elapsed());
    }
    best.as_secs_f64() * 1e6 / bodies.len() as f64
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: a quick pass then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (count, rounds) = if quick { (5, 1) } else { (200, 20) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let bodies = runtime.block_on(details(count));
    let bytes: usize = bodies.iter().map(|b| b.len()).sum();
    let turns: usize = bodies
        .iter()
        .map(|b| {
            let c: Conversation = serde_json::from_slice(b).expect("decodes");
            c.turns.map_or(0, |t| t.len())
        })
        .sum();
    let lenient = best(rounds, &bodies, |b| {
        let c: Conversation = serde_json::from_slice(b).expect("lenient");
        assert!(c.turns.iter().flatten().all(|t| t.is_typed()));
    });
    let strict = best(rounds, &bodies, |b| {
        let _: Strict = serde_json::from_slice(b).expect("strict");
    });
    let value = best(rounds, &bodies, |b| {
        let _: serde_json::Value = serde_json::from_slice(b).expect("value");
    });
    println!(
        "decode {count} mock conversation details ({} KiB on average, {:.1} turns each), best of {rounds}:",
        bytes / count as usize / 1024,
        turns as f64 / count as f64
    );
    println!("  Conversation (Lenient)     : {lenient:8.1} µs/detail");
    println!(
        "  strictly typed             : {strict:8.1} µs/detail  (Lenient costs {:.2}x)",
        lenient / strict
    );
    println!("  serde_json::Value          : {value:8.1} µs/detail");
}
