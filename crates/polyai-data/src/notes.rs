//! The free-text note of a conversation.

use crate::client::Agent;
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::models::UpsertNoteBody;
use crate::transport::CallOptions;

/// Creates or replaces a conversation's note; from [`Agent::note`]. Await it.
///
/// Idempotent (the same note set twice is the same state), so it is retried like a read.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// agent.note("CA1", "called back").correlation_id("ticket-42").await?;
/// # Ok(()) }
/// ```
#[must_use = "await it to send the request"]
#[derive(Debug, Clone)]
pub struct UpsertNote {
    pub(crate) agent: Agent,
    pub(crate) conversation_id: String,
    pub(crate) note: String,
    pub(crate) options: CallOptions,
}

impl UpsertNote {
    /// Sends the request (what awaiting the builder does).
    pub async fn send(self) -> Result<(), Error> {
        self.send_with_meta().await.map(|((), _)| ())
    }

    /// Like [`send`](Self::send), and returns the response's status, correlation id and
    /// headers.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let ((), meta) = agent.note("CA1", "called back").send_with_meta().await?;
    /// println!("saved ({}), correlation id {}", meta.status(), meta.correlation_id());
    /// # Ok(()) }
    /// ```
    pub async fn send_with_meta(self) -> Result<((), ResponseMeta), Error> {
        let body = UpsertNoteBody { note: self.note };
        let exchange = self
            .agent
            .conversation_call(&self.conversation_id, &self.options)?;
        let request = exchange.build(async |spec| {
            spec.upsert_note(
                &self.agent.agent_id,
                &self.conversation_id,
                Some(exchange.correlation_id()),
                &body,
            )
            .await
        })?;
        exchange.ack(request).await.map(|meta| ((), meta))
    }
}

crate::options::request_options!(UpsertNote => ());
