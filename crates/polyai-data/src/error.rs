//! The crate's one error type.
//!
//! Every fallible call returns [`Error`]. Nothing from `reqwest` or the generated client leaks
//! through it: transport failures are described by [`TransportKind`], API failures by
//! [`ApiError`], and body decoding failures by [`DecodeError`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Longest body excerpt kept in an error, in bytes (cut on a character boundary).
pub(crate) const SNIPPET_LIMIT: usize = 512;

/// Everything that can go wrong when talking to the PolyAI Data API.
///
/// `Display` is always one line and quotes the correlation id when there is one, so a log line
/// is enough to find the request in PolyAI's logs. The API key never appears in any `Display`
/// or `Debug` output.
///
/// ```
/// use polyai_data::Error;
///
/// fn explain(err: &Error) -> String {
///     if err.is_not_found() {
///         "no such conversation".to_owned()
///     } else if err.is_rate_limited() {
///         format!("slow down (retry after {:?})", err.retry_after())
///     } else {
///         err.to_string()
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a non-success HTTP status.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The request never got a complete answer: connect failure, timeout, reset, TLS failure.
    #[error(
        "{operation}: {kind} error calling {host}: {message} (correlation id {correlation_id})"
    )]
    Transport {
        /// Operation name, e.g. `list_conversations`.
        operation: &'static str,
        /// What kind of failure it was.
        kind: TransportKind,
        /// Host the request was sent to.
        host: String,
        /// Human-readable detail from the transport.
        message: String,
        /// Correlation id sent with the request.
        correlation_id: String,
        /// The underlying failure, when there was one (walk it with
        /// [`std::error::Error::source`]: a refused connection ends in its [`std::io::Error`]).
        /// `message` already holds this chain flattened on one line.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A success response whose body did not match the expected shape.
    #[error(transparent)]
    Decode(Box<DecodeError>),
    /// A success response's body was larger than the client accepts
    /// ([`ClientBuilder::max_response_bytes`](crate::ClientBuilder::max_response_bytes)); it was
    /// not read further and the call was not retried.
    #[error(
        "{operation}: the response from {host} is larger than the limit of {limit} bytes \
         (correlation id {correlation_id}); raise the limit if responses this large are expected"
    )]
    ResponseTooLarge {
        /// Operation name, e.g. `list_conversations`.
        operation: &'static str,
        /// Host the request was sent to.
        host: String,
        /// The limit in bytes.
        limit: u64,
        /// Correlation id of the request.
        correlation_id: String,
    },
    /// The client configuration is invalid (bad region name, `http://` to a remote host, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A failure of this crate's own invariants: a bug in `polyai-data`, not in the call, the
    /// configuration or the server. Please report it (with the message) at
    /// <https://github.com/polyai-rs/polyai-rs/issues>; retrying will not help.
    #[error("internal error in polyai-data (a bug; please report it): {0}")]
    Internal(String),
    /// The call was rejected before sending, e.g. an empty annotation list.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The debug-chat session was ended by the agent; no further messages can be sent.
    #[error(
        "debug chat {conversation_id} has ended (the agent closed the conversation); start a new session with `debug_chat`"
    )]
    ChatEnded {
        /// Id of the ended session.
        conversation_id: String,
    },
    /// The server kept returning pages past any plausible end; the walk was stopped.
    #[error("pagination stopped: {0}")]
    Pagination(String),
    /// The downloaded audio is not a complete WAV file.
    #[error("invalid audio for conversation {conversation_id}: {message}")]
    Audio {
        /// Conversation whose recording was downloaded.
        conversation_id: String,
        /// What was wrong.
        message: String,
    },
    /// A local file operation failed while saving a download.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. `writing`.
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The [blocking client](crate::blocking) was called on a thread that runs async tasks (a
    /// Tokio worker, or the thread of a current-thread runtime such as `#[tokio::test]`'s), where
    /// waiting would stall every task of that runtime, or deadlock it. Nothing was sent.
    #[cfg(feature = "blocking")]
    #[error(
        "the blocking client was called on a thread that runs async tasks, where waiting would \
         stall or deadlock them; use the async `polyai_data::Client` there, or make the call in \
         `tokio::task::spawn_blocking` or a thread of its own"
    )]
    BlockingInAsync,
}

/// The kind of a transport failure.
///
/// ```
/// # fn f(err: polyai_data::Error) {
/// use polyai_data::{Error, TransportKind};
/// if let Error::Transport { kind: TransportKind::Connect, host, .. } = &err {
///     eprintln!("cannot reach {host}; check the network or POLYAI_BASE_URL");
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// The TCP/TLS connection could not be established; the request surely never reached the
    /// server.
    Connect,
    /// The per-attempt timeout or the idle timeout of a stream expired.
    Timeout,
    /// The connection broke while sending the request or reading the response.
    Connection,
    /// The server redirected the request; redirects are not followed across hosts.
    Redirect,
    /// The request could not be built (bad header value, bad URL).
    Request,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::Timeout => "timeout",
            TransportKind::Connection => "connection",
            TransportKind::Redirect => "redirect",
            TransportKind::Request => "request",
        })
    }
}

/// A non-success HTTP answer from the API.
///
/// Carries the status, the API's `error_code` and message (from the JSON error envelope when
/// the body had one), the correlation id, the `Retry-After` delay if any, and a body snippet.
///
/// ```
/// # fn f(err: polyai_data::Error) {
/// if let Some(api) = err.as_api() {
///     eprintln!("{} {:?} {}", api.status(), api.code(), api.correlation_id());
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ApiError {
    pub(crate) operation: &'static str,
    pub(crate) host: String,
    pub(crate) status: u16,
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) correlation_id: String,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body_snippet: String,
}

impl ApiError {
    /// HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// API error code such as `CONVERSATIONS_NOT_FOUND`, when the body carried one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
    /// Human-readable message from the error body, when there was one.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
    /// Correlation id of the request (echoed by the server, or the one this client sent).
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }
    /// Delay the server asked for in `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
    /// The first bytes of the response body (lossy UTF-8).
    pub fn body_snippet(&self) -> &str {
        &self.body_snippet
    }
    /// Host the request was sent to, e.g. `api.us.poly.ai`.
    pub fn host(&self) -> &str {
        &self.host
    }
    /// Operation name, e.g. `get_conversation`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.operation, self.status)?;
        if let Some(reason) = reqwest::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
        {
            write!(f, " {reason}")?;
        }
        write!(f, " from {}", self.host)?;
        if let Some(code) = &self.code {
            write!(f, ": {code}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {}", one_line(message))?;
        }
        write!(f, " (correlation id {}", self.correlation_id)?;
        if let Some(after) = self.retry_after {
            write!(f, ", retry after {}s", after.as_secs_f64())?;
        }
        f.write_str(")")?;
        if self.status == 401 {
            write!(f, "; {}", crate::region::key_hint(&self.host))?;
        }
        if self.message.is_none() && !self.body_snippet.is_empty() {
            write!(f, "; body: {}", one_line(&self.body_snippet))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A response body that did not decode into the expected model.
///
/// ```
/// # fn f(err: polyai_data::Error) {
/// if let Some(decode) = err.as_decode() {
///     eprintln!("unexpected value at {}: {}", decode.path(), decode.body_snippet());
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DecodeError {
    pub(crate) operation: &'static str,
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) correlation_id: String,
    pub(crate) body_snippet: String,
    /// The decoder's own error, returned by [`std::error::Error::source`].
    pub(crate) source: Option<std::sync::Arc<serde_json::Error>>,
}

impl DecodeError {
    /// JSON path of the offending value, e.g. `conversations[3].totalDuration`.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The decoder's message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The first bytes of the body.
    pub fn body_snippet(&self) -> &str {
        &self.body_snippet
    }
    /// Correlation id of the request.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: could not decode response at `{}`: {} (correlation id {}); body: {}",
            self.operation,
            self.path,
            one_line(&self.message),
            self.correlation_id,
            one_line(&self.body_snippet)
        )
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|err| err as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// The HTTP status, for API errors.
    ///
    /// ```
    /// # fn f(err: polyai_data::Error) {
    /// if err.status() == Some(404) { /* … */ }
    /// # }
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.as_api().map(|e| e.status)
    }

    /// The API's `error_code` (e.g. `CONVERSATIONS_NOT_FOUND`), for API errors that had one.
    pub fn code(&self) -> Option<&str> {
        self.as_api().and_then(|e| e.code())
    }

    /// `true` for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// `true` for a 429 answer.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// `true` for a 401 answer (key missing, wrong, or from another region's Agent Studio).
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// `true` when trying the same call again later may succeed: 429, 500, 502, 503, 504,
    /// connect failures, timeouts and broken connections.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => crate::retry::is_retryable_status(e.status),
            Error::Transport { kind, .. } => matches!(
                kind,
                TransportKind::Connect | TransportKind::Timeout | TransportKind::Connection
            ),
            _ => false,
        }
    }

    /// `true` when the failed call is one that must not simply be repeated — adding
    /// annotations, starting a debug chat or sending a chat message — and it may nevertheless
    /// have been carried out: the server answered 5xx (a gateway can fail after the service
    /// acted), the connection broke or timed out after the request was sent, or the answer was
    /// a success that could not be read. Look at the conversation (or the chat) before sending
    /// it again, or it may be applied twice. Such calls are never retried on these failures
    /// unless [`RetryPolicy::retry_non_idempotent`](crate::retry::RetryPolicy::retry_non_idempotent)
    /// is set.
    ///
    /// ```
    /// # fn f(err: polyai_data::Error) {
    /// if err.may_have_been_applied() {
    ///     eprintln!("{err}: the annotations may have been saved; check before retrying");
    /// }
    /// # }
    /// ```
    pub fn may_have_been_applied(&self) -> bool {
        let (operation, unknown_outcome) = match self {
            Error::Api(e) => (e.operation, e.status >= 500),
            Error::Transport {
                operation, kind, ..
            } => (
                *operation,
                matches!(kind, TransportKind::Timeout | TransportKind::Connection),
            ),
            Error::Decode(e) => (e.operation, true),
            Error::ResponseTooLarge { operation, .. } => (*operation, true),
            _ => return false,
        };
        unknown_outcome
            && crate::retry::Idempotency::of(operation) == crate::retry::Idempotency::NonIdempotent
    }

    /// Correlation id of the failed request, when one was sent.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Error::Api(e) => Some(&e.correlation_id),
            Error::Decode(e) => Some(&e.correlation_id),
            Error::Transport { correlation_id, .. }
            | Error::ResponseTooLarge { correlation_id, .. } => Some(correlation_id),
            _ => None,
        }
    }

    /// Delay the server asked for with `Retry-After`.
    pub fn retry_after(&self) -> Option<Duration> {
        self.as_api().and_then(|e| e.retry_after)
    }

    /// The API error details, when the server answered with an error status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The decode error details, when a success body could not be decoded.
    pub fn as_decode(&self) -> Option<&DecodeError> {
        match self {
            Error::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// Collapses newlines so that `Display` stays on one line.
pub(crate) fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lossy UTF-8 excerpt of at most [`SNIPPET_LIMIT`] bytes.
pub(crate) fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SNIPPET_LIMIT)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if body.len() > SNIPPET_LIMIT {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ApiError {
        ApiError {
            operation: "get_conversation",
            host: "api.us.poly.ai".into(),
            status,
            code: Some("CONVERSATIONS_NOT_FOUND".into()),
            message: Some("Conversation ID does not exist.\nreally".into()),
            correlation_id: "polyai-rs-1".into(),
            retry_after: None,
            body_snippet: "{}".into(),
        }
    }

    #[test]
    fn api_display_is_one_line_with_everything() {
        let err = Error::Api(Box::new(api(404)));
        let text = err.to_string();
        assert_eq!(
            text,
            "get_conversation: HTTP 404 Not Found from api.us.poly.ai: CONVERSATIONS_NOT_FOUND: \
             Conversation ID does not exist. really (correlation id polyai-rs-1)"
        );
        assert!(err.is_not_found());
        assert!(!err.is_retryable());
        assert_eq!(err.code(), Some("CONVERSATIONS_NOT_FOUND"));
        assert_eq!(err.correlation_id(), Some("polyai-rs-1"));
    }

    #[test]
    fn unauthorized_names_the_studio() {
        let mut e = api(401);
        e.code = Some("AUTH_USER_INVALID_TOKEN".into());
        let text = Error::Api(Box::new(e)).to_string();
        assert!(text.contains("from api.us.poly.ai"), "{text}");
        assert!(text.contains("studio.us.poly.ai"), "{text}");
    }

    #[test]
    fn snippet_is_bounded_and_lossy() {
        let body = vec![b'a'; 2000];
        assert_eq!(snippet(&body).len(), SNIPPET_LIMIT + '…'.len_utf8());
        assert_eq!(snippet(b"\xffok"), "\u{fffd}ok");
    }
}
