//! Downloads a conversation's recording to a WAV file, with progress.
//!
//! ```sh
//! POLYAI_API_KEY=… cargo run -p polyai-data --example download_audio -- PROJECT-1 CA123 call.wav [combined|user|agent] [--redacted]
//! ```

use polyai_data::Client;
use polyai_data::audio::Direction;

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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [agent_id, conversation_id, path, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: download_audio <agent-id> <conversation-id> <out.wav> [direction] [--redacted]"
                .into(),
        );
    };
    let direction: Direction = rest
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or(Ok(Direction::Combined), |d| d.parse())?;
    let redacted = rest.iter().any(|a| a == "--redacted");
    let client = Client::from_env()?;
    let download = client
        .agent(agent_id)
        .audio(conversation_id)
        .direction(direction)
        .redacted(redacted)
        .send()
        .await?;
    eprintln!("downloading {:?} bytes", download.content_length());
    let saved = download
        .save_to_with_progress(path, |p| {
            if let Some(total) = p.total.filter(|t| *t > 0) {
                eprint!("\r{:5.1}%", p.received as f64 * 100.0 / total as f64);
            }
        })
        .await?;
    eprintln!("\nsaved {} bytes to {}", saved.bytes, saved.path.display());
    Ok(())
}
