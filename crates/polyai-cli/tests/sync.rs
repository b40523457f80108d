//! `sync`: a run killed with SIGKILL mid-sync, while conversations arrive, then resumed, holds
//! exactly the mock's conversations, each stored once with every turn; one sync per database
//! (exit 10); a file that is not a sync database is refused (exit 8); and the README's example
//! queries run on a sandbox sync, read from the README itself so they cannot drift.

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
    vec![
        "sync".into(),
        "--db".into(),
        db.to_str().expect("utf-8 path").into(),
        "--page-size".into(),
        "20".into(),
        // The mock's data is months old: nothing would be refreshed anyway; say so.
        "--refresh-days".into(),
        "0".into(),
    ]
}

#[test]
fn killed_sync_resumes_exactly_with_arrivals_during_and_between_runs() {
    let mock = Mock::with_conversations(300);
    mock.faults().set_latency(Duration::from_millis(15));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("conversations.db");
    let mut child = mock
        .std_polyai()
        .args(sync_args(&db))
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
    let expected = expected_turns(&mock);
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
    drop(conn);

    // More arrive between the runs.
    mock.server().add_conversations(11);
    mock.faults().set_latency(Duration::ZERO);
    let out = mock.polyai().args(sync_args(&db)).output().expect("runs");
    assert!(out.status.success(), "resume failed: {}", stderr(&out));
    assert!(stderr(&out).contains("sync complete"), "{}", stderr(&out));

    let conn = reader(&db).expect("database opens");
    let expected = expected_turns(&mock);
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
        .args(sync_args(&db))
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
        (Some(0), Some(1), Some(318)),
        "{record}"
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
    let queries = readme_queries();
    assert_eq!(
        queries.len(),
        3,
        "calls per day, slowest turns, function calls"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("sandbox.db");
    let out = polyai()
        .args(["--sandbox", "sync", "--db"])
        .arg(&db)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = reader(&db).expect("opens");
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
        assert!(!rows.is_empty(), "no rows from {sql}");
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
}
