//! Walks as iterators: the async walk's pages pulled through the runtime one page at a time
//! (its prefetched pages keep arriving in the meantime), for the Data API and v3 listings alike.

use futures_util::stream::{BoxStream, StreamExt};

use crate::blocking::Runtime;
use crate::error::Error;

mod sealed {
    /// A page of a listing: the Data API's [`crate::Page`] or v3's [`crate::v3::Page`].
    pub trait WalkPage: Send + 'static {
        /// What the page holds.
        type Item: Send + 'static;
        /// Takes the items.
        fn into_items(self) -> Vec<Self::Item>;
    }
}

pub(crate) use sealed::WalkPage;

impl<T: Send + 'static> WalkPage for crate::Page<T> {
    type Item = T;
    fn into_items(self) -> Vec<T> {
        crate::Page::into_items(self)
    }
}

impl<T: Send + 'static> WalkPage for crate::v3::Page<T> {
    type Item = T;
    fn into_items(self) -> Vec<T> {
        crate::v3::Page::into_items(self)
    }
}

/// The pages of a walk, as an [`Iterator`]: [`polyai_data::Page`](crate::Page)s of the Data API
/// listing, or [`v3::Page`](crate::v3::Page)s. Ends after the last page, or after the first error,
/// which it yields.
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let mut pages = agent.conversations().list().limit(100).pages();
/// while let Some(page) = pages.next().transpose()? {
///     println!("offset {}: {} items", page.offset(), page.items().len());
/// }
/// # Ok(()) }
/// ```
#[must_use = "iterators do nothing unless iterated"]
pub struct Pages<P> {
    /// `None` once the walk has ended.
    stream: Option<BoxStream<'static, Result<P, Error>>>,
    rt: Runtime,
}

impl<P: WalkPage> Pages<P> {
    pub(crate) fn new(
        stream: impl futures_util::Stream<Item = Result<P, Error>> + Send + 'static,
        rt: Runtime,
    ) -> Self {
        Pages {
            stream: Some(stream.boxed()),
            rt,
        }
    }

    /// The items of every page, in order.
    pub fn items(self) -> Items<P> {
        Items {
            pages: self,
            page: Vec::new().into_iter(),
        }
    }
}

impl<P: WalkPage> Iterator for Pages<P> {
    type Item = Result<P, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.take()?;
        match self.rt.next(stream) {
            Ok((stream, Some(Ok(page)))) => {
                self.stream = Some(stream);
                Some(Ok(page))
            }
            Ok((_, item)) => item,
            Err(err) => Some(Err(err)),
        }
    }
}

impl<P: WalkPage> std::iter::FusedIterator for Pages<P> {}

impl<P> std::fmt::Debug for Pages<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("ended", &self.stream.is_none())
            .finish()
    }
}

/// The items of a walk across its pages, as an [`Iterator`]; what iterating a listing builder
/// gives. Ends after the last item, or after the first error, which it yields.
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let recent: Vec<String> = agent
///     .conversations()
///     .list()
///     .max_items(20)
///     .items()
///     .map(|c| c.map(|c| c.conversation_id))
///     .collect::<Result<_, _>>()?;
/// # let _ = recent;
/// # Ok(()) }
/// ```
#[must_use = "iterators do nothing unless iterated"]
pub struct Items<P: WalkPage> {
    pages: Pages<P>,
    /// What is left of the current page.
    page: std::vec::IntoIter<P::Item>,
}

impl<P: WalkPage> Iterator for Items<P> {
    type Item = Result<P::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.page.next() {
                return Some(Ok(item));
            }
            match self.pages.next()? {
                Ok(page) => self.page = page.into_items().into_iter(),
                Err(err) => return Some(Err(err)),
            }
        }
    }
}

impl<P: WalkPage> std::iter::FusedIterator for Items<P> {}

impl<P: WalkPage> std::fmt::Debug for Items<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("buffered", &self.page.len())
            .field("pages", &self.pages)
            .finish()
    }
}
