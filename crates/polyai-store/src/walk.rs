//! The incremental walk over the newest-first, offset-paged listing.
//!
//! A run walks from offset 0 and stores every conversation it does not have, re-reading those
//! younger than the refresh window. It stops early once it has seen a full page of stored
//! conversations older than that window, because below them everything is stored — unless an
//! earlier run was interrupted and left a gap.
//!
//! **Gaps.** Each committed page records the walk's place in `sync_gaps`: the last conversation
//! stored (the anchor), the offset after it and the listing's total then. A walk that ends
//! normally removes its row; a killed one leaves it, marking a gap below its anchor. Gaps form a
//! stack, newest (highest in the listing) first: when a walk meets a full page of stored
//! conversations it has reached the region above the newest gap, so it jumps to that gap's anchor
//! and goes on from there. A walk that lists a gap's anchor on its way closes that gap. Reaching
//! the end of the listing closes them all and marks the agent complete; until an agent is
//! complete a walk never stops early.
//!
//! **Finding the place.** Conversations arrive at the front while a walk runs, shifting later
//! items to higher offsets. Each page is requested with an overlap window before the expected
//! place and the anchor is looked up by id; when it is not in that page, the page is requested
//! again where the change of the total says the anchor moved, and then found by start time
//! (the listing is ordered by it). Only when all of that fails does the run stop with
//! [`SyncError::LostPlace`]; a full walk (`full`) repairs any state.

use std::collections::HashSet;
use std::path::PathBuf;

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::Value;

use crate::error::SyncError;
use crate::record::Record;
use crate::source::{Listed, ListedPage, Source};
use crate::store::{self, AudioOutcome, Gap, Known, Store, SyncCounts, WalkUpdate, Write};

/// Stop after this many conversations in a row could not be read.
const MAX_FAILURES_IN_A_ROW: u32 = 10;
/// Most pages requested to find a lost place by time.
const MAX_SEEK_PAGES: u32 = 64;

/// Settings of one walk.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub agent_id: String,
    pub run_id: i64,
    pub page_size: u64,
    pub overlap: u64,
    pub concurrency: usize,
    /// Conversations that started at or after this (normalised) time are re-read.
    pub refresh_from: Option<String>,
    pub audio_dir: Option<PathBuf>,
    /// Walk the whole listing, without stopping early.
    pub full: bool,
    /// List no page after this many are committed.
    pub max_pages: Option<u64>,
    /// The environments stored; the Data API's others are passed over as if stored.
    pub environments: polyai_data::listing::Environments,
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// It reached the stored history or the end of the listing.
    Done,
    /// It committed [`Settings::max_pages`] pages and stopped before listing another.
    PageLimit,
}

/// Why a conversation is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    New,
    Refresh,
    Retry,
}

/// A conversation to read, and whether to fetch its recording.
#[derive(Debug)]
struct Work {
    item: Listed,
    kind: Kind,
    audio: bool,
}

/// The walk's place: where the next page should start, and the last conversation stored
/// before it.
#[derive(Debug, Clone)]
struct Place {
    offset: u64,
    anchor: Option<Anchor>,
}

#[derive(Debug, Clone)]
struct Anchor {
    id: String,
    started: Option<String>,
    /// The listing's total when the anchor was stored.
    count_at: u64,
}

/// A page and where the walk goes on in it.
struct Found {
    offset: u64,
    page: ListedPage,
    start: usize,
}

/// A run in progress.
pub(crate) struct Walker<'a, S: Source> {
    source: &'a S,
    store: Store,
    settings: Settings,
    pub counts: SyncCounts,
    /// The first conversation that could not be read, for the report.
    pub first_failure: Option<String>,
    failures_in_a_row: u32,
    /// Conversations read in this run that a later sighting in the same run would read again
    /// (not read twice when pages overlap, or when a resumed v3 walk and the walk for what
    /// arrived both list them): the young ones, and those whose detail or recording failed.
    /// Any other conversation read is stored with its detail, which the database tells a later
    /// sighting; so this set grows with the refresh window and the failures, not with the
    /// listing, and a sync of millions stays flat.
    read: HashSet<String>,
    /// Pending gaps below the walk, newest first.
    gaps: Vec<Gap>,
    /// The row of `sync_gaps` holding this walk's place.
    seq: i64,
    /// Whether a walk ever reached the end of the listing (so a full page of stored
    /// conversations means everything below is stored too).
    complete: bool,
    /// Gaps closed since the last commit.
    closed: Vec<i64>,
    /// Recordings of the conversations read were tried as they were read (the Data API walk;
    /// the v3 walk leaves them all to the catch-up).
    audio_inline: bool,
    progress: &'a (dyn Fn(&SyncCounts) + Send + Sync),
}

impl<'a, S: Source> Walker<'a, S> {
    pub(crate) async fn new(
        source: &'a S,
        store: Store,
        settings: Settings,
        progress: &'a (dyn Fn(&SyncCounts) + Send + Sync),
    ) -> Result<Walker<'a, S>, SyncError> {
        let agent = settings.agent_id.clone();
        let full = settings.full;
        let (gaps, complete) = blocking(&store, move |conn| {
            let gaps = store::gaps(conn, &agent)?;
            let complete = !full && store::is_complete(conn, &agent)?;
            Ok((gaps, complete))
        })
        .await?;
        let seq = gaps.first().map_or(1, |g| g.seq + 1);
        Ok(Walker {
            source,
            store,
            settings,
            counts: SyncCounts::default(),
            first_failure: None,
            failures_in_a_row: 0,
            read: HashSet::new(),
            gaps,
            seq,
            complete,
            closed: Vec::new(),
            audio_inline: true,
            progress,
        })
    }

    /// Whether the run committed as many pages as it may.
    pub(crate) fn page_limit_reached(&self) -> bool {
        self.settings
            .max_pages
            .is_some_and(|max| self.counts.pages >= max)
    }

    /// Walks the listing until it connects to the stored history or ends.
    pub(crate) async fn walk(&mut self) -> Result<Flow, SyncError> {
        let mut place = Place {
            offset: 0,
            anchor: None,
        };
        // Stored conversations seen in a row (older than the refresh window or not).
        let mut known_run: u64 = 0;
        loop {
            let Found {
                offset,
                page,
                start,
            } = self.seek(&place).await?;
            let listed = page.items.len() as u64;
            // The total decides the end, not a short page: a server may cap the page size.
            let end = listed == 0 || offset + listed >= page.count;
            let fresh: Vec<Listed> = page.items.into_iter().skip(start).collect();
            let ids: Vec<String> = fresh.iter().map(|l| l.id.clone()).collect();
            let agent = self.settings.agent_id.clone();
            let known = blocking(&self.store, move |conn| store::known(conn, &agent, &ids)).await?;
            let mut work = Vec::new();
            for item in &fresh {
                if let Some(i) = self.gaps.iter().position(|g| g.anchor_id == item.id) {
                    self.closed.push(self.gaps.remove(i).seq);
                }
                let environment = item.summary.get("clientEnv").and_then(Value::as_str);
                if !self.settings.environments.admits(environment) {
                    // Another environment's conversation: not stored, and passed over as if it
                    // were (it neither breaks nor counts as new history).
                    known_run += 1;
                    continue;
                }
                match known.get(&item.id) {
                    None => {
                        known_run = 0;
                        work.push(self.work(item.clone(), Kind::New, None));
                    }
                    Some(k) => {
                        known_run += 1;
                        if self.is_young(item) && !self.read.contains(&item.id) {
                            work.push(self.work(item.clone(), Kind::Refresh, Some(*k)));
                        }
                    }
                }
            }
            let last = fresh.last().cloned();
            let past_refresh = last.as_ref().is_none_or(|l| !self.is_young(l));
            let connected = !end && known_run >= self.settings.page_size && past_refresh;
            let jump = connected && !self.settings.full && (!self.gaps.is_empty() || self.complete);
            let writes = self.read_all(work).await?;
            let mut update = WalkUpdate {
                delete: std::mem::take(&mut self.closed),
                ..WalkUpdate::default()
            };
            if end {
                update.delete_all = true;
            } else if jump {
                // Everything from here to the next gap (or the end) is stored: this walk's row
                // is no longer a gap.
                update.delete.push(self.seq);
            } else if let Some(last) = &last {
                update.put = Some(Gap {
                    seq: self.seq,
                    anchor_id: last.id.clone(),
                    anchor_started: last.started.clone(),
                    next_offset: offset + listed,
                    count_at: page.count,
                });
            }
            self.counts.pages += 1;
            self.counts.listed += fresh.len() as u64;
            self.commit(writes, update, end).await?;
            if end {
                return Ok(Flow::Done);
            }
            if jump && self.gaps.is_empty() {
                return Ok(Flow::Done);
            }
            if self.page_limit_reached() {
                return Ok(Flow::PageLimit);
            }
            if jump {
                let gap = self.gaps.remove(0);
                self.seq = gap.seq;
                known_run = 0;
                place = Place {
                    offset: gap.next_offset,
                    anchor: Some(Anchor {
                        id: gap.anchor_id,
                        started: gap.anchor_started,
                        count_at: gap.count_at,
                    }),
                };
                continue;
            }
            place = match last {
                Some(last) => Place {
                    offset: offset + listed,
                    anchor: Some(Anchor {
                        id: last.id,
                        started: last.started,
                        count_at: page.count,
                    }),
                },
                // The anchor was the page's last item: the same anchor, one page on.
                None => Place {
                    offset: offset + listed,
                    anchor: place.anchor,
                },
            };
        }
    }

    /// Re-reads conversations whose detail could not be read in earlier runs, then, with
    /// recordings asked for, downloads those never tried.
    pub(crate) async fn catch_up(&mut self) -> Result<(), SyncError> {
        for audio in [false, true] {
            if audio && self.settings.audio_dir.is_none() {
                continue;
            }
            let agent = self.settings.agent_id.clone();
            let pending = blocking(&self.store, move |conn| {
                store::pending(conn, &agent, audio, u64::MAX >> 1)
            })
            .await?;
            // What this run read was retried already, and its recording tried with it.
            let done_now = !audio || self.audio_inline;
            let pending: Vec<(String, String)> = pending
                .into_iter()
                .filter(|(id, _)| !(done_now && self.read.contains(id)))
                .collect();
            for chunk in pending.chunks(self.settings.page_size.max(1) as usize) {
                let work = chunk
                    .iter()
                    .map(|(id, raw)| {
                        let summary = serde_json::from_str(raw).unwrap_or(Value::Null);
                        let item = Listed {
                            id: id.clone(),
                            started: None,
                            summary,
                        };
                        if audio {
                            Work {
                                item,
                                kind: Kind::Retry,
                                audio: true,
                            }
                        } else {
                            self.work(item, Kind::Retry, Some(Known::default()))
                        }
                    })
                    .collect();
                let writes = if audio {
                    self.fetch_recordings(work).await?
                } else {
                    self.read_all(work).await?
                };
                self.commit(writes, WalkUpdate::default(), false).await?;
            }
        }
        Ok(())
    }

    fn work(&self, item: Listed, kind: Kind, known: Option<Known>) -> Work {
        let audio = self.settings.audio_dir.is_some() && known.is_none_or(|k| !k.audio_saved);
        Work { item, kind, audio }
    }

    fn is_young(&self, item: &Listed) -> bool {
        match (&self.settings.refresh_from, &item.started) {
            (Some(from), Some(started)) => started >= from,
            _ => false,
        }
    }

    async fn commit(
        &mut self,
        writes: Vec<Write>,
        update: WalkUpdate,
        end: bool,
    ) -> Result<(), SyncError> {
        let agent = self.settings.agent_id.clone();
        let run_id = self.settings.run_id;
        let counts = self.counts;
        blocking(&self.store, move |conn| {
            store::commit_page(conn, &agent, run_id, &writes, &update, &counts, end)
        })
        .await?;
        if end {
            self.complete = true;
            self.gaps.clear();
        }
        (self.progress)(&self.counts);
        Ok(())
    }

    /// Finds the page where the walk goes on (see the module notes).
    async fn seek(&self, place: &Place) -> Result<Found, SyncError> {
        let Some(anchor) = &place.anchor else {
            let page = self.list(place.offset).await?;
            return Ok(Found {
                offset: place.offset,
                page,
                start: 0,
            });
        };
        let overlap = self.settings.overlap;
        let first = place.offset.saturating_sub(overlap);
        let page = self.list(first).await?;
        if let Some(found) = after_anchor(first, page.clone(), &anchor.id) {
            return Ok(found);
        }
        let shift = page.count as i128 - anchor.count_at as i128;
        let moved = (place.offset as i128 + shift).max(0) as u64;
        let second = moved.saturating_sub(overlap);
        if second != first {
            let page = self.list(second).await?;
            if let Some(found) = after_anchor(second, page, &anchor.id) {
                return Ok(found);
            }
        }
        match &anchor.started {
            Some(started) => self.seek_by_time(anchor, started, page.count).await,
            None => Err(SyncError::LostPlace {
                anchor: anchor.id.clone(),
            }),
        }
    }

    /// Bisects the listing by start time for the anchor, or — when it is gone — for the first
    /// conversation that started before it.
    async fn seek_by_time(
        &self,
        anchor: &Anchor,
        started: &str,
        count: u64,
    ) -> Result<Found, SyncError> {
        let (mut lo, mut hi) = (0u64, count.max(1));
        for _ in 0..MAX_SEEK_PAGES {
            if lo >= hi {
                let page = self.list(lo).await?;
                return Ok(Found {
                    offset: lo,
                    page,
                    start: 0,
                });
            }
            let mid = lo + (hi - lo) / 2;
            let page = self.list(mid).await?;
            if page.items.is_empty() {
                hi = mid;
                continue;
            }
            if let Some(found) = after_anchor(mid, page.clone(), &anchor.id) {
                return Ok(found);
            }
            let older = page
                .items
                .iter()
                .position(|item| item.started.as_deref().is_some_and(|s| s < started));
            match older {
                Some(0) => hi = mid,
                Some(start) => {
                    return Ok(Found {
                        offset: mid,
                        page,
                        start,
                    });
                }
                None => lo = mid + page.items.len() as u64,
            }
        }
        Err(SyncError::LostPlace {
            anchor: anchor.id.clone(),
        })
    }

    async fn list(&self, offset: u64) -> Result<ListedPage, SyncError> {
        Ok(self.source.list(offset, self.settings.page_size).await?)
    }

    /// Reads every conversation of `work`, `concurrency` at a time, in listing order.
    async fn read_all(&mut self, work: Vec<Work>) -> Result<Vec<Write>, SyncError> {
        let source = self.source;
        let audio_dir = self.settings.audio_dir.clone();
        let results: Vec<(Work, Result<Read, polyai_data::Error>)> = stream::iter(work)
            .map(|w| {
                let audio_dir = audio_dir.clone();
                async move {
                    let result = read_one(source, &w, audio_dir.as_deref()).await;
                    (w, result)
                }
            })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut writes = Vec::with_capacity(results.len());
        for (w, result) in results {
            let again = match &result {
                Ok(read) => read.audio_error.is_some(),
                Err(_) => true,
            };
            if again || w.kind == Kind::Refresh || self.is_young(&w.item) {
                self.read.insert(w.item.id.clone());
            }
            match result {
                Ok(read) => {
                    self.failures_in_a_row = 0;
                    match w.kind {
                        Kind::New => self.counts.new += 1,
                        Kind::Refresh => self.counts.refreshed += 1,
                        Kind::Retry => self.counts.retried += 1,
                    }
                    if let AudioOutcome::Saved(_, bytes) = &read.audio {
                        self.counts.recordings += 1;
                        self.counts.recording_bytes += bytes;
                    }
                    if let Some(err) = read.audio_error {
                        self.failed(&w.item.id, err)?;
                    }
                    writes.push(Write::Detail(Box::new(read.record), read.audio));
                }
                Err(err) => {
                    let message = err.to_string();
                    self.failed(&w.item.id, err)?;
                    if let Some(summary) = Record::from_json(&w.item.summary) {
                        writes.push(Write::Failed(Box::new(summary), message));
                    }
                }
            }
        }
        Ok(writes)
    }

    /// Downloads the recordings of stored conversations (the audio catch-up).
    async fn fetch_recordings(&mut self, work: Vec<Work>) -> Result<Vec<Write>, SyncError> {
        let source = self.source;
        let Some(dir) = self.settings.audio_dir.clone() else {
            return Ok(Vec::new());
        };
        let results: Vec<(String, Result<AudioOutcome, polyai_data::Error>)> = stream::iter(work)
            .map(|w| {
                let dir = dir.clone();
                async move {
                    let outcome = recording(source, &w.item.id, &dir).await;
                    (w.item.id, outcome)
                }
            })
            .buffered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut writes = Vec::new();
        for (id, outcome) in results {
            match outcome {
                Ok(outcome) => {
                    self.failures_in_a_row = 0;
                    if let AudioOutcome::Saved(_, bytes) = &outcome {
                        self.counts.recordings += 1;
                        self.counts.recording_bytes += bytes;
                    }
                    writes.push(Write::Audio(id, outcome));
                }
                Err(err) => self.failed(&id, err)?,
            }
        }
        Ok(writes)
    }

    /// Counts a conversation that could not be read; stops the run when the error is not about
    /// that conversation (authentication, rate limit, network, local disk) or when too many
    /// failed in a row.
    fn failed(&mut self, id: &str, err: polyai_data::Error) -> Result<(), SyncError> {
        if !about_one_conversation(&err) {
            return Err(err.into());
        }
        self.counts.failed += 1;
        self.failures_in_a_row += 1;
        tracing::warn!(conversation = id, error = %err, "conversation not read");
        if self.first_failure.is_none() {
            self.first_failure = Some(format!("{id}: {err}"));
        }
        if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW {
            return Err(err.into());
        }
        Ok(())
    }
}

/// What reading one conversation gave.
struct Read {
    record: Record,
    audio: AudioOutcome,
    /// The recording failed (the detail is still stored; the recording is tried again later).
    audio_error: Option<polyai_data::Error>,
}

async fn read_one<S: Source>(
    source: &S,
    work: &Work,
    audio_dir: Option<&std::path::Path>,
) -> Result<Read, polyai_data::Error> {
    let id = &work.item.id;
    let detail = source.detail(id).await?;
    let record = match Record::from_json(&detail) {
        Some(record) if &record.conversation.conversation_id == id => record,
        Some(record) => {
            return Err(polyai_data::Error::InvalidRequest(format!(
                "asked for conversation {id}, the API answered with {}",
                record.conversation.conversation_id
            )));
        }
        None => {
            return Err(polyai_data::Error::InvalidRequest(format!(
                "the detail of conversation {id} has no conversationId"
            )));
        }
    };
    let (audio, audio_error) = match audio_dir {
        Some(dir) if work.audio && record.conversation.in_progress != Some(true) => {
            match recording(source, id, dir).await {
                Ok(outcome) => (outcome, None),
                Err(err) => (AudioOutcome::NotTried, Some(err)),
            }
        }
        _ => (AudioOutcome::NotTried, None),
    };
    Ok(Read {
        record,
        audio,
        audio_error,
    })
}

async fn recording<S: Source>(
    source: &S,
    id: &str,
    dir: &std::path::Path,
) -> Result<AudioOutcome, polyai_data::Error> {
    // Every id gets its own file inside `dir`, whatever its characters.
    let name = polyai_data::file_name_for_id(id, "wav");
    Ok(match source.recording(id, &dir.join(&name)).await? {
        Some(bytes) => AudioOutcome::Saved(name, bytes),
        None => AudioOutcome::None,
    })
}

/// Whether an error concerns one conversation (counted, and the run goes on) rather than the
/// whole run.
fn about_one_conversation(err: &polyai_data::Error) -> bool {
    use polyai_data::Error as E;
    match err {
        E::Api(api) => matches!(api.status(), 400 | 404 | 409 | 410 | 422 | 500..=599),
        E::Decode(_) | E::Audio { .. } | E::InvalidRequest(_) => true,
        _ => false,
    }
}

/// The page continued after the anchor, if the anchor is in it.
fn after_anchor(offset: u64, page: ListedPage, anchor: &str) -> Option<Found> {
    let i = page.items.iter().position(|item| item.id == anchor)?;
    Some(Found {
        offset,
        page,
        start: i + 1,
    })
}

/// Runs `f` on the store's connection on Tokio's blocking pool.
pub(crate) async fn blocking<R: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&mut rusqlite::Connection) -> Result<R, crate::error::StoreError> + Send + 'static,
) -> Result<R, crate::error::StoreError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || store.with(f)).await {
        Ok(result) => result,
        Err(join) => match join.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(crate::error::StoreError::Sqlite(
                "the database task was cancelled (the runtime is shutting down)".into(),
            )),
        },
    }
}

#[cfg(test)]
mod tests;
mod v3;

pub(crate) use v3::V3Settings;
