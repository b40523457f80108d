//! Where each side's records come from: a [`Side`] yields the records in the record contract
//! ([`ConversationRecord`]) of a time window, one function per kind of side, each a stream.
//!
//! - [`Side::DataApi`]: the Data API listing, newest first by offset, read from the first page
//!   that reaches the window (found by a binary search on offsets) until a whole page is older
//!   than it; records outside the window are dropped here, environments are left to the
//!   comparison. With details, each conversation's detail replaces its summary (turn count
//!   included), a few at once.
//! - [`Side::V3`]: the Conversations API v3 listing, by time range and cursor, one walk per
//!   environment, all at once and merged newest first ([`newest_first`]).
//! - [`Side::Export`]: the `conversations.jsonl` of an export folder (raw Data API, raw v3 or
//!   contract records, told apart by shape).
//! - [`Side::Database`]: the `conversations` table of a sync database, read-only.
//!
//! Every side is newest first (an export as its listing wrote it, a database by its query), so
//! the command merges the two sides by start time and the comparison sees them in step.
//!
//! The API sides are where the shared listing (one `Listing` for both APIs) plugs in: each is
//! one function returning a stream of records.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};
use polyai_data::record::{Api, ConversationRecord};
use polyai_data::v3::Project;
use polyai_data::{Agent, ClientEnv, Timestamp};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;

use super::compare::Note;
use crate::exit::CliError;
use crate::export::journal::JOURNAL_FILE;
use crate::export::manifest::MANIFEST_FILE;

/// Records read ahead of the comparison, per walk.
const AHEAD: usize = 256;
/// Conversations per v3 page: a page of conversations with their turns, parsed, is about 6 MiB
/// at 500. Several environments are walked at once, each holding its page; one environment is
/// walked with the next page fetched ahead.
const V3_PAGE: u64 = 500;
/// Conversations per Data API page, and pages fetched at once: summaries are small, but the
/// Data API is read from the newest conversation on, so the walk is kept quick.
const DATA_PAGE: u64 = 500;
const DATA_PAGES_AT_ONCE: usize = 2;
/// Positions before the one the offset search found that a Data API walk starts at, for
/// conversations that disappear from the listing while it is searched.
const SEARCH_SLACK: u64 = 100;
/// The offset search stops once the window's first page is within this many positions.
const SEARCH_STOP: u64 = 1000;

/// What a side yields.
#[derive(Debug)]
pub enum Item {
    /// A record.
    Record(Box<ConversationRecord>),
    /// A Data API record whose detail could not be read: its listing summary.
    DetailFailed(Box<ConversationRecord>),
    /// Something noticed that is not a record.
    Note(Note),
}

/// A side's records, as they are read.
pub type Items = BoxStream<'static, Result<Item, CliError>>;

/// The listing window each side reads: the comparison's window widened by its margin.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// Conversations that started at or after this…
    pub since: Timestamp,
    /// …and before this.
    pub until: Timestamp,
    /// The agent (a sync database may hold several).
    pub agent_id: String,
}

/// Where one side's records come from.
#[derive(Debug)]
pub enum Side {
    /// The Data API listing.
    DataApi {
        /// The agent.
        agent: Agent,
        /// Read each conversation's detail (turns included).
        with_details: bool,
        /// Details read at once.
        concurrency: usize,
    },
    /// The Conversations API v3 listing.
    V3 {
        /// The project.
        project: Project,
        /// One walk per environment.
        environments: Vec<ClientEnv>,
    },
    /// An export's records.
    Export {
        /// Its `conversations.jsonl` (or any JSONL file of records).
        file: PathBuf,
        /// When its last run began, from its manifest.
        as_of: Option<Timestamp>,
        /// What its manifest says it holds, when it says.
        manifest: Option<ManifestFacts>,
    },
    /// A sync database's `conversations` table.
    Database {
        /// The file.
        path: PathBuf,
        /// When its last sync of the agent began.
        as_of: Option<Timestamp>,
    },
}

/// The parts of an export's manifest that say what it holds.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFacts {
    /// When the run that wrote it began.
    pub run_started_at: Option<String>,
    /// `complete` or `partial`.
    pub status: Option<String>,
    /// The v3 listing exported, when the export read v3.
    pub source: Option<ManifestSource>,
}

/// A v3 export's listing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestSource {
    /// Its `--since`.
    pub start_time: Option<String>,
    /// Its `--until`.
    pub end_time: Option<String>,
    /// Its environment.
    pub client_env: Option<String>,
}

impl Side {
    /// The side `--against PATH` names: an export folder (or a JSONL file of records), or a
    /// sync database. A Parquet dataset is refused with the reason.
    pub fn against(path: &Path, agent_id: &str) -> Result<Side, CliError> {
        let meta = std::fs::metadata(path).map_err(|e| CliError::file("reading", path, e))?;
        if meta.is_dir() {
            let file = path.join(JOURNAL_FILE);
            if file.is_file() {
                let manifest = read_manifest(&path.join(MANIFEST_FILE))?;
                let as_of = manifest
                    .as_ref()
                    .and_then(|m| m.run_started_at.as_deref())
                    .and_then(|t| t.parse().ok());
                return Ok(Side::Export {
                    file,
                    as_of,
                    manifest,
                });
            }
            if holds_parquet(path, 3) {
                return Err(CliError::Usage(format!(
                    "--against {}: this looks like a Parquet dataset, which reconcile does not \
                     read yet (it compares export folders and sync databases); compare against \
                     the export or sync database the dataset was made from",
                    path.display()
                )));
            }
            return Err(CliError::Usage(format!(
                "--against {}: not an export folder (no {JOURNAL_FILE}) nor a sync database; \
                 name the --out folder of `polyai export` or the --db file of `polyai sync`",
                path.display()
            )));
        }
        let mut head = [0u8; 16];
        let read = std::fs::File::open(path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|e| CliError::file("reading", path, e))?;
        if read == 16 && &head == b"SQLite format 3\0" {
            let as_of = database_as_of(path, agent_id)?;
            return Ok(Side::Database {
                path: path.to_owned(),
                as_of,
            });
        }
        if head[..read].trim_ascii_start().first() == Some(&b'{') || read == 0 {
            return Ok(Side::Export {
                file: path.to_owned(),
                as_of: None,
                manifest: None,
            });
        }
        Err(CliError::Usage(format!(
            "--against {}: neither a sync database (SQLite) nor a JSONL file of conversation \
             records; name the --out folder of `polyai export` or the --db file of `polyai sync`",
            path.display()
        )))
    }

    /// A short name for tables and output: `data`, `v3`, `export`, `database`.
    pub fn label(&self) -> &'static str {
        match self {
            Side::DataApi { .. } => "data",
            Side::V3 { .. } => "v3",
            Side::Export { .. } => "export",
            Side::Database { .. } => "database",
        }
    }

    /// What the side is, in a sentence's words.
    pub fn describe(&self) -> String {
        match self {
            Side::DataApi {
                with_details: true,
                concurrency,
                ..
            } => format!(
                "the Data API listing, each conversation's detail read ({concurrency} at once)"
            ),
            Side::DataApi { .. } => "the Data API listing".to_owned(),
            Side::V3 { environments, .. } => {
                let names: Vec<&str> = environments.iter().map(|e| e.as_str()).collect();
                format!("the Conversations API v3 listing ({})", names.join(", "))
            }
            Side::Export { file, .. } => format!("the export {}", file.display()),
            Side::Database { path, .. } => format!("the sync database {}", path.display()),
        }
    }

    /// When the side's copy was taken, for the sides that hold one: conversations that started
    /// later may have arrived after it.
    pub fn as_of(&self) -> Option<Timestamp> {
        match self {
            Side::Export { as_of, .. } | Side::Database { as_of, .. } => *as_of,
            Side::DataApi { .. } | Side::V3 { .. } => None,
        }
    }

    /// Whether the side reads the Data API listing without details (so carries no turns).
    pub fn lacks_turns(&self) -> bool {
        matches!(
            self,
            Side::DataApi {
                with_details: false,
                ..
            }
        )
    }

    /// Warnings about what the side holds against what is compared (an export made for
    /// another window or environment, one not finished).
    pub fn warnings(&self, window: (Timestamp, Timestamp), environment: &str) -> Vec<String> {
        let Side::Export { file, manifest, .. } = self else {
            return Vec::new();
        };
        let folder = file.parent().unwrap_or(file);
        let Some(manifest) = manifest else {
            if file.file_name().is_some_and(|n| n == JOURNAL_FILE) {
                return vec![format!(
                    "{} has no {MANIFEST_FILE}: the export did not finish (or is running); what \
                     it lacks shows as only in the other side",
                    folder.display()
                )];
            }
            return Vec::new();
        };
        let mut warnings = Vec::new();
        if manifest.status.as_deref() == Some("partial") {
            warnings.push(format!(
                "{} is a partial export (some conversations failed; see its failures.jsonl)",
                folder.display()
            ));
        }
        if let Some(source) = &manifest.source {
            let time = |t: &Option<String>| t.as_deref().and_then(|t| t.parse::<Timestamp>().ok());
            if time(&source.start_time).is_some_and(|s| s > window.0)
                || time(&source.end_time).is_some_and(|e| e < window.1)
            {
                warnings.push(format!(
                    "{} holds conversations from {} to {}: what the window holds outside that \
                     shows as only in the other side",
                    folder.display(),
                    source.start_time.as_deref().unwrap_or("the start"),
                    source.end_time.as_deref().unwrap_or("its run"),
                ));
            }
            if let Some(env) = &source.client_env
                && environment != "all"
                && env != environment
            {
                warnings.push(format!(
                    "{} exported the {env} environment, and the comparison is of {environment}",
                    folder.display()
                ));
            }
        }
        warnings
    }

    /// The side's records of `bounds`.
    pub fn records(self, bounds: Bounds) -> Items {
        match self {
            Side::DataApi {
                agent,
                with_details,
                concurrency,
            } => data_api(agent, bounds, with_details, concurrency),
            Side::V3 {
                project,
                environments,
            } => v3(project, environments, bounds),
            Side::Export { file, .. } => blocking(move |tx| read_export(&file, &bounds, tx)),
            Side::Database { path, .. } => blocking(move |tx| read_database(&path, &bounds, tx)),
        }
    }
}

/// Where a walk or a reader sends a side's items.
type Sender = mpsc::Sender<Result<Item, CliError>>;

/// The stream of what `tx` receives.
fn receiver(rx: mpsc::Receiver<Result<Item, CliError>>) -> Items {
    stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// Runs `walk` on the runtime, its items (or its error, last) in a stream.
fn spawned<F>(walk: impl FnOnce(Sender) -> F) -> Items
where
    F: Future<Output = Result<(), CliError>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(AHEAD);
    let done = tx.clone();
    let task = walk(tx);
    tokio::spawn(async move {
        if let Err(err) = task.await {
            let _ = done.send(Err(err)).await;
        }
    });
    receiver(rx)
}

/// Runs a reader of local files on a blocking thread, its items in a stream.
fn blocking(read: impl FnOnce(&Sender) -> Result<(), CliError> + Send + 'static) -> Items {
    let (tx, rx) = mpsc::channel(AHEAD);
    tokio::task::spawn_blocking(move || {
        if let Err(err) = read(&tx) {
            let _ = tx.blocking_send(Err(err));
        }
    });
    receiver(rx)
}

/// Sends an item from an async walk; `false` when nobody listens any more.
async fn send(tx: &Sender, item: Item) -> bool {
    tx.send(Ok(item)).await.is_ok()
}

/// The Data API side: see the [module notes](self).
fn data_api(agent: Agent, bounds: Bounds, with_details: bool, concurrency: usize) -> Items {
    let walker = agent.clone();
    let items = spawned(move |tx| async move { walk_data_api(&walker, &bounds, &tx).await });
    if !with_details {
        return items;
    }
    items
        .map(move |item| {
            let agent = agent.clone();
            async move {
                match item {
                    Ok(Item::Record(summary)) => detail(&agent, summary).await,
                    other => other,
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .boxed()
}

/// The Data API listing of `bounds`, newest first: from the first page that reaches the
/// window until a whole page is older than it.
///
/// It rests on the listing being in start order, newest first (what the Data API does; it
/// documents no order). A conversation of the window listed after an older one is counted
/// ([`Note::OutOfOrder`]), as the walk may have stopped before others like it. An item seen
/// again on the page after the listing grew is the shift of offset paging, not a duplicate
/// ([`Note::PagingRepeat`]).
async fn walk_data_api(agent: &Agent, bounds: &Bounds, tx: &Sender) -> Result<(), CliError> {
    let start = first_offset(agent, bounds.until).await?;
    let mut pages = agent
        .conversations()
        .list()
        .offset(start)
        .limit(DATA_PAGE)
        .concurrency(DATA_PAGES_AT_ONCE)
        .json_pages();
    let mut walk = DataWalk::default();
    while let Some(page) = pages.try_next().await? {
        let count = page.count().unwrap_or_default();
        let (items, past) = walk.page(count, page.into_items(), bounds);
        for item in items {
            if !send(tx, item).await {
                return Ok(());
            }
        }
        if past {
            break;
        }
    }
    Ok(())
}

/// What a Data API walk remembers from page to page.
#[derive(Debug, Default)]
struct DataWalk {
    /// The previous page's `count` and ids.
    previous: Option<(u64, HashSet<String>)>,
    /// A conversation older than the window was listed.
    past_window: bool,
}

impl DataWalk {
    /// The items of one page whose listing reported `count` conversations in all, and whether
    /// the walk is past the window (every conversation of the page is older than it).
    fn page(&mut self, count: u64, raws: Vec<Value>, bounds: &Bounds) -> (Vec<Item>, bool) {
        let grew = self
            .previous
            .as_ref()
            .is_some_and(|(before, _)| count > *before);
        let mut ids = HashSet::new();
        let mut items = Vec::new();
        let mut all_older = !raws.is_empty();
        for raw in raws {
            let Some(record) = ConversationRecord::from_data_api(&raw) else {
                all_older = false;
                items.push(Item::Note(Note::Unreadable));
                continue;
            };
            let repeat = grew
                && self
                    .previous
                    .as_ref()
                    .is_some_and(|(_, ids)| ids.contains(&record.conversation_id));
            ids.insert(record.conversation_id.clone());
            match record.started_at {
                _ if repeat => items.push(Item::Note(Note::PagingRepeat)),
                Some(t) if t < bounds.since => self.past_window = true,
                Some(t) if t >= bounds.until => all_older = false,
                _ => {
                    all_older = false;
                    if self.past_window {
                        items.push(Item::Note(Note::OutOfOrder));
                    }
                    items.push(Item::Record(Box::new(record)));
                }
            }
        }
        self.previous = Some((count, ids));
        (items, all_older)
    }
}

/// The offset of a Data API listing position at or before the first conversation that started
/// before `until`: a binary search with one-item pages, so a window in the past is not reached
/// by walking everything newer. Positions before it started at or after `until` (the listing
/// being newest first); conversations that arrive meanwhile only push the window further.
async fn first_offset(agent: &Agent, until: Timestamp) -> Result<u64, CliError> {
    let started_at = |offset: u64| async move {
        let page = agent
            .conversations()
            .list()
            .limit(1)
            .offset(offset)
            .send_json()
            .await?;
        let start = page
            .items()
            .first()
            .and_then(ConversationRecord::from_data_api)
            .and_then(|r| r.started_at);
        Ok::<_, CliError>((page.count().unwrap_or_default(), start))
    };
    let (count, first) = started_at(0).await?;
    if first.is_none_or(|t| t < until) {
        return Ok(0);
    }
    // Invariant: the conversation at `lo` started at or after `until`; the one at `hi` (or the
    // end) before it, or is unknown.
    let (mut lo, mut hi) = (0, count);
    while hi.saturating_sub(lo) > SEARCH_STOP {
        let mid = lo + (hi - lo) / 2;
        match started_at(mid).await?.1 {
            Some(t) if t >= until => lo = mid,
            _ => hi = mid,
        }
    }
    Ok(lo.saturating_sub(SEARCH_SLACK))
}

/// A Data API conversation's detail in place of its summary; its summary, marked, when the
/// detail cannot be read (a refused key or a configuration error stops the comparison).
async fn detail(agent: &Agent, summary: Box<ConversationRecord>) -> Result<Item, CliError> {
    match agent
        .conversations()
        .get(summary.conversation_id.clone())
        .json()
        .await
    {
        Ok(body) => match ConversationRecord::from_data_api(&body) {
            Some(mut record) => {
                // The listing's id is the one compared (a detail may write it in another case).
                record.conversation_id = summary.conversation_id;
                Ok(Item::Record(Box::new(record)))
            }
            None => Ok(Item::DetailFailed(summary)),
        },
        Err(err)
            if matches!(err.status(), Some(401 | 403))
                || matches!(err, polyai_data::Error::Config(_)) =>
        {
            Err(err.into())
        }
        Err(err) => {
            tracing::warn!(id = %summary.conversation_id, error = %err, "detail not read");
            Ok(Item::DetailFailed(summary))
        }
    }
}

/// The v3 side: one walk per environment, by time range and cursor, at once and merged newest
/// first (each walk is), so the side as a whole is in start order.
fn v3(project: Project, environments: Vec<ClientEnv>, bounds: Bounds) -> Items {
    let alone = environments.len() == 1;
    let walks = environments
        .into_iter()
        .map(|env| {
            let project = project.clone();
            let (since, until) = (bounds.since, bounds.until);
            spawned(move |tx| async move {
                let mut pages = project
                    .conversations()
                    .start_time(since)
                    .end_time(until)
                    .client_env(env)
                    .prefetch(alone)
                    .limit(V3_PAGE)
                    .json_pages();
                while let Some(page) = pages.try_next().await? {
                    for raw in page.into_items() {
                        let item = match ConversationRecord::from_v3(&raw) {
                            Some(record) => Item::Record(Box::new(record)),
                            None => Item::Note(Note::Unreadable),
                        };
                        if !send(&tx, item).await {
                            return Ok(());
                        }
                    }
                }
                Ok(())
            })
            .map(|item| ((), item))
            .boxed()
        })
        .collect();
    newest_first(walks).map(|((), item)| item).boxed()
}

/// An item of some stream, with what the stream is.
pub type Tagged<T> = (T, Result<Item, CliError>);

/// Several streams merged into one, newest start first: each step takes, of the items the
/// streams have next, the one that started last (a note, an error or a record without a start
/// time goes at once). Streams that are each newest first merge into one that is; two sides
/// merged so reach the comparison in step, which then holds little more than what one side
/// lists and the other does not. Streams out of order still merge whole, only less in step.
pub fn newest_first<T: Send + 'static>(
    streams: Vec<BoxStream<'static, Tagged<T>>>,
) -> BoxStream<'static, Tagged<T>> {
    let heads: Vec<_> = streams.into_iter().map(StreamExt::peekable).collect();
    stream::unfold(heads, |mut heads| async move {
        let mut newest: Option<(usize, i64)> = None;
        for (i, head) in heads.iter_mut().enumerate() {
            let Some((_, item)) = std::pin::Pin::new(head).peek().await else {
                continue;
            };
            let key = match item {
                Ok(Item::Record(r) | Item::DetailFailed(r)) => {
                    r.started_at.map_or(i64::MAX, Timestamp::unix_micros)
                }
                _ => i64::MAX,
            };
            if newest.is_none_or(|(_, k)| key > k) {
                newest = Some((i, key));
            }
        }
        let (i, _) = newest?;
        let item = heads.get_mut(i)?.next().await?;
        Some((item, heads))
    })
    .boxed()
}

/// A conversation record of any shape an export line has: a contract record
/// (`conversation_id`), a Data API record (`conversationId`) or a v3 record (`id`).
pub fn record_of(value: &Value) -> Option<ConversationRecord> {
    let object = value.as_object()?;
    if object.get("conversation_id").is_some_and(Value::is_string) {
        ConversationRecord::deserialize(value).ok()
    } else if object.contains_key("conversationId") {
        ConversationRecord::from_data_api(value)
    } else if object.contains_key("id") {
        ConversationRecord::from_v3(value)
    } else {
        None
    }
}

/// Whether a record's start is within `bounds` (a record without one is passed on, to be
/// counted).
fn within(record: &ConversationRecord, bounds: &Bounds) -> bool {
    record
        .started_at
        .is_none_or(|t| t >= bounds.since && t < bounds.until)
}

/// Reads an export's JSONL file. A torn last line (an export killed mid-write) and lines that
/// are not records are counted, not fatal.
fn read_export(file: &Path, bounds: &Bounds, tx: &Sender) -> Result<(), CliError> {
    let io = |e| CliError::file("reading", file, e);
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(file).map_err(io)?);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
            return Ok(());
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let record = if line.ends_with(b"\n") {
            serde_json::from_slice::<Value>(text)
                .ok()
                .as_ref()
                .and_then(record_of)
        } else {
            None // torn last line
        };
        let item = match record {
            Some(record) if within(&record, bounds) => Item::Record(Box::new(record)),
            Some(_) => continue,
            None => Item::Note(Note::Unreadable),
        };
        if tx.blocking_send(Ok(item)).is_err() {
            return Ok(());
        }
    }
}

/// The manifest of an export folder, if it has one.
fn read_manifest(path: &Path) -> Result<Option<ManifestFacts>, CliError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or_default())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::file("reading", path, e)),
    }
}

/// Whether `dir` holds a `.parquet` file within `depth` levels.
fn holds_parquet(dir: &Path, depth: u32) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            depth > 0 && holds_parquet(&path, depth - 1)
        } else {
            path.extension().is_some_and(|e| e == "parquet")
        }
    })
}

/// The columns of the record contract a sync database's `conversations` table holds, in the
/// order [`row_record`] reads them. Older schemas named two of them otherwise.
const COLUMNS: [(&str, Option<&str>); 25] = [
    ("conversation_id", None),
    ("api", Some("source")),
    ("account_id", None),
    ("project_id", None),
    ("environment", Some("client_env")),
    ("channel", None),
    ("direction", None),
    ("created_at", None),
    ("started_at", None),
    ("finished_at", None),
    ("in_progress", None),
    ("total_duration", None),
    ("polyai_duration", None),
    ("duration", None),
    ("from_number", None),
    ("to_number", None),
    ("language", None),
    ("variant_id", None),
    ("variant_name", None),
    ("handoff", None),
    ("handoff_destination", None),
    ("handoff_reason", None),
    ("turn_count", None),
    ("num_silences", None),
    ("num_ood", None),
];

/// Opens a sync database read-only and checks it is one.
fn open_database(path: &Path) -> Result<rusqlite::Connection, CliError> {
    use rusqlite::OpenFlags;
    let sql = |e: rusqlite::Error| CliError::file("reading", path, std::io::Error::other(e));
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('conversations', 'schema_version')",
            [],
            |row| row.get(0),
        )
        .map_err(sql)?;
    if tables != 2 {
        return Err(CliError::Usage(format!(
            "--against {}: a SQLite database, but not one `polyai sync` wrote (no \
             conversations and schema_version tables)",
            path.display()
        )));
    }
    Ok(conn)
}

/// When the latest sync of `agent_id` into the database at `path` began.
fn database_as_of(path: &Path, agent_id: &str) -> Result<Option<Timestamp>, CliError> {
    let conn = open_database(path)?;
    let latest: Option<String> = conn
        .query_row(
            "SELECT MAX(started_at) FROM sync_runs WHERE agent_id = ?1",
            [agent_id],
            |row| row.get(0),
        )
        .unwrap_or(None);
    Ok(latest.and_then(|t| t.parse().ok()))
}

/// Reads the agent's conversations of `bounds` from a sync database, newest first.
fn read_database(path: &Path, bounds: &Bounds, tx: &Sender) -> Result<(), CliError> {
    let sql = |e: rusqlite::Error| CliError::file("reading", path, std::io::Error::other(e));
    let conn = open_database(path)?;
    let present: HashSet<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info('conversations')")
            .map_err(sql)?;
        stmt.query_map([], |row| row.get(0))
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
    };
    let select: Vec<String> = COLUMNS
        .iter()
        .map(|(name, old)| {
            if present.contains(*name) {
                (*name).to_owned()
            } else if let Some(old) = old.filter(|o| present.contains(*o)) {
                old.to_owned()
            } else {
                "NULL".to_owned()
            }
        })
        .collect();
    let query = format!(
        "SELECT {} FROM conversations WHERE agent_id = ?1 AND started_at >= ?2 \
         AND started_at < ?3 ORDER BY started_at DESC",
        select.join(", ")
    );
    let mut stmt = conn.prepare(&query).map_err(sql)?;
    let mut rows = stmt
        .query((
            &bounds.agent_id,
            bounds.since.to_rfc3339_micros(),
            bounds.until.to_rfc3339_micros(),
        ))
        .map_err(sql)?;
    let mut sent = 0u64;
    while let Some(row) = rows.next().map_err(sql)? {
        let item = match row_record(row) {
            Ok(Some(record)) => Item::Record(Box::new(record)),
            Ok(None) | Err(_) => Item::Note(Note::Unreadable),
        };
        if tx.blocking_send(Ok(item)).is_err() {
            return Ok(());
        }
        sent += 1;
    }
    if sent == 0 {
        let agents: Vec<String> = conn
            .prepare("SELECT DISTINCT agent_id FROM conversations LIMIT 5")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_default();
        if !agents.is_empty() && !agents.contains(&bounds.agent_id) {
            crate::output::note!(
                "polyai: warning: {} holds no conversation of {} (it holds {}); pass --agent",
                path.display(),
                bounds.agent_id,
                agents.join(", ")
            );
        }
    }
    Ok(())
}

/// A `conversations` row as a contract record; `None` without an id.
fn row_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<Option<ConversationRecord>> {
    let text = |i: usize| row.get::<_, Option<String>>(i);
    let int = |i: usize| row.get::<_, Option<i64>>(i);
    let time = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(text(i)?.and_then(|t| t.parse().ok()))
    };
    let Some(id) = text(0)? else {
        return Ok(None);
    };
    let api = text(1)?
        .and_then(|a| a.parse::<Api>().ok())
        .unwrap_or(Api::Data);
    let mut r = ConversationRecord::new(id, api);
    r.account_id = text(2)?;
    r.project_id = text(3)?;
    r.environment = text(4)?;
    r.channel = text(5)?;
    r.direction = text(6)?;
    r.created_at = time(7)?;
    r.started_at = time(8)?;
    r.finished_at = time(9)?;
    r.in_progress = int(10)?.map(|i| i != 0);
    r.total_duration = int(11)?;
    r.polyai_duration = int(12)?;
    r.duration = int(13)?;
    r.from_number = text(14)?;
    r.to_number = text(15)?;
    r.language = text(16)?;
    r.variant_id = text(17)?;
    r.variant_name = text(18)?;
    r.handoff = int(19)?.map(|i| i != 0);
    r.handoff_destination = text(20)?;
    r.handoff_reason = text(21)?;
    r.turn_count = int(22)?;
    r.num_silences = int(23)?;
    r.num_ood = int(24)?;
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn export_lines_are_read_by_their_shape() {
        let data = json!({"conversationId": "CA1", "clientEnv": "live"});
        let v3 = json!({"id": "CA2", "environment": "live", "turns": []});
        let contract =
            serde_json::to_value(ConversationRecord::new("CA3", Api::V3)).unwrap_or_default();
        let got: Vec<(String, Api)> = [data, v3, contract]
            .iter()
            .filter_map(record_of)
            .map(|r| (r.conversation_id, r.api))
            .collect();
        assert_eq!(
            got,
            [
                ("CA1".into(), Api::Data),
                ("CA2".into(), Api::V3),
                ("CA3".into(), Api::V3)
            ]
        );
        assert!(record_of(&json!({"name": "x"})).is_none());
        assert!(record_of(&json!([1])).is_none());
        assert!(record_of(&json!({"conversation_id": "C", "api": "soap"})).is_none());
    }

    fn summary(id: &str, start: &str) -> Value {
        json!({"conversationId": id, "startedAt": start})
    }

    fn kinds(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|item| match item {
                Item::Record(r) | Item::DetailFailed(r) => r.conversation_id.clone(),
                Item::Note(note) => format!("{note:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn streams_merge_newest_first_with_notes_at_once() {
        let side = |tag: char, items: Vec<Item>| {
            stream::iter(items.into_iter().map(move |i| (tag, Ok(i)))).boxed()
        };
        let record = |id: &str, start: &str| {
            Item::Record(Box::new(
                record_of(&summary(id, start)).unwrap_or_else(|| panic!("a record")),
            ))
        };
        let merged: Vec<(char, String)> = newest_first(vec![
            side(
                'a',
                vec![
                    record("a3", "2026-06-03T03:00:00Z"),
                    record("a1", "2026-06-03T01:00:00Z"),
                ],
            ),
            side(
                'b',
                vec![
                    record("b4", "2026-06-03T04:00:00Z"),
                    record("b2", "2026-06-03T02:00:00Z"),
                    Item::Note(Note::Unreadable),
                    record("b0", "2026-06-03T00:00:00Z"),
                ],
            ),
        ])
        .map(|(tag, item)| match item {
            Ok(item) => (tag, kinds(&[item]).concat()),
            Err(e) => (tag, e.to_string()),
        })
        .collect()
        .await;
        let want = [
            ('b', "b4"),
            ('a', "a3"),
            ('b', "b2"),
            ('b', "Unreadable"),
            ('a', "a1"),
            ('b', "b0"),
        ];
        let want: Vec<(char, String)> = want.iter().map(|(t, s)| (*t, s.to_string())).collect();
        assert_eq!(merged, want);
    }

    #[test]
    fn a_data_api_walk_keeps_the_window_and_stops_a_page_past_it() {
        let bounds = Bounds {
            since: "2026-06-02T00:00:00Z"
                .parse()
                .unwrap_or_else(|_| Timestamp::now()),
            until: "2026-06-03T00:00:00Z"
                .parse()
                .unwrap_or_else(|_| Timestamp::now()),
            agent_id: "P".into(),
        };
        let mut walk = DataWalk::default();
        let (items, past) = walk.page(
            10,
            vec![
                summary("CA-new", "2026-06-03T01:00:00Z"),
                summary("CA1", "2026-06-02T23:00:00Z"),
                summary("CA2", "2026-06-02T22:00:00Z"),
            ],
            &bounds,
        );
        assert_eq!(
            (kinds(&items), past),
            (vec!["CA1".into(), "CA2".into()], false)
        );
        // The listing grew by one: CA2 shifted onto this page too. An older one, then one of
        // the window after it (out of order).
        let (items, past) = walk.page(
            11,
            vec![
                summary("CA2", "2026-06-02T22:00:00Z"),
                summary("CA-old", "2026-06-01T23:00:00Z"),
                summary("CA3", "2026-06-02T21:00:00Z"),
                json!({"no": "id"}),
            ],
            &bounds,
        );
        assert_eq!(
            (kinds(&items), past),
            (
                vec![
                    "PagingRepeat".into(),
                    "OutOfOrder".into(),
                    "CA3".into(),
                    "Unreadable".into()
                ],
                false
            )
        );
        // Without growth, an id seen on the page before is a duplicate: passed on.
        let (items, _) = walk.page(11, vec![summary("CA3", "2026-06-02T21:00:00Z")], &bounds);
        assert_eq!(kinds(&items), ["OutOfOrder", "CA3"]);
        // A whole page older than the window ends the walk.
        let (items, past) = walk.page(
            11,
            vec![
                summary("CA-older", "2026-06-01T20:00:00Z"),
                summary("CA-oldest", "2026-06-01T19:00:00Z"),
            ],
            &bounds,
        );
        assert!(items.is_empty() && past);
    }
}
