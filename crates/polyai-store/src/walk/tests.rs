//! The walk against a scripted listing: arrivals between and during runs, runs that die after
//! some pages, deleted anchors, retention at the bottom of the listing, refresh, failures.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use polyai_data::{Client, Timestamp, TransportKind};
use serde_json::{Value, json};

use super::*;
use crate::sync::Syncer;
use crate::{SyncReport, SyncStatus};

/// Conversation `n` started `n` minutes after this; a higher `n` is newer.
const BASE_MICROS: i64 = 1_780_000_000_000_000;

fn started(n: u64) -> String {
    format_micros(BASE_MICROS + n as i64 * 60_000_000).unwrap_or_default()
}

use crate::record::format_micros;

/// A listing of conversations `c{n}`, newest first, with scripted changes.
#[derive(Default)]
struct Script {
    /// Listed conversation numbers, newest first.
    listed: Vec<u64>,
    next: u64,
    list_calls: u64,
    /// The list call (1-based) that fails like a dead connection, ending the run.
    die_at_list: Option<u64>,
    /// Conversations added at the front before every list call.
    arrive_per_list: u64,
    /// Detail reads per conversation.
    reads: BTreeMap<String, u32>,
    /// Conversations whose detail fails.
    broken: HashSet<String>,
    /// Notes, by conversation.
    notes: BTreeMap<String, String>,
}

struct Fake(Mutex<Script>);

impl Fake {
    fn new(n: u64) -> Fake {
        let fake = Fake(Mutex::new(Script::default()));
        fake.arrive(n);
        fake
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `n` new conversations at the front.
    fn arrive(&self, n: u64) {
        let mut s = self.script();
        for _ in 0..n {
            let id = s.next;
            s.next += 1;
            s.listed.insert(0, id);
        }
    }

    fn all_ids(&self) -> HashSet<String> {
        self.script()
            .listed
            .iter()
            .map(|n| format!("c{n}"))
            .collect()
    }

    fn summary(n: u64, note: Option<&String>) -> Value {
        json!({"conversationId": format!("c{n}"), "accountId": "A", "projectId": "P",
               "startedAt": started(n), "note": note})
    }
}

fn dead() -> polyai_data::Error {
    polyai_data::Error::Transport {
        operation: "list_conversations",
        kind: TransportKind::Connection,
        host: "fake".into(),
        message: "the process died here".into(),
        correlation_id: "-".into(),
        source: None,
    }
}

impl Source for Fake {
    fn list(
        &self,
        offset: u64,
        limit: u64,
    ) -> BoxFuture<'_, Result<ListedPage, polyai_data::Error>> {
        let mut s = self.script();
        let arrivals = s.arrive_per_list;
        drop(s);
        self.arrive(arrivals);
        s = self.script();
        s.list_calls += 1;
        let result = if s.die_at_list == Some(s.list_calls) {
            Err(dead())
        } else {
            let items = s
                .listed
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|&n| {
                    let summary = Fake::summary(n, s.notes.get(&format!("c{n}")));
                    Listed {
                        id: format!("c{n}"),
                        started: Some(started(n)),
                        summary,
                    }
                })
                .collect();
            Ok(ListedPage {
                items,
                count: s.listed.len() as u64,
            })
        };
        Box::pin(async move { result })
    }

    fn detail<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Value, polyai_data::Error>> {
        let mut s = self.script();
        *s.reads.entry(id.to_owned()).or_default() += 1;
        let result = if s.broken.contains(id) {
            Err(polyai_data::Error::InvalidRequest(format!(
                "{id} is broken"
            )))
        } else {
            let n: u64 = id[1..].parse().unwrap_or(0);
            let mut detail = Fake::summary(n, s.notes.get(id));
            detail["turns"] = json!([
                {"turn_id": 1, "user_input": "", "agent_response": "Hello", "latency": {"perceived_latency": 0.5}},
                {"turn_id": 2, "user_input": "hi", "agent_response": "bye", "latency": {"perceived_latency": 1.5}}
            ]);
            Ok(detail)
        };
        Box::pin(async move { result })
    }

    fn recording<'a>(
        &'a self,
        _id: &'a str,
        _path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<Option<u64>, polyai_data::Error>> {
        Box::pin(async { Ok(None) })
    }
}

struct Bed {
    _dir: tempfile::TempDir,
    store: Store,
    client: Client,
}

impl Bed {
    fn new() -> Bed {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path().join("c.db")).unwrap_or_else(|e| panic!("{e}"));
        let client = Client::builder()
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Bed {
            _dir: dir,
            store,
            client,
        }
    }

    async fn sync_with(
        &self,
        fake: &Fake,
        configure: impl FnOnce(Syncer<'_>) -> Syncer<'_>,
    ) -> Result<SyncReport, SyncError> {
        let now: Timestamp = started(fake.script().next)
            .parse()
            .unwrap_or_else(|_| Timestamp::now());
        let syncer = configure(
            Syncer::new(&self.store, &self.client, "P")
                .page_size(10)
                .concurrency(3)
                .now(now)
                .refresh_window(Duration::ZERO),
        );
        syncer
            .run_source(fake, "fake", None, std::future::pending())
            .await
    }

    async fn sync(&self, fake: &Fake) -> Result<SyncReport, SyncError> {
        self.sync_with(fake, |s| s).await
    }

    fn ids(&self) -> HashSet<String> {
        self.store
            .with(|conn| {
                let mut stmt = conn.prepare("SELECT conversation_id FROM conversations")?;
                let ids = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok(ids)
            })
            .unwrap_or_default()
    }

    fn count(&self, sql: &str) -> i64 {
        self.store
            .with(|conn| Ok(conn.query_row(sql, [], |r| r.get(0))?))
            .unwrap_or(-1)
    }
}

/// Every conversation was read exactly once.
fn read_once(fake: &Fake) {
    let s = fake.script();
    let twice: Vec<_> = s.reads.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "read more than once: {twice:?}");
}

#[tokio::test]
async fn first_sync_stores_everything_and_the_second_reads_one_page() {
    let fake = Fake::new(95);
    let bed = Bed::new();
    let first = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.status, SyncStatus::Complete);
    assert_eq!(first.counts.new, 95);
    assert_eq!(first.stored, 95);
    assert_eq!(bed.ids(), fake.all_ids());
    assert_eq!(bed.count("SELECT COUNT(*) FROM turns"), 190);
    assert_eq!(bed.count("SELECT COUNT(*) FROM sync_gaps"), 0);
    read_once(&fake);

    let calls = fake.script().list_calls;
    let second = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((second.counts.new, second.counts.refreshed), (0, 0));
    assert_eq!(
        fake.script().list_calls - calls,
        1,
        "a no-op run reads one page"
    );
    read_once(&fake);
}

#[tokio::test]
async fn arrivals_between_and_during_runs_are_stored_exactly_once() {
    let fake = Fake::new(57);
    let bed = Bed::new();
    fake.script().arrive_per_list = 3; // the listing shifts under every page
    bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    fake.script().arrive_per_list = 0;
    fake.arrive(23);
    let report = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(report.counts.new >= 23);
    assert_eq!(bed.ids(), fake.all_ids());
    read_once(&fake);
}

#[tokio::test]
async fn runs_that_die_resume_without_gap_or_duplicate() {
    let fake = Fake::new(200);
    let bed = Bed::new();
    // The first run dies on its 6th page; then conversations arrive and the next run dies in
    // its head walk, leaving a second gap above the first; then more arrive.
    fake.script().die_at_list = Some(6);
    assert!(bed.sync(&fake).await.is_err());
    assert_eq!(bed.count("SELECT COUNT(*) FROM sync_gaps"), 1);
    fake.arrive(35);
    let calls = fake.script().list_calls;
    fake.script().die_at_list = Some(calls + 3);
    assert!(bed.sync(&fake).await.is_err());
    assert_eq!(bed.count("SELECT COUNT(*) FROM sync_gaps"), 2);
    fake.arrive(4);
    fake.script().die_at_list = None;
    let report = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.status, SyncStatus::Complete);
    assert_eq!(bed.ids(), fake.all_ids());
    assert_eq!(bed.count("SELECT COUNT(*) FROM sync_gaps"), 0);
    assert_eq!(
        bed.count("SELECT COUNT(*) FROM sync_runs WHERE status = 'failed'"),
        2
    );
    read_once(&fake);
    // And now it is a no-op.
    let calls = fake.script().list_calls;
    bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fake.script().list_calls - calls, 1);
}

#[tokio::test]
async fn a_deleted_anchor_and_retention_at_the_bottom_are_found_by_time() {
    let fake = Fake::new(300);
    let bed = Bed::new();
    fake.script().die_at_list = Some(8);
    assert!(bed.sync(&fake).await.is_err());
    let anchor = bed
        .store
        .with(|conn| store::gaps(conn, "P"))
        .unwrap_or_default()
        .first()
        .map(|g| g.anchor_id.clone())
        .unwrap_or_default();
    {
        let mut s = fake.script();
        s.die_at_list = None;
        // The anchor is deleted, and the 100 oldest go (retention) while 100 arrive.
        let n: u64 = anchor[1..].parse().unwrap_or(0);
        s.listed.retain(|&m| m != n);
        let keep = s.listed.len() - 100;
        s.listed.truncate(keep);
    }
    fake.arrive(100);
    let report = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.status, SyncStatus::Complete);
    let stored = bed.ids();
    assert!(fake.all_ids().is_subset(&stored), "missing conversations");
    read_once(&fake);
}

#[tokio::test]
async fn young_conversations_are_read_again_and_failures_retried() {
    let fake = Fake::new(40);
    let bed = Bed::new();
    fake.script().broken.insert("c5".into());
    let first = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((first.counts.new, first.counts.failed), (39, 1));
    assert!(first.first_failure.unwrap_or_default().contains("c5"));
    assert_eq!(
        bed.count("SELECT COUNT(*) FROM conversations WHERE fetched_at IS NULL AND detail_error IS NOT NULL"),
        1
    );
    fake.script().broken.clear();
    fake.script()
        .notes
        .insert("c39".into(), "called back".into());
    // A window of 15 minutes before the newest: c25..c39 are young.
    let second = bed
        .sync_with(&fake, |s| s.refresh_window(Duration::from_secs(15 * 60)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.counts.refreshed, 15);
    assert_eq!(second.counts.retried, 1);
    assert_eq!(second.counts.new, 0);
    assert_eq!(
        bed.count("SELECT COUNT(*) FROM conversations WHERE note = 'called back'"),
        1
    );
    assert_eq!(
        bed.count("SELECT COUNT(*) FROM conversations WHERE fetched_at IS NULL"),
        0
    );
}

#[tokio::test]
async fn too_many_failures_in_a_row_stop_the_run() {
    let fake = Fake::new(30);
    let bed = Bed::new();
    fake.script().broken = (0..30).map(|n| format!("c{n}")).collect();
    let err = bed.sync(&fake).await.err();
    assert!(matches!(err, Some(SyncError::Api(_))), "{err:?}");
    assert_eq!(
        bed.count("SELECT status = 'failed' FROM sync_runs ORDER BY run_id DESC LIMIT 1"),
        1
    );
}

#[tokio::test]
async fn a_full_walk_repairs_a_lost_row() {
    let fake = Fake::new(60);
    let bed = Bed::new();
    bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    bed.store
        .with(
            |conn| Ok(conn.execute("DELETE FROM conversations WHERE conversation_id = 'c3'", [])?),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let plain = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plain.counts.new, 0,
        "an incremental run stops at the newest page"
    );
    let full = bed
        .sync_with(&fake, |s| s.full(true))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(full.counts.new, 1);
    assert_eq!(bed.ids(), fake.all_ids());
}

#[tokio::test]
async fn without_a_complete_walk_a_run_never_stops_early() {
    // As after a migration from schema 1: conversations stored, no bookkeeping.
    let fake = Fake::new(80);
    let bed = Bed::new();
    fake.script().die_at_list = Some(3);
    assert!(bed.sync(&fake).await.is_err());
    bed.store
        .with(|conn| Ok(conn.execute("DELETE FROM sync_gaps", [])?))
        .unwrap_or_else(|e| panic!("{e}"));
    fake.script().die_at_list = None;
    let report = bed.sync(&fake).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bed.ids(), fake.all_ids());
    assert!(report.counts.new > 0);
    read_once(&fake);
}
