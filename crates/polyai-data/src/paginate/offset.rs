//! The offset planner: pages planned at the length of the latest page, several at once once the
//! total is known, never past it; de-duplication in a bounded window; loop guards.

use std::collections::{HashSet, VecDeque};

use crate::error::Error;
use crate::paginate::walk::{PageRequest, Planner};
use crate::paginate::{DEDUPE_WINDOW, Page, Position};

/// What an offset walk needs from an item: a stable id for de-duplication and loop detection.
pub(crate) trait Keyed {
    fn key(&self) -> &str;
}

/// Where an offset walk stands.
pub(crate) struct Offsets {
    /// Where the next page to read starts.
    next_offset: u64,
    /// How far apart pages are planned: the length of the latest page (the page size before the
    /// first), so a server that caps pages below the size asked for is followed at its cap rather
    /// than at offsets its pages never reach.
    stride: u64,
    /// The total the latest page reported; `None` before the first page.
    count: Option<u64>,
    /// The page size asked for, which the total may be exceeded by while items arrive.
    page_size: u64,
    previous: Option<PageFingerprint>,
    /// `Some` when de-duplicating.
    recent: Option<RecentIds>,
}

impl Offsets {
    /// A walk from `start` in pages of `page_size`, dropping repeats when `dedupe`.
    pub(crate) fn new(start: u64, page_size: u64, dedupe: bool) -> Self {
        Offsets {
            next_offset: start,
            stride: page_size.max(1),
            count: None,
            page_size,
            previous: None,
            recent: dedupe.then(RecentIds::default),
        }
    }
}

impl<T: Keyed + Send + 'static> Planner<T> for Offsets {
    fn plan(&self, after: Option<&PageRequest>) -> Option<(Option<Position>, u64)> {
        let offset = match after {
            None => self.next_offset,
            Some(request) => {
                let offset = request.position.as_ref()?.offset()? + self.stride;
                if self.count.is_some_and(|count| offset >= count) {
                    return None;
                }
                offset
            }
        };
        Some((Some(Position::Offset(offset)), offset - self.next_offset))
    }

    fn arrived(&mut self, page: &Page<T>, read: u64) -> Result<(), Error> {
        let len = page.items.len() as u64;
        self.count = page.count;
        self.stride = len;
        let fingerprint = PageFingerprint::of(&page.items);
        if self.previous.as_ref() == Some(&fingerprint) {
            return Err(Error::Pagination(format!(
                "the server returned the same page at offsets {} and {} (first id {}); it is ignoring `offset`",
                self.next_offset.saturating_sub(len),
                self.next_offset,
                fingerprint.first
            )));
        }
        self.previous = Some(fingerprint);
        if let Some(count) = page.count
            && read + len > count.saturating_add(self.page_size)
        {
            return Err(Error::Pagination(format!(
                "the server returned {} items but reports a total of {count}",
                read + len
            )));
        }
        // Page by what arrived, not by what was asked for: a capped page is not the last one.
        self.next_offset += len;
        Ok(())
    }

    fn ended(&self, _page: &Page<T>) -> bool {
        self.count.is_some_and(|count| self.next_offset >= count)
    }

    fn finish(&mut self, page: &mut Page<T>) {
        if let Some(recent) = &mut self.recent {
            let window = DEDUPE_WINDOW.max(2 * page.items.len());
            page.items.retain(|item| recent.insert(item.key(), window));
        }
    }
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
        let key = |item: Option<&T>| item.map_or_else(String::new, |i| i.key().to_owned());
        PageFingerprint {
            len: items.len(),
            first: key(items.first()),
            last: key(items.last()),
            hash: hasher.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::meta::ResponseMeta;
    use crate::paginate::walk::{Fetch, Walk, walk_pages};
    use crate::paginate::{DEFAULT_CONCURRENCY, MAX_PAGE_SIZE};

    #[derive(Debug, Clone, PartialEq)]
    struct It(String);
    impl Keyed for It {
        fn key(&self) -> &str {
            &self.0
        }
    }

    /// The requests a fake server saw: (offset, limit).
    type Calls = Arc<Mutex<Vec<(u64, u64)>>>;

    /// The settings of an offset walk; `run` walks them.
    #[derive(Clone, Copy)]
    struct Settings {
        walk: Walk,
        start: u64,
        dedupe: bool,
    }

    impl Default for Settings {
        fn default() -> Self {
            Settings {
                walk: Walk {
                    page_size: Some(50),
                    ..Walk::default()
                },
                start: 0,
                dedupe: false,
            }
        }
    }

    impl Settings {
        fn pages(size: u64) -> Self {
            let mut settings = Settings::default();
            settings.walk.page_size = Some(size);
            settings
        }

        /// A walk over everything: the largest pages, several at once.
        fn everything(concurrency: usize) -> Self {
            let mut settings = Settings::pages(MAX_PAGE_SIZE);
            settings.walk.concurrency = concurrency;
            settings
        }

        fn stream(self, fetch: Fetch<It>) -> crate::paginate::PageStream<It> {
            let size = self.walk.page_size.unwrap_or(50);
            walk_pages(
                fetch,
                self.walk,
                Offsets::new(self.start, size, self.dedupe),
            )
        }
    }

    /// The (offset, limit) of a request.
    fn asked(request: &PageRequest) -> (u64, u64) {
        let offset = request.position.as_ref().and_then(Position::offset);
        (
            offset.unwrap_or(u64::MAX),
            request.limit.unwrap_or(u64::MAX),
        )
    }

    /// A fake server over `items` (newest first) that records requests.
    fn server(
        items: Arc<Mutex<Vec<String>>>,
        calls: Calls,
        repeat_first: bool,
        count_override: Option<u64>,
    ) -> Fetch<It> {
        Arc::new(move |request| {
            let (offset, limit) = asked(&request);
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
                let count = count_override.unwrap_or(all.len() as u64);
                Ok(Page::at_offset(
                    page,
                    offset,
                    count,
                    limit,
                    ResponseMeta::empty(),
                ))
            })
        })
    }

    fn ids(n: usize) -> Arc<Mutex<Vec<String>>> {
        Arc::new(Mutex::new((0..n).map(|i| format!("c{i}")).collect()))
    }

    fn seen(calls: &Calls) -> Vec<(u64, u64)> {
        calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    async fn run(fetch: Fetch<It>, settings: Settings) -> Result<Vec<It>, Error> {
        settings.stream(fetch).items().collect_all().await
    }

    #[tokio::test]
    async fn empty_listing_makes_one_request() {
        let calls = Calls::default();
        let out = run(
            server(ids(0), calls.clone(), false, None),
            Settings::default(),
        )
        .await;
        assert_eq!(out.ok(), Some(vec![]));
        assert_eq!(seen(&calls), vec![(0, 50)]);
    }

    #[tokio::test]
    async fn exact_multiple_stops_on_count_without_extra_request() {
        let calls = Calls::default();
        let out = run(
            server(ids(15), calls.clone(), false, None),
            Settings::pages(5),
        )
        .await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(15));
        assert_eq!(seen(&calls), vec![(0, 5), (5, 5), (10, 5)]);
    }

    #[tokio::test]
    async fn a_count_larger_than_the_data_ends_on_the_empty_page() {
        let calls = Calls::default();
        let out = run(
            server(ids(7), calls.clone(), false, Some(1000)),
            Settings::pages(5),
        )
        .await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(7));
        assert_eq!(
            seen(&calls),
            vec![(0, 5), (5, 5), (7, 5)],
            "the short page is not the end; the empty page after it is"
        );
    }

    /// A server that sends at most `cap` items per page whatever the limit, reporting the full
    /// count.
    fn capped(total: usize, cap: u64, calls: Calls) -> Fetch<It> {
        let inner = server(ids(total), Calls::default(), false, None);
        Arc::new(move |mut request| {
            calls.lock().map(|mut c| c.push(asked(&request))).ok();
            request.limit = request.limit.map(|limit| limit.min(cap));
            inner(request)
        })
    }

    #[tokio::test]
    async fn capped_pages_are_followed_by_what_arrived() {
        for cap in [1u64, 100, 1000] {
            let calls = Calls::default();
            let out = run(capped(3000, cap, calls.clone()), Settings::pages(5000)).await;
            let got = out.unwrap_or_default();
            assert_eq!(got.len(), 3000, "cap {cap}");
            assert_eq!(got.last().map(|i| i.0.as_str()), Some("c2999"));
            let calls = seen(&calls);
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
            for concurrency in [1usize, DEFAULT_CONCURRENCY, 16] {
                let got = run(
                    capped(total, cap, Calls::default()),
                    Settings::everything(concurrency),
                )
                .await;
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
        fetch: impl Fn(Calls) -> Fetch<It>,
        total: usize,
        concurrency: usize,
    ) -> u64 {
        let calls = Calls::default();
        let got = run(fetch(calls.clone()), Settings::everything(concurrency)).await;
        let got: Vec<String> = got.unwrap_or_default().into_iter().map(|i| i.0).collect();
        let want: Vec<String> = (0..total).map(|i| format!("c{i}")).collect();
        assert!(got == want, "{total} items, concurrency {concurrency}");
        seen(&calls).len() as u64
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
        let changing = |calls: Calls| -> Fetch<It> {
            let inner = server(ids(total), Calls::default(), false, None);
            Arc::new(move |mut request| {
                let (offset, limit) = asked(&request);
                calls.lock().map(|mut c| c.push((offset, limit))).ok();
                if offset >= 3000 {
                    request.limit = Some(limit.min(37));
                }
                inner(request)
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
        let calls = Calls::default();
        let mut settings = Settings::pages(10);
        settings.walk.concurrency = 4;
        let out = run(server(ids(95), calls.clone(), false, None), settings).await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(95));
        let mut calls = seen(&calls);
        calls.sort_unstable();
        let want: Vec<(u64, u64)> = (0..10).map(|i| (i * 10, 10)).collect();
        assert_eq!(calls, want, "one request per page, none past `count`");
    }

    #[tokio::test]
    async fn a_walk_holds_at_most_concurrency_pages_in_flight() {
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let inner = server(ids(500), Calls::default(), false, None);
        let (flight, peak) = (in_flight.clone(), most.clone());
        let fetch: Fetch<It> = Arc::new(move |request| {
            let inner = inner(request);
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
        let mut settings = Settings::pages(10);
        settings.walk.concurrency = 3;
        let out = run(fetch, settings).await;
        assert_eq!(out.map(|v| v.len()).ok(), Some(500));
        let peak = most.load(std::sync::atomic::Ordering::SeqCst);
        assert!((1..=3).contains(&peak), "peak {peak}");
    }

    #[tokio::test]
    async fn next_follows_received_items_not_the_limit() {
        let mut pages = Settings::pages(500).stream(capped(250, 100, Calls::default()));
        let first = pages.try_next().await.ok().flatten();
        assert_eq!(
            first.as_ref().and_then(Page::next),
            Some(Position::Offset(100))
        );
        assert_eq!(
            first.as_ref().and_then(Page::limit),
            Some(100),
            "the server's cap"
        );
        let _second = pages.try_next().await;
        let last = pages.try_next().await.ok().flatten();
        assert_eq!(last.as_ref().map(|p| p.items().len()), Some(50));
        assert_eq!(last.as_ref().and_then(Page::next), None);
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
        let calls = Calls::default();
        let mut settings = Settings::pages(4);
        settings.start = 3;
        settings.walk.max_items = Some(6);
        let mut pages = settings.stream(server(ids(20), calls.clone(), false, None));
        let mut got = Vec::new();
        let mut next = None;
        while let Ok(Some(page)) = pages.try_next().await {
            next = page.next();
            got.extend(page.into_items().into_iter().map(|i| i.0));
        }
        assert_eq!(got, ["c3", "c4", "c5", "c6", "c7", "c8"]);
        assert_eq!(seen(&calls), vec![(3, 4), (7, 2)]);
        assert_eq!(
            next,
            Some(Position::Offset(9)),
            "resumes after the last item kept"
        );
    }

    #[tokio::test]
    async fn repeated_page_is_an_error() {
        let calls = Calls::default();
        let out = run(
            server(ids(10), calls.clone(), true, Some(u64::MAX)),
            Settings::pages(2),
        )
        .await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("same page")));
        assert_eq!(seen(&calls).len(), 2);
    }

    #[tokio::test]
    async fn arrivals_mid_walk_duplicate_and_dedupe_removes_them() {
        let items = ids(6);
        let inner = server(items.clone(), Calls::default(), false, None);
        // After the first page, a new conversation arrives at the front.
        let fetch: Fetch<It> = Arc::new(move |request| {
            if asked(&request).0 == 3 {
                items.lock().map(|mut v| v.insert(0, "new".into())).ok();
            }
            inner(request)
        });
        let mut settings = Settings::pages(3);
        settings.walk.prefetch = false;
        let plain = run(fetch.clone(), settings).await.unwrap_or_default();
        assert_eq!(plain.iter().filter(|i| i.0 == "c2").count(), 2);
        settings.dedupe = true;
        let deduped = run(fetch, settings).await.unwrap_or_default();
        let keys: HashSet<_> = deduped.iter().map(|i| i.0.clone()).collect();
        assert_eq!(keys.len(), deduped.len());
    }

    /// A server that always sends full pages, reporting the total `count(offset, limit)`.
    fn full_pages(count: fn(u64, u64) -> u64) -> Fetch<It> {
        Arc::new(move |request| {
            let (offset, limit) = asked(&request);
            Box::pin(async move {
                let items = (0..limit).map(|i| It(format!("x{}", offset + i))).collect();
                let count = count(offset, limit);
                Ok(Page::at_offset(
                    items,
                    offset,
                    count,
                    limit,
                    ResponseMeta::empty(),
                ))
            })
        })
    }

    #[tokio::test]
    async fn more_items_than_the_total_by_more_than_a_page_is_an_error() {
        // The first page reports 1000 conversations, the next ones only 5.
        let fetch = full_pages(|offset, _| if offset == 0 { 1000 } else { 5 });
        let out = run(fetch, Settings::pages(10)).await;
        assert!(
            matches!(&out, Err(Error::Pagination(m)) if m.contains("20 items") && m.contains("total of 5")),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn endless_count_growth_hits_max_pages() {
        let fetch = full_pages(|offset, limit| offset + limit * 2);
        let mut settings = Settings::pages(10);
        settings.walk.max_pages = 50;
        let out = run(fetch, settings).await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("max_pages")));
    }
}
