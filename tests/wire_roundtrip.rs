//! Realistic wire bodies decode into the generated models and encode back with no field lost.
//!
//! "No field lost" compares the original body and the re-encoded one after dropping `null`s (the
//! models encode an absent optional as a missing key, which the API treats the same) and comparing
//! numbers by value (`4108` and `4108.0` are one duration).

use polyai_data_raw::types::{
    ChatMetadataResponse, ConversationDetailResponse, ConversationShortSummary, DebugChatResponse,
    Error, GetConversationsResponse,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        Value::Number(n) => n.as_f64().map_or_else(|| value.clone(), |f| json!(f)),
        other => other.clone(),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(text: &str) -> T {
    let original: Value = serde_json::from_str(text).expect("fixture is JSON");
    let decoded: T = serde_json::from_str(text).expect("the model decodes the wire body");
    let encoded = serde_json::to_value(&decoded).expect("the model encodes");
    assert_eq!(
        normalized(&encoded),
        normalized(&original),
        "a field was lost or changed"
    );
    decoded
}

#[test]
fn list_page_with_nulls() {
    let page: GetConversationsResponse = round_trip(include_str!("fixtures/wire/list_page.json"));
    assert_eq!(
        (
            page.count,
            page.limit,
            page.offset,
            page.conversations.len()
        ),
        (3, 2, 0, 2)
    );
    let first = &page.conversations[0];
    assert_eq!(first.conversation_id, "CA681f3ad0d037c1884614548178a5bc1b");
    assert!(
        first.audio_url.is_none() && first.short_summary.is_none() && first.poly_score.is_none()
    );
    assert_eq!(first.tags.as_deref(), Some(&[][..]));
    let second = &page.conversations[1];
    assert!(
        matches!(&second.short_summary, Some(ConversationShortSummary::String(s)) if s.starts_with("Caller"))
    );
    assert_eq!(second.poly_score, Some(7.5));
}

#[test]
fn detail_with_turns_function_events_metrics_and_summary_object() {
    let detail: ConversationDetailResponse = round_trip(include_str!("fixtures/wire/detail.json"));
    match &detail.short_summary {
        Some(ConversationShortSummary::ShortSummary(s)) => {
            assert_eq!(s.heading, "Check appointment details")
        }
        other => panic!("expected the summary object, got {other:?}"),
    }
    let turns = detail.turns.as_ref().expect("turns");
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[1].turn_id, Some(743916330));
    assert_eq!(
        turns[1].latency.as_ref().and_then(|l| l.perceived_latency),
        Some(3.882713)
    );
    let meta = turns[1].metadata.as_ref().expect("metadata");
    let handoff = meta
        .function_events
        .as_ref()
        .and_then(|e| e[0].handoff.as_ref())
        .expect("handoff");
    assert_eq!(
        handoff.reason.as_deref(),
        Some("API_UNEXPECTED_FAIL_PATIENT_LOOKUP")
    );
    // `safety` is not modelled field by field: it stays as JSON.
    assert_eq!(
        meta.safety
            .as_ref()
            .and_then(|s| s.get("filters_triggered")),
        Some(&json!({ "provider": "azure" }))
    );

    let events = detail.function_events.as_ref().expect("function events");
    assert_eq!(events.keys().collect::<Vec<_>>(), ["1", "6"]);
    assert_eq!(events["1"][0].duration, Some(4108.0));
    assert_eq!(
        events["1"][0].start_time.as_deref(),
        Some("Wed, 03 Jun 2026 13:18:09 GMT")
    );
    let metrics = detail.metrics.as_ref().expect("metrics");
    assert_eq!(metrics["CALL_DURATION"][0].value.as_deref(), Some("73"));
}

#[test]
fn debug_chat_response_with_array_function_events() {
    let reply: DebugChatResponse = round_trip(include_str!("fixtures/wire/debug_chat.json"));
    assert!(!reply.conversation_ended);
    let ChatMetadataResponse {
        function_events,
        retrieved_topics,
        in_flow,
        ..
    } = &reply.metadata;
    assert_eq!(function_events[0].duration, Some(2403.0));
    assert_eq!(function_events[0].turn_id, None);
    assert_eq!(function_events[0].hangup, Some(true));
    assert_eq!(
        retrieved_topics.as_deref(),
        Some(&["Password reset".to_owned()][..])
    );
    assert!(in_flow.is_none());
}

#[test]
fn error_envelope() {
    let error: Error = round_trip(include_str!("fixtures/wire/error.json"));
    assert_eq!(error.error_code, "CHAT_CONVERSATION_ENDED");
    assert!(error.error_id.starts_with("adk-"));
    assert!(!error.success);
}

#[test]
fn short_summary_accepts_object_string_and_null() {
    for (body, expected) in [
        (json!({ "heading": "h", "content": "c" }), "object"),
        (json!("plain text"), "string"),
    ] {
        let parsed: ConversationShortSummary = serde_json::from_value(body).expect("decodes");
        let kind = match parsed {
            ConversationShortSummary::ShortSummary(_) => "object",
            ConversationShortSummary::String(_) => "string",
        };
        assert_eq!(kind, expected);
    }
    let mut page: Value =
        serde_json::from_str(include_str!("fixtures/wire/list_page.json")).expect("json");
    page["conversations"][0]["shortSummary"] = Value::Null;
    serde_json::from_value::<GetConversationsResponse>(page).expect("null summary decodes");
}

#[test]
fn unknown_fields_do_not_break_decoding_and_are_kept() {
    let mut detail: Value =
        serde_json::from_str(include_str!("fixtures/wire/detail.json")).expect("json");
    detail["brandNewField"] = json!({ "anything": [1, 2, 3] });
    detail["turns"][0]["sentiment"] = json!("positive");
    detail["turns"][0]["latency"]["p99"] = json!(1.5);
    detail["functionEvents"]["1"][0]["retry_count"] = json!(2);
    detail["metrics"]["CALL_DURATION"][0]["unit"] = json!("s");
    detail["shortSummary"]["language"] = json!("en");
    let decoded: ConversationDetailResponse =
        serde_json::from_value(detail).expect("decodes despite new fields");

    assert_eq!(
        decoded.extra.get("brandNewField"),
        Some(&json!({ "anything": [1, 2, 3] }))
    );
    let turns = decoded.turns.as_ref().expect("turns");
    assert_eq!(turns[0].extra.get("sentiment"), Some(&json!("positive")));
    assert_eq!(
        turns[0].latency.as_ref().map(|l| &l.extra["p99"]),
        Some(&json!(1.5))
    );
    let events = decoded.function_events.as_ref().expect("events");
    assert_eq!(events["1"][0].extra.get("retry_count"), Some(&json!(2)));
    let metrics = decoded.metrics.as_ref().expect("metrics");
    assert_eq!(
        metrics["CALL_DURATION"][0].extra.get("unit"),
        Some(&json!("s"))
    );
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    assert_eq!(
        encoded["turns"][0]["sentiment"],
        json!("positive"),
        "nested unknown keys survive a round trip"
    );
    assert_eq!(encoded["shortSummary"]["language"], json!("en"));
    assert_eq!(
        encoded["brandNewField"],
        json!({ "anything": [1, 2, 3] }),
        "top-level unknown keys survive too"
    );
}

#[test]
fn request_bodies_encode_as_the_api_expects() {
    use polyai_data_raw::types::{
        AddAnnotationsBody, AnnotationItem, AnnotationItemAnnotationType, AnnotationItemRole,
    };
    let body = AddAnnotationsBody {
        annotations: vec![AnnotationItem {
            turn_id: 3,
            role: AnnotationItemRole::Agent,
            annotation_type: AnnotationItemAnnotationType::WrongInfo,
        }],
    };
    assert_eq!(
        serde_json::to_value(&body).expect("encodes"),
        json!({ "annotations": [{ "annotationType": "wrong_info", "role": "agent", "turnId": 3 }] })
    );
}

/// A v3 page: snake_case, turns inline, metric values and a turn latency in more than one shape,
/// unknown fields kept.
#[test]
fn v3_page_with_turns_inline() {
    use polyai_data_raw::conversations_v3::types::GetConversationsResponse as V3Page;
    let page: V3Page = round_trip(include_str!("fixtures/wire/v3_page.json"));
    assert_eq!(page.cursor.as_deref(), Some("v3.0.1.0.7f397ecd308d574c"));
    assert_eq!(page.next_offset, Some(1));
    let c = &page.conversations[0];
    assert_eq!(
        (c.id.as_str(), c.environment.as_str()),
        ("CA622743c677af9cabc2ddfd3eec796b36", "live")
    );
    let turns = c.turns.as_ref().expect("turns");
    assert_eq!(turns.len() as i64, c.num_turns.unwrap_or_default());
    assert_eq!(
        turns[1].latency,
        Some(
            json!({"label": null, "perceived_latency": 1.82, "perceived_latency_percentile_1d": null})
        )
    );
    assert_eq!(turns[1].extra["barge_in"], false);
    assert_eq!(c.extra["sentiment"], "neutral");
    assert_eq!(c.metrics.as_ref().map(|m| m.len()), Some(3));
}
