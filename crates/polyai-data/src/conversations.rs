//! Listing and reading conversations.

use crate::client::Agent;
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::models::{Conversation, ConversationSummary};
use crate::paginate::{
    DEFAULT_CONCURRENCY, Fetch, ItemStream, Keyed, MAX_PAGE_SIZE, Offsets, Page, PageRequest,
    PageStream, Position, Walk, walk_pages,
};
use crate::transport::{CallOptions, Exchange};

/// Conversation operations of one agent; from [`Agent::conversations`].
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// let conversations = agent.conversations();
/// let page = conversations.list().limit(5).await?;
/// if let Some(first) = page.items().first() {
///     let detail = conversations.get(&first.conversation_id).await?;
///     println!("{:?}", detail.turns.map(|t| t.len()));
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Conversations {
    pub(crate) agent: Agent,
}

impl Conversations {
    /// Lists conversations, newest first. Await it for one page, or walk everything with
    /// [`stream`](ListConversations::stream) / [`pages`](ListConversations::pages).
    ///
    /// ```no_run
    /// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
    /// let conversations = client.agent("PROJECT-1").conversations();
    /// let first_page = conversations.list().limit(25).await?;
    /// let everything = conversations.list().dedupe(true).all().await?;
    /// # let _ = (first_page, everything);
    /// # Ok(()) }
    /// ```
    pub fn list(&self) -> ListConversations {
        ListConversations {
            agent: self.agent.clone(),
            limit: None,
            start: None,
            walk: Walk {
                page_size: Some(MAX_PAGE_SIZE),
                concurrency: DEFAULT_CONCURRENCY,
                ..Walk::default()
            },
            dedupe: false,
            options: CallOptions::default(),
        }
    }

    /// Reads one conversation with its turns, metrics and function events.
    ///
    /// ```no_run
    /// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
    /// use polyai_data::models::ConversationExt;
    /// let conversation = client.agent("PROJECT-1").conversations().get("CA123").await?;
    /// println!("{:?}: {} turns", conversation.summary_heading(), conversation.turns.as_ref().map_or(0, Vec::len));
    /// # Ok(()) }
    /// ```
    pub fn get(&self, conversation_id: impl Into<String>) -> GetConversation {
        GetConversation {
            agent: self.agent.clone(),
            conversation_id: conversation_id.into(),
            options: CallOptions::default(),
        }
    }
}

/// A conversation listing: one page when awaited, or a walk over all pages.
///
/// Paging is by `limit`/`offset`; read [the notes on offset paging](crate::paginate) about
/// conversations that arrive during a walk. Every page says where the next one starts
/// ([`Page::next`]); [`from`](Self::from) resumes there.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// let mut pages = agent
///     .conversations()
///     .list()
///     .limit(200)
///     .offset(1000)
///     .max_items(5000)
///     .dedupe(true)
///     .pages();
/// while let Some(page) = pages.try_next().await? {
///     let from = page.offset().unwrap_or_default();
///     println!("{from}..{} of {:?}", from + page.items().len() as u64, page.count());
/// }
/// # Ok(()) }
/// ```
#[must_use = "await it for one page, or call `.stream()` / `.pages()`"]
#[derive(Debug, Clone)]
pub struct ListConversations {
    agent: Agent,
    limit: Option<u64>,
    /// Where the first page starts (`None`: offset 0).
    start: Option<Position>,
    walk: Walk,
    dedupe: bool,
    options: CallOptions,
}

impl ListConversations {
    /// Page size (at least 1). Awaited alone, the builder asks for one page of the server's
    /// default size (50) unless this is set; a walk ([`stream`](Self::stream),
    /// [`pages`](Self::pages), [`all`](Self::all)) without it asks for pages of
    /// [`MAX_PAGE_SIZE`].
    pub fn limit(mut self, limit: u64) -> Self {
        let limit = limit.max(1);
        self.limit = Some(limit);
        self.walk.page_size = Some(limit);
        self
    }

    /// Where to start (number of conversations to skip); the same as
    /// [`from(Position::Offset(offset))`](Self::from).
    pub fn offset(mut self, offset: u64) -> Self {
        self.start = Some(Position::Offset(offset));
        self
    }

    /// Where to start: a [`Position`] a page gave ([`Page::next`]), e.g. saved by an earlier run.
    /// The Data API pages by offset: a cursor position (the Conversations API v3's) fails the call
    /// with [`Error::InvalidRequest`].
    ///
    /// ```no_run
    /// use polyai_data::paginate::Position;
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let saved: Position = "offset:400".parse()?;
    /// let page = agent.conversations().list().limit(100).from(saved).await?;
    /// assert_eq!(page.offset(), Some(400));
    /// # Ok(()) }
    /// ```
    pub fn from(mut self, position: Position) -> Self {
        self.start = Some(position);
        self
    }

    /// The offset of the first page; an error for a position the Data API cannot start at.
    fn start_offset(&self) -> Result<Option<u64>, Error> {
        match &self.start {
            None => Ok(None),
            Some(Position::Offset(offset)) => Ok(Some(*offset)),
            Some(other) => Err(Error::InvalidRequest(format!(
                "the Data API pages by offset and cannot start at `{other}`: a cursor is a position \
                 of the Conversations API v3 listing (`client.workspace(..).project(..).conversations()`)"
            ))),
        }
    }

    /// Drop conversations seen again in this walk (by `conversationId`), as offset paging
    /// repeats them when conversations arrive mid-walk. Off by default. Memory stays flat: the
    /// walk remembers a window of the most recent ids (see [the notes on
    /// de-duplication](crate::paginate)), which is where repeats appear.
    pub fn dedupe(mut self, dedupe: bool) -> Self {
        self.dedupe = dedupe;
        self
    }

    /// Pages a walk fetches at once once the first page has reported the total (default
    /// [`DEFAULT_CONCURRENCY`]; at least 1, which reads
    /// one page ahead). Pages are still yielded in order, and at most this many are held. A page
    /// shorter than asked for (a server capping page sizes) makes the walk drop the pages it
    /// planned past it and go on from the items that arrived, so the walk stays exact.
    /// Without [`prefetch`](Self::prefetch) pages are fetched one at a time.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let everything = agent.conversations().list().concurrency(8).all().await?;
    /// # let _ = everything;
    /// # Ok(()) }
    /// ```
    pub fn concurrency(mut self, pages: usize) -> Self {
        self.walk.concurrency = pages.max(1);
        self
    }

    /// Every page from the start offset.
    pub fn pages(self) -> PageStream<ConversationSummary> {
        self.pages_as()
    }

    /// Every page from the start offset with each conversation as the JSON the server sent
    /// (every field, `null`s and number forms included), for tools that pass records on
    /// untouched. De-duplication, when on, goes by each record's `conversationId`.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let mut pages = agent.conversations().list().json_pages();
    /// while let Some(page) = pages.try_next().await? {
    ///     for raw in page.items() {
    ///         println!("{raw}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn json_pages(self) -> PageStream<serde_json::Value> {
        self.pages_as()
    }

    fn pages_as<T: ListItem>(self) -> PageStream<T> {
        self.pages_converted(|item: T| item)
    }

    /// Pages whose items `convert` turns into `U` as soon as each page is read (inside its
    /// request), so that pages read ahead hold `U`s, not what the body was parsed into.
    pub(crate) fn pages_converted<
        T: serde::de::DeserializeOwned + Send + 'static,
        U: Keyed + Send + 'static,
    >(
        self,
        convert: impl Fn(T) -> U + Send + Sync + 'static,
    ) -> PageStream<U> {
        let start = match self.start_offset() {
            Ok(start) => start.unwrap_or(0),
            Err(err) => return PageStream::failed(err),
        };
        let planner = Offsets::new(
            start,
            self.walk.page_size.unwrap_or(MAX_PAGE_SIZE),
            self.dedupe,
        );
        let agent = self.agent;
        let options = self.options;
        let convert = std::sync::Arc::new(convert);
        let fetch: Fetch<U> = std::sync::Arc::new(move |request: PageRequest| {
            let agent = agent.clone();
            let options = options.clone();
            let convert = convert.clone();
            let offset = request.position.as_ref().and_then(Position::offset);
            Box::pin(async move {
                let page = fetch_page::<T>(&agent, request.limit, offset, &options).await?;
                Ok(page.filter_map_items(|item| Some(convert(item))))
            })
        });
        walk_pages(fetch, self.walk, planner)
    }

    /// Every conversation from the start offset, as one stream.
    pub fn stream(self) -> ItemStream<ConversationSummary> {
        self.pages().items()
    }

    /// Every conversation from the start offset, collected.
    pub async fn all(self) -> Result<Vec<ConversationSummary>, Error> {
        self.stream().collect_all().await
    }

    /// One page (what awaiting the builder does).
    pub async fn send(self) -> Result<Page<ConversationSummary>, Error> {
        fetch_page(&self.agent, self.limit, self.start_offset()?, &self.options).await
    }

    /// One page with each conversation as the JSON the server sent (see
    /// [`json_pages`](Self::json_pages)).
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let page = agent.conversations().list().limit(5).send_json().await?;
    /// println!("{}", serde_json::Value::Array(page.into_items()));
    /// # Ok(()) }
    /// ```
    pub async fn send_json(self) -> Result<Page<serde_json::Value>, Error> {
        fetch_page(&self.agent, self.limit, self.start_offset()?, &self.options).await
    }
}

crate::options::request_options!(ListConversations => Page<ConversationSummary>);
crate::paginate::walk_options!(ListConversations);

impl Keyed for ConversationSummary {
    fn key(&self) -> &str {
        &self.conversation_id
    }
}

impl Keyed for serde_json::Value {
    fn key(&self) -> &str {
        self.get("conversationId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    }
}

/// A listing page with its items as `T`.
#[derive(serde::Deserialize)]
struct ListBody<T> {
    conversations: Vec<T>,
    count: i64,
    limit: i64,
    offset: i64,
}

/// What a listing's items decode into: the generated model, or the JSON as sent.
trait ListItem: Keyed + serde::de::DeserializeOwned + Send + Sized + 'static {}

impl ListItem for ConversationSummary {}

impl ListItem for serde_json::Value {}

async fn fetch_page<T: serde::de::DeserializeOwned>(
    agent: &Agent,
    limit: Option<u64>,
    offset: Option<u64>,
    options: &CallOptions,
) -> Result<Page<T>, Error> {
    let exchange = agent.call(options)?;
    let request = exchange.build(async |spec| {
        spec.list_conversations(
            &agent.agent_id,
            limit.and_then(std::num::NonZeroU64::new),
            offset,
            Some(exchange.correlation_id()),
        )
        .await
    })?;
    // The page as sent, with its items typed or left as JSON: `GetConversationsResponse` with
    // the item type open.
    let (body, meta): (ListBody<T>, _) = exchange.json(request).await?;
    let non_negative = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Page::at_offset(
        body.conversations,
        offset.unwrap_or_else(|| non_negative(body.offset)),
        non_negative(body.count),
        non_negative(body.limit),
        meta,
    ))
}

/// Reads one conversation; from [`Conversations::get`]. Await it.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// let c = agent
///     .conversations()
///     .get("CA1")
///     .timeout(std::time::Duration::from_secs(60))
///     .await?;
/// println!("{:?}", c.short_summary);
/// # Ok(()) }
/// ```
#[must_use = "await it to send the request"]
#[derive(Debug, Clone)]
pub struct GetConversation {
    agent: Agent,
    conversation_id: String,
    options: CallOptions,
}

impl GetConversation {
    /// Sends the request (what awaiting the builder does).
    pub async fn send(self) -> Result<Conversation, Error> {
        self.send_with_meta()
            .await
            .map(|(conversation, _)| conversation)
    }

    /// Sends the request and returns the conversation with the response's status,
    /// correlation id and headers.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let (conversation, meta) = agent.conversations().get("CA1").send_with_meta().await?;
    /// println!("{} (status {}, correlation id {})", conversation.conversation_id, meta.status(), meta.correlation_id());
    /// # Ok(()) }
    /// ```
    pub async fn send_with_meta(self) -> Result<(Conversation, ResponseMeta), Error> {
        let (exchange, request) = self.request()?;
        exchange.typed(request).await
    }

    /// Sends the request and returns the conversation as the API sent it: every field, `null`s
    /// and number forms included. For tools that pass the record on untouched (archives, exports);
    /// use [`send`](Self::send) for the typed model.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let raw: serde_json::Value = agent.conversations().get("CA1").json().await?;
    /// println!("{raw}");
    /// # Ok(()) }
    /// ```
    pub async fn json(self) -> Result<serde_json::Value, Error> {
        let (exchange, request) = self.request()?;
        exchange.json(request).await.map(|(raw, _)| raw)
    }

    /// Sends the request and returns the body exactly as the API sent it (checked to be one JSON
    /// value), for tools that write records byte for byte without decoding them into a model or
    /// a [`serde_json::Value`] first (as `polyai export` does).
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let body = agent.conversations().get("CA1").json_bytes().await?;
    /// std::io::Write::write_all(&mut std::io::stdout(), &body).ok();
    /// # Ok(()) }
    /// ```
    pub async fn json_bytes(self) -> Result<bytes::Bytes, Error> {
        let (exchange, request) = self.request()?;
        exchange.json_bytes(request).await.map(|(body, _)| body)
    }

    /// The call, and the request the generated `get_conversation` builds for it.
    fn request(&self) -> Result<(Exchange, polyai_data_raw::Built<Conversation>), Error> {
        let exchange = self
            .agent
            .conversation_call(&self.conversation_id, &self.options)?;
        let request = exchange.build(async |spec| {
            spec.get_conversation(
                &self.agent.agent_id,
                &self.conversation_id,
                Some(exchange.correlation_id()),
            )
            .await
        })?;
        Ok((exchange, request))
    }
}

crate::options::request_options!(GetConversation => Conversation);
