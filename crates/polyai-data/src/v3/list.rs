//! [`ListConversations`]: the v3 listing's filters, retrieval modes and paging.

use serde::de::DeserializeOwned;

use crate::client_env::ClientEnv;
use crate::error::Error;
use crate::ids::check_id;
use crate::paginate::{
    Cursors, Fetch, ItemStream, Page, PageRequest, PageStream, Position, Walk, walk_pages,
};
use crate::timestamp::Timestamp;
use crate::transport::CallOptions;
use crate::v3::{Conversation, Project};

/// The most conversations one v3 page may hold (and the server's default page size).
pub const MAX_LIMIT: u64 = 1000;

/// Which side of the turns a transcript search reads.
///
/// ```
/// assert_eq!(polyai_data::v3::TurnType::Agent.as_str(), "agent");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TurnType {
    /// What the user said.
    User,
    /// What the agent said.
    Agent,
}

impl TurnType {
    /// Wire value: `user` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            TurnType::User => "user",
            TurnType::Agent => "agent",
        }
    }
}

/// The retrieval mode: at most one per request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    All,
    Transcript(String),
    Semantic(String),
    Sample,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Variant {
    Id(String),
    Name(String),
}

/// A v3 conversation listing; from [`Project::conversations`]. Await it (or `.send()`) for one
/// page, or walk every page with [`stream`](Self::stream) / [`pages`](Self::pages).
///
/// Every filter of the API is a method. A request takes at most one retrieval mode —
/// [`transcript_search`](Self::transcript_search), [`semantic_search`](Self::semantic_search)
/// or [`sample_random`](Self::sample_random) — so setting one replaces another; likewise
/// [`variant_id`](Self::variant_id) and [`variant_name`](Self::variant_name). Mistakes the
/// server would answer with 400 (a page size outside 1..=1000, a turn type without transcript
/// search, an empty search, a start after the end, a cursor with an offset) are reported as
/// [`Error::InvalidRequest`] before anything is sent, and so are account and project ids no URL
/// can carry (the same rules as the Data API's ids).
///
/// Without [`client_env`](Self::client_env) the server lists **live** conversations only.
///
/// ```no_run
/// use polyai_data::{ClientEnv, Timestamp};
/// use polyai_data::v3::TurnType;
/// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
/// let page = project
///     .conversations()
///     .start_time("2026-06-02T00:00:00Z".parse::<Timestamp>()?)
///     .end_time("2026-06-03T00:00:00Z".parse::<Timestamp>()?)
///     .transcript_search("cancel my subscription")
///     .turn_type(TurnType::User)
///     .channel("VOICE-SIP")
///     .channel("WEBCHAT")
///     .client_env(ClientEnv::PreRelease)
///     .variant_name("Main Line")
///     .in_progress(false)
///     .include_latency(true)
///     .limit(200)
///     .await?;
/// println!("{} conversations; more: {}", page.items().len(), page.cursor().is_some());
/// # Ok(()) }
/// ```
#[must_use = "await it for one page, or call `.stream()` / `.pages()`"]
#[derive(Debug, Clone)]
pub struct ListConversations {
    project: Project,
    mode: Mode,
    turn_type: Option<TurnType>,
    start_time: Option<Timestamp>,
    end_time: Option<Timestamp>,
    channels: Vec<String>,
    client_env: Option<ClientEnv>,
    variant: Option<Variant>,
    in_progress: Option<bool>,
    include_latency: bool,
    limit: Option<u64>,
    offset: Option<u64>,
    cursor: Option<String>,
    walk: Walk,
    options: CallOptions,
}

impl ListConversations {
    pub(crate) fn new(project: Project) -> Self {
        ListConversations {
            project,
            mode: Mode::All,
            turn_type: None,
            start_time: None,
            end_time: None,
            channels: Vec::new(),
            client_env: None,
            variant: None,
            in_progress: None,
            include_latency: false,
            limit: None,
            offset: None,
            cursor: None,
            walk: Walk::default(),
            options: CallOptions::default(),
        }
    }

    /// Only conversations that started at or after `time` (`start_time`).
    pub fn start_time(mut self, time: impl Into<Timestamp>) -> Self {
        self.start_time = Some(time.into());
        self
    }

    /// Only conversations that started before `time` (`end_time`).
    pub fn end_time(mut self, time: impl Into<Timestamp>) -> Self {
        self.end_time = Some(time.into());
        self
    }

    /// The start of the time range set ([`start_time`](Self::start_time)), if any.
    pub(crate) fn start_bound(&self) -> Option<Timestamp> {
        self.start_time
    }

    /// The end of the time range set ([`end_time`](Self::end_time)), if any.
    pub(crate) fn end_bound(&self) -> Option<Timestamp> {
        self.end_time
    }

    /// The page size a walk asks for (the server's default when none is set).
    pub(crate) fn page_limit(&self) -> u64 {
        self.limit.unwrap_or(MAX_LIMIT)
    }

    /// Full-text search of the transcripts for `text` (`query_type=transcript`).
    pub fn transcript_search(mut self, text: impl Into<String>) -> Self {
        self.mode = Mode::Transcript(text.into());
        self
    }

    /// With [`transcript_search`](Self::transcript_search), read only the user's or only the
    /// agent's side of each turn (`turn_type`).
    pub fn turn_type(mut self, side: TurnType) -> Self {
        self.turn_type = Some(side);
        self
    }

    /// Semantic (meaning) search for `text`, best matches first (`query_type=semantic`).
    pub fn semantic_search(mut self, text: impl Into<String>) -> Self {
        self.mode = Mode::Semantic(text.into());
        self
    }

    /// A random sample of the time range: the conversations in random order, so the first page of
    /// `limit(n)` is a sample of `n` (`sample=random`).
    pub fn sample_random(mut self) -> Self {
        self.mode = Mode::Sample;
        self
    }

    /// Only this channel, e.g. `VOICE-SIP`, `WEBCHAT`, `voice`; call again to allow more
    /// (`channel`, repeated).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channels.push(channel.into());
        self
    }

    /// Only these channels (added to any set before).
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.channels.extend(channels.into_iter().map(Into::into));
        self
    }

    /// Only conversations of this environment (`client_env`; the server's default is live).
    pub fn client_env(mut self, env: ClientEnv) -> Self {
        self.client_env = Some(env);
        self
    }

    /// Only conversations of this variant id (`variant_id`; replaces a variant name).
    pub fn variant_id(mut self, id: impl Into<String>) -> Self {
        self.variant = Some(Variant::Id(id.into()));
        self
    }

    /// Only conversations of the variant with this name (`variant_name`; replaces a variant id).
    pub fn variant_name(mut self, name: impl Into<String>) -> Self {
        self.variant = Some(Variant::Name(name.into()));
        self
    }

    /// `true`: only conversations still going on; `false`: only finished ones (`in_progress`).
    pub fn in_progress(mut self, in_progress: bool) -> Self {
        self.in_progress = Some(in_progress);
        self
    }

    /// Add each turn's latency (`include_latency`); read it with
    /// [`TurnExt::latency_seconds`](crate::models::TurnExt::latency_seconds).
    pub fn include_latency(mut self, include: bool) -> Self {
        self.include_latency = include;
        self
    }

    /// Page size, 1 to 1000 (`limit`; the server's default is 1000).
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skip this many conversations (`offset`). Prefer cursors: offsets shift when conversations
    /// arrive during a walk. A walk still continues by cursor after its first page.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Continue from a cursor a previous page returned ([`Page::cursor`]), e.g. to resume a
    /// walk after a restart. The other filters must be the same as when it was issued.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Start at a [`Position`] a page gave ([`Page::next`]), e.g. saved by an earlier run: a
    /// cursor (as [`cursor`](Self::cursor)) or an offset (as [`offset`](Self::offset), v3's
    /// `offset` parameter). It replaces an offset or cursor set before.
    ///
    /// ```no_run
    /// use polyai_data::paginate::Position;
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), Box<dyn std::error::Error>> {
    /// let saved: Position = serde_json::from_str(&std::fs::read_to_string("resume.json")?)?;
    /// let rest = project.conversations().limit(1000).from(saved).all().await?;
    /// # let _ = rest;
    /// # Ok(()) }
    /// ```
    pub fn from(mut self, position: Position) -> Self {
        (self.offset, self.cursor) = match position {
            Position::Offset(offset) => (Some(offset), None),
            Position::Cursor(cursor) => (None, Some(cursor)),
        };
        self
    }

    /// Where the first page starts: the cursor, else the offset, else the start.
    fn start(&self) -> Option<Position> {
        self.cursor
            .clone()
            .map(Position::Cursor)
            .or(self.offset.map(Position::Offset))
    }

    /// One page (what awaiting the builder does).
    pub async fn send(self) -> Result<Page<Conversation>, Error> {
        self.check()?;
        self.fetch(self.start(), self.limit).await
    }

    /// One page with each conversation as the JSON the server sent (see
    /// [`json_pages`](Self::json_pages)).
    pub async fn send_json(self) -> Result<Page<serde_json::Value>, Error> {
        self.check()?;
        self.fetch(self.start(), self.limit).await
    }

    /// When each conversation of one random page of this listing started: a page of `n` of its
    /// conversations (its filters and time range) by `sample=random`, each read for its
    /// `started_at` only (an item without a readable one is left out). `None` when this listing
    /// searches (a search and a sample exclude each other, so its sample would be another
    /// listing's). For [`Listing::sized`](crate::listing::Listing::sized).
    pub(crate) async fn sampled_start_times(
        &self,
        n: u64,
    ) -> Result<Option<Vec<Timestamp>>, Error> {
        #[derive(serde::Deserialize)]
        struct Started {
            #[serde(default)]
            started_at: Option<serde_json::Value>,
        }
        if self.mode != Mode::All {
            return Ok(None);
        }
        let list = self.clone().sample_random().limit(n);
        list.check()?;
        let page: Page<Started> = list.fetch(None, list.limit).await?;
        Ok(Some(
            page.into_items()
                .into_iter()
                .filter_map(|item| item.started_at?.as_str()?.parse().ok())
                .collect(),
        ))
    }

    /// Every page, following cursors, the next one fetched ahead.
    pub fn pages(self) -> PageStream<Conversation> {
        self.walk_as()
    }

    /// Every conversation, as one stream.
    pub fn stream(self) -> ItemStream<Conversation> {
        self.pages().items()
    }

    /// Every conversation, collected.
    pub async fn all(self) -> Result<Vec<Conversation>, Error> {
        self.stream().collect_all().await
    }

    /// Every page with each conversation as the JSON the server sent (every field, `null`s and
    /// number forms included), for tools that pass records on untouched.
    ///
    /// ```no_run
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
    /// let mut pages = project.conversations().json_pages();
    /// while let Some(page) = pages.try_next().await? {
    ///     for raw in page.items() {
    ///         println!("{raw}");
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn json_pages(self) -> PageStream<serde_json::Value> {
        self.walk_as()
    }

    /// Every page with each conversation as the JSON text the server sent, without a parsed
    /// tree (a page of 1000 conversations with their turns is 3.7 MB of text and about 20 MB as
    /// `Value`s): for [`Listing::text_pages`](crate::listing::Listing::text_pages).
    pub(crate) fn text_pages(self) -> PageStream<Box<serde_json::value::RawValue>> {
        self.walk_as()
    }

    fn walk_as<T: DeserializeOwned + Send + 'static>(self) -> PageStream<T> {
        if let Err(err) = self.check() {
            return PageStream::failed(err);
        }
        let walk = Walk {
            page_size: self.limit,
            ..self.walk
        };
        let planner = Cursors::new(self.start());
        let fetch: Fetch<T> = std::sync::Arc::new(move |request: PageRequest| {
            let listing = self.clone();
            let limit = request.limit.map(|limit| limit.min(MAX_LIMIT));
            Box::pin(async move { listing.fetch(request.position, limit).await })
        });
        walk_pages(fetch, walk, planner)
    }

    /// The checks the server would answer with 400, made before sending.
    fn check(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::InvalidRequest(m));
        for (what, id) in self.path_ids() {
            check_id(what, id)?;
        }
        if let Some(limit) = self.limit
            && !(1..=MAX_LIMIT).contains(&limit)
        {
            return invalid(format!(
                "limit must be between 1 and {MAX_LIMIT} (the Conversations API v3 maximum), got {limit}"
            ));
        }
        match &self.mode {
            Mode::Transcript(text) | Mode::Semantic(text) if text.trim().is_empty() => {
                return invalid("the search text is empty".into());
            }
            _ => {}
        }
        if self.turn_type.is_some() && !matches!(self.mode, Mode::Transcript(_)) {
            return invalid("turn_type only applies to a transcript search".into());
        }
        if let (Some(start), Some(end)) = (self.start_time, self.end_time)
            && start > end
        {
            return invalid(format!("start_time {start} is after end_time {end}"));
        }
        if self.cursor.is_some() && self.offset.is_some() {
            return invalid("give a cursor or an offset, not both".into());
        }
        if self.channels.iter().any(|c| c.trim().is_empty()) {
            return invalid("a channel is empty".into());
        }
        Ok(())
    }

    /// The ids the request's path carries, named.
    fn path_ids(&self) -> [(&'static str, &str); 2] {
        [
            ("account id", self.project.account_id()),
            ("project id", self.project.project_id()),
        ]
    }

    /// The page at `position` (`None`: the first), of at most `limit` conversations.
    async fn fetch<T: DeserializeOwned>(
        &self,
        position: Option<Position>,
        limit: Option<u64>,
    ) -> Result<Page<T>, Error> {
        use polyai_data_raw::conversations_v3::types as spec_types;
        let inner = self.project.client().inner();
        // Every name and value below goes through the generated method: the spec's query names,
        // enum values and encodings, not ours.
        let (query_type, query, sample) = match &self.mode {
            Mode::All => (None, None, None),
            Mode::Transcript(text) => (
                Some(spec_types::ListConversationsV3QueryType::Transcript),
                Some(text.as_str()),
                None,
            ),
            Mode::Semantic(text) => (
                Some(spec_types::ListConversationsV3QueryType::Semantic),
                Some(text.as_str()),
                None,
            ),
            Mode::Sample => (
                None,
                None,
                Some(spec_types::ListConversationsV3Sample::Random),
            ),
        };
        let turn_type = self.turn_type.map(|side| match side {
            TurnType::User => spec_types::ListConversationsV3TurnType::User,
            TurnType::Agent => spec_types::ListConversationsV3TurnType::Agent,
        });
        let client_env = self.client_env.map(|env| match env {
            ClientEnv::Sandbox => spec_types::ListConversationsV3ClientEnv::Sandbox,
            ClientEnv::PreRelease => spec_types::ListConversationsV3ClientEnv::PreRelease,
            ClientEnv::Live => spec_types::ListConversationsV3ClientEnv::Live,
        });
        let start_time = self.start_time.map(|t| t.to_string());
        let end_time = self.end_time.map(|t| t.to_string());
        let (variant_id, variant_name) = match &self.variant {
            Some(Variant::Id(id)) => (Some(id.as_str()), None),
            Some(Variant::Name(name)) => (None, Some(name.as_str())),
            None => (None, None),
        };
        let (offset, cursor) = match &position {
            Some(Position::Offset(offset)) => (Some(*offset), None),
            Some(Position::Cursor(cursor)) => (None, Some(cursor.as_str())),
            None => (None, None),
        };
        let channels = (!self.channels.is_empty()).then_some(&self.channels);
        let exchange = inner.exchange(&self.options).path_ids(&self.path_ids())?;
        let request = exchange.build_v3(async |spec| {
            spec.list_conversations_v3(
                self.project.account_id(),
                self.project.project_id(),
                channels,
                client_env,
                cursor,
                end_time.as_deref(),
                self.in_progress,
                self.include_latency.then_some(true),
                limit.and_then(std::num::NonZeroU64::new),
                offset,
                query,
                query_type,
                sample,
                start_time.as_deref(),
                turn_type,
                variant_id,
                variant_name,
                Some(exchange.correlation_id()),
            )
            .await
        })?;
        let (body, meta): (Envelope<T>, _) = exchange.json(request).await?;
        Ok(Page {
            items: body.conversations,
            position,
            cursor: body.cursor.filter(|c| !c.is_empty()),
            next_offset: body.next_offset.and_then(|n| u64::try_from(n).ok()),
            count: None,
            limit: None,
            meta,
        })
    }
}

crate::options::request_options!(ListConversations => Page<Conversation>);
crate::paginate::walk_options!(ListConversations);

/// `GetConversationsResponse` with the item type left open (typed, or raw JSON).
#[derive(serde::Deserialize)]
struct Envelope<T> {
    conversations: Vec<T>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    next_offset: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> ListConversations {
        let client = crate::Client::builder()
            .api_key("k")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        client.workspace("ws-1").project("P").conversations()
    }

    #[test]
    fn what_the_server_would_refuse_is_refused_first() {
        for (l, hint) in [
            (listing().limit(0), "between 1 and 1000"),
            (listing().limit(1001), "between 1 and 1000"),
            (listing().semantic_search(" "), "empty"),
            (listing().turn_type(TurnType::Agent), "transcript search"),
            (
                listing().semantic_search("x").turn_type(TurnType::Agent),
                "transcript search",
            ),
            (
                listing()
                    .start_time(Timestamp::now())
                    .end_time(Timestamp::from_unix_micros(0).unwrap_or_else(Timestamp::now)),
                "after end_time",
            ),
            (listing().cursor("c").offset(1), "not both"),
            (listing().channel(""), "channel"),
        ] {
            let err = l.check().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(hint), "{err}");
        }
        let client = crate::Client::builder()
            .api_key("k")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = client.workspace("..").project("P").conversations().check();
        assert!(err.is_err());
    }
}
