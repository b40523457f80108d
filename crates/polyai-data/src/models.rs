//! The API's data models, as generated from the corrected OpenAPI document.
//!
//! They are tolerant of what the wire sends: every optional field is an `Option` (the API
//! sends `null` for many of them), `shortSummary` accepts an object or a string, and nested
//! objects keep unknown keys in an `extra` map. Values PolyAI's document leaves untyped — turns,
//! metrics and function events — are [`Lenient`]: typed when they have the shape the wire has
//! shown, kept as JSON when not, so an unexpected shape never fails a call. Numbers decode into
//! `serde_json::Number` and re-encode as they arrived (`4108` stays `4108`). All derive
//! `Serialize`, `Deserialize`, `Clone`, `Debug` and `PartialEq`.
//!
//! Shorter names are provided for the two conversation models:
//! [`ConversationSummary`] (list items) and [`Conversation`] (one conversation with turns).
//! [`ConversationExt`] adds accessors such as [`summary_heading`](ConversationExt::summary_heading).
//!
//! Times are strings as sent (JSON output keeps them so); the `…_time` readers of
//! [`ConversationExt`], [`TurnExt`], [`FunctionEventExt`] and [`MetricPointExt`] give them as a
//! [`Timestamp`], whichever of the API's forms they arrived in (ISO 8601 with an offset or without,
//! RFC 1123), and `None` when a field is absent, `null` or not a date-time.
//!
//! The API's error envelope is [`ApiErrorBody`]; `models::Error` is the crate's own
//! [`Error`], so `use polyai_data::*` and `use polyai_data::models::*` together
//! name one `Error`:
//!
//! ```
//! use polyai_data::models::*;
//! use polyai_data::*;
//!
//! fn failed(err: &Error) -> bool {
//!     err.is_not_found()
//! }
//! let body: ApiErrorBody = serde_json::from_str(
//!     r#"{"data": null, "error": "Not found", "error_code": "CONVERSATIONS_NOT_FOUND",
//!         "error_id": "c-1", "error_message": "Not found", "success": false}"#,
//! )?;
//! assert_eq!(body.error_code, "CONVERSATIONS_NOT_FOUND");
//! # let _ = failed;
//! # Ok::<(), serde_json::Error>(())
//! ```

/// The crate's error type, named here too so that the generated envelope above does not take
/// the name `Error` from glob imports of this module.
pub use crate::error::Error;
pub use polyai_data_raw::Lenient;
/// The error envelope PolyAI's APIs answer failures with (`error_code`, `error_message`, …). The
/// client reads it for you into [`ApiError`](crate::ApiError); this is the raw shape, for mocks
/// and tests.
pub use polyai_data_raw::types::Error as ApiErrorBody;
pub use polyai_data_raw::types::*;

use crate::timestamp::{Timestamp, field_time};

/// A conversation as listed (no turns).
///
/// ```
/// let c: polyai_data::models::ConversationSummary = serde_json::from_str(
///     r#"{"conversationId":"CA1","accountId":"PLATFORM","projectId":"p","note":null}"#,
/// )?;
/// assert_eq!(c.note, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type ConversationSummary = ConversationSummaryResponse;

/// One conversation with its turns, metrics and function events.
///
/// ```
/// let c: polyai_data::models::Conversation = serde_json::from_str(
///     r#"{"conversationId":"CA1","accountId":"A","projectId":"p","turns":[{"turn_id":7,"user_input":""}]}"#,
/// )?;
/// let turns = c.turns.unwrap_or_default();
/// assert_eq!(turns[0].typed().and_then(|t| t.turn_id), Some(7));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub type Conversation = ConversationDetailResponse;

/// Convenience accessors on [`ConversationSummary`] and [`Conversation`].
///
/// ```
/// use polyai_data::models::{ConversationExt, ConversationSummary};
///
/// let c: ConversationSummary = serde_json::from_str(r#"{
///     "conversationId": "CA1", "accountId": "PLATFORM", "projectId": "p",
///     "shortSummary": {"heading": "Check appointment", "content": "The caller asked…"},
///     "audioUrl": null,
///     "startedAt": "2026-06-03T14:00:38.580000+00:00", "finishedAt": null
/// }"#)?;
/// assert_eq!(c.summary_heading(), Some("Check appointment"));
/// assert_eq!(c.summary_text(), Some("The caller asked…"));
/// let started = c.started_at_time().map(|t| t.to_string());
/// assert_eq!(started.as_deref(), Some("2026-06-03T14:00:38.58Z"));
/// assert_eq!(c.finished_at_time(), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait ConversationExt {
    /// The summary as sent: object, string, or absent (also when it had another shape; see the
    /// `short_summary` field for that value).
    fn short_summary_value(&self) -> Option<&ConversationShortSummary>;

    /// `createdAt` as a [`Timestamp`]; `None` when absent, `null` or not a date-time.
    fn created_at_time(&self) -> Option<Timestamp>;

    /// `startedAt` as a [`Timestamp`]; `None` when absent, `null` or not a date-time.
    fn started_at_time(&self) -> Option<Timestamp>;

    /// `finishedAt` as a [`Timestamp`]; `None` when absent, `null` (a conversation in progress)
    /// or not a date-time.
    fn finished_at_time(&self) -> Option<Timestamp>;

    /// The summary heading (absent for plain-string summaries).
    fn summary_heading(&self) -> Option<&str> {
        match self.short_summary_value()? {
            ConversationShortSummary::ShortSummary(s) => Some(s.heading.as_str()),
            ConversationShortSummary::String(_) => None,
        }
    }

    /// The summary text: the `content` of an object summary, or the plain string.
    fn summary_text(&self) -> Option<&str> {
        match self.short_summary_value()? {
            ConversationShortSummary::ShortSummary(s) => Some(s.content.as_str()),
            ConversationShortSummary::String(s) => Some(s.as_str()),
        }
    }
}

/// Implements [`ConversationExt`] for the models that share its fields.
macro_rules! conversation_ext {
    ($($model:ty),*) => {$(
        impl ConversationExt for $model {
            fn short_summary_value(&self) -> Option<&ConversationShortSummary> {
                self.short_summary.as_ref().and_then(Lenient::typed)
            }

            fn created_at_time(&self) -> Option<Timestamp> {
                field_time(self.created_at.as_deref())
            }

            fn started_at_time(&self) -> Option<Timestamp> {
                field_time(self.started_at.as_deref())
            }

            fn finished_at_time(&self) -> Option<Timestamp> {
                field_time(self.finished_at.as_deref())
            }
        }
    )*};
}

conversation_ext!(ConversationSummaryResponse, ConversationDetailResponse);

/// Readers on a turn, of the Data API ([`Turn`]) or of the Conversations API v3
/// ([`v3::Turn`](crate::v3::Turn)).
///
/// ```
/// use polyai_data::models::TurnExt;
/// use polyai_data::v3;
///
/// let turn: polyai_data::models::Turn = serde_json::from_str(r#"{
///     "user_input": "hi", "user_input_datetime": "2026-06-03T14:00:40.120000+00:00",
///     "agent_response_datetime": null,
///     "latency": {"perceived_latency": 3.5, "label": null}
/// }"#)?;
/// assert_eq!(turn.latency_seconds(), Some(3.5));
/// assert_eq!(
///     turn.user_input_time().map(|t| t.to_string()).as_deref(),
///     Some("2026-06-03T14:00:40.12Z")
/// );
/// assert_eq!(turn.agent_response_time(), None);
///
/// let v3: v3::Turn = serde_json::from_str(r#"{"latency": 1.25}"#)?;
/// assert_eq!(v3.latency_seconds(), Some(1.25));
/// // The Data API's shape of the same field is read too.
/// let v1: v3::Turn = serde_json::from_str(r#"{"latency": {"perceived_latency": 3.5, "label": null}}"#)?;
/// assert_eq!(v1.latency_seconds(), Some(3.5));
/// let none: v3::Turn = serde_json::from_str(r#"{"latency": "fast"}"#)?;
/// assert_eq!(none.latency_seconds(), None);
/// assert_eq!(none.latency, Some(serde_json::json!("fast")));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait TurnExt {
    /// The agent's latency in this turn in seconds: the number v3 sends, or the
    /// `perceived_latency` of the object the Data API sends; `None` otherwise.
    fn latency_seconds(&self) -> Option<f64>;

    /// When the user's input was received (`user_input_datetime`); `None` when absent, `null`
    /// or not a date-time.
    fn user_input_time(&self) -> Option<Timestamp>;

    /// When the agent answered (`agent_response_datetime`); `None` when absent, `null` or not a
    /// date-time.
    fn agent_response_time(&self) -> Option<Timestamp>;
}

impl TurnExt for Turn {
    fn latency_seconds(&self) -> Option<f64> {
        self.latency.as_ref()?.perceived_latency.as_ref()?.as_f64()
    }

    fn user_input_time(&self) -> Option<Timestamp> {
        field_time(self.user_input_datetime.as_deref())
    }

    fn agent_response_time(&self) -> Option<Timestamp> {
        field_time(self.agent_response_datetime.as_deref())
    }
}

impl TurnExt for crate::v3::Turn {
    fn latency_seconds(&self) -> Option<f64> {
        use serde_json::Value;
        match self.latency.as_ref()? {
            Value::Number(n) => n.as_f64(),
            Value::Object(o) => o.get("perceived_latency").and_then(Value::as_f64),
            _ => None,
        }
    }

    fn user_input_time(&self) -> Option<Timestamp> {
        field_time(self.user_input_datetime.as_deref())
    }

    fn agent_response_time(&self) -> Option<Timestamp> {
        field_time(self.agent_response_datetime.as_deref())
    }
}

/// Reader on a [`FunctionEvent`] of a conversation's `functionEvents`.
///
/// ```
/// use polyai_data::models::{FunctionEvent, FunctionEventExt};
/// let event: FunctionEvent = serde_json::from_str(
///     r#"{"name": "start", "start_time": "Wed, 03 Jun 2026 13:18:09 GMT", "duration": 4108}"#,
/// )?;
/// let started = event.started_at_time().map(|t| t.to_string());
/// assert_eq!(started.as_deref(), Some("2026-06-03T13:18:09Z"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait FunctionEventExt {
    /// `start_time` (RFC 1123 on the wire) as a [`Timestamp`]; `None` when absent, `null` or not
    /// a date-time.
    fn started_at_time(&self) -> Option<Timestamp>;
}

impl FunctionEventExt for FunctionEvent {
    fn started_at_time(&self) -> Option<Timestamp> {
        field_time(self.start_time.as_deref())
    }
}

/// Reader on a [`MetricPoint`] of a conversation's `metrics`.
///
/// ```
/// use polyai_data::models::{MetricPoint, MetricPointExt};
/// let point: MetricPoint =
///     serde_json::from_str(r#"{"timestamp": "2026-06-03T13:19:19.757917", "value": "73"}"#)?;
/// let at = point.recorded_at_time().map(|t| t.to_string());
/// assert_eq!(at.as_deref(), Some("2026-06-03T13:19:19.757917Z")); // no offset: UTC
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait MetricPointExt {
    /// `timestamp` (ISO 8601 without an offset on the wire, read as UTC) as a [`Timestamp`];
    /// `None` when absent, `null` or not a date-time.
    fn recorded_at_time(&self) -> Option<Timestamp>;
}

impl MetricPointExt for MetricPoint {
    fn recorded_at_time(&self) -> Option<Timestamp> {
        field_time(self.timestamp.as_deref())
    }
}

/// What a debug-chat turn did besides talking: the functions it called and any handoff.
///
/// Implemented for the wire model [`DebugChatResponse`] and for [`ChatReply`](crate::chat::ChatReply),
/// so the same checks run on a live reply and on one read back from a file.
///
/// ```
/// use polyai_data::models::{DebugChatExt, DebugChatResponse};
///
/// let reply: DebugChatResponse = serde_json::from_str(r#"{
///     "conversationId": "AS_CHAT_1", "userInput": "put me through to someone",
///     "response": "Transferring you now.", "conversationEnded": true, "delayedResponse": false,
///     "metadata": {"state": {}, "currentNode": "handoff", "nodeTrace": [], "metrics": {},
///         "handoffDestination": "Front Desk",
///         "functionEvents": [{"function_id": "FUNCTION-transfer_call", "name": "transfer_call",
///             "handoff": {"reason": "CALLER_REQUESTED_HUMAN", "type": "transfer"}}]}
/// }"#)?;
/// assert!(reply.called("transfer_call"));
/// assert!(reply.called("FUNCTION-transfer_call"));
/// assert!(!reply.called("send_reset_link"));
/// assert_eq!(reply.function_names(), ["transfer_call"]);
/// assert!(reply.is_handoff());
/// assert_eq!(reply.handoff_destination(), Some("Front Desk"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub trait DebugChatExt {
    /// The wire model of the turn.
    fn debug_chat_response(&self) -> &DebugChatResponse;

    /// The function calls the agent made in this turn, in order (those of the event shape; an
    /// item of another shape is in `metadata.function_events` as the JSON it was).
    fn function_events(&self) -> Vec<&FunctionEvent> {
        self.debug_chat_response()
            .metadata
            .function_events
            .iter()
            .filter_map(Lenient::typed)
            .collect()
    }

    /// The name of each function called in this turn (its `function_id` when it has no name).
    fn function_names(&self) -> Vec<&str> {
        self.function_events()
            .into_iter()
            .filter_map(|e| e.name.as_deref().or(e.function_id.as_deref()))
            .collect()
    }

    /// Whether a function with this name or `function_id` (e.g. `send_reset_link` or
    /// `FUNCTION-send_reset_link`) was called in this turn.
    fn called(&self, function: &str) -> bool {
        self.function_events().into_iter().any(|e| {
            e.name.as_deref() == Some(function) || e.function_id.as_deref() == Some(function)
        })
    }

    /// Where the agent handed the conversation off to, when the turn names a destination.
    fn handoff_destination(&self) -> Option<&str> {
        self.debug_chat_response()
            .metadata
            .handoff_destination
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }

    /// Whether the turn handed off: it names a destination, or one of its function events
    /// requested a handoff.
    fn is_handoff(&self) -> bool {
        self.handoff_destination().is_some()
            || self
                .function_events()
                .into_iter()
                .any(|e| e.handoff.is_some())
    }
}

impl DebugChatExt for DebugChatResponse {
    fn debug_chat_response(&self) -> &DebugChatResponse {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Every form a time field arrives in, and what the readers make of it.
    const TIME_FORMS: [(Option<&str>, Option<&str>); 9] = [
        (Some("2026-06-03T14:00:38Z"), Some("2026-06-03T14:00:38Z")),
        (
            Some("2026-06-03T14:00:38.580000+00:00"),
            Some("2026-06-03T14:00:38.58Z"),
        ),
        (
            Some("2026-06-03T16:00:38+02:00"),
            Some("2026-06-03T14:00:38Z"),
        ),
        (
            Some("2026-06-03T14:00:38.757917"),
            Some("2026-06-03T14:00:38.757917Z"),
        ),
        (
            Some("Wed, 03 Jun 2026 14:00:38 GMT"),
            Some("2026-06-03T14:00:38Z"),
        ),
        (None, None),
        (Some(""), None),
        (Some("not a time"), None),
        (Some("2026-06-31T99:00:00Z"), None),
    ];

    fn decode<T: serde::de::DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"))
    }

    fn shown(t: Option<Timestamp>) -> Option<String> {
        t.map(|t| t.to_string())
    }

    #[test]
    fn time_readers_take_every_wire_form_and_never_fail() {
        for (sent, want) in TIME_FORMS {
            let want = want.map(str::to_owned);
            let field = sent.map_or(Value::Null, Value::from);
            let conversation = json!({
                "conversationId": "CA1", "accountId": "A", "projectId": "P",
                "createdAt": field, "startedAt": field, "finishedAt": field,
            });
            let summary: ConversationSummary = decode(conversation.clone());
            let mut with_turns = conversation;
            with_turns["turns"] = json!([]);
            let detail: Conversation = decode(with_turns);
            for c in [&summary as &dyn ConversationExt, &detail] {
                assert_eq!(shown(c.created_at_time()), want, "{sent:?}");
                assert_eq!(shown(c.started_at_time()), want, "{sent:?}");
                assert_eq!(shown(c.finished_at_time()), want, "{sent:?}");
            }
            // Absent rather than null.
            let bare: ConversationSummary =
                decode(json!({"conversationId": "CA1", "accountId": "A", "projectId": "P"}));
            assert_eq!(bare.started_at_time(), None);

            let turn = json!({"user_input_datetime": field, "agent_response_datetime": field});
            let v1: Turn = decode(turn.clone());
            let v3: crate::v3::Turn = decode(turn);
            for t in [&v1 as &dyn TurnExt, &v3] {
                assert_eq!(shown(t.user_input_time()), want, "{sent:?}");
                assert_eq!(shown(t.agent_response_time()), want, "{sent:?}");
            }
            let event: FunctionEvent = decode(json!({"start_time": field}));
            assert_eq!(shown(event.started_at_time()), want, "{sent:?}");
            let point: MetricPoint = decode(json!({"timestamp": field, "value": "1"}));
            assert_eq!(shown(point.recorded_at_time()), want, "{sent:?}");
            if let Some(sent) = sent {
                let v3: crate::v3::Conversation = decode(json!({
                    "id": "CA1", "account_id": "ws-1", "project_id": "P", "environment": "live",
                    "started_at": sent, "channel": "VOICE-SIP", "in_progress": false,
                }));
                assert_eq!(
                    shown(crate::v3::ConversationExt::started_at_time(&v3)),
                    want,
                    "{sent:?}"
                );
            }
        }
    }

    #[test]
    fn wire_list_sample_decodes_with_nulls_and_string_summary() {
        let body = r#"{"count":3,"limit":2,"offset":0,"conversations":[
          {"accountId":"PLATFORM","audioUrl":null,"channel":"VOICE-SIP","clientEnv":"sandbox",
           "conversationId":"CA681f3ad0d037c1884614548178a5bc1b","createdAt":"2026-06-03T14:00:38.580000+00:00",
           "deploymentId":null,"direction":"inbound","duration":4,"finishedAt":"2026-06-03T14:00:45.580000+00:00",
           "fromNumber":"+440000000001","handoff":false,"handoffDestination":null,"handoffReason":null,
           "inProgress":false,"language":null,"note":null,"polyScore":null,"polyaiDuration":4,
           "projectId":"pacden-copy-usp","shortSummary":null,"startedAt":"2026-06-03T14:00:38.580000+00:00",
           "tags":[],"toNumber":"+440000000002","totalDuration":4,"variantId":null,"somethingNew":1},
          {"accountId":"PLATFORM","conversationId":"CA2","projectId":"p","shortSummary":"plain text"}]}"#;
        let page: GetConversationsResponse =
            crate::transport::decode_bytes("list", body.as_bytes(), "cid")
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.count, 3);
        assert_eq!(page.conversations[0].summary_text(), None);
        assert_eq!(page.conversations[1].summary_text(), Some("plain text"));
        assert_eq!(page.conversations[1].summary_heading(), None);
    }
}
