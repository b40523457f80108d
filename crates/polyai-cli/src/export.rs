//! `export`: every conversation of an agent to JSONL (and WAV files), with bounded
//! concurrency, a progress bar, and a checkpoint to resume from (see [`crate::checkpoint`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use indicatif::ProgressBar;
use polyai_data::models::ConversationSummary;
use polyai_data::{Agent, Error};
use tokio::sync::mpsc;

use crate::checkpoint::{Checkpoint, Journal};
use crate::cli::{ExportArgs, OutputFormat};
use crate::commands::{Ctx, stdout_error};
use crate::exit::CliError;
use crate::export_v3::{self, SharedTracker, Tracker};
use crate::{progress, signals};

/// Folder of the recordings inside the export directory.
pub const AUDIO_DIR: &str = "audio";
/// How often appended lines are flushed to disk and the checkpoint replaced.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// Summaries listed ahead of the workers.
const QUEUE: usize = 1024;
/// Data API conversations per listing page unless `--page-size` says otherwise.
const PAGE_SIZE: u64 = 250;

/// What one finished conversation produced.
#[derive(Debug)]
struct Record {
    id: String,
    line: Vec<u8>,
    audio: Audio,
    /// The v3 page it came on.
    page: Option<u64>,
}

/// A conversation to export, as its source listed it.
#[derive(Debug)]
enum Listed {
    /// A Data API summary.
    Summary(Box<ConversationSummary>),
    /// A v3 record, turns included.
    V3(export_v3::Item),
}

/// The recording outcome of one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audio {
    NotAsked,
    Saved(u64),
    Missing,
}

/// Counters for the closing summary line.
#[derive(Debug, Default)]
struct Stats {
    new: u64,
    skipped: u64,
    bytes: u64,
    recordings: u64,
    recording_bytes: u64,
    no_recording: u64,
}

/// How the run ended.
enum Outcome {
    Finished,
    Interrupted,
    Failed(CliError),
}

/// `export`.
pub async fn run(ctx: &Ctx<'_>, args: &ExportArgs) -> Result<(), CliError> {
    let agent = ctx.session.agent()?;
    let dir = args.out.as_path();
    std::fs::create_dir_all(dir).map_err(|e| CliError::file("creating", dir, e))?;
    let previous = Checkpoint::load(dir)?;
    let v3 = export_v3::Plan::new(ctx, args, previous.as_ref())?;
    let wanted = Checkpoint {
        v3: v3.as_ref().map(|plan| plan.source.clone()),
        ..Checkpoint::new(
            agent.id(),
            ctx.session.client().host(),
            args.with_details,
            args.with_audio,
        )
    };
    match &previous {
        Some(previous) => previous.check_same_export(&wanted)?,
        None if journal_has_data(dir) => {
            return Err(CliError::Usage(format!(
                "{} holds a {} without a checkpoint; use an empty --out directory",
                dir.display(),
                crate::checkpoint::JOURNAL_FILE
            )));
        }
        None => wanted.store(dir)?,
    }
    let committed = previous.as_ref().map_or(0, |c| c.committed_bytes);
    let (mut journal, done, recovery) = Journal::open(dir, committed)?;
    if recovery.kept > 0 || recovery.truncated_bytes > 0 {
        let mut note = format!("resuming: {} conversations already exported", recovery.kept);
        if recovery.truncated_bytes > 0 {
            note.push_str(&format!(
                "; dropped an incomplete tail of {} bytes",
                recovery.truncated_bytes
            ));
        }
        eprintln!("{note}");
    }
    if args.with_audio {
        prepare_audio_dir(&dir.join(AUDIO_DIR))?;
    }

    let started = Instant::now();
    let bar = progress::items(None);
    let done = Arc::new(done);
    let (tx, rx) = mpsc::channel::<Result<Listed, Error>>(QUEUE);
    let tracker: SharedTracker = Arc::new(std::sync::Mutex::new(Tracker::new(
        wanted.v3.as_ref().and_then(|source| source.cursor.clone()),
    )));
    let lister = match &v3 {
        Some(plan) => {
            eprintln!("{}", plan.describe());
            tokio::spawn(export_v3::list_pending(
                plan.clone(),
                ctx.session.project(&plan.source.account_id)?,
                args.page_size.unwrap_or(export_v3::PAGE_SIZE),
                done.clone(),
                tx,
                Listed::V3,
                tracker.clone(),
            ))
        }
        None => tokio::spawn(list_pending(
            agent.clone(),
            args.page_size.unwrap_or(PAGE_SIZE),
            done.clone(),
            tx,
            bar.clone(),
        )),
    };
    let summaries = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|s| (s, rx)) });
    let fetcher = Fetcher {
        agent,
        with_details: args.with_details,
        audio_dir: args.with_audio.then(|| dir.join(AUDIO_DIR)),
    };
    let mut results = Box::pin(
        summaries
            .map(|summary| fetcher.fetch(summary))
            .buffer_unordered(usize::from(args.concurrency)),
    );

    let mut stats = Stats {
        skipped: done.len() as u64,
        ..Stats::default()
    };
    let mut written: HashSet<String> = HashSet::new();
    let mut last_commit = Instant::now();
    let interrupted = signals::interrupted();
    tokio::pin!(interrupted);
    let outcome = loop {
        let next = tokio::select! {
            biased;
            () = &mut interrupted => break Outcome::Interrupted,
            next = results.next() => next,
        };
        let record = match next {
            None => break Outcome::Finished,
            Some(Err(err)) => break Outcome::Failed(err),
            Some(Ok(record)) => record,
        };
        if done.contains(&record.id) || !written.insert(record.id.clone()) {
            if let Some(page) = record.page {
                export_v3::lock(&tracker).written(page);
            }
            continue;
        }
        if let Err(err) = journal.append(&record.line) {
            break Outcome::Failed(err);
        }
        if let Some(page) = record.page {
            export_v3::lock(&tracker).written(page);
        }
        stats.new += 1;
        stats.bytes += record.line.len() as u64;
        match record.audio {
            Audio::Saved(bytes) => {
                stats.recordings += 1;
                stats.recording_bytes += bytes;
            }
            Audio::Missing => stats.no_recording += 1,
            Audio::NotAsked => {}
        }
        bar.inc(1);
        if last_commit.elapsed() >= COMMIT_EVERY {
            if let Err(err) = commit(&mut journal, &wanted, &tracker, dir, false) {
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
    let saved = commit(&mut journal, &wanted, &tracker, dir, finished);
    let elapsed = started.elapsed();
    eprintln!(
        "{}",
        summary_line(&stats, journal.records(), elapsed, &outcome)
    );
    saved?;
    if ctx.format != OutputFormat::Table {
        let report = summary_record(&stats, journal.records(), elapsed, &outcome);
        ctx.write_record(&mut std::io::stdout().lock(), &report)
            .map_err(stdout_error)?;
    }
    match outcome {
        Outcome::Finished => Ok(()),
        Outcome::Interrupted => Err(CliError::Interrupted(format!(
            "export interrupted; run the same command again to resume ({} in {})",
            journal.records(),
            dir.display()
        ))),
        Outcome::Failed(err) => Err(err),
    }
}

/// `fsync`s the journal, then records its length (and, through v3, the resume cursor) in the
/// checkpoint.
fn commit(
    journal: &mut Journal,
    wanted: &Checkpoint,
    tracker: &SharedTracker,
    dir: &Path,
    complete: bool,
) -> Result<(), CliError> {
    let (committed_bytes, records) = journal.commit()?;
    let cursor = export_v3::lock(tracker).resume_cursor();
    Checkpoint {
        committed_bytes,
        records,
        complete,
        v3: wanted.v3.clone().map(|source| crate::checkpoint::V3Source {
            cursor: cursor.filter(|_| !complete),
            ..source
        }),
        ..wanted.clone()
    }
    .store(dir)
}

fn journal_has_data(dir: &Path) -> bool {
    std::fs::metadata(dir.join(crate::checkpoint::JOURNAL_FILE)).is_ok_and(|m| m.len() > 0)
}

/// Creates the audio folder and removes temporary files a killed run left behind.
fn prepare_audio_dir(audio: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(audio).map_err(|e| CliError::file("creating", audio, e))?;
    let entries = std::fs::read_dir(audio).map_err(|e| CliError::file("reading", audio, e))?;
    for entry in entries.flatten() {
        if polyai_data::is_partial_download(&entry.path()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Walks every page from offset 0, de-duplicated by id, and queues the conversations not
/// exported yet. Sets the bar's length from the first page's total.
async fn list_pending(
    agent: Agent,
    page_size: u64,
    done: Arc<HashSet<String>>,
    tx: mpsc::Sender<Result<Listed, Error>>,
    bar: ProgressBar,
) {
    let mut pages = agent
        .conversations()
        .list()
        .limit(page_size)
        .dedupe(true)
        .pages();
    let mut sized = false;
    loop {
        match pages.try_next().await {
            Ok(Some(page)) => {
                if !sized {
                    bar.set_length(page.count());
                    sized = true;
                }
                for summary in page.into_items() {
                    if done.contains(&summary.conversation_id) {
                        bar.inc(1);
                    } else if tx
                        .send(Ok(Listed::Summary(Box::new(summary))))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            Ok(None) => return,
            Err(err) => {
                let _ = tx.send(Err(err)).await;
                return;
            }
        }
    }
}

/// Fetches what one conversation's line (and recording) needs.
struct Fetcher {
    agent: Agent,
    with_details: bool,
    audio_dir: Option<PathBuf>,
}

impl Fetcher {
    async fn fetch(&self, listed: Result<Listed, Error>) -> Result<Record, CliError> {
        let (id, line, page) = match listed? {
            Listed::Summary(summary) => {
                let id = summary.conversation_id.clone();
                let line = if self.with_details {
                    // The detail as the API sent it: an export keeps every field and number form.
                    let detail = self.agent.conversations().get(&id).json().await?;
                    serde_json::to_vec(&detail)
                } else {
                    serde_json::to_vec(&summary)
                };
                (id, line, None)
            }
            Listed::V3(mut item) => {
                // The v3 record carries the turns; only what it lacks comes from the Data API.
                if self.with_details {
                    let detail = self.agent.conversations().get(&item.id).json().await?;
                    export_v3::add_details(&mut item.record, &detail);
                }
                let line = serde_json::to_vec(&item.record);
                (item.id, line, Some(item.page))
            }
        };
        let mut line =
            line.map_err(|e| CliError::Other(format!("encoding conversation {id}: {e}")))?;
        line.push(b'\n');
        let audio = match &self.audio_dir {
            None => Audio::NotAsked,
            Some(dir) => self.recording(&id, &dir.join(audio_file_name(&id))).await?,
        };
        Ok(Record {
            id,
            line,
            audio,
            page,
        })
    }

    async fn recording(&self, id: &str, path: &Path) -> Result<Audio, CliError> {
        let download = match self.agent.audio(id).send().await {
            Ok(download) => download,
            Err(err) if err.is_not_found() => return Ok(Audio::Missing),
            Err(err) => return Err(err.into()),
        };
        let saved = download.save_to(path).await?;
        Ok(Audio::Saved(saved.bytes))
    }
}

/// `ID.wav`, with characters that are unsafe in file names replaced by `_`.
pub fn audio_file_name(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    format!("{}.wav", if safe.is_empty() { "_" } else { safe })
}

/// The closing summary as a flat JSON object, for `--output json|jsonl|csv`.
fn summary_record(
    stats: &Stats,
    total: u64,
    elapsed: Duration,
    outcome: &Outcome,
) -> serde_json::Value {
    let status = match outcome {
        Outcome::Finished => "complete",
        Outcome::Interrupted => "interrupted",
        Outcome::Failed(_) => "failed",
    };
    serde_json::json!({
        "status": status,
        "new": stats.new,
        "alreadyPresent": stats.skipped,
        "inFile": total,
        "bytes": stats.bytes,
        "recordings": stats.recordings,
        "recordingBytes": stats.recording_bytes,
        "withoutRecording": stats.no_recording,
        "seconds": elapsed.as_secs_f64(),
    })
}

fn summary_line(stats: &Stats, total: u64, elapsed: Duration, outcome: &Outcome) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let state = match outcome {
        Outcome::Finished => "export complete",
        Outcome::Interrupted => "export interrupted",
        Outcome::Failed(_) => "export stopped by an error",
    };
    let mut line = format!(
        "{state}: {} new, {} already present, {total} in file; {:.1} MB in {:.1} s ({:.1} conversations/s, {:.2} MB/s)",
        stats.new,
        stats.skipped,
        stats.bytes as f64 / 1e6,
        secs,
        stats.new as f64 / secs,
        stats.bytes as f64 / 1e6 / secs,
    );
    if stats.recordings > 0 || stats.no_recording > 0 {
        line.push_str(&format!(
            "; {} recordings ({:.1} MB), {} without recording",
            stats.recordings,
            stats.recording_bytes as f64 / 1e6,
            stats.no_recording
        ));
    }
    if !matches!(outcome, Outcome::Finished) {
        line.push_str("; run the same command again to resume");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_file_names_are_safe() {
        assert_eq!(audio_file_name("CA12ab"), "CA12ab.wav");
        assert_eq!(audio_file_name("../x/y"), "_x_y.wav");
        assert_eq!(audio_file_name("..."), "_.wav");
    }

    #[test]
    fn summary_line_has_counts_and_throughput() {
        let stats = Stats {
            new: 10,
            skipped: 5,
            bytes: 2_000_000,
            recordings: 9,
            recording_bytes: 1_000_000,
            no_recording: 1,
        };
        let line = summary_line(&stats, 15, Duration::from_secs(2), &Outcome::Finished);
        assert_eq!(
            line,
            "export complete: 10 new, 5 already present, 15 in file; 2.0 MB in 2.0 s \
             (5.0 conversations/s, 1.00 MB/s); 9 recordings (1.0 MB), 1 without recording"
        );
    }
}
