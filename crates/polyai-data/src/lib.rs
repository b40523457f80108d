//! Async client for the PolyAI Data API ("Conversations API"): list and read an agent's
//! conversations, download recordings, annotate turns, keep notes, and run debug chats.
//!
//! # Quickstart
//!
//! ```no_run
//! use polyai_data::Client;
//! use polyai_data::audio::Direction;
//! use polyai_data::models::ConversationExt;
//!
//! # async fn run() -> Result<(), polyai_data::Error> {
//! // POLYAI_API_KEY (from Agent Studio → API Keys), POLYAI_REGION (us, eu, uk, studio, …),
//! // or POLYAI_BASE_URL for a proxy or a local mock server.
//! let client = Client::from_env()?;
//! let agent = client.agent("PROJECT-58RP822I");
//!
//! // Every conversation, newest first, fetched a page ahead of you.
//! let mut conversations = agent.conversations().list().limit(100).dedupe(true).stream();
//! while let Some(c) = conversations.try_next().await? {
//!     println!("{} {}", c.conversation_id, c.summary_heading().unwrap_or("-"));
//! }
//!
//! // One conversation with its transcript.
//! let detail = agent.conversations().get("CA681f3ad0d037c1884614548178a5bc1b").await?;
//! println!("{} turns", detail.turns.as_ref().map_or(0, Vec::len));
//!
//! // Its recording, streamed to disk and renamed into place only when complete
//! // (fetched again if the connection breaks part-way).
//! agent
//!     .audio(&detail.conversation_id)
//!     .direction(Direction::Combined)
//!     .save_to("call.wav")
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # What you get
//!
//! - **Configuration**: [`Client::builder`], [`Client::from_env`], [`Region`] (parses `us-1`,
//!   `euw-1`, `uk-1`, … and displays as its host), custom base URL (`http://` for loopback
//!   only), connect / per-attempt / idle timeouts; the names it reads are in [`config`]. One
//!   escape hatch takes reqwest's own types: [`ClientBuilder::reqwest_client`] (bring your own
//!   `reqwest::Client`) with [`ClientBuilder::same_host_redirect_policy`].
//! - **Profiles** ([`config::ConfigFile`], [`config::Profile`], [`ClientBuilder::from_profile`]): named
//!   `[profiles.NAME]` tables in `$XDG_CONFIG_HOME/polyai/config.toml` (or `POLYAI_CONFIG`) with
//!   region, base URL, agent, account and a key file, shared with the `polyai` CLI.
//! - **Auth**: the key is an [`ApiKey`] (held as a secret) sent as a sensitive `X-API-KEY`
//!   header and redacted in every `Debug`; a `401` names the host and the matching Agent
//!   Studio; redirects to another host are not followed, so the key never leaves the host.
//! - **Retries** ([`retry::RetryPolicy`]): on by default, full-jitter exponential backoff, `429`,
//!   `500`, `502`, `503`, `504`, connect errors and timeouts, `Retry-After` in seconds or
//!   HTTP-date, within a per-client retry budget. Non-idempotent calls (annotations, debug
//!   chat) are only retried when the request surely never reached the server or on `429`.
//!   Every logical call sends a fresh
//!   `X-PolyAI-Correlation-Id: polyai-rs-<uuid>`, the same across its retries.
//! - **Pagination** ([`paginate`], for both listings): a stream of items or of pages, page size,
//!   start position, max items, prefetch, de-duplication and loop guards; every page says where
//!   the next starts ([`paginate::Position`], saved and resumed with `.from(position)`).
//! - **Audio** ([`audio::AudioDownload`]): content length, byte stream, `AsyncRead`, and a
//!   checked, atomic [`save_to`](audio::AudioDownload::save_to) with progress; memory stays flat.
//!   [`audio::AudioRequest::save_to`] also fetches the recording again when its body breaks.
//! - **Debug chat** ([`chat::ChatSession`]): a session against an environment and variant that
//!   knows when the agent ended it; each [`chat::ChatReply`] carries the turn's metadata, and
//!   [`models::DebugChatExt`] tells which functions were called and whether the agent handed off.
//! - **Response metadata** ([`ResponseMeta`]): status, correlation id and headers of a
//!   successful call, from `send_with_meta()`, [`paginate::Page::meta`] and
//!   [`chat::ChatReply::meta`].
//! - **Errors**: one [`Error`] with `status()`, `code()`, `is_not_found()`,
//!   `is_rate_limited()`, `is_retryable()`, `may_have_been_applied()`, `correlation_id()`;
//!   decode errors name the JSON path.
//! - **Hooks** ([`hook::Hook`], [`ClientBuilder::hook`]): your code before and after every attempt
//!   of every call, retries included, to add headers and observe method, path, attempt,
//!   correlation id, status or transport failure and duration; never the key.
//! - **Tracing**: one `polyai.call` span per call with `operation`, `attempt`, `status`,
//!   `duration_ms` and `correlation_id`. Headers are never logged.
//! - **Conversations API v3** ([`v3`]): `client.workspace("ws-…").project("PROJECT-…")
//!   .conversations()` lists by time range with transcript or semantic search, random sampling
//!   and filters, turns inline, as a stream over cursor pages; [`Region`] maps to its hosts.
//! - **Models**: [`models`] re-exports the generated models; you never import the raw crate.
//!   Values PolyAI's document leaves untyped (turns, metrics, function events) are
//!   [`models::Lenient`]: typed when they have the expected shape, kept as JSON otherwise, so an
//!   unexpected shape never fails a call. Numbers keep the form they arrived in. Times stay the
//!   strings sent; the `…_time()` readers ([`models::ConversationExt`], [`models::TurnExt`], …) give
//!   them as a [`Timestamp`] whichever form they came in, `None` when absent or unreadable.
//! - **Requests from the spec**: every request is the one the generated method of its operation
//!   builds from PolyAI's document; this crate executes it (key, correlation id, retries, timeouts,
//!   tracing) and never writes a path, method or parameter name itself.
//!
//! # Features
//!
//! - `rustls` (default): TLS through rustls.
//! - `native-tls`: TLS through the platform library.
//! - `blocking`: `blocking::Client`, the same operations without async (iterators over pages,
//!   audio into any `std::io::Write`), on a runtime the client owns.
//!
//! Proxies: like any `reqwest` client, the one built here honours `HTTP_PROXY`,
//! `HTTPS_PROXY` and `NO_PROXY` — except for a loopback base URL, which is always reached
//! directly so the key never crosses a proxy in clear text.
//!
//! # Where things are
//!
//! The root holds the client and what every call shares: [`Client`], [`ClientBuilder`],
//! [`Agent`], [`ApiKey`], [`Region`], [`ClientEnv`], [`Timestamp`], [`ResponseMeta`], the
//! errors ([`Error`], [`ApiError`], [`DecodeError`], [`TransportKind`], [`Result`]),
//! [`file_name_for_id`] and [`api_version`]. Each operation's builders and types are in the
//! module named for it — [`conversations`], [`audio`], [`annotations`], [`notes`], [`chat`] — and
//! paging in [`paginate`], the models in [`models`], the record contract in [`record`], the
//! Conversations API v3 in [`v3`], the
//! retry policy and its test seam in [`retry`], hooks in [`hook`], configuration names and
//! profiles in [`config`], and the blocking client in `blocking`. Each type has that one path.
//!
//! # Hostile servers and input
//!
//! Every header, status, body and id is untrusted: ids reach the server as exactly one path
//! segment (or are refused), no answer can make the client panic, success bodies are capped
//! ([`ClientBuilder::max_response_bytes`]), downloads need a minimum rate
//! ([`ClientBuilder::min_download_rate`]), and [`file_name_for_id`] turns ids into safe file
//! names. The README's "Security" section lists the guarantees.

#![warn(missing_docs)]

pub mod annotations;
pub mod audio;
mod auth;
#[cfg(feature = "blocking")]
pub mod blocking;
mod body;
mod builder;
pub mod chat;
mod client;
mod client_env;
pub mod config;
pub mod conversations;
mod error;
mod file_name;
pub mod hook;
mod ids;
pub mod listing;
mod meta;
pub mod models;
pub mod notes;
mod options;
pub mod paginate;
mod profile;
pub mod record;
mod region;
pub mod retry;
mod timestamp;
mod transport;
pub mod v3;
mod wav;

pub use auth::ApiKey;
pub use builder::ClientBuilder;
pub use client::{Agent, Client};
pub use client_env::ClientEnv;
pub use error::{ApiError, DecodeError, Error, TransportKind};
pub use file_name::file_name_for_id;
pub use meta::ResponseMeta;
pub use region::Region;
pub use timestamp::Timestamp;

/// Result alias for this crate.
///
/// ```
/// fn region(name: &str) -> polyai_data::Result<polyai_data::Region> {
///     name.parse()
/// }
/// assert!(region("us-1").is_ok());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Version of the Data API document this client was generated from (its `info.version`), e.g.
/// for the records an export keeps about how it was made.
///
/// ```
/// assert!(!polyai_data::api_version().is_empty());
/// ```
pub fn api_version() -> &'static str {
    <polyai_data_raw::Client as polyai_data_raw::ClientInfo<polyai_data_raw::Hooks>>::api_version()
}

/// The configuration of every property test: a fixed seed and a bounded number of cases, so a
/// run is the same on every machine and a failure reproduces by running the test again; no
/// failure file is written into the source tree.
#[cfg(test)]
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config::with_cases(512);
    config.failure_persistence = None;
    config.rng_seed = proptest::test_runner::RngSeed::Fixed(0x5EC0_2026);
    config
}
