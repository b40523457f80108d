//! From a conversation as the API sent it (JSON) to the rows of each table.
//!
//! Reading is lenient, because a server is outside data: a field of an unexpected type becomes
//! `NULL` in its typed column (the raw JSON keeps it), never a failed conversation. Times are
//! normalised to UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so they sort as text and SQLite's date
//! functions read them.

use serde_json::{Map, Value};

/// The `conversations` row of one conversation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConversationRow {
    pub conversation_id: String,
    pub account_id: Option<String>,
    pub project_id: Option<String>,
    pub created_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub channel: Option<String>,
    pub direction: Option<String>,
    pub client_env: Option<String>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub language: Option<String>,
    pub variant_id: Option<String>,
    pub total_duration: Option<i64>,
    pub polyai_duration: Option<i64>,
    pub duration: Option<i64>,
    pub in_progress: Option<bool>,
    pub handoff: Option<bool>,
    pub handoff_destination: Option<String>,
    pub handoff_reason: Option<String>,
    pub poly_score: Option<f64>,
    pub summary_heading: Option<String>,
    pub summary: Option<String>,
    pub tags: Option<String>,
    pub deployment_id: Option<String>,
    pub note: Option<String>,
    pub audio_url: Option<String>,
    pub turn_count: Option<i64>,
    pub raw: String,
    /// The API the row came from: `v1` (the Data API's detail) or `v3`.
    pub source: &'static str,
    pub variant_name: Option<String>,
    pub num_silences: Option<i64>,
    pub num_ood: Option<i64>,
}

/// One `turns` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TurnRow {
    pub turn_index: i64,
    pub turn_id: Option<i64>,
    pub user_input: Option<String>,
    pub agent_response: Option<String>,
    pub user_input_at: Option<String>,
    pub agent_response_at: Option<String>,
    pub latency: Option<f64>,
    pub barge_in: Option<bool>,
    pub asr_lang_code: Option<String>,
    pub tts_lang_code: Option<String>,
    pub current_node: Option<String>,
}

/// One `function_events` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FunctionEventRow {
    pub turn_key: String,
    pub position: i64,
    pub turn_index: Option<i64>,
    pub event_id: Option<String>,
    pub turn_id: Option<i64>,
    pub function_id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
    pub started_at: Option<String>,
    pub duration_ms: Option<f64>,
    pub error: Option<String>,
    pub handoff_reason: Option<String>,
    pub hangup: Option<bool>,
}

/// One `metrics` row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricRow {
    pub name: String,
    pub position: i64,
    pub recorded_at: Option<String>,
    pub value: Option<String>,
    pub number: Option<f64>,
}

/// Every row of one conversation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub conversation: ConversationRow,
    pub turns: Vec<TurnRow>,
    pub function_events: Vec<FunctionEventRow>,
    pub metrics: Vec<MetricRow>,
}

impl Record {
    /// The rows of a conversation detail (or of a listing summary, which has no turns).
    /// `None` when `value` is not an object with a string `conversationId`.
    pub fn from_json(value: &Value) -> Option<Record> {
        let object = value.as_object()?;
        let conversation_id = object.get("conversationId")?.as_str()?.to_owned();
        let (summary_heading, summary) = match object.get("shortSummary") {
            Some(Value::Object(s)) => (text(s, "heading"), text(s, "content")),
            Some(Value::String(s)) => (None, Some(s.clone())),
            _ => (None, None),
        };
        let turns_value = object.get("turns").and_then(Value::as_array);
        let conversation = ConversationRow {
            conversation_id,
            account_id: text(object, "accountId"),
            project_id: text(object, "projectId"),
            created_at: time(object, "createdAt"),
            started_at: time(object, "startedAt").or_else(|| time(object, "createdAt")),
            finished_at: time(object, "finishedAt"),
            channel: text(object, "channel"),
            direction: text(object, "direction"),
            client_env: text(object, "clientEnv"),
            from_number: text(object, "fromNumber"),
            to_number: text(object, "toNumber"),
            language: text(object, "language"),
            variant_id: text(object, "variantId"),
            total_duration: int(object, "totalDuration"),
            polyai_duration: int(object, "polyaiDuration"),
            duration: int(object, "duration"),
            in_progress: flag(object, "inProgress"),
            handoff: flag(object, "handoff"),
            handoff_destination: text(object, "handoffDestination"),
            handoff_reason: text(object, "handoffReason"),
            poly_score: real(object, "polyScore"),
            summary_heading,
            summary,
            tags: object
                .get("tags")
                .filter(|t| !t.is_null())
                .map(Value::to_string),
            deployment_id: text(object, "deploymentId"),
            note: text(object, "note"),
            audio_url: text(object, "audioUrl"),
            turn_count: turns_value.map(|t| t.len() as i64),
            raw: value.to_string(),
            source: "v1",
            variant_name: None,
            num_silences: None,
            num_ood: None,
        };
        Some(Record {
            conversation,
            turns: turns(turns_value),
            function_events: function_events(object.get("functionEvents")),
            metrics: metrics(object.get("metrics")),
        })
    }

    /// The rows of a conversation as the Conversations API v3 lists it (snake_case, turns
    /// inline). v3 sends no function events, summary, note, tags, direction, language, poly
    /// score, deployment, recording URL, creation or end time: those columns stay `NULL`.
    /// Empty strings, which v3 sends for absent values, become `NULL` too. `None` when `value`
    /// is not an object with a string `id`.
    pub fn from_v3(value: &Value) -> Option<Record> {
        let object = value.as_object()?;
        let conversation_id = object.get("id")?.as_str()?.to_owned();
        let some = |key: &str| text(object, key).filter(|t| !t.is_empty());
        let turns_value = object.get("turns").and_then(Value::as_array);
        let conversation = ConversationRow {
            conversation_id,
            account_id: some("account_id"),
            project_id: some("project_id"),
            created_at: None,
            started_at: time(object, "started_at"),
            finished_at: None,
            channel: some("channel"),
            direction: None,
            client_env: some("environment"),
            from_number: some("from_number"),
            to_number: some("to_number"),
            language: None,
            variant_id: some("variant_id"),
            total_duration: int(object, "total_duration"),
            polyai_duration: int(object, "polyai_duration"),
            duration: None,
            in_progress: flag(object, "in_progress"),
            handoff: flag(object, "handoff"),
            handoff_destination: some("handoff_destination"),
            handoff_reason: some("handoff_reason"),
            poly_score: None,
            summary_heading: None,
            summary: None,
            tags: None,
            deployment_id: None,
            note: None,
            audio_url: None,
            turn_count: turns_value
                .map(|t| t.len() as i64)
                .or_else(|| int(object, "num_turns")),
            raw: value.to_string(),
            source: "v3",
            variant_name: some("variant_name"),
            num_silences: int(object, "num_silences"),
            num_ood: int(object, "num_ood"),
        };
        Some(Record {
            conversation,
            turns: turns(turns_value),
            function_events: Vec::new(),
            metrics: metrics(object.get("metrics")),
        })
    }
}

/// The rows of a `turns` array (items that are not objects are skipped; the index counts them).
fn turns(value: Option<&Vec<Value>>) -> Vec<TurnRow> {
    value
        .map(|turns| {
            turns
                .iter()
                .enumerate()
                .filter_map(|(i, t)| Some(turn(i as i64, t.as_object()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn turn(turn_index: i64, t: &Map<String, Value>) -> TurnRow {
    let latency = match t.get("latency") {
        Some(Value::Object(l)) => real(l, "perceived_latency"),
        Some(other) => number(other),
        None => None,
    };
    TurnRow {
        turn_index,
        turn_id: int(t, "turn_id"),
        user_input: first_text(t, &["user_input", "userInput", "input"]),
        agent_response: first_text(t, &["agent_response", "agentResponse", "response"]),
        user_input_at: time(t, "user_input_datetime"),
        agent_response_at: time(t, "agent_response_datetime"),
        latency,
        barge_in: flag(t, "barge_in"),
        asr_lang_code: text(t, "asr_lang_code"),
        tts_lang_code: text(t, "tts_lang_code"),
        current_node: t
            .get("metadata")
            .and_then(Value::as_object)
            .and_then(|m| text(m, "current_node")),
    }
}

/// `functionEvents`: an object keyed by turn number, each an array of events (an array of
/// events, as in chat metadata, is read with the position as key).
fn function_events(value: Option<&Value>) -> Vec<FunctionEventRow> {
    let groups: Vec<(String, &Value)> = match value {
        Some(Value::Object(by_turn)) => by_turn.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Some(Value::Array(events)) => events
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    let mut rows = Vec::new();
    for (key, group) in groups {
        let events: Vec<&Value> = match group {
            Value::Array(events) => events.iter().collect(),
            single => vec![single],
        };
        for (position, event) in events.into_iter().enumerate() {
            let Some(e) = event.as_object() else { continue };
            rows.push(FunctionEventRow {
                turn_index: key.trim().parse().ok(),
                turn_key: key.clone(),
                position: position as i64,
                event_id: text(e, "id"),
                turn_id: int(e, "turn_id"),
                function_id: text(e, "function_id"),
                name: text(e, "name"),
                arguments: e
                    .get("arguments")
                    .filter(|a| !a.is_null())
                    .map(Value::to_string),
                started_at: time(e, "start_time"),
                duration_ms: real(e, "duration"),
                error: e
                    .get("error")
                    .filter(|v| !v.is_null())
                    .map(Value::to_string),
                handoff_reason: e
                    .get("handoff")
                    .and_then(Value::as_object)
                    .and_then(|h| text(h, "reason")),
                hangup: flag(e, "hangup"),
            });
        }
    }
    rows
}

/// `metrics`: name → array of `{timestamp, value}` (a bare value is read as one entry).
fn metrics(value: Option<&Value>) -> Vec<MetricRow> {
    let Some(Value::Object(by_name)) = value else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (name, entries) in by_name {
        let entries: Vec<&Value> = match entries {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for (position, entry) in entries.into_iter().enumerate() {
            let (recorded_at, value) = match entry {
                Value::Object(e) => (time(e, "timestamp"), e.get("value")),
                other => (None, Some(other)),
            };
            let value = value.filter(|v| !v.is_null());
            rows.push(MetricRow {
                name: name.clone(),
                position: position as i64,
                recorded_at,
                value: value.map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
                number: value.and_then(number),
            });
        }
    }
    rows
}

/// A string field; numbers and booleans as their JSON text; objects and arrays as JSON.
fn text(object: &Map<String, Value>, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn first_text(object: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(object, k))
}

/// A number, or a string holding one.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    }
}

fn real(object: &Map<String, Value>, key: &str) -> Option<f64> {
    number(object.get(key)?)
}

/// An integer, or a whole number written as a float or a string.
fn int(object: &Map<String, Value>, key: &str) -> Option<i64> {
    let value = object.get(key)?;
    if let Some(i) = value.as_i64() {
        return Some(i);
    }
    let f = number(value)?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn flag(object: &Map<String, Value>, key: &str) -> Option<bool> {
    match object.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn time(object: &Map<String, Value>, key: &str) -> Option<String> {
    object.get(key)?.as_str().and_then(normalize_time)
}

/// A time the wire sends — ISO 8601 with an offset, without one (read as UTC), or RFC 1123
/// (`Wed, 03 Jun 2026 13:18:09 GMT`) — as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn normalize_time(text: &str) -> Option<String> {
    // `Timestamp` reads every one of these forms.
    format_micros(text.parse::<polyai_data::Timestamp>().ok()?.unix_micros())
}

/// Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub(crate) fn format_micros(micros: i64) -> Option<String> {
    let t = jiff::Timestamp::from_microsecond(micros).ok()?;
    let d = jiff::tz::Offset::UTC.to_datetime(t);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.subsec_nanosecond() / 1000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_from_every_wire_format() {
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
            assert_eq!(normalize_time(text).as_deref(), Some(want), "{text}");
        }
        assert_eq!(normalize_time("soon"), None);
    }

    #[test]
    fn wire_detail_sample_becomes_rows() {
        let detail = json!({
            "conversationId": "LOCAL-0725f700", "accountId": "PLATFORM", "projectId": "p",
            "createdAt": "2026-06-03T13:18:00.000000+00:00", "duration": 73, "totalDuration": 73.0,
            "polyaiDuration": "70", "handoff": true, "handoffReason": "API_UNEXPECTED_FAIL_PATIENT_LOOKUP",
            "polyScore": 6.0, "shortSummary": {"heading": "Check appointment", "content": "…"},
            "tags": [], "note": null, "inProgress": false, "variantId": 7,
            "turns": [
                {"turn_id": 743916318, "user_input": "", "agent_response": "Hello",
                 "latency": {"label": null, "perceived_latency": 3.88}, "barge_in": false,
                 "metadata": {"current_node": "start"}},
                {"turn_id": 743916319, "userInput": "hi", "response": "yes", "latency": 1.5},
                "not a turn"
            ],
            "functionEvents": {"1": [{"id": "e1", "name": "lookup", "duration": 4108,
                "start_time": "Wed, 03 Jun 2026 13:18:09 GMT", "arguments": {"x": 1},
                "handoff": {"reason": "r", "type": "transfer"}, "hangup": null}]},
            "metrics": {"CALL_DURATION": [{"timestamp": "2026-06-03T13:19:19.757917", "value": "73"}],
                        "VARIANT_ID": [{"timestamp": "2026-06-03T13:19:19.757917", "value": "PDS"}]}
        });
        let r = Record::from_json(&detail).unwrap_or_else(|| panic!("a record"));
        let c = &r.conversation;
        assert_eq!(c.total_duration, Some(73));
        assert_eq!(c.polyai_duration, Some(70));
        assert_eq!(c.handoff, Some(true));
        assert_eq!(c.variant_id.as_deref(), Some("7"));
        assert_eq!(c.summary_heading.as_deref(), Some("Check appointment"));
        assert_eq!(c.started_at.as_deref(), Some("2026-06-03T13:18:00.000000Z"));
        assert_eq!(c.tags.as_deref(), Some("[]"));
        assert_eq!(c.turn_count, Some(3));
        assert_eq!(r.turns.len(), 2);
        assert_eq!(r.turns[0].latency, Some(3.88));
        assert_eq!(r.turns[0].current_node.as_deref(), Some("start"));
        assert_eq!(r.turns[1].user_input.as_deref(), Some("hi"));
        assert_eq!(r.turns[1].latency, Some(1.5));
        let e = &r.function_events[0];
        assert_eq!((e.turn_index, e.duration_ms), (Some(1), Some(4108.0)));
        assert_eq!(e.handoff_reason.as_deref(), Some("r"));
        assert_eq!(e.started_at.as_deref(), Some("2026-06-03T13:18:09.000000Z"));
        let numbers: Vec<Option<f64>> = r.metrics.iter().map(|m| m.number).collect();
        assert_eq!(numbers, [Some(73.0), None]);
        assert!(Record::from_json(&json!({"id": "x"})).is_none());
    }

    #[test]
    fn v3_item_becomes_rows() {
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
        let r = Record::from_v3(&item).unwrap_or_else(|| panic!("a record"));
        let c = &r.conversation;
        assert_eq!(c.source, "v3");
        assert_eq!(c.started_at.as_deref(), Some("2026-06-03T14:00:38.000000Z"));
        assert_eq!(c.client_env.as_deref(), Some("pre-release"));
        assert_eq!(
            (c.variant_id.as_deref(), c.variant_name.as_deref()),
            (None, Some("Main"))
        );
        assert_eq!((c.handoff, c.handoff_reason.as_deref()), (Some(true), None));
        assert_eq!(c.handoff_destination.as_deref(), Some("billing"));
        assert_eq!(
            (c.polyai_duration, c.turn_count, c.num_silences),
            (Some(70), Some(2), Some(1))
        );
        assert_eq!(r.turns[0].latency, Some(1.25));
        assert_eq!(
            r.turns[0].user_input_at.as_deref(),
            Some("2026-06-03T14:00:39.000000Z")
        );
        assert_eq!(r.turns[1].user_input.as_deref(), Some("bill"));
        let metrics: Vec<(&str, Option<&str>)> = r
            .metrics
            .iter()
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
        assert!(r.function_events.is_empty());
        assert!(Record::from_v3(&json!({"conversationId": "CA1"})).is_none());
    }
}
