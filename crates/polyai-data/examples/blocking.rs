//! The blocking client: no async runtime in sight. Counts an agent's conversations, prints the
//! newest ones, reads the newest in full and saves its recording.
//!
//! ```sh
//! POLYAI_API_KEY=… POLYAI_REGION=us cargo run -p polyai-data --features blocking --example blocking -- PROJECT-1
//! # against a local mock server (`cargo run -p polyai-mock`):
//! POLYAI_API_KEY=sandbox-key POLYAI_BASE_URL=http://127.0.0.1:8080 \
//!     cargo run -p polyai-data --features blocking --example blocking -- PROJECT-58RP822I
//! ```

use polyai_data::blocking::Client;
use polyai_data::models::ConversationExt;

fn main() -> std::process::ExitCode {
    // Print errors with `Display` (one line with status, code and correlation id).
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let agent_id = std::env::args()
        .nth(1)
        .ok_or("usage: blocking <agent-id> [recording.wav]")?;
    let wav = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "recording.wav".into());
    let client = Client::from_env()?;
    let agent = client.agent(agent_id);

    // Every page, as an iterator; later pages are fetched while this one is read.
    let mut total = 0u64;
    let mut newest = Vec::new();
    for conversation in agent.conversations().list().dedupe(true) {
        let conversation = conversation?;
        total += 1;
        if newest.len() < 5 {
            newest.push(conversation);
        }
    }
    println!("{total} conversations; the newest:");
    for c in &newest {
        println!(
            "  {}  {}",
            c.conversation_id,
            c.summary_heading().unwrap_or("-")
        );
    }

    let Some(first) = newest.first() else {
        return Ok(());
    };
    let detail = agent.conversations().get(&first.conversation_id).send()?;
    println!(
        "{}: {} turns",
        detail.conversation_id,
        detail.turns.as_ref().map_or(0, Vec::len)
    );

    // The recording, streamed to disk, checked and renamed into place when complete.
    match agent.audio(&detail.conversation_id).save_to(&wav) {
        Ok(saved) => println!(
            "recording: {} bytes in {}",
            saved.bytes,
            saved.path.display()
        ),
        Err(err) if err.is_not_found() => println!("no recording for this conversation"),
        Err(err) => return Err(err.into()),
    }
    Ok(())
}
