//! The one state machine of every walk: requests in flight, the `max_pages` and `max_items`
//! guards, and the end. Where the next page starts is the [`Planner`]'s to say: by offset
//! ([`offset`](super::offset)) or by cursor ([`cursor`](super::cursor)).

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use crate::error::Error;
use crate::paginate::prefetch::{BoxFuture, Prefetched};
use crate::paginate::{Page, PageStream, Position};

/// One page request: where it starts (`None`: the start of a listing that needs no position)
/// and how many items it asks for (`None`: the server's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageRequest {
    pub(crate) position: Option<Position>,
    pub(crate) limit: Option<u64>,
}

/// Fetches one page.
pub(crate) type Fetch<T> =
    Arc<dyn Fn(PageRequest) -> BoxFuture<Result<Page<T>, Error>> + Send + Sync>;

/// Settings of one walk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Walk {
    /// Items per page asked for (fewer when `max_items` needs fewer); `None`: the server's default.
    pub(crate) page_size: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) max_pages: u64,
    pub(crate) prefetch: bool,
    /// Pages in flight at once after the first, as far as the planner can plan them.
    pub(crate) concurrency: usize,
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            page_size: None,
            max_items: None,
            max_pages: 100_000,
            prefetch: true,
            concurrency: 1,
        }
    }
}

/// Adds `.max_items()`, `.max_pages()` and `.prefetch()` to a listing builder with a
/// `walk: Walk` field.
macro_rules! walk_options {
    ($builder:ty) => {
        impl $builder {
            /// Stop a walk after this many conversations (the last request asks for no more
            /// than needed).
            pub fn max_items(mut self, max: u64) -> Self {
                self.walk.max_items = Some(max);
                self
            }

            /// Stop a walk with [`Error::Pagination`](crate::Error::Pagination) after this many
            /// pages (default 100 000).
            pub fn max_pages(mut self, max: u64) -> Self {
                self.walk.max_pages = max.max(1);
                self
            }

            /// Fetch the next page while the caller consumes the current one (default on; needs
            /// a Tokio runtime, falls back to fetching on demand without one).
            pub fn prefetch(mut self, prefetch: bool) -> Self {
                self.walk.prefetch = prefetch;
                self
            }
        }
    };
}

pub(crate) use walk_options;

/// Where a walk goes from page to page.
pub(crate) trait Planner<T>: Send + 'static {
    /// Where the page after `after` (the last request in flight; `None`: the next page to read)
    /// starts, and how many items past those read it is; `None` when it cannot be planned yet or
    /// lies past the end.
    fn plan(&self, after: Option<&PageRequest>) -> Option<(Option<Position>, u64)>;

    /// Takes in a page that arrived, not empty, after `read` items: checks that the server is
    /// moving on (an error stops the walk) and moves past it.
    fn arrived(&mut self, page: &Page<T>, read: u64) -> Result<(), Error>;

    /// Whether the listing ends with `page`, the last that [`arrived`](Self::arrived).
    fn ended(&self, page: &Page<T>) -> bool;

    /// The last change to a page before it is yielded (de-duplication).
    fn finish(&mut self, _page: &mut Page<T>) {}
}

struct State<T, P> {
    fetch: Fetch<T>,
    walk: Walk,
    planner: P,
    /// Fetches in flight, in order.
    pending: VecDeque<(PageRequest, Prefetched<Page<T>>)>,
    /// Items read (before de-duplication).
    read: u64,
    pages: u64,
    done: bool,
}

impl<T: Send + 'static, P: Planner<T>> State<T, P> {
    /// The items a page `planned` items past those read asks for.
    fn limit_after(&self, planned: u64) -> Option<u64> {
        let remaining = self
            .walk
            .max_items
            .map(|max| max.saturating_sub(self.read + planned).max(1));
        match (self.walk.page_size, remaining) {
            (Some(size), Some(remaining)) => Some(size.min(remaining)),
            (size, None) => size,
            (None, remaining) => remaining,
        }
    }

    /// Starts fetches until `depth` are in flight, as far as the planner can plan them and never
    /// past `max_items`; `ahead`: spawned now, else run when awaited.
    fn fill(&mut self, depth: usize, ahead: bool) {
        while self.pending.len() < depth.max(1) {
            let after = self.pending.back().map(|(request, _)| request);
            let Some((position, planned)) = self.planner.plan(after) else {
                return;
            };
            let max_reached = self
                .walk
                .max_items
                .is_some_and(|max| self.read + planned >= max);
            if after.is_some() && max_reached {
                return;
            }
            let request = PageRequest {
                position,
                limit: self.limit_after(planned),
            };
            let fetch = Prefetched::start((self.fetch)(request.clone()), ahead);
            self.pending.push_back((request, fetch));
        }
    }

    fn fail(&mut self, err: Error) -> Option<Result<Page<T>, Error>> {
        self.done = true;
        self.pending.clear();
        Some(Err(err))
    }

    async fn step(&mut self) -> Option<Result<Page<T>, Error>> {
        if self.done {
            return None;
        }
        if self.pending.is_empty() {
            self.fill(1, false);
        }
        let (_, pending) = self.pending.pop_front()?;
        let mut page = match pending.wait().await {
            Ok(page) => page,
            Err(err) => return self.fail(err),
        };
        self.pages += 1;
        let received = page.items.len() as u64;
        if received == 0 {
            self.done = true;
            self.pending.clear();
            return None;
        }
        if self.pages > self.walk.max_pages {
            return self.fail(Error::Pagination(format!(
                "more than {} pages; raise `max_pages` if this is expected",
                self.walk.max_pages
            )));
        }
        if let Err(err) = self.planner.arrived(&page, self.read) {
            return self.fail(err);
        }
        let expected = self.planner.plan(None).map(|(position, _)| position);
        if self
            .pending
            .front()
            .is_some_and(|(request, _)| Some(&request.position) != expected.as_ref())
        {
            // The pages in flight were planned for a page of another length: they start at the
            // wrong places. Dropping them aborts them; the walk goes on from what arrived.
            self.pending.clear();
        }
        self.read += received;
        if let Some(max) = self.walk.max_items
            && self.read >= max
        {
            page.truncate((received - (self.read - max)) as usize);
            self.read = max;
            self.done = true;
        }
        if self.planner.ended(&page) {
            self.done = true;
        }
        if self.done {
            self.pending.clear();
        } else if self.walk.prefetch {
            self.fill(self.walk.concurrency, true);
        }
        self.planner.finish(&mut page);
        Some(Ok(page))
    }
}

/// The pages of a walk that `planner` steers, fetched by `fetch`.
pub(crate) fn walk_pages<T, P>(fetch: Fetch<T>, walk: Walk, planner: P) -> PageStream<T>
where
    T: Send + 'static,
    P: Planner<T>,
{
    let state = State {
        fetch,
        walk,
        planner,
        pending: VecDeque::new(),
        read: 0,
        pages: 0,
        done: walk.max_items == Some(0),
    };
    let pages = stream::unfold(state, |mut state| async move {
        let page = state.step().await?;
        Some((page, state))
    });
    PageStream::new(pages.boxed())
}

#[cfg(test)]
pub(crate) mod tests {
    //! The guards every walk shares, and a fake server for the planners' tests.

    use std::sync::Mutex;

    use super::*;
    use crate::meta::ResponseMeta;
    use crate::paginate::cursor::Cursors;

    /// The requests a fake server saw.
    pub(crate) type Calls = Arc<Mutex<Vec<PageRequest>>>;

    pub(crate) fn calls(calls: &Calls) -> Vec<PageRequest> {
        calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// A fake cursor server over `n` items in pages of `size`, cursors `"c<offset>"`; `stuck`:
    /// it hands back the cursor it was given.
    pub(crate) fn cursor_server(n: u64, size: u64, calls: Calls, stuck: bool) -> Fetch<u64> {
        Arc::new(move |request: PageRequest| {
            calls.lock().map(|mut c| c.push(request.clone())).ok();
            let from: u64 = request
                .position
                .as_ref()
                .and_then(Position::cursor)
                .and_then(|c| c.strip_prefix('c'))
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            let take = request.limit.unwrap_or(size).min(size);
            let to = (from + take).min(n);
            let next = if stuck { from } else { to };
            Box::pin(async move {
                Ok(Page {
                    items: (from..to).collect(),
                    position: request.position,
                    cursor: (to < n).then(|| format!("c{next}")),
                    next_offset: None,
                    count: None,
                    limit: None,
                    meta: ResponseMeta::empty(),
                })
            })
        })
    }

    /// Walks `n` items in pages of 10 from `start` (a cursor): the items, and the requests made.
    async fn walk(
        n: u64,
        walk: Walk,
        start: Option<&str>,
    ) -> (Result<Vec<u64>, Error>, Vec<PageRequest>) {
        let seen = Calls::default();
        let start = start.map(|cursor| Position::Cursor(cursor.into()));
        let out = walk_pages(
            cursor_server(n, 10, seen.clone(), false),
            walk,
            Cursors::new(start),
        )
        .items()
        .collect_all()
        .await;
        (out, calls(&seen))
    }

    /// The default walk with `max_items` and `max_pages`.
    fn limited(max_items: Option<u64>, max_pages: u64) -> Walk {
        Walk {
            max_items,
            max_pages,
            ..Walk::default()
        }
    }

    #[tokio::test]
    async fn max_items_asks_for_no_more_than_needed() {
        let (out, seen) = walk(100, limited(Some(13), 10), Some("c5")).await;
        assert_eq!(out.ok(), Some((5..18).collect()));
        let asked: Vec<Option<u64>> = seen.iter().map(|r| r.limit).collect();
        assert_eq!(asked, [Some(13), Some(3)]);
    }

    #[tokio::test]
    async fn max_pages_stops_an_endless_walk() {
        let (out, _) = walk(u64::MAX, limited(None, 3), None).await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("max_pages")));
    }

    #[tokio::test]
    async fn max_items_zero_asks_for_nothing() {
        let (out, seen) = walk(100, limited(Some(0), 10), None).await;
        assert_eq!(out.ok(), Some(vec![]));
        assert!(seen.is_empty());
    }

    #[tokio::test]
    async fn fetch_errors_end_the_stream() {
        let fetch: Fetch<u64> =
            Arc::new(|_| Box::pin(async { Err(Error::InvalidRequest("boom".into())) }));
        let mut pages = walk_pages(fetch, Walk::default(), Cursors::new(None));
        assert!(pages.try_next().await.is_err());
        assert!(matches!(pages.try_next().await, Ok(None)));
    }
}
