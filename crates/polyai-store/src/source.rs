//! Where conversations come from: a listing in pages, one detail per conversation, and
//! recordings. [`polyai_data::Agent`] is the source of a real sync: its pages are those of the
//! library's [`Listing`] of the Data API (newest first, by offset), requested one at a time at the
//! offsets the walk chooses; tests drive the walk with scripted sources.
//!
//! The Conversations API v3, whose cursor pages carry the turns inline and filter by
//! `start_time`, is walked as the [`Listing`]'s pages of each environment (`walk/v3.rs`) over the
//! same [`Store`](crate::Store) statements (`commit_page`): its place is the listing's
//! [`Position`] and a time, where the Data API walk keeps an anchor id and an offset. This source
//! still serves its retries and recordings.

use std::path::Path;

use futures_util::future::BoxFuture;
use polyai_data::listing::{Environments, Lane, Listing};
use polyai_data::paginate::Position;
use polyai_data::record::ConversationRecord;
use serde_json::Value;

use crate::record::time_text;

/// One listed conversation.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub id: String,
    /// Start time (else creation time) as the tables hold it; `None` when absent or unreadable.
    pub started: Option<String>,
    /// The listing item as sent, kept for a conversation whose detail cannot be read.
    pub summary: Value,
}

/// One page of the listing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListedPage {
    pub items: Vec<Listed>,
    /// The listing's total when this page was read.
    pub count: u64,
}

/// What a sync reads from.
pub(crate) trait Source: Send + Sync {
    /// The page of at most `limit` conversations from `offset`, newest first.
    fn list(
        &self,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'_, Result<ListedPage, polyai_data::Error>>;
    /// One conversation as the API sent it.
    fn detail<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, polyai_data::Error>>;
    /// Saves the combined recording to `path`; `Ok(None)` when there is none.
    fn recording<'a>(
        &'a self,
        id: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<Option<u64>, polyai_data::Error>>;
}

impl Listed {
    /// A record of the library's listing (read with `keep_raw`).
    pub(crate) fn from_record(record: ConversationRecord) -> Listed {
        let started = time_text(record.started_at.or(record.created_at));
        Listed {
            id: record.conversation_id,
            started,
            summary: record.raw.unwrap_or(Value::Null),
        }
    }
}

impl Source for polyai_data::Agent {
    fn list(
        &self,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'_, Result<ListedPage, polyai_data::Error>> {
        Box::pin(async move {
            // Every environment: the walk passes over the others itself, as stored history.
            let listing = Listing::data(self.conversations().list().limit(limit))
                .environments(Environments::All)
                .keep_raw(true);
            let page = listing
                .page(Lane::Whole, Some(Position::Offset(offset)))
                .await?;
            // A Data API page always reports its total.
            let count = page.count().unwrap_or_default();
            let items = page
                .into_items()
                .into_iter()
                .map(|item| match item {
                    Ok(record) => Ok(Listed::from_record(record)),
                    // The walk finds its place by the items' count: a page it cannot read
                    // whole stops the run.
                    Err(unreadable) => Err(polyai_data::Error::InvalidRequest(format!(
                        "the listing page at offset {offset} holds {unreadable}"
                    ))),
                })
                .collect::<Result<_, _>>()?;
            Ok(ListedPage { items, count })
        })
    }

    fn detail<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, polyai_data::Error>> {
        Box::pin(self.conversations().get(id).json())
    }

    fn recording<'a>(
        &'a self,
        id: &'a str,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<Option<u64>, polyai_data::Error>> {
        Box::pin(async move {
            let download = match self.audio(id).send().await {
                Ok(download) => download,
                Err(err) if err.is_not_found() => return Ok(None),
                Err(err) => return Err(err),
            };
            Ok(Some(download.save_to(path).await?.bytes))
        })
    }
}
