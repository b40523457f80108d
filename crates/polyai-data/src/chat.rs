//! Debug chat: a text session against an agent environment or variant.

use crate::client::Agent;
use crate::client_env::ClientEnv;
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::models::{
    ChatMetadataResponse, CreateDebugChatBody, DebugChatResponse, RespondDebugChatBody,
};
use crate::transport::CallOptions;

/// How to start a debug chat.
///
/// ```
/// use polyai_data::ClientEnv;
/// use polyai_data::chat::ChatOptions;
/// let options = ChatOptions::new(ClientEnv::Sandbox)
///     .variant("PDS Test Office")
///     .lang("en-GB")
///     .integration_attribute("caller_tier", "gold");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOptions {
    env: ClientEnv,
    asr_lang: Option<String>,
    tts_lang: Option<String>,
    variant: Option<String>,
    channel: Option<String>,
    conversation_id: Option<String>,
    integration_attributes: serde_json::Map<String, serde_json::Value>,
}

impl ChatOptions {
    /// Chat with the agent in `env`.
    pub fn new(env: ClientEnv) -> Self {
        ChatOptions {
            env,
            asr_lang: None,
            tts_lang: None,
            variant: None,
            channel: None,
            conversation_id: None,
            integration_attributes: serde_json::Map::new(),
        }
    }

    /// Input and output language (e.g. `en-US`); the server default applies otherwise.
    pub fn lang(self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.asr_lang(code.clone()).tts_lang(code)
    }

    /// Input (speech recognition) language only.
    pub fn asr_lang(mut self, code: impl Into<String>) -> Self {
        self.asr_lang = Some(code.into());
        self
    }

    /// Output (speech synthesis) language only.
    pub fn tts_lang(mut self, code: impl Into<String>) -> Self {
        self.tts_lang = Some(code.into());
        self
    }

    /// Agent variant to chat with.
    pub fn variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// Channel type, e.g. `chat.polyai`.
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    /// Choose the session id instead of letting the server generate one.
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    /// A key/value project functions can read as `conv.integration_attributes`.
    pub fn integration_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.integration_attributes.insert(key.into(), value.into());
        self
    }
}

/// Starts a debug chat; from [`Agent::debug_chat`]. Await it.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// use polyai_data::ClientEnv;
/// use polyai_data::chat::ChatOptions;
/// let chat = agent.debug_chat(ChatOptions::new(ClientEnv::Live)).correlation_id("my-run-1").await?;
/// println!("{}", chat.greeting().text());
/// # Ok(()) }
/// ```
#[must_use = "await it to start the session"]
#[derive(Debug, Clone)]
pub struct StartChat {
    pub(crate) agent: Agent,
    pub(crate) chat: ChatOptions,
    pub(crate) options: CallOptions,
}

impl StartChat {
    /// Creates the session (what awaiting the builder does). Retry settings given here also
    /// apply to the session's messages.
    pub async fn send(self) -> Result<ChatSession, Error> {
        let chat = self.chat;
        let body = CreateDebugChatBody {
            client_env: chat.env.as_str().to_owned(),
            asr_lang_code: chat.asr_lang.clone(),
            tts_lang_code: chat.tts_lang.clone(),
            conversation_id: chat.conversation_id.clone(),
            variant_id: chat.variant.clone(),
            channel: chat.channel.clone(),
            integration_attributes: chat.integration_attributes.clone(),
        };
        let exchange = self.agent.call(&self.options)?;
        let request = exchange.build(async |spec| {
            spec.create_debug_chat(&self.agent.agent_id, Some(exchange.correlation_id()), &body)
                .await
        })?;
        let (response, meta) = exchange.typed(request).await?;
        let greeting = ChatReply { response, meta };
        let mut options = self.options;
        options.correlation_id = None;
        Ok(ChatSession {
            agent: self.agent,
            env: chat.env,
            conversation_id: greeting.conversation_id().to_owned(),
            ended: greeting.is_ended(),
            greeting,
            options,
        })
    }
}

crate::options::request_options!(StartChat => ChatSession);

/// A live debug chat session.
///
/// Knows when the agent ended the conversation and refuses to send after that with
/// [`Error::ChatEnded`]. There is no "close" operation in the API; dropping the session is
/// enough.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// use polyai_data::{ClientEnv, Error};
/// use polyai_data::chat::ChatOptions;
/// let mut chat = agent.debug_chat(ChatOptions::new(ClientEnv::Sandbox)).await?;
/// for line in ["hi", "bye"] {
///     match chat.send(line).await {
///         Ok(reply) => println!("agent: {}", reply.text()),
///         Err(Error::ChatEnded { .. }) => break,
///         Err(other) => return Err(other),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ChatSession {
    agent: Agent,
    env: ClientEnv,
    conversation_id: String,
    greeting: ChatReply,
    ended: bool,
    options: CallOptions,
}

impl ChatSession {
    /// The session (conversation) id, e.g. `AS_CHAT_<uuid>`.
    pub fn id(&self) -> &str {
        &self.conversation_id
    }

    /// The agent's greeting, returned when the session was created.
    pub fn greeting(&self) -> &ChatReply {
        &self.greeting
    }

    /// Whether the agent has ended the conversation.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Sends one user message and returns the agent's reply.
    ///
    /// ```no_run
    /// # async fn f(mut chat: polyai_data::chat::ChatSession) -> Result<(), polyai_data::Error> {
    /// let reply = chat.send("What are your opening hours?").await?;
    /// println!("{} (ended: {})", reply.text(), reply.is_ended());
    /// # Ok(()) }
    /// ```
    pub async fn send(&mut self, message: impl Into<String>) -> Result<ChatReply, Error> {
        self.send_message(ChatMessage::new(message)).await
    }

    /// Sends a message with per-message languages or metadata.
    pub async fn send_message(&mut self, message: ChatMessage) -> Result<ChatReply, Error> {
        if self.ended {
            return Err(Error::ChatEnded {
                conversation_id: self.conversation_id.clone(),
            });
        }
        let body = RespondDebugChatBody {
            client_env: self.env.as_str().to_owned(),
            asr_lang_code: message.asr_lang,
            tts_lang_code: message.tts_lang,
            message: message.text,
            metadata: message.metadata,
        };
        let exchange = self
            .agent
            .conversation_call(&self.conversation_id, &self.options)?;
        let request = exchange.build(async |spec| {
            spec.send_debug_chat_message(
                &self.agent.agent_id,
                &self.conversation_id,
                Some(exchange.correlation_id()),
                &body,
            )
            .await
        })?;
        let reply = match exchange.typed(request).await {
            Ok((response, meta)) => ChatReply { response, meta },
            Err(err) => {
                if err.status() == Some(410) || err.code() == Some("CHAT_CONVERSATION_ENDED") {
                    self.ended = true;
                }
                return Err(err);
            }
        };
        self.ended = reply.is_ended();
        Ok(reply)
    }
}

/// A user message with optional per-message settings.
///
/// ```
/// let message = polyai_data::chat::ChatMessage::new("hola").lang("es-ES").metadata("source", "test");
/// # let _ = message;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    text: String,
    asr_lang: Option<String>,
    tts_lang: Option<String>,
    metadata: serde_json::Map<String, serde_json::Value>,
}

impl ChatMessage {
    /// A message with this text.
    pub fn new(text: impl Into<String>) -> Self {
        ChatMessage {
            text: text.into(),
            asr_lang: None,
            tts_lang: None,
            metadata: serde_json::Map::new(),
        }
    }

    /// Input and output language for this message.
    pub fn lang(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.asr_lang = Some(code.clone());
        self.tts_lang = Some(code);
        self
    }

    /// Free-form metadata attached to the user input.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// One agent turn of a debug chat.
///
/// Two replies are equal when their wire models are; [`meta`](Self::meta) is not compared.
///
/// ```no_run
/// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
/// use polyai_data::ClientEnv;
/// use polyai_data::chat::ChatOptions;
/// let mut chat = agent.debug_chat(ChatOptions::new(ClientEnv::Sandbox)).await?;
/// let reply = chat.send("I forgot my password").await?;
/// println!("{} (node {})", reply.text(), reply.metadata().current_node);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ChatReply {
    response: DebugChatResponse,
    meta: ResponseMeta,
}

impl PartialEq for ChatReply {
    fn eq(&self, other: &Self) -> bool {
        self.response == other.response
    }
}

impl ChatReply {
    /// The agent's reply text.
    pub fn text(&self) -> &str {
        &self.response.response
    }

    /// The user input this reply answers (`""` for the greeting).
    pub fn user_input(&self) -> &str {
        &self.response.user_input
    }

    /// Whether the agent ended the conversation with this turn.
    pub fn is_ended(&self) -> bool {
        self.response.conversation_ended
    }

    /// Whether the reply was deferred (e.g. while a slow function runs).
    pub fn is_delayed(&self) -> bool {
        self.response.delayed_response
    }

    /// Session id.
    pub fn conversation_id(&self) -> &str {
        &self.response.conversation_id
    }

    /// Per-turn debug information: state, current node, node trace, function events, ….
    pub fn metadata(&self) -> &ChatMetadataResponse {
        &self.response.metadata
    }

    /// Status, correlation id and headers of the response that carried this turn.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// use polyai_data::ClientEnv;
    /// use polyai_data::chat::ChatOptions;
    /// let mut chat = agent.debug_chat(ChatOptions::new(ClientEnv::Sandbox)).await?;
    /// let reply = chat.send("hello").await?;
    /// println!("{} (correlation id {})", reply.text(), reply.meta().correlation_id());
    /// # Ok(()) }
    /// ```
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The full wire model. [`DebugChatExt`](crate::models::DebugChatExt) reads the function
    /// calls and handoff of the turn from it (and is implemented for `ChatReply` too).
    pub fn as_response(&self) -> &DebugChatResponse {
        &self.response
    }

    /// Takes the full wire model.
    pub fn into_response(self) -> DebugChatResponse {
        self.response
    }
}

/// ```no_run
/// # async fn f(mut chat: polyai_data::chat::ChatSession) -> Result<(), polyai_data::Error> {
/// use polyai_data::models::DebugChatExt;
/// let reply = chat.send("I forgot my password").await?;
/// if reply.called("send_reset_link") {
///     println!("reset link sent; handoff: {:?}", reply.handoff_destination());
/// }
/// # Ok(()) }
/// ```
impl crate::models::DebugChatExt for ChatReply {
    fn debug_chat_response(&self) -> &DebugChatResponse {
        &self.response
    }
}
