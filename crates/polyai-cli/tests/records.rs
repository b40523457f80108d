//! One record contract across both APIs: the sandbox exported through the Data API and through
//! the Conversations API v3 gives the same keys, and the same values for the facts both APIs
//! carry; every record validates against the published JSON Schema.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{assert_valid, polyai, stderr, stdout};
use serde_json::Value;

/// The facts both APIs send for a conversation (`docs/records.md`).
const SHARED: &[&str] = &[
    "conversation_id",
    "account_id",
    "project_id",
    "environment",
    "channel",
    "started_at",
    "in_progress",
    "total_duration",
    "polyai_duration",
    "from_number",
    "to_number",
    "handoff",
    "handoff_destination",
    "handoff_reason",
];

/// Exports the sandbox (every environment) through `api` into `dir`, with `extra` options,
/// and returns its records by id.
fn export(dir: &Path, api: &str, extra: &[&str]) -> BTreeMap<String, Value> {
    let out = polyai()
        .args(["--sandbox", "export", "--api", api, "--env", "all", "--out"])
        .arg(dir)
        .args(extra)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{api}: {}", stderr(&out));
    let first = stderr(&out).lines().next().unwrap_or_default().to_owned();
    let name = if api == "v3" {
        "the Conversations API v3"
    } else {
        "the Data API"
    };
    assert!(
        first.starts_with(&format!("reading {name}")) && first.ends_with("environment all"),
        "the first line names the API and environment: {first}"
    );
    std::fs::read_to_string(dir.join("conversations.jsonl"))
        .expect("journal")
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line).expect("JSON line");
            assert_valid("conversation", &record);
            assert_eq!(record["api"], api, "{record}");
            let id = record["conversation_id"].as_str().expect("id").to_owned();
            (id, record)
        })
        .collect()
}

fn keys(record: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = record
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

#[test]
fn both_apis_export_the_same_records_of_the_same_conversations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = export(&tmp.path().join("data"), "data", &["--with-details"]);
    let v3 = export(&tmp.path().join("v3"), "v3", &[]);
    assert_eq!(data.len(), 200);
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        v3.keys().collect::<Vec<_>>(),
        "both APIs list the same conversations"
    );
    let mut differences = Vec::new();
    for (id, a) in &data {
        let b = &v3[id];
        assert_eq!(keys(a), keys(b), "{id}: the same keys");
        for field in SHARED {
            if a[field] != b[field] {
                differences.push(format!("{id}.{field}: data {} v3 {}", a[field], b[field]));
            }
        }
        // Both carry the transcript (the Data API's detail, v3's listing): the same turns.
        assert_eq!(a["turn_count"], b["turn_count"], "{id}");
        let said = |r: &Value| -> Vec<Value> {
            r["turns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| Value::from(vec![t["user_input"].clone(), t["agent_response"].clone()]))
                .collect()
        };
        assert_eq!(said(a), said(b), "{id}: the same transcript");
        // What only one API has is null on the other side, never renamed.
        assert!(b["function_events"].is_null() && a["function_events"].is_array());
    }
    assert!(differences.is_empty(), "{differences:#?}");
}

#[test]
fn list_records_are_the_export_records_in_every_format() {
    let list = |api: &str, format: &str| {
        let out = polyai()
            .args([
                "--sandbox",
                "conversations",
                "list",
                "--api",
                api,
                "--limit",
                "20",
                "-O",
                format,
            ])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    for api in ["data", "v3"] {
        let page: Value = serde_json::from_str(&list(api, "json")).expect("JSON");
        let items = page["items"].as_array().expect("items");
        assert!(!items.is_empty());
        for item in items {
            assert_valid("conversation", item);
            assert_eq!(item["environment"], "live", "the default environment");
        }
        let lines: Vec<Value> = list(api, "jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("line"))
            .collect();
        assert_eq!(&lines, items);
        // One CSV header whatever the API.
        let csv = list(api, "csv");
        assert!(
            csv.starts_with("conversation_id,api,account_id,project_id,environment,channel,"),
            "{csv}"
        );
    }
    let header = |api| list(api, "csv").lines().next().map(str::to_owned);
    assert_eq!(header("data"), header("v3"));
}
