//! [`Store`]: the database file, opened for writing, and every statement the sync runs on it.
//!
//! All SQL is parameterised; values never become part of a statement's text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use polyai_data::ClientEnv;
use polyai_data::paginate::Position;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, Transaction, params};

use crate::error::StoreError;
use crate::lock::WriterLock;
use crate::record::{Record, format_micros, json_text, time_text};
use crate::schema;

/// How long a statement waits for a reader's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The columns of `conversations` a record writes, in [`Record`] order.
const CONVERSATION_COLUMNS: [&str; 33] = [
    "conversation_id",
    "account_id",
    "project_id",
    "created_at",
    "started_at",
    "finished_at",
    "channel",
    "direction",
    "environment",
    "from_number",
    "to_number",
    "language",
    "variant_id",
    "total_duration",
    "polyai_duration",
    "duration",
    "in_progress",
    "handoff",
    "handoff_destination",
    "handoff_reason",
    "poly_score",
    "summary_heading",
    "summary",
    "tags",
    "deployment_id",
    "note",
    "audio_url",
    "turn_count",
    "raw",
    "api",
    "variant_name",
    "num_silences",
    "num_ood",
];

/// A local SQLite database of conversations, opened for writing.
///
/// Opening creates the file if needed, brings its schema to [`SCHEMA_VERSION`](crate::SCHEMA_VERSION),
/// switches it to WAL (readers never block the writer and see only committed pages) and takes
/// the writer lock, so a second `Store` on the same file — in this process or another — fails
/// with [`StoreError::Busy`] until this one is dropped. Read it with anything that reads SQLite:
/// `sqlite3`, DuckDB, pandas, a BI tool. The tables are described in the crate documentation.
///
/// ```no_run
/// let store = polyai_store::Store::open("conversations.db")?;
/// println!("{} conversations, schema {}", store.conversation_count(None)?, store.schema_version()?);
/// # Ok::<(), polyai_store::StoreError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
    path: PathBuf,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    _lock: WriterLock,
}

/// A stored conversation as the walk sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Known {
    /// Its detail was stored (not only its listing summary after a failed read).
    pub detail: bool,
    /// Its recording was saved.
    pub audio_saved: bool,
}

/// Where an unfinished walk stopped: the last conversation it stored, the listing offset just
/// after it and the listing's total then. Gaps are a stack: a higher `seq` is newer and lies
/// higher in the (newest-first) listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gap {
    pub seq: i64,
    pub anchor_id: String,
    pub anchor_started: Option<String>,
    pub next_offset: u64,
    pub count_at: u64,
}

/// What a run did so far: the counters of `sync_runs`, reported as a run goes and at its end.
///
/// ```
/// let counts = polyai_store::SyncCounts::default();
/// assert_eq!(counts.new + counts.refreshed, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncCounts {
    /// Listing pages committed.
    pub pages: u64,
    /// Conversations listed (beyond the overlap of consecutive pages).
    pub listed: u64,
    /// Conversations stored for the first time.
    pub new: u64,
    /// Stored conversations read again because they are younger than the refresh window.
    pub refreshed: u64,
    /// Conversations whose detail failed in an earlier run and was read now.
    pub retried: u64,
    /// Conversations (or recordings) that could not be read in this run; tried again next run.
    pub failed: u64,
    /// Recordings saved.
    pub recordings: u64,
    /// Bytes of the recordings saved.
    pub recording_bytes: u64,
}

/// How a conversation's recording download ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AudioOutcome {
    /// Not asked for (no `--with-audio`, or in progress).
    NotTried,
    /// Saved under this file name, with this many bytes.
    Saved(String, u64),
    /// The API has no recording for it.
    None,
}

/// One conversation to write.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// Its detail was read.
    Detail(Box<Record>, AudioOutcome),
    /// Its detail could not be read; keep the listing summary (if not stored yet) and the error.
    Failed(Box<Record>, String),
    /// Only its recording was downloaded (the audio backfill).
    Audio(String, AudioOutcome),
}

impl Store {
    /// Opens (creating if missing) the database at `path` for writing: takes the writer lock,
    /// migrates the schema, enables WAL, foreign keys and a busy timeout.
    ///
    /// ```no_run
    /// match polyai_store::Store::open("conversations.db") {
    ///     Err(polyai_store::StoreError::Busy { .. }) => eprintln!("a sync is already running"),
    ///     other => { other?; }
    /// }
    /// # Ok::<(), polyai_store::StoreError>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let lock = WriterLock::acquire(&path)?;
        let not_a_database = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path: path.clone() },
            _ => StoreError::from(e),
        };
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(not_a_database)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(not_a_database)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "the database could not switch to WAL; readers may wait for the writer");
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        schema::migrate(&mut conn, &now_text())?;
        Ok(Store {
            inner: Arc::new(Mutex::new(Inner { conn, _lock: lock })),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the database (always [`SCHEMA_VERSION`](crate::SCHEMA_VERSION)
    /// once opened).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.with(|conn| {
            Ok(conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?)
        })
    }

    /// Conversations stored, for one agent or for all.
    pub fn conversation_count(&self, agent_id: Option<&str>) -> Result<u64, StoreError> {
        self.with(|conn| {
            let count: i64 = conn.query_row(
                "SELECT COUNT(*) FROM conversations WHERE ?1 IS NULL OR agent_id = ?1",
                [agent_id],
                |r| r.get(0),
            )?;
            Ok(count.max(0) as u64)
        })
    }

    /// Stores a conversation as [`GetConversation::json`](polyai_data::conversations::GetConversation::json)
    /// returns it (or as listed), replacing what was stored for it; for tools that read
    /// conversations their own way. Returns whether it was new.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent, store: polyai_store::Store) -> Result<(), Box<dyn std::error::Error>> {
    /// let detail = agent.conversations().get("CA1").json().await?;
    /// store.save_conversation(agent.id(), &detail)?;
    /// # Ok(()) }
    /// ```
    pub fn save_conversation(
        &self,
        agent_id: &str,
        conversation: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let record = Record::from_json(conversation).ok_or_else(|| {
            StoreError::Sqlite("the conversation has no string `conversationId`".into())
        })?;
        self.with(|conn| {
            let tx = conn.transaction()?;
            let known = known(&tx, agent_id, &[record.id().to_owned()])?;
            let now = now_text();
            write_detail(&tx, agent_id, &record, &now)?;
            tx.commit()?;
            Ok(known.is_empty())
        })
    }

    /// Runs `f` on the connection (blocking).
    pub(crate) fn with<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut inner = self.lock();
        f(&mut inner.conn)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves no half-done transaction behind (it rolls back
        // on drop), so the connection is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The current time as stored.
pub(crate) fn now_text() -> String {
    format_micros(polyai_data::Timestamp::now().unix_micros()).unwrap_or_default()
}

/// Which of `ids` are stored for `agent_id`.
pub(crate) fn known(
    conn: &Connection,
    agent_id: &str,
    ids: &[String],
) -> Result<HashMap<String, Known>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT fetched_at IS NOT NULL, audio_file IS NOT NULL
         FROM conversations WHERE conversation_id = ?1 AND agent_id = ?2",
    )?;
    let mut found = HashMap::new();
    for id in ids {
        if let Some((detail, audio_saved)) = stmt
            .query_row(params![id, agent_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        {
            found.insert(
                id.clone(),
                Known {
                    detail,
                    audio_saved,
                },
            );
        }
    }
    Ok(found)
}

/// Stored conversations of `agent_id` whose detail is missing (a failed read: id and the stored
/// listing summary), or, with `audio`, finished ones whose recording was never tried (id only);
/// at most `limit`, newest first.
pub(crate) fn pending(
    conn: &Connection,
    agent_id: &str,
    audio: bool,
    limit: u64,
) -> Result<Vec<(String, String)>, StoreError> {
    let sql = if audio {
        "SELECT conversation_id, '' FROM conversations
         WHERE agent_id = ?1 AND audio_checked_at IS NULL AND fetched_at IS NOT NULL
           AND in_progress IS NOT 1
         ORDER BY started_at DESC LIMIT ?2"
    } else {
        "SELECT conversation_id, raw FROM conversations
         WHERE agent_id = ?1 AND fetched_at IS NULL ORDER BY started_at DESC LIMIT ?2"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![agent_id, limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Writes one conversation (the record and its child rows), replacing what was stored.
fn write_detail(
    tx: &Transaction<'_>,
    agent_id: &str,
    record: &Record,
    now: &str,
) -> Result<(), StoreError> {
    upsert_conversation(tx, agent_id, record, now, None)?;
    let c = &record.conversation;
    let id = &c.conversation_id;
    for table in ["turns", "function_events", "metrics"] {
        // The table name is one of three constants, never data.
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE conversation_id = ?1"))?
            .execute([id])?;
    }
    let mut turn = tx.prepare_cached(
        "INSERT INTO turns (conversation_id, turn_index, turn_id, user_input, agent_response,
             user_input_at, agent_response_at, latency, barge_in, asr_lang_code, tts_lang_code,
             current_node)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for t in c.turns.iter().flatten() {
        turn.execute(params![
            id,
            t.turn_index,
            t.turn_id,
            t.user_input,
            t.agent_response,
            time_text(t.user_input_at),
            time_text(t.agent_response_at),
            t.latency,
            t.barge_in,
            t.asr_lang_code,
            t.tts_lang_code,
            t.current_node
        ])?;
    }
    let mut event = tx.prepare_cached(
        "INSERT INTO function_events (conversation_id, turn_key, position, turn_index, event_id,
             turn_id, function_id, name, arguments, started_at, duration_ms, error,
             handoff_reason, hangup)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for e in c.function_events.iter().flatten() {
        event.execute(params![
            id,
            e.turn_key,
            e.position,
            e.turn_index,
            e.event_id,
            e.turn_id,
            e.function_id,
            e.name,
            json_text(e.arguments.as_ref()),
            time_text(e.started_at),
            e.duration_ms,
            json_text(e.error.as_ref()),
            e.handoff_reason,
            e.hangup
        ])?;
    }
    let mut metric = tx.prepare_cached(
        "INSERT INTO metrics (conversation_id, name, position, recorded_at, value, number)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for m in c.metrics.iter().flatten() {
        metric.execute(params![
            id,
            m.name,
            m.position,
            time_text(m.recorded_at),
            m.value,
            m.number
        ])?;
    }
    Ok(())
}

/// Inserts or updates the `conversations` row. With `failure`, the row is the listing summary
/// of a conversation whose detail could not be read: it is only inserted when the conversation
/// is not stored yet (a stored detail is never replaced by a summary).
fn upsert_conversation(
    tx: &Transaction<'_>,
    agent_id: &str,
    record: &Record,
    now: &str,
    failure: Option<&str>,
) -> Result<(), StoreError> {
    let c = &record.conversation;
    let columns = CONVERSATION_COLUMNS.join(", ");
    let placeholders: Vec<String> = (1..=CONVERSATION_COLUMNS.len() + 4)
        .map(|i| format!("?{i}"))
        .collect();
    let on_conflict = if failure.is_some() {
        "UPDATE SET detail_error = excluded.detail_error WHERE fetched_at IS NULL".to_owned()
    } else {
        let updates: Vec<String> = CONVERSATION_COLUMNS
            .iter()
            .chain(["agent_id", "detail_error", "fetched_at"].iter())
            .map(|col| format!("{col} = excluded.{col}"))
            .collect();
        format!("UPDATE SET {}", updates.join(", "))
    };
    // Column names and placeholders are constants; every value is a parameter.
    let sql = format!(
        "INSERT INTO conversations ({columns}, agent_id, detail_error, first_synced_at, fetched_at)
         VALUES ({})
         ON CONFLICT (conversation_id) DO {on_conflict}",
        placeholders.join(", ")
    );
    let fetched_at = failure.is_none().then_some(now);
    tx.prepare_cached(&sql)?.execute(params![
        c.conversation_id,
        c.account_id,
        c.project_id,
        time_text(c.created_at),
        time_text(c.started_at),
        time_text(c.finished_at),
        c.channel,
        c.direction,
        c.environment,
        c.from_number,
        c.to_number,
        c.language,
        c.variant_id,
        c.total_duration,
        c.polyai_duration,
        c.duration,
        c.in_progress,
        c.handoff,
        c.handoff_destination,
        c.handoff_reason,
        c.poly_score,
        c.summary_heading,
        c.summary,
        c.tags.as_ref().and_then(|t| serde_json::to_string(t).ok()),
        c.deployment_id,
        c.note,
        c.audio_url,
        c.turn_count,
        record.raw,
        c.api.as_str(),
        c.variant_name,
        c.num_silences,
        c.num_ood,
        agent_id,
        failure,
        now,
        fetched_at
    ])?;
    Ok(())
}

fn write_audio(
    tx: &Transaction<'_>,
    id: &str,
    audio: &AudioOutcome,
    now: &str,
) -> Result<(), StoreError> {
    let (file, bytes) = match audio {
        AudioOutcome::NotTried => return Ok(()),
        AudioOutcome::Saved(file, bytes) => (Some(file.as_str()), Some(*bytes as i64)),
        AudioOutcome::None => (None, None),
    };
    tx.prepare_cached(
        "UPDATE conversations SET audio_file = ?2, audio_bytes = ?3, audio_checked_at = ?4
         WHERE conversation_id = ?1",
    )?
    .execute(params![id, file, bytes, now])?;
    Ok(())
}

/// What one page commits besides its conversations.
#[derive(Debug, Default)]
pub(crate) struct WalkUpdate {
    /// The walk's own place (inserted or replaced).
    pub put: Option<Gap>,
    /// Gaps the walk closed or left.
    pub delete: Vec<i64>,
    /// Every gap of the agent is closed (the walk reached the end of the listing).
    pub delete_all: bool,
    /// The place of a Conversations API v3 walk.
    pub v3: Option<V3Update>,
}

/// The environments a v3 sync walks, one listing each (v3 lists one environment at a time;
/// the Data API lists them all).
pub(crate) const ENVIRONMENTS: [ClientEnv; 3] =
    [ClientEnv::Live, ClientEnv::PreRelease, ClientEnv::Sandbox];

/// Where a v3 walk of one environment stands after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V3Update {
    pub environment: ClientEnv,
    pub account_id: String,
    /// The walk's lower bound (`start_time`; `None`: the whole history).
    pub start_time: Option<String>,
    /// Where its next page starts (the listing's [`Position`]); `None`: the walk ended with
    /// this page.
    pub next: Option<Position>,
}

/// An unfinished v3 walk: its lower bound and where its next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V3Walk {
    pub start_time: Option<String>,
    pub next: Option<Position>,
}

/// A saved position as the `cursor` column of `sync_v3` holds it: the [`Position`]'s text
/// (`cursor:…`, `offset:N`).
fn position_text(position: &Position) -> String {
    position.to_string()
}

/// A `cursor` column read back: a [`Position`]'s text, or — written by a version before
/// positions — the bare cursor.
fn read_position(text: String) -> Position {
    text.parse().unwrap_or(Position::Cursor(text))
}

/// The v3 state of one environment of an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct V3State {
    /// The walk a run left unfinished.
    pub walking: Option<V3Walk>,
    /// Every conversation of the environment up to the newest stored one is stored: a v3 walk
    /// of its whole history finished, or a Data API walk reached the end of the listing, and no
    /// Data API walk left a gap since.
    pub complete: bool,
    /// Start time of the newest stored conversation of the environment.
    pub newest: Option<String>,
}

/// The v3 state of `environment` of `agent_id`.
pub(crate) fn v3_state(
    conn: &Connection,
    agent_id: &str,
    environment: ClientEnv,
) -> Result<V3State, StoreError> {
    let row: Option<(bool, Option<String>, Option<String>, bool)> = conn
        .prepare_cached(
            "SELECT walking, start_time, cursor, complete FROM sync_v3
             WHERE agent_id = ?1 AND environment = ?2",
        )?
        .query_row(params![agent_id, environment.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let (walking, complete_here) = match row {
        Some((true, start_time, cursor, complete)) => (
            Some(V3Walk {
                start_time,
                next: cursor.map(read_position),
            }),
            complete,
        ),
        Some((false, _, _, complete)) => (None, complete),
        None => (None, false),
    };
    let agent_complete: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sync_state WHERE agent_id = ?1 AND complete = 1)",
        )?
        .query_row([agent_id], |r| r.get(0))?;
    let gaps: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sync_gaps WHERE agent_id = ?1)")?
        .query_row([agent_id], |r| r.get(0))?;
    let newest: Option<String> = conn
        .prepare_cached(
            "SELECT started_at FROM conversations
             WHERE agent_id = ?1 AND environment = ?2 AND started_at IS NOT NULL
             ORDER BY started_at DESC LIMIT 1",
        )?
        .query_row(params![agent_id, environment.as_str()], |r| r.get(0))
        .optional()?;
    Ok(V3State {
        walking,
        complete: (complete_here || agent_complete) && !gaps,
        newest,
    })
}

/// Records a committed v3 page; when the walk ended and covered the whole history, marks the
/// environment complete, and the agent once every environment is.
fn write_v3(tx: &Transaction<'_>, agent_id: &str, update: &V3Update) -> Result<(), StoreError> {
    let walking = update.next.is_some();
    let full = !walking && update.start_time.is_none();
    tx.prepare_cached(
        "INSERT INTO sync_v3 (agent_id, environment, account_id, walking, start_time, cursor, complete)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (agent_id, environment) DO UPDATE SET
             account_id = excluded.account_id, walking = excluded.walking,
             start_time = excluded.start_time, cursor = excluded.cursor,
             complete = MAX(complete, excluded.complete)",
    )?
    .execute(params![
        agent_id,
        update.environment.as_str(),
        update.account_id,
        walking,
        walking.then_some(update.start_time.as_deref()).flatten(),
        update.next.as_ref().map(position_text),
        full
    ])?;
    if full {
        let complete: i64 = tx
            .prepare_cached(
                "SELECT COUNT(*) FROM sync_v3 WHERE agent_id = ?1 AND complete = 1 AND walking = 0",
            )?
            .query_row([agent_id], |r| r.get(0))?;
        if complete as usize >= ENVIRONMENTS.len() {
            // Every environment's whole history was walked since the last gap: the agent is
            // complete for the Data API walk too.
            tx.prepare_cached("DELETE FROM sync_gaps WHERE agent_id = ?1")?
                .execute([agent_id])?;
            tx.prepare_cached("UPDATE sync_state SET complete = 1 WHERE agent_id = ?1")?
                .execute([agent_id])?;
        }
    }
    Ok(())
}

/// Commits one page: its conversations, the walk's bookkeeping and the run's counters, in one
/// transaction. `complete`: the walk reached the end of the listing.
pub(crate) fn commit_page(
    conn: &mut Connection,
    agent_id: &str,
    run_id: i64,
    writes: &[Write],
    walk: &WalkUpdate,
    counts: &SyncCounts,
    complete: bool,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let now = now_text();
    for write in writes {
        match write {
            Write::Detail(record, audio) => {
                write_detail(&tx, agent_id, record, &now)?;
                write_audio(&tx, record.id(), audio, &now)?;
            }
            Write::Failed(record, error) => {
                upsert_conversation(&tx, agent_id, record, &now, Some(error))?;
            }
            Write::Audio(id, audio) => write_audio(&tx, id, audio, &now)?,
        }
    }
    if walk.delete_all {
        tx.prepare_cached("DELETE FROM sync_gaps WHERE agent_id = ?1")?
            .execute([agent_id])?;
    }
    if let Some(v3) = &walk.v3 {
        write_v3(&tx, agent_id, v3)?;
    }
    for seq in &walk.delete {
        tx.prepare_cached("DELETE FROM sync_gaps WHERE agent_id = ?1 AND seq = ?2")?
            .execute(params![agent_id, seq])?;
    }
    if let Some(gap) = &walk.put {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO sync_gaps
                 (agent_id, seq, anchor_id, anchor_started, next_offset, count_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            agent_id,
            gap.seq,
            gap.anchor_id,
            gap.anchor_started,
            gap.next_offset as i64,
            gap.count_at as i64
        ])?;
        // A gap may hide conversations older than the newest stored: a v3 walk bounded by
        // start time would miss them, so no environment counts as complete until one is walked
        // whole again (or a Data API walk reaches the end).
        tx.prepare_cached("UPDATE sync_v3 SET complete = 0 WHERE agent_id = ?1")?
            .execute([agent_id])?;
    }
    if complete {
        tx.prepare_cached("UPDATE sync_state SET complete = 1 WHERE agent_id = ?1")?
            .execute([agent_id])?;
        // The Data API walk listed everything: an unfinished v3 walk has nothing left to add.
        tx.prepare_cached("DELETE FROM sync_v3 WHERE agent_id = ?1")?
            .execute([agent_id])?;
    }
    write_counts(&tx, run_id, counts)?;
    tx.commit()?;
    Ok(())
}

/// Whether a walk of `agent_id` ever reached the end of the listing, and no v3 walk is
/// unfinished (it may have left conversations out below its place).
pub(crate) fn is_complete(conn: &Connection, agent_id: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row(
            "SELECT complete AND NOT EXISTS
                 (SELECT 1 FROM sync_v3 WHERE agent_id = ?1 AND walking = 1)
             FROM sync_state WHERE agent_id = ?1",
            [agent_id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false))
}

fn write_counts(conn: &Connection, run_id: i64, c: &SyncCounts) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE sync_runs SET pages = ?2, listed = ?3, new = ?4, refreshed = ?5, retried = ?6,
             failed = ?7, recordings = ?8, recording_bytes = ?9
         WHERE run_id = ?1",
    )?
    .execute(params![
        run_id,
        c.pages as i64,
        c.listed as i64,
        c.new as i64,
        c.refreshed as i64,
        c.retried as i64,
        c.failed as i64,
        c.recordings as i64,
        c.recording_bytes as i64
    ])?;
    Ok(())
}

/// The pending gaps of `agent_id`, topmost (newest) first.
pub(crate) fn gaps(conn: &Connection, agent_id: &str) -> Result<Vec<Gap>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, anchor_id, anchor_started, next_offset, count_at FROM sync_gaps
         WHERE agent_id = ?1 ORDER BY seq DESC",
    )?;
    let rows = stmt.query_map([agent_id], |r| {
        Ok(Gap {
            seq: r.get(0)?,
            anchor_id: r.get(1)?,
            anchor_started: r.get(2)?,
            next_offset: r.get::<_, i64>(3)?.max(0) as u64,
            count_at: r.get::<_, i64>(4)?.max(0) as u64,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Starts a run: checks the agent was not synced from another host (and records the host on
/// the first run), marks runs a killed process left `running` as `interrupted`, and inserts the
/// new run. Returns its id.
pub(crate) fn start_run(
    conn: &mut Connection,
    agent_id: &str,
    host: &str,
    api: &str,
    environments: &str,
) -> Result<i64, StoreError> {
    let tx = conn.transaction()?;
    let stored: Option<(String, String)> = tx
        .query_row(
            "SELECT host, environments FROM sync_state WHERE agent_id = ?1",
            [agent_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match stored {
        Some((stored, _)) if stored != host => {
            return Err(StoreError::OtherHost {
                agent: agent_id.to_owned(),
                stored_host: stored,
                host: host.to_owned(),
            });
        }
        Some((_, stored)) if stored != environments => {
            return Err(StoreError::OtherEnvironments {
                agent: agent_id.to_owned(),
                stored,
                asked: environments.to_owned(),
            });
        }
        Some(_) => {}
        None => {
            tx.execute(
                "INSERT INTO sync_state (agent_id, host, environments) VALUES (?1, ?2, ?3)",
                params![agent_id, host, environments],
            )?;
        }
    }
    tx.execute(
        "UPDATE sync_runs SET status = 'interrupted' WHERE agent_id = ?1 AND status = 'running'",
        [agent_id],
    )?;
    tx.execute(
        "INSERT INTO sync_runs (agent_id, host, started_at, status, api, environments)
         VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
        params![agent_id, host, now_text(), api, environments],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    Ok(id)
}

/// Ends a run with its status (`complete`, `failed`, `interrupted`) and error.
pub(crate) fn finish_run(
    conn: &mut Connection,
    run_id: i64,
    status: &str,
    error: Option<&str>,
    counts: &SyncCounts,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    write_counts(&tx, run_id, counts)?;
    tx.execute(
        "UPDATE sync_runs SET status = ?2, error = ?3, finished_at = ?4 WHERE run_id = ?1",
        params![run_id, status, error, now_text()],
    )?;
    tx.commit()?;
    Ok(())
}
