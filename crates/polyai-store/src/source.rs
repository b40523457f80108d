//! Where conversations come from: a listing in pages, one detail per conversation, and
//! recordings. [`polyai_data::Agent`] is the source of a real sync (the Data API's
//! newest-first, offset-paged listing); tests drive the walk with scripted sources.
//!
//! The Conversations API v3, whose cursor pages carry the turns inline and filter by
//! `start_time`, is a second walk (`walk/v3.rs`) over the same [`Store`](crate::Store)
//! statements (`commit_page`): its place in the listing is a cursor and a time, where this walk
//! keeps an anchor id and an offset. This source still serves its retries and recordings.

use std::path::Path;

use futures_util::future::BoxFuture;
use polyai_data::models::ConversationSummary;
use serde_json::Value;

use crate::record::normalize_time;

/// One listed conversation.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub id: String,
    /// Start time, normalised (see [`normalize_time`]); `None` when absent or unreadable.
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
    pub(crate) fn from_summary(summary: &ConversationSummary) -> Listed {
        let started = summary
            .started_at
            .as_deref()
            .or(summary.created_at.as_deref())
            .and_then(normalize_time);
        Listed {
            id: summary.conversation_id.clone(),
            started,
            summary: serde_json::to_value(summary).unwrap_or(Value::Null),
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
            let page = self
                .conversations()
                .list()
                .limit(limit)
                .offset(offset)
                .await?;
            Ok(ListedPage {
                // A Data API page always reports its total.
                count: page.count().unwrap_or_default(),
                items: page.items().iter().map(Listed::from_summary).collect(),
            })
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
