//! The Conversations API v3: list a project's conversations **with their turns inline**, by time
//! range, with transcript or semantic search, random sampling and filters, paged by cursor.
//!
//! It is served on its own hosts, `https://api.{us-1,euw-1,uk-1}.platform.polyai.app` (see
//! [`Region::platform_host`](crate::Region::platform_host); there is none for studio, dev and
//! staging), with the same API key, and addressed by the **account** (Agent Studio "Workspace
//! ID", e.g. `ws-fd112d8f`) as well as the project. The handles:
//!
//! ```text
//! Client::workspace("ws-…")  →  Workspace::project("PROJECT-…")  →  Project::conversations()
//! ```
//!
//! Exporting 10 000 conversations with their transcripts takes 10 requests here (pages of up to
//! 1 000, turns included) instead of the Data API's 10 010 (a page of summaries, then one detail
//! per conversation). What v3 does not carry — function events, summaries, notes, recordings —
//! comes from the Data API: [`Project::agent`] is the same project as a Data API [`Agent`].
//!
//! ```no_run
//! use std::time::Duration;
//! use polyai_data::{Client, ClientEnv, Timestamp};
//! use polyai_data::models::TurnExt;
//! use polyai_data::v3::ConversationExt;
//!
//! # async fn run() -> Result<(), polyai_data::Error> {
//! let client = Client::from_env()?;
//! let project = client.workspace("ws-fd112d8f").project("PROJECT-58RP822I");
//!
//! // Yesterday's live calls that mention a refund, every page, fetched a page ahead.
//! let now = Timestamp::now();
//! let day = Duration::from_secs(86_400);
//! let mut calls = project
//!     .conversations()
//!     .start_time(now.checked_sub(day).expect("in range"))
//!     .end_time(now)
//!     .client_env(ClientEnv::Live)
//!     .transcript_search("refund")
//!     .include_latency(true)
//!     .stream();
//! while let Some(call) = calls.try_next().await? {
//!     let slowest = call.turns().iter().filter_map(|t| t.latency_seconds()).fold(0.0, f64::max);
//!     println!("{} {} turns, slowest answer {slowest:.1}s", call.id, call.turns().len());
//! }
//!
//! // A QA sample: 50 random finished calls of the last week.
//! let sample = project
//!     .conversations()
//!     .start_time(now.checked_sub(7 * day).expect("in range"))
//!     .in_progress(false)
//!     .sample_random()
//!     .limit(50)
//!     .send()
//!     .await?;
//! # let _ = sample;
//! # Ok(()) }
//! ```

mod list;
mod models;

pub use list::{ListConversations, MAX_LIMIT, TurnType};
pub use models::{ConversationExt, Metric};

/// The v3 models, as generated from `openapi/conversations-v3.json` with its corrections.
///
/// Tolerant of the wire: every optional field is an `Option`, fields the document leaves untyped
/// or that PolyAI's other API sends in another shape (`state`, metric values, a turn's `latency`
/// and `entities`) are raw [`serde_json::Value`]s that decode whatever arrives, and unknown
/// fields are kept in `extra`. [`ConversationExt`] and [`TurnExt`](crate::models::TurnExt) read them.
pub mod types {
    pub use polyai_data_raw::conversations_v3::types::{
        ConversationSummaryResponse, ConversationTurn, GetConversationsResponse,
    };
}

/// A conversation as the v3 listing returns it: summary fields, metrics, state and turns.
///
/// ```
/// use polyai_data::v3::{Conversation, ConversationExt};
/// let c: Conversation = serde_json::from_str(r#"{
///     "id": "CA1", "account_id": "ws-1", "project_id": "PROJECT-1", "environment": "live",
///     "started_at": "2026-06-03T14:00:38.580000+00:00", "channel": "VOICE-SIP",
///     "in_progress": false, "turns": [{"user_input": "hi", "agent_response": "hello"}],
///     "state": "odd, but kept", "sentiment": "new field"
/// }"#)?;
/// assert_eq!(c.turns().len(), 1);
/// assert_eq!(c.state, Some(serde_json::json!("odd, but kept")));
/// assert_eq!(c.extra["sentiment"], "new field");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type Conversation = types::ConversationSummaryResponse;

/// One turn of a v3 conversation.
pub type Turn = types::ConversationTurn;

use crate::client::{Agent, Client};

/// An account (Agent Studio workspace) for the Conversations API v3; from
/// [`Client::workspace`].
///
/// ```
/// let client = polyai_data::Client::builder().api_key("key").build()?;
/// let workspace = client.workspace("ws-fd112d8f");
/// assert_eq!(workspace.account_id(), "ws-fd112d8f");
/// let _project = workspace.project("PROJECT-58RP822I");
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Workspace {
    client: Client,
    account_id: String,
}

impl Workspace {
    pub(crate) fn new(client: Client, account_id: String) -> Self {
        Workspace { client, account_id }
    }

    /// The account id, as given.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// A project (agent) of this account, e.g. `PROJECT-58RP822I`.
    pub fn project(&self, project_id: impl Into<String>) -> Project {
        Project {
            client: self.client.clone(),
            account_id: self.account_id.clone(),
            project_id: project_id.into(),
        }
    }
}

/// One project of one account; from [`Workspace::project`].
///
/// ```
/// let client = polyai_data::Client::builder().api_key("key").build()?;
/// let project = client.workspace("ws-1").project("PROJECT-1");
/// assert_eq!(project.project_id(), "PROJECT-1");
/// assert_eq!(project.agent().id(), "PROJECT-1");
/// let _listing = project.conversations().limit(100);
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Project {
    client: Client,
    account_id: String,
    project_id: String,
}

impl Project {
    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The conversation listing: set filters, then `.send()` for one page or `.stream()` for
    /// every conversation.
    pub fn conversations(&self) -> ListConversations {
        ListConversations::new(self.clone())
    }

    /// The same project on the Data API (conversation details, recordings, annotations, notes,
    /// debug chat).
    pub fn agent(&self) -> Agent {
        self.client.agent(self.project_id.clone())
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

/// Version of the Conversations API v3 document this client was generated from (its
/// `info.version`), e.g. for the records an export keeps about how it was made.
///
/// ```
/// assert!(!polyai_data::v3::api_version().is_empty());
/// ```
pub fn api_version() -> &'static str {
    <polyai_data_raw::conversations_v3::Client as polyai_data_raw::conversations_v3::ClientInfo<
        polyai_data_raw::Hooks,
    >>::api_version()
}
