use super::*;
use serde_json::json;

fn at(text: &str) -> Option<Timestamp> {
    Some(text.parse().unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn times_from_every_wire_form_are_written_in_one() {
    for (text, want) in [
        (
            "2026-06-03T14:00:38.580000+00:00",
            "2026-06-03T14:00:38.580000Z",
        ),
        ("2026-06-03T15:00:38+01:00", "2026-06-03T14:00:38.000000Z"),
        ("2026-06-03T13:19:19.757917", "2026-06-03T13:19:19.757917Z"),
        (
            "Wed, 03 Jun 2026 13:18:09 GMT",
            "2026-06-03T13:18:09.000000Z",
        ),
    ] {
        let record =
            ConversationRecord::from_v3(&json!({"id": "C", "started_at": text})).expect("an id");
        let written = serde_json::to_value(&record).expect("serializes");
        assert_eq!(written["started_at"], want, "{text}");
        let back: ConversationRecord = serde_json::from_value(written).expect("reads back");
        assert_eq!(back, record);
    }
    let unreadable = ConversationRecord::from_v3(&json!({"id": "C", "started_at": "soon"}));
    assert_eq!(unreadable.and_then(|r| r.started_at), None);
}

#[test]
fn a_wire_detail_becomes_a_record() {
    let detail = json!({
        "conversationId": "LOCAL-0725f700", "accountId": "PLATFORM", "projectId": "p",
        "createdAt": "2026-06-03T13:18:00.000000+00:00", "duration": 73, "totalDuration": 73.0,
        "polyaiDuration": "70", "handoff": true, "handoffReason": "API_UNEXPECTED_FAIL_PATIENT_LOOKUP",
        "polyScore": 6.0, "shortSummary": {"heading": "Check appointment", "content": "…"},
        "tags": ["a", 7, null], "note": null, "inProgress": false, "variantId": 7, "clientEnv": "live",
        "turns": [
            {"turn_id": 743916318, "user_input": "", "agent_response": "Hello",
             "latency": {"label": null, "perceived_latency": 3.88}, "barge_in": false,
             "asr_lang_code": "", "metadata": {"current_node": "start"}},
            {"turn_id": 743916319, "userInput": "hi", "response": "yes", "latency": 1.5},
            "not a turn"
        ],
        "functionEvents": {"1": [{"id": "e1", "name": "lookup", "duration": 4108,
            "start_time": "Wed, 03 Jun 2026 13:18:09 GMT", "arguments": {"x": 1},
            "handoff": {"reason": "r", "type": "transfer"}, "hangup": null}]},
        "metrics": {"CALL_DURATION": [{"timestamp": "2026-06-03T13:19:19.757917", "value": "73"}],
                    "VARIANT_ID": [{"timestamp": "2026-06-03T13:19:19.757917", "value": "PDS"}]}
    });
    let r = ConversationRecord::from_data_api(&detail).expect("a record");
    assert_eq!(r.api, Api::Data);
    assert_eq!(r.environment.as_deref(), Some("live"));
    assert_eq!(
        (r.total_duration, r.polyai_duration, r.duration),
        (Some(73), Some(70), Some(73))
    );
    assert_eq!(r.handoff, Some(true));
    assert_eq!(r.variant_id.as_deref(), Some("7"));
    assert_eq!(r.summary_heading.as_deref(), Some("Check appointment"));
    assert_eq!(
        r.started_at,
        at("2026-06-03T13:18:00Z"),
        "created when no start"
    );
    assert_eq!(r.tags, Some(vec!["a".to_owned(), "7".to_owned()]));
    let turns = r.turns.as_deref().unwrap_or_default();
    assert_eq!(r.turn_count, Some(2), "the turns the record holds");
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0].latency, Some(3.88));
    assert_eq!(turns[0].asr_lang_code, None, "an empty code is null");
    assert_eq!(turns[0].current_node.as_deref(), Some("start"));
    assert_eq!(turns[1].user_input.as_deref(), Some("hi"));
    assert_eq!(turns[1].latency, Some(1.5));
    let events = r.function_events.as_deref().unwrap_or_default();
    let e = &events[0];
    assert_eq!((e.turn_index, e.duration_ms), (Some(1), Some(4108.0)));
    assert_eq!(e.handoff_reason.as_deref(), Some("r"));
    assert_eq!(e.started_at, at("2026-06-03T13:18:09Z"));
    assert_eq!(e.arguments, Some(json!({"x": 1})));
    let numbers: Vec<Option<f64>> = r.metrics.iter().flatten().map(|m| m.number).collect();
    assert_eq!(numbers, [Some(73.0), None]);
    assert!(ConversationRecord::from_data_api(&json!({"id": "x"})).is_none());
}

#[test]
fn a_listing_summary_has_no_turns_events_or_metrics() {
    let summary = json!({"conversationId": "CA1", "accountId": "a", "projectId": "p"});
    let r = ConversationRecord::from_data_api(&summary).expect("a record");
    assert_eq!(
        (r.turns, r.function_events, r.metrics, r.turn_count),
        (None, None, None, None)
    );
}

#[test]
fn a_v3_item_becomes_a_record() {
    let item = json!({
        "id": "CA1", "account_id": "ws-1", "project_id": "P", "environment": "pre-release",
        "started_at": "2026-06-03T15:00:38+01:00", "channel": "VOICE-SIP",
        "in_progress": false, "variant_id": "", "variant_name": "Main", "num_turns": 9,
        "total_duration": 73, "polyai_duration": "70", "handoff": true,
        "handoff_reason": "", "handoff_destination": "billing", "num_silences": 1,
        "metrics": {"CALL_DURATION": "73", "TOPIC": ["billing", "orders"]},
        "state": {"last_node": "x"},
        "turns": [
            {"user_input": "", "agent_response": "Hello", "latency": 1.25,
             "user_input_datetime": "2026-06-03T14:00:39Z", "is_silence": false},
            {"user_input": "bill", "agent_response": "Sure"}
        ]
    });
    let r = ConversationRecord::from_v3(&item).expect("a record");
    assert_eq!(r.api, Api::V3);
    assert_eq!(r.started_at, at("2026-06-03T14:00:38Z"));
    assert_eq!(r.environment.as_deref(), Some("pre-release"));
    assert_eq!(
        (r.variant_id.as_deref(), r.variant_name.as_deref()),
        (None, Some("Main"))
    );
    assert_eq!((r.handoff, r.handoff_reason.as_deref()), (Some(true), None));
    assert_eq!(r.handoff_destination.as_deref(), Some("billing"));
    assert_eq!(
        (r.polyai_duration, r.turn_count, r.num_silences),
        (Some(70), Some(2), Some(1))
    );
    assert_eq!(r.function_events, None, "v3 sends none");
    let turns = r.turns.as_deref().unwrap_or_default();
    assert_eq!(turns[0].latency, Some(1.25));
    assert_eq!(turns[0].user_input_at, at("2026-06-03T14:00:39Z"));
    assert_eq!(turns[1].user_input.as_deref(), Some("bill"));
    let metrics: Vec<(&str, Option<&str>)> = r
        .metrics
        .iter()
        .flatten()
        .map(|m| (m.name.as_str(), m.value.as_deref()))
        .collect();
    assert_eq!(
        metrics,
        [
            ("CALL_DURATION", Some("73")),
            ("TOPIC", Some("billing")),
            ("TOPIC", Some("orders"))
        ]
    );
    assert!(ConversationRecord::from_v3(&json!({"conversationId": "CA1"})).is_none());
    let listed = ConversationRecord::from_v3(&json!({"id": "CA2", "num_turns": 4})).expect("id");
    assert_eq!((listed.turns, listed.turn_count), (None, Some(4)));
}

#[test]
fn the_same_conversation_from_both_apis_has_the_same_facts() {
    let data = json!({"conversationId": "CA1", "accountId": "ws-1", "projectId": "P",
        "clientEnv": "live", "channel": "VOICE-SIP", "startedAt": "2026-06-03T14:00:38.580000+00:00",
        "totalDuration": 73, "polyaiDuration": 70, "handoff": true, "handoffDestination": "desk",
        "inProgress": false, "fromNumber": "+440000000001", "variantId": "v1",
        "turns": [{"user_input": "", "agent_response": "Hello"}]});
    let v3 = json!({"id": "CA1", "account_id": "ws-1", "project_id": "P", "environment": "live",
        "channel": "VOICE-SIP", "started_at": "2026-06-03T14:00:38.58Z", "total_duration": 73,
        "polyai_duration": 70, "handoff": true, "handoff_destination": "desk", "in_progress": false,
        "from_number": "+440000000001", "variant_id": "v1",
        "turns": [{"user_input": "", "agent_response": "Hello"}]});
    let mut a = serde_json::to_value(ConversationRecord::from_data_api(&data)).expect("json");
    let mut b = serde_json::to_value(ConversationRecord::from_v3(&v3)).expect("json");
    let keys = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    assert_eq!(keys(&a), keys(&b), "the same keys in the same order");
    for v in [&mut a, &mut b] {
        v["api"] = Value::Null;
    }
    assert_eq!(a, b);
}

#[test]
fn details_fill_what_v3_lacks_and_keep_what_it_has() {
    let v3 = ConversationRecord::from_v3(&json!({"id": "CA1", "environment": "live",
        "turns": [{"user_input": "hi"}]}))
    .expect("id");
    let detail = ConversationRecord::from_data_api(&json!({"conversationId": "CA1",
        "clientEnv": "sandbox", "note": "n", "direction": "inbound",
        "turns": [{"user_input": "a"}, {"user_input": "b"}], "functionEvents": {"1": []}}))
    .expect("id");
    let both = v3.with_details(detail);
    assert_eq!(both.api, Api::V3);
    assert_eq!(both.environment.as_deref(), Some("live"), "v3's kept");
    assert_eq!(
        both.direction.as_deref(),
        Some("inbound"),
        "the detail's added"
    );
    assert_eq!(
        (both.turn_count, both.note.as_deref()),
        (Some(1), Some("n"))
    );
    assert_eq!(both.function_events, Some(vec![]));
}

#[test]
fn raw_is_written_only_when_kept() {
    let body = json!({"id": "CA1", "extra": {"x": 1}});
    let plain = ConversationRecord::from_v3(&body).expect("id");
    let written = serde_json::to_value(&plain).expect("json");
    assert!(written.get("raw").is_none());
    let kept = plain.keep_raw(body.clone());
    assert_eq!(serde_json::to_value(&kept).expect("json")["raw"], body);
}

#[test]
fn hostile_values_are_null_not_failures() {
    let r = ConversationRecord::from_data_api(&json!({"conversationId": "CA1",
        "totalDuration": "1e400", "polyScore": "NaN", "handoff": "maybe", "tags": "x",
        "turns": [{"latency": {"perceived_latency": "inf"}}], "metrics": [1, 2],
        "functionEvents": "none", "startedAt": 5}))
    .expect("an id is enough");
    assert_eq!(
        (
            r.total_duration,
            r.poly_score,
            r.handoff,
            r.tags,
            r.started_at
        ),
        (None, None, None, None, None)
    );
    assert_eq!(r.turns.as_deref().map(|t| t[0].latency), Some(None));
    assert_eq!(r.metrics, Some(vec![]));
    assert_eq!(r.function_events, Some(vec![]));
    assert!(ConversationRecord::from_data_api(&json!({"conversationId": 7})).is_none());
    assert!(ConversationRecord::from_v3(&json!(["not", "an", "object"])).is_none());
}

/// `from_v3_export_line` of `line`, checked against `from_v3` of the line's `Value` (with
/// `_export.audioFile` as `audio_file`), when it takes the line on.
fn read_line_both_ways(line: &str) -> Option<ConversationRecord> {
    let fast = ConversationRecord::from_v3_export_line(line.as_bytes())?;
    let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let mut slow = ConversationRecord::from_v3(&value).unwrap_or_else(|| panic!("{line}"));
    if let Some(audio) = value
        .get("_export")
        .and_then(|e| e.get("audioFile"))
        .and_then(Value::as_str)
    {
        slow.audio_file = Some(audio.to_owned());
    }
    assert_eq!(fast, slow, "{line}");
    // Equal records, equal JSON (a NaN would not be equal to itself, so compare text too).
    assert_eq!(
        serde_json::to_string(&fast).ok(),
        serde_json::to_string(&slow).ok()
    );
    Some(fast)
}

#[test]
fn a_v3_export_line_is_read_as_from_v3_reads_it() {
    for line in [
        r#"{"id":"CA1","account_id":"ws-1","project_id":"P","environment":"pre-release","started_at":"2026-06-03T15:00:38+01:00","channel":"VOICE-SIP","in_progress":false,"variant_id":"","variant_name":"Main","num_turns":9,"total_duration":73,"polyai_duration":"70","handoff":true,"handoff_reason":"","handoff_destination":"billing","num_silences":1,"num_ood":0,"metrics":{"CALL_DURATION":"73","TOPIC":["billing","orders"]},"state":{"last_node":"x"},"turns":[{"user_input":"","agent_response":"Hello","latency":1.25,"user_input_datetime":"2026-06-03T14:00:39Z","is_silence":false},{"user_input":"bill","agent_response":"Sure"}]}"#,
        r#"{"id":"CA2","num_turns":4}"#,
        r#"{"id":"CA3","num_turns":4.0,"turns":null,"metrics":null,"total_duration":"1e400","handoff":"TRUE","in_progress":1,"num_ood":-3,"num_silences":2.5}"#,
        r#"{"id":"CA4","turns":[1,null,"x",[],{"userInput":"a","response":"b","latency":{"perceived_latency":"0.5","label":null}},{"input":7,"agentResponse":{"x":[1,2.50]},"latency":[1],"metadata":{"current_node":3,"entities":[]},"barge_in":"False","turn_id":"12"}],"metrics":[1,2]}"#,
        r#"{"id":"CA5","metrics":{"A":[{"timestamp":"2026-06-03T14:00:00","value":"1.5"},{"value":null},null,{"value":{"k":true}},3],"B":{"timestamp":5,"value":"x"},"C":null,"D":"inf"},"turns":{"not":"an array"}}"#,
        r#"{"id":"CA6","_export":{"audioFile":"audio/CA6.wav"},"from_number":"+1\u0032\"3\\","to_number":12345678901234567890,"variant_id":true,"account_id":{"nested":[null]}}"#,
        r#"{"id":"CA7","_export":["audio"],"started_at":"not a time","channel":""}"#,
        r#"{"id":"CA8","_export":{"audioFile":7},"turns":[{"user_input":null,"userInput":"second","asr_lang_code":"","tts_lang_code":"en-GB","metadata":null,"latency":null}]}"#,
        r#"{"i\u0064":"CA9","environment":"live"}"#,
    ] {
        assert!(read_line_both_ways(line).is_some(), "{line}");
    }
    for refused in [
        r#"{"id":7}"#,
        r#"{"id":null}"#,
        r#"{"conversation_id":"CA1","id":"CA1"}"#,
        r#"{"id":"CA1","conversationId":null}"#,
        r#"{"id":"CA1","id":"CA2"}"#,
        r#"{"id":"CA1","turns":[{"user_input":"a","user_input":"b"}]}"#,
        r#"["id","CA1"]"#,
        r#""CA1""#,
        r#"{"id":"CA1""#,
        "",
    ] {
        assert!(
            ConversationRecord::from_v3_export_line(refused.as_bytes()).is_none(),
            "{refused}"
        );
    }
    let audio = read_line_both_ways(r#"{"id":"CA1","_export":{"audioFile":"audio/CA1.wav"}}"#);
    assert_eq!(
        audio.and_then(|r| r.audio_file).as_deref(),
        Some("audio/CA1.wav")
    );
}

mod v3_lines {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value, with the strings the readers convert (numbers, booleans, times) likely.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            prop::sample::select(vec![
                "",
                "12",
                " 7 ",
                "1.5",
                "-0",
                "1e3",
                "true",
                "FALSE",
                "inf",
                "NaN",
                "x\"y\\z",
                "é",
                "2026-06-03T14:00:38.58Z",
                "2026-06-03T15:00:38+01:00",
                "2026-06-03 14:00",
            ])
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "id",
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
            "variant_id",
            "variant_name",
            "handoff",
            "handoff_destination",
            "handoff_reason",
            "num_silences",
            "num_ood",
            "num_turns",
            "turns",
            "metrics",
            "_export",
            "audioFile",
            "turn_id",
            "user_input",
            "userInput",
            "input",
            "agent_response",
            "agentResponse",
            "response",
            "user_input_datetime",
            "agent_response_datetime",
            "latency",
            "perceived_latency",
            "barge_in",
            "asr_lang_code",
            "tts_lang_code",
            "metadata",
            "current_node",
            "timestamp",
            "value",
            "CALL_DURATION",
            "other",
        ])
        .prop_map(str::to_owned)
    }

    fn line() -> impl Strategy<Value = String> {
        let turn = prop::collection::vec((key(), value()), 0..8)
            .prop_map(|kv| Value::Object(kv.into_iter().collect()));
        let turns = prop_oneof![
            prop::collection::vec(prop_oneof![turn, value()], 0..4).prop_map(Value::Array),
            value(),
        ];
        (
            prop::collection::vec((key(), value()), 0..10),
            turns,
            value(),
            "[A-Za-z0-9]{1,8}",
        )
            .prop_map(|(fields, turns, metrics, id)| {
                let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
                object.insert("id".into(), Value::from(id));
                object.insert("turns".into(), turns);
                object.insert("metrics".into(), metrics);
                Value::Object(object).to_string()
            })
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        #[test]
        fn any_v3_line_is_read_as_from_v3_reads_it(line in line()) {
            prop_assert!(read_line_both_ways(&line).is_some());
        }
    }
}
