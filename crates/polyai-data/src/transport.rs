//! One logical call: take the request the spec describes, send it with retries, classify the answer.
//!
//! Every request is built by the generated client (`polyai_data_raw`): its methods turn the
//! operation's arguments into the method, URL (path parameters percent-encoded, query parameters by
//! their spec names), headers and JSON body that `openapi/` describes, and a capturing
//! [`Hooks`](polyai_data_raw::Hooks) hands that `reqwest::Request` over instead of sending it. So no
//! path, method or parameter name is written by hand in this crate: a change of the spec changes
//! `generated.rs`, and the requests sent here follow.
//!
//! This module then sends it — with the key and the correlation id on every attempt, retries,
//! per-attempt timeouts and tracing — and reads the answer itself rather than through the generated
//! response handling, which cannot give three things this crate needs: the status and raw body of
//! every failure (an error body that does not decode, e.g. an HTML 401 from a proxy, loses its
//! status there), a JSON-path decode error with a body snippet, and the response head of an audio
//! download before its body (content length, idle timeout per chunk).

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::body::{CappedError, read_capped};
use crate::client::Inner;
use crate::error::{ApiError, DecodeError, Error, TransportKind, snippet};
use crate::ids::{check_id, check_path};
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

impl CallOptions {
    /// The correlation id of the next call: the one set by the caller, else a fresh one.
    pub(crate) fn correlation_id(&self) -> String {
        self.correlation_id
            .clone()
            .unwrap_or_else(new_correlation_id)
    }
}

/// What to send: the request built from the spec, and how the call may be retried.
pub(crate) struct Call {
    pub(crate) operation: &'static str,
    pub(crate) request: reqwest::Request,
    pub(crate) correlation_id: String,
    pub(crate) accept: &'static str,
    pub(crate) idempotency: Idempotency,
}

impl Call {
    /// Takes the request that a method of a capturing client (from [`Inner::spec`] or
    /// [`Inner::spec_v3`]) has just built: `captured` is its `take_request()`, `built` what the
    /// method returned — an error that only says the request was captured, or the reason it could
    /// not be built. `ids` are the path parameters given to the method, named (`agent id`): each
    /// is checked before anything is sent, and the built URL must carry each as exactly one path
    /// segment (see [`crate::ids`]).
    pub(crate) fn from_spec<T, E: std::fmt::Debug>(
        operation: &'static str,
        ids: &[(&str, &str)],
        captured: Option<reqwest::Request>,
        built: Result<T, polyai_data_raw::Error<E>>,
        correlation_id: String,
    ) -> Result<Self, Error> {
        for (what, id) in ids {
            check_id(what, id)?;
        }
        let request = captured.ok_or_else(|| match built {
            Err(polyai_data_raw::Error::InvalidRequest(reason)) => Error::InvalidRequest(format!(
                "{operation}: the request cannot be built: {reason}"
            )),
            Err(other) => {
                Error::InvalidRequest(format!("{operation}: the request cannot be built: {other}"))
            }
            Ok(_) => Error::Config(format!(
                "internal: {operation} sent a request instead of building it"
            )),
        })?;
        check_path(operation, request.url(), ids)?;
        Ok(Call {
            operation,
            request,
            correlation_id,
            accept: "application/json",
            idempotency: Idempotency::of(operation),
        })
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
    /// Ends the call at once, without retrying.
    Final(Error),
    Transport(TransportKind, String),
    Status {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
}

impl Inner {
    /// A generated client that builds requests without sending them (see [`Call::from_spec`]).
    pub(crate) fn spec(&self) -> polyai_data_raw::Client {
        polyai_data_raw::Client::capturing(
            self.base.as_str().trim_end_matches('/'),
            self.http.clone(),
        )
    }

    /// The same for the Conversations API v3, on its own host; an error where the region has none.
    pub(crate) fn spec_v3(&self) -> Result<polyai_data_raw::conversations_v3::Client, Error> {
        let base = self
            .v3_base
            .as_ref()
            .map_err(|e| Error::Config(e.clone()))?;
        Ok(polyai_data_raw::conversations_v3::Client::capturing(
            base.as_str().trim_end_matches('/'),
            self.http.clone(),
        ))
    }

    /// Runs `call` with retries. With `stream`, a success body is left unread.
    pub(crate) async fn execute(
        &self,
        call: Call,
        options: &CallOptions,
        stream: bool,
    ) -> Result<Reply, Error> {
        let correlation_id = call.correlation_id.clone();
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
        let host = crate::config::host_label(call.request.url());
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let outcome = match tokio::time::timeout(timeout, self.attempt(&call, stream)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(AttemptError::Transport(
                    TransportKind::Timeout,
                    format!("no complete answer within {timeout:?}"),
                )),
            };
            let (failure, retry_after, error) = match outcome {
                Err(AttemptError::Final(error)) => {
                    span.record("duration_ms", started.elapsed().as_millis() as u64);
                    tracing::debug!(attempt, error = %error, "call failed");
                    return Err(error);
                }
                Ok(reply) => {
                    self.budget.refund();
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
                        host: host.clone(),
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
                    let api = self.api_error(
                        call.operation,
                        &host,
                        status,
                        &headers,
                        &body,
                        &correlation_id,
                    );
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
            .flatten()
            .filter(|_| self.spend_retry());
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

    /// Takes one retry from the client's budget; `false` (logged) when it is empty.
    pub(crate) fn spend_retry(&self) -> bool {
        let granted = self.budget.try_spend();
        if !granted {
            tracing::warn!("retry budget exhausted: returning the failure without retrying");
        }
        granted
    }

    async fn attempt(&self, call: &Call, stream: bool) -> Result<Reply, AttemptError> {
        let correlation_id = call.correlation_id.as_str();
        // Bodies are JSON held in memory, so a request always clones.
        let mut request = call.request.try_clone().ok_or_else(|| {
            AttemptError::Transport(
                TransportKind::Request,
                "the request body cannot be sent twice".into(),
            )
        })?;
        let headers = request.headers_mut();
        headers.insert(crate::auth::API_KEY_HEADER, self.key_header.clone());
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.insert(ACCEPT, HeaderValue::from_static(call.accept));
        let response = self.http.execute(request).await.map_err(transport)?;
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
            match read_capped(response, self.max_response_bytes).await {
                Ok(body) => Payload::Body(body),
                Err(CappedError::Transport(err)) => return Err(transport(err)),
                Err(CappedError::TooLarge) => {
                    return Err(AttemptError::Final(Error::ResponseTooLarge {
                        operation: call.operation,
                        host: crate::config::host_label(call.request.url()),
                        limit: self.max_response_bytes,
                        correlation_id,
                    }));
                }
            }
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
        host: &str,
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
            host: host.to_owned(),
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
    // Plain serde_json first: tracking the path costs ~1.7x on real pages, so it runs only to
    // explain a body that did not decode.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
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
