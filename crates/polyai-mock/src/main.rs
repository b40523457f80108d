//! `polyai-mock`: run the mock Data API server from the command line.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use polyai_mock::{
    ApiKey, DEFAULT_REGION, DEFAULT_SEED, Disagreement, FaultConfig, MockConfig, MockServer,
    SANDBOX_KEY, SampleRate,
};

/// A local, deterministic mock of PolyAI's Data API, with fault injection.
#[derive(Debug, Parser)]
#[command(name = "polyai-mock", version)]
struct Cli {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8787)]
    port: u16,
    /// Seed of all generated data and fault decisions.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Number of agents to generate (the first is always PROJECT-58RP822I).
    #[arg(long, default_value_t = 3)]
    agents: usize,
    /// Use these agent ids instead of generated ones (repeatable).
    #[arg(long = "agent-id", value_name = "ID")]
    agent_ids: Vec<String>,
    /// Conversations per agent (derived on demand; millions are fine).
    #[arg(long, default_value_t = 200)]
    conversations: u64,
    /// Hostile mode: use these ids for the first conversations of every agent instead of
    /// generated ones (repeatable), e.g. `..`, `a/b`, `CON`, or very long ids.
    #[arg(long = "conversation-id", value_name = "ID")]
    conversation_ids: Vec<String>,
    /// Region this server answers as (us, eu, uk, studio, dev, staging).
    #[arg(long, default_value = DEFAULT_REGION)]
    region: String,
    /// Accept this key: KEY[@REGION][:AGENT,AGENT...] (repeatable).
    #[arg(long = "key", value_name = "SPEC")]
    keys: Vec<String>,
    /// Do not accept the built-in sandbox key.
    #[arg(long)]
    no_sandbox_key: bool,
    /// Persist notes and annotations in this JSON file (its folder must exist). Each change is
    /// saved before it is served; FILE.lock is held so one server at a time uses the file.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Audio sample rate: 8000 or 16000.
    #[arg(long, default_value_t = 8000)]
    sample_rate: u32,
    /// Give every recording exactly this many PCM bytes.
    #[arg(long, value_name = "BYTES")]
    audio_bytes: Option<u64>,
    /// Idle seconds before a debug-chat session times out.
    #[arg(long, default_value_t = 900)]
    chat_timeout: u64,
    /// Added latency in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction (0..1) of requests answered with a failure status.
    #[arg(long, default_value_t = 0.0)]
    fail_fraction: f64,
    /// Statuses used by --fail-fraction (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "500,502,503")]
    fail_statuses: Vec<u16>,
    /// Answer every request 429 with this Retry-After (seconds).
    #[arg(long, value_name = "SECS")]
    rate_limit: Option<u64>,
    /// Reset connections part-way through every body.
    #[arg(long)]
    reset_mid_body: bool,
    /// Send only part of every body while declaring its full length.
    #[arg(long)]
    truncate_body: bool,
    /// Throttle bodies to this many bytes per second.
    #[arg(long, value_name = "BPS")]
    slow_body: Option<u64>,
    /// The first N requests fail with --fail-next-status.
    #[arg(long, default_value_t = 0)]
    fail_next: u64,
    /// Status for --fail-next.
    #[arg(long, default_value_t = 503)]
    fail_next_status: u16,
    /// Break only this fraction (0..1) of bodies with --reset-mid-body, --truncate-body or --slow-body.
    #[arg(long, value_name = "FRACTION")]
    body_fault_fraction: Option<f64>,
    /// Answer details with the conversation id upper-cased (a listing/detail id case mismatch).
    #[arg(long)]
    upper_case_detail_ids: bool,
    /// Leave this fraction (0..1) of the conversations out of the v3 listing (the Data API still
    /// lists them): a difference for `polyai reconcile` to find.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    disagree_drop_v3: f64,
    /// Leave this fraction (0..1) of the conversations out of the Data API listing (`count` and
    /// offsets close up over them; v3 still lists them).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    disagree_drop_data: f64,
    /// List this fraction (0..1) of the conversations twice in a row in the v3 listing.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    disagree_duplicate_v3: f64,
    /// List this fraction (0..1) of the conversations twice in a row in the Data API listing.
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    disagree_duplicate_data: f64,
    /// Make v3 report this fact differently for a fraction of the conversations (default 0.1):
    /// started_at (+90 s), total_duration (+1 s), channel, environment, variant_id, handoff,
    /// turn_count (one turn fewer) or in_progress (flipped). Repeatable.
    #[arg(long, value_name = "FIELD[:FRACTION]")]
    disagree_field: Vec<String>,
    /// Largest page the list endpoint returns (larger limits are capped; `count` stays the total).
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_page_size: u64,
    /// Write the base URL to this file once listening (handy with --port 0).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
}

fn config(cli: Cli) -> Result<(MockConfig, Option<PathBuf>), String> {
    let sample_rate = match cli.sample_rate {
        8000 => SampleRate::Hz8000,
        16000 => SampleRate::Hz16000,
        other => return Err(format!("--sample-rate must be 8000 or 16000, got {other}")),
    };
    if !(0.0..=1.0).contains(&cli.fail_fraction) {
        return Err("--fail-fraction must be between 0 and 1".into());
    }
    let mut disagree = Disagreement {
        drop_v3: cli.disagree_drop_v3,
        drop_data: cli.disagree_drop_data,
        duplicate_v3: cli.disagree_duplicate_v3,
        duplicate_data: cli.disagree_duplicate_data,
        fields: Vec::new(),
    };
    for spec in &cli.disagree_field {
        let parsed: Disagreement = format!("field={spec}")
            .parse()
            .map_err(|e| format!("--disagree-field {spec}: {e}"))?;
        disagree.fields.extend(parsed.fields);
    }
    disagree.validate().map_err(|e| format!("--disagree-{e}"))?;
    if cli
        .body_fault_fraction
        .is_some_and(|f| !(0.0..=1.0).contains(&f))
    {
        return Err("--body-fault-fraction must be between 0 and 1".into());
    }
    let mut keys = Vec::new();
    if !cli.no_sandbox_key {
        keys.push(ApiKey::new(SANDBOX_KEY, cli.region.clone()));
    }
    for spec in &cli.keys {
        keys.push(ApiKey::parse(spec, &cli.region)?);
    }
    if keys.is_empty() {
        return Err("no key accepted: pass --key or drop --no-sandbox-key".into());
    }
    let config = MockConfig {
        addr: SocketAddr::new(cli.bind, cli.port),
        seed: cli.seed,
        agents: cli.agents,
        agent_ids: (!cli.agent_ids.is_empty()).then_some(cli.agent_ids),
        conversations: cli.conversations,
        conversation_ids: (!cli.conversation_ids.is_empty()).then_some(cli.conversation_ids),
        region: cli.region,
        keys,
        state_file: cli.state,
        sample_rate,
        audio_bytes_override: cli.audio_bytes,
        chat_idle_timeout: Duration::from_secs(cli.chat_timeout),
        faults: FaultConfig {
            latency: Duration::from_millis(cli.latency_ms),
            fail_fraction: cli.fail_fraction,
            fail_statuses: cli.fail_statuses,
            rate_limit: cli.rate_limit.map(Duration::from_secs),
            reset_mid_body: cli.reset_mid_body,
            truncate_body: cli.truncate_body,
            slow_body: cli.slow_body.filter(|&b| b > 0),
            fail_next: cli.fail_next,
            fail_next_status: cli.fail_next_status,
            body_fault_fraction: cli.body_fault_fraction,
            upper_case_detail_ids: cli.upper_case_detail_ids,
            disagree,
        },
        max_page: cli.max_page_size,
        ..MockConfig::default()
    };
    Ok((config, cli.ready_file))
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let (config, ready_file) = match config(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("polyai-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match MockServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("polyai-mock: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = server.base_url();
    println!("polyai-mock listening on {url}");
    println!("region: {}", server.config().region);
    for key in server.keys() {
        let scope = key
            .agents
            .as_ref()
            .map_or_else(|| "all agents".to_string(), |a| a.join(","));
        println!("key: {} (region {}, {scope})", key.key, key.region);
    }
    println!("account: {}", server.account_id());
    for agent in server.agent_ids() {
        println!("agent: {agent}");
    }
    if let Some(path) = ready_file
        && let Err(e) = std::fs::write(&path, &url)
    {
        eprintln!("polyai-mock: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    wait_for_signal().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}
