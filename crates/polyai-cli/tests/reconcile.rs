//! `polyai reconcile` against the mock: the sandbox agrees with itself; every way the mock can
//! make the Data API and v3 disagree is found, and nothing else; conversations in progress are
//! apart; days follow `--tz`; and an API against an export folder and a sync database.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use common::{Mock, polyai, stderr, stdout};
use polyai_mock::{DisagreeField, Disagreement, MockConfig};
use serde_json::Value;

/// A window holding every seeded conversation of a mock (they end at 2026-06-03T14:00Z).
const SINCE: &str = "2026-05-01T00:00:00Z";
const UNTIL: &str = "2026-06-04T00:00:00Z";

fn json(out: &Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// How many pairs a report compared `field` in.
fn compared(report: &Value, field: &str) -> Option<u64> {
    report["summary"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["field"] == field)
        .and_then(|f| f["compared"].as_u64())
}

/// `(kind, id, field)` of every difference and conversation apart.
fn findings(report: &Value) -> BTreeSet<(String, String, String)> {
    ["differences", "in_progress"]
        .iter()
        .flat_map(|list| report[list].as_array().cloned().unwrap_or_default())
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (text("kind"), text("conversation_id"), text("field"))
        })
        .collect()
}

impl Mock {
    /// `polyai --account ACCOUNT … reconcile ARGS` against this mock.
    fn reconcile(&self, args: &[&str]) -> Output {
        self.polyai()
            .args(["--account", self.server().account_id(), "reconcile"])
            .args(args)
            .output()
            .expect("polyai runs")
    }

    /// Runs `polyai ARGS PATH` (an export or a sync into PATH) and checks it succeeded.
    fn make(&self, args: &[&str], path: &Path) {
        let out = self
            .polyai()
            .args(args)
            .arg(path)
            .output()
            .expect("polyai runs");
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }

    /// The same over a window that holds every seeded conversation.
    fn in_window(&self, args: &[&str]) -> Output {
        self.reconcile(&[&["--since", SINCE, "--until", UNTIL][..], args].concat())
    }

    /// `reconcile` over that window without an account: no v3.
    fn in_window_without_v3(&self, args: &[&str]) -> Output {
        self.run(&[&["reconcile", "--since", SINCE, "--until", UNTIL][..], args].concat())
    }
}

#[test]
fn the_sandbox_agrees_with_itself() {
    let out = polyai()
        .args([
            "--sandbox",
            "reconcile",
            "--since",
            "7d",
            "--env",
            "all",
            "-O",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let summary = &report["summary"];
    assert_eq!(summary["agree"], true, "{summary:#}");
    let totals = &summary["totals"];
    assert_eq!(totals["a"], 200, "every sandbox conversation: {totals}");
    assert_eq!(
        (&totals["a"], &totals["b"]),
        (&totals["both"], &totals["both"])
    );
    assert_eq!(summary["differences"], 0);
    assert_eq!(report["differences"], Value::Array(vec![]));
    assert_eq!(summary["time_zone"], "UTC");
    assert!(
        stderr(&out).contains("The listings agree"),
        "{}",
        stderr(&out)
    );
    // The README's command: a table, and the same verdict.
    let out = polyai()
        .args([
            "--sandbox",
            "reconcile",
            "--since",
            "2026-06-03",
            "--until",
            "2026-06-04",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("DAY") && text.contains("2026-06-03"),
        "{text}"
    );
    assert!(text.contains("The listings agree"), "{text}");
    assert!(text.contains("turn_count not compared"), "{text}");
}

#[test]
fn every_kind_of_disagreement_is_found_and_nothing_else() {
    let n = 500;
    let disagree = Disagreement {
        drop_v3: 0.04,
        drop_data: 0.04,
        duplicate_v3: 0.03,
        duplicate_data: 0.03,
        fields: vec![
            (DisagreeField::TotalDuration, 0.04),
            (DisagreeField::Channel, 0.02),
        ],
    };
    let mock = Mock::start(MockConfig::default().conversations(n).disagree(disagree));
    let out = mock.in_window(&["--env", "all", "-O", "json"]);
    assert_eq!(out.status.code(), Some(14), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the listings differ"),
        "{}",
        stderr(&out)
    );
    let report = json(&out);
    let got = findings(&report);
    let apart: BTreeSet<String> = got
        .iter()
        .filter(|(kind, _, _)| kind == "in_progress")
        .map(|(_, id, _)| id.clone())
        .collect();
    let mut want = BTreeSet::new();
    let mut kinds = BTreeMap::<&str, usize>::new();
    for i in 0..n {
        let id = mock.server().conversation_id(0, i);
        let d = mock.server().disagreed(0, i);
        if apart.contains(&id) {
            assert!(i < 4, "only the newest calls are in progress: {id} ({i})");
            continue;
        }
        let mut expect = |kind: &'static str, field: &str| {
            *kinds.entry(kind).or_default() += 1;
            want.insert((kind.to_owned(), id.clone(), field.to_owned()));
        };
        match (d.dropped_data, d.dropped_v3) {
            (false, true) => expect("only_in_a", "started_at"),
            (true, false) => expect("only_in_b", "started_at"),
            _ => {}
        }
        if d.duplicated_data && !d.dropped_data {
            expect("duplicate_in_a", "started_at");
        }
        if d.duplicated_v3 && !d.dropped_v3 {
            expect("duplicate_in_b", "started_at");
        }
        if !d.dropped_data && !d.dropped_v3 {
            for field in &d.fields {
                expect("differs", field.name());
            }
        }
    }
    assert!(apart.len() <= 4, "{apart:?}");
    for kind in [
        "only_in_a",
        "only_in_b",
        "duplicate_in_a",
        "duplicate_in_b",
        "differs",
    ] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) >= 3,
            "{kind} happens: {kinds:?}"
        );
    }
    let got: BTreeSet<_> = got
        .into_iter()
        .filter(|(kind, _, _)| kind != "in_progress")
        .collect();
    assert_eq!(got, want, "found exactly what the mock was told to do");
    // Named by their sides, in the contract's names, with both values.
    let differs = report["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["field"] == "total_duration")
        .cloned()
        .unwrap_or_default();
    let (a, b) = (differs["a"].as_i64(), differs["b"].as_i64());
    assert_eq!(b.zip(a).map(|(b, a)| b - a), Some(1), "{differs}");
    let only = report["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["kind"] == "only_in_a")
        .cloned()
        .unwrap_or_default();
    assert_eq!(only["side"], "data", "{only}");
    assert_eq!(report["summary"]["a"]["side"], "data");
    assert_eq!(report["summary"]["b"]["side"], "v3");

    // The same findings as JSON Lines (one per line, with a kind) and CSV (one row each).
    let out = mock.in_window(&["--env", "all", "-O", "jsonl"]);
    assert_eq!(out.status.code(), Some(14));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), want.len() + apart.len());
    assert!(
        lines
            .iter()
            .all(|l| l["kind"].is_string() && l["day"].is_string())
    );
    let out = mock.in_window(&["--env", "all", "-O", "csv"]);
    let text = stdout(&out);
    assert!(
        text.starts_with("kind,side,day,conversation_id,field,a,b\r\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1 + want.len() + apart.len());

    // One environment: v3 is walked for it alone, the Data API filtered to it.
    let out = mock.in_window(&["-O", "json"]);
    assert_eq!(out.status.code(), Some(14));
    let live = json(&out);
    assert_eq!(live["summary"]["environment"], "live");
    assert!(live["summary"]["a"]["other_environments"].as_u64() > Some(0));
    let totals = &live["summary"]["totals"];
    assert!(totals["a"].as_u64() < report["summary"]["totals"]["a"].as_u64());
}

#[test]
fn conversations_that_finish_during_the_run_are_apart_and_not_differences() {
    let disagree = Disagreement {
        fields: vec![(DisagreeField::InProgress, 0.1)],
        ..Disagreement::default()
    };
    let mock = Mock::start(MockConfig::default().conversations(300).disagree(disagree));
    let out = mock.in_window(&["--env", "all", "-O", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let apart = report["in_progress"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let flipped = (0..300)
        .filter(|&i| !mock.server().disagreed(0, i).fields.is_empty())
        .count();
    assert!(flipped >= 15, "{flipped}");
    assert!(apart.len() >= flipped, "{} < {flipped}", apart.len());
    let one_each = apart
        .iter()
        .filter(|f| f["a"].as_bool() != f["b"].as_bool())
        .count();
    assert!(
        one_each >= flipped - 4,
        "in progress on one side, finished on the other"
    );
    assert_eq!(
        report["summary"]["totals"]["in_progress"].as_u64(),
        Some(apart.len() as u64)
    );
    assert_eq!(report["differences"], Value::Array(vec![]));
}

/// Start times of the first agent's conversations, from the Data API listing.
fn start_times(mock: &Mock) -> Vec<String> {
    let out = mock.run(&["conversations", "list", "--all", "-O", "jsonl"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("JSON line");
            v["started_at"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

#[test]
fn days_and_window_edges_follow_the_time_zone() {
    // 1500 conversations, one about every 97 s: from 2026-06-02 ~00:00 to 2026-06-03 14:00 UTC.
    let mock = Mock::start(MockConfig::default().conversations(1500));
    let days = |tz: &str, since: &str| -> (Value, BTreeMap<String, u64>) {
        let out = mock.reconcile(&[
            "--since", since, "--until", UNTIL, "--env", "all", "--tz", tz, "-O", "json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{tz}: {}", stderr(&out));
        let report = json(&out);
        let days = report["days"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                let day = d["day"].as_str().unwrap_or_default().to_owned();
                (day, d["both"].as_u64().unwrap_or(0))
            })
            .collect();
        (report["summary"].clone(), days)
    };
    let starts = start_times(&mock);
    let after = |edge: &str| starts.iter().filter(|s| s.as_str() >= edge).count() as u64;
    // UTC: 2026-06-03 starts at 00:00Z.
    let (summary, utc) = days("UTC", "2026-06-02");
    assert_eq!(summary["since"], "2026-06-02T00:00:00.000000Z");
    assert_eq!(
        utc.get("2026-06-03").copied(),
        Some(after("2026-06-03T00:00:00"))
    );
    // New York (UTC-4 in June): 2026-06-03 starts at 04:00Z, and --since 2026-06-02 means
    // 04:00Z on the 2nd.
    let (summary, ny) = days("America/New_York", "2026-06-02");
    assert_eq!(summary["time_zone"], "America/New_York");
    assert_eq!(summary["since"], "2026-06-02T04:00:00.000000Z");
    assert_eq!(
        ny.get("2026-06-03").copied(),
        Some(after("2026-06-03T04:00:00"))
    );
    assert_ne!(utc, ny);
    let total = |d: &BTreeMap<String, u64>| d.values().sum::<u64>();
    assert_eq!(total(&utc), after("2026-06-02T00:00:00"));
    assert_eq!(total(&ny), after("2026-06-02T04:00:00"));
    // The table says which zone its days are in.
    let out = mock.reconcile(&[
        "--since",
        "2026-06-03",
        "--until",
        UNTIL,
        "--tz",
        "Asia/Tokyo",
    ]);
    assert!(
        stdout(&out).contains("days in Asia/Tokyo"),
        "{}",
        stdout(&out)
    );
}

/// Rewrites an export's journal with `edit` applied to its parsed lines.
fn edit_journal(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) {
    let path = dir.join("conversations.jsonl");
    let text = std::fs::read_to_string(&path).expect("journal");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("record"))
        .collect();
    edit(&mut lines);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).expect("rewrite journal");
}

#[test]
fn an_api_against_an_export_folder() {
    let mock = Mock::with_conversations(300);
    let tmp = tempfile::tempdir().expect("temp dir");
    let account = mock.server().account_id().to_owned();
    // A v3 export of the live environment, checked against the v3 listing of it.
    let v3_dir = tmp.path().join("v3");
    let export = [
        "--account",
        &account,
        "export",
        "--api",
        "v3",
        "--env",
        "live",
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--out",
    ];
    mock.make(&export, &v3_dir);
    let against = v3_dir.to_string_lossy().into_owned();
    let out = mock.in_window(&["--against", &against, "-O", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["summary"]["a"]["side"], "export");
    assert_eq!(report["summary"]["b"]["side"], "v3");
    assert!(
        compared(&report, "turn_count") > Some(100),
        "both hold turns"
    );

    // A line lost and a fact changed: the export no longer proves the listing.
    let (mut lost, mut changed) = (String::new(), String::new());
    edit_journal(&v3_dir, |lines| {
        lost = lines.remove(5)["conversation_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let line = &mut lines[10];
        changed = line["conversation_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        line["total_duration"] = Value::from(line["total_duration"].as_i64().unwrap_or(0) + 7);
    });
    let out = mock.in_window(&["--against", &against, "-O", "json"]);
    assert_eq!(out.status.code(), Some(14), "{}", stderr(&out));
    let got: BTreeSet<_> = findings(&json(&out))
        .into_iter()
        .filter(|(kind, _, _)| kind != "in_progress")
        .collect();
    let want = BTreeSet::from([
        ("only_in_b".to_owned(), lost, "started_at".to_owned()),
        ("differs".to_owned(), changed, "total_duration".to_owned()),
    ]);
    assert_eq!(got, want);

    // A Data API summaries export.
    let data_dir = tmp.path().join("data");
    mock.make(&["export", "--out"], &data_dir);
    // The folder, and its journal file alone, against the Data API listing (every environment).
    for against in [data_dir.clone(), data_dir.join("conversations.jsonl")] {
        let against = against.to_string_lossy().into_owned();
        let out =
            mock.in_window_without_v3(&["--env", "all", "--against", &against, "--api", "data"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains("EXPORT") && stdout(&out).contains("ONLY DATA"));
    }
}

#[test]
fn an_api_against_a_sync_database() {
    let mock = Mock::with_conversations(250);
    let tmp = tempfile::tempdir().expect("temp dir");
    let db = tmp.path().join("copy.db");
    // The Data API sync reads every detail: turn counts are stored.
    mock.make(&["sync", "--db"], &db);
    let against = db.to_string_lossy().into_owned();
    let args = ["--env", "all", "--against", &against];
    let out = mock.in_window(&[&args[..], &["-O", "json"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["summary"]["a"]["side"], "database");
    assert_eq!(report["summary"]["totals"]["both"], 250);
    assert!(
        compared(&report, "turn_count") > Some(200),
        "details hold turns"
    );

    // A row lost and a fact changed behind the sync's back.
    let conn = rusqlite::Connection::open(&db).expect("open");
    let lost = mock.server().conversation_id(0, 20);
    let changed = mock.server().conversation_id(0, 30);
    conn.execute(
        "DELETE FROM conversations WHERE conversation_id = ?1",
        [&lost],
    )
    .expect("delete");
    conn.execute(
        "UPDATE conversations SET handoff = 1 - handoff WHERE conversation_id = ?1",
        [&changed],
    )
    .expect("update");
    drop(conn);
    let out = mock.in_window(&[&args[..], &["-O", "json"]].concat());
    assert_eq!(out.status.code(), Some(14), "{}", stderr(&out));
    let got: BTreeSet<_> = findings(&json(&out))
        .into_iter()
        .filter(|(kind, _, _)| kind != "in_progress")
        .collect();
    assert_eq!(
        got,
        BTreeSet::from([
            ("only_in_b".to_owned(), lost, "started_at".to_owned()),
            ("differs".to_owned(), changed, "handoff".to_owned()),
        ])
    );
    // The Data API against it, with details: the same, through the other API.
    let out = mock.in_window_without_v3(
        &[
            &args[..],
            &["--api", "data", "--with-details", "-O", "json"],
        ]
        .concat(),
    );
    let out_text = stderr(&out);
    assert_eq!(out.status.code(), Some(14), "{out_text}");
    let report = json(&out);
    assert_eq!(report["summary"]["b"]["side"], "data");
    assert!(compared(&report, "turn_count") > Some(200));
}

#[test]
fn what_cannot_be_compared_is_refused_with_the_reason() {
    let mock = Mock::with_conversations(10);
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| mock.run(&[&["reconcile", "--since", SINCE][..], args].concat());
    // Both APIs need an account.
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--account"), "{}", stderr(&out));
    // A Parquet dataset is not read yet.
    let dataset = tmp.path().join("dataset");
    std::fs::create_dir_all(dataset.join("date=2026-06-03")).expect("dirs");
    std::fs::write(dataset.join("date=2026-06-03/part-0.parquet"), b"PAR1").expect("file");
    let out = run(&["--against", &dataset.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Parquet"), "{}", stderr(&out));
    // A folder that is no export, a missing path, a foreign SQLite file.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("dir");
    let out = run(&["--against", &empty.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not an export folder"),
        "{}",
        stderr(&out)
    );
    let out = run(&["--against", &tmp.path().join("nothing").to_string_lossy()]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    let foreign = tmp.path().join("other.db");
    rusqlite::Connection::open(&foreign)
        .and_then(|c| c.execute_batch("CREATE TABLE invoices (id INTEGER)"))
        .expect("foreign db");
    let out = run(&["--against", &foreign.to_string_lossy(), "--api", "data"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not one `polyai sync` wrote"),
        "{}",
        stderr(&out)
    );
    // Bad options say what was wrong.
    for (args, says) in [
        (&["--tz", "Mars/Olympus"][..], "--tz"),
        (&["--until", "2026-04-01"][..], "window is empty"),
        (&["--fields", "colour"][..], "--fields"),
        (&["--edge-margin", "soon"][..], "--edge-margin"),
    ] {
        let out = mock.reconcile(&[&["--since", SINCE][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
