//! PolyAI conversations as an analytics dataset: the record contract
//! ([`polyai_data::record::ConversationRecord`]) as four Parquet (or CSV) tables in Hive
//! partitions, which DuckDB, Spark, BigQuery, Trino, Polars and pyarrow read as tables, on a
//! local folder or in object storage (`s3://`, `gs://`, `az://`), kept current incrementally.
//!
//! ```text
//! DATASET/
//!   _polyai_dataset.json                       the manifest: committed files, versions, counts
//!   conversations/date=2026-06-03/part-….parquet
//!   turns/date=2026-06-03/part-….parquet
//!   function_events/date=2026-06-03/part-….parquet
//!   metrics/date=2026-06-03/part-….parquet
//!   _polyai/                                   ids of each file's conversations, lock, temporaries
//! ```
//!
//! - **One schema**: each table's columns are the contract's fields under the same names
//!   ([`Table::columns`]), described once in Rust, from which the Arrow/Parquet schema
//!   ([`Table::arrow_schema`]), the JSON Schema ([`json_schema`]) and the documentation
//!   ([`markdown`]) are generated. Child tables carry `conversation_id`; rows go to the
//!   partition of their conversation's UTC start date ([`partition_of`]), or
//!   [`NULL_PARTITION`] without one.
//! - **Portable types**: timestamps are `INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)`,
//!   text is UTF-8, lists are standard three-level LISTs of text, JSON values are text.
//! - **Versioned**: every file's key-value metadata and the manifest hold
//!   [`DATASET_SCHEMA_VERSION`] and the record contract's version; a writer refuses a dataset
//!   of a newer version ([`Error::NewerSchema`]).
//! - **Incremental and exact**: [`DatasetWriter`] adds new conversations as new files and
//!   replaces changed ones copy-on-write, so each conversation is once per table; commits are
//!   atomic (files first, under temporary names; then the manifest; then deletion of what was
//!   replaced) and a killed run leaves only files the next run deletes.
//! - **Bounded memory**: rows are encoded as they come; row groups are flushed at a row count
//!   ([`WriteOptions::row_group_size`]) or earlier when the open files hold more than
//!   [`WriteOptions::memory_budget`].
//!
//! ```
//! use polyai_data::record::ConversationRecord;
//! use polyai_dataset::{DatasetInfo, DatasetWriter, Destination, Table, WriteOptions};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let folder = dir.path().join("calls");
//! let record = ConversationRecord::from_v3(&json!({
//!     "id": "CA1", "started_at": "2026-06-03T14:00:38.58Z",
//!     "turns": [{"user_input": "", "agent_response": "Hello"}, {"user_input": "hi"}],
//! })).ok_or("no id")?;
//!
//! let destination = Destination::local(&folder); // or "s3://bucket/prefix".parse()?
//! let mut writer = DatasetWriter::open(&destination, WriteOptions::default()).await?;
//! writer.upsert(&record)?;
//! writer.finish().await?;
//!
//! assert!(folder.join("turns/date=2026-06-03").is_dir());
//! let info = DatasetInfo::read(&destination).await?;
//! assert_eq!(info.tables[Table::Turns as usize].rows, 2);
//! # Ok(()) }
//! ```
//!
//! Features: `aws` (`s3://`), `gcp` (`gs://`), `azure` (`az://`), `cloud` (all three);
//! without them only local folders are written, and nothing of the clouds' clients is
//! compiled. `polyai-data` does not depend on this crate: its users compile no Arrow.

#![warn(missing_docs)]

mod canonical;
#[cfg(feature = "aws")]
mod cloud;
mod encoder;
mod error;
mod flatten;
mod format;
mod index;
mod info;
mod manifest;
mod schema;
mod store;
mod writer;

pub use error::{Error, Result};
pub use flatten::{partition_of, record_batches};
pub use format::{Compression, FileFormat, metadata, rows_in};
pub use info::{DatasetInfo, TableInfo};
pub use manifest::{DataFile, Fragment, MANIFEST_FILE, Manifest, fingerprint};
pub use schema::{
    Column, ColumnType, DATASET_SCHEMA_VERSION, NULL_PARTITION, PARTITION_COLUMN, Table,
    json_schema, markdown,
};
pub use store::Destination;
pub use writer::{
    CommitReport, CompactReport, DEFAULT_ROW_GROUP_SIZE, DatasetWriter, Upsert, WriteOptions,
};

/// `polyai-dataset VERSION`: written in every file's metadata and in the manifest.
pub const WRITER: &str = concat!("polyai-dataset ", env!("CARGO_PKG_VERSION"));
