//! Sending one call: each attempt with the key and the client's headers, the user's hooks around
//! it, retries with backoff under the per-attempt timeout, and the answer read and classified —
//! the outcome returned to the [`Exchange`](super::Exchange) that asked.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::{CORRELATION_HEADER, CallOptions, Inner};
use crate::body::{CappedError, content_length, read_capped};
use crate::error::{ApiError, DecodeError, Error, TransportKind, snippet};
use crate::hook::{AttemptOutcome, Ended};
use crate::meta::ResponseMeta;
use crate::retry::{Failure, Idempotency, parse_retry_after};

/// Largest error body read into memory.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// What to send: the request built from the spec, and how the call may be retried.
pub(super) struct Call<'a> {
    pub(super) operation: &'static str,
    pub(super) request: reqwest::Request,
    pub(super) correlation_id: &'a str,
    pub(super) accept: &'static str,
    pub(super) idempotency: Idempotency,
}

/// A successful answer.
pub(super) struct Reply {
    /// Status, correlation id (echoed, else sent) and headers.
    pub(super) meta: ResponseMeta,
    pub(super) payload: Payload,
}

pub(super) enum Payload {
    /// The whole body (JSON calls).
    Body(Bytes),
    /// The response with its body still unread (downloads).
    Stream(reqwest::Response),
}

/// A failed attempt, before it is turned into an [`Error`].
enum AttemptError {
    /// Ends the call at once, without retrying.
    Final(Error),
    Transport(TransportKind, String, Option<Cause>),
    Status {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    },
}

impl Inner {
    /// Runs `call` with retries. With `stream`, a success body is left unread.
    pub(super) async fn execute(
        &self,
        call: Call<'_>,
        options: &CallOptions,
        stream: bool,
    ) -> Result<Reply, Error> {
        let correlation_id = call.correlation_id;
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
        call: Call<'_>,
        options: &CallOptions,
        stream: bool,
        correlation_id: &str,
        span: tracing::Span,
    ) -> Result<Reply, Error> {
        let policy = options.retry.as_ref().unwrap_or(&self.retry);
        let timeout = options.timeout.unwrap_or(self.timeout);
        let host = || crate::builder::host_label(call.request.url());
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            span.record("attempt", attempt);
            let attempt_started = Instant::now();
            let outcome =
                match tokio::time::timeout(timeout, self.attempt(&call, stream, attempt)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(AttemptError::Transport(
                        TransportKind::Timeout,
                        format!("no complete answer within {timeout:?}"),
                        None,
                    )),
                };
            self.observe(&call, attempt, attempt_started, &outcome);
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
                Err(AttemptError::Transport(kind, message, source)) => {
                    tracing::debug!(%kind, attempt, error = %message, "attempt failed");
                    let error = Error::Transport {
                        operation: call.operation,
                        kind,
                        host: host(),
                        message,
                        correlation_id: correlation_id.to_owned(),
                        source,
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
                        &host(),
                        status,
                        &headers,
                        &body,
                        correlation_id,
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

    /// Tells the client's hooks how attempt number `attempt` of `call` ended.
    fn observe(
        &self,
        call: &Call<'_>,
        attempt: u32,
        started: Instant,
        outcome: &Result<Reply, AttemptError>,
    ) {
        let (outcome, headers) = match outcome {
            Ok(reply) => (
                AttemptOutcome::Success(reply.meta.status),
                Some(&reply.meta.headers),
            ),
            Err(AttemptError::Status {
                status, headers, ..
            }) => (AttemptOutcome::Status(*status), Some(headers)),
            Err(AttemptError::Transport(kind, ..)) => (AttemptOutcome::Transport(*kind), None),
            Err(AttemptError::Final(_)) => (AttemptOutcome::Stopped, None),
        };
        let ended = Ended {
            outcome,
            duration: started.elapsed(),
            headers,
        };
        let request = &call.request;
        (self.hooks).on_response(call.operation, attempt, call.correlation_id, request, ended);
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        stream: bool,
        attempt: u32,
    ) -> Result<Reply, AttemptError> {
        let correlation_id = call.correlation_id;
        // Bodies are JSON held in memory, so a request always clones.
        let mut request = call.request.try_clone().ok_or_else(|| {
            AttemptError::Transport(
                TransportKind::Request,
                "the request body cannot be sent twice".into(),
                None,
            )
        })?;
        // The hooks see the request before the key is added, and cannot set it.
        (self.hooks)
            .on_request(call.operation, attempt, correlation_id, &mut request)
            .map_err(AttemptError::Final)?;
        let headers = request.headers_mut();
        headers.insert(crate::auth::API_KEY_HEADER, self.key_header.clone());
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.insert(ACCEPT, HeaderValue::from_static(call.accept));
        let mut response = self.http.execute(request).await.map_err(transport)?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let headers = std::mem::take(response.headers_mut());
            let body = read_limited(response, ERROR_BODY_LIMIT).await;
            return Err(AttemptError::Status {
                status,
                headers,
                body,
            });
        }
        // A stream's response goes to the caller with its headers; a body read here leaves
        // them to the `ResponseMeta` without a copy.
        let headers = if stream {
            response.headers().clone()
        } else {
            std::mem::take(response.headers_mut())
        };
        let correlation_id = headers
            .get(CORRELATION_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(correlation_id)
            .to_owned();
        let payload = if stream {
            Payload::Stream(response)
        } else {
            match read_capped(response, content_length(&headers), self.max_response_bytes).await {
                Ok(body) => Payload::Body(body),
                Err(CappedError::Transport(err)) => return Err(transport(err)),
                Err(CappedError::TooLarge) => {
                    return Err(AttemptError::Final(Error::ResponseTooLarge {
                        operation: call.operation,
                        host: crate::builder::host_label(call.request.url()),
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

/// The underlying cause kept in [`Error::Transport`], typed only as `dyn Error`.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Maps a reqwest error to our kind, a message that holds no secret, and the error itself as
/// the cause (its chain ends in the io error of a refused or reset connection).
pub(crate) fn classify(err: reqwest::Error) -> (TransportKind, String, Option<Cause>) {
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
    let message = error_chain(&err);
    (kind, message, Some(Box::new(err)))
}

fn transport(err: reqwest::Error) -> AttemptError {
    let (kind, message, source) = classify(err);
    AttemptError::Transport(kind, message, source)
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
    let fail = |path: String, message: String, err: serde_json::Error| {
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
            source: Some(std::sync::Arc::new(err)),
        }))
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        fail(path, inner.to_string(), inner)
    })?;
    de.end()
        .map_err(|err| fail(String::new(), err.to_string(), err))?;
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
}
