//! Syncs against polyai-mock on loopback: a first sync stores every conversation with its
//! turns, a second is a no-op, conversations that arrive are stored exactly once, young ones are
//! read again, recordings are saved, and a database from schema version 1 migrates — through
//! the Data API and through the Conversations API v3, and switching between them.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use polyai_data::Client;
use polyai_mock::{MockConfig, MockServer};
use polyai_store::{Api, Store, StoreError, SyncReport, SyncStatus, Syncer};
use rusqlite::Connection;

struct Bed {
    server: MockServer,
    client: Client,
    dir: tempfile::TempDir,
}

impl Bed {
    async fn start(conversations: u64) -> Bed {
        let server = MockServer::start(MockConfig::default().conversations(conversations))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let client = Client::builder()
            .api_key(server.key().unwrap_or_default())
            .base_url(server.base_url())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Bed {
            server,
            client,
            dir: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("conversations.db")
    }

    fn agent(&self) -> String {
        self.server.agent_ids()[0].clone()
    }

    /// A sync with the mock's clock and no refresh unless `configure` asks for one, in pages of
    /// 40; it must succeed.
    async fn sync(
        &self,
        store: &Store,
        configure: impl FnOnce(Syncer<'_>) -> Syncer<'_>,
    ) -> SyncReport {
        let syncer = Syncer::new(store, &self.client, self.agent())
            .page_size(40)
            .now(self.server.now().into())
            .refresh_window(Duration::ZERO);
        configure(syncer)
            .run()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A sync through the v3 listing, in pages of 40.
    async fn sync_v3(
        &self,
        store: &Store,
        configure: impl FnOnce(Syncer<'_>) -> Syncer<'_>,
    ) -> SyncReport {
        self.sync(store, |s| configure(s.api(self.v3()))).await
    }

    /// A sync through `api`.
    async fn sync_with(&self, store: &Store, api: &Api) -> SyncReport {
        self.sync(store, |s| s.api(api.clone())).await
    }

    fn v3(&self) -> Api {
        Api::V3 {
            account_id: self.server.account_id().to_owned(),
        }
    }

    /// Every stored conversation with its number of turns, against what the mock lists.
    fn assert_exact(&self) {
        let conn = self.read();
        let stored = query_pairs(
            &conn,
            "SELECT c.conversation_id, COUNT(t.turn_index) FROM conversations c
             LEFT JOIN turns t USING (conversation_id) GROUP BY 1",
        );
        let listed: HashSet<String> = self.listed_ids().into_iter().collect();
        assert_eq!(
            stored.keys().cloned().collect::<HashSet<_>>(),
            listed,
            "exactly the listed conversations"
        );
        for i in 0..self.server.config().conversations {
            let id = self.server.conversation_id(0, i);
            assert_eq!(
                stored.get(&id).copied(),
                Some(self.server.turn_count(0, i) as i64),
                "turns of {id}"
            );
        }
        assert_eq!(
            one(&conn, "SELECT SUM(new) FROM sync_runs"),
            listed.len() as i64,
            "each conversation stored once"
        );
    }

    /// Every conversation id the mock lists for the first agent, newest first.
    fn listed_ids(&self) -> Vec<String> {
        let arrived = self.server.conversation_count() - self.server.config().conversations;
        let mut ids: Vec<String> = (0..arrived)
            .rev()
            .map(|k| self.server.added_conversation_id(0, k))
            .collect();
        ids.extend(
            (0..self.server.config().conversations).map(|i| self.server.conversation_id(0, i)),
        );
        ids
    }

    fn read(&self) -> Connection {
        Connection::open(self.db()).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn query_pairs(conn: &Connection, sql: &str) -> HashMap<String, i64> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}"));
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn one(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_second_no_op_then_arrivals_exactly_once() {
    let bed = Bed::start(150).await;
    first_second_arrivals(&bed, Api::DataApi, 1).await;
    let conn = bed.read();
    assert!(one(&conn, "SELECT COUNT(*) FROM function_events") > 0);
    assert_eq!(
        one(&conn, "SELECT COUNT(*) FROM sync_runs WHERE api = 'data'"),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_first_sync_second_no_op_then_arrivals_exactly_once() {
    let bed = Bed::start(150).await;
    first_second_arrivals(&bed, bed.v3(), 3).await;
    let conn = bed.read();
    for (sql, want) in [
        ("SELECT COUNT(*) FROM conversations WHERE api = 'v3'", 207),
        ("SELECT COUNT(*) FROM sync_runs WHERE api = 'v3'", 3),
        ("SELECT COUNT(*) FROM function_events", 0),
        (
            "SELECT COUNT(*) FROM conversations WHERE started_at IS NULL OR environment IS NULL
                 OR turn_count IS NULL OR variant_name = '' OR handoff_reason = ''",
            0,
        ),
    ] {
        assert_eq!(one(&conn, sql), want, "{sql}");
    }
    assert!(one(&conn, "SELECT COUNT(*) FROM turns WHERE latency > 0") > 100);
}

/// A first sync through `api` stores all 150 conversations of `bed` with every turn and metric;
/// a second reads `no_op_pages` pages and stores nothing; of 57 arrivals, each is stored once.
async fn first_second_arrivals(bed: &Bed, api: Api, no_op_pages: u64) {
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    let first = bed.sync_with(&store, &api).await;
    assert_eq!(first.status, SyncStatus::Complete);
    assert_eq!((first.counts.new, first.counts.failed), (150, 0));
    assert_eq!(first.stored, 150);
    bed.assert_exact();
    let conn = bed.read();
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM conversations WHERE turn_count IS NULL OR raw IS NULL"
        ),
        0
    );
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM metrics WHERE name = 'CALL_DURATION' AND number > 0"
        ),
        150
    );

    let second = bed.sync_with(&store, &api).await;
    assert_eq!(
        (
            second.counts.new,
            second.counts.refreshed,
            second.counts.pages
        ),
        (0, 0, no_op_pages),
        "a second sync reads one page (per v3 environment) and stores nothing"
    );

    bed.server.add_conversations(57);
    let third = bed.sync_with(&store, &api).await;
    assert_eq!((third.counts.new, third.counts.refreshed), (57, 0));
    assert!(
        third.counts.listed < 150,
        "listed from the top, not the whole history: {}",
        third.counts.listed
    );
    bed.assert_exact();
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM sync_runs WHERE status = 'complete'"
        ),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn young_conversations_are_read_again_with_their_new_notes() {
    let bed = Bed::start(120).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    bed.sync(&store, |s| s).await;
    let newest = bed.server.conversation_id(0, 0);
    let agent = bed.client.agent(bed.agent());
    agent
        .note(&newest, "caller asked for a manager")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The mock's conversations start about every 97 s before its clock: an hour holds ~37.
    let report = bed
        .sync(&store, |s| s.refresh_window(Duration::from_secs(3600)))
        .await;
    let conn = bed.read();
    let young = one(
        &conn,
        "SELECT COUNT(*) FROM conversations WHERE started_at >= '2026-06-03T13:00:00'",
    );
    assert!(young > 20, "{young}");
    assert_eq!(report.counts.refreshed as i64, young);
    assert_eq!(report.counts.new, 0);
    let note: String = conn
        .query_row(
            "SELECT note FROM conversations WHERE conversation_id = ?1",
            [&newest],
            |r| r.get(0),
        )
        .unwrap_or_default();
    assert_eq!(note, "caller asked for a manager");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_saved_and_backfilled() {
    let bed = Bed::start(30).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    // Stored first without recordings, then asked for them: the backfill downloads them.
    bed.sync(&store, |s| s).await;
    let audio = bed.dir.path().join("audio");
    let report = bed.sync(&store, |s| s.with_audio(&audio)).await;
    let with: Vec<u64> = (0..30)
        .filter(|&i| bed.server.has_recording(0, i))
        .collect();
    assert!(!with.is_empty());
    assert_eq!(report.counts.recordings, with.len() as u64);
    for i in &with {
        let id = bed.server.conversation_id(0, *i);
        let bytes = std::fs::metadata(audio.join(format!("{id}.wav")))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(bytes > 44, "{id}.wav");
    }
    let conn = bed.read();
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM conversations WHERE audio_file IS NOT NULL"
        ),
        with.len() as i64
    );
    // Nothing is downloaded twice.
    let again = bed.sync(&store, |s| s.with_audio(&audio)).await;
    assert_eq!(again.counts.recordings, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_1_database_migrates_and_is_completed() {
    let bed = Bed::start(60).await;
    // A database as schema version 1 wrote it, holding the 10 newest conversations.
    {
        let conn = bed.read();
        let mut fixture = include_str!("fixtures/schema-v1.sql").to_owned();
        for i in 0..10 {
            fixture.push_str(&format!(
                "INSERT INTO conversations (conversation_id, agent_id, raw, first_synced_at, fetched_at)
                 VALUES ('{}', '{}', '{{}}', '2026-06-03T14:00:00Z', '2026-06-03T14:00:00Z');\n",
                bed.server.conversation_id(0, i),
                bed.agent()
            ));
        }
        conn.execute_batch(&fixture)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.schema_version().ok(),
        Some(polyai_store::SCHEMA_VERSION)
    );
    let report = bed.sync(&store, |s| s).await;
    // Schema 1 kept no record of how far its walk got: the first run walks the whole listing.
    assert_eq!(report.counts.new, 50);
    assert_eq!(report.stored, 60);
    let conn = bed.read();
    assert_eq!(
        one(&conn, "SELECT COUNT(*) FROM sync_runs"),
        2,
        "the old run is kept"
    );
    assert_eq!(
        one(&conn, "SELECT COUNT(*) FROM schema_version"),
        i64::from(polyai_store::SCHEMA_VERSION)
    );
    let next = bed.sync(&store, |s| s).await;
    assert_eq!((next.counts.new, next.counts.pages), (0, 1));
}

#[tokio::test]
async fn one_writer_and_clear_refusals() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("c.db");
    let first = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(Store::open(&db), Err(StoreError::Busy { .. })));
    drop(first);
    assert!(Store::open(&db).is_ok());

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database, but long enough to have a header of sorts....................................................................")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = Store::open(&text).err();
    assert!(
        matches!(err, Some(StoreError::NotADatabase { .. })),
        "{err:?}"
    );

    let other = dir.path().join("other.db");
    Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE invoices (id INTEGER)"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(Store::open(&other), Err(StoreError::NotOurs)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_between_the_data_api_and_v3_stays_exact() {
    let bed = Bed::start(150).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    bed.sync(&store, |s| s).await;
    bed.server.add_conversations(20);
    let v3 = bed.sync_v3(&store, |s| s).await;
    assert_eq!((v3.counts.new, v3.counts.refreshed), (20, 0));
    assert_eq!(
        v3.counts.pages, 3,
        "from the newest stored of each environment"
    );
    bed.assert_exact();
    let conn = bed.read();
    assert_eq!(
        query_pairs(&conn, "SELECT api, COUNT(*) FROM conversations GROUP BY 1"),
        HashMap::from([("data".to_owned(), 150), ("v3".to_owned(), 20)]),
        "the Data API's rows (with their function events) are kept"
    );

    bed.server.add_conversations(15);
    let v1 = bed.sync(&store, |s| s).await;
    // 15 new and 25 stored on the first page: one more page makes a full page of stored ones.
    assert_eq!((v1.counts.new, v1.counts.pages), (15, 2));
    bed.assert_exact();
    bed.server.add_conversations(4);
    let v3 = bed.sync_v3(&store, |s| s).await;
    assert_eq!(v3.counts.new, 4);
    bed.assert_exact();
}

/// Runs a v3 sync that stops once `pages` pages are committed.
async fn interrupted_v3(bed: &Bed, store: &Store, pages: u64) -> SyncReport {
    interrupted(bed, store, bed.v3(), pages).await
}

/// Runs a sync through `api` that stops after exactly `pages` committed pages.
async fn interrupted(bed: &Bed, store: &Store, api: Api, pages: u64) -> SyncReport {
    let report = Syncer::new(store, &bed.client, bed.agent())
        .api(api)
        .page_size(40)
        .refresh_window(Duration::ZERO)
        .max_pages(pages)
        .run()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.status, SyncStatus::Interrupted);
    assert_eq!(report.counts.pages, pages, "stopped at the page limit");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_the_data_api_left_makes_v3_walk_everything() {
    let bed = Bed::start(200).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    bed.sync_v3(&store, |s| s).await;
    // 100 arrivals span about 2.7 hours; the Data API walk stores the newest 40 and stops.
    bed.server.add_conversations(100);
    interrupted(&bed, &store, Api::DataApi, 1).await;
    assert_eq!(one(&bed.read(), "SELECT COUNT(*) FROM sync_gaps"), 1);
    // Starting an hour before the newest stored would miss the older arrivals below the gap.
    let report = bed.sync_v3(&store, |s| s).await;
    assert_eq!(report.counts.new, 60);
    bed.assert_exact();
    // The whole history was walked in every environment: the gap is closed for both walks.
    assert_eq!(one(&bed.read(), "SELECT COUNT(*) FROM sync_gaps"), 0);
    let v1 = bed.sync(&store, |s| s).await;
    assert_eq!((v1.counts.new, v1.counts.pages), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_v3_walk_resumes_from_its_cursor_with_arrivals() {
    let bed = Bed::start(300).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    interrupted_v3(&bed, &store, 2).await;
    let conn = bed.read();
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM sync_v3 WHERE walking = 1 AND cursor IS NOT NULL"
        ),
        1,
        "the walk's cursor is saved with its pages"
    );
    let saved: String = conn
        .query_row("SELECT cursor FROM sync_v3 WHERE walking = 1", [], |r| {
            r.get(0)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        saved
            .parse::<polyai_data::paginate::Position>()
            .is_ok_and(|p| p.cursor().is_some()),
        "saved as the listing's Position (`cursor:…`): {saved}"
    );
    let stored = one(&conn, "SELECT COUNT(*) FROM conversations");
    assert_eq!(stored, 80, "two pages of 40");
    // Conversations arrive after the cursor was issued: the resumed walk does not list them,
    // the walk from the newest stored that follows does.
    bed.server.add_conversations(9);
    let resumed = bed.sync_v3(&store, |s| s).await;
    assert_eq!(resumed.counts.new as i64, 309 - stored);
    bed.assert_exact();
    assert_eq!(
        one(&conn, "SELECT COUNT(*) FROM sync_v3 WHERE walking = 1"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_cursor_walks_again_from_its_start_time() {
    let bed = Bed::start(200).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    interrupted_v3(&bed, &store, 3).await;
    let conn = bed.read();
    let stored = one(&conn, "SELECT COUNT(*) FROM conversations");
    // As if the server had forgotten the cursor (expired, or another deployment); written bare,
    // as versions before positions saved it, which is read as a cursor.
    conn.execute(
        "UPDATE sync_v3 SET cursor = 'v3.0.0.0.0000000000000000' WHERE walking = 1",
        [],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = bed.sync_v3(&store, |s| s).await;
    assert_eq!(report.counts.new as i64, 200 - stored);
    bed.assert_exact();
    // A Data API run after that stops at once: the v3 walks left the agent complete.
    let v1 = bed.sync(&store, |s| s).await;
    assert_eq!((v1.counts.new, v1.counts.pages), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_v3_walk_makes_the_data_api_walk_everything() {
    let bed = Bed::start(200).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    bed.sync(&store, |s| s).await;
    bed.server.add_conversations(100);
    interrupted_v3(&bed, &store, 1).await;
    // The v3 page stored live conversations among the arrivals; in pages of 2, two of them in a
    // row would look like the stored history to a walk that trusted the agent to be complete.
    let report = bed.sync(&store, |s| s.page_size(2)).await;
    assert!(report.counts.new > 0);
    assert!(
        report.counts.pages > 100,
        "the whole listing: {}",
        report.counts.pages
    );
    bed.assert_exact();
    assert_eq!(one(&bed.read(), "SELECT COUNT(*) FROM sync_v3"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_reads_young_conversations_again() {
    let bed = Bed::start(120).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    bed.sync_v3(&store, |s| s).await;
    let report = bed
        .sync_v3(&store, |s| s.refresh_window(Duration::from_secs(3600)))
        .await;
    let young = one(
        &bed.read(),
        "SELECT COUNT(*) FROM conversations WHERE started_at >= '2026-06-03T13:00:00'",
    );
    assert!(young > 20, "{young}");
    assert_eq!(report.counts.refreshed as i64, young);
    assert_eq!(report.counts.new, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v3_sync_saves_recordings_through_the_data_api() {
    let bed = Bed::start(30).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    let audio = bed.dir.path().join("audio");
    let report = bed.sync_v3(&store, |s| s.with_audio(&audio)).await;
    let with = (0..30).filter(|&i| bed.server.has_recording(0, i)).count();
    assert!(with > 0);
    assert_eq!(
        (report.counts.new, report.counts.recordings),
        (30, with as u64)
    );
    assert_eq!(
        one(
            &bed.read(),
            "SELECT COUNT(*) FROM conversations WHERE audio_file IS NOT NULL"
        ),
        with as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_limit_of_zero_is_refused() {
    let bed = Bed::start(10).await;
    let store = Store::open(bed.db()).unwrap_or_else(|e| panic!("{e}"));
    let err = Syncer::new(&store, &bed.client, bed.agent())
        .max_pages(0)
        .run()
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("page limit must be at least 1")),
        "{err:?}"
    );
}
