//! A QA lead's weekly sample through the Conversations API v3: N random finished conversations
//! of the last 7 days, with each one's first request and slowest answer.
//!
//! ```sh
//! POLYAI_API_KEY=… POLYAI_REGION=us cargo run -p polyai-data --example qa_sample -- ws-fd112d8f PROJECT-1 50
//! # against a local mock server (its account is printed when it starts; its clock reads 2026-06-03):
//! POLYAI_API_KEY=sandbox-key POLYAI_BASE_URL=http://127.0.0.1:8787 \
//!   cargo run -p polyai-data --example qa_sample -- ws-3b93ff86 PROJECT-58RP822I 10 2026-06-03T14:00:00Z
//! ```

use std::time::Duration;

use polyai_data::models::TurnExt;
use polyai_data::v3::ConversationExt;
use polyai_data::{Client, Timestamp};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: qa_sample <account-id> <project-id> [N] [NOW as RFC 3339]";
    let mut args = std::env::args().skip(1);
    let account = args.next().ok_or(usage)?;
    let project = args.next().ok_or(usage)?;
    let n: u64 = args.next().map_or(Ok(50), |n| n.parse())?;
    let now: Timestamp = match args.next() {
        Some(now) => now.parse()?,
        None => Timestamp::now(),
    };
    let week_ago = now
        .checked_sub(Duration::from_secs(7 * 86_400))
        .ok_or("time out of range")?;

    let client = Client::from_env()?;
    let sample = client
        .workspace(account)
        .project(project)
        .conversations()
        .start_time(week_ago)
        .end_time(now)
        .in_progress(false)
        .include_latency(true)
        .sample_random()
        .limit(n.clamp(1, polyai_data::v3::MAX_LIMIT))
        .send()
        .await?;
    for c in sample.items() {
        let first = c
            .turns()
            .iter()
            .filter_map(|t| t.user_input.as_deref())
            .find(|text| !text.is_empty())
            .unwrap_or("-");
        let slowest = c
            .turns()
            .iter()
            .filter_map(|t| t.latency_seconds())
            .fold(0.0, f64::max);
        println!("{}  {}  {slowest:>5.2}s  {first}", c.id, c.started_at);
    }
    Ok(())
}
