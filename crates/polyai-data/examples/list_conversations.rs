//! Lists every conversation of an agent, newest first.
//!
//! ```sh
//! POLYAI_API_KEY=… POLYAI_REGION=us cargo run -p polyai-data --example list_conversations -- PROJECT-1
//! # against a local mock server:
//! POLYAI_API_KEY=test POLYAI_BASE_URL=http://127.0.0.1:8080 cargo run -p polyai-data --example list_conversations -- PROJECT-1
//! ```

use std::io::Write;

use polyai_data::Client;
use polyai_data::models::ConversationExt;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Print errors with `Display` (one line with status, code and correlation id).
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let agent_id = std::env::args()
        .nth(1)
        .ok_or("usage: list_conversations <agent-id>")?;
    let client = Client::from_env()?;
    let mut conversations = client
        .agent(agent_id)
        .conversations()
        .list()
        .limit(100)
        .dedupe(true)
        .stream();
    let mut out = std::io::stdout().lock();
    let mut n = 0u64;
    while let Some(c) = conversations.try_next().await? {
        n += 1;
        writeln!(
            out,
            "{}\t{}\t{}\t{}s\t{}",
            c.conversation_id,
            c.created_at.as_deref().unwrap_or("-"),
            c.channel.as_deref().unwrap_or("-"),
            c.total_duration.unwrap_or_default(),
            c.summary_heading().unwrap_or("-"),
        )?;
    }
    eprintln!("{n} conversations");
    Ok(())
}
