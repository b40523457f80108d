//! [`Client`] and the per-agent handle [`Agent`].

use std::sync::Arc;

use crate::annotations::{AddAnnotations, Annotation};
use crate::audio::AudioRequest;
use crate::builder::ClientBuilder;
use crate::chat::{ChatOptions, StartChat};
use crate::conversations::Conversations;
use crate::error::Error;
use crate::notes::UpsertNote;
use crate::transport::{CallOptions, Exchange, Inner};

/// A client for the PolyAI Data API. Cheap to clone; clones share one connection pool.
///
/// Everything hangs off an [`Agent`] handle: `client.agent("PROJECT-1")`.
///
/// ```no_run
/// use polyai_data::Client;
///
/// # async fn run() -> Result<(), polyai_data::Error> {
/// let client = Client::from_env()?; // POLYAI_API_KEY, POLYAI_REGION, POLYAI_BASE_URL
/// let agent = client.agent("PROJECT-58RP822I");
/// let page = agent.conversations().list().limit(10).await?;
/// for conversation in page.items() {
///     println!("{} {:?}", conversation.conversation_id, conversation.created_at);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Client {
    /// Starts configuring a client.
    ///
    /// ```
    /// let client = polyai_data::Client::builder().api_key("key").build()?;
    /// assert_eq!(client.base_url(), "https://api.us.poly.ai");
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `POLYAI_API_KEY` (required), `POLYAI_REGION` (default `us`)
    /// and `POLYAI_BASE_URL` (overrides the region).
    ///
    /// ```no_run
    /// let client = polyai_data::Client::from_env()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::new().from_env().build()
    }

    pub(crate) fn from_inner(inner: Inner) -> Client {
        Client {
            inner: Arc::new(inner),
        }
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str().trim_end_matches('/')
    }

    /// The host requests go to, e.g. `api.us.poly.ai` (with `:port` when not the default).
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// The base URL of the Conversations API v3 (e.g. `https://api.us-1.platform.polyai.app`),
    /// or `None` when the client's region has no v3 host. With a custom base URL it is that URL,
    /// unless [`ClientBuilder::v3_base_url`] set another.
    ///
    /// ```
    /// use polyai_data::{Client, Region};
    /// let client = Client::builder().api_key("k").region(Region::Eu).build()?;
    /// assert_eq!(client.v3_base_url(), Some("https://api.euw-1.platform.polyai.app"));
    /// let studio = Client::builder().api_key("k").region(Region::Studio).build()?;
    /// assert_eq!(studio.v3_base_url(), None);
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn v3_base_url(&self) -> Option<&str> {
        self.inner
            .v3_base
            .as_ref()
            .ok()
            .map(|url| url.as_str().trim_end_matches('/'))
    }

    /// A handle on one account (Agent Studio "Workspace ID", e.g. `ws-fd112d8f`) for the
    /// Conversations API v3; pick a project with [`project`](crate::v3::Workspace::project).
    ///
    /// ```
    /// let client = polyai_data::Client::builder().api_key("key").build()?;
    /// let project = client.workspace("ws-fd112d8f").project("PROJECT-58RP822I");
    /// assert_eq!(project.account_id(), "ws-fd112d8f");
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn workspace(&self, account_id: impl Into<String>) -> crate::v3::Workspace {
        crate::v3::Workspace::new(self.clone(), account_id.into())
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// A handle on one agent (Agent Studio "Project ID / Agent ID", e.g. `PROJECT-58RP822I`;
    /// used as given).
    ///
    /// ```
    /// let client = polyai_data::Client::builder().api_key("key").build()?;
    /// let agent = client.agent("PROJECT-58RP822I");
    /// assert_eq!(agent.id(), "PROJECT-58RP822I");
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn agent(&self, agent_id: impl Into<String>) -> Agent {
        Agent {
            inner: self.inner.clone(),
            agent_id: agent_id.into(),
        }
    }
}

/// Operations on one agent's conversations and debug chat.
///
/// | operation | method |
/// |---|---|
/// | list conversations | [`conversations().list()`](Conversations::list) |
/// | get a conversation | [`conversations().get(id)`](Conversations::get) |
/// | download audio | [`audio(id)`](Agent::audio) |
/// | add annotations | [`annotate(id, annotations)`](Agent::annotate) |
/// | upsert the note | [`note(id, text)`](Agent::note) |
/// | start a debug chat | [`debug_chat(options)`](Agent::debug_chat) |
/// | send a chat message | [`ChatSession::send`](crate::chat::ChatSession::send) |
///
/// ```
/// let client = polyai_data::Client::builder().api_key("key").build()?;
/// let agent = client.agent("PROJECT-1");
/// let _list = agent.conversations().list().limit(10);
/// let _audio = agent.audio("CA1").redacted(true);
/// # Ok::<(), polyai_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Agent {
    pub(crate) inner: Arc<Inner>,
    pub(crate) agent_id: String,
}

impl Agent {
    /// Starts a call on this agent (its id checked for the URL path).
    pub(crate) fn call(&self, options: &CallOptions) -> Result<Exchange, Error> {
        self.inner
            .exchange(options)
            .path_ids(&[("agent id", &self.agent_id)])
    }

    /// Starts a call on one of this agent's conversations (both ids checked).
    pub(crate) fn conversation_call(
        &self,
        conversation_id: &str,
        options: &CallOptions,
    ) -> Result<Exchange, Error> {
        self.inner
            .exchange(options)
            .path_ids(&crate::ids::conversation(&self.agent_id, conversation_id))
    }

    /// The agent id.
    pub fn id(&self) -> &str {
        &self.agent_id
    }

    /// Listing and reading conversations.
    pub fn conversations(&self) -> Conversations {
        Conversations {
            agent: self.clone(),
        }
    }

    /// Downloads a conversation's recording (WAV). Configure with `.direction(..)` and
    /// `.redacted(..)`, then `.send().await`.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// agent.audio("CA123").send().await?.save_to("CA123.wav").await?;
    /// # Ok(()) }
    /// ```
    pub fn audio(&self, conversation_id: impl Into<String>) -> AudioRequest {
        AudioRequest {
            inner: self.inner.clone(),
            agent_id: self.agent_id.clone(),
            conversation_id: conversation_id.into(),
            direction: None,
            redacted: None,
            options: CallOptions::default(),
        }
    }

    /// Adds QA annotations to turns of a conversation. An empty list is rejected before
    /// anything is sent.
    ///
    /// Not idempotent: retried only when the request surely did not reach the server or on
    /// `429`, unless the retry policy opts in.
    ///
    /// ```no_run
    /// use polyai_data::annotations::{Annotation, AnnotationType, Role};
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// agent
    ///     .annotate("CA123", [Annotation::new(2, Role::Agent, AnnotationType::WrongInfo)])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn annotate(
        &self,
        conversation_id: impl Into<String>,
        annotations: impl IntoIterator<Item = Annotation>,
    ) -> AddAnnotations {
        AddAnnotations {
            agent: self.clone(),
            conversation_id: conversation_id.into(),
            annotations: annotations.into_iter().collect(),
            options: CallOptions::default(),
        }
    }

    /// Creates or replaces the note of a conversation (idempotent).
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// agent.note("CA123", "caller asked for a refund").await?;
    /// # Ok(()) }
    /// ```
    pub fn note(&self, conversation_id: impl Into<String>, note: impl Into<String>) -> UpsertNote {
        UpsertNote {
            agent: self.clone(),
            conversation_id: conversation_id.into(),
            note: note.into(),
            options: CallOptions::default(),
        }
    }

    /// Starts a debug chat session; the returned session holds the agent's greeting.
    ///
    /// ```no_run
    /// use polyai_data::ClientEnv;
    /// use polyai_data::chat::ChatOptions;
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let mut chat = agent.debug_chat(ChatOptions::new(ClientEnv::Sandbox).lang("en-US")).await?;
    /// println!("agent: {}", chat.greeting().text());
    /// let reply = chat.send("I forgot my password").await?;
    /// println!("agent: {}", reply.text());
    /// # Ok(()) }
    /// ```
    pub fn debug_chat(&self, options: ChatOptions) -> StartChat {
        StartChat {
            agent: self.clone(),
            chat: options,
            options: CallOptions::default(),
        }
    }
}
