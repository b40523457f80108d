//! Paging, for both listings: one [`Page`] type that says where it was requested and where the
//! next page starts (a [`Position`]: an offset or a cursor), a [`PageStream`] of pages and an
//! [`ItemStream`] of items, with prefetch and guards against servers that never end.
//!
//! The Data API ([`ListConversations`](crate::conversations::ListConversations)) pages by
//! `limit`/`offset`; the Conversations API v3 ([`v3::ListConversations`](crate::v3::ListConversations))
//! by cursor. Both builders return the same [`PageStream`] and [`ItemStream`], and both start
//! from a saved [`Position`] with `.from(position)`:
//!
//! ```no_run
//! use polyai_data::paginate::Position;
//! # async fn f(agent: polyai_data::Agent) -> Result<(), Box<dyn std::error::Error>> {
//! // Resume where a previous run stopped (saved as `{"offset": 200}` by an earlier `page.next()`).
//! let saved: Position = serde_json::from_str(&std::fs::read_to_string("resume.json")?)?;
//! let mut pages = agent.conversations().list().from(saved).pages();
//! while let Some(page) = pages.try_next().await? {
//!     // … work on page.items() …
//!     if let Some(next) = page.next() {
//!         std::fs::write("resume.json", serde_json::to_vec(&next)?)?;
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Offset paging while conversations arrive
//!
//! The Data API lists conversations newest first and pages by `offset`. A conversation that
//! starts during a walk is inserted at the front, so every later page shifts by one: the last item
//! of a page shows up again as the first item of the next page (a duplicate), and `count` grows. A
//! conversation that disappears shifts the other way and one item may be skipped. Use
//! [`dedupe(true)`](crate::conversations::ListConversations::dedupe) to drop repeats by
//! `conversationId`, and treat a walk as a snapshot that may miss conversations created after it
//! started.
//!
//! De-duplication looks back over a bounded window of the most recent ids (at least
//! [`DEDUPE_WINDOW`] and two pages), which is where shifted items reappear, so memory stays flat
//! however long the walk. A tool that must never write an item twice across a whole walk (or
//! across runs) keeps its own record of what it has written, as `polyai export` does.
//!
//! Pages are planned at the length of the latest page, and once the first page has told the total
//! (`count`), [`concurrency`](crate::conversations::ListConversations::concurrency) pages are
//! fetched at once (never past the total); they are still yielded in order.
//!
//! # Cursor paging
//!
//! Each v3 page carries the cursor of the next one, so a cursor walk fetches one page ahead. A
//! cursor pins the conversations that existed when its walk began: conversations that arrive
//! during the walk neither shift nor repeat anything (they appear in the next walk). A walk that
//! starts at an offset goes on by cursor after its first page. A cursor is bound to its query:
//! resume it with the same filters.
//!
//! # When a walk ends
//!
//! After an empty page, once `max_items` items were read, and:
//! - by offset, once the next offset reaches the total the server reports (`count`, read again
//!   from every page). A page shorter than asked for does **not** end the walk: servers cap the
//!   page size (the Data API behind some gateways at 100 or 1000) while still reporting the full
//!   `count`, so the next page is requested at the offset after the items actually received, and
//!   the pages fetched at once after it are planned at that page's length (a change of page length
//!   costs at most `concurrency` requests whose pages are dropped);
//! - by cursor, after a page without a cursor.
//!
//! With `max_items`, the last request asks for no more items than are still needed.
//!
//! The walk stops with [`Error::Pagination`](crate::Error::Pagination) after `max_pages` pages,
//! when the server returns the same page twice in a row or more items than its own `count` by more
//! than a page (by offset), or when it answers a cursor with the same cursor (by cursor).

mod cursor;
mod offset;
mod page;
mod position;
mod prefetch;
mod stream;
mod walk;

pub(crate) use cursor::Cursors;
pub(crate) use offset::{Keyed, Offsets};
pub use page::Page;
pub use position::{MAX_CURSOR_LEN, Position};
pub use stream::{ItemStream, PageStream};
pub(crate) use walk::{Fetch, PageRequest, Walk, walk_options, walk_pages};

/// Ids a de-duplicating walk remembers at least (more when two pages hold more).
pub const DEDUPE_WINDOW: usize = 10_000;

/// Page size of a Data API walk that wants everything and was given no `limit`: the largest page
/// the Data API serves (it caps `limit` at 1000, as does `polyai-mock`). Fewer, larger pages cut
/// the round trips of a full listing twentyfold against the server's default of 50; a server that
/// caps lower is still walked exactly, by the items that arrive.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// Pages a Data API walk fetches at once by default, once the first page has told it the total
/// (`count`). Four keeps a walk at 20 ms latency several times faster than one page at a time
/// while holding at most four pages in memory.
pub const DEFAULT_CONCURRENCY: usize = 4;
