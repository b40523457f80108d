//! The walk over the Conversations API v3 listing: by `start_time` and cursor, turns inline.
//! The pages are the library's: [`Listing::v3`] of one environment ([`Lane::Environment`]),
//! read as text ([`Listing::text_pages`]: each item's record and JSON text), resumed from a saved [`Position`](polyai_data::paginate::Position); this
//! module decides only where a walk starts and what of each page to store.
//!
//! v3 lists one environment at a time (`live` unless asked), so a run walks each of
//! the environments it stores in turn. For each, a walk lists every conversation that started at or after
//! a lower bound, newest first, one cursor page after another, and stores those not stored yet
//! and again those younger than the refresh window — no detail requests: a page carries the
//! turns.
//!
//! **The lower bound.** Once an environment's whole history is stored (a walk without a bound
//! finished, or a Data API walk reached the end of its listing, and no Data API walk left a gap
//! since), a walk starts at the start time of the newest stored conversation of the environment
//! minus the overlap window (conversations that appear in the listing late, or whose start time
//! shifts, are still found), or at the refresh window's start when that is earlier. Until then
//! it has no bound and lists the whole history.
//!
//! **Resuming.** Each page is committed in one transaction with the walk's bound and the
//! position of the next page (`sync_v3.cursor`: the position's text, `cursor:…`; a bare cursor
//! written by an earlier version is read as one). A run killed at any point leaves them; the next run goes on from
//! that cursor with the same bound, then walks once more from the newest stored conversation for
//! what arrived meanwhile (a cursor only lists what existed when its walk began). A cursor the
//! server no longer accepts (400) restarts that walk at its bound: stored conversations are
//! skipped, so nothing is stored twice.

use std::collections::HashSet;

use polyai_data::listing::{Environments, Lane, ListedText, Listing};
use polyai_data::v3::Project;
use polyai_data::{ClientEnv, Timestamp};

use super::{Flow, Kind, Walker, blocking};
use crate::error::SyncError;
use crate::record::{Record, format_micros};
use crate::source::Source;
use crate::store::{self, AudioOutcome, V3Update, V3Walk, WalkUpdate, Write};

/// Settings of the v3 walks of a run.
#[derive(Debug, Clone)]
pub(crate) struct V3Settings {
    pub account_id: String,
    /// How far before the newest stored conversation a walk starts.
    pub overlap: std::time::Duration,
    /// The start of the refresh window, when there is one.
    pub refresh_from: Option<Timestamp>,
    /// Conversations per page (1 to 1000).
    pub page_size: u64,
}

impl<S: Source> Walker<'_, S> {
    /// Walks every environment's v3 listing (see the module notes).
    pub(crate) async fn walk_v3(
        &mut self,
        project: &Project,
        v3: &V3Settings,
    ) -> Result<Flow, SyncError> {
        // v3 has no recordings: the catch-up downloads them from the Data API.
        self.audio_inline = false;
        for environment in self.settings.environments.each() {
            let state = self.v3_state(environment).await?;
            if let Some(walk) = state.walking
                && self
                    .walk_environment(project, v3, environment, walk)
                    .await?
                    == Flow::PageLimit
            {
                return Ok(Flow::PageLimit);
            }
            let state = self.v3_state(environment).await?;
            let start_time = if state.complete && !self.settings.full {
                let newest = state
                    .newest
                    .as_deref()
                    .and_then(|t| t.parse::<Timestamp>().ok());
                let from = newest.and_then(|t| t.checked_sub(v3.overlap));
                match (from, v3.refresh_from) {
                    (Some(from), Some(refresh)) => Some(from.min(refresh)),
                    (from, _) => from,
                }
                .and_then(|t| format_micros(t.unix_micros()))
            } else {
                None
            };
            let walk = V3Walk {
                start_time,
                next: None,
            };
            if self
                .walk_environment(project, v3, environment, walk)
                .await?
                == Flow::PageLimit
            {
                return Ok(Flow::PageLimit);
            }
        }
        Ok(Flow::Done)
    }

    async fn v3_state(&self, environment: ClientEnv) -> Result<store::V3State, SyncError> {
        let agent = self.settings.agent_id.clone();
        Ok(blocking(&self.store, move |conn| {
            store::v3_state(conn, &agent, environment)
        })
        .await?)
    }

    /// One walk of one environment, from `walk`'s saved position (or its first page) to its
    /// end: the pages of the library's [`Listing`] of that environment, each committed with the
    /// [`Position`](polyai_data::paginate::Position) of the next.
    async fn walk_environment(
        &mut self,
        project: &Project,
        v3: &V3Settings,
        environment: ClientEnv,
        walk: V3Walk,
    ) -> Result<Flow, SyncError> {
        if self.page_limit_reached() {
            return Ok(Flow::PageLimit);
        }
        let start = match walk.start_time.as_deref() {
            Some(text) => Some(text.parse::<Timestamp>().map_err(|e| {
                SyncError::Options(format!("the stored v3 start time {text:?}: {e}"))
            })?),
            None => None,
        };
        // No page fetched ahead: a page of 1000 conversations with their turns is tens of MB
        // while it is parsed, and the commit of the one before takes as long as its fetch.
        let mut list = project
            .conversations()
            .include_latency(true)
            .limit(v3.page_size)
            .prefetch(false);
        if let Some(start) = start {
            list = list.start_time(start);
        }
        let listing = Listing::v3(list).environments(Environments::Only(environment));
        let lane = Lane::Environment(environment);
        let mut resumed = walk.next.is_some();
        // Each item's text is its `raw` column: no JSON tree of the page is built.
        let mut pages = listing.text_pages(lane, walk.next);
        let mut ended = false;
        loop {
            let page = match pages.try_next().await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(err) if resumed && err.status() == Some(400) => {
                    // The cursor expired or the server changed: the walk starts again at its
                    // bound; what it stored is skipped.
                    tracing::warn!(environment = environment.as_str(), error = %err, "the saved v3 cursor was refused; walking again from its start time");
                    resumed = false;
                    pages = listing.text_pages(lane, None);
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            resumed = false;
            let next = page.next();
            ended = next.is_none();
            let update = V3Update {
                environment,
                account_id: v3.account_id.clone(),
                start_time: walk.start_time.clone(),
                next,
            };
            self.commit_v3_page(page.into_items(), update).await?;
            if ended {
                break;
            }
            if self.page_limit_reached() {
                return Ok(Flow::PageLimit);
            }
        }
        if !ended {
            // The listing ended with an empty page.
            let update = V3Update {
                environment,
                account_id: v3.account_id.clone(),
                start_time: walk.start_time.clone(),
                next: None,
            };
            self.commit_v3_page(Vec::new(), update).await?;
        }
        Ok(Flow::Done)
    }

    /// Stores the page's new conversations and the young ones again, with the walk's place.
    async fn commit_v3_page(
        &mut self,
        items: Vec<ListedText>,
        update: V3Update,
    ) -> Result<(), SyncError> {
        let listed = items.len() as u64;
        let mut records = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Ok((conversation, raw)) => records.push(Record { conversation, raw }),
                Err(unreadable) => {
                    let id = unreadable
                        .raw
                        .get("id")
                        .map_or_else(|| "<no id>".to_owned(), ToString::to_string);
                    self.failed(
                        &id,
                        polyai_data::Error::InvalidRequest(
                            "a v3 listing item has no string `id`, so it cannot be stored or \
                             read again by a later run; the rest of its page was stored"
                                .into(),
                        ),
                    )?;
                }
            }
        }
        let ids: Vec<String> = records
            .iter()
            .map(|r| r.conversation.conversation_id.clone())
            .collect();
        let agent = self.settings.agent_id.clone();
        let known = blocking(&self.store, move |conn| store::known(conn, &agent, &ids)).await?;
        let mut writes = Vec::new();
        let mut in_page = HashSet::new();
        for record in records {
            let id = &record.conversation.conversation_id;
            if self.read.contains(id) || !in_page.insert(id.clone()) {
                // Listed twice in this run (a resumed walk, then the walk for what arrived; a
                // young one, since any other is stored by then), or twice in the page.
                continue;
            }
            let young = match (&self.settings.refresh_from, &record.conversation.started_at) {
                (Some(from), Some(started)) => started.to_rfc3339_micros() >= *from,
                _ => false,
            };
            let kind = match known.get(id) {
                None => Kind::New,
                Some(k) if !k.detail => Kind::Retry,
                Some(_) if young => Kind::Refresh,
                Some(_) => continue,
            };
            if young {
                self.read.insert(id.clone());
            }
            match kind {
                Kind::New => self.counts.new += 1,
                Kind::Refresh => self.counts.refreshed += 1,
                Kind::Retry => self.counts.retried += 1,
            }
            writes.push(Write::Detail(Box::new(record), AudioOutcome::NotTried));
        }
        self.counts.pages += 1;
        self.counts.listed += listed;
        let update = WalkUpdate {
            v3: Some(update),
            ..WalkUpdate::default()
        };
        self.commit(writes, update, false).await
    }
}
