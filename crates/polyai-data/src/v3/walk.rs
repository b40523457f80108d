//! Cursor paging: [`Page`], and [`PageStream`], which follows `cursor` from page to page with the
//! next page fetched while the caller works on the current one.
//!
//! A walk ends after a page without a cursor (or an empty page), or once `max_items` items were
//! read. It stops with [`Error::Pagination`] when the server hands back the cursor it was just
//! given (it would loop forever) or after `max_pages` pages.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use crate::ItemStream;
use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::prefetch::{BoxFuture, Prefetched};

/// One page of the v3 listing.
///
/// ```no_run
/// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
/// let page = project.conversations().limit(100).await?;
/// println!("{} conversations", page.items().len());
/// if let Some(cursor) = page.cursor() {
///     let next = project.conversations().limit(100).cursor(cursor).await?;
///     # let _ = next;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) cursor: Option<String>,
    pub(crate) next_offset: Option<u64>,
    pub(crate) meta: ResponseMeta,
}

impl<T> Page<T> {
    /// The conversations of this page.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Takes the conversations.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Where the next page starts (pass it to
    /// [`ListConversations::cursor`](crate::v3::ListConversations::cursor)); `None` on the last
    /// page.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The offset of the next page, when the server gave one (first pages and offset requests).
    pub fn next_offset(&self) -> Option<u64> {
        self.next_offset
    }

    /// Status, correlation id and headers of the response that carried this page.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }
}

/// Settings of one walk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    pub(crate) max_items: Option<u64>,
    pub(crate) max_pages: u64,
    pub(crate) prefetch: bool,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            max_items: None,
            max_pages: 100_000,
            prefetch: true,
        }
    }
}

/// Fetches the page at a cursor (`None`: the first page), asking for at most `remaining` items.
type Fetch<T> =
    Box<dyn Fn(Option<String>, Option<u64>) -> BoxFuture<Result<Page<T>, Error>> + Send + Sync>;

struct State<T> {
    fetch: Fetch<T>,
    walk: Walk,
    /// The cursor the pending (or next) fetch uses.
    cursor: Option<String>,
    pending: Option<Prefetched<Page<T>>>,
    read: u64,
    pages: u64,
    done: bool,
}

impl<T: Send + 'static> State<T> {
    fn remaining(&self) -> Option<u64> {
        self.walk
            .max_items
            .map(|max| max.saturating_sub(self.read).max(1))
    }

    fn start(&self, ahead: bool) -> Prefetched<Page<T>> {
        Prefetched::start((self.fetch)(self.cursor.clone(), self.remaining()), ahead)
    }

    async fn step(&mut self) -> Option<Result<Page<T>, Error>> {
        if self.done {
            return None;
        }
        let pending = match self.pending.take() {
            Some(pending) => pending,
            None => self.start(false),
        };
        let mut page = match pending.wait().await {
            Ok(page) => page,
            Err(err) => {
                self.done = true;
                return Some(Err(err));
            }
        };
        self.pages += 1;
        if page.items.is_empty() {
            self.done = true;
            return None;
        }
        if self.pages > self.walk.max_pages {
            self.done = true;
            return Some(Err(Error::Pagination(format!(
                "more than {} pages; raise `max_pages` if this is expected",
                self.walk.max_pages
            ))));
        }
        if page.cursor.is_some() && page.cursor == self.cursor {
            self.done = true;
            return Some(Err(Error::Pagination(format!(
                "the server answered cursor {} with the same cursor; it is not advancing",
                page.cursor.as_deref().unwrap_or_default()
            ))));
        }
        self.read += page.items.len() as u64;
        if let Some(max) = self.walk.max_items
            && self.read >= max
        {
            let extra = (self.read - max) as usize;
            page.items.truncate(page.items.len() - extra);
            self.read = max;
            self.done = true;
        }
        match &page.cursor {
            Some(next) if !self.done => {
                self.cursor = Some(next.clone());
                self.pending = Some(self.start(self.walk.prefetch));
            }
            _ => self.done = true,
        }
        Some(Ok(page))
    }
}

/// Walks pages from `first` (a cursor, or `None` for the first page).
pub(crate) fn walk_pages<T, F>(fetch: F, first: Option<String>, walk: Walk) -> PageStream<T>
where
    T: Send + 'static,
    F: Fn(Option<String>, Option<u64>) -> BoxFuture<Result<Page<T>, Error>> + Send + Sync + 'static,
{
    let state = State {
        fetch: Box::new(fetch),
        walk,
        cursor: first,
        pending: None,
        read: 0,
        pages: 0,
        done: walk.max_items == Some(0),
    };
    let inner = stream::unfold(state, |mut state| async move {
        let item = state.step().await?;
        Some((item, state))
    });
    PageStream {
        inner: inner.boxed(),
    }
}

/// A [`Stream`] of v3 pages, following cursors; each page is fetched while the caller works on
/// the previous one (unless prefetch is off).
///
/// ```no_run
/// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
/// let mut pages = project.conversations().limit(1000).pages();
/// while let Some(page) = pages.try_next().await? {
///     println!("{} conversations; resume from {:?}", page.items().len(), page.cursor());
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct PageStream<T> {
    inner: BoxStream<'static, Result<Page<T>, Error>>,
}

impl<T: Send + 'static> PageStream<T> {
    /// A stream that yields `err` once.
    pub(crate) fn failed(err: Error) -> Self {
        PageStream {
            inner: stream::iter([Err(err)]).boxed(),
        }
    }

    /// The next page, `Ok(None)` at the end.
    pub async fn try_next(&mut self) -> Result<Option<Page<T>>, Error> {
        self.inner.next().await.transpose()
    }

    /// A stream of the items of every page.
    pub fn items(self) -> ItemStream<T> {
        ItemStream::flatten(self.inner, |page| page.items)
    }
}

impl<T> Stream for PageStream<T> {
    type Item = Result<Page<T>, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> std::fmt::Debug for PageStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("v3::PageStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The requests a fake server saw: (cursor, items asked for).
    type Calls = Arc<Mutex<Vec<(Option<String>, Option<u64>)>>>;

    /// A fake server over `n` items in pages of `size`, cursors `"c<offset>"`; records requests.
    fn server(
        n: u64,
        size: u64,
        calls: Calls,
        stuck: bool,
    ) -> impl Fn(Option<String>, Option<u64>) -> BoxFuture<Result<Page<u64>, Error>> + Send + Sync
    {
        move |cursor, remaining| {
            calls
                .lock()
                .map(|mut c| c.push((cursor.clone(), remaining)))
                .ok();
            let from: u64 = cursor
                .as_deref()
                .and_then(|c| c.strip_prefix('c'))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let take = remaining.unwrap_or(size).min(size);
            let to = (from + take).min(n);
            let next = if stuck { from } else { to };
            Box::pin(async move {
                Ok(Page {
                    items: (from..to).collect(),
                    cursor: (to < n).then(|| format!("c{next}")),
                    next_offset: None,
                    meta: ResponseMeta::empty(),
                })
            })
        }
    }

    async fn all(stream: PageStream<u64>) -> Result<Vec<u64>, Error> {
        stream.items().collect_all().await
    }

    #[tokio::test]
    async fn follows_cursors_to_the_end() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let out = all(walk_pages(
            server(25, 10, calls.clone(), false),
            None,
            Walk::default(),
        ))
        .await;
        assert_eq!(out.ok(), Some((0..25).collect()));
        let cursors: Vec<Option<String>> = calls
            .lock()
            .map(|c| c.iter().map(|(cursor, _)| cursor.clone()).collect())
            .unwrap_or_default();
        assert_eq!(cursors, [None, Some("c10".into()), Some("c20".into())]);
    }

    #[tokio::test]
    async fn max_items_asks_for_no_more_than_needed() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let walk = Walk {
            max_items: Some(13),
            ..Walk::default()
        };
        let out = all(walk_pages(
            server(100, 10, calls.clone(), false),
            Some("c5".into()),
            walk,
        ))
        .await;
        assert_eq!(out.ok(), Some((5..18).collect()));
        let asked: Vec<Option<u64>> = calls
            .lock()
            .map(|c| c.iter().map(|(_, r)| *r).collect())
            .unwrap_or_default();
        assert_eq!(asked, [Some(13), Some(3)]);
    }

    #[tokio::test]
    async fn a_cursor_that_does_not_advance_is_an_error() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let out = all(walk_pages(
            server(100, 10, calls, true),
            None,
            Walk::default(),
        ))
        .await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("same cursor")));
    }

    #[tokio::test]
    async fn max_pages_stops_an_endless_walk() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let walk = Walk {
            max_pages: 3,
            ..Walk::default()
        };
        let out = all(walk_pages(server(u64::MAX, 10, calls, false), None, walk)).await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("max_pages")));
    }
}
