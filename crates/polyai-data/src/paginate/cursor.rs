//! The cursor planner: each page's cursor names the next, so one page is planned at a time; a
//! server that hands back the cursor it was given is stopped.

use crate::error::Error;
use crate::paginate::walk::{PageRequest, Planner};
use crate::paginate::{Page, Position};

/// Where a cursor walk stands.
pub(crate) struct Cursors {
    /// Where the page in flight (or the next) starts: the first page's position (`None`, an
    /// offset, or a cursor), then the cursor of the page before.
    position: Option<Position>,
}

impl Cursors {
    /// A walk from `start` (`None`: the start of the listing).
    pub(crate) fn new(start: Option<Position>) -> Self {
        Cursors { position: start }
    }
}

impl<T: Send + 'static> Planner<T> for Cursors {
    fn plan(&self, after: Option<&PageRequest>) -> Option<(Option<Position>, u64)> {
        // The page after one in flight is named by that page's cursor: unknown until it arrives.
        match after {
            None => Some((self.position.clone(), 0)),
            Some(_) => None,
        }
    }

    fn arrived(&mut self, page: &Page<T>, _read: u64) -> Result<(), Error> {
        if let Some(cursor) = page.cursor()
            && self.position.as_ref().and_then(Position::cursor) == Some(cursor)
        {
            return Err(Error::Pagination(format!(
                "the server answered cursor {cursor} with the same cursor; it is not advancing"
            )));
        }
        self.position = page.cursor.clone().map(Position::Cursor);
        Ok(())
    }

    fn ended(&self, page: &Page<T>) -> bool {
        page.cursor.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paginate::walk::tests::{Calls, calls, cursor_server};
    use crate::paginate::walk::{Walk, walk_pages};

    #[tokio::test]
    async fn follows_cursors_to_the_end() {
        let seen = Calls::default();
        let out = walk_pages(
            cursor_server(25, 10, seen.clone(), false),
            Walk::default(),
            Cursors::new(None),
        )
        .items()
        .collect_all()
        .await;
        assert_eq!(out.ok(), Some((0..25).collect()));
        let cursors: Vec<Option<String>> = calls(&seen)
            .into_iter()
            .map(|r| r.position.and_then(|p| p.cursor().map(str::to_owned)))
            .collect();
        assert_eq!(cursors, [None, Some("c10".into()), Some("c20".into())]);
    }

    #[tokio::test]
    async fn a_cursor_that_does_not_advance_is_an_error() {
        let out = walk_pages(
            cursor_server(100, 10, Calls::default(), true),
            Walk::default(),
            Cursors::new(None),
        )
        .items()
        .collect_all()
        .await;
        assert!(matches!(out, Err(Error::Pagination(m)) if m.contains("same cursor")));
    }

    #[tokio::test]
    async fn a_walk_from_an_offset_goes_on_by_cursor() {
        let seen = Calls::default();
        let mut pages = walk_pages(
            cursor_server(25, 10, seen.clone(), false),
            Walk::default(),
            Cursors::new(Some(Position::Offset(0))),
        );
        let first = pages.try_next().await.ok().flatten();
        assert_eq!(
            first.as_ref().and_then(Page::position),
            Some(&Position::Offset(0))
        );
        assert_eq!(
            first.as_ref().and_then(Page::next),
            Some(Position::Cursor("c10".into()))
        );
        while let Ok(Some(_)) = pages.try_next().await {}
        let positions: Vec<Option<Position>> =
            calls(&seen).into_iter().map(|r| r.position).collect();
        assert_eq!(
            positions,
            [
                Some(Position::Offset(0)),
                Some(Position::Cursor("c10".into())),
                Some(Position::Cursor("c20".into()))
            ]
        );
    }
}
