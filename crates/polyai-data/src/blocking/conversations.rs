//! Listing and reading conversations, blocking.

use crate::blocking::walk::listing_calls;
use crate::blocking::{Runtime, forward, request_options};
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::models::{Conversation, ConversationSummary};
use crate::paginate::Position;

/// Conversation operations of one agent; from [`Agent::conversations`](super::Agent::conversations).
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let conversations = agent.conversations();
/// let page = conversations.list().limit(5).send()?;
/// if let Some(first) = page.items().first() {
///     let detail = conversations.get(&first.conversation_id).send()?;
///     println!("{:?}", detail.turns.map(|t| t.len()));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Conversations {
    inner: crate::conversations::Conversations,
    rt: Runtime,
}

impl Conversations {
    pub(crate) fn new(inner: crate::conversations::Conversations, rt: Runtime) -> Self {
        Conversations { inner, rt }
    }

    /// Lists conversations, newest first: [`send`](ListConversations::send) for one page, or
    /// iterate it for every conversation.
    pub fn list(&self) -> ListConversations {
        ListConversations {
            inner: self.inner.list(),
            rt: self.rt.clone(),
        }
    }

    /// Reads one conversation with its turns, metrics and function events.
    pub fn get(&self, conversation_id: impl Into<String>) -> GetConversation {
        GetConversation {
            inner: self.inner.get(conversation_id),
            rt: self.rt.clone(),
        }
    }
}

/// A conversation listing: one page with [`send`](Self::send), or every conversation from the
/// start offset by iterating it ([`IntoIterator`], [`items`](Self::items)) or its
/// [`pages`](Self::pages). The walk is the async client's
/// ([`crate::conversations::ListConversations`]): the same page sizes, prefetch, de-duplication and guards.
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// for page in agent.conversations().list().limit(200).max_items(5000).pages() {
///     let page = page?;
///     let from = page.offset().unwrap_or_default();
///     println!("{from}..{} of {:?}", from + page.items().len() as u64, page.count());
/// }
/// let everything = agent.conversations().list().dedupe(true).all()?;
/// # let _ = everything;
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` for one page, or iterate it"]
#[derive(Debug, Clone)]
pub struct ListConversations {
    inner: crate::conversations::ListConversations,
    rt: Runtime,
}

forward!(ListConversations => crate::conversations::ListConversations {
    fn limit(limit: u64);
    fn offset(offset: u64);
    fn from(position: Position);
    fn max_items(max: u64);
    fn max_pages(max: u64);
    fn dedupe(dedupe: bool);
    fn prefetch(prefetch: bool);
    fn concurrency(pages: usize);
});
request_options!(ListConversations => crate::conversations::ListConversations);

listing_calls!(ListConversations => crate::conversations::ListConversations, ConversationSummary);

/// Reads one conversation; from [`Conversations::get`].
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let (conversation, meta) = agent.conversations().get("CA1").send_with_meta()?;
/// println!("{} (correlation id {})", conversation.conversation_id, meta.correlation_id());
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` to send the request"]
#[derive(Debug, Clone)]
pub struct GetConversation {
    inner: crate::conversations::GetConversation,
    rt: Runtime,
}

request_options!(GetConversation => crate::conversations::GetConversation);

impl GetConversation {
    /// Sends the request.
    pub fn send(self) -> Result<Conversation, Error> {
        self.rt.call(self.inner.send())
    }

    /// Sends the request; the conversation with the response's status, correlation id and
    /// headers.
    pub fn send_with_meta(self) -> Result<(Conversation, ResponseMeta), Error> {
        self.rt.call(self.inner.send_with_meta())
    }

    /// The conversation as the API sent it, as [`crate::conversations::GetConversation::json`].
    pub fn json(self) -> Result<serde_json::Value, Error> {
        self.rt.call(self.inner.json())
    }

    /// The body exactly as the API sent it, as [`crate::conversations::GetConversation::json_bytes`].
    pub fn json_bytes(self) -> Result<bytes::Bytes, Error> {
        self.rt.call(self.inner.json_bytes())
    }
}
