//! `export`: every conversation of an agent to JSONL (and WAV files), with bounded
//! concurrency, a progress bar, resumable and exactly once.
//!
//! - [`lock`]: one export per folder.
//! - [`journal`]: the records and their index; what is done (see its invariants).
//! - [`checkpoint`]: options and listing position, replaced about once a second.
//! - [`failures`]: conversations that failed; retried first by the next run.
//! - [`manifest`]: sizes and SHA-256 of the files of a finished export.
//! - [`idset`]: the compact set of exported ids that keeps memory flat.
//! - [`seal`]: `SHA256SUMS` and the manifest's signature, written after the manifest.
//! - [`redaction`]: `--redacted`: records masked, the manifest's `redaction` section.
//! - [`selection`]: `--ids FILE` / `--id ID`: exactly those conversations.
//!
//! A run retries the earlier failures, then walks the listing — from where an interrupted run
//! stopped (less one page, for conversations that disappeared meanwhile), or from the start after
//! a finished one (to pick up conversations that arrived since) — skipping what is done. Through
//! the Conversations API v3 ([`crate::export_v3`]) the listing is walked by cursor instead, and an
//! interrupted run continues from the saved cursor. A
//! conversation that still fails after the client's retries goes to the failures file and the
//! run goes on; many failures in a row, a refused key, a listing that fails or a local file
//! error stop it.

pub mod checkpoint;
pub mod failures;
pub mod idset;
pub mod journal;
mod line;
pub mod lock;
pub mod manifest;
pub mod redaction;
pub mod seal;
pub mod selection;

pub use seal::SIGNATURE_FILE;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use indicatif::ProgressBar;
use polyai_data::models::ConversationSummary;
use polyai_data::{Agent, Error, file_name_for_id};
use serde_json::Value;
use tokio::sync::mpsc;

use self::checkpoint::{Checkpoint, V3Source};
use self::failures::{FAILURES_FILE, FailedRecord, Failures};
use self::idset::{IdSet, key};
use self::journal::{IndexEntry, JOURNAL_FILE, Journal, Recovery, SavedFile};
use self::lock::FolderLock;
use crate::cli::{ExportArgs, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::export_v3::{self, SharedTracker, Tracker};
use crate::output::stdout_error;
use crate::progress;
use crate::signals::{self, Signal};

/// Folder of the recordings inside the export directory.
pub const AUDIO_DIR: &str = "audio";
/// Field added to each record with `--with-audio`: `{"audioFile": "audio/NAME.wav"}`, or
/// `null` for a conversation without a recording. The name comes from
/// [`polyai_data::file_name_for_id`], so it is the id itself for ordinary ids; this field is
/// where odd ids (`a/b`, very long ones) are mapped to theirs.
pub const EXPORT_FIELD: &str = "_export";
/// How often appended lines are flushed to disk and the checkpoint replaced.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Conversations listed ahead of the workers.
const QUEUE: usize = 1024;
/// Data API conversations per listing page unless `--page-size` says otherwise: the largest
/// page the API serves.
const PAGE_SIZE: u64 = polyai_data::paginate::MAX_PAGE_SIZE;

/// A conversation to export.
#[derive(Debug)]
struct Work {
    /// The id asked for.
    id: String,
    /// What the listing gave for it.
    listed: Listed,
    /// The listing page it came from (its offset through the Data API, its number through v3);
    /// `None` when retried from the failures file.
    page: Option<u64>,
}

/// A conversation as its source listed it.
#[derive(Debug)]
enum Listed {
    /// A Data API summary (the line of a summary export).
    Summary(Box<ConversationSummary>),
    /// A v3 record, turns included.
    V3(Box<Value>),
    /// Only the id (a detail export's earlier failure).
    Id,
}

impl Listed {
    /// What the failures file keeps of it, to export it again without the listing.
    fn to_value(&self) -> Option<Value> {
        match self {
            Listed::Summary(summary) => serde_json::to_value(summary).ok(),
            Listed::V3(record) => Some((**record).clone()),
            Listed::Id => None,
        }
    }
}

/// What one finished conversation produced.
#[derive(Debug)]
struct Record {
    work: Work,
    /// The record's own `conversationId`.
    record_id: String,
    line: Vec<u8>,
    audio: Audio,
}

/// The recording outcome of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Audio {
    NotAsked,
    Saved(SavedFile),
    Missing,
}

/// What a worker hands back.
enum Done {
    Record(Box<Record>),
    Failed(Box<Work>, CliError),
    /// The listing failed: the run stops.
    Fatal(CliError),
}

/// Counters for the closing summary.
#[derive(Debug, Default)]
struct Stats {
    new: u64,
    skipped: u64,
    bytes: u64,
    recordings: u64,
    recording_bytes: u64,
    no_recording: u64,
    failed: u64,
    retried: u64,
    recovered: u64,
    /// Earlier failures retried that failed again.
    failed_again: u64,
}

/// How the run ended.
enum Outcome {
    Finished,
    Interrupted(Signal),
    Failed(CliError),
}

/// Where the listing stands: pages with conversations not yet resolved (written or recorded as
/// failed), so a resumed run knows where to pick up.
#[derive(Debug, Default)]
struct Positions {
    open: BTreeMap<u64, u64>,
    last_page: Option<u64>,
}

impl Positions {
    /// A page at `offset` was listed and `queued` of its conversations sent to the workers.
    fn listed(&mut self, offset: u64, queued: u64) {
        self.last_page = Some(offset);
        if queued > 0 {
            *self.open.entry(offset).or_default() += queued;
        }
    }

    /// A conversation of the page at `offset` was resolved.
    fn resolved(&mut self, offset: u64) {
        if let Some(left) = self.open.get_mut(&offset) {
            *left -= 1;
            if *left == 0 {
                self.open.remove(&offset);
            }
        }
    }

    /// The listing offset before which everything is resolved.
    fn resume_offset(&self, fallback: u64) -> u64 {
        self.open
            .keys()
            .next()
            .copied()
            .or(self.last_page)
            .unwrap_or(fallback)
    }
}

/// Locks a mutex whose holder cannot leave it inconsistent (plain counters and sets).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `export`.
pub async fn run(ctx: &Ctx<'_>, args: &ExportArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let dir = args.out.as_path();
    // The selection and the signing key before anything is written: a bad one costs nothing.
    let selection = selection::Selection::from_args(args)?;
    let signing_key = seal::load_key(args.sign.as_deref())?;
    // A selection is read conversation by conversation: its lines are details.
    let with_details = args.with_details || selection.is_some();
    // Arguments first, so a usage error leaves no folder or lock behind.
    export_v3::Plan::new(ctx, args, Checkpoint::load(dir).ok().flatten().as_ref())?;
    crate::output::make_folder("--out", dir)?;
    let _lock = FolderLock::acquire(dir)?;
    let run_started_at = jiff::Timestamp::now();
    let previous = Checkpoint::load(dir)?;
    // A selection is read by id through the Data API, whatever account is configured.
    let v3 = match &selection {
        Some(_) => None,
        None => export_v3::Plan::new(ctx, args, previous.as_ref())?,
    };
    let wanted = Checkpoint {
        v3: v3.as_ref().map(|plan| plan.source.clone()),
        ..Checkpoint::new(
            agent.id(),
            ctx.session.client().host(),
            with_details,
            args.with_audio,
            args.redacted,
        )
    };
    selection::prepare(
        dir,
        selection.as_ref(),
        previous.is_none() && !journal_has_data(dir),
    )?;
    match &previous {
        Some(previous) => previous.check_same_export(&wanted)?,
        None if journal_has_data(dir) => {
            return Err(CliError::Usage(format!(
                "{} holds a {JOURNAL_FILE} without a checkpoint; use an empty --out directory",
                dir.display(),
            )));
        }
        None => wanted.store(dir)?,
    }
    manifest::remove(dir)?;
    seal::remove(dir)?;
    let committed = previous.as_ref().map_or(0, |c| c.committed_bytes);
    let (mut journal, done, recovery) = Journal::open(dir, committed)?;
    let mut failures = Failures::open(dir)?;
    let page_size = args.page_size.unwrap_or(match &v3 {
        Some(_) => export_v3::PAGE_SIZE,
        None => PAGE_SIZE,
    });
    let start_offset = match &previous {
        Some(p) if !p.complete && v3.is_none() => p.list_offset.saturating_sub(page_size),
        _ => 0,
    };
    report_recovery(&recovery, start_offset);
    if args.with_audio {
        prepare_audio_dir(&dir.join(AUDIO_DIR))?;
    }

    let started = Instant::now();
    let bar = progress::items(None);
    let done = Arc::new(Mutex::new(done));
    let positions = Arc::new(Mutex::new(Positions::default()));
    let tracker: SharedTracker = Arc::new(Mutex::new(Tracker::new(
        wanted.v3.as_ref().and_then(|source| source.cursor.clone()),
    )));
    let (tx, rx) = mpsc::channel::<Result<Work, Error>>(QUEUE);
    let walk = match (&v3, &selection) {
        (_, Some(selection)) => Walk::Ids {
            ids: selection.ids.clone(),
        },
        (Some(plan), None) => {
            crate::output::note!("{}", plan.describe());
            Walk::V3 {
                plan: Box::new(plan.clone()),
                project: ctx.session.project(&plan.source.account_id)?,
                tracker: tracker.clone(),
            }
        }
        (None, None) => Walk::DataApi {
            agent: agent.clone(),
            start_offset,
            positions: positions.clone(),
        },
    };
    let lister = tokio::spawn(
        Lister {
            page_size,
            page_concurrency: args.page_concurrency.into(),
            done: done.clone(),
            tx,
            bar: bar.clone(),
        }
        .run(Box::new(failures.earlier()?), walk),
    );
    let work = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|w| (w, rx)) });
    let fetcher = Fetcher {
        agent,
        with_details,
        redacted: args.redacted,
        dir: dir.to_path_buf(),
        with_audio: args.with_audio,
    };
    let mut results = Box::pin(
        work.map(|w| fetcher.fetch(w))
            .buffer_unordered(usize::from(args.concurrency)),
    );

    let mut stats = Stats {
        skipped: recovery.kept,
        ..Stats::default()
    };
    let breaker = usize::from(args.concurrency).max(8) * 4;
    let mut failures_in_a_row = 0usize;
    // Until a page is listed, this run stands where it started.
    let fallback_offset = start_offset;
    let mut last_commit = Instant::now();
    let interrupted = signals::interrupted();
    tokio::pin!(interrupted);
    let outcome = loop {
        let next = tokio::select! {
            biased;
            signal = &mut interrupted => break Outcome::Interrupted(signal),
            next = results.next() => next,
        };
        let resolved = match next {
            None => break Outcome::Finished,
            Some(Done::Fatal(err)) => break Outcome::Failed(err),
            Some(Done::Failed(work, err)) => {
                if is_fatal(&err) {
                    break Outcome::Failed(err);
                }
                if let Err(file_err) = failures.append(&failed_record(&work, &err, args.redacted)) {
                    break Outcome::Failed(file_err);
                }
                stats.failed += 1;
                stats.retried += u64::from(work.page.is_none());
                stats.failed_again += u64::from(work.page.is_none());
                // A conversation that does not exist (an id of --ids, or one deleted since it
                // was listed) says nothing about the server's health.
                if !matches!(&err, CliError::Api(api) if api.is_not_found()) {
                    failures_in_a_row += 1;
                }
                bar.inc(1);
                if failures_in_a_row >= breaker {
                    crate::output::note!(
                        "polyai: {failures_in_a_row} conversations failed in a row; stopping"
                    );
                    break Outcome::Failed(err);
                }
                work.page
            }
            Some(Done::Record(record)) => {
                failures_in_a_row = 0;
                let page = record.work.page;
                if page.is_none() {
                    stats.retried += 1;
                    stats.recovered += 1;
                }
                if let Err(err) = write_record(&mut journal, &done, *record, &mut stats) {
                    break Outcome::Failed(err);
                }
                bar.inc(1);
                page
            }
        };
        if let Some(page) = resolved {
            match &v3 {
                Some(_) => export_v3::lock(&tracker).written(page),
                None => locked(&positions).resolved(page),
            }
        }
        if last_commit.elapsed() >= COMMIT_EVERY {
            let position = Position {
                offset: locked(&positions).resume_offset(fallback_offset),
                tracker: &tracker,
            };
            if let Err(err) = commit(&mut journal, &mut failures, &wanted, dir, &position, false) {
                break Outcome::Failed(err);
            }
            last_commit = Instant::now();
        }
    };
    // Stop the workers (a dropped download removes its temporary file) and the lister.
    drop(results);
    lister.abort();
    bar.finish_and_clear();
    let finished = matches!(outcome, Outcome::Finished);
    let position = Position {
        offset: locked(&positions).resume_offset(fallback_offset),
        tracker: &tracker,
    };
    let mut saved = commit(
        &mut journal,
        &mut failures,
        &wanted,
        dir,
        &position,
        finished,
    );
    drop(failures);
    let still_failing = {
        let done = locked(&done);
        failures::compact(dir, &done)
    };
    let still_failing = match still_failing {
        Ok(n) => n,
        Err(err) => {
            saved = saved.and(Err(err));
            stats.failed
        }
    };
    drop(done);
    if finished && saved.is_ok() {
        let facts = manifest::Facts {
            status: if still_failing == 0 {
                "complete"
            } else {
                "partial"
            },
            agent_id: &wanted.agent_id,
            base_url: ctx.session.client().base_url(),
            with_details,
            with_audio: args.with_audio,
            redacted: args.redacted,
            conversations: journal.records(),
            failed: still_failing,
            run_started_at,
            v3: wanted.v3.as_ref(),
            sections: [
                Some((
                    "redaction",
                    redaction::manifest_section(args.redacted, args.with_audio),
                )),
                selection.as_ref().map(|s| {
                    (
                        "selection",
                        selection::manifest_section(dir, s, journal.records()),
                    )
                }),
            ]
            .into_iter()
            .flatten()
            .collect(),
            extra_files: &[selection::SELECTION_FILE],
        };
        saved = manifest::write(dir, &facts)
            .and_then(|()| seal::seal(dir, signing_key.as_ref(), &wanted.agent_id));
    }
    let elapsed = started.elapsed();
    let end = End {
        stats: &stats,
        total: journal.records(),
        still_failing,
        elapsed,
        outcome: &outcome,
        dir,
    };
    crate::output::note!("{}", end.line());
    if selection.is_some() && finished {
        let (missing, _) = selection::not_found(dir);
        if !missing.is_empty() {
            crate::output::note!(
                "not found (HTTP 404), {} of the ids asked for: {}",
                missing.len(),
                missing.join(", ")
            );
        }
    }
    saved?;
    if ctx.format != OutputFormat::Table {
        ctx.write_record(&mut crate::output::stdout(), &end.record())
            .map_err(stdout_error)?;
    }
    match outcome {
        Outcome::Finished if still_failing == 0 => Ok(()),
        Outcome::Finished => Err(CliError::Partial(format!(
            "{} could not be exported; they are listed in {}",
            crate::output::count(still_failing, "conversation"),
            dir.join(FAILURES_FILE).display()
        ))),
        Outcome::Interrupted(signal) => Err(CliError::Interrupted(
            signal,
            format!(
                "export interrupted; run the same command again to resume ({} in {})",
                journal.records(),
                dir.display()
            ),
        )),
        Outcome::Failed(err) => Err(err),
    }
}

/// Appends a fetched conversation unless it is already in the journal (by the id asked for, or
/// by its own id).
fn write_record(
    journal: &mut Journal,
    done: &Mutex<IdSet>,
    record: Record,
    stats: &mut Stats,
) -> Result<(), CliError> {
    let Record {
        work,
        record_id,
        line,
        audio,
    } = record;
    let asked = key(&work.id);
    let own = key(&record_id);
    let mut entry = IndexEntry {
        record: (record_id != work.id).then(|| record_id.clone()),
        id: work.id,
        ..IndexEntry::default()
    };
    match &audio {
        Audio::Saved(file) => entry.audio = Some(file.clone()),
        Audio::Missing => entry.no_recording = true,
        Audio::NotAsked => {}
    }
    let mut done = locked(done);
    if done.contains(asked) {
        return Ok(());
    }
    if own != asked && done.contains(own) {
        // Already in the journal under its own id (written before its index entry, then
        // interrupted): remember the id asked for, so it is not fetched again.
        done.insert(asked);
        return journal.alias(entry);
    }
    done.insert(asked);
    if own != asked {
        done.insert(own);
    }
    drop(done);
    journal.append(&line, entry)?;
    stats.new += 1;
    stats.bytes += line.len() as u64;
    match audio {
        Audio::Saved(file) => {
            stats.recordings += 1;
            stats.recording_bytes += file.bytes;
        }
        Audio::Missing => stats.no_recording += 1,
        Audio::NotAsked => {}
    }
    Ok(())
}

/// Errors that stop the whole run rather than one conversation: the key is refused (every
/// request will be), or a local file cannot be written (every record would fail).
fn is_fatal(err: &CliError) -> bool {
    match err {
        CliError::File { .. } | CliError::Exists(_) | CliError::Usage(_) => true,
        CliError::Api(err) => {
            matches!(err.status(), Some(401 | 403))
                || matches!(err, Error::Config(_) | Error::Io { .. })
        }
        _ => false,
    }
}

fn failed_record(work: &Work, err: &CliError, redacted: bool) -> FailedRecord {
    let api = match err {
        CliError::Api(api) => Some(api),
        _ => None,
    };
    FailedRecord {
        conversation_id: work.id.clone(),
        error: err.to_string(),
        status: api.and_then(Error::status),
        correlation_id: api.and_then(Error::correlation_id).map(str::to_owned),
        failed_at: jiff::Timestamp::now().to_string(),
        summary: work.listed.to_value().map(|mut summary| {
            if redacted {
                redaction::mask(&mut summary);
            }
            summary
        }),
    }
}

/// Where the listing stands, for the checkpoint.
struct Position<'a> {
    /// Data API: the offset before which everything is resolved.
    offset: u64,
    /// v3: the pages still open, for the resume cursor.
    tracker: &'a SharedTracker,
}

/// `fsync`s the journal, its index and the failures file, then records the journal's length and
/// the listing position (offset, or v3 cursor) in the checkpoint.
fn commit(
    journal: &mut Journal,
    failures: &mut Failures,
    wanted: &Checkpoint,
    dir: &Path,
    position: &Position<'_>,
    complete: bool,
) -> Result<(), CliError> {
    let (committed_bytes, records) = journal.commit()?;
    failures.sync()?;
    let cursor = export_v3::lock(position.tracker).resume_cursor();
    Checkpoint {
        committed_bytes,
        records,
        list_offset: position.offset,
        complete,
        v3: wanted.v3.clone().map(|source| V3Source {
            cursor: cursor.filter(|_| !complete),
            ..source
        }),
        ..wanted.clone()
    }
    .store(dir)
}

fn journal_has_data(dir: &Path) -> bool {
    std::fs::metadata(dir.join(JOURNAL_FILE)).is_ok_and(|m| m.len() > 0)
}

fn report_recovery(recovery: &Recovery, start_offset: u64) {
    if recovery.kept == 0 && recovery.truncated_bytes == 0 && recovery.unreadable == 0 {
        return;
    }
    let mut note = format!(
        "resuming: {} already exported",
        crate::output::count(recovery.kept, "conversation")
    );
    if recovery.truncated_bytes > 0 {
        note.push_str(&format!(
            "; dropped an incomplete tail of {} bytes",
            recovery.truncated_bytes
        ));
    }
    if recovery.duplicates > 0 {
        note.push_str(&format!("; skipped {} repeated lines", recovery.duplicates));
    }
    if recovery.unreadable > 0 {
        note.push_str(&format!(
            "; {} unreadable lines left in place and skipped",
            recovery.unreadable
        ));
    }
    if start_offset > 0 {
        note.push_str(&format!("; listing resumes at offset {start_offset}"));
    }
    crate::output::note!("{note}");
}

/// Creates the audio folder and removes temporary files a killed run left behind (safe: the
/// folder lock is held, so no other download into it is running).
fn prepare_audio_dir(audio: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(audio).map_err(|e| CliError::file("creating", audio, e))?;
    let entries = std::fs::read_dir(audio).map_err(|e| CliError::file("reading", audio, e))?;
    for entry in entries.flatten() {
        if polyai_data::audio::is_partial_download(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Queues the conversations to export: first the earlier failures, then the listing, skipping
/// what is done.
struct Lister {
    page_size: u64,
    /// Data API listing pages fetched at once.
    page_concurrency: usize,
    done: Arc<Mutex<IdSet>>,
    tx: mpsc::Sender<Result<Work, Error>>,
    bar: ProgressBar,
}

/// The listing a run walks.
enum Walk {
    /// The Data API, by offset from `start_offset`.
    DataApi {
        agent: Agent,
        start_offset: u64,
        positions: Arc<Mutex<Positions>>,
    },
    /// The ids of `--ids` / `--id`, each read by its detail.
    Ids { ids: Vec<String> },
    /// The Conversations API v3, by cursor.
    V3 {
        plan: Box<export_v3::Plan>,
        project: polyai_data::v3::Project,
        tracker: SharedTracker,
    },
}

impl Lister {
    async fn run(self, earlier: Box<dyn Iterator<Item = FailedRecord> + Send>, walk: Walk) {
        let v3 = matches!(walk, Walk::V3 { .. });
        let mut queued = IdSet::new();
        for failure in earlier {
            let k = key(&failure.conversation_id);
            if locked(&self.done).contains(k) || !queued.insert(k) {
                continue;
            }
            let listed = match failure.summary {
                Some(record) if v3 => Listed::V3(Box::new(record)),
                Some(summary) => serde_json::from_value(summary)
                    .map_or(Listed::Id, |s| Listed::Summary(Box::new(s))),
                None => Listed::Id,
            };
            let work = Work {
                id: failure.conversation_id,
                listed,
                page: None,
            };
            if self.tx.send(Ok(work)).await.is_err() {
                return;
            }
        }
        match walk {
            Walk::Ids { ids } => {
                self.bar.set_length(ids.len() as u64);
                for id in ids {
                    let k = key(&id);
                    if locked(&self.done).contains(k) || queued.contains(k) {
                        self.bar.inc(1);
                        continue;
                    }
                    let work = Work {
                        id,
                        listed: Listed::Id,
                        page: Some(0),
                    };
                    if self.tx.send(Ok(work)).await.is_err() {
                        return;
                    }
                }
            }
            Walk::DataApi {
                agent,
                start_offset,
                positions,
            } => {
                self.walk_data_api(agent, start_offset, &positions, &queued)
                    .await
            }
            Walk::V3 {
                plan,
                project,
                tracker,
            } => {
                let wrap = |item: export_v3::Item| Work {
                    id: item.id,
                    listed: Listed::V3(Box::new(item.record)),
                    page: Some(item.page),
                };
                export_v3::list_pending(
                    *plan,
                    project,
                    self.page_size,
                    self.done,
                    self.tx,
                    wrap,
                    tracker,
                )
                .await;
            }
        }
    }

    async fn walk_data_api(
        &self,
        agent: Agent,
        start_offset: u64,
        positions: &Mutex<Positions>,
        queued: &IdSet,
    ) {
        let mut pages = agent
            .conversations()
            .list()
            .limit(self.page_size)
            .concurrency(self.page_concurrency)
            .offset(start_offset)
            .dedupe(true)
            .pages();
        let mut sized = false;
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page,
                Ok(None) => return,
                Err(err) => {
                    let _ = self.tx.send(Err(err)).await;
                    return;
                }
            };
            if !sized {
                self.bar.set_length(page.count().unwrap_or_default());
                sized = true;
            }
            // A Data API page is always at an offset.
            let offset = page.offset().unwrap_or(start_offset);
            let batch: Vec<ConversationSummary> = {
                let done = locked(&self.done);
                page.into_items()
                    .into_iter()
                    .filter(|s| {
                        let k = key(&s.conversation_id);
                        let skip = done.contains(k) || queued.contains(k);
                        if skip {
                            self.bar.inc(1);
                        }
                        !skip
                    })
                    .collect()
            };
            locked(positions).listed(offset, batch.len() as u64);
            for summary in batch {
                let work = Work {
                    id: summary.conversation_id.clone(),
                    listed: Listed::Summary(Box::new(summary)),
                    page: Some(offset),
                };
                if self.tx.send(Ok(work)).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Fetches what one conversation's line (and recording) needs.
struct Fetcher {
    agent: Agent,
    with_details: bool,
    with_audio: bool,
    redacted: bool,
    dir: PathBuf,
}

impl Fetcher {
    async fn fetch(&self, work: Result<Work, Error>) -> Done {
        let work = match work {
            Ok(work) => work,
            Err(err) => return Done::Fatal(err.into()),
        };
        match self.record(&work).await {
            Ok((record_id, line, audio)) => Done::Record(Box::new(Record {
                work,
                record_id,
                line,
                audio,
            })),
            Err(err) => Done::Failed(Box::new(work), err),
        }
    }

    async fn record(&self, work: &Work) -> Result<(String, Vec<u8>, Audio), CliError> {
        let id = &work.id;
        let encoding =
            |e: serde_json::Error| CliError::Other(format!("encoding conversation {id}: {e}"));
        if self.with_details && !matches!(work.listed, Listed::V3(_)) {
            // The detail as the API sent it: an export keeps every field and number form, and
            // writes the bytes that arrived rather than re-encoding them.
            let body = self.agent.conversations().get(id).json_bytes().await?;
            let (audio, extra) = self.audio(id).await?;
            if !self.redacted
                && let Some(head) = line::DetailHead::of(&body)
                && let Some(line) = line::raw_line(&body, &head, EXPORT_FIELD, extra.as_ref())
            {
                return Ok((
                    head.conversation_id.unwrap_or_else(|| id.clone()),
                    line,
                    audio,
                ));
            }
            let mut detail: Value = serde_json::from_slice(&body).map_err(encoding)?;
            if self.redacted {
                redaction::mask(&mut detail);
            }
            let record_id = detail["conversationId"]
                .as_str()
                .map_or_else(|| id.clone(), str::to_owned);
            return Ok((
                record_id,
                value_line(detail, extra).map_err(encoding)?,
                audio,
            ));
        }
        let (record_id, record) = match &work.listed {
            Listed::V3(record) => {
                // The v3 record carries the turns; only what it lacks comes from the Data API.
                let mut record = (**record).clone();
                if self.with_details {
                    let detail = self.agent.conversations().get(id).json().await?;
                    export_v3::add_details(&mut record, &detail);
                }
                (id.clone(), record)
            }
            Listed::Summary(summary) => (
                summary.conversation_id.clone(),
                serde_json::to_value(summary).map_err(encoding)?,
            ),
            Listed::Id => {
                return Err(CliError::Other(format!(
                    "no summary kept for {id}; it is exported again when the listing reaches it"
                )));
            }
        };
        let mut record = record;
        if self.redacted {
            redaction::mask(&mut record);
        }
        let (audio, extra) = self.audio(id).await?;
        Ok((
            record_id,
            value_line(record, extra).map_err(encoding)?,
            audio,
        ))
    }

    /// Downloads the recording when asked, with what the record's `_export` field says of it.
    async fn audio(&self, id: &str) -> Result<(Audio, Option<Value>), CliError> {
        if !self.with_audio {
            return Ok((Audio::NotAsked, None));
        }
        let file = file_name_for_id(id, "wav");
        let audio = self.recording(id, &file).await?;
        let saved = matches!(audio, Audio::Saved(_)).then(|| format!("{AUDIO_DIR}/{file}"));
        Ok((audio, Some(serde_json::json!({ "audioFile": saved }))))
    }

    /// Saves the recording of `id` as `audio/{file}`.
    async fn recording(&self, id: &str, file: &str) -> Result<Audio, CliError> {
        let relative = format!("{AUDIO_DIR}/{file}");
        let mut request = self.agent.audio(id);
        if self.redacted {
            request = request.redacted(true);
        }
        match request.save_to(self.dir.join(&relative)).await {
            Ok(_) => {}
            Err(err) if err.is_not_found() => return Ok(Audio::Missing),
            Err(err) => return Err(err.into()),
        }
        let dir = self.dir.clone();
        let hashed = tokio::task::spawn_blocking(move || manifest::hash_file(&dir, &relative))
            .await
            .map_err(|e| CliError::Other(format!("hashing a recording: {e}")))??;
        Ok(Audio::Saved(hashed))
    }
}

/// `record` as a JSONL line, with the `_export` field when given.
fn value_line(mut record: Value, extra: Option<Value>) -> Result<Vec<u8>, serde_json::Error> {
    if let (Some(extra), Some(fields)) = (extra, record.as_object_mut()) {
        fields.insert(EXPORT_FIELD.into(), extra);
    }
    let mut line = serde_json::to_vec(&record)?;
    line.push(b'\n');
    Ok(line)
}

/// The end of a run, for the closing summary.
struct End<'a> {
    stats: &'a Stats,
    total: u64,
    still_failing: u64,
    elapsed: Duration,
    outcome: &'a Outcome,
    dir: &'a Path,
}

impl End<'_> {
    fn status(&self) -> &'static str {
        match self.outcome {
            Outcome::Finished if self.still_failing == 0 => "complete",
            Outcome::Finished => "partial",
            Outcome::Interrupted(_) => "interrupted",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The closing summary as a flat JSON object, for `--output json|jsonl|csv`.
    fn record(&self) -> serde_json::Value {
        let s = self.stats;
        serde_json::json!({
            "status": self.status(),
            "new": s.new,
            "alreadyPresent": s.skipped,
            "inFile": self.total,
            "failed": self.still_failing,
            "retried": s.retried,
            "recovered": s.recovered,
            "bytes": s.bytes,
            "recordings": s.recordings,
            "recordingBytes": s.recording_bytes,
            "withoutRecording": s.no_recording,
            "seconds": self.elapsed.as_secs_f64(),
        })
    }

    /// The closing summary line.
    fn line(&self) -> String {
        let s = self.stats;
        let secs = self.elapsed.as_secs_f64().max(1e-3);
        let state = match self.status() {
            "complete" => "export complete",
            "partial" => "export partial",
            "interrupted" => "export interrupted",
            _ => "export stopped by an error",
        };
        // Throughput counts every byte this run wrote: JSON lines and recordings alike.
        let written = s.bytes.saturating_add(s.recording_bytes) as f64 / 1e6;
        let mut line = format!(
            "{state}: {} new, {} already present, {} in file; {:.1} MB written in {:.1} s ({:.1} conversations/s, {:.2} MB/s)",
            s.new,
            s.skipped,
            self.total,
            written,
            secs,
            s.new as f64 / secs,
            written / secs,
        );
        if s.recordings > 0 || s.no_recording > 0 {
            line.push_str(&format!(
                "; {} recordings ({:.1} MB), {} without recording",
                s.recordings,
                s.recording_bytes as f64 / 1e6,
                s.no_recording
            ));
        }
        if s.retried > 0 {
            // Counted by conversation: failures.jsonl may list one several times (a line per
            // failed attempt) until a run ends and rewrites it.
            line.push_str(&format!(
                "; {} of {} that failed before exported",
                s.recovered,
                crate::output::count(s.retried, "conversation")
            ));
            if s.failed_again > 0 {
                line.push_str(&format!(", {} failed again", s.failed_again));
            }
        }
        if self.still_failing > 0 {
            let new = self.still_failing.saturating_sub(s.failed_again);
            let split = if s.failed_again > 0 && new > 0 {
                format!(" ({} again, {new} new)", s.failed_again)
            } else {
                String::new()
            };
            line.push_str(&format!(
                "; {} failed{split}, listed once each in {}",
                crate::output::count(self.still_failing, "conversation"),
                self.dir.join(FAILURES_FILE).display()
            ));
        }
        match self.status() {
            "complete" => {}
            "partial" => line.push_str("; run the same command again to retry them"),
            _ => line.push_str("; run the same command again to resume"),
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_has_counts_and_throughput() {
        let stats = Stats {
            new: 10,
            skipped: 5,
            bytes: 2_000_000,
            recordings: 9,
            recording_bytes: 1_000_000,
            no_recording: 1,
            ..Stats::default()
        };
        let end = End {
            stats: &stats,
            total: 15,
            still_failing: 0,
            elapsed: Duration::from_secs(2),
            outcome: &Outcome::Finished,
            dir: Path::new("out"),
        };
        assert_eq!(
            end.line(),
            "export complete: 10 new, 5 already present, 15 in file; 3.0 MB written in 2.0 s \
             (5.0 conversations/s, 1.50 MB/s); 9 recordings (1.0 MB), 1 without recording"
        );
        let partial = End {
            still_failing: 2,
            ..end
        };
        assert!(partial.line().starts_with("export partial: "));
        assert!(
            partial
                .line()
                .ends_with("; 2 conversations failed, listed once each in out/failures.jsonl; run the same command again to retry them"),
            "{}",
            partial.line()
        );
        // Earlier failures are counted by conversation, and the failures split by origin.
        let stats = Stats {
            retried: 96,
            recovered: 90,
            failed_again: 6,
            ..stats
        };
        let rerun = End {
            stats: &stats,
            still_failing: 13,
            ..end
        };
        assert!(
            rerun.line().contains(
                "; 90 of 96 conversations that failed before exported, 6 failed again; \
                 13 conversations failed (6 again, 7 new), listed once each in"
            ),
            "{}",
            rerun.line()
        );
        assert_eq!(partial.record()["status"], "partial");
    }

    #[test]
    fn the_resume_offset_is_the_first_page_with_work_left() {
        let mut p = Positions::default();
        assert_eq!(p.resume_offset(7), 7);
        p.listed(0, 2);
        p.listed(250, 0);
        p.listed(500, 1);
        assert_eq!(p.resume_offset(7), 0);
        p.resolved(0);
        p.resolved(0);
        assert_eq!(p.resume_offset(7), 500);
        p.resolved(500);
        assert_eq!(p.resume_offset(7), 500, "the last page listed");
    }
}
