//! A blocking client over the same operations, for programs without an async runtime (scripts,
//! CLIs, synchronous services, Python-style notebooks ported to Rust). Enable the `blocking`
//! feature.
//!
//! ```toml
//! polyai-data = { version = "0.1", features = ["blocking"] }
//! ```
//!
//! The surface mirrors the async one: `client.agent(..).conversations().list()…send()`, with
//! every builder setter of its async counterpart; calls return their result instead of a future,
//! and walks over every page are plain [`Iterator`]s of `Result<_, Error>`.
//!
//! ```no_run
//! use polyai_data::blocking::Client;
//! use polyai_data::models::ConversationExt;
//!
//! # fn run() -> Result<(), polyai_data::Error> {
//! let client = Client::from_env()?; // POLYAI_API_KEY, POLYAI_REGION, POLYAI_BASE_URL
//! let agent = client.agent("PROJECT-58RP822I");
//!
//! // Every conversation, newest first; the next pages are fetched while you read.
//! for conversation in agent.conversations().list().dedupe(true) {
//!     let conversation = conversation?;
//!     println!("{} {}", conversation.conversation_id, conversation.summary_heading().unwrap_or("-"));
//! }
//!
//! let detail = agent.conversations().get("CA681f3ad0d037c1884614548178a5bc1b").send()?;
//! println!("{} turns", detail.turns.as_ref().map_or(0, Vec::len));
//!
//! // The recording, streamed to disk (checked, renamed into place when complete) …
//! agent.audio(&detail.conversation_id).save_to("call.wav")?;
//! // … or into any `std::io::Write`, a chunk at a time.
//! let mut out = std::io::stdout().lock();
//! agent.audio(&detail.conversation_id).send()?.write_to(&mut out)?;
//! # Ok(()) }
//! ```
//!
//! # How it works, and where not to use it
//!
//! Each [`Client`] owns a current-thread Tokio runtime driven by a thread of its own
//! (`polyai-blocking`); clones share it, and it stops when the last clone is dropped. Every
//! blocking call runs the async call as a task there and waits for its result, so the
//! requests, retries, timeouts, pagination and checks are the async client's, not a copy.
//! Calls may be made from any number of threads at once. No Tokio type appears in this API.
//!
//! Called on a thread that runs async tasks — a Tokio worker, or the thread of a current-thread
//! runtime such as `#[tokio::main(flavor = "current_thread")]` or `#[tokio::test]` — a call does
//! not block: it fails with [`Error::BlockingInAsync`], since waiting there would stall every
//! task of that runtime (and deadlock it if the server being called runs on it). Use the async
//! [`crate::Client`] there, or make the call in `tokio::task::spawn_blocking` or a thread of its
//! own, where it works. In the future a multi-thread runtime's `block_on` runs (the body of a
//! default `#[tokio::main]`) a call is allowed: it blocks that thread only, as any blocking I/O
//! there would, while the runtime's workers go on. Dropping a blocking client never blocks and
//! never panics, in or out of a runtime.

mod audio;
mod calls;
mod conversations;
mod runtime;
pub mod v3;
mod walk;

pub use audio::{AudioDownload, AudioReader, AudioRequest};
pub use calls::{AddAnnotations, ChatSession, StartChat, UpsertNote};
pub use conversations::{Conversations, GetConversation, ListConversations};
pub use walk::{Items, Pages};

use runtime::Runtime;

use crate::annotations::Annotation;
use crate::builder::ClientBuilder;
use crate::chat::ChatOptions;
use crate::error::Error;

/// Adds a blocking setter for each listed setter of the wrapped async builder (`self.inner`).
macro_rules! forward {
    ($wrapper:ty => $async:ty { $( fn $name:ident($($arg:ident: $ty:ty),*); )* }) => {
        impl $wrapper {
            $(
                #[doc = concat!("As [`", stringify!($async), "::", stringify!($name), "`].")]
                pub fn $name(mut self, $($arg: $ty),*) -> Self {
                    self.inner = self.inner.$name($($arg),*);
                    self
                }
            )*
        }
    };
}

/// The per-call overrides every operation builder has: `retry`, `no_retry`, `timeout`,
/// `correlation_id`.
macro_rules! request_options {
    ($wrapper:ty => $async:ty) => {
        $crate::blocking::forward!($wrapper => $async {
            fn retry(policy: $crate::retry::RetryPolicy);
            fn no_retry();
            fn timeout(timeout: ::std::time::Duration);
            fn correlation_id(id: impl Into<String>);
        });
    };
}

pub(crate) use {forward, request_options};

/// A blocking client for the PolyAI Data API. Cheap to clone: clones share one connection pool
/// and one runtime. `Send + Sync`, so one client can serve many threads. Each client built starts
/// a thread for its runtime: build one and clone it, rather than one per call.
///
/// Build it like the async client, finishing with
/// [`build_blocking`](ClientBuilder::build_blocking), or wrap an async client with
/// [`from_async`](Self::from_async).
///
/// ```
/// use polyai_data::{Region, blocking::Client};
///
/// let client = Client::builder()
///     .api_key("key")
///     .region(Region::Eu)
///     .build_blocking()?;
/// assert_eq!(client.base_url(), "https://api.eu.poly.ai");
/// let agent = client.agent("PROJECT-58RP822I");
/// assert_eq!(agent.id(), "PROJECT-58RP822I");
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: crate::Client,
    rt: Runtime,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("blocking::Client")
            .field(&self.inner)
            .finish()
    }
}

impl ClientBuilder {
    /// Validates the configuration and builds a [blocking client](crate::blocking::Client), with
    /// the same checks as [`build`](Self::build).
    ///
    /// ```
    /// let client = polyai_data::Client::builder()
    ///     .api_key("test-key")
    ///     .base_url("http://127.0.0.1:8080")
    ///     .build_blocking()?;
    /// assert_eq!(client.host(), "127.0.0.1:8080");
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn build_blocking(self) -> Result<Client, Error> {
        Client::from_async(self.build()?)
    }
}

impl Client {
    /// Starts configuring a client: the same [`ClientBuilder`] as the async client's; finish it
    /// with [`build_blocking`](ClientBuilder::build_blocking).
    ///
    /// ```
    /// let client = polyai_data::blocking::Client::builder().api_key("key").build_blocking()?;
    /// # let _ = client;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `POLYAI_API_KEY` (required), `POLYAI_REGION` (default `us`) and
    /// `POLYAI_BASE_URL`, as [`crate::Client::from_env`].
    ///
    /// ```no_run
    /// let client = polyai_data::blocking::Client::from_env()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::new().from_env().build_blocking()
    }

    /// A client from the config file's profile `name` (or `POLYAI_PROFILE`, or `default`) with
    /// the environment over it, as [`ClientBuilder::from_profile`] and the `polyai` CLI.
    ///
    /// ```no_run
    /// let client = polyai_data::blocking::Client::from_profile(Some("staging"))?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn from_profile(name: Option<&str>) -> Result<Client, Error> {
        ClientBuilder::from_profile(name).build_blocking()
    }

    /// A blocking client over `client` (sharing its configuration, connection pool and retry
    /// budget), with a runtime of its own.
    ///
    /// ```
    /// let client = polyai_data::Client::builder().api_key("key").build()?;
    /// let blocking = polyai_data::blocking::Client::from_async(client.clone())?;
    /// assert_eq!(blocking.base_url(), client.base_url());
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn from_async(client: crate::Client) -> Result<Client, Error> {
        Ok(Client {
            inner: client,
            rt: Runtime::start()?,
        })
    }

    /// The async client this one drives, e.g. to hand to async code.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// The host requests go to, e.g. `api.us.poly.ai`.
    pub fn host(&self) -> &str {
        self.inner.host()
    }

    /// The base URL of the Conversations API v3, or `None` when the region has none, as
    /// [`crate::Client::v3_base_url`].
    pub fn v3_base_url(&self) -> Option<&str> {
        self.inner.v3_base_url()
    }

    /// A handle on one agent (Agent Studio "Project ID", e.g. `PROJECT-58RP822I`).
    pub fn agent(&self, agent_id: impl Into<String>) -> Agent {
        Agent {
            inner: self.inner.agent(agent_id),
            rt: self.rt.clone(),
        }
    }
}

/// Operations on one agent's conversations and debug chat; from [`Client::agent`].
///
/// | operation | method |
/// |---|---|
/// | list conversations | [`conversations().list()`](Conversations::list) |
/// | get a conversation | [`conversations().get(id)`](Conversations::get) |
/// | download audio | [`audio(id)`](Agent::audio) |
/// | add annotations | [`annotate(id, annotations)`](Agent::annotate) |
/// | upsert the note | [`note(id, text)`](Agent::note) |
/// | start a debug chat | [`debug_chat(options)`](Agent::debug_chat) |
/// | send a chat message | [`ChatSession::send`] |
///
/// ```no_run
/// use polyai_data::ClientEnv;
/// use polyai_data::annotations::{Annotation, AnnotationType, Role};
/// use polyai_data::chat::ChatOptions;
///
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// agent.note("CA123", "caller asked for a refund").send()?;
/// agent
///     .annotate("CA123", [Annotation::new(2, Role::Agent, AnnotationType::WrongInfo)])
///     .send()?;
/// let mut chat = agent.debug_chat(ChatOptions::new(ClientEnv::Sandbox)).send()?;
/// println!("agent: {}", chat.send("I forgot my password")?.text());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Agent {
    inner: crate::Agent,
    rt: Runtime,
}

impl Agent {
    /// The agent id.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// Listing and reading conversations.
    pub fn conversations(&self) -> Conversations {
        Conversations::new(self.inner.conversations(), self.rt.clone())
    }

    /// Downloads a conversation's recording (WAV); see [`AudioRequest`].
    pub fn audio(&self, conversation_id: impl Into<String>) -> AudioRequest {
        AudioRequest::new(self.inner.audio(conversation_id), self.rt.clone())
    }

    /// Adds QA annotations to turns of a conversation, as [`crate::Agent::annotate`].
    pub fn annotate(
        &self,
        conversation_id: impl Into<String>,
        annotations: impl IntoIterator<Item = Annotation>,
    ) -> AddAnnotations {
        AddAnnotations::new(
            self.inner.annotate(conversation_id, annotations),
            self.rt.clone(),
        )
    }

    /// Creates or replaces the note of a conversation, as [`crate::Agent::note`].
    pub fn note(&self, conversation_id: impl Into<String>, note: impl Into<String>) -> UpsertNote {
        UpsertNote::new(self.inner.note(conversation_id, note), self.rt.clone())
    }

    /// Starts a debug chat session, as [`crate::Agent::debug_chat`].
    pub fn debug_chat(&self, options: ChatOptions) -> StartChat {
        StartChat::new(self.inner.debug_chat(options), self.rt.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shareable<T: Send + Sync + Clone>() {}
    fn sendable<T: Send>() {}

    #[test]
    fn handles_are_send_sync_and_clone() {
        shareable::<Client>();
        shareable::<Agent>();
        shareable::<Conversations>();
        shareable::<ListConversations>();
        shareable::<GetConversation>();
        shareable::<AudioRequest>();
        shareable::<AddAnnotations>();
        shareable::<UpsertNote>();
        shareable::<StartChat>();
        shareable::<ChatSession>();
        sendable::<Pages<crate::models::ConversationSummary>>();
        sendable::<Items<crate::models::ConversationSummary>>();
        sendable::<Items<crate::v3::Conversation>>();
        sendable::<AudioDownload>();
    }

    #[test]
    fn debug_never_shows_the_key() {
        let client = Client::builder()
            .api_key("top-secret")
            .build_blocking()
            .expect("client");
        let shown = format!("{client:?} {:?}", client.agent("PROJECT-1"));
        assert!(!shown.contains("top-secret"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
