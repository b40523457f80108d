//! `polyai-mock`: a local server that answers exactly like PolyAI's Data API.
//!
//! It serves the seven operations of the API (conversations, audio, notes, annotations and debug chat)
//! with the wire's shapes, nulls and error envelope, from data derived deterministically from a seed,
//! and can inject faults (latency, 5xx, 429, broken and slow bodies) on demand.
//!
//! - **Data** ([`data`]): agents and conversations (voice and chat channels, inbound and outbound,
//!   handoffs, in-progress calls, every `clientEnv`) are pure functions of the seed and their index,
//!   so a million conversations cost no memory and the same seed gives the same bytes. Conversation
//!   ids (`CA` + 32 hex) encode the index through a keyed permutation; unknown ids answer 404.
//! - **Audio** ([`audio`]): 16-bit mono PCM WAV at 8 or 16 kHz, as long as the call, streamed while
//!   it is generated; `direction` picks the side, `redacted=true` replaces the personal-data spans with a 1 kHz tone.
//! - **Auth** ([`auth`]): `X-API-KEY`; keys carry a region and optionally a set of agents.
//!   [`SANDBOX_KEY`] is accepted by default.
//! - **State** ([`state`]): notes and annotations, kept in memory or in a JSON file.
//! - **Debug chat** ([`chat`]): `AS_CHAT_<uuid>` sessions with a scripted agent ([`script`]) that
//!   answers deterministically: the same caller turn at the same point of a conversation gets the
//!   same reply, functions, handoff and end. Every agent turn of a seeded conversation is what it
//!   answers to that conversation's caller turns, so a recorded conversation replayed in a debug
//!   chat (`polyai chat replay`) is clean. `variantId`: none, or one of the agent's own variants,
//!   answers as the conversations were recorded; `Next Release` ([`script::CANDIDATE_VARIANT`]),
//!   which every agent has and no conversation ran on, differs in three documented ways (a
//!   billing question without its `lookup_account` call, a caller asking for a person sent to
//!   `Escalations` instead of `Front Desk`, opening hours and order status worded otherwise); any
//!   other variant answers `400 CHAT_DRAFT_NOT_EXIST`.
//! - **Conversations API v3** ([`v3`]): `GET /v3/{account_id}/{project_id}/conversations` over the
//!   same conversations (the account is [`MockServer::account_id`]): time ranges, transcript and
//!   word-overlap search, seeded sampling, filters, cursor and offset paging.
//!   [`MockServer::add_conversations`] makes calls arrive mid-walk.
//! - **Faults** ([`faults`]): a [`Faults`] handle per server, also settable from the command line.
//! - **Disagreement** ([`disagree`]): the two listings can be made to differ — conversations
//!   dropped from one or listed twice, shared facts changed in v3 — for testing tools that
//!   compare them (`polyai reconcile`); off by default, so the listings agree.
//!
//! The `polyai-mock` binary runs the same server from the command line (`polyai-mock --help`).
//!
//! ```
//! use polyai_mock::{MockConfig, MockServer, SANDBOX_AGENT, SANDBOX_KEY};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = MockServer::start(MockConfig::default()).await?;
//! let url = server.base_url(); // e.g. "http://127.0.0.1:40123"
//! assert!(url.starts_with("http://127.0.0.1:"));
//! assert_eq!(server.key(), Some(SANDBOX_KEY));
//! let agent = &server.agent_ids()[0];
//! assert_eq!(agent, SANDBOX_AGENT);
//! println!("GET {url}/v1/agents/{agent}/conversations with X-API-KEY: {SANDBOX_KEY}");
//! server.faults().fail_next(1, 503); // the next request answers 503
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod audio;
pub mod auth;
pub mod chat;
pub mod config;
pub mod data;
pub mod disagree;
pub mod errors;
pub mod faults;
pub mod prng;
mod routes;
pub mod script;
mod server;
pub mod state;
pub mod time;
pub mod v3;

pub use config::{
    ApiKey, DEFAULT_REGION, DEFAULT_SEED, MockConfig, SANDBOX_AGENT, SANDBOX_KEY, SampleRate,
};
pub use disagree::{DisagreeField, Disagreed, Disagreement};
pub use errors::ApiError;
pub use faults::{FaultConfig, Faults};
pub use routes::CORRELATION_HEADER;
pub use server::{MockServer, StartError};
pub use state::{Annotation, StateData};
