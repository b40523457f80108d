//! `export`: every conversation of an agent to JSONL records of the one contract (and WAV
//! files), with bounded concurrency, a progress bar, resumable and exactly once.
//!
//! - [`lock`]: one export per folder.
//! - [`journal`]: the records and their index; what is done (see its invariants).
//! - [`checkpoint`]: options and listing position, replaced about once a second.
//! - [`resume`]: which listing pages are fully written, for the checkpoint's position.
//! - [`failures`]: conversations that failed; retried first by the next run.
//! - [`manifest`]: sizes and SHA-256 of the files of a finished export, and how it was made.
//! - [`idset`]: the compact set of exported ids that keeps memory flat.
//! - [`seal`]: `SHA256SUMS` and the manifest's signature, written after the manifest.
//! - [`redaction`]: `--redacted`: records masked, the manifest's `redaction` section.
//! - [`selection`]: `--ids FILE` / `--id ID`: exactly those conversations.
//! - `dataset` (feature `dataset`): `--format parquet|csv` and `sync --to`: the listing written
//!   straight into a dataset, its position committed in the dataset's manifest.
//!
//! The listing is the one [`Listing`] of `--api` and `--env` ([`crate::source`]). A run
//! retries the earlier failures, then walks the listing's lanes (`--windows` of them at once:
//! v3's environments, or their time windows) — each from where an interrupted run stopped (by
//! offset, less one page, for conversations that disappeared meanwhile; by cursor, exactly
//! there), or from the start after a finished run (to pick up conversations that arrived
//! since) — skipping what is done. Each lane's page waits as text and each of its conversations
//! becomes a record as it is queued for the workers ([`Listing::unread_pages`], at most
//! `QUEUE` queued), so memory does not grow with the page or the number of lanes walked at
//! once beyond their text. A conversation that still fails after the client's
//! retries goes to the failures file and the run goes on; many failures in a row, a refused key,
//! a listing that fails or a local file error stop it.

pub mod checkpoint;
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod failures;
pub mod idset;
pub mod journal;
pub mod lock;
pub mod manifest;
pub mod redaction;
pub mod resume;
pub mod seal;
pub mod selection;

pub use seal::SIGNATURE_FILE;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::stream;
use futures_util::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use polyai_data::listing::{Lane, Listing, Unread};
use polyai_data::paginate::Position;
use polyai_data::record::{Api, ConversationRecord};
use polyai_data::{Agent, Error, file_name_for_id};
use tokio::sync::mpsc;

use self::checkpoint::{Checkpoint, ExportOptions, LaneState, SourceState};
use self::failures::{FAILURES_FILE, FailedRecord, Failures};
use self::idset::{IdSet, key};
use self::journal::{IndexEntry, JOURNAL_FILE, Journal, Recovery, SavedFile};
use self::lock::FolderLock;
use self::resume::{PageKey, SharedTracker, Tracker};
use crate::cli::{ExportArgs, ExportFormat, OutputFormat};
use crate::commands::Ctx;
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::progress;
use crate::signals::{self, Signal};
use crate::source::Source;

/// Folder of the recordings inside the export directory.
pub const AUDIO_DIR: &str = "audio";
/// How often appended lines are flushed to disk and the checkpoint replaced.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Conversations listed ahead of the workers.
const QUEUE: usize = 256;

/// A conversation to export.
#[derive(Debug)]
struct Work {
    /// The id asked for.
    id: String,
    /// What the listing gave for it; `None` for an id of a selection (or an earlier failure
    /// whose record was not kept): its detail is read.
    listed: Option<Box<ConversationRecord>>,
    /// The listing page it came from; `None` when retried from the failures file.
    page: Option<PageKey>,
}

/// What one finished conversation produced.
#[derive(Debug)]
struct Record {
    work: Work,
    /// The record's own id.
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

/// Locks a mutex whose holder cannot leave it inconsistent (plain counters and sets).
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What `export` reads: the listing of `--api`/`--env`, or the ids of a selection.
struct Plan {
    /// What the checkpoint says of it.
    state: SourceState,
    /// `None` for a selection.
    source: Option<Source>,
    /// Whether the state is this run's own (not an unfinished export's), so `--windows` are
    /// sized now rather than taken from the checkpoint.
    fresh: bool,
}

impl Plan {
    /// The plan of `args`. An unfinished export with the same listing keeps its resolved
    /// window; otherwise ages such as `24h` are resolved now.
    fn new(
        ctx: &Ctx<'_>,
        args: &ExportArgs,
        selection: bool,
        previous: Option<&Checkpoint>,
    ) -> Result<Plan, CliError> {
        if selection {
            return Ok(Plan {
                state: SourceState {
                    api: "ids".into(),
                    account_id: None,
                    environments: "all".into(),
                    since_arg: None,
                    until_arg: None,
                    start_time: None,
                    end_time: None,
                    windows: 1,
                    cuts: None,
                },
                source: None,
                fresh: true,
            });
        }
        let mut v3_only = Vec::new();
        if args.since.is_some() {
            v3_only.push("--since");
        }
        if args.until.is_some() {
            v3_only.push("--until");
        }
        if args.windows > 1 {
            v3_only.push("--windows");
        }
        let source = Source::choose(ctx.session, &args.source, &v3_only)?;
        let fresh = SourceState {
            api: source.api.to_string(),
            account_id: source.account.clone(),
            environments: source.environments.to_string(),
            since_arg: args.since.clone(),
            until_arg: args.until.clone(),
            start_time: None,
            end_time: None,
            windows: args.windows,
            cuts: None,
        };
        let resumed = previous.filter(|p| !p.complete && p.source.same_listing(&fresh));
        let state = match resumed {
            Some(was) => was.source.clone(),
            None => {
                let now = ctx.session.now();
                let (start, end) =
                    crate::when::window(args.since.as_deref(), args.until.as_deref(), now)?;
                // Windows cut a bounded range: from --since to the run's start by default.
                let end = end.or_else(|| (args.windows > 1 && start.is_some()).then_some(now));
                SourceState {
                    start_time: start.map(|t| t.to_string()),
                    end_time: end.map(|t| t.to_string()),
                    ..fresh
                }
            }
        };
        Ok(Plan {
            state,
            source: Some(source),
            fresh: resumed.is_none(),
        })
    }

    /// A fresh checkpoint of an export of `agent` with `options` from this plan.
    fn checkpoint(&self, ctx: &Ctx<'_>, agent: &Agent, options: ExportOptions) -> Checkpoint {
        Checkpoint::new(
            agent.id(),
            ctx.session.client().host(),
            self.state.clone(),
            options,
        )
    }

    /// The listing to walk (`None` for a selection), its `--windows` cut where the checkpoint
    /// says (else in equal slices of time, until [`size`](Self::size)).
    fn listing(
        &self,
        ctx: &Ctx<'_>,
        agent: &Agent,
        args: &ExportArgs,
    ) -> Result<Option<Listing>, CliError> {
        let Some(source) = &self.source else {
            return Ok(None);
        };
        let parse = |t: &str| -> Result<polyai_data::Timestamp, CliError> {
            t.parse()
                .map_err(|_| CliError::Usage(format!("the checkpoint holds an invalid time {t:?}")))
        };
        let time = |t: &Option<String>| t.as_deref().map(parse).transpose();
        let (start, end) = (time(&self.state.start_time)?, time(&self.state.end_time)?);
        let page_size = args.page_size;
        let listing = source.listing(
            ctx.session,
            agent,
            |list| {
                list.limit(page_size.unwrap_or(polyai_data::paginate::MAX_PAGE_SIZE))
                    .concurrency(args.page_concurrency.into())
            },
            |list| {
                Ok(crate::commands::v3::with_window(list, start, end)
                    .limit(page_size.unwrap_or(polyai_data::v3::MAX_LIMIT))
                    .include_latency(true))
            },
        )?;
        let mut listing = listing
            .keep_raw(args.keep_raw)
            .windows(usize::from(self.state.windows));
        if let Some(cuts) = &self.state.cuts {
            for (environment, at) in cuts {
                let environment = environment.parse().map_err(|_| {
                    CliError::Usage(format!(
                        "the checkpoint cuts windows of an unknown environment {environment:?}"
                    ))
                })?;
                let at = at.iter().map(|t| parse(t)).collect::<Result<_, _>>()?;
                listing = listing.cut(environment, at);
            }
        }
        Ok(Some(listing))
    }

    /// For a fresh export in `--windows`, `listing` with its windows sized from a random sample
    /// of each environment and the cuts saved in the plan's state (for the checkpoint), each
    /// environment's cut said in a note; `listing` as it is otherwise, or (equal slices of
    /// time, with a note) when the sample fails. Called after the listing is announced.
    async fn size(&mut self, listing: Listing) -> Listing {
        if !self.fresh || self.state.windows < 2 || self.state.cuts.is_some() {
            return listing;
        }
        match listing.clone().sized().await {
            Ok(sized) if !sized.cuts().is_empty() => {
                for (environment, at) in sized.cuts() {
                    if at.is_empty() {
                        crate::output::note!(
                            "{environment}: one window (its random sample is too small to cut)"
                        );
                    } else {
                        crate::output::note!(
                            "{environment}: {} windows of about equal counts, from a random sample",
                            at.len() + 1
                        );
                    }
                }
                self.state.cuts = Some(
                    sized
                        .cuts()
                        .iter()
                        .map(|(environment, at)| {
                            (
                                environment.to_string(),
                                at.iter().map(ToString::to_string).collect(),
                            )
                        })
                        .collect(),
                );
                sized
            }
            Ok(sized) => sized,
            Err(err) => {
                crate::output::note!(
                    "could not sample the listing to size its windows ({err}); each window is an \
                     equal slice of time"
                );
                listing
            }
        }
    }
}

/// Where each lane of the listing starts: an unfinished run goes on where each lane stopped (by
/// offset, a page earlier: conversations that disappeared since shift the listing back); a
/// finished one walks again from the start.
fn resume_lanes(previous: Option<&Checkpoint>, page_size: Option<u64>) -> Vec<LaneState> {
    match previous {
        Some(p) if !p.complete => {
            p.lanes
                .iter()
                .map(|lane| LaneState {
                    done: lane.done,
                    position: lane.position.clone().map(|position| match position {
                        Position::Offset(offset) => Position::Offset(offset.saturating_sub(
                            page_size.unwrap_or(polyai_data::paginate::MAX_PAGE_SIZE),
                        )),
                        other => other,
                    }),
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// `export`.
pub async fn run(ctx: &Ctx<'_>, args: &ExportArgs) -> Result<(), CliError> {
    match args.format {
        ExportFormat::Jsonl =>
        {
            #[cfg(feature = "dataset")]
            if let [first, ..] = args.dataset.given()[..] {
                return Err(CliError::Usage(format!(
                    "{first} is an option of a dataset: add --format parquet (or csv), or drop it"
                )));
            }
        }
        #[cfg(feature = "dataset")]
        ExportFormat::Parquet | ExportFormat::Csv => return dataset::export(ctx, args).await,
        #[cfg(not(feature = "dataset"))]
        ExportFormat::Parquet | ExportFormat::Csv => {
            return Err(CliError::Usage(
                "--format parquet|csv needs a polyai built with the `dataset` feature (the \
                 default); use --format jsonl"
                    .into(),
            ));
        }
    }
    let agent = ctx.session.agent()?;
    let dir = args.out.as_path();
    // The selection and the signing key before anything is written: a bad one costs nothing.
    let selection = selection::Selection::from_args(args)?;
    let signing_key = seal::load_key(args.sign.as_deref())?;
    // A selection is read conversation by conversation: its lines are details.
    let with_details = args.with_details || selection.is_some();
    // Arguments first, so a usage error leaves no folder or lock behind.
    Plan::new(ctx, args, selection.is_some(), None)?;
    crate::output::make_folder("--out", dir)?;
    let _lock = FolderLock::acquire(dir)?;
    let run_started_at = jiff::Timestamp::now();
    let previous = Checkpoint::load(dir)?;
    let mut plan = Plan::new(ctx, args, selection.is_some(), previous.as_ref())?;
    let listing = plan.listing(ctx, &agent, args)?;
    match &plan.source {
        Some(source) => source.announce(agent.id()),
        None => crate::output::note!(
            "reading each conversation of the selection through the Data API (agent {})",
            agent.id()
        ),
    }
    let listing = match listing {
        Some(listing) => Some(plan.size(listing).await),
        None => None,
    };
    let options = ExportOptions {
        with_details,
        with_audio: args.with_audio,
        redacted: args.redacted,
        keep_raw: args.keep_raw,
    };
    let wanted = plan.checkpoint(ctx, &agent, options);
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
    let (mut journal, done, recovery) = Journal::open(dir, committed, options.with_audio)?;
    let mut failures = Failures::open(dir)?;
    let start = resume_lanes(previous.as_ref(), args.page_size);
    report_recovery(&recovery, &start);
    if args.with_audio {
        prepare_audio_dir(&dir.join(AUDIO_DIR))?;
    }

    let started = Instant::now();
    let bar = progress::items(None);
    let done = Arc::new(Mutex::new(done));
    let tracker: SharedTracker = Arc::new(Mutex::new(Tracker::new(start.clone())));
    let (tx, rx) = mpsc::channel::<Result<Work, Error>>(QUEUE);
    let walk = match (listing, &selection) {
        (_, Some(selection)) => Walk::Ids {
            ids: selection.ids.clone(),
        },
        (Some(listing), None) => Walk::Listing {
            listing: Box::new(listing),
            start,
            tracker: tracker.clone(),
            at_once: usize::from(plan.state.windows),
        },
        (None, None) => return Err(CliError::Other("an export without a listing".into())),
    };
    let lister = tokio::spawn(
        Lister {
            done: done.clone(),
            tx,
            bar: bar.clone(),
        }
        .run(Box::new(failures.earlier()?), walk),
    );
    let work = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|w| (w, rx)) });
    let fetcher = Fetcher {
        agent,
        options,
        dir: dir.to_path_buf(),
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
                if let Err(file_err) = failures.append(&failed_record(&work, &err)) {
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
            resume::lock(&tracker).written(page);
        }
        if last_commit.elapsed() >= COMMIT_EVERY {
            if let Err(err) = commit(&mut journal, &mut failures, &wanted, dir, &tracker, false) {
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
    let mut saved = commit(
        &mut journal,
        &mut failures,
        &wanted,
        dir,
        &tracker,
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
            options,
            conversations: journal.records(),
            failed: still_failing,
            run_started_at,
            source: &wanted.source,
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

/// The failures file's line for `work`: its listed record kept (masked as the export's lines
/// are), so the next run exports it without the listing.
fn failed_record(work: &Work, err: &CliError) -> FailedRecord {
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
        record: work
            .listed
            .as_deref()
            .and_then(|record| serde_json::to_value(record).ok()),
    }
}

/// `fsync`s the journal, its index and the failures file, then records the journal's length and
/// the listing position in the checkpoint.
fn commit(
    journal: &mut Journal,
    failures: &mut Failures,
    wanted: &Checkpoint,
    dir: &Path,
    tracker: &SharedTracker,
    complete: bool,
) -> Result<(), CliError> {
    let (committed_bytes, records) = journal.commit()?;
    failures.sync()?;
    let lanes = if complete {
        Vec::new()
    } else {
        resume::lock(tracker).resume()
    };
    Checkpoint {
        committed_bytes,
        records,
        complete,
        lanes,
        ..wanted.clone()
    }
    .store(dir)
}

fn journal_has_data(dir: &Path) -> bool {
    std::fs::metadata(dir.join(JOURNAL_FILE)).is_ok_and(|m| m.len() > 0)
}

fn report_recovery(recovery: &Recovery, start: &[LaneState]) {
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
    let positions: Vec<&Position> = start.iter().filter_map(|l| l.position.as_ref()).collect();
    match positions.as_slice() {
        [Position::Offset(offset)] => {
            note.push_str(&format!("; listing resumes at offset {offset}"));
        }
        [Position::Cursor(_)] => note.push_str("; listing resumes at the saved cursor"),
        [] => {}
        more => note.push_str(&format!("; {} lanes resume where they stopped", more.len())),
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
    done: Arc<Mutex<IdSet>>,
    tx: mpsc::Sender<Result<Work, Error>>,
    bar: ProgressBar,
}

/// What a run walks.
enum Walk {
    /// The listing's lanes, each from where `start` says, `at_once` of them at a time.
    Listing {
        listing: Box<Listing>,
        start: Vec<LaneState>,
        tracker: SharedTracker,
        at_once: usize,
    },
    /// The ids of `--ids` / `--id`, each read by its detail.
    Ids { ids: Vec<String> },
}

impl Lister {
    async fn run(self, earlier: Box<dyn Iterator<Item = FailedRecord> + Send>, walk: Walk) {
        let mut queued = IdSet::new();
        for failure in earlier {
            let k = key(&failure.conversation_id);
            if locked(&self.done).contains(k) || !queued.insert(k) {
                continue;
            }
            // The record as listed, when the failure kept one of this contract.
            let listed = failure
                .record
                .and_then(|record| serde_json::from_value::<ConversationRecord>(record).ok())
                .filter(|record| record.conversation_id == failure.conversation_id)
                .map(Box::new);
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
                        listed: None,
                        page: Some((0, 0)),
                    };
                    if self.tx.send(Ok(work)).await.is_err() {
                        return;
                    }
                }
            }
            Walk::Listing {
                listing,
                start,
                tracker,
                at_once,
            } => self.walk(&listing, start, &tracker, at_once, &queued).await,
        }
    }

    /// Walks the listing's lanes that `start` does not say are done, up to `at_once` of them at
    /// a time, queueing what is not done. The first that fails stops the walk.
    async fn walk(
        &self,
        listing: &Listing,
        start: Vec<LaneState>,
        tracker: &SharedTracker,
        at_once: usize,
        queued: &IdSet,
    ) {
        let lanes = listing.lanes();
        let single = lanes.len() == 1;
        let todo = lanes.into_iter().enumerate().filter_map(|(index, lane)| {
            let state = start.get(index).cloned().unwrap_or_default();
            (!state.done).then_some((index, lane, state.position))
        });
        let _stopped: Result<(), Stop> = stream::iter(todo.map(Ok))
            .try_for_each_concurrent(at_once.max(1), |(index, lane, from)| {
                self.walk_lane(listing, (index, lane), from, tracker, queued, single)
            })
            .await;
    }

    /// Walks lane `index` from `from`, queueing what is not done. A cursor the server refuses
    /// (400) restarts the lane from its start once, with a note.
    async fn walk_lane(
        &self,
        listing: &Listing,
        (index, lane): (usize, Lane),
        mut from: Option<Position>,
        tracker: &SharedTracker,
        queued: &IdSet,
        single: bool,
    ) -> Result<(), Stop> {
        let mut restarted = false;
        'lane: loop {
            let resumed = from.is_some();
            let mut pages = listing.unread_pages(lane, from.take());
            let mut number = 0u64;
            loop {
                let page = match pages.try_next().await {
                    Ok(Some(page)) => page,
                    Ok(None) => break 'lane,
                    Err(err)
                        if number == 0 && resumed && !restarted && err.status() == Some(400) =>
                    {
                        crate::output::note!(
                            "the saved cursor was refused ({err}); listing {lane} from its \
                             start, skipping what is exported"
                        );
                        restarted = true;
                        resume::lock(tracker).restart_lane(index);
                        continue 'lane;
                    }
                    Err(err) => {
                        let _ = self.tx.send(Err(err)).await;
                        return Err(Stop);
                    }
                };
                if number == 0
                    && single
                    && let Some(count) = page.count()
                {
                    self.bar.set_length(count);
                }
                let page_key = (index, number);
                resume::lock(tracker).opened(page_key, page.position().cloned(), page.next());
                // Each item becomes a record as it is queued: the page waits as text.
                for record in readable(page.into_items().into_iter().filter_map(Unread::read)) {
                    let k = key(&record.conversation_id);
                    if locked(&self.done).contains(k) || queued.contains(k) {
                        self.bar.inc(1);
                        continue;
                    }
                    resume::lock(tracker).queued(page_key);
                    let work = Work {
                        id: record.conversation_id.clone(),
                        listed: Some(Box::new(record)),
                        page: Some(page_key),
                    };
                    if self.tx.send(Ok(work)).await.is_err() {
                        return Err(Stop);
                    }
                }
                resume::lock(tracker).sealed(page_key);
                number += 1;
            }
        }
        resume::lock(tracker).lane_done(index);
        Ok(())
    }
}

/// The records of a listing page, with a note on stderr for each item that is not one.
fn readable(
    items: impl IntoIterator<Item = polyai_data::listing::Listed>,
) -> impl Iterator<Item = ConversationRecord> {
    items.into_iter().filter_map(|item| match item {
        Ok(record) => Some(record),
        Err(unreadable) => {
            crate::output::note!("polyai: skipped {unreadable}");
            None
        }
    })
}

/// A lane walk stopped: the listing failed (sent to the workers) or the run ended.
struct Stop;

/// Fetches what one conversation's line (and recording) needs.
struct Fetcher {
    agent: Agent,
    options: ExportOptions,
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

    /// The record of `work` as its line: the listed record, with what the Data API's detail
    /// adds when asked (a selection's ids are their details), masked when asked, with its
    /// recording's file.
    async fn record(&self, work: &Work) -> Result<(String, Vec<u8>, Audio), CliError> {
        let id = &work.id;
        let encoding =
            |e: serde_json::Error| CliError::Other(format!("encoding conversation {id}: {e}"));
        let mut record = match work.listed.as_deref() {
            Some(listed) if !self.options.with_details => listed.clone(),
            listed => detailed(&self.agent, id, listed, self.options.keep_raw).await?,
        };
        if self.options.redacted {
            polyai_data::record::redact::mask_record(&mut record);
        }
        let audio = if self.options.with_audio {
            let file = file_name_for_id(id, "wav");
            let audio = self.recording(id, &file).await?;
            record.audio_file =
                matches!(audio, Audio::Saved(_)).then(|| format!("{AUDIO_DIR}/{file}"));
            audio
        } else {
            Audio::NotAsked
        };
        let mut line = serde_json::to_vec(&record).map_err(encoding)?;
        line.push(b'\n');
        Ok((record.conversation_id, line, audio))
    }

    /// Saves the recording of `id` as `audio/{file}`.
    async fn recording(&self, id: &str, file: &str) -> Result<Audio, CliError> {
        let relative = format!("{AUDIO_DIR}/{file}");
        let mut request = self.agent.audio(id);
        if self.options.redacted {
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

/// The record of conversation `id` read through the Data API's detail: the detail's record
/// (with the body under `raw` when `keep_raw`), or for a record listed through v3 that record
/// with what the detail adds (the listed record stays the source of what it has: v3's turns).
pub(crate) async fn detailed(
    agent: &Agent,
    id: &str,
    listed: Option<&ConversationRecord>,
    keep_raw: bool,
) -> Result<ConversationRecord, CliError> {
    let body = agent.conversations().get(id).json().await?;
    let detail = ConversationRecord::from_data_api(&body).ok_or_else(|| {
        CliError::Other(format!(
            "the detail of conversation {id} has no conversationId"
        ))
    })?;
    Ok(match listed {
        Some(listed) if listed.api == Api::V3 => listed.clone().with_details(detail),
        _ if keep_raw => detail.keep_raw(body),
        _ => detail,
    })
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
            "already_present": s.skipped,
            "in_file": self.total,
            "failed": self.still_failing,
            "retried": s.retried,
            "recovered": s.recovered,
            "bytes": s.bytes,
            "recordings": s.recordings,
            "recording_bytes": s.recording_bytes,
            "without_recording": s.no_recording,
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
}
