//! Where an export's listing stands: which pages are fully in the journal, so a resumed run
//! continues at the first page with conversations still unwritten.
//!
//! A listing is walked lane by lane ([`Lane`](polyai_data::listing::Lane): the Data API's one
//! listing, or one v3 environment after another). Page `n` of lane `l` was requested at position
//! `p(l, n)` (an offset or a cursor; `None` for the start of a lane) and says where the next page
//! starts; its conversations are written out of order by the workers. The resume point is the
//! start of the first page with conversations still unwritten, or the position after the last
//! page listed once every listed page is complete.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use polyai_data::paginate::Position;

/// A page of the walk: (lane index, page number within the lane).
pub type PageKey = (usize, u64);

/// Where a resumed run continues: a lane index and the position in it (`None`: its start). A
/// lane index past the last lane means the whole listing was walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Index of the lane.
    pub lane: usize,
    /// Where in the lane.
    pub position: Option<Position>,
}

/// Which pages are still open (see the module notes).
#[derive(Debug)]
pub struct Tracker {
    /// Pages not complete yet: where each started, and its conversations still unwritten.
    open: BTreeMap<PageKey, (Option<Position>, usize)>,
    /// Where the walk goes on after the last page listed.
    after_last: Resume,
}

impl Tracker {
    /// A tracker for a walk that starts at `start`.
    pub fn new(start: Resume) -> Self {
        Tracker {
            open: BTreeMap::new(),
            after_last: start,
        }
    }

    /// Page `page`, requested at `start`, lists `pending` conversations still to write and
    /// points on to `next` (`None`: the lane ends with it).
    pub fn listed(
        &mut self,
        page: PageKey,
        start: Option<Position>,
        pending: usize,
        next: Option<Position>,
    ) {
        if pending > 0 {
            self.open.insert(page, (start, pending));
        }
        self.after_last = Resume {
            lane: page.0,
            position: next,
        };
    }

    /// Lane `lane` was walked to its end: the walk goes on at the next lane's start.
    pub fn lane_done(&mut self, lane: usize) {
        self.after_last = Resume {
            lane: lane + 1,
            position: None,
        };
    }

    /// A lane restarts from its beginning (its saved cursor was refused): its open pages are
    /// forgotten (their conversations are listed again; those written are skipped).
    pub fn restart_lane(&mut self, lane: usize) {
        self.open.retain(|(l, _), _| *l != lane);
        self.after_last = Resume {
            lane,
            position: None,
        };
    }

    /// One conversation of `page` is in the journal (or the failures file).
    pub fn written(&mut self, page: PageKey) {
        if let Some((_, pending)) = self.open.get_mut(&page) {
            *pending = pending.saturating_sub(1);
            if *pending == 0 {
                self.open.remove(&page);
            }
        }
    }

    /// Where a resumed run should continue.
    pub fn resume(&self) -> Resume {
        match self.open.iter().next() {
            Some((&(lane, _), (start, _))) => Resume {
                lane,
                position: start.clone(),
            },
            None => self.after_last.clone(),
        }
    }
}

/// A tracker shared by the lister and the writer.
pub type SharedTracker = Arc<Mutex<Tracker>>;

/// Locks a tracker (a panicked holder leaves consistent data: every update is one statement).
pub fn lock(tracker: &SharedTracker) -> std::sync::MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(c: &str) -> Option<Position> {
        Some(Position::Cursor(c.into()))
    }

    #[test]
    fn the_resume_point_is_the_first_page_not_fully_written() {
        let start = Resume {
            lane: 0,
            position: cursor("c0"),
        };
        let mut t = Tracker::new(start.clone());
        assert_eq!(t.resume(), start);
        t.listed((0, 0), cursor("c0"), 2, cursor("c1"));
        t.listed((0, 1), cursor("c1"), 1, cursor("c2"));
        t.listed((0, 2), cursor("c2"), 0, cursor("c3"));
        assert_eq!(t.resume().position, cursor("c0"));
        t.written((0, 1));
        assert_eq!(t.resume().position, cursor("c0"), "page 0 still open");
        t.written((0, 0));
        t.written((0, 0));
        assert_eq!(t.resume().position, cursor("c3"), "pages 0-2 complete");
        t.listed((0, 3), cursor("c3"), 1, None);
        t.lane_done(0);
        t.listed((1, 0), None, 1, Some(Position::Offset(10)));
        assert_eq!(t.resume().position, cursor("c3"), "lane 0's last page open");
        t.written((0, 3));
        assert_eq!(
            t.resume(),
            Resume {
                lane: 1,
                position: None
            },
            "lane 1's first page open"
        );
        t.written((1, 0));
        t.lane_done(1);
        assert_eq!(
            t.resume(),
            Resume {
                lane: 2,
                position: None
            },
            "both lanes walked"
        );
    }

    #[test]
    fn a_restarted_lane_forgets_its_open_pages() {
        let mut t = Tracker::new(Resume {
            lane: 1,
            position: cursor("old"),
        });
        t.listed((1, 0), cursor("old"), 3, cursor("c1"));
        t.restart_lane(1);
        assert_eq!(
            t.resume(),
            Resume {
                lane: 1,
                position: None
            }
        );
    }
}
