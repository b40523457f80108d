//! The two listings agree by default, and disagree exactly as a `Disagreement` says.

use std::collections::HashMap;

use polyai_mock::{DisagreeField, Disagreement, MockConfig};
use serde_json::Value;

use crate::common::{Env, start};

/// Every item of the Data API listing, in order, paged by `limit`.
async fn data_listing(env: &Env, limit: u64) -> Vec<Value> {
    let mut items = Vec::new();
    let mut offset = 0;
    loop {
        let (status, page) = env
            .get(&env.agent_path(&format!("/conversations?limit={limit}&offset={offset}")))
            .await;
        assert_eq!(status, 200, "{page}");
        let got = page["conversations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        offset += got.len() as u64;
        items.extend(got);
        if offset >= page["count"].as_u64().unwrap_or(0) {
            assert_eq!(page["count"].as_u64(), Some(items.len() as u64));
            return items;
        }
    }
}

/// Every item of the v3 listing of every environment, walked by cursor in pages of `limit`;
/// also the pages, to check how duplicates fall.
async fn v3_listing(env: &Env, limit: u64) -> (Vec<Value>, Vec<Vec<String>>) {
    let mut items = Vec::new();
    let mut pages = Vec::new();
    for client_env in ["live", "pre-release", "sandbox"] {
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!(
                "/v3/{}/{}/conversations?client_env={client_env}&limit={limit}",
                env.server.account_id(),
                env.agent
            );
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = env.get(&path).await;
            assert_eq!(status, 200, "{page}");
            let got = page["conversations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            pages.push(
                got.iter()
                    .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
                    .collect(),
            );
            items.extend(got);
            match page["cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
    }
    (items, pages)
}

fn count_ids<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id.to_owned()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn by_default_both_listings_hold_the_same_conversations_with_the_same_facts() {
    let env = start(MockConfig::default().conversations(300)).await;
    let data = data_listing(&env, 1000).await;
    let (v3, _) = v3_listing(&env, 1000).await;
    assert_eq!((data.len(), v3.len()), (300, 300));
    let by_id: HashMap<&str, &Value> = v3
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or_default(), c))
        .collect();
    for d in &data {
        let id = d["conversationId"].as_str().unwrap_or_default();
        let v = by_id
            .get(id)
            .unwrap_or_else(|| panic!("{id} missing from v3"));
        assert_eq!(d["startedAt"], v["started_at"], "{id}");
        assert_eq!(d["totalDuration"], v["total_duration"], "{id}");
        assert_eq!(d["channel"], v["channel"], "{id}");
        assert_eq!(d["clientEnv"], v["environment"], "{id}");
        assert_eq!(d["handoff"], v["handoff"], "{id}");
        assert_eq!(d["inProgress"], v["in_progress"], "{id}");
        let variant = d["variantId"].as_str().unwrap_or_default();
        assert_eq!(variant, v["variant_name"].as_str().unwrap_or_default());
    }
}

#[tokio::test]
async fn drops_and_duplicates_fall_on_the_conversations_the_seed_chooses() {
    let disagree = Disagreement {
        drop_v3: 0.05,
        drop_data: 0.05,
        duplicate_v3: 0.05,
        duplicate_data: 0.05,
        ..Disagreement::default()
    };
    let n = 600;
    let env = start(MockConfig::default().conversations(n).disagree(disagree)).await;
    // Small pages: the Data API's slots and the v3 pages are crossed at many places.
    let data = data_listing(&env, 37).await;
    let (v3, pages) = v3_listing(&env, 37).await;
    let data_ids = count_ids(
        data.iter()
            .map(|c| c["conversationId"].as_str().unwrap_or_default()),
    );
    let v3_ids = count_ids(v3.iter().map(|c| c["id"].as_str().unwrap_or_default()));
    let mut seen = [0usize; 4];
    for i in 0..n {
        let id = env.conv(i);
        let d = env.server.disagreed(0, i);
        let copies = |dropped: bool, twice: bool| match (dropped, twice) {
            (true, _) => 0,
            (false, true) => 2,
            (false, false) => 1,
        };
        let want_data = copies(d.dropped_data, d.duplicated_data);
        let want_v3 = copies(d.dropped_v3, d.duplicated_v3);
        assert_eq!(
            data_ids.get(&id).copied().unwrap_or(0),
            want_data,
            "{id} data"
        );
        assert_eq!(v3_ids.get(&id).copied().unwrap_or(0), want_v3, "{id} v3");
        seen[0] += usize::from(d.dropped_data);
        seen[1] += usize::from(d.dropped_v3);
        seen[2] += usize::from(want_data == 2);
        seen[3] += usize::from(want_v3 == 2);
    }
    assert!(seen.iter().all(|&k| k >= 10), "each kind happens: {seen:?}");
    // Copies are adjacent, and a v3 page never splits them.
    for window in data.windows(3) {
        let [a, b, c] = [0, 1, 2].map(|k| window[k]["conversationId"].as_str());
        assert!(!(a == c && a != b), "copies apart: {a:?}");
    }
    for page in &pages {
        for id in page.iter().filter(|id| v3_ids.get(*id) == Some(&2)) {
            let here = page.iter().filter(|x| *x == id).count();
            assert_eq!(here, 2, "{id} split across v3 pages");
        }
    }
    // Off again: both listings whole.
    env.server.faults().disagree(Disagreement::default());
    assert_eq!(data_listing(&env, 1000).await.len() as u64, n);
    assert_eq!(v3_listing(&env, 1000).await.0.len() as u64, n);
}

#[tokio::test]
async fn v3_reports_each_changed_fact_as_documented() {
    let fields: Vec<(DisagreeField, f64)> = DisagreeField::ALL.iter().map(|f| (*f, 0.15)).collect();
    let env = start(
        MockConfig::default()
            .conversations(400)
            .disagree(Disagreement {
                fields,
                ..Disagreement::default()
            }),
    )
    .await;
    let data = data_listing(&env, 1000).await;
    let (v3, _) = v3_listing(&env, 1000).await;
    let by_id: HashMap<&str, &Value> = v3
        .iter()
        .map(|c| (c["id"].as_str().unwrap_or_default(), c))
        .collect();
    let mut changed: HashMap<DisagreeField, usize> = HashMap::new();
    for (i, d) in data.iter().enumerate() {
        let id = d["conversationId"].as_str().unwrap_or_default();
        let index = (0..400)
            .find(|&k| env.conv(k) == id)
            .unwrap_or_else(|| panic!("{id} is a seeded conversation"));
        let v = by_id.get(id).unwrap_or_else(|| panic!("{id} in v3 ({i})"));
        let fields = env.server.disagreed(0, index).fields;
        let time = |x: &Value| -> i64 {
            x.as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map_or(0, |t| t.as_microsecond())
        };
        for field in DisagreeField::ALL {
            let on = fields.contains(&field);
            *changed.entry(field).or_default() += usize::from(on);
            let same = match field {
                DisagreeField::StartedAt => {
                    let shift = time(&v["started_at"]) - time(&d["startedAt"]);
                    assert_eq!(shift, if on { 90_000_000 } else { 0 }, "{id}");
                    continue;
                }
                DisagreeField::TotalDuration => {
                    let more = v["total_duration"].as_i64().unwrap_or(0)
                        - d["totalDuration"].as_i64().unwrap_or(0);
                    assert_eq!(more, i64::from(on), "{id}");
                    continue;
                }
                DisagreeField::Channel => d["channel"] == v["channel"],
                DisagreeField::Environment => d["clientEnv"] == v["environment"],
                DisagreeField::Variant => {
                    d["variantId"].as_str().unwrap_or_default()
                        == v["variant_name"].as_str().unwrap_or_default()
                }
                DisagreeField::Handoff => d["handoff"] == v["handoff"],
                DisagreeField::InProgress => d["inProgress"] == v["in_progress"],
                DisagreeField::TurnCount => {
                    let turns = env.server.turn_count(0, index) as u64;
                    v["num_turns"].as_u64() == Some(turns)
                }
            };
            assert_eq!(same, !on, "{id}: {field}");
        }
    }
    for field in DisagreeField::ALL {
        assert!(changed.get(&field).copied().unwrap_or(0) >= 20, "{field}");
    }
}
