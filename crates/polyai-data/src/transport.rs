//! One logical call: the generated method builds the request from the spec, and this module's
//! executor sends it with retries and classifies the answer.
//!
//! Every request is built by the generated client (`polyai_data_raw`): its methods turn the
//! operation's arguments into the method, URL (path parameters percent-encoded, query parameters by
//! their spec names), headers and JSON body that `openapi/` describes, and hand that
//! `reqwest::Request` to the client's [`Hooks`](polyai_data_raw::Hooks). The hooks of a client made by
//! [`Inner::exchange`] hand it to an [`Exchange`]: this module's [`Executor`] for one logical call.
//! So no path, method or parameter name is written by hand in this crate: a change of the spec
//! changes `generated.rs`, and the requests sent here follow.
//!
//! The executor sends each attempt with the key, the user agent and the correlation id, retries
//! with backoff, bounds every attempt by the per-attempt timeout, traces the call, reads a JSON
//! body (so that a broken body is retried like any broken attempt) and captures the status and
//! body of every failure. It gives the generated method a response rebuilt from what it read, and
//! keeps the outcome in the exchange: what the generated method then decodes is used for success,
//! and a failure is reported as this crate's [`Error`], with the status, the API's code and
//! message, the correlation id and a body snippet — things the generated error handling cannot
//! give (it drops the status of an error body that does not decode, and the bytes of one that does).
//! A download's body is left unread and streamed by the caller.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use polyai_data_raw::{BoxFuture, ByteStream, Executor, ResponseValue};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::body::{CappedError, content_length, read_capped};
use crate::client::Inner;
use crate::error::{ApiError, DecodeError, Error, TransportKind, snippet};
use crate::hook::{AttemptOutcome, Ended};
use crate::ids::{check_id, check_path};
use crate::meta::ResponseMeta;
use crate::retry::{Failure, Idempotency, RetryPolicy, parse_retry_after};

/// Request header carrying the correlation id.
pub(crate) const CORRELATION_HEADER: &str = "x-polyai-correlation-id";
/// Largest error body read into memory.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Status of the response handed to a generated method when an attempt got no response at all
/// (a timeout, a broken connection). No operation declares it, so the generated method returns
/// `UnexpectedResponse`; the [`Exchange`] holds the real error.
const NO_RESPONSE: u16 = 599;

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
struct Call {
    operation: &'static str,
    request: reqwest::Request,
    correlation_id: String,
    accept: &'static str,
    idempotency: Idempotency,
}

/// The error type of the generated Data API methods.
pub(crate) type RawError = polyai_data_raw::Error<polyai_data_raw::types::Error>;

/// How an [`Exchange`] reads a success body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// Read it whole (JSON), for the generated method to decode into the model
    /// ([`Exchange::typed`]).
    Json,
    /// Read it whole (JSON), for the caller to take as it arrived ([`Exchange::json`],
    /// [`Exchange::json_bytes`]). The generated method is handed the status with an empty body:
    /// the model it would decode is not used, and decoding it would double the work of a call.
    Raw,
    /// Leave it unread for the caller to stream (audio).
    Stream,
}

/// One logical call: the generated client whose requests go to this call's executor, and the
/// outcome the executor records. Made by [`Inner::exchange`]; finished by one of
/// [`typed`](Self::typed), [`json`](Self::json), [`ack`](Self::ack) or [`stream`](Self::stream)
/// with what the generated method returned.
pub(crate) struct Exchange {
    state: Arc<ExchangeState>,
}

/// The executor of one logical call.
struct ExchangeState {
    inner: Arc<Inner>,
    options: CallOptions,
    correlation_id: String,
    body: BodyKind,
    /// The path parameters given to the generated method, named (`agent id`): the URL it builds
    /// must carry each as exactly one path segment.
    ids: Vec<(&'static str, String)>,
    /// The operation id the generated method announced, once it has sent.
    operation: Mutex<Option<&'static str>>,
    /// Metadata and body of the success, or the failure.
    outcome: Mutex<Option<Result<Success, Error>>>,
}

/// What a successful call recorded.
struct Success {
    meta: ResponseMeta,
    /// The body as read (JSON calls); `None` for a stream.
    body: Option<Bytes>,
}

impl Inner {
    /// Starts one logical call with `options`, reading the success body as `body`.
    pub(crate) fn exchange(self: &Arc<Self>, options: &CallOptions, body: BodyKind) -> Exchange {
        Exchange {
            state: Arc::new(ExchangeState {
                inner: self.clone(),
                correlation_id: options.correlation_id(),
                options: options.clone(),
                body,
                ids: Vec::new(),
                operation: Mutex::new(None),
                outcome: Mutex::new(None),
            }),
        }
    }
}

impl Exchange {
    /// Reads the success body as `body` instead of the kind the exchange was started with
    /// (e.g. [`BodyKind::Raw`] for a call finished by [`json`](Self::json)).
    pub(crate) fn reading(mut self, body: BodyKind) -> Result<Self, Error> {
        let state = Arc::get_mut(&mut self.state).ok_or_else(|| {
            Error::Config("internal: body kind set after the exchange started".into())
        })?;
        state.body = body;
        Ok(self)
    }

    /// Names the ids the generated method puts in the URL path (`("agent id", agent)`, …):
    /// refuses, before anything is built, an id no URL can carry as one segment, and has the
    /// executor check the built URL (see [`crate::ids`]).
    pub(crate) fn path_ids(mut self, ids: &[(&'static str, &str)]) -> Result<Self, Error> {
        for (what, id) in ids {
            check_id(what, id)?;
        }
        let state = Arc::get_mut(&mut self.state).ok_or_else(|| {
            Error::Config("internal: path ids named after the exchange started".into())
        })?;
        state.ids = ids
            .iter()
            .map(|(what, id)| (*what, (*id).to_owned()))
            .collect();
        Ok(self)
    }

    /// The correlation id every attempt of this call sends.
    pub(crate) fn correlation_id(&self) -> &str {
        &self.state.correlation_id
    }

    fn hooks(&self) -> polyai_data_raw::Hooks {
        polyai_data_raw::Hooks::with_executor(self.state.clone())
    }

    /// The generated Data API client, sending through this exchange.
    pub(crate) fn client(&self) -> polyai_data_raw::Client {
        let inner = &self.state.inner;
        polyai_data_raw::Client::new_with_client(
            inner.base.as_str().trim_end_matches('/'),
            inner.http.clone(),
            self.hooks(),
        )
    }

    /// The generated Conversations API v3 client, on the v3 host, sending through this exchange;
    /// an error where the client's region has no v3 host.
    pub(crate) fn client_v3(&self) -> Result<polyai_data_raw::conversations_v3::Client, Error> {
        let base = self
            .state
            .inner
            .v3_base
            .as_ref()
            .map_err(|e| Error::Config(e.clone()))?;
        Ok(polyai_data_raw::conversations_v3::Client::new_with_client(
            base.as_str().trim_end_matches('/'),
            self.state.inner.http.clone(),
            self.hooks(),
        ))
    }

    fn operation(&self) -> &'static str {
        lock(&self.state.operation).unwrap_or("request")
    }

    /// What the executor recorded: the success, or the failure to report. `None` when the
    /// generated method never sent (it could not build the request).
    fn outcome(&self) -> Option<Result<Success, Error>> {
        lock(&self.state.outcome).take()
    }

    /// The error for a generated method that failed without a recorded outcome, or with one
    /// that does not explain its result.
    fn unexplained<E: std::fmt::Debug>(&self, error: polyai_data_raw::Error<E>) -> Error {
        let operation = self.operation();
        match error {
            polyai_data_raw::Error::InvalidRequest(reason) => Error::InvalidRequest(format!(
                "{operation}: the request cannot be built: {reason}"
            )),
            polyai_data_raw::Error::CommunicationError(err) => Error::InvalidRequest(format!(
                "{operation}: the request cannot be built: {}",
                error_chain(&err)
            )),
            other => Error::Config(format!(
                "internal: {operation} failed without a recorded answer: {other}"
            )),
        }
    }

    /// Finishes a JSON call with the model the generated method decoded. A body it could not
    /// decode, or a success status the spec does not declare, is decoded here instead, so a
    /// failure names the JSON path of the first mismatch.
    pub(crate) fn typed<T: DeserializeOwned, E: std::fmt::Debug>(
        self,
        result: Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<(T, ResponseMeta), Error> {
        let outcome = self.outcome();
        self.finish_typed(outcome, result)
    }

    fn finish_typed<T: DeserializeOwned, E: std::fmt::Debug>(
        &self,
        outcome: Option<Result<Success, Error>>,
        result: Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<(T, ResponseMeta), Error> {
        match (outcome, result) {
            (Some(Err(error)), _) => Err(error),
            (Some(Ok(success)), Ok(value)) => Ok((value.into_inner(), success.meta)),
            (Some(Ok(success)), Err(_)) => {
                let body = success.body.unwrap_or_default();
                let value = decode_bytes(self.operation(), &body, &success.meta.correlation_id)?;
                Ok((value, success.meta))
            }
            (None, Ok(value)) => {
                let meta = ResponseMeta {
                    status: value.status().as_u16(),
                    correlation_id: self.state.correlation_id.clone(),
                    headers: value.headers().clone(),
                };
                Ok((value.into_inner(), meta))
            }
            (None, Err(error)) => Err(self.unexplained(error)),
        }
    }

    /// Finishes a JSON call by decoding the body as it arrived into `U` (e.g. `serde_json::Value`
    /// for the record as sent), whatever the generated method made of it.
    pub(crate) fn json<U: DeserializeOwned, T, E: std::fmt::Debug>(
        self,
        result: Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<(U, ResponseMeta), Error> {
        let (body, meta) = self.body(result)?;
        let value = decode_bytes(self.operation(), &body, &meta.correlation_id)?;
        Ok((value, meta))
    }

    /// Finishes a JSON call with the body as it arrived, after checking that it is one JSON value
    /// (a body that is not fails as [`Error::Decode`], like any other).
    pub(crate) fn json_bytes<T, E: std::fmt::Debug>(
        self,
        result: Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<(Bytes, ResponseMeta), Error> {
        // One pass that builds nothing tells JSON from garbage: a `Raw` exchange left the model
        // undecoded.
        let (body, meta) = self.body(result)?;
        decode_bytes::<serde::de::IgnoredAny>(self.operation(), &body, &meta.correlation_id)?;
        Ok((body, meta))
    }

    /// The body the executor read for a successful JSON call.
    fn body<T, E: std::fmt::Debug>(
        &self,
        result: Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<(Bytes, ResponseMeta), Error> {
        match self.outcome() {
            Some(Ok(success)) => Ok((success.body.unwrap_or_default(), success.meta)),
            Some(Err(error)) => Err(error),
            None => Err(match result {
                Err(error) => self.unexplained(error),
                Ok(_) => Error::Config("internal: a JSON call recorded no body".into()),
            }),
        }
    }

    /// Finishes the acknowledgement of a mutation: an empty body, or `{"success": true}`.
    pub(crate) fn ack<T: DeserializeOwned, E: std::fmt::Debug>(
        self,
        result: Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<ResponseMeta, Error> {
        match self.outcome() {
            Some(Ok(success))
                if success
                    .body
                    .as_ref()
                    .is_some_and(|b| b.iter().all(u8::is_ascii_whitespace)) =>
            {
                Ok(success.meta)
            }
            outcome => self.finish_typed(outcome, result).map(|(_, meta)| meta),
        }
    }

    /// Finishes a download: the response whose body is still on the wire.
    pub(crate) fn stream<E: std::fmt::Debug>(
        self,
        result: Result<ResponseValue<ByteStream>, polyai_data_raw::Error<E>>,
    ) -> Result<(reqwest::Response, ResponseMeta), Error> {
        let success = match self.outcome() {
            Some(Ok(success)) => success,
            Some(Err(error)) => return Err(error),
            None => {
                return Err(match result {
                    Err(error) => self.unexplained(error),
                    Ok(_) => Error::Config("internal: a download recorded no answer".into()),
                });
            }
        };
        let response = match result {
            Ok(value) => {
                let status = value.status();
                let headers = value.headers().clone();
                let body = reqwest::Body::wrap_stream(value.into_inner().into_inner());
                rebuild(status.as_u16(), &headers, body)
            }
            // A success status the spec does not declare (e.g. 206): the response as it came.
            Err(polyai_data_raw::Error::UnexpectedResponse(response)) => response,
            Err(error) => return Err(self.unexplained(error)),
        };
        Ok((response, success.meta))
    }
}

impl Executor for ExchangeState {
    fn execute(
        &self,
        request: reqwest::Request,
        operation: &'static str,
    ) -> BoxFuture<'_, reqwest::Result<reqwest::Response>> {
        Box::pin(async move {
            *lock(&self.operation) = Some(operation);
            if let Err(error) = check_path(operation, request.url(), &self.ids) {
                *lock(&self.outcome) = Some(Err(error));
                return Ok(rebuild(NO_RESPONSE, &HeaderMap::new(), Bytes::new()));
            }
            // A read (any GET the spec declares, e.g. the v3 listing) may always be repeated.
            let idempotency = if request.method() == reqwest::Method::GET {
                Idempotency::Idempotent
            } else {
                Idempotency::of(operation)
            };
            let call = Call {
                operation,
                request,
                correlation_id: self.correlation_id.clone(),
                accept: match self.body {
                    BodyKind::Json | BodyKind::Raw => "application/json",
                    BodyKind::Stream => "audio/wav",
                },
                idempotency,
            };
            let stream = self.body == BodyKind::Stream;
            let (response, outcome) = match self.inner.execute(call, &self.options, stream).await {
                Ok(Reply { meta, payload }) => {
                    let (response, body) = match payload {
                        // The generated method reads the status and the body; the headers
                        // stay in the call's `ResponseMeta`, not copied into the response.
                        Payload::Body(body) => {
                            let model = match self.body {
                                BodyKind::Raw => Bytes::new(),
                                BodyKind::Json | BodyKind::Stream => body.clone(),
                            };
                            (rebuild(meta.status, &HeaderMap::new(), model), Some(body))
                        }
                        Payload::Stream(response) => (response, None),
                    };
                    (response, Ok(Success { meta, body }))
                }
                Err(error) => {
                    let response = match &error {
                        Error::Api(api) => {
                            rebuild(api.status, &HeaderMap::new(), api.body_snippet.clone())
                        }
                        _ => rebuild(NO_RESPONSE, &HeaderMap::new(), Bytes::new()),
                    };
                    (response, Err(error))
                }
            };
            *lock(&self.outcome) = Some(outcome);
            Ok(response)
        })
    }
}

/// A response for the generated method, from parts this crate has already read.
fn rebuild(status: u16, headers: &HeaderMap, body: impl Into<reqwest::Body>) -> reqwest::Response {
    let mut response = http::Response::new(body.into());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = headers.clone();
    reqwest::Response::from(response)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A successful answer.
struct Reply {
    /// Status, correlation id (echoed, else sent) and headers.
    meta: ResponseMeta,
    payload: Payload,
}

enum Payload {
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
    async fn execute(
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
        let host = || crate::config::host_label(call.request.url());
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
                        correlation_id: correlation_id.clone(),
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

    /// Tells the client's hooks how attempt number `attempt` of `call` ended.
    fn observe(
        &self,
        call: &Call,
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
        (self.hooks).on_response(
            call.operation,
            attempt,
            &call.correlation_id,
            request,
            ended,
        );
    }

    async fn attempt(
        &self,
        call: &Call,
        stream: bool,
        attempt: u32,
    ) -> Result<Reply, AttemptError> {
        let correlation_id = call.correlation_id.as_str();
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

    #[test]
    fn correlation_ids_are_fresh() {
        let a = new_correlation_id();
        assert!(a.starts_with("polyai-rs-") && a.len() == "polyai-rs-".len() + 36);
        assert_ne!(a, new_correlation_id());
    }
}
