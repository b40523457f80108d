//! Flags a turn of a conversation and sets its note.
//!
//! ```sh
//! POLYAI_API_KEY=… cargo run -p polyai-data --example annotate -- PROJECT-1 CA123 2 "agent gave the wrong hours"
//! ```

use polyai_data::Client;
use polyai_data::annotations::{Annotation, AnnotationType, Role};

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
    let [agent_id, conversation_id, turn, note] = args.as_slice() else {
        return Err("usage: annotate <agent-id> <conversation-id> <turn-index> <note>".into());
    };
    let agent = Client::from_env()?.agent(agent_id);
    agent
        .annotate(
            conversation_id,
            [Annotation::new(
                turn.parse()?,
                Role::Agent,
                AnnotationType::WrongInfo,
            )],
        )
        .await?;
    agent.note(conversation_id, note).await?;
    eprintln!("annotated turn {turn} of {conversation_id} and set its note");
    Ok(())
}
