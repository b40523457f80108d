//! Exports every conversation (full detail with turns) as JSON Lines.
//!
//! ```sh
//! POLYAI_API_KEY=… cargo run -p polyai-data --example export_jsonl -- PROJECT-1 conversations.jsonl
//! ```

use std::io::Write;

use polyai_data::Client;

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
    let mut args = std::env::args().skip(1);
    let agent_id = args
        .next()
        .ok_or("usage: export_jsonl <agent-id> [out.jsonl]")?;
    let out: Box<dyn Write> = match args.next() {
        Some(path) => Box::new(std::fs::File::create(path)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = std::io::BufWriter::new(out);
    let agent = Client::from_env()?.agent(agent_id);
    let mut summaries = agent
        .conversations()
        .list()
        .limit(100)
        .dedupe(true)
        .stream();
    let mut n = 0u64;
    while let Some(summary) = summaries.try_next().await? {
        let detail = agent.conversations().get(&summary.conversation_id).await?;
        serde_json::to_writer(&mut out, &detail)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    eprintln!("exported {n} conversations");
    Ok(())
}
