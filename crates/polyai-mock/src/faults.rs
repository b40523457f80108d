//! Fault injection: latency, failed answers, rate limiting and broken or slow bodies.
//!
//! Faults are set at start-up ([`FaultConfig`]) and changed at any time through the [`Faults`] handle.
//! Which requests fail is decided from the seed and the request's arrival number, so a sequential
//! client sees the same failures on every run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::disagree::Disagreement;
use crate::errors::{ApiError, codes};
use crate::prng::{Rng, hash};

/// Pause before a broken body ends, so the part already sent reaches the client.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

/// The fault settings in force.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultConfig {
    /// Added before every answer.
    pub latency: Duration,
    /// Fraction (0..=1) of requests answered with one of `fail_statuses`.
    pub fail_fraction: f64,
    /// Statuses for `fail_fraction`; 500, 502 and 503 when empty.
    pub fail_statuses: Vec<u16>,
    /// When set, every request answers 429 with this `Retry-After`.
    pub rate_limit: Option<Duration>,
    /// Send the headers and part of the body, then reset the connection.
    pub reset_mid_body: bool,
    /// Declare the full `Content-Length`, send only part of the body, then close.
    pub truncate_body: bool,
    /// Throttle bodies to this many bytes per second.
    pub slow_body: Option<u64>,
    /// The next this-many requests answer `fail_next_status`.
    pub fail_next: u64,
    /// Status for `fail_next` (a 429 carries `Retry-After: 1`).
    pub fail_next_status: u16,
    /// Fraction (0..=1) of requests whose body `reset_mid_body`, `truncate_body` and `slow_body`
    /// break; `None` breaks every body.
    pub body_fault_fraction: Option<f64>,
    /// Answer a conversation's detail with its id upper-cased after the `CA` prefix, as a server
    /// whose detail id differs in case from its listing id does.
    pub upper_case_detail_ids: bool,
    /// How the Data API and v3 listings disagree (by default they agree); see
    /// [`crate::disagree`].
    pub disagree: Disagreement,
}

/// How a response body is to be broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFault {
    None,
    Reset,
    Truncate,
    Slow(u64),
}

/// What the fault layer decided for one request.
#[derive(Debug)]
pub(crate) struct Decision {
    pub latency: Duration,
    pub early: Option<Response>,
    pub body: BodyFault,
}

#[derive(Debug)]
struct Inner {
    config: Mutex<FaultConfig>,
    requests: AtomicU64,
    seed: u64,
}

/// A cheap, cloneable handle that changes the faults of a running server.
#[derive(Debug, Clone)]
pub struct Faults(Arc<Inner>);

fn failure(status: StatusCode, retry_after: Option<Duration>) -> Response {
    let (code, message) = match status.as_u16() {
        429 => (codes::RATE_LIMITED, "API rate limit exceeded"),
        500 => (codes::INTERNAL_ERROR, "An unexpected error occurred."),
        502 => (
            "BAD_GATEWAY",
            "An invalid response was received from the upstream server",
        ),
        503 => (
            "SERVICE_UNAVAILABLE",
            "The upstream server is currently unavailable",
        ),
        504 => ("GATEWAY_TIMEOUT", "The upstream server is timing out"),
        _ => ("INJECTED_FAULT", "Injected fault"),
    };
    let mut resp = ApiError::new(status, code, message).into_response();
    if let Some(after) =
        retry_after.or((status == StatusCode::TOO_MANY_REQUESTS).then_some(Duration::from_secs(1)))
    {
        let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

impl Faults {
    /// A handle with the given initial settings; `seed` drives which requests fail.
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        Faults(Arc::new(Inner {
            config: Mutex::new(config),
            requests: AtomicU64::new(0),
            seed,
        }))
    }

    fn lock(&self) -> MutexGuard<'_, FaultConfig> {
        self.0.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The settings in force.
    pub fn config(&self) -> FaultConfig {
        self.lock().clone()
    }

    /// Replaces all settings at once.
    pub fn set(&self, config: FaultConfig) {
        *self.lock() = config;
    }

    /// Clears every fault.
    pub fn reset(&self) {
        self.set(FaultConfig::default());
    }

    /// Adds `latency` before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Answers a `fraction` of requests with one of `statuses` (500/502/503 when empty).
    pub fn fail_fraction(&self, fraction: f64, statuses: &[u16]) {
        let mut c = self.lock();
        c.fail_fraction = fraction.clamp(0.0, 1.0);
        c.fail_statuses = statuses.to_vec();
    }

    /// Answers every request 429 with `Retry-After` (seconds, rounded up); `None` lifts the limit.
    pub fn rate_limit(&self, retry_after: Option<Duration>) {
        self.lock().rate_limit = retry_after;
    }

    /// Resets connections part-way through every body.
    pub fn reset_mid_body(&self, on: bool) {
        self.lock().reset_mid_body = on;
    }

    /// Sends only part of every body while declaring its full length.
    pub fn truncate_body(&self, on: bool) {
        self.lock().truncate_body = on;
    }

    /// Throttles every body to `bytes_per_sec`; `None` (or 0) removes the throttle.
    pub fn slow_body(&self, bytes_per_sec: Option<u64>) {
        self.lock().slow_body = bytes_per_sec.filter(|&b| b > 0);
    }

    /// Requests the server has answered so far (every route, failed ones included).
    pub fn requests(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Breaks only a `fraction` of bodies (chosen from the seed); `None` breaks every body.
    pub fn body_fault_fraction(&self, fraction: Option<f64>) {
        self.lock().body_fault_fraction = fraction.map(|f| f.clamp(0.0, 1.0));
    }

    /// Answers details with the conversation id upper-cased after `CA` (or as listed).
    pub fn upper_case_detail_ids(&self, on: bool) {
        self.lock().upper_case_detail_ids = on;
    }

    /// Makes the Data API and v3 listings disagree as `disagreement` says (see
    /// [`crate::disagree`]); [`Disagreement::default`] makes them agree again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use polyai_mock::{DisagreeField, Disagreement, MockConfig, MockServer};
    /// let server = MockServer::start(MockConfig::default()).await?;
    /// server.faults().disagree(Disagreement {
    ///     drop_v3: 0.05,
    ///     fields: vec![(DisagreeField::TotalDuration, 0.1)],
    ///     ..Disagreement::default()
    /// });
    /// assert_eq!(server.faults().disagreement().drop_v3, 0.05);
    /// # Ok(()) }
    /// ```
    pub fn disagree(&self, disagreement: Disagreement) {
        self.lock().disagree = disagreement;
    }

    /// How the listings disagree now.
    pub fn disagreement(&self) -> Disagreement {
        self.lock().disagree.clone()
    }

    /// Whether details carry an upper-cased id.
    pub(crate) fn detail_ids_upper(&self) -> bool {
        self.lock().upper_case_detail_ids
    }

    /// Makes the next `n` requests answer `status`.
    pub fn fail_next(&self, n: u64, status: u16) {
        let mut c = self.lock();
        c.fail_next = n;
        c.fail_next_status = status;
    }

    /// Decides the fate of the next request.
    pub(crate) fn decide(&self) -> Decision {
        let n = self.0.requests.fetch_add(1, Ordering::Relaxed);
        let mut c = self.lock();
        let mut early = None;
        if c.fail_next > 0 {
            c.fail_next -= 1;
            let status = StatusCode::from_u16(c.fail_next_status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            early = Some(failure(status, None));
        } else if let Some(after) = c.rate_limit {
            early = Some(failure(StatusCode::TOO_MANY_REQUESTS, Some(after)));
        } else if c.fail_fraction > 0.0 {
            let mut rng = Rng::new(&[hash(&[self.0.seed, 0xFA17]), n]);
            if rng.chance(c.fail_fraction) {
                let statuses: &[u16] = if c.fail_statuses.is_empty() {
                    &[500, 502, 503]
                } else {
                    &c.fail_statuses
                };
                let status = StatusCode::from_u16(*rng.pick(statuses))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                early = Some(failure(status, None));
            }
        }
        let body_hit = c
            .body_fault_fraction
            .is_none_or(|fraction| Rng::new(&[hash(&[self.0.seed, 0xB0D7]), n]).chance(fraction));
        let body = if !body_hit {
            BodyFault::None
        } else if c.reset_mid_body {
            BodyFault::Reset
        } else if c.truncate_body {
            BodyFault::Truncate
        } else if let Some(bps) = c.slow_body {
            BodyFault::Slow(bps)
        } else {
            BodyFault::None
        };
        Decision {
            latency: c.latency,
            early,
            body,
        }
    }
}

/// Rewrites a response's body according to `fault`.
pub(crate) fn apply_body_fault(resp: Response, fault: BodyFault) -> Response {
    if fault == BodyFault::None {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| body.size_hint().exact());
    if let Some(len) = declared
        && let Ok(v) = HeaderValue::from_str(&len.to_string())
    {
        parts.headers.insert(header::CONTENT_LENGTH, v);
    }
    let cut = declared.map_or(1, |l| (l / 2).max(1));
    let data = body.into_data_stream();
    let body = match fault {
        BodyFault::None => return Response::from_parts(parts, Body::new(Body::from_stream(data))),
        BodyFault::Reset | BodyFault::Truncate => {
            let reset = fault == BodyFault::Reset;
            let stream = futures_util::stream::unfold(
                (data, 0u64, false),
                move |(mut data, sent, done)| async move {
                    if done {
                        return None;
                    }
                    if sent >= cut {
                        // Let the server flush what was sent before the connection breaks.
                        tokio::time::sleep(FLUSH_PAUSE).await;
                        return reset.then(|| {
                            (
                                Err(std::io::Error::new(
                                    std::io::ErrorKind::ConnectionReset,
                                    "injected connection reset",
                                )),
                                (data, sent, true),
                            )
                        });
                    }
                    match data.next().await {
                        Some(Ok(chunk)) => {
                            let room = (cut - sent) as usize;
                            let chunk = if chunk.len() > room {
                                chunk.slice(..room)
                            } else {
                                chunk
                            };
                            let len = chunk.len() as u64;
                            Some((Ok(chunk), (data, sent + len, false)))
                        }
                        Some(Err(e)) => Some((Err(std::io::Error::other(e)), (data, sent, true))),
                        None => None,
                    }
                },
            );
            Body::from_stream(stream)
        }
        BodyFault::Slow(bps) => {
            let piece = (bps / 20).max(1) as usize;
            let pause = Duration::from_secs_f64(piece as f64 / bps as f64);
            let stream = data
                .flat_map(move |chunk| {
                    let pieces: Vec<Result<Bytes, axum::Error>> = match chunk {
                        Ok(c) => (0..c.len())
                            .step_by(piece)
                            .map(|i| Ok(c.slice(i..(i + piece).min(c.len()))))
                            .collect(),
                        Err(e) => vec![Err(e)],
                    };
                    futures_util::stream::iter(pieces)
                })
                .then(move |item| async move {
                    tokio::time::sleep(pause).await;
                    item
                });
            Body::from_stream(stream)
        }
    };
    Response::from_parts(parts, body)
}
