//! Listing and reading conversations, blocking.

use crate::blocking::{Runtime, forward, request_options};
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::models::{Conversation, ConversationSummary};
use crate::paginate::{Page, PageStream};

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
    inner: crate::Conversations,
    rt: Runtime,
}

impl Conversations {
    pub(crate) fn new(inner: crate::Conversations, rt: Runtime) -> Self {
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
/// ([`crate::ListConversations`]): the same page sizes, prefetch, de-duplication and guards.
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// for page in agent.conversations().list().limit(200).max_items(5000).pages() {
///     let page = page?;
///     println!("{}..{} of {}", page.offset(), page.offset() + page.items().len() as u64, page.count());
/// }
/// let everything = agent.conversations().list().dedupe(true).all()?;
/// # let _ = everything;
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` for one page, or iterate it"]
#[derive(Debug, Clone)]
pub struct ListConversations {
    inner: crate::ListConversations,
    rt: Runtime,
}

forward!(ListConversations => crate::ListConversations {
    fn limit(limit: u64);
    fn offset(offset: u64);
    fn max_items(max: u64);
    fn max_pages(max: u64);
    fn dedupe(dedupe: bool);
    fn prefetch(prefetch: bool);
    fn concurrency(pages: usize);
});
request_options!(ListConversations => crate::ListConversations);

impl ListConversations {
    /// One page.
    pub fn send(self) -> Result<Page<ConversationSummary>, Error> {
        self.rt.call(self.inner.send())
    }

    /// One page with each conversation as the JSON the server sent, as
    /// [`crate::ListConversations::send_json`].
    pub fn send_json(self) -> Result<Page<serde_json::Value>, Error> {
        self.rt.call(self.inner.send_json())
    }

    /// Every page from the start offset.
    pub fn pages(self) -> Pages<ConversationSummary> {
        Pages::new(self.inner.pages(), self.rt)
    }

    /// Every page with each conversation as the JSON the server sent, as
    /// [`crate::ListConversations::json_pages`].
    pub fn json_pages(self) -> Pages<serde_json::Value> {
        Pages::new(self.inner.json_pages(), self.rt)
    }

    /// Every conversation from the start offset (what iterating the builder does).
    pub fn items(self) -> Items<ConversationSummary> {
        self.pages().items()
    }

    /// Every conversation from the start offset, collected.
    pub fn all(self) -> Result<Vec<ConversationSummary>, Error> {
        self.rt.call(self.inner.all())
    }
}

impl IntoIterator for ListConversations {
    type Item = Result<ConversationSummary, Error>;
    type IntoIter = Items<ConversationSummary>;

    fn into_iter(self) -> Items<ConversationSummary> {
        self.items()
    }
}

/// The pages of a walk, as an [`Iterator`]. Ends after the last page or after the first error
/// (which it yields).
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let mut pages = agent.conversations().list().limit(100).pages();
/// while let Some(page) = pages.next().transpose()? {
///     println!("offset {}: {} items", page.offset(), page.items().len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "iterators do nothing unless iterated"]
pub struct Pages<T> {
    /// `None` once the walk has ended.
    stream: Option<PageStream<T>>,
    rt: Runtime,
}

impl<T: Send + 'static> Pages<T> {
    fn new(stream: PageStream<T>, rt: Runtime) -> Self {
        Pages {
            stream: Some(stream),
            rt,
        }
    }

    /// The items of every page, in order.
    pub fn items(self) -> Items<T> {
        Items {
            pages: self,
            page: Vec::new().into_iter(),
        }
    }
}

impl<T: Send + 'static> Iterator for Pages<T> {
    type Item = Result<Page<T>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.take()?;
        match self.rt.next(stream) {
            Ok((stream, Some(Ok(page)))) => {
                self.stream = Some(stream);
                Some(Ok(page))
            }
            Ok((_, item)) => item,
            Err(err) => Some(Err(err)),
        }
    }
}

impl<T: Send + 'static> std::iter::FusedIterator for Pages<T> {}

impl<T> std::fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pages")
    }
}

/// The items of a walk, across pages, as an [`Iterator`]. Ends after the last item or after
/// the first error (which it yields).
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let recent: Vec<String> = agent
///     .conversations()
///     .list()
///     .max_items(20)
///     .items()
///     .map(|c| c.map(|c| c.conversation_id))
///     .collect::<Result<_, _>>()?;
/// # let _ = recent;
/// # Ok(()) }
/// ```
#[must_use = "iterators do nothing unless iterated"]
pub struct Items<T> {
    pages: Pages<T>,
    /// What is left of the current page.
    page: std::vec::IntoIter<T>,
}

impl<T: Send + 'static> Iterator for Items<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.page.next() {
                return Some(Ok(item));
            }
            match self.pages.next()? {
                Ok(page) => self.page = page.into_items().into_iter(),
                Err(err) => return Some(Err(err)),
            }
        }
    }
}

impl<T: Send + 'static> std::iter::FusedIterator for Items<T> {}

impl<T> std::fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Items")
    }
}

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
    inner: crate::GetConversation,
    rt: Runtime,
}

request_options!(GetConversation => crate::GetConversation);

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

    /// The conversation as the API sent it, as [`crate::GetConversation::json`].
    pub fn json(self) -> Result<serde_json::Value, Error> {
        self.rt.call(self.inner.json())
    }

    /// The body exactly as the API sent it, as [`crate::GetConversation::json_bytes`].
    pub fn json_bytes(self) -> Result<bytes::Bytes, Error> {
        self.rt.call(self.inner.json_bytes())
    }
}
