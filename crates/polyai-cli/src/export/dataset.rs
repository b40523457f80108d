//! `export --format parquet|csv` and `sync --to`: the listing written straight into a dataset
//! ([`polyai_dataset`]), no JSONL in between.
//!
//! One walk serves both. A task walks the listing's lanes (`--windows` of them at once), reads
//! the details a record needs, and hands each page's records, in listing order per lane, to the
//! writer, which upserts them (an unchanged conversation costs nothing, a changed one replaces
//! its rows). Every `--commit-every` conversations, at the end of a page, the writer commits
//! the rows together with where each lane stands, as a value of the dataset manifest's `state`:
//! the position never runs ahead of the rows, nor behind them, so a killed run resumes from its
//! last commit without a checkpoint file of its own, and each conversation is in each table
//! once.
//!
//! - **export** keeps its [`Checkpoint`] under [`EXPORT_STATE`]: an unfinished export goes on
//!   where each lane stopped, a finished one walks the listing again from its start; with
//!   `--with-details`, a conversation the dataset holds is not read again.
//! - **sync** keeps its own under [`SYNC_STATE`]: once a walk has finished, later runs stop each
//!   lane (the listing is newest first) after a full page of conversations the dataset holds
//!   unchanged, and read again those younger than `--refresh-days` (their details, through the
//!   Data API), as `sync --db` does.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt, stream};
use polyai_data::listing::{Lane, Listing};
use polyai_data::paginate::Position;
use polyai_data::record::ConversationRecord;
use polyai_data::{Agent, Timestamp};
use polyai_dataset::{CommitReport, DatasetWriter, Destination};
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};

use super::Plan;
use super::checkpoint::{Checkpoint, ExportOptions, LaneState, SourceState, refuse_newer};
use crate::cli::{ExportArgs, ExportFormat, OutputFormat, SyncArgs, SyncFormat};
use crate::commands::Ctx;
use crate::commands::dataset::{COMMIT_EVERY, Format, WriteArgs, dataset_error, destination};
use crate::exit::CliError;
use crate::output::stdout_error;
use crate::signals;

/// The manifest state key of `export --format parquet|csv`: its [`Checkpoint`].
pub const EXPORT_STATE: &str = "polyai.export";
/// The manifest state key of `sync --to`: its [`Checkpoint`].
pub const SYNC_STATE: &str = "polyai.sync";
/// The manifest state key that says a `sync --to` walk has finished once.
const SYNC_WALKED: &str = "polyai.sync.walked";
/// The manifest state key of what the dataset's records are made of (see [`RecordKind`]).
pub const RECORDS_STATE: &str = "polyai.records";

/// What the records of a dataset written from the listing are made of: one dataset holds one
/// kind, or a sync of listed records would replace the details an export read (and drop their
/// function events), and a masked export would be mixed with an unmasked one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct RecordKind {
    /// `data` or `v3`.
    api: String,
    /// Whether each record has its Data API detail.
    with_details: bool,
    /// Whether records are masked (`--redacted`).
    redacted: bool,
    /// Whether records keep the body as sent (`--keep-raw`).
    keep_raw: bool,
}

impl RecordKind {
    fn of(checkpoint: &Checkpoint) -> RecordKind {
        RecordKind {
            api: checkpoint.source.api.clone(),
            with_details: checkpoint.with_details,
            redacted: checkpoint.redacted,
            keep_raw: checkpoint.keep_raw,
        }
    }

    fn describe(&self) -> String {
        let mut text = format!("{} records", self.api);
        for (on, flag) in [
            (self.with_details, "with details"),
            (self.redacted, "masked (--redacted)"),
            (self.keep_raw, "with raw bodies (--keep-raw)"),
        ] {
            if on {
                text.push_str(", ");
                text.push_str(flag);
            }
        }
        text
    }

    /// Refuses a dataset whose records are of another kind than this run's.
    fn check(&self, writer: &DatasetWriter, what: &str, shown: &str) -> Result<(), CliError> {
        let Some(held) = writer.state(RECORDS_STATE) else {
            return Ok(());
        };
        match serde_json::from_value::<RecordKind>(held.clone()) {
            Ok(held) if held == *self => Ok(()),
            Ok(held) => Err(CliError::Usage(format!(
                "the dataset {shown} holds {}; this {what} would write {} and replace them: \
                 use the options that made it, or another dataset",
                held.describe(),
                self.describe()
            ))),
            Err(e) => Err(CliError::Usage(format!(
                "the dataset {shown} holds a {RECORDS_STATE} state this polyai cannot read \
                 ({e}); use a newer polyai, or another dataset"
            ))),
        }
    }

    fn value(&self) -> serde_json::Value {
        serde_json::json!({
            "api": self.api,
            "with_details": self.with_details,
            "redacted": self.redacted,
            "keep_raw": self.keep_raw,
        })
    }
}
/// Pages handed from the walk to the writer ahead of it.
const PAGES_AHEAD: usize = 4;

/// `export --format parquet|csv`.
pub async fn export(ctx: &Ctx<'_>, args: &ExportArgs) -> Result<(), CliError> {
    let format = match args.format {
        ExportFormat::Csv => Format::Csv,
        _ => Format::Parquet,
    };
    let mut refused = Vec::new();
    if args.with_audio {
        refused.push("--with-audio (recordings: polyai sync --db FILE --with-audio DIR)");
    }
    if args.sign.is_some() {
        refused.push("--sign (it signs a JSONL export's manifest.json)");
    }
    if args.ids.is_some() || !args.id.is_empty() {
        refused.push("--ids/--id (a selection: export it as jsonl, then polyai dataset convert)");
    }
    if !refused.is_empty() {
        return Err(CliError::Usage(format!(
            "--format {} writes a dataset from the listing; it does not take {}",
            format_name(format),
            refused.join(", ")
        )));
    }
    let agent = ctx.session.agent()?;
    let out = out_text(args)?;
    let destination = destination(out)?;
    // Arguments first, so a usage error leaves nothing behind.
    Plan::new(ctx, args, false, None)?;
    crate::allocator::for_parquet();
    let writer = open(&destination, &args.dataset, format).await?;
    let previous = load(&writer, EXPORT_STATE, out)?;
    let mut plan = Plan::new(ctx, args, false, previous.as_ref())?;
    let listing = plan
        .listing(ctx, &agent, args)?
        .ok_or_else(|| CliError::Other("an export without a listing".into()))?;
    if let Some(source) = &plan.source {
        source.announce(agent.id());
    }
    let listing = plan.size(listing).await;
    let options = ExportOptions {
        with_details: args.with_details,
        with_audio: false,
        redacted: args.redacted,
        keep_raw: args.keep_raw,
    };
    let wanted = plan.checkpoint(ctx, &agent, options);
    if let Some(previous) = &previous {
        previous.check_same_export(&wanted)?;
    }
    RecordKind::of(&wanted).check(&writer, "export", out)?;
    let start = super::resume_lanes(previous.as_ref(), args.page_size);
    let job = Job {
        agent,
        listing,
        checkpoint: wanted,
        start,
        key: EXPORT_STATE,
        concurrency: usize::from(args.concurrency),
        commit_every: args.dataset.commit_every.unwrap_or(COMMIT_EVERY),
        policy: Policy::Export,
    };
    let end = job.run(writer).await;
    report(ctx, "export", out, end)
}

/// `sync --to DIR_OR_URL`.
pub async fn sync(ctx: &Ctx<'_>, args: &SyncArgs, to: &str) -> Result<(), CliError> {
    let format = match args.format {
        Some(SyncFormat::Csv) => Format::Csv,
        _ => Format::Parquet,
    };
    let agent = ctx.session.agent()?;
    let source = crate::source::Source::choose(ctx.session, &args.source, &[])?;
    let destination = destination(to)?;
    crate::allocator::for_parquet();
    let writer = open(&destination, &args.dataset, format).await?;
    let previous = load(&writer, SYNC_STATE, to)?;
    let walked_once = writer
        .state(SYNC_WALKED)
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    // As `sync --db`: v3's listing has the turns; the Data API's records need their details.
    let with_details = source.account.is_none();
    let page_size = args.page_size;
    let listing = source
        .listing(
            ctx.session,
            &agent,
            |list| {
                let most = polyai_data::paginate::MAX_PAGE_SIZE;
                list.limit(page_size.unwrap_or(most).min(most))
            },
            |list| {
                let most = polyai_data::v3::MAX_LIMIT;
                Ok(list
                    .limit(page_size.unwrap_or(most).min(most))
                    .include_latency(true))
            },
        )?
        .windows(1);
    source.announce(agent.id());
    let state = SourceState {
        api: source.api.to_string(),
        account_id: source.account.clone(),
        environments: source.environments.to_string(),
        since_arg: None,
        until_arg: None,
        start_time: None,
        end_time: None,
        windows: 1,
        cuts: None,
    };
    let wanted = Checkpoint::new(
        agent.id(),
        ctx.session.client().host(),
        state,
        ExportOptions {
            with_details,
            with_audio: false,
            redacted: false,
            keep_raw: false,
        },
    );
    RecordKind::of(&wanted).check(&writer, "sync", to)?;
    // Another API or environment than the unfinished walk's: that walk is dropped (what it
    // wrote stays), and this one starts from the top.
    let previous = previous.filter(|p| p.source.same_listing(&wanted.source));
    let start = super::resume_lanes(previous.as_ref(), page_size);
    let refresh = Duration::from_secs(u64::from(args.refresh_days) * 86_400);
    let young_from = if refresh.is_zero() {
        None
    } else {
        Timestamp::now().checked_sub(refresh)
    };
    let job = Job {
        agent,
        listing,
        checkpoint: wanted,
        start,
        key: SYNC_STATE,
        concurrency: usize::from(args.concurrency),
        commit_every: args.dataset.commit_every.unwrap_or(COMMIT_EVERY),
        policy: Policy::Sync {
            young_from,
            stop_when_stored: walked_once && !args.full,
        },
    };
    let end = job.run(writer).await;
    report(ctx, "sync", to, end)
}

/// `--out` as text (a URL or a path), refusing what is not UTF-8.
fn out_text(args: &ExportArgs) -> Result<&str, CliError> {
    args.out.to_str().ok_or_else(|| {
        CliError::Usage(format!(
            "--out {}: a dataset's folder must be named in UTF-8",
            args.out.display()
        ))
    })
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Parquet => "parquet",
        Format::Csv => "csv",
    }
}

/// Opens the dataset for writing.
async fn open(
    destination: &Destination,
    args: &WriteArgs,
    format: Format,
) -> Result<DatasetWriter, CliError> {
    DatasetWriter::open(destination, args.options(format))
        .await
        .map_err(dataset_error)
}

/// The checkpoint the dataset's manifest keeps under `key`.
fn load(writer: &DatasetWriter, key: &str, shown: &str) -> Result<Option<Checkpoint>, CliError> {
    writer
        .state(key)
        .map(|value| {
            if let Some(version) = value.get("version").and_then(serde_json::Value::as_u64) {
                let state = format!("the dataset {shown}'s {key} state");
                refuse_newer(version, &state, "another dataset")?;
            }
            serde_json::from_value::<Checkpoint>(value.clone()).map_err(|e| {
                CliError::Usage(format!(
                    "the dataset {shown} holds a {key} state this polyai cannot read ({e}); \
                     use a newer polyai, or another dataset"
                ))
            })
        })
        .transpose()
}

/// Which records of a page are written, and when a lane stops.
#[derive(Debug, Clone, Copy)]
enum Policy {
    /// Every listed conversation (with `--with-details`, those the dataset does not hold).
    Export,
    /// New ones, changed ones and those that started at or after `young_from` (read again);
    /// with `stop_when_stored`, a lane ends after a page of stored ones only.
    Sync {
        young_from: Option<Timestamp>,
        stop_when_stored: bool,
    },
}

/// One walk of a listing into a dataset.
struct Job {
    agent: Agent,
    listing: Listing,
    /// What is committed under `key` (its lanes and `complete` set at each commit).
    checkpoint: Checkpoint,
    /// Where each lane starts.
    start: Vec<LaneState>,
    key: &'static str,
    concurrency: usize,
    commit_every: u64,
    policy: Policy,
}

/// One listing page's records for the writer, in listing order.
struct Batch {
    lane: usize,
    records: Vec<(ConversationRecord, u64)>,
    /// Listed, but held by the dataset and not read again.
    skipped: u64,
    /// Where the lane goes on; `None`: the lane is done.
    next: Option<Position>,
}

/// What a run did.
struct End {
    totals: CommitReport,
    skipped: u64,
    listed: u64,
    elapsed: Duration,
    complete: bool,
    /// Why it stopped early: an error, or a signal.
    stopped: Option<CliError>,
}

/// What the walk shares with the writer's side: the dataset's index, to skip reading what it
/// holds.
type Shared = Arc<Mutex<DatasetWriter>>;

impl Job {
    async fn run(self, writer: DatasetWriter) -> Result<End, CliError> {
        let started = Instant::now();
        let Job {
            agent,
            listing,
            mut checkpoint,
            start,
            key,
            concurrency,
            commit_every,
            policy,
        } = self;
        let lanes = listing.lanes();
        let mut state: Vec<LaneState> = (0..lanes.len())
            .map(|i| start.get(i).cloned().unwrap_or_default())
            .collect();
        let writer: Shared = Arc::new(Mutex::new(writer));
        let (tx, mut rx) = mpsc::channel::<Result<Batch, CliError>>(PAGES_AHEAD);
        let walker = Walker {
            agent,
            listing: listing.clone(),
            details: checkpoint.with_details,
            redacted: checkpoint.redacted,
            keep_raw: checkpoint.keep_raw,
            concurrency,
            policy,
            writer: writer.clone(),
            tx,
        };
        let at_once = usize::from(checkpoint.source.windows).max(1);
        let todo: Vec<(usize, Lane, Option<Position>)> = lanes
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !state[*i].done)
            .map(|(i, lane)| (i, lane, state[i].position.clone()))
            .collect();
        let walk = tokio::spawn(async move {
            let _ = stream::iter(todo.into_iter().map(Ok::<_, ()>))
                .try_for_each_concurrent(at_once, |(index, lane, from)| {
                    walker.walk_lane(index, lane, from)
                })
                .await;
        });
        let bar = crate::progress::items(None);
        let mut totals = CommitReport::default();
        let (mut skipped, mut listed, mut since_commit) = (0u64, 0u64, 0u64);
        let interrupted = signals::interrupted();
        tokio::pin!(interrupted);
        let mut stopped = None;
        loop {
            let next = tokio::select! {
                biased;
                signal = &mut interrupted => {
                    stopped = Some(CliError::Interrupted(
                        signal,
                        "interrupted; run the same command again to go on from the last commit"
                            .into(),
                    ));
                    break;
                }
                next = rx.recv() => next,
            };
            let batch = match next {
                None => break,
                Some(Err(err)) => {
                    stopped = Some(err);
                    break;
                }
                Some(Ok(batch)) => batch,
            };
            let count = batch.records.len() as u64;
            skipped += batch.skipped;
            listed += count + batch.skipped;
            // This loop runs on the runtime's own thread, beside its workers (which list and
            // read details meanwhile): the encoding does not hold them up.
            let upserted = {
                let mut w = writer.lock().await;
                batch.records.iter().try_for_each(|(record, fingerprint)| {
                    w.upsert_fingerprinted(record, *fingerprint).map(drop)
                })
            };
            if let Err(err) = upserted {
                walk.abort();
                return Err(dataset_error(err));
            }
            bar.inc(count + batch.skipped);
            state[batch.lane] = LaneState {
                done: batch.next.is_none(),
                position: batch.next,
            };
            since_commit += count;
            if since_commit >= commit_every {
                since_commit = 0;
                checkpoint.lanes = state.clone();
                checkpoint.complete = false;
                let report = commit(&writer, key, &checkpoint).await?;
                crate::commands::dataset::add(&mut totals, report);
            }
        }
        // Stops the walk (its sends fail once the receiver is gone) before the last commit.
        drop(rx);
        walk.abort();
        let _ = walk.await;
        bar.finish_and_clear();
        let complete = stopped.is_none() && state.iter().all(|l| l.done);
        checkpoint.complete = complete;
        checkpoint.lanes = if complete { Vec::new() } else { state };
        let mut w = Arc::try_unwrap(writer)
            .map_err(|_| CliError::Other("the listing walk did not stop".into()))?
            .into_inner();
        set_state(&mut w, key, &checkpoint)?;
        if complete && key == SYNC_STATE {
            w.set_state(SYNC_WALKED, serde_json::Value::Bool(true));
        }
        let report = w.finish().await.map_err(dataset_error)?;
        crate::commands::dataset::add(&mut totals, report);
        Ok(End {
            totals,
            skipped,
            listed,
            elapsed: started.elapsed(),
            complete,
            stopped,
        })
    }
}

/// Commits the writer with `checkpoint` under `key`.
async fn commit(
    writer: &Shared,
    key: &str,
    checkpoint: &Checkpoint,
) -> Result<CommitReport, CliError> {
    // The walk reads the index between pages; the commit holds the writer meanwhile.
    let mut w = writer.lock().await;
    set_state(&mut w, key, checkpoint)?;
    w.commit().await.map_err(dataset_error)
}

/// Sets what the next commit saves with the rows: `checkpoint` under `key`, and the kind of
/// records the dataset holds.
fn set_state(w: &mut DatasetWriter, key: &str, checkpoint: &Checkpoint) -> Result<(), CliError> {
    let value = serde_json::to_value(checkpoint)
        .map_err(|e| CliError::Other(format!("encoding the {key} state: {e}")))?;
    w.set_state(key, value);
    w.set_state(RECORDS_STATE, RecordKind::of(checkpoint).value());
    Ok(())
}

/// Walks lanes and reads what their records need.
struct Walker {
    agent: Agent,
    listing: Listing,
    details: bool,
    redacted: bool,
    keep_raw: bool,
    concurrency: usize,
    policy: Policy,
    writer: Shared,
    tx: mpsc::Sender<Result<Batch, CliError>>,
}

/// What to do with a listed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Write it as listed.
    Listed,
    /// Read its detail, then write it.
    Detail,
    /// The dataset holds it: nothing to do.
    Skip,
}

impl Walker {
    /// Walks lane `index` from `from`, sending each page's records. Stops quietly when the
    /// writer's side is gone; sends the error that stops it otherwise.
    async fn walk_lane(&self, index: usize, lane: Lane, from: Option<Position>) -> Result<(), ()> {
        let mut pages = self.listing.pages(lane, from);
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page,
                Ok(None) => {
                    // An empty lane (or one whose last page had a next position): done.
                    let batch = Batch {
                        lane: index,
                        records: Vec::new(),
                        skipped: 0,
                        next: None,
                    };
                    let _ = self.tx.send(Ok(batch)).await;
                    return Ok(());
                }
                Err(err) => {
                    let _ = self.tx.send(Err(err.into())).await;
                    return Err(());
                }
            };
            let mut next = page.next();
            let listed: Vec<ConversationRecord> = super::readable(page.into_items()).collect();
            let takes: Vec<Take> = {
                let w = self.writer.lock().await;
                listed.iter().map(|r| self.take(&w, r)).collect()
            };
            let all_stored = !listed.is_empty() && takes.iter().all(|t| *t == Take::Skip);
            let skipped = takes.iter().filter(|t| **t == Take::Skip).count() as u64;
            let work = listed
                .into_iter()
                .zip(takes)
                .filter(|(_, t)| *t != Take::Skip);
            let read: Result<Vec<Option<(ConversationRecord, u64)>>, CliError> = stream::iter(work)
                .map(|(record, take)| self.prepare(record, take))
                .buffered(self.concurrency.max(1))
                .try_collect()
                .await;
            let records = match read {
                Ok(records) => records,
                Err(err) => {
                    let _ = self.tx.send(Err(err)).await;
                    return Err(());
                }
            };
            if let Policy::Sync {
                stop_when_stored: true,
                ..
            } = self.policy
                && all_stored
            {
                // Newest first: what follows is older, and stored.
                next = None;
            }
            let done = next.is_none();
            let batch = Batch {
                lane: index,
                records: records.into_iter().flatten().collect(),
                skipped,
                next,
            };
            if self.tx.send(Ok(batch)).await.is_err() || done {
                return Ok(());
            }
        }
    }

    /// What to do with `record`, as the dataset holds it now.
    fn take(&self, writer: &DatasetWriter, record: &ConversationRecord) -> Take {
        let id = &record.conversation_id;
        match self.policy {
            Policy::Export if self.details && writer.contains(id) => Take::Skip,
            Policy::Export if self.details => Take::Detail,
            Policy::Export => Take::Listed,
            Policy::Sync { young_from, .. } => {
                let young = match (young_from, record.started_at) {
                    (Some(from), Some(at)) => at >= from,
                    // Without a start time, its age is unknown: read again.
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if self.details {
                    if writer.contains(id) && !young {
                        Take::Skip
                    } else {
                        Take::Detail
                    }
                } else {
                    // Only a held conversation's record is fingerprinted here (a new one is,
                    // once, when it is prepared).
                    match writer.fingerprint(id) {
                        Some(held) if held == polyai_dataset::fingerprint(record) => Take::Skip,
                        _ => Take::Listed,
                    }
                }
            }
        }
    }

    /// The record to write and its fingerprint; `None` for a conversation deleted since it was
    /// listed.
    async fn prepare(
        &self,
        listed: ConversationRecord,
        take: Take,
    ) -> Result<Option<(ConversationRecord, u64)>, CliError> {
        let mut record = if take == Take::Detail {
            let id = listed.conversation_id.clone();
            match super::detailed(&self.agent, &id, Some(&listed), self.keep_raw).await {
                Ok(record) => record,
                Err(CliError::Api(err)) if err.is_not_found() => {
                    crate::output::note!(
                        "polyai: conversation {id} was deleted since it was listed; skipped"
                    );
                    return Ok(None);
                }
                Err(err) => return Err(err),
            }
        } else {
            listed
        };
        if self.redacted {
            polyai_data::record::redact::mask_record(&mut record);
        }
        let fingerprint = polyai_dataset::fingerprint(&record);
        Ok(Some((record, fingerprint)))
    }
}

/// The closing summary of a run, on stderr (and a record on stdout with -O json|jsonl|csv),
/// and its exit.
fn report(
    ctx: &Ctx<'_>,
    what: &str,
    dataset: &str,
    end: Result<End, CliError>,
) -> Result<(), CliError> {
    let end = end?;
    let t = &end.totals;
    let secs = end.elapsed.as_secs_f64().max(1e-3);
    let status = match (&end.stopped, end.complete) {
        (None, true) => "complete",
        (Some(CliError::Interrupted(..)), _) => "interrupted",
        _ => "stopped by an error",
    };
    let mut line = format!(
        "{what} {status}: {} new, {} changed, {} unchanged, {} held and not read again; {} \
         conversations in {dataset} (generation {}, {} files written, {} replaced; {} listed in \
         {secs:.1} s, {:.1} conversations/s)",
        t.new,
        t.changed,
        t.unchanged,
        end.skipped,
        t.conversations,
        t.generation,
        t.files_written,
        t.files_removed,
        end.listed,
        end.listed as f64 / secs,
    );
    if status != "complete" {
        line.push_str("; run the same command again to go on from the last commit");
    }
    crate::output::note!("{line}");
    if ctx.format != OutputFormat::Table {
        let record = serde_json::json!({
            "status": if status == "stopped by an error" { "failed" } else { status },
            "dataset": dataset,
            "listed": end.listed,
            "new": t.new,
            "changed": t.changed,
            "unchanged": t.unchanged,
            "skipped": end.skipped,
            "conversations": t.conversations,
            "generation": t.generation,
            "filesWritten": t.files_written,
            "filesReplaced": t.files_removed,
            "seconds": end.elapsed.as_secs_f64(),
        });
        ctx.write_record(&mut crate::output::stdout(), &record)
            .map_err(stdout_error)?;
    }
    match end.stopped {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
