//! Benchmark (not a timed test): what the blocking client adds to a call of the async client it
//! drives — a list page and a conversation detail from `polyai-mock`'s default data, and a
//! recording streamed into memory — with the mock on a runtime of its own.
//!
//! ```sh
//! cargo bench -p polyai-data --features blocking --bench blocking
//! ```

use std::time::{Duration, Instant};

use polyai_mock::{MockConfig, MockServer, SANDBOX_KEY};

const CALLS: u32 = 200;
const ROUNDS: u32 = 7;

/// The two ways of making a call, interleaved (a block of `CALLS` calls of each per round, the
/// side that goes first alternating) so that load from other processes hits both alike; the best
/// block of each, in µs per call.
fn compare(mut async_call: impl FnMut(), mut blocking_call: impl FnMut()) -> (f64, f64) {
    let block = |call: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..CALLS {
            call();
        }
        start.elapsed()
    };
    block(&mut async_call);
    block(&mut blocking_call);
    let (mut best_async, mut best_blocking) = (Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            best_async = best_async.min(block(&mut async_call));
            best_blocking = best_blocking.min(block(&mut blocking_call));
        } else {
            best_blocking = best_blocking.min(block(&mut blocking_call));
            best_async = best_async.min(block(&mut async_call));
        }
    }
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(CALLS);
    (per_call(best_async), per_call(best_blocking))
}

fn report(what: &str, (async_us, blocking_us): (f64, f64)) {
    println!(
        "  {what:<30}: async {async_us:8.1} µs, blocking {blocking_us:8.1} µs, \
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
        "blocking vs async client, polyai-mock default data, best of {ROUNDS} interleaved blocks of {CALLS} calls:"
    );
    let list = compare(
        || {
            rt.block_on(agent.conversations().list().limit(50).send())
                .expect("page");
        },
        || {
            blocking_agent
                .conversations()
                .list()
                .limit(50)
                .send()
                .expect("page");
        },
    );
    report("list page (50 conversations)", list);

    let get = compare(
        || {
            rt.block_on(agent.conversations().get(&detail_id).send())
                .expect("detail");
        },
        || {
            blocking_agent
                .conversations()
                .get(&detail_id)
                .send()
                .expect("detail");
        },
    );
    report("get conversation", get);

    let mut async_wav = Vec::new();
    let mut blocking_wav = Vec::new();
    let audio = compare(
        || {
            async_wav.clear();
            rt.block_on(async {
                let download = agent.audio(&audio_id).send().await?;
                download.write_to(&mut async_wav).await
            })
            .expect("audio");
        },
        || {
            blocking_wav.clear();
            blocking_agent
                .audio(&audio_id)
                .send()
                .and_then(|download| download.write_to(&mut blocking_wav))
                .expect("audio");
        },
    );
    assert_eq!(async_wav, blocking_wav);
    report(
        &format!("recording ({} KiB) to memory", async_wav.len() / 1024),
        audio,
    );
}
