//! Annotations, notes and debug chat, blocking.

use crate::blocking::{Runtime, request_options};
use crate::chat::{ChatMessage, ChatReply};
use crate::error::Error;
use crate::meta::ResponseMeta;

/// Adds annotations; from [`Agent::annotate`](super::Agent::annotate). Call
/// [`send`](Self::send).
///
/// ```no_run
/// use polyai_data::annotations::{Annotation, AnnotationType, Role};
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// agent
///     .annotate("CA1", [Annotation::new(0, Role::User, AnnotationType::MissingTopic)])
///     .no_retry()
///     .send()?;
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` to send the request"]
#[derive(Debug, Clone)]
pub struct AddAnnotations {
    inner: crate::annotations::AddAnnotations,
    rt: Runtime,
}

request_options!(AddAnnotations => crate::annotations::AddAnnotations);

impl AddAnnotations {
    pub(crate) fn new(inner: crate::annotations::AddAnnotations, rt: Runtime) -> Self {
        AddAnnotations { inner, rt }
    }

    /// Sends the request, as [`crate::annotations::AddAnnotations::send`] (an empty list is refused before
    /// sending).
    pub fn send(self) -> Result<(), Error> {
        self.rt.call(self.inner.send())
    }

    /// Like [`send`](Self::send), and returns the response's status, correlation id and
    /// headers.
    pub fn send_with_meta(self) -> Result<((), ResponseMeta), Error> {
        self.rt.call(self.inner.send_with_meta())
    }
}

/// Creates or replaces a conversation's note; from [`Agent::note`](super::Agent::note). Call
/// [`send`](Self::send).
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// agent.note("CA1", "called back").correlation_id("ticket-42").send()?;
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` to send the request"]
#[derive(Debug, Clone)]
pub struct UpsertNote {
    inner: crate::notes::UpsertNote,
    rt: Runtime,
}

request_options!(UpsertNote => crate::notes::UpsertNote);

impl UpsertNote {
    pub(crate) fn new(inner: crate::notes::UpsertNote, rt: Runtime) -> Self {
        UpsertNote { inner, rt }
    }

    /// Sends the request.
    pub fn send(self) -> Result<(), Error> {
        self.rt.call(self.inner.send())
    }

    /// Like [`send`](Self::send), and returns the response's status, correlation id and
    /// headers.
    pub fn send_with_meta(self) -> Result<((), ResponseMeta), Error> {
        self.rt.call(self.inner.send_with_meta())
    }
}

/// Starts a debug chat; from [`Agent::debug_chat`](super::Agent::debug_chat). Call
/// [`send`](Self::send).
///
/// ```no_run
/// use polyai_data::ClientEnv;
/// use polyai_data::chat::ChatOptions;
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let chat = agent.debug_chat(ChatOptions::new(ClientEnv::Live)).correlation_id("run-1").send()?;
/// println!("{}", chat.greeting().text());
/// # Ok(()) }
/// ```
#[must_use = "call `.send()` to start the session"]
#[derive(Debug, Clone)]
pub struct StartChat {
    inner: crate::chat::StartChat,
    rt: Runtime,
}

request_options!(StartChat => crate::chat::StartChat);

impl StartChat {
    pub(crate) fn new(inner: crate::chat::StartChat, rt: Runtime) -> Self {
        StartChat { inner, rt }
    }

    /// Creates the session, as [`crate::chat::StartChat::send`].
    pub fn send(self) -> Result<ChatSession, Error> {
        let inner = self.rt.call(self.inner.send())?;
        Ok(ChatSession { inner, rt: self.rt })
    }
}

/// A live debug chat session; from [`StartChat::send`]. Refuses to send once the agent has
/// ended the conversation, with [`Error::ChatEnded`].
///
/// ```no_run
/// use polyai_data::{ClientEnv, Error};
/// use polyai_data::chat::ChatOptions;
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let mut chat = agent.debug_chat(ChatOptions::new(ClientEnv::Sandbox)).send()?;
/// for line in ["hi", "bye"] {
///     match chat.send(line) {
///         Ok(reply) => println!("agent: {}", reply.text()),
///         Err(Error::ChatEnded { .. }) => break,
///         Err(other) => return Err(other),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ChatSession {
    inner: crate::chat::ChatSession,
    rt: Runtime,
}

impl ChatSession {
    /// The session (conversation) id, e.g. `AS_CHAT_<uuid>`.
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// The agent's greeting, returned when the session was created.
    pub fn greeting(&self) -> &ChatReply {
        self.inner.greeting()
    }

    /// Whether the agent has ended the conversation.
    pub fn is_ended(&self) -> bool {
        self.inner.is_ended()
    }

    /// Sends one user message and returns the agent's reply.
    pub fn send(&mut self, message: impl Into<String>) -> Result<ChatReply, Error> {
        self.send_message(ChatMessage::new(message))
    }

    /// Sends a message with per-message languages or metadata, as
    /// [`crate::chat::ChatSession::send_message`].
    pub fn send_message(&mut self, message: ChatMessage) -> Result<ChatReply, Error> {
        // The session travels to the runtime and back, with what the reply taught it (ended).
        let mut session = self.inner.clone();
        let (session, reply) = self.rt.block_on(async move {
            let reply = session.send_message(message).await;
            (session, reply)
        })?;
        self.inner = session;
        reply
    }
}
