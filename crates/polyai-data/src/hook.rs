//! [`Hook`]: code of yours that runs around every attempt of every call, to add headers and to
//! observe what was sent and what came back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, TransportKind};

/// Runs before and after every attempt of every call a [`Client`](crate::Client) makes: the
/// Data API operations, audio downloads, debug chats and the Conversations API v3 listing,
/// retries included, and the calls of the `blocking` client built from the same builder. Register hooks with [`ClientBuilder::hook`](crate::ClientBuilder::hook);
/// several run in the order they were added.
///
/// Both methods do nothing by default. [`on_request`](Self::on_request) sees the request before
/// it is sent and may add headers; [`on_response`](Self::on_response) sees how the attempt
/// ended: its status or transport failure, its duration, and the response headers. Every
/// `on_request` is followed by exactly one `on_response` for the same attempt, unless the caller
/// cancels the call (drops its future) while the attempt is in flight. An audio download that
/// [`AudioRequest::save_to`](crate::audio::AudioRequest::save_to) fetches again after its body broke is
/// a new call (with a fresh correlation id unless the request set one), starting at attempt 1.
///
/// What a hook cannot do:
/// - see the API key: the `X-API-KEY` header is added after the hooks ran, and never shown;
/// - set, replace or remove a header the client owns — the key (`X-API-KEY`, `Authorization`,
///   `Proxy-Authorization`), `X-PolyAI-Correlation-Id`, `Api-Version`, `User-Agent`, `Accept`,
///   `Content-Type`, `Content-Length`, `Transfer-Encoding`, `Host`, `Connection`. Trying returns an error from
///   [`RequestParts::insert_header`], and the call then fails with [`Error::InvalidRequest`]
///   naming the header, before anything is sent (whether or not the hook looked at the
///   result), and is not retried. The same goes for a header name or value HTTP does not allow.
///   There is no way to remove a header.
/// - change the method, URL or body.
///
/// Hooks run on the task that makes the call, so they should be quick; one that panics panics
/// that call.
///
/// ```
/// use std::time::Duration;
/// use polyai_data::Client;
/// use polyai_data::hook::{Hook, RequestParts, ResponseInfo};
///
/// /// Tags every request with the team's name and logs one line per attempt.
/// struct Audit;
///
/// impl Hook for Audit {
///     fn on_request(&self, request: &mut RequestParts<'_>) {
///         // An invalid value or a header the client owns fails the call with a clear error.
///         let _ = request.insert_header("x-team", "qa-analytics");
///     }
///
///     fn on_response(&self, response: &ResponseInfo<'_>) {
///         eprintln!(
///             "{} {} attempt {}: {} in {:?} (correlation id {})",
///             response.method(),
///             response.path(),
///             response.attempt(),
///             response.outcome(),
///             response.duration(),
///             response.correlation_id(),
///         );
///     }
/// }
///
/// let client = Client::builder().api_key("key").hook(Audit).build()?;
/// # let _ = client;
/// # Ok::<(), polyai_data::Error>(())
/// ```
pub trait Hook: Send + Sync {
    /// Called before each attempt is sent, with the request as the client built it (without the
    /// API key). Add headers with [`RequestParts::insert_header`].
    fn on_request(&self, request: &mut RequestParts<'_>) {
        let _ = request;
    }

    /// Called when each attempt has ended: with the response headers in and, for a JSON call,
    /// the body read; for an audio download, as soon as the headers are in (the body is
    /// streamed afterwards by the caller); or on a transport failure or timeout.
    fn on_response(&self, response: &ResponseInfo<'_>) {
        let _ = response;
    }
}

/// A shared hook is a hook: keep an `Arc` to read what yours collected.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use polyai_data::hook::{Hook, ResponseInfo};
///
/// #[derive(Default)]
/// struct Attempts(AtomicU32);
/// impl Hook for Attempts {
///     fn on_response(&self, _: &ResponseInfo<'_>) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// let attempts = Arc::new(Attempts::default());
/// let client = polyai_data::Client::builder().api_key("key").hook(attempts.clone()).build()?;
/// assert_eq!(attempts.0.load(Ordering::Relaxed), 0);
/// # let _ = client;
/// # Ok::<(), polyai_data::Error>(())
/// ```
impl<H: Hook + ?Sized> Hook for Arc<H> {
    fn on_request(&self, request: &mut RequestParts<'_>) {
        (**self).on_request(request);
    }

    fn on_response(&self, response: &ResponseInfo<'_>) {
        (**self).on_response(response);
    }
}

/// Headers only the client sets.
const RESERVED: [&str; 12] = [
    crate::auth::API_KEY_HEADER,
    "authorization",
    "proxy-authorization",
    crate::transport::CORRELATION_HEADER,
    "user-agent",
    "accept",
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    // Set by the generated methods: the version of the document they were generated from.
    "api-version",
];

/// The readers of what an attempt is, on [`RequestParts`] and [`ResponseInfo`].
macro_rules! attempt_readers {
    ($parts:ident, $goes:literal) => {
        impl $parts<'_> {
            /// The operation id, e.g. `list_conversations`, `get_conversation_audio`,
            /// `list_conversations_v3`.
            pub fn operation(&self) -> &'static str {
                self.attempt.operation
            }

            /// The HTTP method, e.g. `GET`.
            pub fn method(&self) -> &str {
                self.attempt.method
            }

            /// The URL path, e.g. `/v1/agents/PROJECT-1/conversations` (no query string).
            pub fn path(&self) -> &str {
                self.attempt.url.path()
            }

            #[doc = concat!("The host the request ", $goes, " to, e.g. `api.us.poly.ai`.")]
            pub fn host(&self) -> &str {
                self.attempt.url.host_str().unwrap_or_default()
            }

            /// Which attempt of the call this is: 1, then 2, … for each retry.
            pub fn attempt(&self) -> u32 {
                self.attempt.attempt
            }

            /// The correlation id the request carries, the same on every attempt of a call (the
            /// server usually echoes it in `x-polyai-correlation-id`).
            pub fn correlation_id(&self) -> &str {
                self.attempt.correlation_id
            }
        }
    };
}

/// What is known about one attempt before it is sent.
struct Attempt<'a> {
    operation: &'static str,
    method: &'a str,
    url: &'a reqwest::Url,
    attempt: u32,
    correlation_id: &'a str,
}

/// The request of one attempt, as a [`Hook`] sees it in [`on_request`](Hook::on_request): what
/// it is, and its headers without the API key. Headers may be added.
pub struct RequestParts<'a> {
    attempt: Attempt<'a>,
    headers: &'a mut HeaderMap,
    /// Why the first refused header was refused.
    refused: Option<String>,
}

attempt_readers!(RequestParts, "goes");

impl RequestParts<'_> {
    /// The first value of header `name` (any case) as the request carries it so far, or `None`
    /// when it is absent or not UTF-8. Never the API key, which is added after the hooks.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Sets header `name` to `value`, replacing what an earlier hook set. Refused with
    /// [`Error::InvalidRequest`] (naming the header, never quoting the value) when the name or
    /// value is not valid HTTP, or the header is one the client owns (see [`Hook`]); the call
    /// then fails with that error before anything is sent.
    ///
    /// ```
    /// use polyai_data::hook::{Hook, RequestParts};
    ///
    /// struct Tenant(String);
    /// impl Hook for Tenant {
    ///     fn on_request(&self, request: &mut RequestParts<'_>) {
    ///         if let Err(err) = request.insert_header("x-tenant", &self.0) {
    ///             eprintln!("{err}"); // the call fails with the same error
    ///         }
    ///     }
    /// }
    /// # let _ = polyai_data::Client::builder().api_key("k").hook(Tenant("acme".into())).build()?;
    /// # Ok::<(), polyai_data::Error>(())
    /// ```
    pub fn insert_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let checked = self.check_header(name, value);
        match checked {
            Ok((name, value)) => {
                self.headers.insert(name, value);
                Ok(())
            }
            Err(reason) => {
                let message = format!(
                    "{}: a hook's header was refused: {reason}",
                    self.attempt.operation
                );
                self.refused.get_or_insert_with(|| message.clone());
                Err(Error::InvalidRequest(message))
            }
        }
    }

    fn check_header(&self, name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid HTTP header name"))?;
        if RESERVED.contains(&name.as_str()) {
            return Err(format!(
                "`{name}` is set by the client; a hook cannot set, replace or remove it"
            ));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            format!(
                "the value of `{name}` is not a valid HTTP header value (no control characters \
                 or line breaks)"
            )
        })?;
        Ok((name, value))
    }
}

impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestParts")
            .field("operation", &self.attempt.operation)
            .field("method", &self.attempt.method)
            .field("path", &self.path())
            .field("attempt", &self.attempt.attempt)
            .field("correlation_id", &self.attempt.correlation_id)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// How an attempt ended, as [`ResponseInfo::outcome`] tells it. Displays as `200`, `503`,
/// `timeout error`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The server answered with this success status (`200`, `201`, `204`, …).
    Success(u16),
    /// The server answered with this error status; the call retries it or fails with
    /// [`Error::Api`].
    Status(u16),
    /// No complete answer arrived: a connect failure, a timeout, a broken connection.
    Transport(TransportKind),
    /// The client ended the attempt itself: a success body larger than
    /// [`max_response_bytes`](crate::ClientBuilder::max_response_bytes), a header a hook may not
    /// set, a request body that cannot be sent again. The call fails without retrying.
    Stopped,
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Success(status) | AttemptOutcome::Status(status) => {
                write!(f, "{status}")
            }
            AttemptOutcome::Transport(kind) => write!(f, "{kind} error"),
            AttemptOutcome::Stopped => f.write_str("stopped"),
        }
    }
}

/// One attempt as it ended, as a [`Hook`] sees it in [`on_response`](Hook::on_response).
pub struct ResponseInfo<'a> {
    attempt: Attempt<'a>,
    outcome: AttemptOutcome,
    duration: Duration,
    headers: Option<&'a HeaderMap>,
}

attempt_readers!(ResponseInfo, "went");

impl ResponseInfo<'_> {
    /// How the attempt ended.
    pub fn outcome(&self) -> AttemptOutcome {
        self.outcome
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self.outcome {
            AttemptOutcome::Success(status) | AttemptOutcome::Status(status) => Some(status),
            AttemptOutcome::Transport(_) | AttemptOutcome::Stopped => None,
        }
    }

    /// `true` when the server answered with a success status.
    pub fn is_success(&self) -> bool {
        matches!(self.outcome, AttemptOutcome::Success(_))
    }

    /// How long the attempt took: until the body was read for a JSON call, until the headers
    /// were in for an audio download.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The first value of response header `name` (any case), or `None` when the server sent no
    /// such header, the value is not UTF-8, or there was no response.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers?.get(name).and_then(|v| v.to_str().ok())
    }
}

impl fmt::Debug for ResponseInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseInfo")
            .field("operation", &self.attempt.operation)
            .field("method", &self.attempt.method)
            .field("path", &self.path())
            .field("attempt", &self.attempt.attempt)
            .field("correlation_id", &self.attempt.correlation_id)
            .field("outcome", &self.outcome)
            .field("duration", &self.duration)
            .finish()
    }
}

/// The hooks of a client, in the order they were added.
#[derive(Clone, Default)]
pub(crate) struct Hooks(Vec<Arc<dyn Hook>>);

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} hook(s)", self.0.len())
    }
}

impl Hooks {
    pub(crate) fn push(&mut self, hook: Arc<dyn Hook>) {
        self.0.push(hook);
    }

    /// Runs every hook's `on_request` on `request` (which holds no key yet); the error of the
    /// first header refused.
    pub(crate) fn on_request(
        &self,
        operation: &'static str,
        attempt: u32,
        correlation_id: &str,
        request: &mut reqwest::Request,
    ) -> Result<(), Error> {
        if self.0.is_empty() {
            return Ok(());
        }
        let method = request.method().clone();
        let url = request.url().clone();
        let mut parts = RequestParts {
            attempt: Attempt {
                operation,
                method: method.as_str(),
                url: &url,
                attempt,
                correlation_id,
            },
            headers: request.headers_mut(),
            refused: None,
        };
        for hook in &self.0 {
            hook.on_request(&mut parts);
        }
        parts
            .refused
            .map_or(Ok(()), |m| Err(Error::InvalidRequest(m)))
    }

    /// Runs every hook's `on_response`.
    pub(crate) fn on_response(
        &self,
        operation: &'static str,
        attempt: u32,
        correlation_id: &str,
        request: &reqwest::Request,
        ended: Ended<'_>,
    ) {
        if self.0.is_empty() {
            return;
        }
        let info = ResponseInfo {
            attempt: Attempt {
                operation,
                method: request.method().as_str(),
                url: request.url(),
                attempt,
                correlation_id,
            },
            outcome: ended.outcome,
            duration: ended.duration,
            headers: ended.headers,
        };
        for hook in &self.0 {
            hook.on_response(&info);
        }
    }
}

/// How an attempt ended, from the transport's side.
pub(crate) struct Ended<'a> {
    pub(crate) outcome: AttemptOutcome,
    pub(crate) duration: Duration,
    pub(crate) headers: Option<&'a HeaderMap>,
}
