//! A local, queryable copy of a PolyAI agent's conversations in SQLite, kept current
//! incrementally: the storage layer behind `polyai sync`, for programs of your own.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let client = polyai_data::Client::from_env()?;
//! let store = polyai_store::Store::open("conversations.db")?; // created, migrated, locked
//! let report = polyai_store::Syncer::new(&store, &client, "PROJECT-58RP822I").run().await?;
//! println!(
//!     "{} new, {} refreshed, {} failed; {} stored",
//!     report.counts.new, report.counts.refreshed, report.counts.failed, report.stored
//! );
//! # Ok(()) }
//! ```
//!
//! With the account (Agent Studio workspace id), the same sync reads the Conversations API v3 —
//! pages by start time and cursor with the turns inline, a request per 1000 conversations:
//!
//! ```no_run
//! # async fn f(store: polyai_store::Store, client: polyai_data::Client) -> Result<(), polyai_store::SyncError> {
//! let v3 = polyai_store::Api::V3 { account_id: "ws-fd112d8f".into() };
//! polyai_store::Syncer::new(&store, &client, "PROJECT-58RP822I").api(v3).run().await?;
//! # Ok(()) }
//! ```
//!
//! Then query the file with anything that reads SQLite (`sqlite3`, DuckDB, pandas, a BI tool):
//!
//! ```sh
//! sqlite3 conversations.db "SELECT date(started_at), COUNT(*), AVG(handoff) FROM conversations GROUP BY 1"
//! ```
//!
//! # Tables
//!
//! `conversations` (one row per conversation: the fields of the record contract,
//! [`polyai_data::record::ConversationRecord`], as typed columns of the same names, `raw` the
//! JSON as sent, `api` the API it came from), `turns`, `function_events`, `metrics`,
//! `sync_runs` (one row per run: when, through which API, how many new, refreshed, failed),
//! `schema_version`, and the walks' own `sync_state`, `sync_gaps` and `sync_v3`. The README of the repository describes every column and gives example
//! queries. Times are UTC text, `YYYY-MM-DDTHH:MM:SS.ffffffZ`; booleans are 0/1.
//!
//! # Guarantees
//!
//! - One transaction per listing page: a run killed at any point (even `kill -9`) loses at most
//!   the page in flight, and the next run goes on from the last committed page (through v3: from
//!   the cursor saved with it) — no duplicate, no gap.
//! - One writer at a time: [`Store::open`] takes a lock on `DATABASE.lock` that the operating
//!   system releases when the process ends; a second writer gets [`StoreError::Busy`].
//! - WAL mode and a busy timeout: readers see committed pages while a sync runs.
//! - The schema is created and migrated by [`Store::open`] (`schema_version`); a database from a
//!   newer version is refused rather than damaged.
//! - Every statement is parameterised; rusqlite with SQLite bundled, so no system library is
//!   needed.

#![warn(missing_docs)]

mod error;
mod lock;
mod record;
mod schema;
mod source;
mod store;
mod sync;
mod walk;

pub use error::{StoreError, SyncError};
pub use schema::SCHEMA_VERSION;
pub use store::{Store, SyncCounts};
pub use sync::{
    Api, DEFAULT_CONCURRENCY, DEFAULT_OVERLAP, DEFAULT_PAGE_SIZE, DEFAULT_REFRESH, SyncReport,
    SyncStatus, Syncer,
};
