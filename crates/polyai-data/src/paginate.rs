//! Limit/offset pagination: a stream of pages and a stream of items, with prefetch and guards
//! against servers that never end.
//!
//! # Offset paging while conversations arrive
//!
//! The API lists conversations newest first and pages by `offset`. A conversation that starts
//! during a walk is inserted at the front, so every later page shifts by one: the last item of a
//! page shows up again as the first item of the next page (a duplicate), and `count` grows. A
//! conversation that disappears shifts the other way and one item may be skipped. Use
//! [`dedupe(true)`](crate::ListConversations::dedupe) to drop repeats by `conversationId`, and
//! treat a walk as a snapshot that may miss conversations created after it started.
//!
//! De-duplication looks back over a bounded window of the most recent ids (at least
//! [`DEDUPE_WINDOW`] and two pages), which is where shifted items reappear, so memory stays flat
//! however long the walk. A tool that must never write an item twice across a whole walk (or
//! across runs) keeps its own record of what it has written, as `polyai export` does.
//!
//! # When a walk ends
//!
//! After an empty page, once the next offset reaches the total the server reports (`count`, read
//! again from every page), or once `max_items` items were read. A page shorter than asked for
//! does **not** end the walk: servers cap the page size (the Data API behind some gateways at 100
//! or 1000) while still reporting the full `count`, so the next page is requested at the offset
//! after the items actually received, and the pages fetched at once after it are planned at that
//! page's length (a change of page length costs at most `concurrency` requests whose pages are
//! dropped). The walk stops with [`Error::Pagination`] when the server
//! returns the same page twice in a row, returns more items than its own `count` by more than a
//! page, or exceeds `max_pages`.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use crate::error::Error;
use crate::meta::ResponseMeta;
use crate::prefetch::{BoxFuture, Prefetched};

/// One page of results.
///
/// ```no_run
/// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
/// let page = client.agent("PROJECT-1").conversations().list().limit(20).await?;
/// println!("{} of {} conversations", page.items().len(), page.count());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub(crate) items: Vec<T>,
    pub(crate) count: u64,
    pub(crate) offset: u64,
    pub(crate) limit: u64,
    /// Items the server sent, before de-duplication removed any.
    pub(crate) received: u64,
    pub(crate) meta: ResponseMeta,
}

/// Ids a de-duplicating walk remembers at least (more when two pages hold more).
pub const DEDUPE_WINDOW: usize = 10_000;

/// Page size of a walk that wants everything and was given no `limit`: the largest page the
/// Data API serves (it caps `limit` at 1000, as does `polyai-mock`). Fewer, larger pages cut the
/// round trips of a full listing twentyfold against the server's default of 50; a server that
/// caps lower is still walked exactly, by the items that arrive.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Pages a walk fetches at once by default, once the first page has told it the total
/// (`count`). Four keeps a walk at 20 ms latency several times faster than one page at a time
/// while holding at most four pages in memory.
pub const DEFAULT_CONCURRENCY: usize = 4;

impl<T> Page<T> {
    /// The items of this page.
    pub fn items(&self) -> &[T] {
        &self.items
    }
    /// Takes the items.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
    /// Total number of matching items the server reported (not the page length).
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Offset this page was requested at.
    pub fn offset(&self) -> u64 {
        self.offset
    }
    /// Page size the server reported (its echo of `limit`). A server that caps pages reports its
    /// cap here, which can be less than the size asked for.
    pub fn limit(&self) -> u64 {
        self.limit
    }
    /// Offset of the next page: this page's offset plus the items the server actually sent
    /// (counted before de-duplication), or `None` when this page is the last — it was empty, or
    /// the next offset reaches `count`. A page shorter than asked for is not the last one when
    /// `count` says more follow.
    ///
    /// ```no_run
    /// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
    /// let page = client.agent("PROJECT-1").conversations().list().limit(5000).await?;
    /// // A server that caps pages at 1000 sends 1000 and reports `count` 3000: next is 1000.
    /// println!("{:?}", page.next_offset());
    /// # Ok(()) }
    /// ```
    pub fn next_offset(&self) -> Option<u64> {
        let next = self.offset.saturating_add(self.received);
        (self.received > 0 && next < self.count).then_some(next)
    }
    /// Status, correlation id and headers of the response that carried this page.
    ///
    /// ```no_run
    /// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
    /// let page = client.agent("PROJECT-1").conversations().list().correlation_id("audit-7").await?;
    /// println!("{} items, correlation id {}", page.items().len(), page.meta().correlation_id());
    /// # Ok(()) }
    /// ```
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }
}

/// What the walker needs from an item: a stable id for de-duplication and loop detection.
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

type PageFuture<T> = BoxFuture<Result<Page<T>, Error>>;

/// Fetches the page at `(offset, limit)`.
pub(crate) type FetchPage<T> = Arc<dyn Fn(u64, u64) -> PageFuture<T> + Send + Sync>;

/// Settings of one walk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    pub(crate) page_size: u64,
    pub(crate) start_offset: u64,
    pub(crate) max_items: Option<u64>,
    pub(crate) max_pages: u64,
    pub(crate) prefetch: bool,
    pub(crate) dedupe: bool,
    /// Pages in flight at once after the first (1: one page ahead).
    pub(crate) concurrency: usize,
}

impl Walk {
    /// The settings of a walk over everything: the largest pages, several at once.
    pub(crate) fn everything() -> Self {
        Walk {
            page_size: MAX_PAGE_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            ..Walk::default()
        }
    }
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            page_size: 50,
            start_offset: 0,
            max_items: None,
            max_pages: 100_000,
            prefetch: true,
            dedupe: false,
            concurrency: 1,
        }
    }
}

struct State<T> {
    fetch: FetchPage<T>,
    walk: Walk,
    next_offset: u64,
    read: u64,
    pages: u64,
    /// Fetches in flight, in offset order: `(offset, limit, fetch)`.
    pending: VecDeque<(u64, u64, Prefetched<Page<T>>)>,
    /// The total the latest page reported; `None` before the first page.
    count: Option<u64>,
    /// How far apart pages are planned: the length of the latest page (the page size before
    /// the first), so a server that caps pages below the size asked for is followed at its cap
    /// rather than at offsets its pages never reach.
    stride: u64,
    previous: Option<PageFingerprint>,
    recent: RecentIds,
    done: bool,
}

/// The ids of the most recent items of a walk, for de-duplication in bounded memory.
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    /// Records `id`; `false` when it is already in the window.
    fn insert(&mut self, id: &str, window: usize) -> bool {
        if self.set.contains(id) {
            return false;
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        while self.order.len() > window {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// What the loop guard remembers of a page: its length, first and last id and a hash of all its
/// ids, so a repeated page is caught without copying every id of every page.
#[derive(Debug, PartialEq, Eq)]
struct PageFingerprint {
    len: usize,
    first: String,
    last: String,
    hash: u64,
}

impl PageFingerprint {
    fn of<T: Keyed>(items: &[T]) -> Self {
        use std::hash::{BuildHasher, Hasher};
        // A fixed hasher: fingerprints of one walk are compared with each other only.
        let mut hasher =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                .build_hasher();
        for item in items {
            hasher.write(item.key().as_bytes());
            hasher.write_u8(0xff);
        }
        PageFingerprint {
            len: items.len(),
            first: items
                .first()
                .map_or_else(String::new, |i| i.key().to_owned()),
            last: items
                .last()
                .map_or_else(String::new, |i| i.key().to_owned()),
            hash: hasher.finish(),
        }
    }
}

impl<T: Keyed + Send + 'static> State<T> {
    /// The limit of a page after `planned` more items than were read.
    fn limit_after(&self, planned: u64) -> u64 {
        let remaining = self
            .walk
            .max_items
            .map_or(u64::MAX, |max| max.saturating_sub(self.read + planned));
        self.walk.page_size.min(remaining).max(1)
    }

    /// Starts fetches until `depth` are in flight, [`stride`](Self::stride) apart, never past
    /// the reported total or `max_items`.
    fn fill(&mut self, depth: usize, spawn: bool) {
        while self.pending.len() < depth {
            let offset = match self.pending.back() {
                Some(&(offset, _, _)) => offset + self.stride,
                None => self.next_offset,
            };
            let planned = offset - self.next_offset;
            let known_end = self.count.is_some_and(|count| offset >= count);
            let max_reached = self
                .walk
                .max_items
                .is_some_and(|max| self.read + planned >= max);
            if !self.pending.is_empty() && (known_end || max_reached) {
                return;
            }
            let limit = self.limit_after(planned);
            let fetch = Prefetched::start((self.fetch)(offset, limit), spawn);
            self.pending.push_back((offset, limit, fetch));
        }
    }

    async fn step(&mut self) -> Option<Result<Page<T>, Error>> {
        if self.done {
            return None;
        }
        if self.pending.is_empty() {
            self.fill(1, false);
        }
        let (_, _, pending) = self.pending.pop_front()?;
        let mut page = match pending.wait().await {
            Ok(page) => page,
            Err(err) => {
                self.done = true;
                return Some(Err(err));
            }
        };
        page.offset = self.next_offset;
        self.pages += 1;
        self.count = Some(page.count);
        let len = page.items.len() as u64;
        page.received = len;
        if len == 0 {
            self.done = true;
            self.pending.clear();
            return None;
        }
        if self
            .pending
            .front()
            .is_some_and(|&(next, _, _)| next != self.next_offset + len)
        {
            // The pages in flight were planned for pages of another length; they start at the
            // wrong offsets. Dropping them aborts them, and the walk goes on from what arrived,
            // planning at this page's length from now on.
            self.pending.clear();
        }
        self.stride = len;
        if let Err(err) = self.check_progress(&page) {
            self.done = true;
            return Some(Err(err));
        }
        // Page by what arrived, not by what was asked for: a capped page is not the last one.
        self.next_offset += len;
        self.read += len;
        if let Some(max) = self.walk.max_items
            && self.read >= max
        {
            let keep = (len - (self.read - max)) as usize;
            page.items.truncate(keep);
            page.received = keep as u64;
            self.read = max;
            self.done = true;
        }
        if self.next_offset >= page.count {
            self.done = true;
        }
        if self.done {
            self.pending.clear();
        } else if self.walk.prefetch {
            self.fill(self.walk.concurrency.max(1), true);
        }
        if self.walk.dedupe {
            let window = DEDUPE_WINDOW.max(2 * page.items.len());
            let recent = &mut self.recent;
            page.items.retain(|item| recent.insert(item.key(), window));
        }
        Some(Ok(page))
    }

    fn check_progress(&mut self, page: &Page<T>) -> Result<(), Error> {
        let fingerprint = PageFingerprint::of(&page.items);
        if self.previous.as_ref() == Some(&fingerprint) {
            return Err(Error::Pagination(format!(
                "the server returned the same page at offsets {} and {} (first id {}); it is ignoring `offset`",
                self.next_offset.saturating_sub(fingerprint.len as u64),
                self.next_offset,
                fingerprint.first
            )));
        }
        self.previous = Some(fingerprint);
        let read = self.read + page.items.len() as u64;
        if read > page.count.saturating_add(self.walk.page_size) {
            return Err(Error::Pagination(format!(
                "the server returned {read} items but reports a total of {}",
                page.count
            )));
        }
        if self.pages > self.walk.max_pages {
            return Err(Error::Pagination(format!(
                "more than {} pages; raise `max_pages` if this is expected",
                self.walk.max_pages
            )));
        }
        Ok(())
    }
}

/// Walks pages from `walk.start_offset`.
pub(crate) fn walk_pages<T: Keyed + Send + 'static>(
    fetch: FetchPage<T>,
    walk: Walk,
) -> PageStream<T> {
    let state = State {
        fetch,
        walk,
        next_offset: walk.start_offset,
        read: 0,
        pages: 0,
        pending: VecDeque::new(),
        count: None,
        stride: walk.page_size.max(1),
        previous: None,
        recent: RecentIds::default(),
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

/// A [`Stream`] of pages. Each page is fetched while the caller works on the previous one
/// (unless prefetch is off).
///
/// ```no_run
/// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
/// let mut pages = client.agent("PROJECT-1").conversations().list().limit(100).pages();
/// while let Some(page) = pages.try_next().await? {
///     println!("offset {}: {} items", page.offset(), page.items().len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct PageStream<T> {
    inner: BoxStream<'static, Result<Page<T>, Error>>,
}

impl<T: Send + 'static> PageStream<T> {
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
        f.write_str("PageStream")
    }
}

/// A [`Stream`] of items across pages.
///
/// ```no_run
/// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
/// let mut all = client.agent("PROJECT-1").conversations().list().dedupe(true).stream();
/// while let Some(conversation) = all.try_next().await? {
///     println!("{}", conversation.conversation_id);
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct ItemStream<T> {
    inner: BoxStream<'static, Result<T, Error>>,
}

impl<T: Send + 'static> ItemStream<T> {
    /// The items of a stream of pages, in order; an error ends it.
    pub(crate) fn flatten<P: Send + 'static>(
        pages: BoxStream<'static, Result<P, Error>>,
        items: fn(P) -> Vec<T>,
    ) -> Self {
        let inner = pages
            .flat_map(move |page| {
                // The page's own items, moved out one by one (no second `Vec` per page).
                let (items, error) = match page {
                    Ok(page) => (items(page), None),
                    Err(err) => (Vec::new(), Some(Err(err))),
                };
                stream::iter(items.into_iter().map(Ok).chain(error))
            })
            .boxed();
        ItemStream { inner }
    }

    /// The next item, `Ok(None)` at the end.
    pub async fn try_next(&mut self) -> Result<Option<T>, Error> {
        self.inner.next().await.transpose()
    }

    /// Reads every remaining item into a `Vec`.
    pub async fn collect_all(mut self) -> Result<Vec<T>, Error> {
        let mut all = Vec::new();
        while let Some(item) = self.try_next().await? {
            all.push(item);
        }
        Ok(all)
    }
}

impl<T> Stream for ItemStream<T> {
    type Item = Result<T, Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl<T> std::fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ItemStream")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Clone, PartialEq)]
    struct It(String);
    impl Keyed for It {
        fn key(&self) -> &str {
            &self.0
        }
    }

    /// A fake server over `items` (newest first) that records requests.
    fn server(
        items: Arc<Mutex<Vec<String>>>,
        calls: Arc<Mutex<Vec<(u64, u64)>>>,
        repeat_first: bool,
        count_override: Option<u64>,
    ) -> FetchPage<It> {
        Arc::new(move |offset, limit| {
            let items = items.clone();
            let calls = calls.clone();
            Box::pin(async move {
                calls.lock().map(|mut c| c.push((offset, limit))).ok();
                let all = items.lock().map(|v| v.clone()).unwrap_or_default();
                let from = if repeat_first { 0 } else { offset as usize };
                let page: Vec<It> = all
                    .iter()
                    .skip(from)
                    .take(limit as usize)
                    .cloned()
                    .map(It)
                    .collect();
                Ok(Page {
                    received: page.len() as u64,
                    items: page,
                    count: count_override.unwrap_or(all.len() as u64),
                    offset,
                    limit,
                    meta: ResponseMeta::empty(),
                })
            })
        })
    }

    fn ids(n: usize) -> Arc<Mutex<Vec<String>>> {
        Arc::new(Mutex::new((0..n).map(|i| format!("c{i}")).collect()))
    }

    async fn run(fetch: FetchPage<It>, walk: Walk) -> Result<Vec<It>, Error> {
        walk_pages(fetch, walk).items().collect_all().await
    }

    #[tokio::test]
    async fn empty_listing_makes_one_request() {
        let calls = Arc::new(Mutex::new(vec![]));
        let out = run(server(ids(0), calls.clone(), false, None), Walk::default()).await;
        assert_eq!(out.ok(), Some(vec![]));
        assert_eq!(
            *calls.lock().unwrap_or_else(|e| e.into_inner()),
            vec![(0, 50)]
        );
    }

    #[tokio::test]
    async fn exact_multiple_stops_on_count_without_extra_request() {
        let calls = Arc::new(Mutex::new(vec![]));
        let walk = Walk {
            page_size: 5,
            ..Walk::default()
        };
        let out = run(server(ids(15), calls.clone(), false, None), walk).await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(15));
        assert_eq!(
            *calls.lock().unwrap_or_else(|e| e.into_inner()),
            vec![(0, 5), (5, 5), (10, 5)]
        );
    }

    #[tokio::test]
    async fn a_count_larger_than_the_data_ends_on_the_empty_page() {
        let calls = Arc::new(Mutex::new(vec![]));
        let walk = Walk {
            page_size: 5,
            ..Walk::default()
        };
        let out = run(server(ids(7), calls.clone(), false, Some(1000)), walk).await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(7));
        assert_eq!(
            *calls.lock().unwrap_or_else(|e| e.into_inner()),
            vec![(0, 5), (5, 5), (7, 5)],
            "the short page is not the end; the empty page after it is"
        );
    }

    /// A server that sends at most `cap` items per page whatever the limit, reporting the full
    /// count.
    fn capped(total: usize, cap: u64, calls: Arc<Mutex<Vec<(u64, u64)>>>) -> FetchPage<It> {
        let inner = server(ids(total), Arc::default(), false, None);
        Arc::new(move |offset, limit| {
            calls.lock().map(|mut c| c.push((offset, limit))).ok();
            inner(offset, limit.min(cap))
        })
    }

    #[tokio::test]
    async fn capped_pages_are_followed_by_what_arrived() {
        for cap in [1u64, 100, 1000] {
            let calls = Arc::new(Mutex::new(vec![]));
            let walk = Walk {
                page_size: 5000,
                ..Walk::default()
            };
            let out = run(capped(3000, cap, calls.clone()), walk).await;
            let got = out.unwrap_or_default();
            assert_eq!(got.len(), 3000, "cap {cap}");
            assert_eq!(got.last().map(|i| i.0.as_str()), Some("c2999"));
            let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
            assert_eq!(
                calls.len() as u64,
                3000 / cap,
                "cap {cap}: no extra request"
            );
            assert!(
                calls
                    .iter()
                    .enumerate()
                    .all(|(i, &(offset, limit))| offset == i as u64 * cap && limit == 5000),
                "cap {cap}: offsets advance by what arrived"
            );
        }
    }

    #[tokio::test]
    async fn concurrent_walks_are_exact_and_in_order_whatever_the_cap() {
        for (total, cap) in [
            (10_000usize, 1000u64),
            (10_000, 37),
            (3001, 1000),
            (999, 37),
            (1, 37),
        ] {
            for concurrency in [1usize, 4, 16] {
                let calls = Arc::new(Mutex::new(vec![]));
                let walk = Walk {
                    concurrency,
                    ..Walk::everything()
                };
                let got = run(capped(total, cap, calls.clone()), walk).await;
                let got: Vec<String> = got.unwrap_or_default().into_iter().map(|i| i.0).collect();
                let want: Vec<String> = (0..total).map(|i| format!("c{i}")).collect();
                assert!(
                    got == want,
                    "{total} items, cap {cap}, concurrency {concurrency}"
                );
            }
        }
    }

    /// Requests a walk made over `fetch`, and whether it yielded `c0..c{total}` in order.
    async fn requests_of_an_exact_walk(
        fetch: impl Fn(Arc<Mutex<Vec<(u64, u64)>>>) -> FetchPage<It>,
        total: usize,
        concurrency: usize,
    ) -> u64 {
        let calls = Arc::new(Mutex::new(vec![]));
        let walk = Walk {
            concurrency,
            ..Walk::everything()
        };
        let got = run(fetch(calls.clone()), walk).await;
        let got: Vec<String> = got.unwrap_or_default().into_iter().map(|i| i.0).collect();
        let want: Vec<String> = (0..total).map(|i| format!("c{i}")).collect();
        assert!(got == want, "{total} items, concurrency {concurrency}");
        calls.lock().unwrap_or_else(|e| e.into_inner()).len() as u64
    }

    #[tokio::test]
    async fn a_capped_server_is_walked_at_its_cap_without_wasted_requests() {
        for (total, cap) in [(10_000usize, 37u64), (3001, 1000), (999, 37), (2000, 1)] {
            let pages = (total as u64).div_ceil(cap);
            for concurrency in [1usize, 4, 16] {
                let requests = requests_of_an_exact_walk(
                    |calls| capped(total, cap, calls),
                    total,
                    concurrency,
                )
                .await;
                // The first page (asked alone) shows the cap; every page after it is planned
                // at the cap, so none is wasted.
                assert_eq!(
                    requests, pages,
                    "{total} items, cap {cap}, concurrency {concurrency}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_change_of_page_length_wastes_at_most_concurrency_requests() {
        // Pages of 1000 up to offset 3000, then a cap of 37 (a gateway changing its mind).
        let total = 5000usize;
        let changing = |calls: Arc<Mutex<Vec<(u64, u64)>>>| -> FetchPage<It> {
            let inner = server(ids(total), Arc::default(), false, None);
            Arc::new(move |offset, limit| {
                calls.lock().map(|mut c| c.push((offset, limit))).ok();
                inner(offset, if offset < 3000 { limit } else { limit.min(37) })
            })
        };
        let pages = 3 + (total as u64 - 3000).div_ceil(37);
        for concurrency in [1usize, 4, 16] {
            let requests = requests_of_an_exact_walk(changing, total, concurrency).await;
            assert!(
                requests <= pages + concurrency as u64,
                "concurrency {concurrency}: {requests} requests for {pages} pages"
            );
        }
    }

    #[tokio::test]
    async fn full_pages_are_fetched_concurrently_up_to_the_count() {
        let calls = Arc::new(Mutex::new(vec![]));
        let walk = Walk {
            page_size: 10,
            concurrency: 4,
            ..Walk::default()
        };
        let out = run(server(ids(95), calls.clone(), false, None), walk).await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(95));
        let mut calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        calls.sort_unstable();
        let want: Vec<(u64, u64)> = (0..10).map(|i| (i * 10, 10)).collect();
        assert_eq!(calls, want, "one request per page, none past `count`");
    }

    #[tokio::test]
    async fn a_walk_holds_at_most_concurrency_pages_in_flight() {
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inner = server(ids(500), Arc::default(), false, None);
        let (flight, peak) = (in_flight.clone(), most.clone());
        let fetch: FetchPage<It> = Arc::new(move |offset, limit| {
            let inner = inner(offset, limit);
            let (flight, peak) = (flight.clone(), peak.clone());
            Box::pin(async move {
                use std::sync::atomic::Ordering::SeqCst;
                let now = flight.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                tokio::task::yield_now().await;
                let page = inner.await;
                flight.fetch_sub(1, SeqCst);
                page
            })
        });
        let walk = Walk {
            page_size: 10,
            concurrency: 3,
            ..Walk::default()
        };
        let out = run(fetch, walk).await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(500));
        let peak = most.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak}");
    }

    #[tokio::test]
    async fn next_offset_follows_received_items_not_the_limit() {
        let calls = Arc::new(Mutex::new(vec![]));
        let mut pages = walk_pages(
            capped(250, 100, calls),
            Walk {
                page_size: 500,
                ..Walk::default()
            },
        );
        let first = pages.try_next().await.ok().flatten();
        assert_eq!(first.as_ref().and_then(Page::next_offset), Some(100));
        assert_eq!(
            first.as_ref().map(Page::limit),
            Some(100),
            "the server's cap"
        );
        let _second = pages.try_next().await;
        let last = pages.try_next().await.ok().flatten();
        assert_eq!(last.as_ref().map(|p| p.items().len()), Some(50));
        assert_eq!(last.as_ref().and_then(Page::next_offset), None);
    }

    #[tokio::test]
    async fn dedupe_memory_is_a_bounded_window() {
        let mut recent = RecentIds::default();
        for i in 0..50_000 {
            assert!(recent.insert(&format!("id{i}"), 100));
        }
        assert_eq!(recent.set.len(), 100);
        assert_eq!(recent.order.len(), 100);
        assert!(
            !recent.insert("id49999", 100),
            "recent ids are still caught"
        );
        assert!(recent.insert("id0", 100), "old ones have left the window");
    }

    #[tokio::test]
    async fn max_items_and_start_offset() {
        let calls = Arc::new(Mutex::new(vec![]));
        let walk = Walk {
            page_size: 4,
            start_offset: 3,
            max_items: Some(6),
            ..Walk::default()
        };
        let out = run(server(ids(20), calls.clone(), false, None), walk).await;
        let got: Vec<String> = out.unwrap_or_default().into_iter().map(|i| i.0).collect();
        assert_eq!(got, ["c3", "c4", "c5", "c6", "c7", "c8"]);
        assert_eq!(
            *calls.lock().unwrap_or_else(|e| e.into_inner()),
            vec![(3, 4), (7, 2)]
        );
    }

    #[tokio::test]
    async fn repeated_page_is_an_error() {
        let calls = Arc::new(Mutex::new(vec![]));
        let walk = Walk {
            page_size: 2,
            ..Walk::default()
        };
        let out = run(server(ids(10), calls.clone(), true, Some(u64::MAX)), walk).await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("same page")));
        assert_eq!(calls.lock().map(|c| c.len()).unwrap_or(0), 2);
    }

    #[tokio::test]
    async fn arrivals_mid_walk_duplicate_and_dedupe_removes_them() {
        let items = ids(6);
        let calls = Arc::new(Mutex::new(vec![]));
        let inner = server(items.clone(), calls.clone(), false, None);
        // After the first page, a new conversation arrives at the front.
        let fetch: FetchPage<It> = Arc::new(move |offset, limit| {
            if offset == 3 {
                items.lock().map(|mut v| v.insert(0, "new".into())).ok();
            }
            inner(offset, limit)
        });
        let walk = Walk {
            page_size: 3,
            prefetch: false,
            ..Walk::default()
        };
        let plain = run(fetch.clone(), walk).await.unwrap_or_default();
        assert_eq!(plain.iter().filter(|i| i.0 == "c2").count(), 2);
        let walk = Walk {
            dedupe: true,
            page_size: 3,
            prefetch: false,
            ..Walk::default()
        };
        let deduped = run(fetch, walk).await.unwrap_or_default();
        let keys: HashSet<_> = deduped.iter().map(|i| i.0.clone()).collect();
        assert_eq!(keys.len(), deduped.len());
    }

    #[tokio::test]
    async fn endless_count_growth_hits_max_pages() {
        let fetch: FetchPage<It> = Arc::new(|offset, limit| {
            Box::pin(async move {
                Ok(Page {
                    items: (0..limit).map(|i| It(format!("x{}", offset + i))).collect(),
                    count: offset + limit * 2,
                    offset,
                    limit,
                    received: limit,
                    meta: ResponseMeta::empty(),
                })
            })
        });
        let walk = Walk {
            page_size: 10,
            max_pages: 50,
            ..Walk::default()
        };
        let out = run(fetch, walk).await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("max_pages")));
    }

    #[tokio::test]
    async fn fetch_errors_end_the_stream() {
        let fetch: FetchPage<It> =
            Arc::new(|_, _| Box::pin(async { Err(Error::InvalidRequest("boom".into())) }));
        let mut pages = walk_pages(fetch, Walk::default());
        assert!(pages.try_next().await.is_err());
        assert!(matches!(pages.try_next().await, Ok(None)));
    }
}
