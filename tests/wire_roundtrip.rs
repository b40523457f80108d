//! Realistic wire bodies decode into the generated models and encode back with no field lost.
//!
//! "No field lost" compares the original body and the re-encoded one after dropping `null`s (the
//! models encode an absent optional as a missing key, which the API treats the same). Numbers must
//! come back in the form they arrived in: `4108` stays `4108`, `2403.0` stays `2403.0`.

use polyai_data_raw::Lenient;
use polyai_data_raw::types::{
    ChatMetadataResponse, ConversationDetailResponse, ConversationShortSummary, DebugChatResponse,
    Error, FunctionEvent, GetConversationsResponse, Turn,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// `value` without its `null` members, keys sorted (models encode fields in their own order).
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.clone(), normalized(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
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
    // Numbers compare by their text, not only by value.
    assert_eq!(
        normalized(&encoded).to_string(),
        normalized(&original).to_string()
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
        matches!(&second.short_summary, Some(Lenient::Typed(ConversationShortSummary::String(s))) if s.starts_with("Caller"))
    );
    assert_eq!(
        second.poly_score,
        Some(serde_json::Number::from_f64(7.5).expect("finite"))
    );
}

#[test]
fn detail_with_turns_function_events_metrics_and_summary_object() {
    let detail: ConversationDetailResponse = round_trip(include_str!("fixtures/wire/detail.json"));
    match &detail.short_summary {
        Some(Lenient::Typed(ConversationShortSummary::ShortSummary(s))) => {
            assert_eq!(s.heading, "Check appointment details")
        }
        other => panic!("expected the summary object, got {other:?}"),
    }
    let turns: Vec<&Turn> = detail
        .turns
        .iter()
        .flatten()
        .filter_map(Lenient::typed)
        .collect();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[1].turn_id, Some(743916330));
    assert_eq!(
        turns[1]
            .latency
            .as_ref()
            .and_then(|l| l.perceived_latency.as_ref())
            .map(ToString::to_string)
            .as_deref(),
        Some("3.882713")
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
    let first: &FunctionEvent = &events["1"].typed().expect("typed events")[0];
    assert_eq!(
        first.duration,
        Some(4108.into()),
        "an integer stays an integer"
    );
    assert_eq!(
        first.start_time.as_deref(),
        Some("Wed, 03 Jun 2026 13:18:09 GMT")
    );
    let metrics = detail.metrics.as_ref().expect("metrics");
    let points = metrics["CALL_DURATION"].typed().expect("typed points");
    assert_eq!(points[0].value.as_deref(), Some("73"));
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
    let event = function_events[0].typed().expect("typed event");
    assert_eq!(
        event.duration.as_ref().map(ToString::to_string).as_deref(),
        Some("2403.0")
    );
    assert_eq!(event.turn_id, None);
    assert_eq!(event.hangup, Some(true));
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
    let turn = turns[0].typed().expect("typed turn");
    assert_eq!(turn.extra.get("sentiment"), Some(&json!("positive")));
    assert_eq!(
        turn.latency.as_ref().map(|l| &l.extra["p99"]),
        Some(&json!(1.5))
    );
    let events = decoded.function_events.as_ref().expect("events");
    let events = events["1"].typed().expect("typed events");
    assert_eq!(events[0].extra.get("retry_count"), Some(&json!(2)));
    let metrics = decoded.metrics.as_ref().expect("metrics");
    let points = metrics["CALL_DURATION"].typed().expect("typed points");
    assert_eq!(points[0].extra.get("unit"), Some(&json!("s")));
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

/// Where PolyAI's document leaves a value untyped, a value of an unexpected shape never fails the
/// response: the rest decodes, the odd value stays reachable as the JSON it was, and re-encoding
/// gives it back as sent.
#[test]
fn untyped_values_of_unexpected_shapes_never_fail_the_response() {
    let mut detail: Value =
        serde_json::from_str(include_str!("fixtures/wire/detail.json")).expect("json");
    detail["turns"][0]["latency"] = json!("slow");
    detail["turns"]
        .as_array_mut()
        .expect("turns")
        .push(json!(null));
    detail["functionEvents"]["6"] = json!({"unexpected": true});
    detail["functionEvents"]["9"] = json!(4108);
    detail["metrics"]["CALL_DURATION"] = json!("73");
    detail["shortSummary"] = json!({"heading": 1});
    let decoded: ConversationDetailResponse =
        serde_json::from_value(detail.clone()).expect("the rest decodes");
    let turns = decoded.turns.as_ref().expect("turns");
    assert_eq!(turns[0].raw().map(|t| &t["latency"]), Some(&json!("slow")));
    assert!(turns[1].is_typed(), "the other turns stay typed");
    assert_eq!(turns[2].raw(), Some(&json!(null)));
    let events = decoded.function_events.as_ref().expect("events");
    assert!(events["1"].is_typed());
    assert_eq!(events["6"].raw(), Some(&json!({"unexpected": true})));
    assert_eq!(
        events["9"].raw().map(ToString::to_string).as_deref(),
        Some("4108")
    );
    let metrics = decoded.metrics.as_ref().expect("metrics");
    assert_eq!(metrics["CALL_DURATION"].raw(), Some(&json!("73")));
    assert_eq!(
        decoded.short_summary.as_ref().and_then(Lenient::raw),
        Some(&json!({"heading": 1}))
    );
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    assert_eq!(
        normalized(&encoded).to_string(),
        normalized(&detail).to_string()
    );

    // In a debug-chat reply, function events are `{}` upstream: anything goes, even null.
    let mut reply: Value =
        serde_json::from_str(include_str!("fixtures/wire/debug_chat.json")).expect("json");
    reply["metadata"]["functionEvents"] = json!([null, 3, "x", {"name": "ok"}]);
    let decoded: DebugChatResponse = serde_json::from_value(reply).expect("decodes");
    let events = &decoded.metadata.function_events;
    assert_eq!(events.iter().filter(|e| e.is_typed()).count(), 1);
    assert_eq!(events[0].raw(), Some(&json!(null)));
}
