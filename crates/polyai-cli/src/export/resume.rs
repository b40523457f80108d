//! Where an export's listing stands: which pages are fully in the journal, so a resumed run
//! continues each lane at its first page with conversations still unwritten.
//!
//! A listing is walked in lanes ([`Lane`](polyai_data::listing::Lane): the Data API's one
//! listing, or v3's environments, or their time windows with `--windows`), several at once with
//! `--windows`. Page `n` of lane `l` was requested at position `p(l, n)` (an offset or a cursor;
//! `None` for the start of a lane) and says where the next page starts; its conversations are
//! written out of order by the workers. A lane's resume point is the start of its first page
//! with conversations still unwritten, or the position after its last page listed once every
//! page it listed is complete; a lane walked to its end with every page complete is done.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use polyai_data::paginate::Position;

use super::checkpoint::LaneState;

/// A page of the walk: (lane index, page number within the lane).
pub type PageKey = (usize, u64);

/// Which pages are still open (see the module notes).
#[derive(Debug)]
pub struct Tracker {
    /// Pages not complete yet: where each started, and its conversations still unwritten.
    open: BTreeMap<PageKey, (Option<Position>, usize)>,
    /// Each lane after its last page listed: where it goes on, or done once walked to its end.
    /// A lane past the end of the list is not started.
    lanes: Vec<LaneState>,
}

impl Tracker {
    /// A tracker for a walk whose lanes start as `start` says.
    pub fn new(start: Vec<LaneState>) -> Self {
        Tracker {
            open: BTreeMap::new(),
            lanes: start,
        }
    }

    fn lane(&mut self, lane: usize) -> &mut LaneState {
        if self.lanes.len() <= lane {
            self.lanes.resize(lane + 1, LaneState::default());
        }
        &mut self.lanes[lane]
    }

    /// Page `page`, requested at `start`, is open and points on to `next` (`None`: the lane
    /// ends with it). Until it is [`sealed`](Self::sealed) it stays open, however many of the
    /// conversations [`queued`](Self::queued) from it are written.
    pub fn opened(&mut self, page: PageKey, start: Option<Position>, next: Option<Position>) {
        // The hold that `sealed` releases.
        self.open.insert(page, (start, 1));
        *self.lane(page.0) = LaneState {
            done: false,
            position: next,
        };
    }

    /// One more conversation of open page `page` is queued for the workers.
    pub fn queued(&mut self, page: PageKey) {
        if let Some((_, pending)) = self.open.get_mut(&page) {
            *pending += 1;
        }
    }

    /// Every conversation of page `page` is queued: it is complete once they are written.
    pub fn sealed(&mut self, page: PageKey) {
        self.written(page);
    }

    /// Lane `lane` was walked to its end.
    pub fn lane_done(&mut self, lane: usize) {
        *self.lane(lane) = LaneState {
            done: true,
            position: None,
        };
    }

    /// A lane restarts from its beginning (its saved cursor was refused): its open pages are
    /// forgotten (their conversations are listed again; those written are skipped).
    pub fn restart_lane(&mut self, lane: usize) {
        self.open.retain(|(l, _), _| *l != lane);
        *self.lane(lane) = LaneState::default();
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

    /// Where a resumed run should continue, lane by lane.
    pub fn resume(&self) -> Vec<LaneState> {
        let mut lanes = self.lanes.clone();
        // The first open page of each lane (keys sort by lane, then page).
        let mut seen = None;
        for (&(lane, _), (start, _)) in &self.open {
            if seen == Some(lane) {
                continue;
            }
            seen = Some(lane);
            if lanes.len() <= lane {
                lanes.resize(lane + 1, LaneState::default());
            }
            lanes[lane] = LaneState {
                done: false,
                position: start.clone(),
            };
        }
        lanes
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

    fn at(position: Option<Position>) -> LaneState {
        LaneState {
            done: false,
            position,
        }
    }

    const DONE: LaneState = LaneState {
        done: true,
        position: None,
    };

    /// Page `page` listed with `n` conversations queued from it, then sealed.
    fn listed(
        t: &mut Tracker,
        page: PageKey,
        start: Option<Position>,
        n: usize,
        next: Option<Position>,
    ) {
        t.opened(page, start, next);
        for _ in 0..n {
            t.queued(page);
        }
        t.sealed(page);
    }

    #[test]
    fn a_page_stays_open_until_sealed_whatever_is_written_before() {
        let mut t = Tracker::new(vec![at(cursor("c0"))]);
        t.opened((0, 0), cursor("c0"), cursor("c1"));
        t.queued((0, 0));
        t.written((0, 0));
        assert_eq!(t.resume(), vec![at(cursor("c0"))], "more may be queued");
        t.queued((0, 0));
        t.sealed((0, 0));
        assert_eq!(t.resume(), vec![at(cursor("c0"))], "one queued, unwritten");
        t.written((0, 0));
        assert_eq!(t.resume(), vec![at(cursor("c1"))]);
        // A page with nothing queued is complete when sealed.
        t.opened((0, 1), cursor("c1"), cursor("c2"));
        assert_eq!(t.resume(), vec![at(cursor("c1"))]);
        t.sealed((0, 1));
        assert_eq!(t.resume(), vec![at(cursor("c2"))]);
    }

    #[test]
    fn the_resume_point_is_the_first_page_not_fully_written() {
        let start = vec![at(cursor("c0"))];
        let mut t = Tracker::new(start.clone());
        assert_eq!(t.resume(), start);
        listed(&mut t, (0, 0), cursor("c0"), 2, cursor("c1"));
        listed(&mut t, (0, 1), cursor("c1"), 1, cursor("c2"));
        listed(&mut t, (0, 2), cursor("c2"), 0, cursor("c3"));
        assert_eq!(t.resume(), vec![at(cursor("c0"))]);
        t.written((0, 1));
        assert_eq!(t.resume(), vec![at(cursor("c0"))], "page 0 still open");
        t.written((0, 0));
        t.written((0, 0));
        assert_eq!(t.resume(), vec![at(cursor("c3"))], "pages 0-2 complete");
        listed(&mut t, (0, 3), cursor("c3"), 1, None);
        t.lane_done(0);
        listed(&mut t, (1, 0), None, 1, Some(Position::Offset(10)));
        assert_eq!(
            t.resume(),
            vec![at(cursor("c3")), at(None)],
            "lane 0's last page open, lane 1's first"
        );
        t.written((0, 3));
        assert_eq!(t.resume(), vec![DONE, at(None)], "lane 0 done");
        t.written((1, 0));
        assert_eq!(t.resume(), vec![DONE, at(Some(Position::Offset(10)))]);
        t.lane_done(1);
        assert_eq!(t.resume(), vec![DONE, DONE], "both lanes walked");
    }

    #[test]
    fn lanes_walked_at_once_resume_each_at_its_own_page() {
        // Lane 0 done before; lanes 1 and 3 walked at once; lane 2 not started.
        let mut t = Tracker::new(vec![DONE]);
        listed(&mut t, (3, 0), None, 2, cursor("d1"));
        listed(&mut t, (1, 0), None, 1, cursor("b1"));
        listed(&mut t, (1, 1), cursor("b1"), 1, cursor("b2"));
        listed(&mut t, (3, 1), cursor("d1"), 1, None);
        t.written((1, 0));
        t.written((3, 1));
        assert_eq!(
            t.resume(),
            vec![DONE, at(cursor("b1")), LaneState::default(), at(None)]
        );
        t.written((3, 0));
        t.written((3, 0));
        t.lane_done(3);
        t.written((1, 1));
        assert_eq!(
            t.resume(),
            vec![DONE, at(cursor("b2")), LaneState::default(), DONE]
        );
    }

    #[test]
    fn a_restarted_lane_forgets_its_open_pages() {
        let mut t = Tracker::new(vec![DONE, at(cursor("old"))]);
        listed(&mut t, (1, 0), cursor("old"), 3, cursor("c1"));
        t.restart_lane(1);
        assert_eq!(t.resume(), vec![DONE, at(None)]);
    }
}
