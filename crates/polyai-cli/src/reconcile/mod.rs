//! `reconcile`: proves that two listings of an agent's conversations agree, or says how they
//! differ — the Data API against the Conversations API v3 (the move PolyAI asks for), or either
//! API against a copy taken earlier (an export folder, a sync database).
//!
//! - [`compare`]: the engine, pure, over two streams of records in the record contract: per-day
//!   counts, ids on one side only, facts that differ field by field, ids listed twice, and the
//!   conversations reported apart (in progress, or arrived while the sides were read).
//! - [`source`]: where each side's records come from (one stream per side).
//! - [`report`]: the outcome as a table, JSON, JSON Lines or CSV.
//!
//! The command itself is [`crate::commands::reconcile`].

pub mod compare;
pub mod report;
pub mod source;
