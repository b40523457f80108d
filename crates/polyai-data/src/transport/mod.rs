//! One logical call: the generated method builds the request from the spec, and this module
//! sends it with retries and classifies the answer.
//!
//! Every request is built by the generated client (`polyai_data_raw`): its methods turn the
//! operation's arguments into the method, URL (path parameters percent-encoded, query parameters
//! by their spec names), headers and JSON body that `openapi/` describes. An [`Exchange`] — one
//! logical call — runs the generated method of its operation with a
//! [`Capture`](polyai_data_raw::Capture) as its hooks ([`Exchange::build`]), which takes that
//! request unsent, and then sends it itself ([`Exchange::typed`] and the other finishers). So no
//! path, method or parameter name is written by hand in this crate: a change of the spec changes
//! `generated.rs`, and the requests sent here follow.
//!
//! Sending ([`execute`]) adds the key, the user agent and the correlation id to each attempt,
//! retries with backoff, bounds every attempt by the per-attempt timeout, runs the user's hooks,
//! traces the call, and reads a JSON body (so that a broken body is retried like any broken
//! attempt) or leaves a download's body streaming. Its result is the call's outcome, on one
//! channel: the body and its [`ResponseMeta`], or this crate's [`Error`] with the status, the
//! API's code and message, the correlation id and a body snippet. The finisher then decodes the
//! body into the model the generated method declares (its [`Built`] says which), into what the
//! caller asked for instead (`serde_json::Value`, the bytes as sent), or hands the stream on.

mod execute;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use polyai_data_raw::{Built, ByteStream, Capture, ResponseValue};
use reqwest::Url;
use reqwest::header::HeaderValue;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::ids::{check_id, check_path};
use crate::meta::ResponseMeta;
use crate::retry::{Idempotency, RetryBudget, RetryPolicy, Sleeper};

use execute::{Call, Payload};
pub(crate) use execute::{Cause, classify, decode_bytes, error_chain};

/// Request header carrying the correlation id.
pub(crate) const CORRELATION_HEADER: &str = "x-polyai-correlation-id";

/// A fresh correlation id: `polyai-rs-<uuid v4>`.
pub(crate) fn new_correlation_id() -> String {
    format!("polyai-rs-{}", uuid::Uuid::new_v4())
}

/// What every call of a client shares: where requests go, how they are sent, and the limits on
/// their answers. Behind every handle ([`Client`](crate::Client), [`Agent`](crate::Agent), …).
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) host: String,
    /// Base URL of the Conversations API v3, or why this client has none (its region lacks one).
    pub(crate) v3_base: Result<Url, String>,
    pub(crate) key_header: HeaderValue,
    pub(crate) user_agent: HeaderValue,
    pub(crate) retry: RetryPolicy,
    /// Retries left to every call of this client (sized by `retry`).
    pub(crate) budget: RetryBudget,
    pub(crate) timeout: Duration,
    pub(crate) idle_timeout: Duration,
    /// Largest JSON success body read.
    pub(crate) max_response_bytes: u64,
    /// Audio downloads: least bytes per second over each window.
    pub(crate) min_download_rate: (u64, Duration),
    /// Audio downloads: longest total time for the body.
    pub(crate) download_timeout: Option<Duration>,
    pub(crate) sleeper: Sleeper,
    /// Run around every attempt, in order.
    pub(crate) hooks: crate::hook::Hooks,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base.as_str())
            .field("v3_base_url", &self.v3_base.as_ref().map(Url::as_str).ok())
            .field("api_key", &"***")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("min_download_rate", &self.min_download_rate)
            .field("download_timeout", &self.download_timeout)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
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

/// One logical call: built by the generated method of its operation ([`build`](Self::build),
/// [`build_v3`](Self::build_v3)), then sent and finished by one of [`typed`](Self::typed),
/// [`json`](Self::json), [`json_bytes`](Self::json_bytes), [`ack`](Self::ack) or
/// [`stream`](Self::stream).
pub(crate) struct Exchange {
    inner: Arc<Inner>,
    options: CallOptions,
    correlation_id: String,
    /// The path parameters given to the generated method, named (`agent id`): the URL it builds
    /// must carry each as exactly one path segment.
    ids: Vec<(&'static str, String)>,
}

impl Inner {
    /// Starts one logical call with `options`.
    pub(crate) fn exchange(self: &Arc<Self>, options: &CallOptions) -> Exchange {
        Exchange {
            inner: self.clone(),
            correlation_id: options.correlation_id(),
            options: options.clone(),
            ids: Vec::new(),
        }
    }
}

impl Exchange {
    /// Names the ids the generated method puts in the URL path (`("agent id", agent)`, …):
    /// refuses, before anything is built, an id no URL can carry as one segment, and checks the
    /// built URL before it is sent (see [`crate::ids`]).
    pub(crate) fn path_ids(mut self, ids: &[(&'static str, &str)]) -> Result<Self, Error> {
        for (what, id) in ids {
            check_id(what, id)?;
        }
        self.ids = ids
            .iter()
            .map(|(what, id)| (*what, (*id).to_owned()))
            .collect();
        Ok(self)
    }

    /// The correlation id every attempt of this call sends.
    pub(crate) fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The request the generated Data API method that `call` runs builds, unsent.
    pub(crate) fn build<T, E>(
        &self,
        call: impl AsyncFnOnce(
            &polyai_data_raw::Client,
        ) -> Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<Built<T>, Error> {
        let capture = Capture::new();
        let client = polyai_data_raw::Client::new_with_client(
            self.inner.base.as_str().trim_end_matches('/'),
            self.inner.http.clone(),
            capture.hooks(),
        );
        capture.take(call(&client)).map_err(unbuilt)
    }

    /// The request the generated Conversations API v3 method that `call` runs builds, unsent, on
    /// the v3 host; an error where the client's region has none.
    pub(crate) fn build_v3<T, E>(
        &self,
        call: impl AsyncFnOnce(
            &polyai_data_raw::conversations_v3::Client,
        ) -> Result<ResponseValue<T>, polyai_data_raw::Error<E>>,
    ) -> Result<Built<T>, Error> {
        let base = self
            .inner
            .v3_base
            .as_ref()
            .map_err(|e| Error::Config(e.clone()))?;
        let capture = Capture::new();
        let client = polyai_data_raw::conversations_v3::Client::new_with_client(
            base.as_str().trim_end_matches('/'),
            self.inner.http.clone(),
            capture.hooks(),
        );
        capture.take(call(&client)).map_err(unbuilt)
    }

    /// Sends `built` (checking its path first); `stream`: leave a success body unread.
    async fn send<T>(&self, built: Built<T>, stream: bool) -> Result<execute::Reply, Error> {
        let operation = built.operation_id();
        check_path(operation, built.request().url(), &self.ids)?;
        let request = built.into_request();
        // A read (any GET the spec declares, e.g. the v3 listing) may always be repeated.
        let idempotency = if request.method() == reqwest::Method::GET {
            Idempotency::Idempotent
        } else {
            Idempotency::of(operation)
        };
        let call = Call {
            operation,
            request,
            correlation_id: &self.correlation_id,
            accept: if stream {
                "audio/wav"
            } else {
                "application/json"
            },
            idempotency,
        };
        self.inner.execute(call, &self.options, stream).await
    }

    /// Sends a JSON call: the body as read, and its metadata.
    async fn body<T>(&self, built: Built<T>) -> Result<(Bytes, ResponseMeta, &'static str), Error> {
        let operation = built.operation_id();
        let reply = self.send(built, false).await?;
        match reply.payload {
            Payload::Body(body) => Ok((body, reply.meta, operation)),
            Payload::Stream(_) => Err(Error::Internal(format!(
                "{operation}: a JSON call was answered with an unread stream"
            ))),
        }
    }

    /// Sends a JSON call and decodes its body into the model the spec declares; a failure names
    /// the JSON path of the first mismatch.
    pub(crate) async fn typed<T: DeserializeOwned>(
        &self,
        built: Built<T>,
    ) -> Result<(T, ResponseMeta), Error> {
        self.json(built).await
    }

    /// Sends a JSON call and decodes its body as it arrived into `U` (e.g. `serde_json::Value`
    /// for the record as sent, or an envelope with the items left open).
    pub(crate) async fn json<U: DeserializeOwned, T>(
        &self,
        built: Built<T>,
    ) -> Result<(U, ResponseMeta), Error> {
        let (body, meta, operation) = self.body(built).await?;
        let value = decode_bytes(operation, &body, &meta.correlation_id)?;
        Ok((value, meta))
    }

    /// Sends a JSON call and returns its body as it arrived, after checking that it is one JSON
    /// value (a body that is not fails as [`Error::Decode`], like any other).
    pub(crate) async fn json_bytes<T>(
        &self,
        built: Built<T>,
    ) -> Result<(Bytes, ResponseMeta), Error> {
        let (body, meta, operation) = self.body(built).await?;
        // One pass that builds nothing tells JSON from garbage.
        decode_bytes::<serde::de::IgnoredAny>(operation, &body, &meta.correlation_id)?;
        Ok((body, meta))
    }

    /// Sends a mutation: its acknowledgement is an empty body or the model the spec declares
    /// (`{"success": true}`).
    pub(crate) async fn ack<T: DeserializeOwned>(
        &self,
        built: Built<T>,
    ) -> Result<ResponseMeta, Error> {
        let (body, meta, operation) = self.body(built).await?;
        if !body.iter().all(u8::is_ascii_whitespace) {
            decode_bytes::<T>(operation, &body, &meta.correlation_id)?;
        }
        Ok(meta)
    }

    /// Sends a download: the response whose body is still on the wire.
    pub(crate) async fn stream(
        &self,
        built: Built<ByteStream>,
    ) -> Result<(reqwest::Response, ResponseMeta), Error> {
        let operation = built.operation_id();
        let reply = self.send(built, true).await?;
        match reply.payload {
            Payload::Stream(response) => Ok((response, reply.meta)),
            Payload::Body(_) => Err(Error::Internal(format!(
                "{operation}: a download was read into memory"
            ))),
        }
    }
}

/// The error of a generated method that could not build its request.
fn unbuilt<E>(error: polyai_data_raw::Error<E>) -> Error {
    match error {
        polyai_data_raw::Error::InvalidRequest(reason) => {
            Error::InvalidRequest(format!("the request cannot be built: {reason}"))
        }
        polyai_data_raw::Error::CommunicationError(err) => Error::InvalidRequest(format!(
            "the request cannot be built: {}",
            error_chain(&err)
        )),
        polyai_data_raw::Error::Custom(reason) => Error::Internal(reason),
        // Every other variant describes a response, which a method that was not sent cannot have.
        _ => Error::Internal(
            "a generated method reported a response before handing over its request".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_are_fresh() {
        let a = new_correlation_id();
        assert!(a.starts_with("polyai-rs-") && a.len() == "polyai-rs-".len() + 36);
        assert_ne!(a, new_correlation_id());
    }
}
