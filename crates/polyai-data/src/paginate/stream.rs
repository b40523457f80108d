//! [`PageStream`] and [`ItemStream`]: a walk as a stream of pages or of items.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{self, BoxStream, Stream, StreamExt};

use crate::error::Error;
use crate::paginate::Page;

/// A [`Stream`] of the pages of a walk, of either listing: each page is fetched while the
/// caller works on the previous one (unless prefetch is off). Ends after the last page, or after
/// the first error, which it yields.
///
/// ```no_run
/// # async fn f(client: polyai_data::Client) -> Result<(), polyai_data::Error> {
/// let mut pages = client.agent("PROJECT-1").conversations().list().limit(100).pages();
/// while let Some(page) = pages.try_next().await? {
///     println!("{} items; resume from {:?}", page.items().len(), page.next());
/// }
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct PageStream<T> {
    inner: BoxStream<'static, Result<Page<T>, Error>>,
}

impl<T: Send + 'static> PageStream<T> {
    pub(crate) fn new(inner: BoxStream<'static, Result<Page<T>, Error>>) -> Self {
        PageStream { inner }
    }

    /// A stream that yields `err` once.
    pub(crate) fn failed(err: Error) -> Self {
        PageStream::new(stream::iter([Err(err)]).boxed())
    }

    /// The same walk with each page turned into another by `f` (errors pass through).
    pub(crate) fn map_pages<U: Send + 'static>(
        self,
        f: impl FnMut(Page<T>) -> Page<U> + Send + 'static,
    ) -> PageStream<U> {
        let mut f = f;
        PageStream::new(self.inner.map(move |page| page.map(&mut f)).boxed())
    }

    /// The next page, `Ok(None)` at the end.
    pub async fn try_next(&mut self) -> Result<Option<Page<T>>, Error> {
        self.inner.next().await.transpose()
    }

    /// A stream of the items of every page.
    ///
    /// ```no_run
    /// # async fn f(project: polyai_data::v3::Project) -> Result<(), polyai_data::Error> {
    /// let all = project.conversations().limit(1000).pages().items().collect_all().await?;
    /// # let _ = all;
    /// # Ok(()) }
    /// ```
    pub fn items(self) -> ItemStream<T> {
        let inner = self
            .inner
            .flat_map(|page| {
                // The page's own items, moved out one by one (no second `Vec` per page).
                let (items, error) = match page {
                    Ok(page) => (page.items, None),
                    Err(err) => (Vec::new(), Some(Err(err))),
                };
                stream::iter(items.into_iter().map(Ok).chain(error))
            })
            .boxed();
        ItemStream { inner }
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

/// A [`Stream`] of the items of a walk, across its pages; from [`PageStream::items`] or a
/// builder's `.stream()`.
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
