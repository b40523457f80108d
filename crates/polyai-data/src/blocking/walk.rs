//! Walks as iterators: the one [`PageStream`] of either listing, pulled through the runtime one
//! page per trip (its prefetched pages keep arriving in the meantime).

use crate::blocking::Runtime;
use crate::error::Error;
use crate::paginate::{Page, PageStream};

/// The pages of a walk, as an [`Iterator`]: the Data API listing's or v3's, the same
/// [`Page`]s as the async [`PageStream`] yields. Ends after the last page, or after the first
/// error, which it yields.
///
/// ```no_run
/// # fn f(agent: polyai_data::blocking::Agent) -> Result<(), polyai_data::Error> {
/// let mut pages = agent.conversations().list().limit(100).pages();
/// while let Some(page) = pages.next().transpose()? {
///     println!("{} items; resume from {:?}", page.items().len(), page.next());
/// }
/// # Ok(()) }
/// ```
#[must_use = "iterators do nothing unless iterated"]
pub struct Pages<T> {
    /// `None` once the walk has ended.
    stream: Option<PageStream<T>>,
    rt: Runtime,
}

impl<T: Send + 'static> Pages<T> {
    pub(crate) fn new(stream: PageStream<T>, rt: Runtime) -> Self {
        Pages {
            stream: Some(stream),
            rt,
        }
    }

    /// The items of every page, in order.
    pub fn items(self) -> Items<T> {
        Items {
            pages: self,
            page: Vec::new().into_iter(),
        }
    }
}

impl<T: Send + 'static> Iterator for Pages<T> {
    type Item = Result<Page<T>, Error>;

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

impl<T: Send + 'static> std::iter::FusedIterator for Pages<T> {}

impl<T> std::fmt::Debug for Pages<T> {
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
pub struct Items<T> {
    pages: Pages<T>,
    /// What is left of the current page.
    page: std::vec::IntoIter<T>,
}

impl<T: Send + 'static> Iterator for Items<T> {
    type Item = Result<T, Error>;

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

impl<T: Send + 'static> std::iter::FusedIterator for Items<T> {}

impl<T> std::fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Items")
            .field("buffered", &self.page.len())
            .field("pages", &self.pages)
            .finish()
    }
}

/// The calls of a blocking listing (`inner`: its async builder, `rt`): one page, or every page
/// or item as an iterator (what iterating the builder does), each as the async builder's.
macro_rules! listing_calls {
    ($wrapper:ty => $async:ty, $item:ty) => {
        impl $wrapper {
            #[doc = concat!("One page, as [`", stringify!($async), "::send`].")]
            pub fn send(self) -> Result<$crate::paginate::Page<$item>, $crate::Error> {
                self.rt.call(self.inner.send())
            }

            #[doc = concat!("One page with each conversation as the JSON the server sent, as [`", stringify!($async), "::send_json`].")]
            pub fn send_json(self) -> Result<$crate::paginate::Page<serde_json::Value>, $crate::Error> {
                self.rt.call(self.inner.send_json())
            }

            #[doc = concat!("Every page, the next ones fetched ahead, as [`", stringify!($async), "::pages`].")]
            pub fn pages(self) -> $crate::blocking::Pages<$item> {
                $crate::blocking::Pages::new(self.inner.pages(), self.rt)
            }

            #[doc = concat!("Every page with each conversation as the JSON the server sent, as [`", stringify!($async), "::json_pages`].")]
            pub fn json_pages(self) -> $crate::blocking::Pages<serde_json::Value> {
                $crate::blocking::Pages::new(self.inner.json_pages(), self.rt)
            }

            /// Every conversation (what iterating the builder does).
            pub fn items(self) -> $crate::blocking::Items<$item> {
                self.pages().items()
            }

            #[doc = concat!("Every conversation, collected, as [`", stringify!($async), "::all`].")]
            pub fn all(self) -> Result<Vec<$item>, $crate::Error> {
                self.rt.call(self.inner.all())
            }
        }

        impl IntoIterator for $wrapper {
            type Item = Result<$item, $crate::Error>;
            type IntoIter = $crate::blocking::Items<$item>;

            fn into_iter(self) -> Self::IntoIter {
                self.items()
            }
        }
    };
}

pub(crate) use listing_calls;
