//! Export throughput: every one of N conversations with its turns, from a local mock that adds
//! 20 ms to every answer, through the Data API path (`polyai export --with-details`: a page of
//! summaries, then one detail request per conversation) at concurrency 1, 8 (the default) and
//! 16, and through the Conversations API v3 (`polyai export --account …`: pages of 1000 with the
//! turns inline, one run per environment since v3 lists one at a time), against a sequential
//! loop of one request at a time (list a page, then get each conversation, as PolyAI's Python
//! tool does).
//!
//! `cargo bench -p polyai-cli --bench export`; `POLYAI_BENCH_CONVERSATIONS=2000` for a shorter
//! run (default 10 000); `POLYAI_BENCH_QUICK=1` skips the two one-request-at-a-time runs (about
//! four minutes each at 10 000). Prints figures and ratios; asserts nothing about time.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use polyai_data::Client;
use polyai_data::retry::RetryPolicy;
use polyai_mock::{MockConfig, MockServer};

/// Latency the mock adds to every answer.
const LATENCY: Duration = Duration::from_millis(20);

fn main() {
    let n: u64 = std::env::var("POLYAI_BENCH_CONVERSATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = MockConfig::default().conversations(n).agents(1);
    config.faults.latency = LATENCY;
    let server = runtime
        .block_on(MockServer::start(config))
        .expect("mock starts");
    let agent = server.agent_ids()[0].clone();
    let key = server.key().expect("key").to_owned();
    let base = server.base_url();
    println!(
        "export of {n} conversations with their turns, mock latency {} ms per request, {} cores",
        LATENCY.as_millis(),
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );

    let quick = std::env::var_os("POLYAI_BENCH_QUICK").is_some();
    let account = server.account_id().to_owned();
    let v3 = export_v3(&base, &key, &agent, &account, n);
    report("polyai export --account (v3, 3 runs)", n, v3);
    let c8 = export(&base, &key, &agent, 8, n);
    report("polyai export --with-details (c 8)", n, c8);
    let c16 = export(&base, &key, &agent, 16, n);
    report("polyai export --with-details (c 16)", n, c16);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64().max(1e-9);
    if !quick {
        let sequential = runtime.block_on(sequential_loop(&base, &key, &agent, n));
        report("sequential loop (1 request at a time)", n, sequential);
        let c1 = export(&base, &key, &agent, 1, n);
        report("polyai export --with-details (c 1)", n, c1);
        println!(
            "speed-up concurrency 16 vs 1:          {:.1}x",
            ratio(c1, c16)
        );
        println!(
            "speed-up concurrency 16 vs sequential: {:.1}x",
            ratio(sequential, c16)
        );
        println!(
            "speed-up concurrency 1 vs sequential:  {:.2}x",
            ratio(sequential, c1)
        );
        println!(
            "speed-up v3 vs sequential:             {:.1}x",
            ratio(sequential, v3)
        );
    }
    println!(
        "speed-up v3 vs Data API, concurrency 8:  {:.1}x",
        ratio(c8, v3)
    );
    println!(
        "speed-up v3 vs Data API, concurrency 16: {:.1}x",
        ratio(c16, v3)
    );
    runtime.block_on(server.shutdown());
}

fn report(label: &str, n: u64, took: Duration) {
    println!(
        "{label:<40} {:>8.2} s  {:>8.1} conversations/s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64().max(1e-9)
    );
}

/// Runs the release `polyai` binary with `args` into a fresh directory; returns its wall time
/// and the number of lines it wrote.
fn run_export(base: &str, key: &str, agent: &str, args: &[&str]) -> (Duration, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_polyai"))
        .env("POLYAI_API_KEY", key)
        .env_remove("POLYAI_ACCOUNT_ID")
        .args(["--base-url", base, "--agent", agent, "export"])
        .args(args)
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("polyai runs");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(dir.path().join("conversations.jsonl"))
        .expect("journal")
        .lines()
        .count() as u64;
    (took, lines)
}

/// The Data API path: `export --with-details` at `concurrency`.
fn export(base: &str, key: &str, agent: &str, concurrency: u16, n: u64) -> Duration {
    let concurrency = concurrency.to_string();
    let (took, lines) = run_export(
        base,
        key,
        agent,
        &["--with-details", "--concurrency", &concurrency],
    );
    assert_eq!(lines, n, "export wrote {lines} of {n}");
    took
}

/// The v3 path: `export --account ACCOUNT --env ENV` once per environment, turns inline.
fn export_v3(base: &str, key: &str, agent: &str, account: &str, n: u64) -> Duration {
    let mut total = Duration::ZERO;
    let mut lines = 0;
    for env in ["live", "sandbox", "pre-release"] {
        let (took, wrote) = run_export(base, key, agent, &["--account", account, "--env", env]);
        total += took;
        lines += wrote;
    }
    assert_eq!(lines, n, "the v3 exports wrote {lines} of {n}");
    total
}

/// One request at a time: a page of 50, then each conversation's detail, written to a file.
async fn sequential_loop(base: &str, key: &str, agent: &str, n: u64) -> Duration {
    let client = Client::builder()
        .api_key(key)
        .base_url(base)
        .retry(RetryPolicy::default())
        .build()
        .expect("client");
    let agent = client.agent(agent);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut file =
        std::io::BufWriter::new(std::fs::File::create(dir.path().join("out.jsonl")).expect("file"));
    let started = Instant::now();
    let mut offset = 0;
    let mut written = 0u64;
    loop {
        let page = agent
            .conversations()
            .list()
            .limit(50)
            .offset(offset)
            .send()
            .await
            .expect("page");
        for summary in page.items() {
            let detail = agent
                .conversations()
                .get(&summary.conversation_id)
                .send()
                .await
                .expect("detail");
            serde_json::to_writer(&mut file, &detail).expect("write");
            file.write_all(b"\n").expect("write");
            written += 1;
        }
        match page.next_offset() {
            Some(next) => offset = next,
            None => break,
        }
    }
    file.flush().expect("flush");
    assert_eq!(written, n);
    started.elapsed()
}
