//! `sync`: a run killed with SIGKILL mid-sync, while conversations arrive, then resumed, holds
//! exactly the mock's conversations, each stored once with every turn, through the Data API and
//! through v3; one sync per database (exit 10); a file that is not a sync database is refused
//! (exit 8); and the README's example queries run on a sandbox sync through either, read from the
//! README itself so they cannot drift.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Mock, polyai, stderr, wait_until};
use rusqlite::{Connection, OpenFlags};

/// Opens `db` read-only, as any reader would while a sync runs.
fn reader(db: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
}

/// `(key, number)` rows of `sql`.
fn pairs(conn: &Connection, sql: &str) -> HashMap<String, i64> {
    let mut stmt = conn.prepare(sql).expect("query prepares");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .expect("query runs")
}

fn one(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Conversations stored so far (0 while the file or its tables do not exist yet).
fn stored(db: &Path) -> i64 {
    reader(db)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM conversations", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// Every conversation the mock lists for its first agent, with its number of turns.
fn expected_turns(mock: &Mock) -> HashMap<String, i64> {
    let server = mock.server();
    let seeded = server.config().conversations;
    let arrived = server.conversation_count() - seeded;
    let mut expected: HashMap<String, i64> = (0..seeded)
        .map(|i| (server.conversation_id(0, i), server.turn_count(0, i) as i64))
        .collect();
    // Arrivals carry turns too; their count is not exposed, so it is read from the API.
    let agent = mock.agent();
    for k in 0..arrived {
        let id = server.added_conversation_id(0, k);
        let detail: serde_json::Value = serde_json::from_slice(
            &mock.raw_get(&format!("/v1/agents/{agent}/conversations/{id}")),
        )
        .expect("detail JSON");
        let turns = detail["turns"].as_array().map_or(0, Vec::len);
        expected.insert(id, turns as i64);
    }
    expected
}

fn sync_args(db: &Path) -> Vec<String> {
    sync_args_paged(db, 20)
}

fn sync_args_paged(db: &Path, page_size: u64) -> Vec<String> {
    vec![
        "sync".into(),
        "--db".into(),
        db.to_str().expect("utf-8 path").into(),
        "--page-size".into(),
        page_size.to_string(),
        // The mock's data is months old: nothing would be refreshed anyway; say so.
        "--refresh-days".into(),
        "0".into(),
    ]
}

#[test]
fn killed_sync_resumes_exactly_with_arrivals_during_and_between_runs() {
    let mock = Mock::with_conversations(300);
    killed_sync_resumes_exactly(&mock, &["--api", "v1"], 20, 15, 1);
}

#[test]
fn killed_v3_sync_resumes_exactly_with_arrivals_during_and_between_runs() {
    let mock = Mock::with_conversations(300);
    let account = mock.server().account_id().to_owned();
    // Pages of 5 at 60 ms each: a walk of about 60 requests, killed while it runs. With an
    // overlap of a minute a no-op run reads one page per environment (an hour holds ~37
    // conversations: 8 pages of 5).
    let args = ["--api", "v3", "--account", &account, "--overlap", "1m"];
    killed_sync_resumes_exactly(&mock, &args, 5, 60, 3);
}

/// Kills a sync (run with `api_args`, pages of `page_size`, `latency_ms` per request) once 80
/// conversations are stored, with arrivals before and after the kill; the next run completes
/// it exactly, and a run after that reads `no_op_pages` pages and stores nothing.
fn killed_sync_resumes_exactly(
    mock: &Mock,
    api_args: &[&str],
    page_size: u64,
    latency_ms: u64,
    no_op_pages: u64,
) {
    mock.faults().set_latency(Duration::from_millis(latency_ms));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("conversations.db");
    let args = || {
        let mut args = sync_args_paged(&db, page_size);
        args.extend(api_args.iter().map(|a| a.to_string()));
        args
    };
    let mut child = mock
        .std_polyai()
        .args(args())
        .args(["--concurrency", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn polyai sync");
    wait_until(&mut child, "40 stored conversations", || stored(&db) >= 40);
    // Conversations arrive while it runs: later pages shift.
    mock.server().add_conversations(7);
    wait_until(&mut child, "80 stored conversations", || stored(&db) >= 80);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let conn = reader(&db).expect("the killed run's database opens");
    let partial = one(&conn, "SELECT COUNT(*) FROM conversations");
    assert!(
        (80..307).contains(&partial),
        "{partial} stored before the kill"
    );
    // Every stored conversation is whole: a page is committed with all its rows or not at all.
    let expected = expected_turns(mock);
    for (id, turns) in pairs(
        &conn,
        "SELECT c.conversation_id, COUNT(t.turn_index) FROM conversations c
         LEFT JOIN turns t USING (conversation_id) GROUP BY 1",
    ) {
        assert_eq!(Some(&turns), expected.get(&id), "{id}");
    }
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM sync_runs WHERE status = 'running'"
        ),
        1,
        "the killed run could not record its end"
    );
    let place = if api_args.contains(&"--account") {
        "SELECT COUNT(*) FROM sync_v3 WHERE walking = 1 AND cursor IS NOT NULL"
    } else {
        "SELECT COUNT(*) FROM sync_gaps"
    };
    assert_eq!(one(&conn, place), 1, "the killed run left its place");
    drop(conn);

    // More arrive between the runs.
    mock.server().add_conversations(11);
    mock.faults().set_latency(Duration::ZERO);
    let out = mock.polyai().args(args()).output().expect("runs");
    assert!(out.status.success(), "resume failed: {}", stderr(&out));
    assert!(stderr(&out).contains("sync complete"), "{}", stderr(&out));

    let conn = reader(&db).expect("database opens");
    let expected = expected_turns(mock);
    assert_eq!(expected.len(), 318);
    let turns = pairs(
        &conn,
        "SELECT c.conversation_id, COUNT(t.turn_index) FROM conversations c
         LEFT JOIN turns t USING (conversation_id) GROUP BY 1",
    );
    assert_eq!(
        turns, expected,
        "exactly the mock's conversations, every turn"
    );
    assert_eq!(
        one(&conn, "SELECT SUM(new) FROM sync_runs"),
        318,
        "each conversation stored once across the killed run and the resume"
    );
    assert_eq!(
        one(
            &conn,
            "SELECT COUNT(*) FROM conversations WHERE detail_error IS NOT NULL"
        ),
        0
    );
    let statuses: HashSet<String> = pairs(&conn, "SELECT status, 0 FROM sync_runs")
        .into_keys()
        .collect();
    assert_eq!(
        statuses,
        HashSet::from(["interrupted".to_owned(), "complete".to_owned()]),
        "the killed run is marked interrupted by the next"
    );
    drop(conn);

    let again = mock
        .polyai()
        .args(args())
        .args(["-O", "json"])
        .output()
        .expect("runs");
    assert!(again.status.success(), "{}", stderr(&again));
    let record: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON record");
    assert_eq!(
        (
            record["new"].as_u64(),
            record["pages"].as_u64(),
            record["stored"].as_u64()
        ),
        (Some(0), Some(no_op_pages), Some(318)),
        "{record}"
    );
    let api = if api_args.contains(&"--account") {
        "v3"
    } else {
        "data"
    };
    assert_eq!(record["api"], api, "{record}");
    assert_eq!(
        one(
            &reader(&db).expect("opens"),
            &format!("SELECT COUNT(*) FROM sync_runs WHERE api = '{api}'")
        ),
        3
    );
}

#[test]
fn one_sync_per_database_and_foreign_files_are_refused() {
    let mock = Mock::with_conversations(5);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("c.db");
    let held = polyai_store::Store::open(&db).expect("store opens");
    let out = mock.polyai().args(sync_args(&db)).output().expect("runs");
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("wait for it to finish"),
        "{}",
        stderr(&out)
    );
    drop(held);
    let out = mock.polyai().args(sync_args(&db)).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));

    let other = dir.path().join("invoices.db");
    Connection::open(&other)
        .and_then(|c| c.execute_batch("CREATE TABLE invoices (id INTEGER)"))
        .expect("foreign database");
    let out = mock
        .polyai()
        .args(sync_args(&other))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("choose a new file for --db"),
        "{}",
        stderr(&out)
    );
    let tables = one(
        &reader(&other).expect("opens"),
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
    );
    assert_eq!(tables, 1, "a foreign database is left as it was");
}

/// The SQL blocks of the README's `polyai sync` section.
fn readme_queries() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let start = readme
        .find("### A local copy you can query: `polyai sync`")
        .expect("the sync section of the README");
    let section = &readme[start..];
    let end = section[4..]
        .find("\n## ")
        .or_else(|| section[4..].find("\n### "))
        .map_or(section.len(), |i| i + 4);
    section[..end]
        .split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_readme_queries_run_on_a_sandbox_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let v1 = readme_results(
        &dir.path().join("sandbox.db"),
        &["--api", "data", "--env", "all"],
    );
    // Through the Data API every conversation's function events are stored.
    assert!(!v1[2].is_empty(), "function calls through the Data API");
    let v3 = readme_results(
        &dir.path().join("sandbox-v3.db"),
        &["--api", "v3", "--env", "all"],
    );
    // Through v3 the same calls per day and handoff rates (v3 has no function events, so the
    // third query answers no rows, as the README says).
    assert_eq!(
        v3[0], v1[0],
        "calls per day through v3 and through the Data API"
    );
    assert!(v3[2].is_empty(), "{:?}", v3[2]);
}

/// Syncs the sandbox into `db` (with `extra` arguments), runs the README's queries on it, checks
/// what each answers, and returns their rows.
fn readme_results(db: &Path, extra: &[&str]) -> Vec<Vec<Vec<rusqlite::types::Value>>> {
    let queries = readme_queries();
    assert_eq!(
        queries.len(),
        3,
        "calls per day, slowest turns, function calls"
    );
    let out = polyai()
        .args(["--sandbox", "sync", "--db"])
        .arg(db)
        .args(extra)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = reader(db).expect("opens");
    let total = one(&conn, "SELECT COUNT(*) FROM conversations");
    assert!(total > 0);
    let mut results = Vec::new();
    for sql in &queries {
        let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let columns = stmt.column_count();
        let rows: Vec<Vec<rusqlite::types::Value>> = stmt
            .query_map([], |row| (0..columns).map(|i| row.get(i)).collect())
            .and_then(|rows| rows.collect())
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        results.push(rows);
    }
    use rusqlite::types::Value::{Integer, Real, Text};
    // Calls per day: every conversation is on some day, and the rate is a percentage.
    let calls: i64 = results[0]
        .iter()
        .map(|row| match row[1] {
            Integer(n) => n,
            _ => panic!("calls: {row:?}"),
        })
        .sum();
    assert_eq!(calls, total);
    for row in &results[0] {
        assert!(matches!(row[0], Text(_)), "{row:?}");
        assert!(
            matches!(row[2], Real(p) if (0.0..=100.0).contains(&p)),
            "{row:?}"
        );
    }
    // Slowest turns: ten, slowest first.
    let latencies: Vec<f64> = results[1]
        .iter()
        .map(|row| match row[2] {
            Real(l) => l,
            _ => panic!("latency: {row:?}"),
        })
        .collect();
    assert_eq!(latencies.len(), 10);
    assert!(latencies.windows(2).all(|w| w[0] >= w[1]), "{latencies:?}");
    // Function calls: counts add up to the table.
    let counted: i64 = results[2]
        .iter()
        .map(|row| match (&row[0], &row[1]) {
            (Text(_), Integer(n)) => *n,
            _ => panic!("function: {row:?}"),
        })
        .sum();
    assert_eq!(counted, one(&conn, "SELECT COUNT(*) FROM function_events"));
    results
}

#[test]
fn a_second_sandbox_sync_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sandbox.db");
    for (api, env, pages) in [("data", "all", 1), ("v3", "all", 3), ("v3", "live", 1)] {
        let db = db.with_extension(format!("{api}-{env}"));
        for run in 0..2 {
            let out = polyai()
                .args([
                    "--sandbox",
                    "-O",
                    "json",
                    "sync",
                    "--api",
                    api,
                    "--env",
                    env,
                ])
                .arg("--db")
                .arg(&db)
                .output()
                .expect("runs");
            assert!(out.status.success(), "{}", stderr(&out));
            let record: serde_json::Value =
                serde_json::from_slice(&out.stdout).expect("JSON record");
            if run == 1 {
                // The sandbox's data never changes and is months old: nothing is young.
                assert_eq!(
                    (
                        record["new"].as_u64(),
                        record["refreshed"].as_u64(),
                        record["pages"].as_u64()
                    ),
                    (Some(0), Some(0), Some(pages)),
                    "{api}: {record}"
                );
            }
        }
    }
}

#[test]
fn v3_needs_an_account() {
    let mock = Mock::with_conversations(30);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("c.db");
    let out = mock
        .polyai()
        .args(sync_args(&db))
        .args(["--api", "v3"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--account"), "{}", stderr(&out));
    let out = mock
        .polyai()
        .env("POLYAI_ACCOUNT_ID", mock.server().account_id())
        .args(sync_args(&db))
        .args(["--api", "v3", "-O", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON record");
    assert_eq!(
        (record["api"].as_str(), record["new"].as_u64()),
        (Some("v3"), Some(30))
    );
    let out = mock
        .polyai()
        .args(sync_args(&db))
        .args(["--overlap", "soon"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--overlap"), "{}", stderr(&out));
}
