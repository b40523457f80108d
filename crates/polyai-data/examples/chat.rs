//! An interactive debug chat with an agent's sandbox: type a line, read the reply.
//!
//! ```sh
//! POLYAI_API_KEY=… cargo run -p polyai-data --example chat -- PROJECT-1 [en-US]
//! ```

use std::io::BufRead;

use polyai_data::chat::ChatOptions;
use polyai_data::models::DebugChatExt;
use polyai_data::{Client, ClientEnv};

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
    let agent_id = args.next().ok_or("usage: chat <agent-id> [language]")?;
    let mut options = ChatOptions::new(ClientEnv::Sandbox);
    if let Some(lang) = args.next() {
        options = options.lang(lang);
    }
    let client = Client::from_env()?;
    let mut chat = client.agent(agent_id).debug_chat(options).await?;
    println!("[{}] agent: {}", chat.id(), chat.greeting().text());
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if chat.is_ended() {
            break;
        }
        let reply = chat.send(line).await?;
        println!("agent: {}", reply.text());
        if let Some(topics) = reply
            .metadata()
            .retrieved_topics
            .as_ref()
            .filter(|t| !t.is_empty())
        {
            println!("       (topics: {})", topics.join(", "));
        }
        for function in reply.function_names() {
            println!("       (called {function})");
        }
        if reply.is_handoff() {
            let to = reply
                .handoff_destination()
                .unwrap_or("an unnamed destination");
            println!("       (handed off to {to})");
        }
    }
    if chat.is_ended() {
        println!("the agent ended the conversation");
    }
    Ok(())
}
