//! [`Page`]: one page of either listing, with where it was requested and where the next starts.

use crate::meta::ResponseMeta;
use crate::paginate::Position;

/// One page of a listing: the Data API's ([`ListConversations`](crate::conversations::ListConversations),
/// by offset) or the Conversations API v3's ([`v3::ListConversations`](crate::v3::ListConversations),
/// by cursor).
///
/// [`position`](Self::position) is where it was requested, [`next`](Self::next) where the next
/// page starts (`None` on the last page): save `next` to resume a walk later with the builder's
/// `.from(position)`.
///
/// ```no_run
/// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
/// let listing = || client.agent("PROJECT-1").conversations().list().limit(20);
/// let page = listing().await?;
/// println!("{} of {:?} conversations", page.items().len(), page.count());
/// if let Some(next) = page.next() {
///     let second = listing().from(next).await?;
///     # let _ = second;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub(crate) items: Vec<T>,
    /// Where the page was requested; `None`: the start of a v3 listing.
    pub(crate) position: Option<Position>,
    /// The cursor of the next page (v3).
    pub(crate) cursor: Option<String>,
    /// The offset of the next page: computed for the Data API, as sent by v3.
    pub(crate) next_offset: Option<u64>,
    /// The total the Data API reports.
    pub(crate) count: Option<u64>,
    /// The page size the Data API reports.
    pub(crate) limit: Option<u64>,
    pub(crate) meta: ResponseMeta,
}

impl<T> Page<T> {
    /// A Data API page of `items` requested at `offset`: the next page starts after the items
    /// received, unless none came or `count` says none follow. (A page shorter than asked for is
    /// not the last one: servers cap page sizes.)
    pub(crate) fn at_offset(
        items: Vec<T>,
        offset: u64,
        count: u64,
        limit: u64,
        meta: ResponseMeta,
    ) -> Self {
        let mut page = Page {
            items,
            position: Some(Position::Offset(offset)),
            cursor: None,
            next_offset: None,
            count: Some(count),
            limit: Some(limit),
            meta,
        };
        page.next_offset = page.offset_after(page.items.len());
        page
    }

    /// The offset after the first `received` items of an offset page, if more follow.
    fn offset_after(&self, received: usize) -> Option<u64> {
        let (offset, count) = (self.offset()?, self.count?);
        let next = offset.saturating_add(received as u64);
        (received > 0 && next < count).then_some(next)
    }

    /// Keeps the first `keep` items (a walk's `max_items`); an offset page's next page then
    /// starts after them.
    pub(crate) fn truncate(&mut self, keep: usize) {
        self.items.truncate(keep);
        if self.count.is_some() {
            self.next_offset = self.offset_after(keep);
        }
    }

    /// The same page with its items replaced by what `f` keeps of each.
    pub(crate) fn filter_map_items<U>(self, f: impl FnMut(T) -> Option<U>) -> Page<U> {
        Page {
            items: self.items.into_iter().filter_map(f).collect(),
            position: self.position,
            cursor: self.cursor,
            next_offset: self.next_offset,
            count: self.count,
            limit: self.limit,
            meta: self.meta,
        }
    }

    /// The items of this page.
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// Takes the items.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// Where this page was requested: its offset (always, for the Data API), or the cursor it
    /// was asked with; `None` for the first page of a v3 listing asked with neither.
    ///
    /// ```no_run
    /// use polyai_data::paginate::Position;
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let page = agent.conversations().list().offset(100).await?;
    /// assert_eq!(page.position(), Some(&Position::Offset(100)));
    /// # Ok(()) }
    /// ```
    pub fn position(&self) -> Option<&Position> {
        self.position.as_ref()
    }

    /// Where the next page starts, `None` on the last page: for the Data API the offset after
    /// the items received ([`next_offset`](Self::next_offset)); for v3 the page's
    /// [`cursor`](Self::cursor), else the offset the server gave. Pass it to the builder's
    /// `.from(..)`, or save it (it serializes as `{"offset": N}` / `{"cursor": "…"}`).
    ///
    /// ```no_run
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), Box<dyn std::error::Error>> {
    /// let page = project.conversations().limit(100).await?;
    /// if let Some(next) = page.next() {
    ///     std::fs::write("resume.json", serde_json::to_vec(&next)?)?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn next(&self) -> Option<Position> {
        self.cursor
            .clone()
            .map(Position::Cursor)
            .or(self.next_offset.map(Position::Offset))
    }

    /// The total number of items the Data API reports (not the page length); `None` for v3,
    /// which reports no total.
    ///
    /// ```no_run
    /// # async fn f(agent: polyai_data::Agent) -> Result<(), polyai_data::Error> {
    /// let page = agent.conversations().list().limit(50).offset(100).await?;
    /// // A Data API page always has its offset, page size and total.
    /// println!("{:?}+{} of {:?} (pages of {:?})", page.offset(), page.items().len(), page.count(), page.limit());
    /// # Ok(()) }
    /// ```
    pub fn count(&self) -> Option<u64> {
        self.count
    }

    /// The offset this page was requested at ([`position`](Self::position) as an offset): always
    /// there for the Data API; for v3 only when the page was asked for by offset.
    pub fn offset(&self) -> Option<u64> {
        self.position.as_ref().and_then(Position::offset)
    }

    /// The offset of the next page: for the Data API this page's offset plus the items the
    /// server sent (counted before de-duplication), `None` when this page is the last — it was
    /// empty, or the next offset reaches `count`; a page shorter than asked for is not the last
    /// one when `count` says more follow. For v3 the `next_offset` the server sent (for pages
    /// not asked for by cursor); a v3 walk goes on by [`cursor`](Self::cursor).
    ///
    /// ```no_run
    /// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
    /// let page = client.agent("PROJECT-1").conversations().list().limit(5000).await?;
    /// // A server that caps pages at 1000 sends 1000 and reports `count` 3000: next is 1000.
    /// println!("{:?}", page.next_offset());
    /// # Ok(()) }
    /// ```
    pub fn next_offset(&self) -> Option<u64> {
        self.next_offset
    }

    /// The cursor of the next page (v3; [`next`](Self::next) as a cursor), `None` on the last
    /// page and for the Data API.
    ///
    /// ```no_run
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
    /// let page = project.conversations().limit(100).await?;
    /// if let Some(cursor) = page.cursor() {
    ///     let next = project.conversations().limit(100).cursor(cursor).await?;
    ///     # let _ = next;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The page size the Data API reports (its echo of `limit`); a server that caps pages reports
    /// its cap here, which can be less than the size asked for. `None` for v3.
    pub fn limit(&self) -> Option<u64> {
        self.limit
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_page_points_after_what_arrived() {
        let page = Page::at_offset(vec![1, 2, 3], 10, 100, 50, ResponseMeta::empty());
        assert_eq!(
            page.next(),
            Some(Position::Offset(13)),
            "a capped page is not the last"
        );
        assert_eq!(page.position(), Some(&Position::Offset(10)));
        let last = Page::at_offset(vec![1, 2], 98, 100, 50, ResponseMeta::empty());
        assert_eq!(last.next(), None);
        let empty = Page::<u8>::at_offset(vec![], 0, 100, 50, ResponseMeta::empty());
        assert_eq!(empty.next(), None);
        let mut cut = Page::at_offset(vec![1, 2, 3], 10, 100, 50, ResponseMeta::empty());
        cut.truncate(1);
        assert_eq!(cut.next_offset(), Some(11));
    }
}
