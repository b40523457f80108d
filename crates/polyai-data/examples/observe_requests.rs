//! Logs every attempt of every request (method, path, status, duration, correlation id) and tags
//! each request with a custom header, through a [`Hook`]; then prints a summary.
//!
//! ```sh
//! POLYAI_API_KEY=… POLYAI_REGION=us cargo run -p polyai-data --example observe_requests -- PROJECT-1
//! # against a local mock server (`cargo run -p polyai-mock`):
//! POLYAI_API_KEY=sandbox-key POLYAI_BASE_URL=http://127.0.0.1:8080 \
//!     cargo run -p polyai-data --example observe_requests -- PROJECT-SANDBOX
//! ```

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use polyai_data::Client;
use polyai_data::hook::{Hook, RequestParts, ResponseInfo};

/// Adds `x-request-source` to every request and keeps per-status counts.
#[derive(Default)]
struct RequestLog {
    /// `(status or failure, attempts, total time)`, in order of first appearance.
    totals: Mutex<Vec<(String, u32, Duration)>>,
}

impl Hook for RequestLog {
    fn on_request(&self, request: &mut RequestParts<'_>) {
        // A header the client owns (the key, the correlation id, …) or an invalid value is
        // refused, and the call fails with an error saying which header.
        let _ = request.insert_header("x-request-source", "observe-requests-example");
    }

    fn on_response(&self, response: &ResponseInfo<'_>) {
        eprintln!(
            "{} {} attempt {} → {} in {} ms (correlation id {})",
            response.method(),
            response.path(),
            response.attempt(),
            response.outcome(),
            response.duration().as_millis(),
            response.correlation_id(),
        );
        let key = response.outcome().to_string();
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        match totals.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, n, time)) => {
                *n += 1;
                *time += response.duration();
            }
            None => totals.push((key, 1, response.duration())),
        }
    }
}

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
    let agent_id = std::env::args()
        .nth(1)
        .ok_or("usage: observe_requests <agent-id>")?;
    let log = Arc::new(RequestLog::default());
    let client = Client::builder().from_env().hook(log.clone()).build()?;
    let agent = client.agent(agent_id);

    let page = agent.conversations().list().limit(5).await?;
    for summary in page.items() {
        let conversation = agent.conversations().get(&summary.conversation_id).await?;
        println!(
            "{}\t{} turns",
            conversation.conversation_id,
            conversation.turns.as_ref().map_or(0, Vec::len)
        );
    }

    let totals = log.totals.lock().unwrap_or_else(|e| e.into_inner());
    for (outcome, attempts, time) in totals.iter() {
        let mean = time.as_millis() / u128::from((*attempts).max(1));
        eprintln!("{outcome}: {attempts} attempt(s), {mean} ms on average");
    }
    Ok(())
}
