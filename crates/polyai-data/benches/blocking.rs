//! Benchmark (not a timed test): what the blocking client adds to a call of the async client it
//! drives — a list page and a conversation detail from `polyai-mock`'s default data, and a
//! recording streamed into memory — with the mock on a runtime of its own.
//!
//! ```sh
//! cargo bench -p polyai-data --features blocking --bench blocking
//! ```

use std::time::{Duration, Instant};

use polyai_mock::{MockConfig, MockServer, SANDBOX_KEY};

const CALLS: u32 = 1_000;

/// Best of three rounds of `CALLS` calls, in µs per call.
fn best_of_three(mut call: impl FnMut()) -> f64 {
    for _ in 0..CALLS / 10 {
        call();
    }
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for _ in 0..CALLS {
            call();
        }
        best = best.min(start.elapsed());
    }
    best.as_secs_f64() * 1e6 / f64::from(CALLS)
}

fn report(what: &str, async_us: f64, blocking_us: f64) {
    println!(
        "  {what:<28}: async {async_us:8.1} µs, blocking {blocking_us:8.1} µs, \
         {:+7.1} µs/call ({:.2}x)",
        blocking_us - async_us,
        blocking_us / async_us
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("(run with `cargo bench` for figures)");
        return;
    }
    let mock_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("mock runtime");
    let server = mock_rt
        .block_on(MockServer::start(MockConfig::default()))
        .expect("mock");
    let builder = polyai_data::Client::builder()
        .api_key(SANDBOX_KEY)
        .base_url(server.base_url());
    let agent_id = server.agent_ids()[0].clone();
    let detail_id = server.conversation_id(0, 0);
    let audio_id = (0..200)
        .find(|i| server.has_recording(0, *i))
        .map(|i| server.conversation_id(0, i))
        .expect("a recording");

    // The async client as an async program runs it: on a current-thread runtime of its own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = builder.clone().build().expect("client");
    let agent = client.agent(&agent_id);
    let blocking = builder.build_blocking().expect("blocking client");
    let blocking_agent = blocking.agent(&agent_id);

    println!(
        "blocking vs async client, polyai-mock default data, {CALLS} sequential calls, best of 3:"
    );
    let list_async = best_of_three(|| {
        rt.block_on(agent.conversations().list().limit(50).send())
            .expect("page");
    });
    let list_blocking = best_of_three(|| {
        blocking_agent
            .conversations()
            .list()
            .limit(50)
            .send()
            .expect("page");
    });
    report("list page (50 conversations)", list_async, list_blocking);

    let get_async = best_of_three(|| {
        rt.block_on(agent.conversations().get(&detail_id).send())
            .expect("detail");
    });
    let get_blocking = best_of_three(|| {
        blocking_agent
            .conversations()
            .get(&detail_id)
            .send()
            .expect("detail");
    });
    report("get conversation", get_async, get_blocking);

    let mut wav = Vec::new();
    let audio_async = best_of_three(|| {
        wav.clear();
        rt.block_on(async {
            let download = agent.audio(&audio_id).send().await?;
            download.write_to(&mut wav).await
        })
        .expect("audio");
    });
    let bytes = wav.len();
    let audio_blocking = best_of_three(|| {
        wav.clear();
        blocking_agent
            .audio(&audio_id)
            .send()
            .and_then(|download| download.write_to(&mut wav))
            .expect("audio");
    });
    assert_eq!(wav.len(), bytes);
    report(
        &format!("recording ({} KiB) to memory", bytes / 1024),
        audio_async,
        audio_blocking,
    );
}
