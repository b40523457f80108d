//! The Conversations API v3 listing, blocking: `client.workspace(..).project(..).conversations()`
//! as in [`crate::v3`], iterated page by page or item by item.
//!
//! ```no_run
//! use std::time::Duration;
//! use polyai_data::{ClientEnv, Timestamp};
//! use polyai_data::v3::ConversationExt;
//!
//! # fn run(client: polyai_data::blocking::Client) -> Result<(), polyai_data::Error> {
//! let project = client.workspace("ws-fd112d8f").project("PROJECT-58RP822I");
//! let now = Timestamp::now();
//! let calls = project
//!     .conversations()
//!     .start_time(now.checked_sub(Duration::from_secs(86_400)).expect("in range"))
//!     .client_env(ClientEnv::Live)
//!     .transcript_search("refund");
//! for call in calls {
//!     let call = call?;
//!     println!("{} {} turns", call.id, call.turns().len());
//! }
//! # Ok(()) }
//! ```

use crate::blocking::walk::listing_calls;
use crate::blocking::{Agent, Client, Runtime, forward, request_options};
use crate::client_env::ClientEnv;
use crate::paginate::Position;
use crate::timestamp::Timestamp;
use crate::v3::{Conversation, TurnType};

impl Client {
    /// A handle on one account (Agent Studio "Workspace ID", e.g. `ws-fd112d8f`) for the
    /// Conversations API v3, as [`crate::Client::workspace`].
    ///
    /// ```
    /// let client = polyai_data::blocking::Client::builder().api_key("key").build_blocking()?;
    /// let project = client.workspace("ws-fd112d8f").project("PROJECT-58RP822I");
    /// assert_eq!(project.account_id(), "ws-fd112d8f");
    /// assert_eq!(project.agent().id(), "PROJECT-58RP822I");
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn workspace(&self, account_id: impl Into<String>) -> Workspace {
        Workspace {
            inner: self.inner.workspace(account_id),
            rt: self.rt.clone(),
        }
    }
}

/// An account for the Conversations API v3; from [`Client::workspace`].
#[derive(Debug, Clone)]
pub struct Workspace {
    inner: crate::v3::Workspace,
    rt: Runtime,
}

impl Workspace {
    /// The account id, as given.
    pub fn account_id(&self) -> &str {
        self.inner.account_id()
    }

    /// A project (agent) of this account, e.g. `PROJECT-58RP822I`.
    pub fn project(&self, project_id: impl Into<String>) -> Project {
        Project {
            inner: self.inner.project(project_id),
            rt: self.rt.clone(),
        }
    }
}

/// One project of one account; from [`Workspace::project`].
#[derive(Debug, Clone)]
pub struct Project {
    inner: crate::v3::Project,
    rt: Runtime,
}

impl Project {
    /// The account id.
    pub fn account_id(&self) -> &str {
        self.inner.account_id()
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        self.inner.project_id()
    }

    /// The conversation listing: set filters, then [`send`](ListConversations::send) for one
    /// page, or iterate it for every conversation.
    pub fn conversations(&self) -> ListConversations {
        ListConversations {
            inner: self.inner.conversations(),
            rt: self.rt.clone(),
        }
    }

    /// The same project on the Data API (details, recordings, annotations, notes, debug chat).
    pub fn agent(&self) -> Agent {
        Agent {
            inner: self.inner.agent(),
            rt: self.rt.clone(),
        }
    }
}

/// A v3 listing: [`send`](Self::send) for one page, or every conversation by iterating it
/// ([`IntoIterator`], [`items`](Self::items)) or its [`pages`](Self::pages), following
/// cursors. The requests, checks and walk are [`crate::v3::ListConversations`]'.
///
/// ```no_run
/// # fn f(project: polyai_data::blocking::v3::Project) -> Result<(), polyai_data::Error> {
/// let sample = project.conversations().in_progress(false).sample_random().limit(50).send()?;
/// println!("{} conversations; more: {}", sample.items().len(), sample.cursor().is_some());
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` for one page, or iterate it"]
#[derive(Debug, Clone)]
pub struct ListConversations {
    inner: crate::v3::ListConversations,
    rt: Runtime,
}

forward!(ListConversations => crate::v3::ListConversations {
    fn start_time(time: impl Into<Timestamp>);
    fn end_time(time: impl Into<Timestamp>);
    fn transcript_search(text: impl Into<String>);
    fn turn_type(side: TurnType);
    fn semantic_search(text: impl Into<String>);
    fn sample_random();
    fn channel(channel: impl Into<String>);
    fn client_env(env: ClientEnv);
    fn variant_id(id: impl Into<String>);
    fn variant_name(name: impl Into<String>);
    fn in_progress(in_progress: bool);
    fn include_latency(include: bool);
    fn limit(limit: u64);
    fn offset(offset: u64);
    fn cursor(cursor: impl Into<String>);
    fn from(position: Position);
    fn max_items(max: u64);
    fn max_pages(max: u64);
    fn prefetch(prefetch: bool);
});
request_options!(ListConversations => crate::v3::ListConversations);

impl ListConversations {
    /// As [`crate::v3::ListConversations::channels`].
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner = self.inner.channels(channels);
        self
    }
}

listing_calls!(ListConversations => crate::v3::ListConversations, Conversation);
