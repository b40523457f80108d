//! Lenient readers from the APIs' JSON to the record contract: a field of an unexpected type
//! is `None`, never a failed record.

use serde_json::{Map, Value};

use super::{Api, ConversationRecord, FunctionEventRecord, MetricRecord, TurnRecord};
use crate::Timestamp;

type Object = Map<String, Value>;

/// A Data API summary or detail (camelCase; snake_case turns and function events).
pub(super) fn data_api(object: &Object) -> Option<ConversationRecord> {
    let id = object.get("conversationId")?.as_str()?;
    let (summary_heading, summary) = match object.get("shortSummary") {
        Some(Value::Object(s)) => (text(s, "heading"), text(s, "content")),
        Some(Value::String(s)) => (None, Some(s.clone())),
        _ => (None, None),
    };
    let turns = object
        .get("turns")
        .and_then(Value::as_array)
        .map(|t| turns(t));
    let mut record = ConversationRecord::new(id, Api::Data);
    record.account_id = text(object, "accountId");
    record.project_id = text(object, "projectId");
    record.environment = text(object, "clientEnv");
    record.channel = text(object, "channel");
    record.direction = text(object, "direction");
    record.created_at = time(object, "createdAt");
    record.started_at = time(object, "startedAt").or(record.created_at);
    record.finished_at = time(object, "finishedAt");
    record.in_progress = flag(object, "inProgress");
    record.total_duration = int(object, "totalDuration");
    record.polyai_duration = int(object, "polyaiDuration");
    record.duration = int(object, "duration");
    record.from_number = text(object, "fromNumber");
    record.to_number = text(object, "toNumber");
    record.language = text(object, "language");
    record.variant_id = text(object, "variantId");
    record.handoff = flag(object, "handoff");
    record.handoff_destination = text(object, "handoffDestination");
    record.handoff_reason = text(object, "handoffReason");
    record.poly_score = real(object, "polyScore");
    record.summary_heading = summary_heading;
    record.summary = summary;
    record.tags = object.get("tags").and_then(Value::as_array).map(|tags| {
        tags.iter()
            .filter(|t| !t.is_null())
            .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_owned))
            .collect()
    });
    record.note = text(object, "note");
    record.deployment_id = text(object, "deploymentId");
    record.audio_url = text(object, "audioUrl");
    record.turn_count = turns.as_ref().map(|t: &Vec<TurnRecord>| t.len() as i64);
    record.turns = turns;
    record.function_events = object
        .get("functionEvents")
        .filter(|v| !v.is_null())
        .map(function_events);
    record.metrics = object.get("metrics").filter(|v| !v.is_null()).map(metrics);
    Some(record)
}

/// A v3 listing item (snake_case, turns inline). Empty strings are absent values there.
pub(super) fn v3(object: &Object) -> Option<ConversationRecord> {
    let id = object.get("id")?.as_str()?;
    let some = |key: &str| text(object, key).filter(|t| !t.is_empty());
    let turns = object
        .get("turns")
        .and_then(Value::as_array)
        .map(|t| turns(t));
    let mut record = ConversationRecord::new(id, Api::V3);
    record.account_id = some("account_id");
    record.project_id = some("project_id");
    record.environment = some("environment");
    record.channel = text(object, "channel").filter(|c| !c.is_empty());
    record.started_at = time(object, "started_at");
    record.in_progress = flag(object, "in_progress");
    record.total_duration = int(object, "total_duration");
    record.polyai_duration = int(object, "polyai_duration");
    record.from_number = some("from_number");
    record.to_number = some("to_number");
    record.variant_id = some("variant_id");
    record.variant_name = some("variant_name");
    record.handoff = flag(object, "handoff");
    record.handoff_destination = some("handoff_destination");
    record.handoff_reason = some("handoff_reason");
    record.num_silences = int(object, "num_silences");
    record.num_ood = int(object, "num_ood");
    record.turn_count = turns
        .as_ref()
        .map(|t: &Vec<TurnRecord>| t.len() as i64)
        .or_else(|| int(object, "num_turns"));
    record.turns = turns;
    record.metrics = object.get("metrics").filter(|v| !v.is_null()).map(metrics);
    Some(record)
}

/// The turns of a `turns` array (items that are not objects are skipped; the index counts
/// them, so it stays the position in the array).
fn turns(items: &[Value]) -> Vec<TurnRecord> {
    items
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some(turn(i as i64, t.as_object()?)))
        .collect()
}

fn turn(turn_index: i64, t: &Object) -> TurnRecord {
    let latency = match t.get("latency") {
        Some(Value::Object(l)) => real(l, "perceived_latency"),
        Some(other) => number(other),
        None => None,
    };
    let nonempty = |key: &str| text(t, key).filter(|s| !s.is_empty());
    TurnRecord {
        turn_index,
        turn_id: int(t, "turn_id"),
        user_input: first_text(t, &["user_input", "userInput", "input"]),
        agent_response: first_text(t, &["agent_response", "agentResponse", "response"]),
        user_input_at: time(t, "user_input_datetime"),
        agent_response_at: time(t, "agent_response_datetime"),
        latency,
        barge_in: flag(t, "barge_in"),
        asr_lang_code: nonempty("asr_lang_code"),
        tts_lang_code: nonempty("tts_lang_code"),
        current_node: t
            .get("metadata")
            .and_then(Value::as_object)
            .and_then(|m| text(m, "current_node")),
    }
}

/// `functionEvents`: an object keyed by turn number, each an array of events (an array of
/// events, as in chat metadata, is read with the position as key).
fn function_events(value: &Value) -> Vec<FunctionEventRecord> {
    let groups: Vec<(String, &Value)> = match value {
        Value::Object(by_turn) => by_turn.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(events) => events
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    let mut records = Vec::new();
    for (key, group) in groups {
        let events: Vec<&Value> = match group {
            Value::Array(events) => events.iter().collect(),
            single => vec![single],
        };
        for (position, event) in events.into_iter().enumerate() {
            let Some(e) = event.as_object() else { continue };
            records.push(FunctionEventRecord {
                turn_index: key.trim().parse().ok(),
                turn_key: key.clone(),
                position: position as i64,
                event_id: text(e, "id").filter(|s| !s.is_empty()),
                turn_id: int(e, "turn_id"),
                function_id: text(e, "function_id"),
                name: text(e, "name"),
                arguments: e.get("arguments").filter(|a| !a.is_null()).cloned(),
                started_at: time(e, "start_time"),
                duration_ms: real(e, "duration"),
                error: e.get("error").filter(|v| !v.is_null()).cloned(),
                handoff_reason: e
                    .get("handoff")
                    .and_then(Value::as_object)
                    .and_then(|h| text(h, "reason")),
                hangup: flag(e, "hangup"),
            });
        }
    }
    records
}

/// `metrics`: name → array of `{timestamp, value}` (a bare value is read as one entry, an
/// array of bare values as several).
fn metrics(value: &Value) -> Vec<MetricRecord> {
    let Value::Object(by_name) = value else {
        return Vec::new();
    };
    let mut records = Vec::new();
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
            records.push(MetricRecord {
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
    records
}

/// One JSON value as the readers see it: a `Value`, or a string borrowed from the JSON text (the
/// typed reader of [`super::line`]). Both go through the same conversions below, so a record
/// read either way is the same.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field<'v> {
    /// A string, unescaped.
    Str(&'v str),
    /// Any value (a string too).
    Value(&'v Value),
}

impl<'v> Field<'v> {
    fn as_str(self) -> Option<&'v str> {
        match self {
            Field::Str(s) => Some(s),
            Field::Value(Value::String(s)) => Some(s),
            Field::Value(_) => None,
        }
    }

    /// A string; numbers and booleans as their JSON text; objects and arrays as JSON.
    pub(super) fn text(self) -> Option<String> {
        match (self.as_str(), self) {
            (Some(s), _) => Some(s.to_owned()),
            (None, Field::Value(Value::Null)) => None,
            (None, Field::Value(other)) => Some(other.to_string()),
            (None, Field::Str(_)) => None,
        }
    }

    /// A finite number, or a string holding one.
    pub(super) fn number(self) -> Option<f64> {
        match (self.as_str(), self) {
            (Some(s), _) => s.trim().parse().ok(),
            (None, Field::Value(Value::Number(n))) => n.as_f64(),
            (None, _) => None,
        }
        .filter(|f: &f64| f.is_finite())
    }

    /// An integer, or a whole number written as a float or a string.
    pub(super) fn int(self) -> Option<i64> {
        if let Field::Value(Value::Number(n)) = self
            && let Some(i) = n.as_i64()
        {
            return Some(i);
        }
        let f = self.number()?;
        (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
    }

    /// A boolean, a number (not 0) or `"true"`/`"false"` in any letter case.
    pub(super) fn flag(self) -> Option<bool> {
        match (self.as_str(), self) {
            (Some(s), _) if s.eq_ignore_ascii_case("true") => Some(true),
            (Some(s), _) if s.eq_ignore_ascii_case("false") => Some(false),
            (None, Field::Value(Value::Bool(b))) => Some(*b),
            (None, Field::Value(Value::Number(n))) => n.as_i64().map(|i| i != 0),
            _ => None,
        }
    }

    /// A time in any form the wire uses (see [`Timestamp`]'s parser).
    pub(super) fn time(self) -> Option<Timestamp> {
        self.as_str()?.parse().ok()
    }
}

fn field<'v>(object: &'v Object, key: &str) -> Option<Field<'v>> {
    object.get(key).map(Field::Value)
}

/// A string field; numbers and booleans as their JSON text; objects and arrays as JSON.
fn text(object: &Object, key: &str) -> Option<String> {
    field(object, key)?.text()
}

fn first_text(object: &Object, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(object, k))
}

/// A finite number, or a string holding one.
fn number(value: &Value) -> Option<f64> {
    Field::Value(value).number()
}

fn real(object: &Object, key: &str) -> Option<f64> {
    field(object, key)?.number()
}

/// An integer, or a whole number written as a float or a string.
fn int(object: &Object, key: &str) -> Option<i64> {
    field(object, key)?.int()
}

fn flag(object: &Object, key: &str) -> Option<bool> {
    field(object, key)?.flag()
}

/// A time in any form the wire uses (see [`Timestamp`]'s parser).
fn time(object: &Object, key: &str) -> Option<Timestamp> {
    field(object, key)?.time()
}
