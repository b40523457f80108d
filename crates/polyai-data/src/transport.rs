//! One logical call: build the request, send it with retries, classify the answer.
//!
//! Requests are made with `reqwest` directly rather than through the generated
//! `polyai_data_raw::Client`; the generated *types* are what this crate decodes into. Reasons:
//! - the key must ride on each request (a caller-supplied `reqwest::Client` cannot be given
//!   default headers afterwards, and progenitor's `ClientHooks` cannot be implemented outside
//!   the generated crate);
//! - error snippets and JSON-path decode errors need the raw body, which the generated client
//!   only returns for some failure shapes;
//! - audio needs the response head before the body (content length, idle timeout per chunk);
//! - per-attempt timeouts and response headers (`Retry-After`, correlation id) on every answer.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::client::Inner;
use crate::error::{ApiError, DecodeError, Error, TransportKind, snippet};
use crate::meta::ResponseMeta;
use crate::retry::{Failure, Idempotency, RetryPolicy, parse_retry_after};

/// Request header carrying the correlation id.
pub(crate) const CORRELATION_HEADER: &str = "x-polyai-correlation-id";
/// Largest error body read into memory.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A fresh correlation id: `polyai-rs-<uuid v4>`.
pub(crate) fn new_correlation_id() -> String {
    format!("polyai-rs-{}", uuid::Uuid::new_v4())
}

/// Per-call overrides set on an operation builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) correlation_id: Option<String>,
}

/// What to send.
pub(crate) struct Call {
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) path: Vec<String>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) accept: &'static str,
    pub(crate) idempotency: Idempotency,
}

impl Call {
    /// A call to `/v1/agents/{agent}/{rest…}`.
    pub(crate) fn agent(
        operation: &'static str,
        method: Method,
        agent: &str,
        rest: &[&str],
    ) -> Self {
        let mut path = vec!["v1".to_owned(), "agents".to_owned(), agent.to_owned()];
        path.extend(rest.iter().map(|s| (*s).to_owned()));
        let idempotency = if method == Method::GET {
            Idempotency::Idempotent
        } else {
            Idempotency::NonIdempotent
        };
        Call {
            operation,
            method,
            path,
            query: Vec::new(),
            body: None,
            accept: "application/json",
            idempotency,
        }
    }

    pub(crate) fn json_body<T: serde::Serialize>(mut self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::InvalidRequest(format!("could not encode the request body: {e}"))
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

/// A successful answer.
pub(crate) struct Reply {
    /// Status, correlation id (echoed, else sent) and headers.
    pub(crate) meta: ResponseMeta,
    pub(crate) payload: Payload,
}

pub(crate) enum Payload {
    /// The whole body (JSON calls).
    Body(Bytes),
    /// The response with its body still unread (downloads).
    Stream(reqwest::Response),
}

/// A failed attempt, before it is turned into an [`Error`].
enum AttemptError {
    Transport(TransportKind, String),
    Status {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
}

impl Inner {
    fn url(&self, call: &Call) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::Config("the base URL cannot carry a path".into()))?
            .pop_if_empty()
            .extend(&call.path);
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        Ok(url)
    }

    /// Runs `call` with retries. With `stream`, a success body is left unread.
    pub(crate) async fn execute(
        &self,
        call: Call,
        options: &CallOptions,
        stream: bool,
    ) -> Result<Reply, Error> {
        let correlation_id = options
            .correlation_id
            .clone()
            .unwrap_or_else(new_correlation_id);
        let span = tracing::info_span!(
            "polyai.call",
            operation = call.operation,
            correlation_id = %correlation_id,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        self.execute_in_span(call, options, stream, correlation_id, span.clone())
            .instrument(span)
            .await
    }

    async fn execute_in_span(
        &self,
        call: Call,
        options: &CallOptions,
        stream: bool,
        correlation_id: String,
        span: tracing::Span,
    ) -> Result<Reply, Error> {
        let policy = options.retry.as_ref().unwrap_or(&self.retry);
        let timeout = options.timeout.unwrap_or(self.timeout);
        let url = self.url(&call)?;
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let outcome = match tokio::time::timeout(
                timeout,
                self.attempt(&call, &url, &correlation_id, stream),
            )
            .await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(AttemptError::Transport(
                    TransportKind::Timeout,
                    format!("no complete answer within {timeout:?}"),
                )),
            };
            let (failure, retry_after, error) = match outcome {
                Ok(reply) => {
                    let status = reply.meta.status;
                    span.record("status", status);
                    span.record("duration_ms", started.elapsed().as_millis() as u64);
                    tracing::debug!(status, attempt, "call succeeded");
                    return Ok(reply);
                }
                Err(AttemptError::Transport(kind, message)) => {
                    tracing::debug!(%kind, attempt, error = %message, "attempt failed");
                    let error = Error::Transport {
                        operation: call.operation,
                        kind,
                        host: self.host.clone(),
                        message,
                        correlation_id: correlation_id.clone(),
                    };
                    (Failure::Transport(kind), None, error)
                }
                Err(AttemptError::Status {
                    status,
                    headers,
                    body,
                }) => {
                    span.record("status", status);
                    tracing::debug!(status, attempt, "attempt answered with an error status");
                    let api =
                        self.api_error(call.operation, status, &headers, &body, &correlation_id);
                    (
                        Failure::Status(status),
                        api.retry_after,
                        Error::Api(Box::new(api)),
                    )
                }
            };
            let delay = (attempt < policy.get_max_attempts()
                && policy.may_retry(call.idempotency, failure))
            .then(|| policy.delay(attempt, retry_after))
            .flatten();
            match delay {
                Some(delay) => {
                    tracing::info!(attempt, delay_ms = delay.as_millis() as u64, "retrying");
                    (self.sleeper)(delay).await;
                }
                None => {
                    span.record("duration_ms", started.elapsed().as_millis() as u64);
                    tracing::debug!(attempt, error = %error, "call failed");
                    return Err(error);
                }
            }
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        url: &Url,
        correlation_id: &str,
        stream: bool,
    ) -> Result<Reply, AttemptError> {
        let mut request = self
            .http
            .request(call.method.clone(), url.clone())
            .header(crate::auth::API_KEY_HEADER, self.key_header.clone())
            .header(USER_AGENT, self.user_agent.clone())
            .header(ACCEPT, call.accept)
            .header(CORRELATION_HEADER, correlation_id);
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if !response.status().is_success() {
            let body = read_limited(response, ERROR_BODY_LIMIT).await;
            return Err(AttemptError::Status {
                status,
                headers,
                body,
            });
        }
        let correlation_id = headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(correlation_id)
            .to_owned();
        let payload = if stream {
            Payload::Stream(response)
        } else {
            Payload::Body(response.bytes().await.map_err(transport)?)
        };
        Ok(Reply {
            meta: ResponseMeta {
                status,
                correlation_id,
                headers,
            },
            payload,
        })
    }

    fn api_error(
        &self,
        operation: &'static str,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        sent_correlation_id: &str,
    ) -> ApiError {
        let envelope = serde_json::from_slice::<ErrorEnvelope>(body).unwrap_or_default();
        let message = envelope
            .error_message
            .or(envelope.message)
            .or_else(|| envelope.error.as_ref().and_then(text_of))
            .or_else(|| envelope.detail.as_ref().and_then(text_of));
        let correlation_id = headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(sent_correlation_id)
            .to_owned();
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        ApiError {
            operation,
            host: self.host.clone(),
            status,
            code: envelope.error_code,
            message,
            correlation_id,
            retry_after,
            body_snippet: snippet(body),
        }
    }
}

/// The platform error envelope, read leniently (every field optional, any extra ignored).
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorEnvelope {
    error_code: Option<String>,
    error_message: Option<String>,
    error: Option<serde_json::Value>,
    message: Option<String>,
    detail: Option<serde_json::Value>,
}

fn text_of(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Maps a reqwest error to our kind and a message that holds no secret.
pub(crate) fn classify(err: reqwest::Error) -> (TransportKind, String) {
    let kind = if err.is_connect() {
        TransportKind::Connect
    } else if err.is_timeout() {
        TransportKind::Timeout
    } else if err.is_redirect() {
        TransportKind::Redirect
    } else if err.is_builder() {
        TransportKind::Request
    } else {
        TransportKind::Connection
    };
    (kind, error_chain(&err))
}

fn transport(err: reqwest::Error) -> AttemptError {
    let (kind, message) = classify(err);
    AttemptError::Transport(kind, message)
}

/// `error: cause: cause` on one line.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

async fn read_limited(mut response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(limit);
    Bytes::from(body)
}

/// Decodes a JSON body, naming the JSON path of the first mismatch; hands back the
/// response metadata with it.
pub(crate) fn decode<T: DeserializeOwned>(
    operation: &'static str,
    reply: Reply,
) -> Result<(T, ResponseMeta), Error> {
    let body = match reply.payload {
        Payload::Body(body) => body,
        Payload::Stream(_) => Bytes::new(),
    };
    let value = decode_bytes(operation, &body, &reply.meta.correlation_id)?;
    Ok((value, reply.meta))
}

/// Decodes the acknowledgement of a mutation: an empty body or `{"success": true}`.
pub(crate) fn decode_ack(operation: &'static str, reply: Reply) -> Result<ResponseMeta, Error> {
    if let Payload::Body(body) = &reply.payload
        && body.iter().all(u8::is_ascii_whitespace)
    {
        return Ok(reply.meta);
    }
    let (_, meta): (crate::models::OperationSuccessResponse, _) = decode(operation, reply)?;
    Ok(meta)
}

pub(crate) fn decode_bytes<T: DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
    correlation_id: &str,
) -> Result<T, Error> {
    let fail = |path: String, message: String| {
        Error::Decode(Box::new(DecodeError {
            operation,
            path: if path.is_empty() {
                ".".to_owned()
            } else {
                path
            },
            message,
            correlation_id: correlation_id.to_owned(),
            body_snippet: snippet(body),
        }))
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| fail(err.path().to_string(), err.into_inner().to_string()))?;
    de.end()
        .map_err(|err| fail(String::new(), err.to_string()))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Page {
        items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        n: u32,
    }

    #[test]
    fn decode_error_names_the_path() {
        let body = br#"{"items":[{"n":1},{"n":"two"}]}"#;
        let err = decode_bytes::<Page>("op", body, "cid").err();
        let decode = err.as_ref().and_then(Error::as_decode);
        assert_eq!(decode.map(DecodeError::path), Some("items[1].n"));
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("items[1].n") && text.contains("cid") && text.contains("\"two\""),
            "{text}"
        );
    }

    #[test]
    fn decode_rejects_trailing_garbage() {
        assert!(decode_bytes::<Page>("op", br#"{"items":[]} x"#, "cid").is_err());
        assert!(decode_bytes::<Page>("op", br#"{"items":[]}"#, "cid").is_ok());
    }

    #[test]
    fn correlation_ids_are_fresh() {
        let a = new_correlation_id();
        assert!(a.starts_with("polyai-rs-") && a.len() == "polyai-rs-".len() + 36);
        assert_ne!(a, new_correlation_id());
    }
}
