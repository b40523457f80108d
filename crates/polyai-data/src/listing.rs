//! [`Listing`]: an agent's conversations through either API, as records of the contract.
//!
//! The Data API ([`conversations::ListConversations`]) and the Conversations API v3
//! ([`v3::ListConversations`]) list the same conversations in two shapes and with two paging
//! schemes. A `Listing` is chosen once, from either builder, and walked the same way: in
//! [`Lane`]s (v3 lists one environment per walk; the Data API lists every environment at once and
//! the listing keeps the wanted ones), each a [`PageStream`] of [`ConversationRecord`]s whose pages
//! say where the next one starts ([`Page::next`]), so a tool saves that [`Position`] per lane and
//! resumes there.
//!
//! A v3 listing with a start and an end time can also be cut into time windows
//! ([`Listing::windows`]): each environment's range becomes that many half-open sub-ranges, each
//! its own lane with its own cursor, so a tool may walk them at once.
//!
//! ```no_run
//! use polyai_data::listing::{Environments, Listing};
//! # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
//! let listing = Listing::v3(project.conversations().limit(1000)).environments(Environments::All);
//! for lane in listing.lanes() {
//!     let mut pages = listing.pages(lane, None);
//!     while let Some(page) = pages.try_next().await? {
//!         for record in page.items().iter().flatten() {
//!             println!("{lane} {} {:?}", record.conversation_id, record.started_at);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use serde_json::value::RawValue;

use crate::client_env::ClientEnv;
use crate::conversations;
use crate::error::Error;
use crate::paginate::{Keyed, Page, PageStream, Position};
use crate::record::{Api, ConversationRecord};
use crate::timestamp::Timestamp;
use crate::v3;

/// Which environments a listing keeps: one, or all three.
///
/// It parses `all` or an environment name ([`ClientEnv`]'s, in any case) and displays the same
/// way. The default is [`ClientEnv::Live`], the Conversations API v3's own default.
///
/// ```
/// use polyai_data::ClientEnv;
/// use polyai_data::listing::Environments;
/// assert_eq!("all".parse::<Environments>()?, Environments::All);
/// assert_eq!("Pre-Release".parse::<Environments>()?, Environments::Only(ClientEnv::PreRelease));
/// assert_eq!(Environments::default().to_string(), "live");
/// assert!("prod".parse::<Environments>().is_err());
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environments {
    /// Every environment: sandbox, pre-release and live.
    All,
    /// Only this environment.
    Only(ClientEnv),
}

impl Default for Environments {
    fn default() -> Self {
        Environments::Only(ClientEnv::Live)
    }
}

impl Environments {
    /// Whether a record of `environment` (its name as a record holds it) is kept. A record
    /// without an environment is kept only by [`Environments::All`].
    ///
    /// ```
    /// use polyai_data::listing::Environments;
    /// assert!(Environments::default().admits(Some("live")));
    /// assert!(!Environments::default().admits(Some("sandbox")));
    /// assert!(!Environments::default().admits(None));
    /// assert!(Environments::All.admits(None));
    /// ```
    pub fn admits(self, environment: Option<&str>) -> bool {
        match self {
            Environments::All => true,
            Environments::Only(env) => {
                environment.and_then(|name| name.parse::<ClientEnv>().ok()) == Some(env)
            }
        }
    }

    /// The environments, one by one: for [`Environments::All`] live, pre-release, then sandbox
    /// (the calls that matter most first).
    ///
    /// ```
    /// use polyai_data::ClientEnv;
    /// use polyai_data::listing::Environments;
    /// assert_eq!(Environments::All.each()[0], ClientEnv::Live);
    /// ```
    pub fn each(self) -> Vec<ClientEnv> {
        match self {
            Environments::All => vec![ClientEnv::Live, ClientEnv::PreRelease, ClientEnv::Sandbox],
            Environments::Only(env) => vec![env],
        }
    }
}

impl fmt::Display for Environments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environments::All => f.write_str("all"),
            Environments::Only(env) => env.fmt(f),
        }
    }
}

impl FromStr for Environments {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(Environments::All);
        }
        s.parse().map(Environments::Only).map_err(|_| {
            Error::InvalidRequest(format!(
                "unknown environment `{s}`; valid: all, sandbox, pre-release, live"
            ))
        })
    }
}

/// One walk of a [`Listing`]: the whole Data API listing, one environment of v3's, or one time
/// window of one environment of v3's ([`Listing::windows`]).
///
/// It displays as `all`, the environment's name, or the environment and its window
/// (`live 2026-05-01T00:00:00Z..2026-05-04T00:00:00Z`).
///
/// ```
/// use polyai_data::{ClientEnv, Timestamp};
/// use polyai_data::listing::Lane;
/// let lane = Lane::Window {
///     environment: ClientEnv::Live,
///     start: "2026-05-01".parse::<Timestamp>()?,
///     end: "2026-05-04".parse::<Timestamp>()?,
/// };
/// assert_eq!(lane.to_string(), "live 2026-05-01T00:00:00Z..2026-05-04T00:00:00Z");
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// The Data API's one listing of every environment (the listing keeps the wanted ones).
    Whole,
    /// One environment of the Conversations API v3, over the listing's whole time range.
    Environment(ClientEnv),
    /// The conversations of one environment of the Conversations API v3 that started in
    /// `[start, end)`.
    Window {
        /// The environment.
        environment: ClientEnv,
        /// The window's start (included).
        start: Timestamp,
        /// The window's end (excluded).
        end: Timestamp,
    },
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lane::Whole => f.write_str("all"),
            Lane::Environment(env) => env.fmt(f),
            Lane::Window {
                environment,
                start,
                end,
            } => write!(f, "{environment} {start}..{end}"),
        }
    }
}

/// `[start, end)` cut into at most `n` contiguous half-open windows of (nearly) equal length,
/// newest first: together they hold every instant of the range once. A range shorter than `n`
/// microseconds gives fewer windows (none empty, unless the range itself is: then one).
fn split(start: Timestamp, end: Timestamp, n: usize) -> Vec<(Timestamp, Timestamp)> {
    let (from, to) = (
        i128::from(start.unix_micros()),
        i128::from(end.unix_micros()),
    );
    let n = n.max(1);
    let cuts: Vec<Timestamp> = (1..n)
        .filter_map(|k| {
            // k < n, so the cut lies between `from` and `to`: in range.
            let micros = from + (to - from) * k as i128 / n as i128;
            i64::try_from(micros)
                .ok()
                .and_then(Timestamp::from_unix_micros)
        })
        .collect();
    // Cuts that round onto `start`, `end` or each other (a range of fewer microseconds than
    // windows) are left out there.
    cut_at(start, end, &cuts)
}

/// `[start, end)` cut at the instants of `at` that lie inside it (in any order, repeats
/// ignored), newest window first, as [`split`] gives them.
fn cut_at(start: Timestamp, end: Timestamp, at: &[Timestamp]) -> Vec<(Timestamp, Timestamp)> {
    let mut inside: Vec<Timestamp> = at
        .iter()
        .copied()
        .filter(|t| start < *t && *t < end)
        .collect();
    inside.sort_unstable();
    inside.dedup();
    let bounds: Vec<Timestamp> = std::iter::once(start)
        .chain(inside)
        .chain(std::iter::once(end))
        .collect();
    let mut windows: Vec<(Timestamp, Timestamp)> =
        bounds.windows(2).map(|pair| (pair[0], pair[1])).collect();
    windows.reverse();
    windows
}

/// The instants that cut `[start, end)` into `n` windows holding about as many of `sample` (start
/// times drawn at random from the range) each: the sample's `k/n` quantiles, oldest first. Fewer
/// when the sample has fewer distinct times inside the range; none for an empty sample.
fn quantile_cuts(
    mut sample: Vec<Timestamp>,
    start: Timestamp,
    end: Timestamp,
    n: usize,
) -> Vec<Timestamp> {
    // A cut at `start` would make an empty window.
    sample.retain(|t| start < *t && *t < end);
    sample.sort_unstable();
    let mut cuts: Vec<Timestamp> = Vec::new();
    for k in 1..n.max(1) {
        if let Some(&t) = sample.get(k * sample.len() / n)
            && cuts.last().is_none_or(|last| t > *last)
        {
            cuts.push(t);
        }
    }
    cuts
}

/// Conversations sampled per window by [`Listing::sized`]: the counts of windows cut at the
/// quantiles of a sample of `s` per window vary by about `1/sqrt(s)`, an eighth here.
const SAMPLED_PER_WINDOW: u64 = 64;

/// A listed conversation the listing could not read as a record: the body has no id.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// The item as the server sent it.
    pub raw: Value,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.raw.to_string();
        if shown.len() > 200 {
            let cut = (0..=200)
                .rev()
                .find(|&i| shown.is_char_boundary(i))
                .unwrap_or(0);
            shown.truncate(cut);
            shown.push('…');
        }
        write!(f, "a listed conversation without an id: {shown}")
    }
}

impl std::error::Error for Unreadable {}

/// What a listing page holds: a record, or an item it could not read.
pub type Listed = Result<ConversationRecord, Unreadable>;

/// What a page of [`Listing::text_pages`] holds: a record (without `raw`) and the item's JSON
/// text, or an item it could not read.
pub type ListedText = Result<(ConversationRecord, String), Unreadable>;

/// An agent's conversations through one API, chosen once (see the [module notes](self)).
#[derive(Debug, Clone)]
pub struct Listing {
    source: Source,
    environments: Environments,
    keep_raw: bool,
    windows: usize,
    /// Where an environment's range is cut, when not in equal slices ([`Listing::cut`]).
    cuts: Vec<(ClientEnv, Vec<Timestamp>)>,
}

#[derive(Debug, Clone)]
enum Source {
    Data(Box<conversations::ListConversations>),
    V3(Box<v3::ListConversations>),
}

impl Listing {
    /// The Data API's listing, as `list` describes it (page size, concurrency, options). Its
    /// walks drop conversations seen again in the walk (offset paging repeats them when
    /// conversations arrive).
    ///
    /// ```no_run
    /// use polyai_data::listing::Listing;
    /// # fn f(agent: polyai_data::Agent) {
    /// let listing = Listing::data(agent.conversations().list().limit(1000).concurrency(4));
    /// assert_eq!(listing.api(), polyai_data::record::Api::Data);
    /// # }
    /// ```
    pub fn data(list: conversations::ListConversations) -> Self {
        Listing {
            source: Source::Data(Box::new(list.dedupe(true))),
            environments: Environments::default(),
            keep_raw: false,
            windows: 1,
            cuts: Vec::new(),
        }
    }

    /// The Conversations API v3's listing, as `list` describes it (time window, search,
    /// filters, page size). Its environment filter is the listing's
    /// ([`environments`](Self::environments)), one [`Lane`] per environment.
    pub fn v3(list: v3::ListConversations) -> Self {
        Listing {
            source: Source::V3(Box::new(list)),
            environments: Environments::default(),
            keep_raw: false,
            windows: 1,
            cuts: Vec::new(),
        }
    }

    /// The environments kept (default: live).
    #[must_use]
    pub fn environments(mut self, environments: Environments) -> Self {
        self.environments = environments;
        self
    }

    /// Keep each body as the API sent it in the record's `raw` (default: off).
    #[must_use]
    pub fn keep_raw(mut self, keep: bool) -> Self {
        self.keep_raw = keep;
        self
    }

    /// Cut each v3 environment's time range into `n` windows, each its own [`Lane`]
    /// ([`Lane::Window`], newest first; default 1: none). The windows are half-open
    /// (`[start, end)`), so a conversation is in exactly one. It needs both a start and an end
    /// time ([`v3::ListConversations::start_time`] and
    /// [`end_time`](v3::ListConversations::end_time)): without them there is one lane per
    /// environment, as with `n = 1`. The Data API's listing ignores it (its one lane lists
    /// every conversation).
    ///
    /// ```
    /// use polyai_data::Timestamp;
    /// use polyai_data::listing::{Environments, Listing};
    /// let client = polyai_data::Client::builder().api_key("key").build()?;
    /// let project = client.workspace("ws-1").project("PROJECT-1");
    /// let list = project
    ///     .conversations()
    ///     .start_time("2026-05-01".parse::<Timestamp>()?)
    ///     .end_time("2026-05-09".parse::<Timestamp>()?);
    /// let lanes = Listing::v3(list.clone()).windows(4).lanes();
    /// assert_eq!(lanes.len(), 4);
    /// assert_eq!(lanes[0].to_string(), "live 2026-05-07T00:00:00Z..2026-05-09T00:00:00Z");
    /// assert_eq!(lanes[3].to_string(), "live 2026-05-01T00:00:00Z..2026-05-03T00:00:00Z");
    /// // Every environment: its windows, newest first, then the next environment's.
    /// let all = Listing::v3(list.clone()).environments(Environments::All).windows(4);
    /// assert_eq!(all.lanes().len(), 12);
    /// let fifth = all.lanes()[4].to_string();
    /// assert_eq!(fifth, "pre-release 2026-05-07T00:00:00Z..2026-05-09T00:00:00Z");
    /// // Without an end time: one lane per environment.
    /// let open = project.conversations().start_time("2026-05-01".parse::<Timestamp>()?);
    /// assert_eq!(Listing::v3(open).windows(4).lanes().len(), 1);
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    #[must_use]
    pub fn windows(mut self, n: usize) -> Self {
        self.windows = n.max(1);
        self
    }

    /// Cut `environment`'s range at these instants instead of in equal slices of time (with
    /// [`windows`](Self::windows) above 1 and a start and an end time; instants outside the range
    /// are ignored): the windows [`sized`](Self::sized) chose, as an earlier run saved them
    /// ([`cuts`](Self::cuts)), so a resumed walk has the same lanes. Calling it again for an
    /// environment replaces its cuts.
    ///
    /// ```
    /// use polyai_data::{ClientEnv, Timestamp};
    /// use polyai_data::listing::Listing;
    /// let client = polyai_data::Client::builder().api_key("key").build()?;
    /// let list = client
    ///     .workspace("ws-1")
    ///     .project("PROJECT-1")
    ///     .conversations()
    ///     .start_time("2026-01-01".parse::<Timestamp>()?)
    ///     .end_time("2027-01-01".parse::<Timestamp>()?);
    /// // Calls bunched in December: two windows there, one for the rest of the year.
    /// let at = vec!["2026-12-01".parse::<Timestamp>()?, "2026-12-16".parse::<Timestamp>()?];
    /// let listing = Listing::v3(list).windows(3).cut(ClientEnv::Live, at);
    /// let lanes = listing.lanes();
    /// assert_eq!(lanes[0].to_string(), "live 2026-12-16T00:00:00Z..2027-01-01T00:00:00Z");
    /// assert_eq!(lanes[2].to_string(), "live 2026-01-01T00:00:00Z..2026-12-01T00:00:00Z");
    /// assert_eq!(listing.cuts()[0].1.len(), 2);
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    #[must_use]
    pub fn cut(mut self, environment: ClientEnv, at: Vec<Timestamp>) -> Self {
        self.cuts.retain(|(env, _)| *env != environment);
        self.cuts.push((environment, at));
        self
    }

    /// The instants each environment's range is cut at ([`cut`](Self::cut) or
    /// [`sized`](Self::sized)); an environment not named is cut in equal slices of time.
    pub fn cuts(&self) -> &[(ClientEnv, Vec<Timestamp>)] {
        &self.cuts
    }

    /// Windows sized from the conversations themselves: for each environment, one random page of
    /// the listing (`sample=random`, 64 conversations per window, at most 1000) gives when its
    /// calls start, and the range is [cut](Self::cut) at that sample's quantiles, so each window
    /// holds about as many conversations (equal slices of time leave most windows empty when the
    /// calls are bunched: an agent that went live late in the range, or busy hours). The sample
    /// is random, so save [`cuts`](Self::cuts) to resume a walk with the same lanes. It does
    /// nothing for the Data API, for one window, for a range without a start or an end, or for a
    /// search (whose sample would be of another listing); an environment whose sample is empty
    /// is walked whole.
    ///
    /// ```no_run
    /// use polyai_data::Timestamp;
    /// use polyai_data::listing::{Environments, Listing};
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
    /// let list = project
    ///     .conversations()
    ///     .start_time("2026-01-01".parse::<Timestamp>()?)
    ///     .end_time("2027-01-01".parse::<Timestamp>()?);
    /// let listing = Listing::v3(list).environments(Environments::All).windows(8).sized().await?;
    /// for (environment, at) in listing.cuts() {
    ///     println!("{environment}: cut at {at:?}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn sized(mut self) -> Result<Self, Error> {
        let Source::V3(list) = &self.source else {
            return Ok(self);
        };
        let (Some(start), Some(end)) = (list.start_bound(), list.end_bound()) else {
            return Ok(self);
        };
        if self.windows < 2 {
            return Ok(self);
        }
        let n = (SAMPLED_PER_WINDOW * self.windows as u64).min(v3::MAX_LIMIT);
        let samples = futures_util::future::try_join_all(self.environments.each().into_iter().map(
            |environment| {
                let list = list.as_ref().clone().client_env(environment);
                async move {
                    let times = list.sampled_start_times(n).await?;
                    Ok::<_, Error>(times.map(|times| (environment, times)))
                }
            },
        ))
        .await?;
        let page = list.page_limit().max(1);
        for (environment, times) in samples.into_iter().flatten() {
            // A sample short of `n` is every conversation of the environment: as many windows
            // as it has pages, no more.
            let windows = if (times.len() as u64) < n {
                (times.len() as u64)
                    .div_ceil(page)
                    .clamp(1, self.windows as u64) as usize
            } else {
                self.windows
            };
            let at = quantile_cuts(times, start, end, windows);
            self = self.cut(environment, at);
        }
        Ok(self)
    }

    /// The API it reads.
    pub fn api(&self) -> Api {
        match self.source {
            Source::Data(_) => Api::Data,
            Source::V3(_) => Api::V3,
        }
    }

    /// The environments it keeps.
    pub fn environment_filter(&self) -> Environments {
        self.environments
    }

    /// Its walks, in order: one for the Data API; for v3 one per environment, or with
    /// [`windows`](Self::windows) one per environment and window (newest window first).
    pub fn lanes(&self) -> Vec<Lane> {
        match &self.source {
            Source::Data(_) => vec![Lane::Whole],
            Source::V3(list) => {
                let range = match (list.start_bound(), list.end_bound()) {
                    (Some(start), Some(end)) if self.windows > 1 => Some((start, end)),
                    _ => None,
                };
                let mut lanes = Vec::new();
                for environment in self.environments.each() {
                    let Some((start, end)) = range else {
                        lanes.push(Lane::Environment(environment));
                        continue;
                    };
                    let windows = match self.cuts.iter().find(|(env, _)| *env == environment) {
                        Some((_, at)) => cut_at(start, end, at),
                        None => split(start, end, self.windows),
                    };
                    lanes.extend(windows.into_iter().map(|(start, end)| Lane::Window {
                        environment,
                        start,
                        end,
                    }));
                }
                lanes
            }
        }
    }

    /// The pages of `lane` from `from` (its start when `None`), each item a record of a kept
    /// environment (or an item without an id, as [`Unreadable`]). A page's
    /// [`next`](Page::next) is where the lane goes on. A lane of the other API fails the stream
    /// with [`Error::InvalidRequest`].
    pub fn pages(&self, lane: Lane, from: Option<Position>) -> PageStream<Listed> {
        self.read_pages(lane, from, self.keep_raw, |record, _| record)
    }

    /// The pages of `lane` from `from`, as [`pages`](Self::pages), with each item's JSON text
    /// beside its record instead of a parsed body under `raw` (whatever
    /// [`keep_raw`](Self::keep_raw) says): for a tool that stores the body as text, such as
    /// `polyai-store`. A v3 page is read without a JSON tree (each item's text is read once into
    /// its record), so a page of 1000 conversations with their turns takes about a third of the
    /// memory; the text is the item as the server sent it.
    ///
    /// ```no_run
    /// use polyai_data::listing::{Environments, Lane, Listing};
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
    /// let listing = Listing::v3(project.conversations()).environments(Environments::All);
    /// let mut pages = listing.text_pages(Lane::Environment(polyai_data::ClientEnv::Live), None);
    /// while let Some(page) = pages.try_next().await? {
    ///     for (record, text) in page.items().iter().flatten() {
    ///         println!("{} {} bytes", record.conversation_id, text.len());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn text_pages(&self, lane: Lane, from: Option<Position>) -> PageStream<ListedText> {
        self.read_pages(lane, from, false, with_text)
    }

    /// The pages of `lane` from `from`, as [`pages`](Self::pages), with each item still its
    /// JSON text: an [`Unread`] becomes its record when the caller [reads](Unread::read) it. A
    /// tool that hands a page's conversations on one at a time (an export queueing them for its
    /// workers) holds the page as text, the smallest form there is, and never a page of records
    /// (about three times the text with turns inline) beside the ones it queued.
    ///
    /// ```no_run
    /// use polyai_data::listing::{Lane, Listing};
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let listing = Listing::data(agent.conversations().list());
    /// let mut pages = listing.unread_pages(Lane::Whole, None);
    /// while let Some(page) = pages.try_next().await? {
    ///     for item in page.into_items() {
    ///         // `None`: a conversation of an environment the listing does not keep.
    ///         if let Some(Ok(record)) = item.read() {
    ///             println!("{}", record.conversation_id);
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn unread_pages(&self, lane: Lane, from: Option<Position>) -> PageStream<Unread> {
        let (keep_raw, environments) = (self.keep_raw, self.environments);
        match self.builder(lane, from) {
            Ok(Builder::Data(list)) => list.pages_converted(Text::data).map_pages(move |page| {
                page.filter_map_items(|text| {
                    Some(Unread {
                        api: Api::Data,
                        json: text.json,
                        keep_raw,
                        // The Data API lists every environment at once.
                        environments: Some(environments),
                    })
                })
            }),
            Ok(Builder::V3(list)) => list.text_pages().map_pages(move |page| {
                page.filter_map_items(|json| {
                    Some(Unread {
                        api: Api::V3,
                        json,
                        keep_raw,
                        // A v3 lane is one environment.
                        environments: None,
                    })
                })
            }),
            Err(err) => PageStream::failed(err),
        }
    }

    /// The walk of [`pages`](Self::pages) and [`text_pages`](Self::text_pages): the
    /// [unread](Self::unread_pages) pages, each item made a record (with its body under `raw`
    /// when `keep_raw`) and, with its JSON text, a `T` by `finish` when the page is taken.
    ///
    /// A page's items are kept as their JSON text when the page is read (with the id the walk
    /// dedupes by), and become records only when the page is taken: a page is never a tree of
    /// JSON values as a whole (several times its size), and the pages read ahead hold text.
    fn read_pages<T: Send + 'static>(
        &self,
        lane: Lane,
        from: Option<Position>,
        keep_raw: bool,
        finish: fn(ConversationRecord, Box<RawValue>) -> T,
    ) -> PageStream<Result<T, Unreadable>> {
        self.unread_pages(lane, from)
            .map_pages(move |page| page.filter_map_items(|item| item.finish(keep_raw, finish)))
    }

    /// One page of `lane` from `from`, in one request: the page as the server sent it, without
    /// a walk's guards (which judge a page by the pages after it), for a tool that shows a page.
    ///
    /// ```no_run
    /// use polyai_data::listing::{Lane, Listing};
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let listing = Listing::data(agent.conversations().list().limit(20));
    /// let page = listing.page(Lane::Whole, None).await?;
    /// println!("{} live conversations; next: {:?}", page.items().len(), page.next());
    /// # Ok(()) }
    /// ```
    pub async fn page(&self, lane: Lane, from: Option<Position>) -> Result<Page<Listed>, Error> {
        let (keep_raw, environments) = (self.keep_raw, self.environments);
        Ok(match self.builder(lane, from)? {
            Builder::Data(list) => list
                .send_json()
                .await?
                .filter_map_items(|raw| data_item(raw, keep_raw, environments)),
            Builder::V3(list) => list
                .send_json()
                .await?
                .filter_map_items(|raw| Some(read(Api::V3, raw, keep_raw))),
        })
    }

    /// The builder that lists `lane` from `from`.
    fn builder(&self, lane: Lane, from: Option<Position>) -> Result<Builder, Error> {
        match (&self.source, lane) {
            (Source::Data(list), Lane::Whole) => {
                let mut list = list.as_ref().clone();
                if let Some(from) = from {
                    list = list.from(from);
                }
                Ok(Builder::Data(list))
            }
            (Source::V3(list), Lane::Environment(_) | Lane::Window { .. }) => {
                let mut list = match lane {
                    Lane::Window {
                        environment,
                        start,
                        end,
                    } => list
                        .as_ref()
                        .clone()
                        .client_env(environment)
                        .start_time(start)
                        .end_time(end),
                    Lane::Environment(env) => list.as_ref().clone().client_env(env),
                    Lane::Whole => list.as_ref().clone(),
                };
                if let Some(from) = from {
                    list = list.from(from);
                }
                Ok(Builder::V3(list))
            }
            (_, lane) => Err(Error::InvalidRequest(format!(
                "the {} listing has no lane `{lane}`",
                self.api()
            ))),
        }
    }
}

/// The request of one lane: either API's builder.
enum Builder {
    Data(conversations::ListConversations),
    V3(v3::ListConversations),
}

/// A Data API item as a record, unless its environment is not kept.
fn data_item(raw: Value, keep_raw: bool, environments: Environments) -> Option<Listed> {
    admitted(read(Api::Data, raw, keep_raw), environments)
}

/// A listed item, unless it is a record of an environment not kept.
fn admitted(listed: Listed, environments: Environments) -> Option<Listed> {
    match &listed {
        Ok(record) if !environments.admits(record.environment.as_deref()) => None,
        _ => Some(listed),
    }
}

/// A Data API item as the walk holds it until its page is taken: its JSON text, and its id.
struct Text {
    key: Box<str>,
    json: Box<RawValue>,
}

impl Text {
    /// The item `json`, whose `conversationId` is read without building the rest.
    fn data(json: Box<RawValue>) -> Text {
        #[derive(serde::Deserialize)]
        struct Id {
            #[serde(rename = "conversationId")]
            conversation_id: Option<Value>,
        }
        let key = serde_json::from_str::<Id>(json.get())
            .ok()
            .and_then(|id| id.conversation_id)
            .and_then(|id| id.as_str().map(Box::from))
            .unwrap_or_default();
        Text { key, json }
    }
}

impl Keyed for Text {
    fn key(&self) -> &str {
        &self.key
    }
}

/// A listed item of [`Listing::unread_pages`]: its JSON text, read into a record when taken.
#[derive(Debug)]
pub struct Unread {
    api: Api,
    json: Box<RawValue>,
    keep_raw: bool,
    /// The environments kept, when the page lists several (the Data API's).
    environments: Option<Environments>,
}

impl Unread {
    /// The item as a record (with its body under `raw` when the listing
    /// [keeps it](Listing::keep_raw)), or [`Unreadable`]; `None` when it is a conversation of
    /// an environment the listing does not keep.
    pub fn read(self) -> Option<Listed> {
        let keep_raw = self.keep_raw;
        self.finish(keep_raw, |record, _| record)
    }

    /// The record made into a `T` with the item's text by `finish`, unless of an environment
    /// not kept.
    fn finish<T>(
        self,
        keep_raw: bool,
        finish: fn(ConversationRecord, Box<RawValue>) -> T,
    ) -> Option<Result<T, Unreadable>> {
        let listed = read_text(self.api, &self.json, keep_raw);
        let listed = match self.environments {
            Some(environments) => admitted(listed, environments)?,
            None => listed,
        };
        Some(listed.map(|record| finish(record, self.json)))
    }
}

/// One listed item's JSON text as a record (with its raw body when asked): a v3 item straight
/// from its text, without a tree of values, unless the text reader leaves it (a key given twice,
/// an `_export` key); anything else through a `Value`, as [`read`] does.
fn read_text(api: Api, text: &RawValue, keep_raw: bool) -> Listed {
    if api == Api::V3
        && !keep_raw
        && !text.get().contains("\"_export\"")
        && let Some(record) = ConversationRecord::from_v3_export_line(text.get().as_bytes())
    {
        return Ok(record);
    }
    match serde_json::from_str(text.get()) {
        Ok(raw) => read(api, raw, keep_raw),
        // The page parsed, so its items are JSON; kept as text should that ever fail.
        Err(_) => Err(Unreadable {
            raw: Value::String(text.get().to_owned()),
        }),
    }
}

/// One listed body as a record (with its raw body when asked).
fn read(api: Api, raw: Value, keep_raw: bool) -> Listed {
    match ConversationRecord::from_api(api, &raw) {
        Some(record) if keep_raw => Ok(record.keep_raw(raw)),
        Some(record) => Ok(record),
        None => Err(Unreadable { raw }),
    }
}

/// A record and its item's JSON text, as [`Listing::text_pages`] gives them.
fn with_text(record: ConversationRecord, json: Box<RawValue>) -> (ConversationRecord, String) {
    (record, String::from(Box::<str>::from(json)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environments_parse_display_and_admit() {
        for (text, parsed) in [
            ("all", Environments::All),
            ("ALL", Environments::All),
            ("live", Environments::Only(ClientEnv::Live)),
            ("sandbox", Environments::Only(ClientEnv::Sandbox)),
            ("pre_release", Environments::Only(ClientEnv::PreRelease)),
        ] {
            assert_eq!(text.parse::<Environments>().ok(), Some(parsed), "{text}");
        }
        let err = "production"
            .parse::<Environments>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("all, sandbox, pre-release, live"), "{err}");
        let live = Environments::default();
        assert!(live.admits(Some("LIVE")) && !live.admits(Some("sandbox")));
        assert_eq!(Environments::All.each().len(), 3);
        assert_eq!(
            Lane::Environment(ClientEnv::PreRelease).to_string(),
            "pre-release"
        );
        assert_eq!(Lane::Whole.to_string(), "all");
    }

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap_or_else(|| panic!("{micros} out of range"))
    }

    /// Asserts that `windows` (newest first) cover `[start, end)` exactly, none empty unless the
    /// range is.
    fn assert_covers(windows: &[(Timestamp, Timestamp)], start: Timestamp, end: Timestamp) {
        let mut oldest_first = windows.to_vec();
        oldest_first.reverse();
        assert_eq!(oldest_first.first().map(|w| w.0), Some(start));
        assert_eq!(oldest_first.last().map(|w| w.1), Some(end));
        for pair in oldest_first.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "contiguous, no overlap: {windows:?}");
        }
        if start < end {
            assert!(windows.iter().all(|w| w.0 < w.1), "none empty: {windows:?}");
        }
    }

    #[test]
    fn a_range_splits_into_contiguous_half_open_windows_newest_first() {
        let (start, end) = (at(1_777_593_600_000_000), at(1_777_852_800_000_000));
        let windows = split(start, end, 3);
        assert_eq!(windows.len(), 3);
        assert_covers(&windows, start, end);
        assert_eq!(windows[0].1, end, "newest first");
        assert_eq!(
            windows[2].1.to_string(),
            "2026-05-02T00:00:00Z",
            "equal thirds of three days"
        );
        for n in [1, 2, 7, 64, 1000] {
            let windows = split(start, at(1_777_593_600_000_013), n);
            assert_covers(&windows, start, at(1_777_593_600_000_013));
            assert_eq!(windows.len(), n.min(13), "n = {n}");
        }
        // Fewer microseconds than windows, and an empty range.
        assert_eq!(split(start, at(1_777_593_600_000_002), 8).len(), 2);
        assert_eq!(split(start, start, 8), vec![(start, start)]);
        // Sub-microsecond ends are kept as they are.
        let odd_end: Timestamp = "2026-05-01T00:00:00.0000025Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let windows = split(start, odd_end, 4);
        assert_covers(&windows, start, odd_end);
        assert_eq!(windows.len(), 2, "two whole microseconds: {windows:?}");
    }

    #[test]
    fn bunched_calls_are_cut_at_their_quantiles_into_windows_of_equal_counts() {
        let day = 86_400_000_000i64;
        let (start, end) = (
            at(1_767_225_600_000_000),
            at(1_767_225_600_000_000 + 365 * day),
        );
        // 800 calls in the last 10 days of a year, one every 18 minutes.
        let sample: Vec<Timestamp> = (0..800)
            .map(|k| at(end.unix_micros() - 10 * day + k * (10 * day / 800)))
            .collect();
        let cuts = quantile_cuts(sample.clone(), start, end, 8);
        assert_eq!(cuts.len(), 7);
        let windows = cut_at(start, end, &cuts);
        assert_covers(&windows, start, end);
        for (from, to) in &windows {
            let held = sample.iter().filter(|t| from <= *t && *t < to).count();
            assert!((99..=101).contains(&held), "{from}..{to} holds {held}");
        }
        // Equal slices of time would leave all of it to one window.
        let equal = split(start, end, 8);
        let held: Vec<usize> = equal
            .iter()
            .map(|(from, to)| sample.iter().filter(|t| from <= *t && *t < to).count())
            .collect();
        assert_eq!(held.iter().filter(|&&h| h > 0).count(), 1, "{held:?}");

        // Repeats and times outside the range make no empty window; no sample, no cut.
        let same = vec![at(start.unix_micros() + day); 50];
        assert_eq!(quantile_cuts(same, start, end, 8).len(), 1);
        let outside = vec![start, end, at(end.unix_micros() + day)];
        assert!(quantile_cuts(outside, start, end, 8).is_empty());
        assert_eq!(cut_at(start, end, &[]), vec![(start, end)]);
        // Cuts saved in any order, outside the range or repeated, give the same windows.
        let mut shuffled = vec![end, cuts[3], start];
        shuffled.extend(cuts.iter().rev());
        assert_eq!(cut_at(start, end, &shuffled), windows);
    }

    #[test]
    fn saved_cuts_make_the_lanes_of_their_environment_only() -> Result<(), Error> {
        let client = crate::Client::builder().api_key("key").build()?;
        let list = client
            .workspace("ws-1")
            .project("P")
            .conversations()
            .start_time("2026-05-01".parse::<Timestamp>()?)
            .end_time("2026-05-09".parse::<Timestamp>()?);
        let listing = Listing::v3(list.clone())
            .environments(Environments::All)
            .windows(4)
            .cut(ClientEnv::Sandbox, vec!["2026-05-08".parse()?])
            .cut(ClientEnv::Live, vec![]);
        let lanes: Vec<String> = listing.lanes().iter().map(ToString::to_string).collect();
        assert_eq!(lanes[0], "live 2026-05-01T00:00:00Z..2026-05-09T00:00:00Z");
        assert_eq!(
            lanes[1],
            "pre-release 2026-05-07T00:00:00Z..2026-05-09T00:00:00Z"
        );
        assert_eq!(
            lanes[5],
            "sandbox 2026-05-08T00:00:00Z..2026-05-09T00:00:00Z"
        );
        assert_eq!(lanes.len(), 1 + 4 + 2);
        // One window: cuts change nothing.
        let one = Listing::v3(list)
            .windows(1)
            .cut(ClientEnv::Live, vec!["2026-05-08".parse()?]);
        assert_eq!(one.lanes(), vec![Lane::Environment(ClientEnv::Live)]);
        Ok(())
    }

    /// One v3 item's text as `text_pages` gives it.
    fn read_v3_text(raw: Box<RawValue>) -> ListedText {
        read_text(Api::V3, &raw, false).map(|record| with_text(record, raw))
    }

    #[test]
    fn a_v3_item_read_from_its_text_is_the_record_read_from_its_value() {
        let items = [
            json!({"id": "CA1", "environment": "live", "started_at": "2026-05-01T10:00:00Z",
                   "turns": [{"user_input": "hi", "agent_response": "Hello", "latency": 0.25}],
                   "metrics": [{"name": "csat", "value": 5}], "state": {"k": [1, 2.5]}}),
            // Left by the text reader: read through a Value.
            json!({"id": "CA2", "_export": {"audioFile": "x.wav"}}),
            json!({"id": "CA3", "conversationId": "other"}),
        ];
        for item in items {
            let text = item.to_string();
            let raw = serde_json::value::RawValue::from_string(text.clone())
                .unwrap_or_else(|e| panic!("{e}"));
            let (record, kept) = read_v3_text(raw).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(Some(record), ConversationRecord::from_v3(&item), "{text}");
            assert_eq!(kept, text);
        }
        let raw = serde_json::value::RawValue::from_string(r#"{"no":"id"}"#.into())
            .unwrap_or_else(|e| panic!("{e}"));
        let unreadable = read_v3_text(raw).err().map(|e| e.raw);
        assert_eq!(unreadable, Some(json!({"no": "id"})));
    }

    #[test]
    fn an_item_without_an_id_is_unreadable_and_raw_is_kept_on_request() {
        let raw = json!({"conversationId": "CA1", "clientEnv": "live"});
        let record = read(Api::Data, raw.clone(), true).ok();
        assert_eq!(record.and_then(|r| r.raw), Some(raw));
        let odd = read(Api::V3, json!({"no": "id"}), false);
        let text = odd.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("without an id"), "{text}");
    }
}
