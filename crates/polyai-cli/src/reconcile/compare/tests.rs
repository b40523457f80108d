use super::*;
use serde_json::json;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn settings() -> Settings {
    Settings {
        since: at("2026-06-01T00:00:00Z"),
        until: at("2026-06-03T00:00:00Z"),
        margin_micros: 15 * 60 * 1_000_000,
        tolerance_micros: 0,
        tz: TimeZone::UTC,
        environments: Some(vec!["live".into()]),
        fields: Field::DEFAULT.to_vec(),
        listed_from: [None, None],
        lag_micros: 0,
    }
}

/// A Data API listing summary.
fn data(id: &str, start: &str, extra: Value) -> ConversationRecord {
    let mut v = json!({"conversationId": id, "accountId": "ws-1", "projectId": "P",
        "clientEnv": "live", "startedAt": start, "channel": "VOICE-SIP", "totalDuration": 73,
        "variantId": "Main Line", "handoff": false, "inProgress": false});
    merge(&mut v, extra);
    ConversationRecord::from_data_api(&v).unwrap_or_else(|| panic!("a record"))
}

/// A v3 listing item, two turns inline.
fn v3(id: &str, start: &str, extra: Value) -> ConversationRecord {
    let mut v = json!({"id": id, "account_id": "ws-1", "project_id": "P",
        "environment": "live", "started_at": start, "channel": "VOICE-SIP", "total_duration": 73,
        "variant_id": "VAR-1", "variant_name": "Main Line", "handoff": false, "in_progress": false,
        "turns": [{"user_input": "", "agent_response": "Hi"}, {"user_input": "bye", "agent_response": "Bye"}]});
    merge(&mut v, extra);
    ConversationRecord::from_v3(&v).unwrap_or_else(|| panic!("a record"))
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

fn run(settings: Settings, a: &[ConversationRecord], b: &[ConversationRecord]) -> Outcome {
    let mut c = Comparison::new(settings);
    // Interleaved, as two walks at once deliver them.
    let longest = a.len().max(b.len());
    for i in 0..longest {
        if let Some(r) = a.get(i) {
            c.add(Which::A, r);
        }
        if let Some(r) = b.get(i) {
            c.add(Which::B, r);
        }
    }
    c.finish()
}

fn kinds(outcome: &Outcome) -> Vec<(&'static str, String, &'static str)> {
    outcome
        .findings
        .iter()
        .map(|f| (f.kind.name(), f.conversation_id.clone(), f.field))
        .collect()
}

#[test]
fn the_same_conversations_from_both_apis_agree_and_turn_count_waits_for_details() {
    let a = [
        data("CA1", "2026-06-01T10:00:00.580000+00:00", json!({})),
        data(
            "CA2",
            "2026-06-02T23:59:59+00:00",
            json!({"variantId": null}),
        ),
    ];
    let b = [
        v3(
            "CA2",
            "2026-06-02T23:59:59Z",
            json!({"variant_id": "", "variant_name": ""}),
        ),
        v3("CA1", "2026-06-01T10:00:00.58Z", json!({})),
    ];
    let outcome = run(settings(), &a, &b);
    assert!(outcome.agree(), "{:?}", outcome.findings);
    assert!(outcome.findings.is_empty());
    let days: Vec<(String, u64, u64, u64)> = outcome
        .days
        .iter()
        .map(|(d, c)| (d.to_string(), c.a, c.b, c.both))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-06-01".into(), 1, 1, 1),
            ("2026-06-02".into(), 1, 1, 1)
        ]
    );
    let turn_count = outcome
        .fields
        .iter()
        .find(|f| f.field == Field::TurnCount)
        .cloned()
        .unwrap_or_else(|| panic!("turn_count is a default field"));
    assert_eq!(
        (turn_count.compared, turn_count.not_carried),
        (0, [2, 0]),
        "the Data API listing carries no turns"
    );
    let started = &outcome.fields[0];
    assert_eq!((started.field, started.compared), (Field::StartedAt, 2));
}

#[test]
fn each_kind_of_difference_is_found_and_named() {
    let a = [
        data("CA-only-a", "2026-06-01T01:00:00Z", json!({})),
        data("CA-dup-a", "2026-06-01T02:00:00Z", json!({})),
        data("CA-dup-a", "2026-06-01T02:00:00Z", json!({})),
        data("CA-longer", "2026-06-01T03:00:00Z", json!({})),
        data(
            "CA-many",
            "2026-06-01T04:00:00Z",
            json!({"turns": [{}, {}, {}]}),
        ),
    ];
    let b = [
        v3("CA-dup-a", "2026-06-01T02:00:00Z", json!({})),
        v3("CA-only-b", "2026-06-02T05:00:00Z", json!({})),
        v3(
            "CA-longer",
            "2026-06-01T03:00:00Z",
            json!({"total_duration": 74}),
        ),
        v3(
            "CA-many",
            "2026-06-01T04:00:01Z",
            json!({"channel": "WEBCHAT", "variant_name": "Night Line", "variant_id": "VAR-2",
                   "handoff": true}),
        ),
        v3("CA-only-b", "2026-06-02T05:00:00Z", json!({})),
    ];
    let outcome = run(settings(), &a, &b);
    assert!(!outcome.agree());
    assert_eq!(
        kinds(&outcome),
        [
            ("only_in_a", "CA-only-a".into(), "started_at"),
            ("differs", "CA-longer".into(), "total_duration"),
            ("differs", "CA-many".into(), "started_at"),
            ("differs", "CA-many".into(), "channel"),
            ("differs", "CA-many".into(), "variant_id"),
            ("differs", "CA-many".into(), "turn_count"),
            ("differs", "CA-many".into(), "handoff"),
            ("duplicate_in_a", "CA-dup-a".into(), "started_at"),
            ("only_in_b", "CA-only-b".into(), "started_at"),
            ("duplicate_in_b", "CA-only-b".into(), "started_at"),
        ]
    );
    let many: Vec<(Value, Value)> = outcome
        .findings
        .iter()
        .filter(|f| f.conversation_id == "CA-many")
        .map(|f| (f.a.clone(), f.b.clone()))
        .collect();
    assert_eq!(
        many,
        [
            (
                json!("2026-06-01T04:00:00.000000Z"),
                json!("2026-06-01T04:00:01.000000Z")
            ),
            (json!("VOICE-SIP"), json!("WEBCHAT")),
            (json!("Main Line"), json!("VAR-2 (Night Line)")),
            (json!(3), json!(2)),
            (json!(false), json!(true)),
        ]
    );
    let t = &outcome.totals;
    assert_eq!(
        (t.a, t.b, t.both, t.only_in_a, t.only_in_b, t.differing),
        (4, 4, 3, 1, 1, 2)
    );
    assert_eq!((t.duplicates_in_a, t.duplicates_in_b), (1, 1));
    assert_eq!(t.differences(), 6);
}

#[test]
fn a_time_tolerance_forgives_small_start_differences_only() {
    let a = [data("CA1", "2026-06-01T10:00:00.400000Z", json!({}))];
    let b = [v3("CA1", "2026-06-01T10:00:00Z", json!({}))];
    assert!(!run(settings(), &a, &b).agree());
    let tolerant = Settings {
        tolerance_micros: 1_000_000,
        ..settings()
    };
    assert!(run(tolerant.clone(), &a, &b).agree());
    let b = [v3("CA1", "2026-06-01T10:00:02Z", json!({}))];
    assert!(!run(tolerant, &a, &b).agree());
}

#[test]
fn in_progress_and_arrived_conversations_are_apart_and_not_differences() {
    let a = [
        data(
            "CA-live",
            "2026-06-02T23:00:00Z",
            json!({"inProgress": true, "totalDuration": 10}),
        ),
        data(
            "CA-ended",
            "2026-06-02T22:00:00Z",
            json!({"inProgress": true}),
        ),
        data(
            "CA-new-only-a",
            "2026-06-02T23:30:00Z",
            json!({"inProgress": true}),
        ),
    ];
    let b = [
        v3(
            "CA-live",
            "2026-06-02T23:00:00Z",
            json!({"in_progress": true, "total_duration": 20}),
        ),
        v3(
            "CA-ended",
            "2026-06-02T22:00:00Z",
            json!({"in_progress": false, "total_duration": 99}),
        ),
        v3("CA-arrived", "2026-06-02T23:50:00Z", json!({})),
    ];
    let mut s = settings();
    // Side a's listing began at 23:45: b's conversation of 23:50 may have arrived after it.
    s.listed_from = [
        Some(at("2026-06-02T23:45:00Z")),
        Some(at("2026-06-02T23:59:00Z")),
    ];
    let outcome = run(s, &a, &b);
    assert!(outcome.agree(), "{:?}", outcome.findings);
    assert_eq!(
        kinds(&outcome),
        [
            ("in_progress", "CA-ended".into(), "in_progress"),
            ("in_progress", "CA-live".into(), "in_progress"),
            ("in_progress", "CA-new-only-a".into(), "in_progress"),
            ("arrived", "CA-arrived".into(), "started_at"),
        ]
    );
    let ended = &outcome.findings[0];
    assert_eq!((&ended.a, &ended.b), (&json!(true), &json!(false)));
    assert_eq!(outcome.totals.in_progress, 4);
    // Without knowing when a's listing began, the finished conversation only b lists is a
    // difference.
    let a2 = [data("CA-x", "2026-06-01T00:00:00Z", json!({}))];
    let b2 = [
        v3("CA-x", "2026-06-01T00:00:00Z", json!({})),
        v3("CA-arrived", "2026-06-02T23:50:00Z", json!({})),
    ];
    assert_eq!(run(settings(), &a2, &b2).totals.only_in_b, 1);
}

#[test]
fn days_are_dates_in_the_zone_asked_for() {
    // 22:30 UTC on 1 June is 00:30 on 2 June in Berlin (UTC+2 in summer).
    let a = [
        data("CA1", "2026-06-01T22:30:00Z", json!({})),
        data("CA2", "2026-06-01T21:30:00Z", json!({})),
    ];
    let b = [
        v3("CA1", "2026-06-01T22:30:00Z", json!({})),
        v3("CA2", "2026-06-01T21:30:00Z", json!({})),
    ];
    let days = |tz: TimeZone| -> Vec<(String, u64)> {
        let s = Settings { tz, ..settings() };
        run(s, &a, &b)
            .days
            .iter()
            .map(|(d, c)| (d.to_string(), c.both))
            .collect()
    };
    assert_eq!(days(TimeZone::UTC), [("2026-06-01".into(), 2)]);
    let berlin = TimeZone::fixed(jiff::tz::offset(2));
    assert_eq!(
        days(berlin),
        [("2026-06-01".into(), 1), ("2026-06-02".into(), 1)]
    );
}

#[test]
fn a_start_that_differs_across_the_window_edge_is_a_difference_not_a_missing_id() {
    // a: just inside the window's end; b: 90 s later, outside it (within the margin).
    let a = [data("CA1", "2026-06-02T23:59:00Z", json!({}))];
    let b = [v3("CA1", "2026-06-03T00:00:30Z", json!({}))];
    let outcome = run(settings(), &a, &b);
    assert_eq!(
        kinds(&outcome),
        [("differs", "CA1".into(), "started_at")],
        "matched through the margin"
    );
    assert_eq!((outcome.totals.a, outcome.totals.b), (1, 0));
    // Both outside the window: neither counted nor reported.
    let a = [data("CA1", "2026-06-03T00:05:00Z", json!({}))];
    let b = [v3("CA1", "2026-06-03T00:06:00Z", json!({}))];
    let outcome = run(settings(), &a, &b);
    assert!(outcome.findings.is_empty() && outcome.days.is_empty());
    // One side only, in the margin: not a difference.
    let outcome = run(settings(), &a, &[]);
    assert!(outcome.agree() && outcome.findings.is_empty());
}

#[test]
fn other_environments_and_records_without_a_start_are_left_out_and_counted() {
    let a = [
        data("CA1", "2026-06-01T10:00:00Z", json!({})),
        data(
            "CA2",
            "2026-06-01T11:00:00Z",
            json!({"clientEnv": "sandbox"}),
        ),
        data("CA3", "2026-06-01T12:00:00Z", json!({"clientEnv": null})),
        data("CA4", "2026-06-01T12:00:00Z", json!({"startedAt": null})),
    ];
    let b = [v3("CA1", "2026-06-01T10:00:00Z", json!({}))];
    let outcome = run(settings(), &a, &b);
    assert!(outcome.agree(), "{:?}", outcome.findings);
    let side = &outcome.sides[0];
    assert_eq!(
        (
            side.conversations,
            side.other_environments,
            side.without_environment,
            side.without_start
        ),
        (1, 1, 1, 1)
    );
    // Every environment: the sandbox conversation is then only in a.
    let all = Settings {
        environments: None,
        ..settings()
    };
    let outcome = run(all, &a, &b);
    assert_eq!(outcome.totals.only_in_a, 2);
}

#[test]
fn more_fields_compare_and_parse_by_their_contract_names() {
    assert_eq!(Field::parse("variant"), Ok(Field::VariantId));
    assert_eq!(Field::parse("Handoff-Reason"), Ok(Field::HandoffReason));
    let err = Field::parse("colour").err().unwrap_or_default();
    assert!(
        err.contains("started_at") && err.contains("colour"),
        "{err}"
    );
    let a = [data(
        "CA1",
        "2026-06-01T10:00:00Z",
        json!({"handoffReason": "X", "language": "en-GB"}),
    )];
    let b = [v3(
        "CA1",
        "2026-06-01T10:00:00Z",
        json!({"handoff_reason": "Y"}),
    )];
    let s = Settings {
        fields: vec![Field::HandoffReason, Field::Language, Field::VariantName],
        ..settings()
    };
    let outcome = run(s, &a, &b);
    assert_eq!(
        kinds(&outcome),
        [("differs", "CA1".into(), "handoff_reason")]
    );
    let language = &outcome.fields[1];
    assert_eq!(
        (language.compared, language.not_carried),
        (0, [0, 1]),
        "v3 sends no language"
    );
}
