//! The database layout and its migrations.
//!
//! Each version is one migration, applied in order in its own transaction and recorded in
//! `schema_version` (one row per applied version). A migration, once released, is never edited:
//! a change is a new migration. A database with no `schema_version` table and no other table
//! is new; one with other tables and no `schema_version` is not ours and is refused, as is one
//! written by a newer version of this crate.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::StoreError;

/// The schema version this crate writes (the highest migration).
///
/// ```
/// assert!(polyai_store::SCHEMA_VERSION >= 3);
/// ```
pub const SCHEMA_VERSION: u32 = 5;

/// Migration `i` brings a database from version `i` to version `i + 1`.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1, V2, V3, V4, V5];

/// Version 1: conversations with their turns, function events and metrics; sync runs.
const V1: &str = "
CREATE TABLE conversations (
    conversation_id     TEXT PRIMARY KEY NOT NULL,
    agent_id            TEXT NOT NULL,
    account_id          TEXT,
    project_id          TEXT,
    created_at          TEXT,
    started_at          TEXT,
    finished_at         TEXT,
    channel             TEXT,
    direction           TEXT,
    client_env          TEXT,
    from_number         TEXT,
    to_number           TEXT,
    language            TEXT,
    variant_id          TEXT,
    total_duration      INTEGER,
    polyai_duration     INTEGER,
    duration            INTEGER,
    in_progress         INTEGER,
    handoff             INTEGER,
    handoff_destination TEXT,
    handoff_reason      TEXT,
    poly_score          REAL,
    summary_heading     TEXT,
    summary             TEXT,
    tags                TEXT,
    deployment_id       TEXT,
    note                TEXT,
    audio_url           TEXT,
    turn_count          INTEGER,
    raw                 TEXT NOT NULL,
    detail_error        TEXT,
    first_synced_at     TEXT NOT NULL,
    fetched_at          TEXT
);
CREATE INDEX conversations_by_time ON conversations (agent_id, started_at);
CREATE INDEX conversations_by_handoff ON conversations (agent_id, handoff, started_at);
CREATE INDEX conversations_by_variant ON conversations (agent_id, variant_id, started_at);

CREATE TABLE turns (
    conversation_id   TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    turn_index        INTEGER NOT NULL,
    turn_id           INTEGER,
    user_input        TEXT,
    agent_response    TEXT,
    user_input_at     TEXT,
    agent_response_at TEXT,
    latency           REAL,
    barge_in          INTEGER,
    asr_lang_code     TEXT,
    tts_lang_code     TEXT,
    current_node      TEXT,
    PRIMARY KEY (conversation_id, turn_index)
) WITHOUT ROWID;
CREATE INDEX turns_by_latency ON turns (latency);

CREATE TABLE function_events (
    conversation_id TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    turn_key        TEXT NOT NULL,
    position        INTEGER NOT NULL,
    turn_index      INTEGER,
    event_id        TEXT,
    turn_id         INTEGER,
    function_id     TEXT,
    name            TEXT,
    arguments       TEXT,
    started_at      TEXT,
    duration_ms     REAL,
    error           TEXT,
    handoff_reason  TEXT,
    hangup          INTEGER,
    PRIMARY KEY (conversation_id, turn_key, position)
) WITHOUT ROWID;
CREATE INDEX function_events_by_name ON function_events (name);

CREATE TABLE metrics (
    conversation_id TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    position        INTEGER NOT NULL,
    recorded_at     TEXT,
    value           TEXT,
    number          REAL,
    PRIMARY KEY (conversation_id, name, position)
) WITHOUT ROWID;
CREATE INDEX metrics_by_name ON metrics (name, number);

CREATE TABLE sync_runs (
    run_id      INTEGER PRIMARY KEY,
    agent_id    TEXT NOT NULL,
    host        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    pages       INTEGER NOT NULL DEFAULT 0,
    listed      INTEGER NOT NULL DEFAULT 0,
    new         INTEGER NOT NULL DEFAULT 0,
    refreshed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    error       TEXT
);
CREATE INDEX sync_runs_by_agent ON sync_runs (agent_id, started_at);

CREATE TABLE sync_state (
    agent_id TEXT PRIMARY KEY NOT NULL,
    host     TEXT NOT NULL
);
";

/// Version 2: recordings (`--with-audio`), retried details, and the bookkeeping that lets an
/// interrupted walk resume where it stopped (`sync_gaps`) and lets a walk stop early only once
/// the agent's whole listing was walked (`sync_state.complete`; a database from version 1
/// starts incomplete, so its next run walks the listing once).
const V2: &str = "
ALTER TABLE conversations ADD COLUMN audio_file TEXT;
ALTER TABLE conversations ADD COLUMN audio_bytes INTEGER;
ALTER TABLE conversations ADD COLUMN audio_checked_at TEXT;
CREATE INDEX conversations_pending_detail ON conversations (agent_id) WHERE fetched_at IS NULL;
CREATE INDEX conversations_pending_audio ON conversations (agent_id) WHERE audio_checked_at IS NULL;

ALTER TABLE sync_runs ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN recordings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN recording_bytes INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sync_state ADD COLUMN complete INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sync_gaps (
    agent_id         TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    anchor_id        TEXT NOT NULL,
    anchor_started   TEXT,
    next_offset      INTEGER NOT NULL,
    count_at         INTEGER NOT NULL,
    PRIMARY KEY (agent_id, seq)
);
";

/// Version 3: syncs through the Conversations API v3. Which API each conversation row came from
/// (`source`; rows written before are the Data API's), the fields only v3 sends, the API of each
/// run, and one row per environment of an agent in `sync_v3`: the v3 walk in progress (its
/// lower bound and the cursor of its next page, saved with each page) and whether a walk of the
/// environment's whole history has finished.
const V3: &str = "
ALTER TABLE conversations ADD COLUMN source TEXT NOT NULL DEFAULT 'v1';
ALTER TABLE conversations ADD COLUMN variant_name TEXT;
ALTER TABLE conversations ADD COLUMN num_silences INTEGER;
ALTER TABLE conversations ADD COLUMN num_ood INTEGER;
CREATE INDEX conversations_by_environment ON conversations (agent_id, client_env, started_at);

ALTER TABLE sync_runs ADD COLUMN api TEXT NOT NULL DEFAULT 'v1';

CREATE TABLE sync_v3 (
    agent_id    TEXT NOT NULL,
    environment TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    walking     INTEGER NOT NULL DEFAULT 0,
    start_time  TEXT,
    cursor      TEXT,
    complete    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, environment)
);
";

/// Version 4: the columns take the names of the record contract
/// (`polyai_data::record::ConversationRecord`), which every output of `polyai` shares:
/// `client_env` is `environment`, `source` is `api`, and the Data API is `data` (was `v1`) in
/// `conversations.api` and `sync_runs.api`.
const V4: &str = "
ALTER TABLE conversations RENAME COLUMN client_env TO environment;
ALTER TABLE conversations RENAME COLUMN source TO api;
UPDATE conversations SET api = 'data' WHERE api = 'v1';
UPDATE sync_runs SET api = 'data' WHERE api = 'v1';
";

/// Version 5: the environments a database holds (`--env`): `sync_state.environments` (`all`,
/// what every earlier database holds, or one environment) and `sync_runs.environments`.
const V5: &str = "
ALTER TABLE sync_state ADD COLUMN environments TEXT NOT NULL DEFAULT 'all';
ALTER TABLE sync_runs ADD COLUMN environments TEXT;
";

/// Brings the database to [`SCHEMA_VERSION`]; returns the version it had (0 when new).
pub(crate) fn migrate(conn: &mut Connection, now: &str) -> Result<u32, StoreError> {
    migrate_to(conn, SCHEMA_VERSION, now)
}

/// Brings the database to `target` (at most [`SCHEMA_VERSION`]); returns the version it had.
pub(crate) fn migrate_to(conn: &mut Connection, target: u32, now: &str) -> Result<u32, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has_version_table = tx
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let found = if has_version_table {
        tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |row| row.get::<_, u32>(0),
        )?
    } else {
        let tables: u32 = tx.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            [],
            |row| row.get(0),
        )?;
        if tables > 0 {
            return Err(StoreError::NotOurs);
        }
        tx.execute_batch(
            "CREATE TABLE schema_version (
                 version    INTEGER PRIMARY KEY NOT NULL,
                 applied_at TEXT NOT NULL
             );",
        )?;
        0
    };
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for version in found + 1..=target.min(SCHEMA_VERSION) {
        tx.execute_batch(MIGRATIONS[version as usize - 1])?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            (version, now),
        )?;
    }
    tx.commit()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(conn: &Connection) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap_or_else(|e| panic!("{e}"));
        stmt.query_map([], |row| row.get(0))
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn new_database_gets_every_version_and_reopening_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(migrate(&mut conn, "t").ok(), Some(0));
        assert_eq!(migrate(&mut conn, "t").ok(), Some(SCHEMA_VERSION));
        let names = tables(&conn);
        for table in [
            "conversations",
            "turns",
            "function_events",
            "metrics",
            "sync_runs",
            "sync_gaps",
            "sync_v3",
            "schema_version",
        ] {
            assert!(
                names.iter().any(|n| n == table),
                "{table} missing: {names:?}"
            );
        }
    }

    #[test]
    fn version_one_upgrades_step_by_step() {
        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(migrate_to(&mut conn, 1, "t").ok(), Some(0));
        assert!(!tables(&conn).iter().any(|n| n == "sync_gaps"));
        assert_eq!(migrate(&mut conn, "t").ok(), Some(1));
        let versions: u32 = conn
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap_or(0);
        assert_eq!(versions, SCHEMA_VERSION);
    }

    #[test]
    fn foreign_and_newer_databases_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch("CREATE TABLE invoices (id INTEGER)")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(migrate(&mut conn, "t"), Err(StoreError::NotOurs)));

        let mut conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        migrate(&mut conn, "t").unwrap_or_else(|e| panic!("{e}"));
        conn.execute("INSERT INTO schema_version VALUES (99, 't')", [])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            migrate(&mut conn, "t"),
            Err(StoreError::NewerSchema { found: 99, .. })
        ));
    }
}
